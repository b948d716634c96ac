"""ProvenanceAnchor bindings: unsigned transactions anchoring ranges of the provenance log, and typed reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.types import TxParams, TxReceipt

from ledger import artifacts
from ledger.binding import bytes32 as _bytes32
from ledger.binding import receipt_events, unsigned_tx
from ledger.client import ChainClient

CONTRACT_NAME = "ProvenanceAnchor"
# Ranges start at sequence number 1: latest_seq() == 0 means nothing is anchored.
FIRST_SEQ = 1


@dataclass(frozen=True)
class Anchor:
    anchor_id: int
    from_seq: int
    to_seq: int
    root: str
    anchored_at: datetime

    @property
    def size(self) -> int:
        return self.to_seq - self.from_seq + 1


class ProvenanceAnchor:
    """One deployed ProvenanceAnchor. Leaves are log entry hashes (32 bytes, see ledger.offline.merkle): the
    entry with sequence number s is leaf s - from_seq of its range."""

    def __init__(self, client: ChainClient, address: str) -> None:
        self.client = client
        self.address = Web3.to_checksum_address(address)
        self.contract = client.bound(artifacts.load(CONTRACT_NAME), self.address)

    @classmethod
    def deployed(cls, client: ChainClient) -> ProvenanceAnchor:
        """The ProvenanceAnchor recorded for the connected chain."""
        from ledger.selectors import deployed_address  # Django models: only where records are read

        return cls(client, deployed_address(client, CONTRACT_NAME))

    @property
    def abi(self) -> Sequence[Any]:
        """For `ChainClient.transact(..., abi=)`, which decodes the contract's custom errors."""
        return self.contract.abi

    def anchor(self, sender: str, from_seq: int, to_seq: int, root: bytes | str) -> TxParams:
        """Only the operator: anchor entries from_seq..to_seq (from_seq must be latest_seq() + 1)."""
        data = self.client.call(lambda: self.contract.encode_abi("anchor", args=[from_seq, to_seq, _bytes32(root)]))
        return unsigned_tx(sender, self.address, data, self.client.chain_id())

    def latest_seq(self) -> int:
        return int(self._read(self.contract.functions.latestSeq()))

    def anchor_count(self) -> int:
        return int(self._read(self.contract.functions.anchorCount()))

    def anchor_at(self, anchor_id: int) -> Anchor | None:
        """An anchored range by id (from 1), or None when there is no such anchor."""
        if not 0 < anchor_id <= self.anchor_count():
            return None
        root, from_seq, to_seq, anchored_at = self._read(self.contract.functions.anchorAt(anchor_id))
        return Anchor(
            anchor_id=anchor_id,
            from_seq=int(from_seq),
            to_seq=int(to_seq),
            root=HexBytes(root).to_0x_hex(),
            anchored_at=datetime.fromtimestamp(int(anchored_at), tz=UTC),
        )

    def anchor_of(self, seq: int) -> Anchor | None:
        """The anchored range holding sequence number `seq`, or None when it is not anchored yet."""
        if not FIRST_SEQ <= seq <= self.latest_seq():
            return None
        return self.anchor_at(int(self._read(self.contract.functions.anchorIdOf(seq))))

    def verify_entry(self, seq: int, entry_hash: bytes | str, proof: Sequence[bytes | str]) -> bool:
        """Whether the contract accepts `proof` for entry `seq` having hash `entry_hash`."""
        fn = self.contract.functions.verifyEntry(seq, _bytes32(entry_hash), [_bytes32(p) for p in proof])
        return bool(self._read(fn))

    def events(self, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
        """The arguments of each `name` event this contract emitted in a mined transaction."""
        return receipt_events(self.contract, receipt, name)

    def _read(self, fn: ContractFunction) -> Any:
        return self.client.call(fn.call)
