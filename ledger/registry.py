"""PackageRegistry bindings: the EIP-712 registration a developer signs, version and line encodings,
batch leaves, unsigned transactions for every PackageRegistry write, and typed reads."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hexbytes import HexBytes

from ledger import artifacts
from ledger.binding import bytes32 as _bytes32
from ledger.binding import hex32 as _hex32
from ledger.binding import named_struct, only_event, receipt_events, unsigned_tx
from ledger.exceptions import LedgerError
from ledger.offline.abi import encode_types as abi_encode
from ledger.offline.abi import keccak, to_checksum_address
from ledger.offline.merkle import MerkleTree

# web3 and eth-account load lazily, where a write or a signature needs them: the verifier reads the
# registry through ledger.offline.rpc and starts without them (importing them takes longer than hashing 100 MiB).
if TYPE_CHECKING:
    from web3.contract.contract import ContractFunction
    from web3.types import FilterParams, TxParams, TxReceipt

    from ledger.client import ChainClient

CONTRACT_NAME = "PackageRegistry"
DOMAIN_NAME = "NFV Marketplace PackageRegistry"
DOMAIN_VERSION = "1"

REGISTRATION_FIELDS: list[dict[str, str]] = [
    {"name": "digest", "type": "bytes32"},
    {"name": "nameHash", "type": "bytes32"},
    {"name": "version", "type": "uint64"},
    {"name": "descriptorDigest", "type": "bytes32"},
    {"name": "publisher", "type": "address"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]
REGISTRATION_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Registration": REGISTRATION_FIELDS,
}
REGISTRATION_TYPEHASH = keccak(
    text="Registration(" + ",".join(f"{f['type']} {f['name']}" for f in REGISTRATION_FIELDS) + ")"
)

# version_number's layout: major, minor and patch in 20 bits each, then one bit set for a release
# and clear for a pre-release, so that "1.0-rc1" < "1.0" < "1.0.1".
_PART_BITS = 20
_PART_MAX = (1 << _PART_BITS) - 1
_VERSION = re.compile(r"[vV]?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:-([0-9A-Za-z][0-9A-Za-z.\-]*))?")


class UnencodableVersion(LedgerError):
    """A version string that version_number cannot map to an ordered uint64."""


class PackageStatus(enum.IntEnum):
    NONE = 0
    ACTIVE = 1
    DEPRECATED = 2
    REVOKED = 3


@dataclass(frozen=True)
class Registration:
    """What a developer signs (the Solidity `Registration` struct)."""

    digest: str
    name_hash: str
    version: int
    descriptor_digest: str
    publisher: str
    nonce: int
    deadline: int

    def message(self) -> dict[str, Any]:
        # Numbers as decimal strings: a version or deadline above 2**53 would lose precision in a
        # browser wallet's JSON parser, and a wallet would then sign another value.
        return {
            "digest": _hex32(self.digest),
            "nameHash": _hex32(self.name_hash),
            "version": str(self.version),
            "descriptorDigest": _hex32(self.descriptor_digest),
            "publisher": to_checksum_address(self.publisher),
            "nonce": str(self.nonce),
            "deadline": str(self.deadline),
        }

    def as_args(self) -> tuple[bytes, bytes, int, bytes, str, int, int]:
        """The Solidity `Registration` struct as a call argument."""
        return (
            _bytes32(self.digest),
            _bytes32(self.name_hash),
            self.version,
            _bytes32(self.descriptor_digest),
            to_checksum_address(self.publisher),
            self.nonce,
            self.deadline,
        )

    def struct_hash(self) -> bytes:
        """EIP-712 hashStruct of the registration (independent of the domain)."""
        types = ["bytes32", *(f["type"] for f in REGISTRATION_FIELDS)]
        return keccak(abi_encode(types, [REGISTRATION_TYPEHASH, *self.as_args()]))


@dataclass(frozen=True)
class PackageRecord:
    """A registration: the contract's packed record joined with its PackageRegistered event, which
    carries the line and descriptor digest the contract does not keep in storage."""

    digest: str
    publisher: str  # the key that signed the registration
    name_hash: str
    version: int
    descriptor_digest: str
    status: PackageStatus
    registered_at: datetime
    batch_id: int | None  # None: registered directly, not through a batch
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class Batch:
    batch_id: int
    root: str
    size: int
    anchored_at: datetime


def name_hash(vendor: str, name: str) -> bytes:
    """keccak256 of "vendor/name", the line a package's versions belong to."""
    if not vendor or not name:
        raise LedgerError("a package line needs both a vendor and a name")
    if "/" in vendor:
        # "a/b" + "c" and "a" + "b/c" would otherwise share one line.
        raise LedgerError(f"vendor {vendor!r} contains '/', which separates vendor from name")
    return keccak(text=f"{vendor}/{name}")


