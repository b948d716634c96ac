"""The independent verifier: whether a package's bytes are anchored in the PackageRegistry, by whom, how,
and whether they still stand, taking the chain node as the only truth (a marketplace is only a pointer)."""

from __future__ import annotations

import enum
import hashlib
import io
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import quote, urlsplit

from hexbytes import HexBytes

from config.env import redact_url
from ledger import artifacts
from ledger.exceptions import ChainUnavailable, LedgerError
from ledger.offline.abi import is_address, to_checksum_address
from ledger.offline.eip712 import recover_typed_data_signer
from ledger.registry import (
    CONTRACT_NAME,
    Batch,
    PackageRecord,
    PackageRegistry,
    PackageStatus,
    Registration,
    name_hash,
    registration_from_typed_data,
    typed_data_for,
    version_number,
)

# The verifier imports neither web3 nor Django: `nfvm verify` hands it a ledger.offline.rpc.RpcClient, which
# answers every read made here and in PackageRegistry; the marketplace hands it its ChainClient.
if TYPE_CHECKING:
    from web3.types import FilterParams

    from ledger.client import ChainClient

CHUNK = 1 << 20
HTTP_TIMEOUT_S = 60.0


class Outcome(enum.Enum):
    VERIFIED = "verified"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"
    TAMPERED = "tampered"


class Mode(enum.Enum):
    DIRECT = "direct"  # the publisher sent `register` itself
    RELAYED = "relayed"  # someone sent `registerWithSignature` with the publisher's EIP-712 signature
    BATCH = "batch"  # a leaf of an anchored batch: recorded by `proveBatched`, or shown by an inclusion proof


class VerifyError(LedgerError):
    """The verifier cannot start: a file, address, proof or chain choice the caller must correct."""


class MarketplaceUnavailable(LedgerError):
    """The marketplace could not be reached or did not answer as its API does."""

    def __init__(self, url: str, detail: str, *, status: int | None = None) -> None:
        self.url = url
        self.detail = detail
        self.status = status
        super().__init__(f"marketplace at {url}: {detail}")


@dataclass
class Verdict:
    """The outcome and the evidence behind it; every field but `source` comes from the chain node."""

    outcome: Outcome
    reason: str  # one line: why this outcome
    source: str  # the file, or the marketplace URL the bytes came from
    digest: str  # 0x SHA-256 of the bytes checked
    chain_id: int
    registry: str
    registry_from_marketplace: bool = False
    recorded: bool = False  # a registration record exists on chain (False for an unproven batch leaf)
    status: str | None = None  # active / deprecated / revoked, when recorded
    mode: Mode | None = None
    publisher: str | None = None
    version: int | None = None
    version_text: str | None = None
    name_hash: str | None = None
    descriptor_digest: str | None = None
    registered_at: datetime | None = None  # when recorded, or when its batch was anchored
    tx_hash: str | None = None  # the PackageRegistered transaction (for an unproven leaf: BatchAnchored)
    block_number: int | None = None
    signer: str | None = None  # recovered from the EIP-712 signature, or the sender of a direct registration
    publishing_key: str | None = None  # the key that may deprecate or revoke the package now
    latest_version: int | None = None
    latest_version_text: str | None = None
    batch_id: int | None = None
    batch_root: str | None = None
    batch_size: int | None = None
    batch_index: int | None = None
    findings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "source": self.source,
            "digest": self.digest,
            "chain_id": self.chain_id,
            "registry": self.registry,
            "registry_from_marketplace": self.registry_from_marketplace,
            "recorded": self.recorded,
            "status": self.status,
            "mode": self.mode.value if self.mode else None,
            "publisher": self.publisher,
            "version": self.version,
            "version_text": self.version_text,
            "name_hash": self.name_hash,
            "descriptor_digest": self.descriptor_digest,
            "registered_at": self.registered_at.isoformat() if self.registered_at else None,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
            "signer": self.signer,
            "publishing_key": self.publishing_key,
            "latest_version": self.latest_version,
            "latest_version_text": self.latest_version_text,
            "batch": None
            if self.batch_id is None
            else {
                "batch_id": self.batch_id,
                "root": self.batch_root,
                "size": self.batch_size,
                "index": self.batch_index,
            },
            "findings": list(self.findings),
        }


@dataclass(frozen=True)
class BatchProof:
    batch_id: int
    index: int
    path: list[str]
    root: str | None
    size: int | None


@dataclass(frozen=True)
class Proof:
    """The marketplace's proof document (GET /api/v1/packages/{id}/proof), parsed; nothing in it is trusted."""

    digest: str | None
    chain_id: int | None
    registry: str | None
    state: str | None
    mode: str | None
    publisher: str | None
    registration: Registration | None
    signature: str | None
    tx_hash: str | None
    block_number: int | None
    batch: BatchProof | None


