"""Deploys the marketplace's contracts to the configured chain once, and records them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.client import get_chain_client
from ledger.exceptions import LedgerError
from ledger.services import contracts_deploy
from ledger.signer import operator_account


class Command(BaseCommand):
    help = "Deploy the marketplace contracts not yet on the configured chain (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--redeploy-changed",
            action="store_true",
            help="deploy contracts whose committed build differs from the deployed code",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client = get_chain_client()
        try:
            outcomes = contracts_deploy(
                client=client, deployer=operator_account(), redeploy_changed=options["redeploy_changed"]
            )
        except LedgerError as exc:
            raise CommandError(str(exc)) from exc
        for outcome in outcomes:
            d = outcome.deployment
            verb = "deployed" if outcome.created else "already deployed"
            self.stdout.write(f"{d.name} {verb} at {d.address} (chain {d.chain_id}, block {d.block_number})")
