"""The indexer worker: follows our contracts' events into MongoDB until stopped."""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from config import embedded
from ledger.client import get_chain_client
from ledger.indexer import Indexer
from ledger.projections import projections

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Index the marketplace contracts' events (a worker; `make run` starts it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="index what is confirmed now, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        indexer = Indexer(
            get_chain_client(),
            projections,
            confirmations=settings.INDEXER_CONFIRMATIONS,
            batch_blocks=settings.INDEXER_BATCH_BLOCKS,
        )
        if options["once"]:
            previous = None
            while True:
                result = indexer.step()
                if result.reset or result.indexed_to == previous:
                    break
                previous = result.indexed_to
            self.stdout.write(f"indexed up to block {result.indexed_to}" + (" (chain reset!)" if result.reset else ""))
            return
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if settings.EMBEDDED_CHAIN:
            projections.ticks.append(_keep_chain_state)
        self.stdout.write("indexer running")
        indexer.run_forever(poll_s=settings.INDEXER_POLL_S, stop=lambda: stopping, on_unavailable=_revive_chain)


def _revive_chain() -> None:
    """The embedded chain node stopped answering (a crash, a kill -9): start it again from its saved state, as a
    deployment's supervisor restarts its node. The worker owns the new node; it stops when the worker does and
    the next worker starts it again. A configured node (ETH_RPC_URL) is its operator's to restart."""
    if not settings.EMBEDDED_CHAIN:
        return
    try:
        for service in embedded.activate():
            log.warning("the embedded %s was down; started again from its saved state", service.name)
    except embedded.EmbeddedServiceError as exc:
        log.error("%s", exc)


_KEEP_EVERY_S = 5.0
_kept_at = 0.0


def _keep_chain_state() -> None:
    """Every few seconds, a copy of the embedded node's state file while it is whole (config.embedded
    .keep_chain_state): a restart after a kill that tore the file loses only the seconds since."""
    global _kept_at
    if time.monotonic() - _kept_at < _KEEP_EVERY_S:
        return
    _kept_at = time.monotonic()
    embedded.keep_chain_state(embedded.Layout.from_env().chain_state)
