"""What the verifier answers and reads: the verdict with its checks, the proof a marketplace serves,
and what a package file claims about itself.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from hexbytes import HexBytes

from ledger.exceptions import LedgerError
from ledger.offline.abi import to_checksum_address
from ledger.registry import (
    Registration,
    registration_from_typed_data,
)

# The verifier imports neither web3 nor Django: `nfvm verify` hands it a ledger.offline.rpc.RpcClient, which
# answers every read made here and in PackageRegistry; the marketplace hands it its ChainClient.
if TYPE_CHECKING:
    pass


CHUNK = 1 << 20


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
                path=[hex32(p) for p in raw["proof"]],
                root=hex32(raw["root"]) if raw.get("root") is not None else None,
                size=int(raw["size"]) if raw.get("size") is not None else None,
            )
        return Proof(
            digest=hex32(data["digest"]) if data.get("digest") is not None else None,
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


def hex32(value: Any) -> str:
    try:
        raw = bytes(HexBytes(value))
    except (TypeError, ValueError) as exc:
        raise LedgerError(f"expected 32 bytes in hex, got {value!r}") from exc
    if len(raw) != 32:
        raise LedgerError(f"expected 32 bytes in hex, got {len(raw)} bytes")
    return HexBytes(raw).to_0x_hex()
