"""The independent verifier: whether a package's bytes are anchored in the PackageRegistry, by whom, how,
and whether they still stand, taking the chain node as the only truth (a marketplace is only a pointer)."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import quote, urlsplit

from ledger.exceptions import LedgerError
from ledger.offline.abi import to_checksum_address

# The verifier imports neither web3 nor Django: `nfvm verify` hands it a ledger.offline.rpc.RpcClient, which
# answers every read made here and in PackageRegistry; the marketplace hands it its ChainClient.
if TYPE_CHECKING:
    from ledger.client import ChainClient
from ledger.offline.evidence import verify_digest
from ledger.offline.marketplace import download, get_json, read_identity, shown
from ledger.offline.verdict import (
    CHUNK,
    Claim,
    IdentityReader,
    MarketplaceUnavailable,
    Outcome,
    Proof,
    Verdict,
    VerifyError,
    hex32,
    parse_proof,
)


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
    return verify_digest(
        digest,
        source=str(path),
        client=client,
        address=registry_address,
        proof=parsed,
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
    registry_address: str,
    save_to: Path | None = None,
    token: str | None = None,
    identity: IdentityReader | None = None,
) -> Verdict:
    """Download a package from a marketplace and verify the bytes it serves against `registry_address`,
    the registry the user trusts (given, or pinned: ledger.offline.trust); the registry the marketplace
    names is never believed. The marketplace's JSON only says where to look; `save_to` keeps the
    downloaded bytes, and only when they are verified. `token` (an API token of the marketplace) is sent
    for a licensed-only package's download. `identity` reads what the downloaded file says it is,
    compared with its registration as `verify_file` does."""
    base = base_url.rstrip("/")
    if urlsplit(base).scheme not in ("http", "https"):
        raise VerifyError(f"the marketplace URL {base_url!r} must be http(s)")
    package_url = f"{base}/api/v1/packages/{quote(package_id, safe='')}"
    meta = get_json(package_url, token)
    claimed_raw = meta.get("digest", {}).get("hash") if isinstance(meta.get("digest"), dict) else None
    try:
        claimed = hex32(str(claimed_raw))
    except LedgerError as exc:
        raise MarketplaceUnavailable(shown(package_url), f"answered without a SHA-256 digest.hash: {exc}") from exc

    findings: list[str] = []
    proof: Proof | None = None
    try:
        proof = parse_proof(get_json(f"{package_url}/proof", token))
    except MarketplaceUnavailable as exc:
        if exc.status != 404:
            raise
        findings.append("the marketplace serves no proof for this package (404)")
    except VerifyError as exc:
        findings.append(f"the marketplace's proof is unusable: {exc}")

    chain_id = client.chain_id()
    if proof is not None:
        if proof.registry is not None and proof.registry != to_checksum_address(registry_address):
            findings.append(f"the marketplace names registry {proof.registry}; the pinned one is used")
        if proof.chain_id is not None and proof.chain_id != chain_id:
            findings.append(f"the marketplace's proof is for chain {proof.chain_id}, the node is chain {chain_id}")

    tampered: list[str] = []
    content_url = f"{package_url}/content"
    digest, kept = download(content_url, save_to, token, keep=identity is not None)
    try:
        said: Callable[[], Claim | None] | None = None
        if identity is not None and kept is not None:
            read = read_identity(kept, identity)
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
        verdict = verify_digest(
            digest,
            source=shown(content_url),
            client=client,
            address=registry_address,
            proof=proof if proof is not None and proof.digest in (None, digest) else None,
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