def version_number(version: str) -> int:
    """The ordered uint64 the registry stores for a version: MAJOR[.MINOR[.PATCH]][-PRERELEASE].

    Every pre-release of one MAJOR.MINOR.PATCH encodes alike ("1.0-rc1" == "1.0-rc2" < "1.0"),
    so the registry accepts only one of them. Build metadata ("+...") is not accepted.
    """
    match = _VERSION.fullmatch(version.strip())
    if match is None:
        raise UnencodableVersion(f"version {version!r} is not MAJOR[.MINOR[.PATCH]][-PRERELEASE]")
    parts = [int(group) if group else 0 for group in match.groups()[:3]]
    if any(part > _PART_MAX for part in parts):
        raise UnencodableVersion(f"version {version!r} has a part above {_PART_MAX}")
    major, minor, patch = parts
    release = 0 if match.group(4) else 1
    number = major << (2 * _PART_BITS + 1) | minor << (_PART_BITS + 1) | patch << 1 | release
    if number == 0:
        # The registry takes versions above the line's latest, which starts at 0.
        raise UnencodableVersion(f"version {version!r} encodes to 0, below any registrable version")
    return number


def registration_typed_data(
    chain_id: int,
    registry_address: str,
    digest: bytes | str,
    name_hash: bytes | str,
    version: int,
    descriptor_digest: bytes | str,
    publisher: str,
    nonce: int,
    deadline: int,
) -> dict[str, Any]:
    """The full EIP-712 payload a wallet signs with eth_signTypedData_v4 (JSON-serialisable)."""
    registration = Registration(
        digest=_hex32(digest),
        name_hash=_hex32(name_hash),
        version=version,
        descriptor_digest=_hex32(descriptor_digest),
        publisher=to_checksum_address(publisher),
        nonce=nonce,
        deadline=deadline,
    )
    return typed_data_for(registration, chain_id=chain_id, registry_address=registry_address)


def typed_data_for(registration: Registration, *, chain_id: int, registry_address: str) -> dict[str, Any]:
    return {
        "types": {name: [dict(field) for field in fields] for name, fields in REGISTRATION_TYPES.items()},
        "primaryType": "Registration",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(registry_address),
        },
        "message": registration.message(),
    }