def parse_proof(data: Any) -> Proof:
    """The proof document as typed values; VerifyError when it is not in the marketplace's proof format."""
    if not isinstance(data, dict):
        raise VerifyError("the proof is not a JSON object")
    try:
        registration = None
        if data.get("registration") is not None:
            # The struct's own field names with numbers as decimal strings, as in the signed typed data.
            registration = registration_from_typed_data(
                {"primaryType": "Registration", "message": data["registration"]}
            )
        batch = None
        if data.get("batch") is not None:
            raw = data["batch"]
            batch = BatchProof(
                batch_id=int(raw["batch_id"]),
                index=int(raw["index"]),
                path=[_hex32(p) for p in raw["proof"]],
                root=_hex32(raw["root"]) if raw.get("root") is not None else None,
                size=int(raw["size"]) if raw.get("size") is not None else None,
            )
        return Proof(
            digest=_hex32(data["digest"]) if data.get("digest") is not None else None,
            chain_id=int(data["chain_id"]) if data.get("chain_id") is not None else None,
            registry=to_checksum_address(data["registry"]) if data.get("registry") else None,
            state=str(data["state"]) if data.get("state") is not None else None,
            mode=str(data["mode"]) if data.get("mode") is not None else None,
            publisher=to_checksum_address(data["publisher"]) if data.get("publisher") else None,
            registration=registration,
            signature=HexBytes(data["signature"]).to_0x_hex() if data.get("signature") else None,
            tx_hash=str(data["tx_hash"]) if data.get("tx_hash") else None,
            block_number=int(data["block_number"]) if data.get("block_number") is not None else None,
            batch=batch,
        )
    except LedgerError as exc:
        raise VerifyError(f"the proof is malformed: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise VerifyError(f"the proof is malformed: {type(exc).__name__}: {exc}") from exc


def load_proof(path: Path) -> Proof:
    try:
        return parse_proof(json.loads(path.read_text()))
    except OSError as exc:
        raise VerifyError(f"cannot read the proof {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise VerifyError(f"the proof {path} is not JSON: {exc}") from exc


def sha256_file(path: Path) -> str:
    """0x SHA-256 of a file, read in chunks."""
    hasher = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                hasher.update(chunk)
    except OSError as exc:
        raise VerifyError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return "0x" + hasher.hexdigest()


@dataclass(frozen=True)
class Claim:
    """What a package file says it is, read from its own descriptors, and what its own manifest or
    checksums say about its files. For a registered digest it is compared with the registration; for an
    unregistered one it tells a changed copy of a registered package from a package never registered."""

    vendor: str | None
    name: str | None
    version: str | None
    integrity_problems: list[str] = field(default_factory=list)
    descriptor_digest: str | None = None  # 0x SHA-256 of its main descriptor, when it could be read
    unreadable: list[str] = field(default_factory=list)  # why its descriptors could not be read


# Reads what a package says it is (Claim.integrity_problems left empty) from a seekable stream of its
# bytes, reading only the parts that name it. The verifier imports no package reader: its caller gives one.
IdentityReader = Callable[[BinaryIO], Claim]


class _HashedFile(io.RawIOBase):
    """A file whose every byte is hashed once, in order, however a reader moves through it: a read
    beyond what is hashed first hashes up to where it starts. A reader that only needs a few parts of
    the file (a zip's central directory, its descriptors) and the hash so share one sequential pass."""

    def __init__(self, handle: io.BufferedReader) -> None:
        super().__init__()
        self._handle = handle
        self._hasher = hashlib.sha256()
        self._hashed = 0  # bytes [0, _hashed) are in the hash
        self._position = 0
        self._size = os.fstat(handle.fileno()).st_size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        self._hash_to(self._position)
        view = memoryview(buffer).cast("B")
        self._handle.seek(self._position)
        count = self._handle.readinto(view)
        if self._position == self._hashed:
            self._hasher.update(view[:count])
            self._hashed += count
        self._position += count
        return count

    def readall(self) -> bytes:
        parts = []
        while chunk := self.read(CHUNK):
            parts.append(chunk)
        return b"".join(parts)

    def hexdigest(self) -> str:
        """0x SHA-256 of the whole file: what no reader asked for is hashed now."""
        self._hash_to(None)
        return "0x" + self._hasher.hexdigest()

    def _hash_to(self, end: int | None) -> None:
        if end is not None and end <= self._hashed:
            return
        self._handle.seek(self._hashed)
        while end is None or self._hashed < end:
            chunk = self._handle.read(CHUNK if end is None else min(CHUNK, end - self._hashed))
            if not chunk:
                return
            self._hasher.update(chunk)
            self._hashed += len(chunk)


def verify_file(
    path: Path,
    *,
    client: ChainClient,
    registry_address: str,
    proof: dict[str, Any] | Proof | None = None,
    claim: Callable[[], Claim | None] | None = None,
    identity: IdentityReader | None = None,
) -> Verdict:
    """Verify a package file. `proof` (the marketplace's proof document) matters only for a batched
    registration nobody has recorded on chain yet: its inclusion proof then stands in for the record.
    `claim` reads what the file says it is, with its manifest or checksums checked; for an unregistered
    digest it tells a changed copy of a registered package (tampered) from a package never registered
    (unknown). `identity` reads what the file says it is, in the pass that hashes it; a registration under
    another line, version or main descriptor than the file names is tampered. Without `identity`, `claim`
    is asked for that too; without either, the file's own words are not read."""
    parsed = parse_proof(proof) if isinstance(proof, dict) else proof
    said: Callable[[], Claim | None] | None = claim
    if identity is None:
        digest = sha256_file(path)
    else:
        digest, read = _hash_and_read(path, identity)
        said = lambda: read  # noqa: E731
    return _verify_digest(
        digest,
        source=str(path),
        client=client,
        address=registry_address,
        proof=parsed,
        trusted_proof=True,
        claim=claim,
        identity=said,
    )


def _hash_and_read(path: Path, identity: IdentityReader) -> tuple[str, Claim]:
    """0x SHA-256 of the file and what it says it is, in one sequential pass over its bytes."""
    try:
        with path.open("rb") as handle:
            hashed = _HashedFile(handle)
            # Buffered: gzip asks for 8 KiB at a time, each after a seek the buffer answers without a system call.
            read = identity(cast("BinaryIO", io.BufferedReader(hashed, buffer_size=CHUNK)))
            return hashed.hexdigest(), read
    except OSError as exc:
        raise VerifyError(f"cannot read {path}: {exc.strerror or exc}") from exc


def verify_marketplace_package(
    package_id: str,
    *,
    base_url: str,
    client: ChainClient,
    registry_address: str | None = None,
    save_to: Path | None = None,
    token: str | None = None,
    identity: IdentityReader | None = None,
) -> Verdict:
    """Download a package from a marketplace and verify the bytes it serves. The marketplace's JSON only
    says where to look; `save_to` keeps the downloaded bytes, and only when they are verified. `token`
    (an API token of the marketplace) is sent for a licensed-only package's download. `identity` reads
    what the downloaded file says it is, compared with its registration as `verify_file` does."""
    base = base_url.rstrip("/")
    if urlsplit(base).scheme not in ("http", "https"):
        raise VerifyError(f"the marketplace URL {base_url!r} must be http(s)")
    package_url = f"{base}/api/v1/packages/{quote(package_id, safe='')}"
    meta = _get_json(package_url, token)
    claimed_raw = meta.get("digest", {}).get("hash") if isinstance(meta.get("digest"), dict) else None
    try:
        claimed = _hex32(str(claimed_raw))
    except LedgerError as exc:
        raise MarketplaceUnavailable(_shown(package_url), f"answered without a SHA-256 digest.hash: {exc}") from exc

    findings: list[str] = []
    proof: Proof | None = None
    try:
        proof = parse_proof(_get_json(f"{package_url}/proof", token))
    except MarketplaceUnavailable as exc:
        if exc.status != 404:
            raise
        findings.append("the marketplace serves no proof for this package (404)")
    except VerifyError as exc:
        findings.append(f"the marketplace's proof is unusable: {exc}")

    chain_id = client.chain_id()
    from_marketplace = registry_address is None
    if registry_address is None:
        if proof is None or proof.registry is None:
            raise VerifyError("the marketplace names no registry; give its address with --registry")
        if proof.chain_id != chain_id:
            raise VerifyError(
                f"the marketplace anchors on chain {proof.chain_id}, but the node at {client.display_url} is chain "
                f"{chain_id}: use a node of that chain, or give the registry with --registry"
            )
        registry_address = proof.registry
    elif proof is not None:
        if proof.registry is not None and proof.registry != to_checksum_address(registry_address):
            findings.append(f"the marketplace names registry {proof.registry}; the one given is used")
        if proof.chain_id is not None and proof.chain_id != chain_id:
            findings.append(f"the marketplace's proof is for chain {proof.chain_id}, the node is chain {chain_id}")

    tampered: list[str] = []
    content_url = f"{package_url}/content"
    digest, kept = _download(content_url, save_to, token, keep=identity is not None)
    try:
        said: Callable[[], Claim | None] | None = None
        if identity is not None and kept is not None:
            read = _read_identity(kept, identity)
            said = lambda: read  # noqa: E731
        if digest != claimed:
            tampered.append(
                f"the marketplace serves bytes that differ from the anchored digest: it claims {claimed}, "
                f"the bytes it serves hash to {digest}"
            )
        if proof is not None and proof.digest is not None and proof.digest != digest:
            tampered.append(
                f"the marketplace serves bytes that differ from the anchored digest: its proof is for {proof.digest}, "
                f"the bytes it serves hash to {digest}"
            )
        verdict = _verify_digest(
            digest,
            source=_shown(content_url),
            client=client,
            address=registry_address,
            proof=proof if proof is not None and proof.digest in (None, digest) else None,
            trusted_proof=False,
            registry_from_marketplace=from_marketplace,
            tampered=tampered,
            findings=findings,
            identity=said,
        )
        if kept is not None and save_to is not None:
            if verdict.outcome is Outcome.VERIFIED:
                os.replace(kept, save_to)
                kept = None
                verdict.findings.append(f"the verified bytes were saved to {save_to}")
            else:
                verdict.findings.append(f"the bytes were not saved to {save_to}: they are not verified")
        return verdict
    finally:
        if kept is not None:
            kept.unlink(missing_ok=True)


# ---------------------------------------------------------------- the chain's answer


def _verify_digest(
    digest: str,
    *,
    source: str,
    client: ChainClient,
    address: str,
    proof: Proof | None,
    trusted_proof: bool,
    registry_from_marketplace: bool = False,
    tampered: list[str] | None = None,
    findings: list[str] | None = None,
    claim: Callable[[], Claim | None] | None = None,
    identity: Callable[[], Claim | None] | None = None,
) -> Verdict:
    tampered = list(tampered or [])
    registry, impostor = _registry(client, address, from_marketplace=registry_from_marketplace)
    verdict = Verdict(
        outcome=Outcome.UNKNOWN,
        reason="",
        source=source,
        digest=digest,
        chain_id=client.chain_id(),
        registry=registry.address,
        registry_from_marketplace=registry_from_marketplace,
        findings=list(findings or []),
    )
    if impostor is not None:
        tampered.append(impostor)
        return _decide(verdict, tampered, revoked_because=None)
    if registry_from_marketplace:
        verdict.findings.append(
            f"the registry address {registry.address} was taken from the marketplace, not given with --registry; "
            f"it was accepted because it runs the {CONTRACT_NAME} code this verifier knows"
        )

    record = registry.registration_of(digest)
    revoked_because: str | None = None
    if record is not None:
        _recorded(verdict, registry, record, tampered)
        if record.status is PackageStatus.REVOKED:
            revoked_because = "the line owner's key revoked this package"
        if proof is not None:
            _compare_proof(verdict, proof)
        if identity is not None:
            _identity(verdict, registry, identity(), tampered)
    elif proof is not None and proof.batch is not None and proof.registration is not None and proof.signature:
        revoked_because = _batched(
            verdict, registry, proof.registration, proof.signature, proof.batch, proof.digest, tampered
        )
        if identity is not None:
            _identity(verdict, registry, identity(), tampered)
    else:
        verdict.findings.append(f"the digest is not registered in {registry.address} on chain {verdict.chain_id}")
        if proof is not None:
            _unbacked_proof(verdict, proof, trusted_proof)
        if claim is not None:
            _claimed(verdict, registry, claim(), tampered)
    return _decide(verdict, tampered, revoked_because=revoked_because)


def _claimed(verdict: Verdict, registry: PackageRegistry, claim: Claim | None, tampered: list[str]) -> None:
    """An unregistered digest: is the file a changed copy of a registered package?"""
    if claim is None:
        return
    for problem in claim.integrity_problems:
        tampered.append(f"the package's own manifest or checksums do not match its content: {problem}")
    if not (claim.vendor and claim.name and claim.version):
        verdict.findings.append(
            "the file does not say which package it is (its descriptors could not be read)" + _unreadable(claim)
        )
        return
    label = f"{claim.vendor}/{claim.name} {claim.version}"
    try:
        line, number = name_hash(claim.vendor, claim.name), version_number(claim.version)
    except LedgerError as exc:
        verdict.findings.append(f"the file says it is {label}, which cannot be a registered line: {exc}")
        return
    registered = registry.line_registrations(line)
    same = [(digest, publisher) for digest, publisher, version in registered if version == number]
    for digest, publisher in same:
        tampered.append(
            f"the file says it is {label}, which {publisher} registered with digest {digest}; "
            f"this file's digest is {verdict.digest}: its bytes were changed"
        )
        _compare_descriptor(verdict, registry, digest, claim)
    if not same:
        versions = sorted({version_text(version) for _, _, version in registered})
        verdict.findings.append(
            f"the file says it is {label}; "
            + (
                f"that line has registered versions {', '.join(versions)}, not this one"
                if versions
                else "that line has no registration"
            )
        )


def _unreadable(claim: Claim) -> str:
    """Why a file's descriptors could not be read, the first three reasons, as a suffix to a finding."""
    shown = claim.unreadable[:3] + ([f"{len(claim.unreadable) - 3} more"] if len(claim.unreadable) > 3 else [])
    return f": {'; '.join(shown)}" if shown else ""


def _identity(verdict: Verdict, registry: PackageRegistry, claim: Claim | None, tampered: list[str]) -> None:
    """A registered digest: the registration must name the package the file says it is. Anyone may register
    any bytes under a line of their own, so a changed copy that still says "acme/firewall 1.0" could otherwise
    verify as someone else's registration while it presents itself as acme's."""
    if claim is None or verdict.name_hash is None or verdict.version is None:
        return
    if not (claim.vendor and claim.name and claim.version):
        # Not tampered: the registry records any bytes, and this reader's rules and limits may be stricter than
        # those a package met when it was registered (the marketplace's inspection of its day, or none at all).
        # A file that names no package cannot claim another's identity either; the verdict says whose
        # registration it is, and this finding that the file's own words were not compared with it.
        verdict.findings.append(
            "what the file says it is could not be read, so it was not compared with the registration"
            + _unreadable(claim)
        )
        return
    label = f"{claim.vendor}/{claim.name} {claim.version}"
    registered = f"line {verdict.name_hash} version {verdict.version_text} (number {verdict.version})"
    try:
        line = "0x" + name_hash(claim.vendor, claim.name).hex()
    except LedgerError as exc:
        # name_hash refuses only what no line could be registered from ("/" in the vendor): the file names
        # a package no registration can be of.
        tampered.append(
            f"the file says it is {label}, which cannot be a registered line ({exc}); "
            f"{verdict.publisher} registered these bytes as {registered}"
        )
        return
    differences = []
    if line != verdict.name_hash:
        differences.append(f"its line is {line}, the registration's {verdict.name_hash}")
    number: int | None = None
    try:
        number = version_number(claim.version)
    except LedgerError as exc:
        differences.append(f"its version cannot be registered ({exc}), the registration's is {verdict.version_text}")
    if number is not None and number != verdict.version:
        differences.append(
            f"its version number is {number} ({version_text(number)}), the registration's {verdict.version} "
            f"({verdict.version_text})"
        )
    if (
        claim.descriptor_digest is not None
        and verdict.descriptor_digest is not None
        and claim.descriptor_digest != verdict.descriptor_digest
    ):
        differences.append(
            f"its main descriptor's digest is {claim.descriptor_digest}, the registration's {verdict.descriptor_digest}"
        )
    if not differences:
        verdict.findings.append(f"the file says it is {label}, the package this registration names")
        return
    tampered.append(
        f"the file says it is {label}, but {verdict.publisher} registered these bytes as {registered}: "
        + "; ".join(differences)
    )
    if number is None:
        return
    same = [
        (digest, publisher) for digest, publisher, version in registry.line_registrations(line) if version == number
    ]
    for digest, publisher in same:
        if digest != verdict.digest:
            verdict.findings.append(f"{label} is registered by {publisher} with digest {digest}")
    if not same:
        verdict.findings.append(f"nobody has registered {label} (line {line}) in {registry.address}")


def _compare_descriptor(verdict: Verdict, registry: PackageRegistry, digest: str, claim: Claim) -> None:
    """Where a changed copy differs: the record anchors the main descriptor's digest besides the archive's,
    so a repacked archive (same descriptor, other bytes around it) is told from an edited descriptor."""
    record = registry.registration_of(digest)
    if record is None or claim.descriptor_digest is None:
        return
    if record.descriptor_digest == claim.descriptor_digest:
        verdict.findings.append(
            f"its main descriptor is the one registered with {digest} (descriptor digest {record.descriptor_digest}): "
            "the change lies in its other files or in how the archive was packed"
        )
    else:
        verdict.findings.append(
            f"its main descriptor differs from the one registered with {digest}: descriptor digest "
            f"{claim.descriptor_digest}, registered {record.descriptor_digest}"
        )


def _decide(verdict: Verdict, tampered: list[str], *, revoked_because: str | None) -> Verdict:
    anchored = verdict.recorded or verdict.mode is Mode.BATCH
    if tampered:
        verdict.outcome, verdict.reason = Outcome.TAMPERED, tampered[0]
        verdict.findings[:0] = tampered
    elif not anchored:
        verdict.outcome, verdict.reason = Outcome.UNKNOWN, "the digest is not anchored in the registry"
    elif revoked_because is not None:
        verdict.outcome, verdict.reason = Outcome.REVOKED, revoked_because
    elif (
        verdict.latest_version is not None and verdict.version is not None and verdict.latest_version > verdict.version
    ):
        verdict.outcome = Outcome.SUPERSEDED
        verdict.reason = (
            f"version {verdict.latest_version_text} of the line is registered, newer than this {verdict.version_text}"
        )
    else:
        verdict.outcome = Outcome.VERIFIED
        if not verdict.recorded:
            verdict.reason = (
                f"{verdict.publisher} signed these bytes as version {verdict.version_text}, and batch "
                f"{verdict.batch_id} anchors that signature (not recorded on chain yet)"
            )
        else:
            how = {
                Mode.DIRECT: "directly",
                Mode.RELAYED: "with a relayed signature",
                Mode.BATCH: f"through batch {verdict.batch_id}",
            }
            verdict.reason = (
                f"{verdict.publisher} registered these bytes as version {verdict.version_text}"
                f"{' ' + how[verdict.mode] if verdict.mode else ''}"
            )
        if verdict.status == PackageStatus.DEPRECATED.name.lower():
            verdict.findings.append("deprecated by the line owner's key: still valid, no longer recommended")
    return verdict


def _recorded(verdict: Verdict, registry: PackageRegistry, record: PackageRecord, tampered: list[str]) -> None:
    """Evidence for a digest the registry has a record of."""
    verdict.recorded = True
    verdict.status = record.status.name.lower()
    verdict.publisher = record.publisher
    verdict.version, verdict.version_text = record.version, version_text(record.version)
    verdict.name_hash = record.name_hash
    verdict.descriptor_digest = record.descriptor_digest
    verdict.registered_at = record.registered_at
    verdict.publishing_key = registry.publishing_key_for(record.digest)
    verdict.latest_version = registry.latest_version(record.name_hash)
    verdict.latest_version_text = version_text(verdict.latest_version)
    if verdict.publishing_key != record.publisher:
        verdict.findings.append(
            f"the line's owner has rotated keys since: {verdict.publishing_key} may deprecate or revoke it now"
        )
    if record.batch_id is not None:
        verdict.mode = Mode.BATCH
        _batch_facts(verdict, registry, record.batch_id)

    log = _event_log(registry, "PackageRegistered", record.digest)
    if log is None:
        verdict.findings.append(
            "the node returned no PackageRegistered event for this digest: the transaction and signer are not known"
        )
        return
    verdict.tx_hash = HexBytes(log["transactionHash"]).to_0x_hex()
    verdict.block_number = int(log["blockNumber"])
    args = registry.contract.events.PackageRegistered().process_log(log)["args"]
    if (to_checksum_address(args["publisher"]), int(args["version"])) != (record.publisher, record.version):
        tampered.append("the PackageRegistered event disagrees with the registration record")

    tx = registry.client.call(lambda: registry.client.w3.eth.get_transaction(log["transactionHash"]))
    sender = to_checksum_address(str(tx["from"]))
    if tx.get("to") is None or to_checksum_address(str(tx["to"])) != registry.address:
        # A registration made from inside another contract's call: its input is not ours to decode.
        verdict.findings.append(
            f"transaction {verdict.tx_hash} called another contract ({tx.get('to')}); the signer was not recovered"
        )
        verdict.mode = verdict.mode or Mode.DIRECT
        return
    try:
        function, params = registry.contract.decode_function_input(tx["input"])
    except _decoding_errors() as exc:
        verdict.findings.append(f"the input of transaction {verdict.tx_hash} cannot be decoded: {exc}")
        return
    if function.fn_name == "register":
        verdict.mode, verdict.signer = Mode.DIRECT, sender
    elif function.fn_name in ("registerWithSignature", "proveBatched"):
        verdict.mode = Mode.RELAYED if function.fn_name == "registerWithSignature" else Mode.BATCH
        registration = _registration_arg(params["r"])
        verdict.signer = _signer(verdict, registration, HexBytes(params["signature"]).to_0x_hex())
        if verdict.mode is Mode.BATCH:
            verdict.batch_index = int(params["index"])
        if registration.digest != record.digest:
            tampered.append("the registering transaction carries another digest than the record")
        relayer = "the operator or a relayer" if verdict.mode is Mode.RELAYED else "the batch prover"
        verdict.findings.append(f"sent by {sender} ({relayer}); signed by {verdict.signer}")
    else:
        verdict.findings.append(
            f"transaction {verdict.tx_hash} called {function.fn_name}; the signer was not recovered"
        )
    if verdict.signer is not None and verdict.signer != record.publisher:
        tampered.append(f"the registration was signed by {verdict.signer}, but the record names {record.publisher}")


def _batched(
    verdict: Verdict,
    registry: PackageRegistry,
    registration: Registration,
    signature: str,
    leaf: BatchProof,
    proof_digest: str | None,
    tampered: list[str],
) -> str | None:
    """Evidence for a leaf of an anchored batch that nobody has recorded with `proveBatched` yet. Returns why
    it can never take effect when the line's owner retired the key that signed it."""
    verdict.mode = Mode.BATCH
    verdict.publisher = registration.publisher
    verdict.version, verdict.version_text = registration.version, version_text(registration.version)
    verdict.name_hash = registration.name_hash
    verdict.descriptor_digest = registration.descriptor_digest
    verdict.batch_index = leaf.index
    verdict.findings.append(
        "not recorded on chain: a signed registration in an anchored batch, shown by the proof's inclusion path"
    )
    if proof_digest is not None and proof_digest != verdict.digest:
        tampered.append(f"the proof is for digest {proof_digest}, not for these bytes")
    if registration.digest != verdict.digest:
        tampered.append(f"the proof's registration names digest {registration.digest}, not these bytes")
    verdict.signer = _signer(verdict, registration, signature)
    if verdict.signer is None:
        tampered.append("the proof's signature does not recover to any key")
    elif verdict.signer != registration.publisher:
        tampered.append(
            f"the proof's signature is by {verdict.signer}, "
            f"not by the registration's publisher {registration.publisher}"
        )
    anchored = _batch_facts(verdict, registry, leaf.batch_id)
    if anchored is None:
        tampered.append(f"batch {leaf.batch_id} does not exist in the registry")
        return None
    if leaf.root is not None and leaf.root != verdict.batch_root:
        verdict.findings.append(f"the proof says the batch root is {leaf.root}; the chain's is {verdict.batch_root}")
    if not registry.verify_batched(leaf.batch_id, registration, signature, leaf.path, leaf.index):
        tampered.append(
            f"the inclusion proof does not lead from the signed registration at index {leaf.index} "
            f"to batch {leaf.batch_id}'s root"
        )
    if tampered:
        return None

    # The batch proves what the publisher signed; the registry's line rules decide whether it can still take effect.
    verdict.latest_version = registry.latest_version(registration.name_hash)
    verdict.latest_version_text = version_text(verdict.latest_version)
    owner = registry.line_owner(registration.name_hash)
    retired: str | None = None
    if owner is None:
        verdict.findings.append("the line is unclaimed: recording this registration would make its signer the owner")
    else:
        verdict.publishing_key = registry.publishing_key(owner)
        if verdict.publishing_key != registration.publisher:
            signer_owner = _address_or_none(
                registry.client.call(registry.contract.functions.ownerOfKey(registration.publisher).call)
            )
            if signer_owner == owner:
                retired = (
                    f"signed with {registration.publisher}, a key the line's owner {owner} has retired "
                    f"for {verdict.publishing_key}: it can no longer be recorded"
                )
            else:
                tampered.append(
                    f"signed by {registration.publisher}, who does not publish this line: its owner {owner} "
                    f"publishes with {verdict.publishing_key}, and the registry would refuse it"
                )
    if verdict.latest_version == registration.version:
        verdict.findings.append(f"version {verdict.version_text} of the line is already recorded for another package")
    nonce = registry.line_nonce(registration.name_hash)
    if nonce > registration.nonce:
        verdict.findings.append(
            f"nonce {registration.nonce} of the line is spent (now {nonce}): it can no longer be "
            "recorded on chain; the anchored batch remains the evidence"
        )
    if verdict.registered_at is not None and registration.deadline < int(verdict.registered_at.timestamp()):
        verdict.findings.append("the batch was anchored after the signature's deadline: it cannot be recorded")
    return retired


def _batch_facts(verdict: Verdict, registry: PackageRegistry, batch_id: int) -> Batch | None:
    batch = registry.batch(batch_id)
    verdict.batch_id = batch_id
    if batch is None:
        return None
    verdict.batch_root, verdict.batch_size = batch.root, batch.size
    if not verdict.recorded:
        verdict.registered_at = batch.anchored_at
        log = _event_log(registry, "BatchAnchored", batch_id)
        if log is not None:
            verdict.tx_hash = HexBytes(log["transactionHash"]).to_0x_hex()
            verdict.block_number = int(log["blockNumber"])
    return batch


def _compare_proof(verdict: Verdict, proof: Proof) -> None:
    """The chain has the record: a marketplace proof can only agree or be noted as wrong."""
    if proof.digest is not None and proof.digest != verdict.digest:
        verdict.findings.append(f"the proof is for digest {proof.digest}, not these bytes; the record decides")
    claims = {
        "publisher": (proof.publisher, verdict.publisher),
        "transaction": (proof.tx_hash.lower() if proof.tx_hash else None, verdict.tx_hash),
        "block": (proof.block_number, verdict.block_number),
    }
    for what, (claimed, actual) in claims.items():
        if claimed is not None and actual is not None and claimed != actual:
            verdict.findings.append(f"the proof's {what} {claimed} differs from the chain's {actual}")
    if proof.state is not None and proof.state != "anchored":
        verdict.findings.append(f"the proof's state is {proof.state!r}, but the registry has the record")


def _unbacked_proof(verdict: Verdict, proof: Proof, trusted: bool) -> None:
    if proof.state == "anchored":
        where = f" in transaction {proof.tx_hash}" if proof.tx_hash else ""
        verdict.findings.append(
            f"the proof claims a registration{where}, but the registry has no record of this digest"
        )
    elif proof.state:
        verdict.findings.append(f"the proof's state is {proof.state!r}: no batch inclusion to check")
    if trusted and proof.batch is not None and (proof.registration is None or not proof.signature):
        verdict.findings.append("the proof names a batch but lacks the registration or the signature")


def _signer(verdict: Verdict, registration: Registration, signature: str) -> str | None:
    payload = typed_data_for(registration, chain_id=verdict.chain_id, registry_address=verdict.registry)
    try:
        return recover_typed_data_signer(payload, signature)
    except LedgerError:
        return None


# ---------------------------------------------------------------- the registry and its logs


def _registry(client: ChainClient, address: str, *, from_marketplace: bool) -> tuple[PackageRegistry, str | None]:
    """The registry at `address`, and why it is not one when the marketplace named it (else VerifyError):
    a contract with other code could answer anything, so only the committed build is believed."""
    if not is_address(address):
        raise VerifyError(f"{address!r} is not an address")
    code = client.code_at(address)
    expected = artifacts.load(CONTRACT_NAME).code_hash
    why = None
    if not code:
        why = f"there is no contract at {to_checksum_address(address)} on chain {client.chain_id()}"
    elif hashlib.sha256(code).hexdigest() != expected:
        why = (
            f"the contract at {to_checksum_address(address)} does not run the {CONTRACT_NAME} code this verifier knows"
        )
    if why is None:
        return PackageRegistry(client, address), None
    if from_marketplace:
        # The marketplace pointed at a registry that is not one: its claims about the package are false.
        return PackageRegistry(client, address), f"the marketplace names a registry that is not one: {why}"
    raise VerifyError(f"{why} (node {client.display_url})")


def _event_log(registry: PackageRegistry, event: str, indexed: str | int) -> dict[str, Any] | None:
    """The one log of `event` whose first indexed argument is `indexed` (a digest, or a batch id)."""
    topic = HexBytes(indexed).to_0x_hex() if isinstance(indexed, str) else "0x" + f"{indexed:064x}"
    params: FilterParams = {
        "address": registry.address,
        "topics": [registry.contract.events[event].topic, topic],
        "fromBlock": 0,
        "toBlock": "latest",
    }
    try:
        logs = registry.client.call(lambda: registry.client.w3.eth.get_logs(params))
    except ChainUnavailable:
        raise
    except LedgerError:
        # A node that limits log ranges: the record stands without its transaction.
        return None
    return dict(logs[0]) if logs else None


# ---------------------------------------------------------------- the marketplace, as a pointer


def _get_json(url: str, token: str | None = None) -> dict[str, Any]:
    try:
        with _open(url, token) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise MarketplaceUnavailable(_shown(url), f"HTTP {exc.code}", status=exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise MarketplaceUnavailable(_shown(url), _why(exc)) from exc
    except ValueError as exc:
        raise MarketplaceUnavailable(_shown(url), f"answered with something other than JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise MarketplaceUnavailable(_shown(url), "answered with JSON that is not an object")
    return body


def _download(
    url: str, save_to: Path | None, token: str | None = None, *, keep: bool = False
) -> tuple[str, Path | None]:
    """0x SHA-256 of what `url` serves, hashed while it streams; kept in a temporary file beside `save_to`,
    or in the system's temporary folder when only `keep` asks for it."""
    hasher = hashlib.sha256()
    kept: Path | None = None
    sink: IO[bytes] | None = None
    if save_to is not None or keep:
        fd, name = tempfile.mkstemp(prefix=".nfvm-verify-", dir=save_to.parent if save_to is not None else None)
        kept, sink = Path(name), os.fdopen(fd, "wb")
    try:
        with _open(url, token) as response:
            while chunk := response.read(CHUNK):
                hasher.update(chunk)
                if sink is not None:
                    sink.write(chunk)
    except urllib.error.HTTPError as exc:
        _discard(kept, sink)
        raise MarketplaceUnavailable(_shown(url), f"HTTP {exc.code}", status=exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        _discard(kept, sink)
        raise MarketplaceUnavailable(_shown(url), _why(exc)) from exc
    if sink is not None:
        sink.close()
    return "0x" + hasher.hexdigest(), kept


def _read_identity(path: Path, identity: IdentityReader) -> Claim:
    """What a downloaded file says it is; its bytes were hashed as they arrived (`_download`)."""
    try:
        with path.open("rb") as handle:
            return identity(handle)
    except OSError as exc:
        raise VerifyError(f"cannot read the downloaded bytes in {path}: {exc.strerror or exc}") from exc


def _discard(kept: Path | None, sink: IO[bytes] | None) -> None:
    if sink is not None:
        sink.close()
    if kept is not None:
        kept.unlink(missing_ok=True)


def _open(url: str, token: str | None = None) -> Any:
    headers = {"Accept": "application/json, application/octet-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    return urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S)  # noqa: S310


def _why(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return f"unreachable: {reason or exc}"


def _shown(url: str) -> str:
    return redact_url(url)


# ---------------------------------------------------------------- encodings


def version_text(number: int) -> str:
    """The version string `ledger.registry.version_number` encodes, as far as it can be read back."""
    if number == 0:
        return "0"
    mask = (1 << 20) - 1
    text = f"{number >> 41 & mask}.{number >> 21 & mask}.{number >> 1 & mask}"
    # Pre-releases of one version all encode alike, so their label cannot be read back.
    return text if number & 1 else text + "-pre"


def _registration_arg(value: dict[str, Any]) -> Registration:
    return Registration(
        digest=HexBytes(value["digest"]).to_0x_hex(),
        name_hash=HexBytes(value["nameHash"]).to_0x_hex(),
        version=int(value["version"]),
        descriptor_digest=HexBytes(value["descriptorDigest"]).to_0x_hex(),
        publisher=to_checksum_address(value["publisher"]),
        nonce=int(value["nonce"]),
        deadline=int(value["deadline"]),
    )


def _decoding_errors() -> tuple[type[Exception], ...]:
    """What decoding a transaction's input raises: ValueError (ledger.offline.abi's AbiError is one), and
    eth_abi's DecodingError when web3 decoded it (imported only then: the light path has no eth_abi)."""
    if "eth_abi" not in sys.modules:
        return (ValueError,)
    from eth_abi.exceptions import DecodingError

    return (ValueError, DecodingError)


def _address_or_none(value: str) -> str | None:
    return None if int(value, 16) == 0 else to_checksum_address(value)


def _hex32(value: Any) -> str:
    try:
        raw = bytes(HexBytes(value))
    except (TypeError, ValueError) as exc:
        raise LedgerError(f"expected 32 bytes in hex, got {value!r}") from exc
    if len(raw) != 32:
        raise LedgerError(f"expected 32 bytes in hex, got {len(raw)} bytes")
    return HexBytes(raw).to_0x_hex()
