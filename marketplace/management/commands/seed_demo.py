"""Fills an empty catalogue with the project's demo packages, through the real ingest path."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from eth_account import Account

from config.embedded import ANVIL_DEV_KEYS
from marketplace.repository.models import Package
from marketplace.repository.packages.problems import PackageRejected
from marketplace.repository.services import catalogue_seed_demo


class Command(BaseCommand):
    help = "Ingest the demo packages (demo/packages) when the catalogue is empty."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--uploader", help="developer address recorded as uploader (default: anvil account 1)")
        parser.add_argument("--force", action="store_true", help="ingest even when the catalogue is not empty")

    def handle(self, *args: Any, **options: Any) -> None:
        if Package.objects.exists() and not options["force"]:
            self.stdout.write("catalogue not empty: demo packages not seeded")
            return
        uploader = options["uploader"] or Account.from_key(ANVIL_DEV_KEYS[1]).address
        try:
            results = catalogue_seed_demo(uploader=uploader)
        except PackageRejected as exc:
            raise CommandError(f"a demo package was rejected: {exc}") from exc
        for result in results:
            p = result.package
            self.stdout.write(f"demo package {p.vendor}/{p.name} {p.version} ({p.format} {p.kind}) ingested")