def registration_from_typed_data(payload: dict[str, Any]) -> Registration:
    """The registration inside an EIP-712 payload (for instance one a browser sent back signed)."""
    if payload.get("primaryType") != "Registration":
        raise LedgerError("the typed data is not a Registration")
    try:
        message = payload["message"]
        return Registration(
            digest=_hex32(message["digest"]),
            name_hash=_hex32(message["nameHash"]),
            version=int(message["version"]),
            descriptor_digest=_hex32(message["descriptorDigest"]),
            publisher=to_checksum_address(message["publisher"]),
            nonce=int(message["nonce"]),
            deadline=int(message["deadline"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerError(f"the Registration typed data is malformed: {exc}") from exc


def typed_data_hash(payload: dict[str, Any]) -> bytes:
    """The EIP-712 digest of a payload: what the publisher's key signs."""
    from eth_account.messages import encode_typed_data

    try:
        signable = encode_typed_data(full_message=payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerError(f"the typed data cannot be encoded: {exc}") from exc
    return keccak(b"\x19" + bytes(signable.version) + signable.header + signable.body)


def signer_of(payload: dict[str, Any], signature: bytes | str) -> str:
    """The address that signed `payload`, to check a signature before relaying it."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    try:
        signable = encode_typed_data(full_message=payload)
        return str(Account.recover_message(signable, signature=HexBytes(signature)))
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerError(f"the signature cannot be checked: {exc}") from exc


def batch_leaf(registration: Registration, signature: bytes | str) -> bytes:
    """Leaf data of a signed registration in a batch: abi.encode(structHash, keccak256(signature))."""
    return registration.struct_hash() + keccak(bytes(HexBytes(signature)))


def batch_tree(signed: Sequence[tuple[Registration, bytes | str]]) -> MerkleTree:
    """The Merkle tree over signed registrations, in order; anchor its root, prove its leaves."""
    return MerkleTree([batch_leaf(registration, signature) for registration, signature in signed])


class PackageRegistry:
    """One deployed PackageRegistry. Writes come back as unsigned transactions: the developer's
    wallet, or the operator relaying, signs and sends them (e.g. with `ChainClient.transact`)."""

    def __init__(self, client: ChainClient, address: str) -> None:
        self.client = client
        self.address = to_checksum_address(address)
        self.contract = client.bound(artifacts.load(CONTRACT_NAME), self.address)

    @classmethod
    def deployed(cls, client: ChainClient) -> PackageRegistry:
        """The PackageRegistry recorded for the connected chain."""
        from ledger.selectors import deployed_address  # Django models: only where records are read

        return cls(client, deployed_address(client, CONTRACT_NAME))

    @property
    def abi(self) -> Sequence[Any]:
        """For `ChainClient.transact(..., abi=)`, which decodes the contract's custom errors."""
        return self.contract.abi

    # -- signed registrations

    def registration(
        self,
        publisher: str,
        *,
        digest: bytes | str,
        name_hash: bytes | str,
        version: int,
        descriptor_digest: bytes | str,
        deadline: int,
    ) -> Registration:
        """The registration `publisher` must sign, with its line's next nonce."""
        return Registration(
            digest=_hex32(digest),
            name_hash=_hex32(name_hash),
            version=version,
            descriptor_digest=_hex32(descriptor_digest),
            publisher=to_checksum_address(publisher),
            nonce=self.line_nonce(name_hash),
            deadline=deadline,
        )

    def typed_data(self, registration: Registration) -> dict[str, Any]:
        return typed_data_for(registration, chain_id=self.client.chain_id(), registry_address=self.address)

    # -- unsigned transactions

    def register(
        self, sender: str, digest: bytes | str, name_hash: bytes | str, version: int, descriptor_digest: bytes | str
    ) -> TxParams:
        """A direct registration: `sender` is the publisher."""
        return self._tx(sender, "register", _bytes32(digest), _bytes32(name_hash), version, _bytes32(descriptor_digest))

    def register_with_signature(self, sender: str, registration: Registration, signature: bytes | str) -> TxParams:
        """A relayed registration: `sender` pays, the signer is recorded as publisher."""
        return self._tx(sender, "registerWithSignature", registration.as_args(), HexBytes(signature))

    def deprecate(self, sender: str, digest: bytes | str) -> TxParams:
        return self._tx(sender, "deprecate", _bytes32(digest))

    def revoke(self, sender: str, digest: bytes | str) -> TxParams:
        return self._tx(sender, "revoke", _bytes32(digest))

    def rotate_key(self, sender: str, new_key: str) -> TxParams:
        """Hand all of the sender's owner's lines to `new_key`; the sender keeps no rights."""
        return self._tx(sender, "rotateKey", to_checksum_address(new_key))

    def anchor_batch(self, sender: str, root: bytes | str, size: int) -> TxParams:
        """Only the operator: anchor a batch's Merkle root (see `batch_tree`)."""
        return self._tx(sender, "anchorBatch", _bytes32(root), size)

    def prove_batched(
        self,
        sender: str,
        batch_id: int,
        registration: Registration,
        signature: bytes | str,
        proof: Sequence[bytes | str],
        index: int,
    ) -> TxParams:
        """Record a batched registration; anyone may send it."""
        return self._tx(
            sender,
            "proveBatched",
            batch_id,
            registration.as_args(),
            HexBytes(signature),
            [_bytes32(p) for p in proof],
            index,
        )

    # -- reads

    def registration_of(self, digest: bytes | str) -> PackageRecord | None:
        """The registration of a package digest, or None when it is not registered.

        The contract keeps the record's block; the line and descriptor digest come from the
        PackageRegistered event in that block, and the time from the block itself."""
        raw = self._read(self.contract.functions.registration(_bytes32(digest)))
        fields = named_struct(self.contract.abi, "registration", raw, contract=CONTRACT_NAME)
        status = PackageStatus(fields["status"])
        if status is PackageStatus.NONE:
            return None
        block = int(fields["registeredBlock"])
        event = self.contract.events.PackageRegistered()
        params: FilterParams = {
            "address": self.address,
            "topics": [event.topic, _hex32(digest)],
            "fromBlock": block,
            "toBlock": block,
        }
        logs = self.client.call(lambda: self.client.w3.eth.get_logs(params))
        if not logs:
            raise LedgerError(f"{self.address} records {_hex32(digest)} in block {block}, which has no event of it")
        args = event.process_log(logs[0])["args"]
        timestamp = int(self.client.call(lambda: self.client.w3.eth.get_block(block))["timestamp"])
        return PackageRecord(
            digest=_hex32(digest),
            publisher=to_checksum_address(fields["publisher"]),
            name_hash=HexBytes(args["nameHash"]).to_0x_hex(),
            version=int(fields["version"]),
            descriptor_digest=HexBytes(args["descriptorDigest"]).to_0x_hex(),
            status=status,
            registered_at=datetime.fromtimestamp(timestamp, tz=UTC),
            batch_id=int(fields["batchId"]) or None,
            block_number=block,
            tx_hash=HexBytes(logs[0]["transactionHash"]).to_0x_hex(),
        )

    def status_of(self, digest: bytes | str) -> PackageStatus:
        """A package's status from its one record slot (NONE when it is not registered)."""
        return PackageStatus(self._read(self.contract.functions.statusOf(_bytes32(digest))))

    def latest_version(self, name_hash: bytes | str) -> int:
        """The highest version number registered in the line (0 when none)."""
        return int(self._read(self.contract.functions.latestVersion(_bytes32(name_hash))))

    def line_registrations(self, name_hash: bytes | str) -> list[tuple[str, str, int]]:
        """(digest, publisher, version) of every package registered in the line, oldest first, from
        the PackageRegistered events (the line is their third indexed argument)."""
        event = self.contract.events.PackageRegistered()
        params: FilterParams = {
            "address": self.address,
            "topics": [event.topic, None, None, _hex32(name_hash)],
            "fromBlock": 0,
            "toBlock": "latest",
        }
        logs = self.client.call(lambda: self.client.w3.eth.get_logs(params))
        found: list[tuple[str, str, int]] = []
        for log in logs:
            args = event.process_log(log)["args"]
            found.append(
                (HexBytes(args["digest"]).to_0x_hex(), to_checksum_address(args["publisher"]), int(args["version"]))
            )
        return found

    def line_owner(self, name_hash: bytes | str) -> str | None:
        return _address_or_none(self._read(self.contract.functions.lineOwner(_bytes32(name_hash))))

    def publishing_key(self, owner: str) -> str | None:
        """The key `owner` publishes with now; None when `owner` owns no line."""
        return _address_or_none(self._read(self.contract.functions.publishingKey(to_checksum_address(owner))))

    def publishing_key_for(self, digest: bytes | str) -> str | None:
        """The key that may deprecate or revoke a package now; None when it is not registered."""
        return _address_or_none(self._read(self.contract.functions.publishingKeyFor(_bytes32(digest))))

    def line_nonce(self, name_hash: bytes | str) -> int:
        """The nonce the line's next signed registration carries: its number of registrations."""
        return int(self._read(self.contract.functions.lineNonce(_bytes32(name_hash))))

    def batch_count(self) -> int:
        return int(self._read(self.contract.functions.batchCount()))

    def batch(self, batch_id: int) -> Batch | None:
        """An anchored batch, or None when there is no such batch."""
        if not 0 < batch_id <= self.batch_count():
            return None
        raw = self._read(self.contract.functions.batch(batch_id))
        fields = named_struct(self.contract.abi, "batch", raw, contract=CONTRACT_NAME)
        return Batch(
            batch_id=batch_id,
            root=HexBytes(fields["root"]).to_0x_hex(),
            size=int(fields["size"]),
            anchored_at=datetime.fromtimestamp(int(fields["anchoredAt"]), tz=UTC),
        )

    def verify_batched(
        self,
        batch_id: int,
        registration: Registration,
        signature: bytes | str,
        proof: Sequence[bytes | str],
        index: int,
    ) -> bool:
        """Whether the contract finds the signed registration at `index` of the batch (records nothing)."""
        fn = self.contract.functions.verifyBatched(
            batch_id, registration.as_args(), HexBytes(signature), [_bytes32(p) for p in proof], index
        )
        return bool(self._read(fn))

    def events(self, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
        """The arguments of each `name` event this contract emitted in a mined transaction."""
        return receipt_events(self.contract, receipt, name)

    def anchored_batch_id(self, receipt: TxReceipt) -> int:
        """The id of the batch an `anchor_batch` transaction anchored."""
        return int(only_event(self.contract, receipt, "BatchAnchored")["batchId"])

    # -- helpers

    def _read(self, fn: ContractFunction) -> Any:
        return self.client.call(fn.call)

    def _tx(self, sender: str, function: str, *args: Any) -> TxParams:
        data = self.client.call(lambda: self.contract.encode_abi(function, args=list(args)))
        return unsigned_tx(sender, self.address, data, self.client.chain_id())


def _address_or_none(value: str) -> str | None:
    return None if int(value, 16) == 0 else to_checksum_address(value)
