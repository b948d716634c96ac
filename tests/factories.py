"""Builders for tests: packages from the shared test data, signed-in API clients."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from ledger.siwe import SiweMessage
from marketplace.repository.packages.build import build_osm

if TYPE_CHECKING:
    from web3.types import TxParams

    from ledger.client import ChainClient
    from ledger.registry import PackageRegistry
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


def signed_sign_in(start: dict[str, Any], account: LocalAccount) -> tuple[str, str]:
    """(message, signature): what a wallet signs for the nonce answer `start` of POST /api/v1/auth/nonce."""
    message = SiweMessage(
        domain=start["domain"],
        address=account.address,
        statement="Sign in to the NFV marketplace.",
        uri=start["uri"],
        chain_id=start["chain_id"],
        nonce=start["nonce"],
        issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).to_text()
    return message, account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()


def signed_in_token(client, account: LocalAccount) -> str:
    """Sign in through the JSON API as a wallet would, and return the bearer token."""
    message, signature = signed_sign_in(client.post("/api/v1/auth/nonce").json(), account)
    response = client.post(
        "/api/v1/auth/token", {"message": message, "signature": signature}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return str(response.json()["token"])


def new_account() -> LocalAccount:
    account: LocalAccount = Account.create()
    return account


def listed(package: Package) -> Package:
    """Show `package` to everyone, as repository.projections does once its line is claimed on chain: for
    tests whose subject is reading packages (catalogue, pages, SOL005), not who may see an upload."""
    from marketplace.repository.models import Package

    Package.objects.filter(pk=package.pk).update(listed=True)
    package.refresh_from_db()
    return package


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
        "listed": True,  # a package of a line claimed on chain: shown to everyone
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
    # A trust file of its own, empty (nothing the machine's user pinned leaks into a test), removed after.
    with tempfile.TemporaryDirectory(prefix="nfvm-trust-") as trust:
        env["NFVM_TRUST_FILE"] = str(Path(trust) / "trust.json")
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
    from marketplace.repository.blobs import blob_digests as stored

    return stored()


def overwrite_blob(digest: str, edit: Callable[[bytes], bytes]) -> None:
    """Replace the stored bytes of a blob with `edit(bytes)`, behind the store's back, as an intruder with
    write access to the disk or the database would (a blob in GridFS must fit one chunk)."""
    from bson import Binary
    from django.conf import settings
    from django.db import connection

    from marketplace.repository import blobs

    if settings.BLOB_STORE == "files":
        path = settings.BLOB_DIR / "sha256" / digest[:2] / digest
        path.chmod(0o644)
        path.write_bytes(edit(path.read_bytes()))
        path.chmod(0o444)
        return
    chunks = connection.database[f"{blobs.BUCKET}.chunks"]  # type: ignore[attr-defined]
    assert chunks.count_documents({"files_id": digest}) == 1, "a blob of one chunk"
    first = chunks.find_one({"files_id": digest, "n": 0})
    chunks.update_one({"_id": first["_id"]}, {"$set": {"data": Binary(edit(bytes(first["data"])))}})


# --- lines and registrations on chain ---


def wallet_sends(chain: ChainClient, account: LocalAccount, tx: dict[str, Any]) -> Any:
    """Send a transaction the API prepared for a wallet (its value as hex text), as the wallet would."""
    value = tx.get("value") or 0
    sent = {**tx, "value": int(value, 16) if isinstance(value, str) else value}
    return chain.transact(account, cast("TxParams", sent))


def warp(chain: ChainClient, seconds: int) -> None:
    """Move the chain's clock `seconds` ahead and mine a block (anvil)."""
    chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def claim_line(chain: ChainClient, registry: PackageRegistry, account: LocalAccount, line: bytes | str) -> None:
    """Claim `line` for `account` by commit-reveal, both sent by `account` itself, moving the chain's clock
    past the commitment's minimum age in between. Nothing to do when the line is already `account`'s."""
    from ledger.registry import LineClaim

    if registry.line_key(line) == account.address:
        return
    claim = LineClaim(name_hash=_hex(line), claimant=account.address, deadline=chain.now() + 3600)
    secret = os.urandom(32)
    chain.transact(account, registry.commit_line(account.address, claim.commitment(secret)), abi=registry.abi)
    warp(chain, registry.min_commitment_age())
    chain.transact(account, registry.claim_line(account.address, claim, secret), abi=registry.abi)


