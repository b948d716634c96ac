"""`make run`: check the database and chain, migrate, deploy the contracts, serve the portal.

`manage.py` has already started (or attached to) the embedded services; Ctrl-C stops
this command and, through config.embedded, exactly the services it started.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

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
        # The indexer is a worker process of its own, as in production; it stops with this command.
        indexer = subprocess.Popen([sys.executable, str(settings.BASE_DIR / "manage.py"), "index_chain"])
        self.stdout.write(f"[ok  ] indexer: started (pid {indexer.pid})")
        self.stdout.write(f"Serving the marketplace ({mode} services) at http://{options['addr']}/ - Ctrl-C stops it.")
        try:
            call_command("runserver", options["addr"], use_reloader=False, use_threading=True)
        finally:
            indexer.terminate()
            try:
                indexer.wait(timeout=15)
            except subprocess.TimeoutExpired:
                indexer.kill()
