"""`make run`: check the database and chain, migrate, deploy the contracts, serve the portal.

`manage.py` has already started (or attached to) the embedded services; Ctrl-C stops
this command and, through config.embedded, exactly the services it started.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.embedded import die_with_parent
from marketplace.repository.catalogue import catalogue_index
from marketplace.repository.services import blobs_sweep
from marketplace.status import system_status


class Command(BaseCommand):
    help = "Prepare the database and chain, then serve the marketplace."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port to serve on")

    def handle(self, *args: Any, **options: Any) -> None:
        status = system_status()
        for component in (status.database, status.chain):
            mark = "ok  " if component.ok else "DOWN"
            self.stdout.write(f"[{mark}] {component.name}: {component.detail} ({component.where})")
            if not component.ok:
                raise CommandError(f"the {component.name} at {component.where} is unreachable. {component.fix}")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("[ok  ] database: migrations applied")
        swept = blobs_sweep()
        if swept:
            self.stdout.write(f"[ok  ] database: removed {len(swept)} orphan blob(s) of interrupted uploads")
        call_command("deploy_contracts", stdout=self.stdout)
        if settings.EMBEDDED_DB:
            call_command("seed_demo", stdout=self.stdout)
        # The catalogue's in-process index is built here rather than by the first visitor's request.
        self.stdout.write(f"[ok  ] catalogue: {len(catalogue_index())} package(s) indexed for search")
        mode = "embedded" if settings.EMBEDDED_DB and settings.EMBEDDED_CHAIN else "configured"
        # The indexer is a worker process of its own, as in production; it is started again if it dies, and
        # stops with this command.
        indexer = Supervised([sys.executable, str(settings.BASE_DIR / "manage.py"), "index_chain"], self.stdout)
        self.stdout.write(f"[ok  ] indexer: started (pid {indexer.start()})")
        self.stdout.write(f"Serving the marketplace ({mode} services) at http://{options['addr']}/ - Ctrl-C stops it.")
        try:
            call_command("runserver", options["addr"], use_reloader=False, use_threading=True)
        finally:
            indexer.stop()


class Supervised:
    """A worker process started again (after RESTART_S) whenever it exits while this command runs."""

    RESTART_S = 1.0

    def __init__(self, command: list[str], out: Any) -> None:
        self.command, self.out = command, out
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="indexer-supervisor", daemon=True)

    def start(self) -> int:
        self.process = subprocess.Popen(self.command, preexec_fn=die_with_parent)
        self.watcher.start()
        return self.process.pid

    def _watch(self) -> None:
        while not self.stopping.is_set():
            assert self.process is not None
            code = self.process.wait()
            if self.stopping.wait(self.RESTART_S):
                return
            self.process = subprocess.Popen(self.command, preexec_fn=die_with_parent)
            self.out.write(f"[warn] indexer: exited with {code}; started again (pid {self.process.pid})")

    def stop(self) -> None:
        self.stopping.set()
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