def _hex(value: bytes | str) -> str:
    return value if isinstance(value, str) else "0x" + value.hex()


def sign_registration(prepared: dict[str, Any], account: LocalAccount, mode: str = "relay") -> dict[str, Any]:
    """The body that submits a prepared registration (`registration_prepare`, or the API's GET), signed
    by `account`, with the line's claim signed too when the preparation asks for it."""
    typed = prepared["typed_data"]
    body: dict[str, Any] = {
        "typed_data": typed,
        "signature": account.sign_typed_data(full_message=typed).signature.to_0x_hex(),
        "mode": mode,
    }
    if prepared.get("claim"):
        body["claim_typed_data"] = prepared["claim"]
        body["claim_signature"] = account.sign_typed_data(full_message=prepared["claim"]).signature.to_0x_hex()
    return body


def reveal_claims(chain: ChainClient) -> None:
    """What the worker does once a line's commitment is old enough: reveal it, then relay the
    registrations that waited for it (the chain's clock moved past the minimum age first)."""
    from ledger.registry import PackageRegistry
    from marketplace.repository.registration import line_claims_due

    warp(chain, PackageRegistry.deployed(chain).min_commitment_age())
    line_claims_due()


def register_package(
    package: Package, account: LocalAccount, chain: ChainClient, mode: str = "relay", *, index: bool = True
) -> None:
    """Register `package` as its uploader `account` would through the marketplace: sign the registration
    (and the line's claim), submit it, let the worker reveal the claim and relay or batch it, and index."""
    from ledger.indexer import Indexer
    from ledger.projections import projections
    from marketplace.repository.registration import (
        registration_batches_anchor,
        registration_prepare,
        registration_submit,
    )

    body = sign_registration(registration_prepare(package=package, actor=account.address), account, mode)
    registration_submit(package=package, actor=account.address, **body)
    if body.get("claim_typed_data"):
        reveal_claims(chain)
    if mode == "batch":
        registration_batches_anchor()
    if index:
        Indexer(chain, projections, confirmations=0).step()


@dataclass(frozen=True)
class PackageFacts:
    """What a registration of a package archive carries, read from the archive itself."""

    digest: str  # 0x SHA-256 of the archive
    line: bytes  # the name hash of the vendor/name line its main descriptor names
    version: int  # its version number
    descriptor_digest: str  # 0x SHA-256 of its main descriptor
    vendor: str
    name: str


def package_facts(path: Path) -> PackageFacts:
    """The registration facts of the package archive at `path`, as the marketplace registers it."""
    from ledger.registry import name_hash, version_number
    from marketplace.repository.packages.inspect import inspect_package

    inspection = inspect_package(path, lookup=lambda ref: None)
    info = inspection.info
    return PackageFacts(
        digest="0x" + hashlib.sha256(path.read_bytes()).hexdigest(),
        line=name_hash(info.vendor, info.name),
        version=version_number(info.version),
        descriptor_digest="0x" + inspection.descriptor_digest,
        vendor=info.vendor,
        name=info.name,
    )


def sign_seats(account: LocalAccount, typed_data: dict[str, Any]) -> Any:
    """The licensee's wallet signing the SeatOpening the marketplace prepared."""
    from marketplace.licensing.seats import SeatAuthorisation

    signature = account.sign_typed_data(full_message=typed_data).signature.to_0x_hex()
    return SeatAuthorisation(typed_data=typed_data, signature=signature)


