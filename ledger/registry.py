"""PackageRegistry bindings: the EIP-712 registration and line claim a developer signs, version and line
encodings, line commitments, batch leaves, unsigned transactions for every PackageRegistry write, and
typed reads (registrations come from their events: the contract keeps none in storage)."""

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
LINE_CLAIM_FIELDS: list[dict[str, str]] = [
    {"name": "nameHash", "type": "bytes32"},
    {"name": "claimant", "type": "address"},
    {"name": "deadline", "type": "uint256"},
]

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
class LineClaim:
    """What a claimant signs to have its claim of a line relayed (the Solidity `LineClaim` type)."""

    name_hash: str
    claimant: str
    deadline: int

    def message(self) -> dict[str, Any]:
        return {
            "nameHash": _hex32(self.name_hash),
            "claimant": to_checksum_address(self.claimant),
            "deadline": str(self.deadline),
        }

    def commitment(self, secret: bytes | str) -> str:
        """What `commitLine` takes: keccak256(abi.encode(nameHash, claimant, deadline, keccak256(secret)))."""
        encoded = abi_encode(
            ["bytes32", "address", "uint256", "bytes32"],
            [
                _bytes32(self.name_hash),
                to_checksum_address(self.claimant),
                self.deadline,
                keccak(bytes(HexBytes(secret))),
            ],
        )
        return "0x" + keccak(encoded).hex()


def line_claim_typed_data(claim: LineClaim, *, chain_id: int, registry_address: str) -> dict[str, Any]:
    """The EIP-712 payload a claimant's wallet signs; the signature is also the commitment's secret."""
    return {
        "types": {
            "EIP712Domain": [dict(f) for f in REGISTRATION_TYPES["EIP712Domain"]],
            "LineClaim": LINE_CLAIM_FIELDS,
        },
        "primaryType": "LineClaim",
        "domain": _domain(chain_id, registry_address),
        "message": claim.message(),
    }


def _domain(chain_id: int, registry_address: str) -> dict[str, Any]:
    """The registry's EIP-712 domain, the same for registrations and line claims."""
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(registry_address),
    }


