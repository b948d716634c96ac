"""`manage.py ingest PATH`: the same ingest the portal and API use, from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.embedded import ANVIL_DEV_KEYS
from marketplace.repository.packages.problems import PackageRejected
from marketplace.repository.services import package_ingest


def _default_uploader() -> str:
    from eth_account import Account

    return str(Account.from_key(ANVIL_DEV_KEYS[1]).address)


class Command(BaseCommand):
    help = "Validate and store a VNF/NS package (ETSI CSAR, OSM .tar.gz or 5GTANGO .tgo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--uploader", help="developer address recorded as uploader")
        parser.add_argument("--json", action="store_true", help="print a JSON report")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if path.is_dir():
            raise CommandError(f"{path} is a folder; build a package from it with `nfvm package build {path}`")
        if not path.is_file():
            raise CommandError(f"{path} does not exist")
        uploader = options["uploader"]
        if uploader is None:
            if not settings.EMBEDDED_CHAIN:
                raise CommandError("give --uploader ADDRESS: the developer the package is recorded for")
            uploader = _default_uploader()  # the embedded chain's development account
        try:
            with path.open("rb") as source:
                result = package_ingest(source=source, uploader=uploader, filename=path.name)
        except PackageRejected as exc:
            if options["json"]:
                self.stdout.write(
                    json.dumps({"accepted": False, "problems": [p.as_dict() for p in exc.problems]}, indent=2)
                )
            else:
                self.stderr.write(f"{path}: rejected")
                for problem in exc.problems:
                    self.stderr.write(f"  {problem}")
            raise CommandError(f"{path} was rejected with {len(exc.problems)} problem(s)", returncode=1) from None
        package = result.package
        report = {
            "accepted": True,
            "created": result.created,
            "id": str(package.pk),
            "format": package.format,
            "kind": package.kind,
            "vendor": package.vendor,
            "name": package.name,
            "version": package.version,
            "digest": package.digest,
            "problems": [p.as_dict() for p in result.inspection.problems] if result.inspection else [],
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            verb = "stored" if result.created else "already in the repository"
            self.stdout.write(
                f"{package.vendor}/{package.name} {package.version} ({package.format} {package.kind}) {verb}: "
                f"id {package.pk}, sha256 {package.digest}"
            )