def instantiate(ns: Any, account: LocalAccount, **kwargs: Any) -> Any:
    """instance_create as the licensee's wallet drives it: the seat opening the marketplace asks for is
    signed with the account's key first (as static/js/instantiate.js does)."""
    from marketplace.licensing.instances import instance_create, seat_opening_for
    from marketplace.licensing.seats import SeatAuthorisationRequired

    typed = seat_opening_for(user=account.address, ns=ns)
    for _ in range(50):  # an opening another request used first is answered with a fresh one to sign
        opening = sign_seats(account, typed) if typed is not None else None
        try:
            return instance_create(ns=ns, user=account.address, seat_opening=opening, **kwargs)
        except SeatAuthorisationRequired as needed:
            typed = needed.typed_data
    raise AssertionError("the seat opening was used up by other requests 50 times")


def scale_as(instance: Any, account: LocalAccount, *, change: int | None = None, target: int | None = None) -> Any:
    """instance_scale as the owner's wallet drives it: scaling out signs the seat opening first."""
    from marketplace.errors import PermissionDeniedError
    from marketplace.licensing.instances import instance_scale, seat_opening_for
    from marketplace.licensing.seats import SeatAuthorisationRequired

    instance.refresh_from_db()
    units = target if target is not None else instance.units + (change or 0)
    try:
        typed = seat_opening_for(user=account.address, instance=instance, units=units)
    except PermissionDeniedError:
        typed = None  # instance_scale refuses it, as it would anyway
    for _ in range(50):  # an opening another request used first is answered with a fresh one to sign
        opening = sign_seats(account, typed) if typed is not None else None
        try:
            return instance_scale(
                instance=instance, actor=account.address, change=change, target=target, seat_opening=opening
            )
        except SeatAuthorisationRequired as needed:
            typed = needed.typed_data
    raise AssertionError("the seat opening was used up by other requests 50 times")


def api_instantiate(client: Any, token: str, account: LocalAccount, ns_id: str, **body: Any) -> Any:
    """POST /api/v1/instances as a client holding the licensee's key: a 428 is answered by signing its
    typed data and posting again."""
    headers = {"Authorization": f"Bearer {token}"}
    payload = {"ns_id": ns_id, **body}
    response = client.post("/api/v1/instances", payload, content_type="application/json", headers=headers)
    if response.status_code != 428:
        return response
    signed = sign_seats(account, response.json()["typed_data"])
    payload["seat_opening"] = {"typed_data": signed.typed_data, "signature": signed.signature}
    return client.post("/api/v1/instances", payload, content_type="application/json", headers=headers)


def demo_csar(name: str) -> Callable[[Path], Path]:
    """A builder of the project's demo CSAR `name` (demo/packages/etsi) into a folder."""
    from marketplace.repository.packages.build import build

    return lambda tmp: build(ROOT / "demo" / "packages" / "etsi" / name, "etsi", tmp / f"{name}.csar")


def rewritten(name: str, change: Callable[[dict[str, bytes]], None]) -> Callable[[Path], Path]:
    """The demo CSAR `name` with its members changed by `change` (a dict of path -> bytes)."""

    def make(tmp: Path) -> Path:
        source = demo_csar(name)(tmp)
        with zipfile.ZipFile(source) as archive:
            members = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
        change(members)
        out = tmp / f"{name}-changed.csar"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, data in members.items():
                archive.writestr(path, data)
        return out

    return make


def drop_manifest(members: dict[str, bytes]) -> None:
    """A CSAR's members without its manifest, and TOSCA.meta naming none."""
    for path in [p for p in members if "/" not in p and p.endswith(".mf")]:
        del members[path]
    meta = members["TOSCA-Metadata/TOSCA.meta"].decode()
    members["TOSCA-Metadata/TOSCA.meta"] = "".join(
        line
        for line in meta.splitlines(keepends=True)
        if not line.startswith(("ETSI-Entry-Manifest", "Entry-Manifest"))
    ).encode()