def line_claim_from_typed_data(payload: dict[str, Any]) -> LineClaim:
    if payload.get("primaryType") != "LineClaim":
        raise LedgerError("the typed data is not a LineClaim")
    try:
        message = payload["message"]
        return LineClaim(
            name_hash=_hex32(message["nameHash"]),
            claimant=to_checksum_address(message["claimant"]),
            deadline=int(message["deadline"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LedgerError(f"the LineClaim typed data is malformed: {exc}") from exc


def package_key(digest: bytes | str, name_hash: bytes | str) -> str:
    """A package's key in a line, keccak256(abi.encode(digest, nameHash)): what statuses and offers use."""
    return "0x" + keccak(_bytes32(digest) + _bytes32(name_hash)).hex()


@dataclass(frozen=True)
class PackageRecord:
    """A registration: its PackageRegistered event (the contract keeps none in storage), with the status
    the line owner gave it since."""

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
        "domain": _domain(chain_id, registry_address),
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

    def deprecate(self, sender: str, digest: bytes | str, name_hash: bytes | str) -> TxParams:
        return self._tx(sender, "deprecate", _bytes32(digest), _bytes32(name_hash))

    def revoke(self, sender: str, digest: bytes | str, name_hash: bytes | str) -> TxParams:
        return self._tx(sender, "revoke", _bytes32(digest), _bytes32(name_hash))

    def claim_typed_data(self, claim: LineClaim) -> dict[str, Any]:
        return line_claim_typed_data(claim, chain_id=self.client.chain_id(), registry_address=self.address)

    def commit_line(self, sender: str, commitment: bytes | str) -> TxParams:
        """Commit to a line claim (`LineClaim.commitment`); anyone may send it."""
        return self._tx(sender, "commitLine", _bytes32(commitment))

    def claim_line(self, sender: str, claim: LineClaim, secret: bytes | str) -> TxParams:
        """Reveal a commitment: `secret` is the claimant's signature of the claim, or any secret when
        `sender` is the claimant."""
        return self._tx(
            sender,
            "claimLine",
            _bytes32(claim.name_hash),
            to_checksum_address(claim.claimant),
            claim.deadline,
            HexBytes(secret),
        )

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

    def registration_of(self, digest: bytes | str, name_hash: bytes | str) -> PackageRecord | None:
        """The registration of `digest` in the line `name_hash`, or None. The same bytes registered in
        another line are another package: nobody's origin for a file that names this line.

        The line's owner could register one digest at several versions; the first counts."""
        logs = self._registered_logs(_hex32(digest), _hex32(name_hash))
        if not logs:
            return None
        return self._record(logs[0], self.status_of(digest, name_hash))

    def registrations_of_digest(self, digest: bytes | str) -> list[PackageRecord]:
        """Every registration of `digest`, in any line, oldest first (status not read)."""
        return [self._record(log, PackageStatus.ACTIVE) for log in self._registered_logs(_hex32(digest), None)]

    def status_of(self, digest: bytes | str, name_hash: bytes | str) -> PackageStatus:
        """The status of a package of a line: ACTIVE unless its line owner deprecated or revoked it (a
        package that is not registered reads ACTIVE here too: see `registration_of`)."""
        return self.status_of_key(package_key(digest, name_hash))

    def status_of_key(self, key: bytes | str) -> PackageStatus:
        """`status_of` by the package's key (`package_key`), as a licence offer names it."""
        raw = PackageStatus(self._read(self.contract.functions.statusOf(_bytes32(key))))
        return PackageStatus.ACTIVE if raw is PackageStatus.NONE else raw

    def _registered_logs(self, digest: str | None, name_hash: str | None) -> list[Any]:
        event = self.contract.events.PackageRegistered()
        params: FilterParams = {
            "address": self.address,
            "topics": [event.topic, digest, name_hash],
            "fromBlock": 0,
            "toBlock": "latest",
        }
        logs = self.client.call(lambda: self.client.w3.eth.get_logs(params))
        return sorted(logs, key=lambda log: (int(log["blockNumber"]), int(log["logIndex"])))

    def _record(self, log: Any, status: PackageStatus) -> PackageRecord:
        args = self.contract.events.PackageRegistered().process_log(log)["args"]
        block = int(log["blockNumber"])
        timestamp = int(self.client.call(lambda: self.client.w3.eth.get_block(block))["timestamp"])
        return PackageRecord(
            digest=HexBytes(args["digest"]).to_0x_hex(),
            publisher=to_checksum_address(args["publisher"]),
            name_hash=HexBytes(args["nameHash"]).to_0x_hex(),
            version=int(args["version"]),
            descriptor_digest=HexBytes(args["descriptorDigest"]).to_0x_hex(),
            status=status,
            registered_at=datetime.fromtimestamp(timestamp, tz=UTC),
            batch_id=int(args["batchId"]) or None,
            block_number=block,
            tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(),
        )

    def latest_version(self, name_hash: bytes | str) -> int:
        """The highest version number registered in the line (0 when none)."""
        return int(self._read(self.contract.functions.latestVersion(_bytes32(name_hash))))

    def line_registrations(self, name_hash: bytes | str) -> list[tuple[str, str, int]]:
        """(digest, publisher, version) of every package registered in the line, oldest first, from
        the PackageRegistered events (the line is their second indexed argument)."""
        event = self.contract.events.PackageRegistered()
        logs = self._registered_logs(None, _hex32(name_hash))
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

    def line_key(self, name_hash: bytes | str) -> str | None:
        """The key that acts for the line now (its owner's current key); None when it is unclaimed."""
        return _address_or_none(self._read(self.contract.functions.lineKey(_bytes32(name_hash))))

    def min_commitment_age(self) -> int:
        return int(self._read(self.contract.functions.minCommitmentAge()))

    def commitment_time(self, commitment: bytes | str) -> int:
        """When a line commitment was committed (chain seconds), 0 when never or already revealed."""
        return int(self._read(self.contract.functions.commitmentTime(_bytes32(commitment))))

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
