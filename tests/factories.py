"""Builders for tests: packages from the shared test data, signed-in API clients."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from ledger.siwe import SiweMessage
from marketplace.repository.packages.build import build_osm

if TYPE_CHECKING:
    from marketplace.repository.models import Package

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT.parent / "shared" / "testdata"
PACKAGES = TESTDATA / "packages"


def shared_package(relative: str) -> Path:
    path = PACKAGES / relative
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared test data (../shared/testdata) is not beside this checkout")
    return path


def zip_folder(folder: Path, out: Path) -> Path:
    """A CSAR exactly as the folder holds it (no manifest added or fixed)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return out


def osm_package(name: str, tmp_path: Path) -> Path:
    """One of the OSM descriptor folders, packed as OSM packs it (top folder + checksums.txt)."""
    return build_osm(shared_package(f"osm/{name}"), tmp_path / f"{name}.tar.gz")


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def signed_in_token(client, account: LocalAccount) -> str:
    """Sign in through the JSON API as a wallet would, and return the bearer token."""
    start = client.post("/api/v1/auth/nonce").json()
    message = SiweMessage(
        domain=start["domain"],
        address=account.address,
        statement="Sign in to the NFV marketplace.",
        uri=start["uri"],
        chain_id=start["chain_id"],
        nonce=start["nonce"],
        issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).to_text()
    signature = account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    response = client.post(
        "/api/v1/auth/token", {"message": message, "signature": signature}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return str(response.json()["token"])


def new_account() -> LocalAccount:
    account: LocalAccount = Account.create()
    return account


def package_row(name: str, **fields: object) -> Package:
    """A catalogue entry without an archive behind it (listing, search and paging tests): the
    fields a card shows, with the search words the ingest would index."""
    from marketplace.repository.models import Package
    from marketplace.repository.search import index_tokens
    from marketplace.repository.versions import version_key

    values: dict[str, object] = {
        "format": "osm",
        "kind": "vnf",
        "vendor": "Acme",
        "version": "1.0",
        "is_latest": True,
        "state": "validated",
        "size": 1000,
        "main_descriptor": f"{name}/{name}_vnfd.yaml",
        "descriptor_digest": hashlib.sha256(f"{name}/d".encode()).hexdigest(),
        "uploader": "0x" + "11" * 20,
        "description": "",
        "tags": [],
    }
    values.update(fields)
    values.setdefault("digest", hashlib.sha256(f"{values['vendor']}/{name}/{values['version']}".encode()).hexdigest())
    tags = values["tags"]
    text = [
        str(values["vendor"]),
        name,
        str(values["description"]),
        *(map(str, tags) if isinstance(tags, list) else []),
    ]
    return Package.objects.create(
        name=name, version_key=version_key(str(values["version"])), search_tokens=index_tokens(text), **values
    )


def nfvm_verify(*args: str) -> subprocess.CompletedProcess[str]:
    """`nfvm verify` as a user runs it (see `nfvm`)."""
    return nfvm("verify", *args)


def nfvm(*args: str) -> subprocess.CompletedProcess[str]:
    """`nfvm` as a user runs it: without the marketplace's settings, database or chain configuration,
    only what is on the command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "MONGODB", "ETH_", "OPERATOR", "NFVM_"))}
    # A trust file of its own, empty: nothing the machine's user pinned leaks into a test.
    env["NFVM_TRUST_FILE"] = str(Path(tempfile.mkdtemp(prefix="nfvm-trust-")) / "trust.json")
    return subprocess.run(
        [sys.executable, "-m", "marketplace.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env=env,
    )


def blob_digests() -> list[str]:
    """Every blob the store holds, by digest."""
    from django.db import connection

    from marketplace.repository.blobs import BUCKET

    return [str(doc["_id"]) for doc in connection.database[f"{BUCKET}.files"].find({}, {"_id": 1})]  # type: ignore[attr-defined]
