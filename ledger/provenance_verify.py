"""Provenance log entry hashing and an independent check of an entry's proof against ProvenanceAnchor.

No Django here: anyone holding a proof document (GET /api/v1/provenance/{seq}/proof) and a chain node can run it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3

from ledger.client import ChainClient
from ledger.exceptions import LedgerError
from ledger.offline import merkle
from ledger.provenance_anchor import ProvenanceAnchor

# prev_hash of the first entry (seq 1): there is no previous entry.
GENESIS_PREV_HASH = "0x" + "00" * 32
# The fields an entry hash covers, all of them, in the proof document under "entry".
HASHED_FIELDS = ("seq", "kind", "actor", "subject", "payload", "created_at", "prev_hash")


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with keys sorted, no whitespace, non-ASCII kept as is, and no NaN or infinity."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def entry_hash(fields: Mapping[str, Any]) -> str:
    """The entry hash, "0x" + 64 hex digits:

        keccak256(canonical_json({"seq": int, "kind": str, "actor": str, "subject": str,
                                  "payload": JSON value, "created_at": "YYYY-MM-DDTHH:MM:SS.mmmZ",
                                  "prev_hash": "0x" + 64 lowercase hex}))

    prev_hash is the previous entry's entry_hash (GENESIS_PREV_HASH for seq 1); created_at is UTC
    with milliseconds, as the database keeps it. The 32 bytes are the entry's leaf data on chain."""
    document = {name: fields[name] for name in HASHED_FIELDS}
    return "0x" + keccak(canonical_json(document)).hex()


def _check(proof: Mapping[str, Any], client: ChainClient, anchor_address: str) -> tuple[bool, str]:
    """The checks in order; the first that fails gives the reason."""
    entry = proof.get("entry")
    if not isinstance(entry, Mapping):
        return False, "the proof has no entry"
    seq = entry.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return False, "the entry has no valid sequence number"
    try:
        recomputed = entry_hash(entry)
    except (KeyError, TypeError, ValueError) as exc:
        return False, f"the entry hash cannot be recomputed: {exc}"
    if recomputed != str(entry.get("entry_hash", "")).lower():
        return False, f"entry {seq} hashes to {recomputed}, not to the entry_hash {entry.get('entry_hash')} it claims"
    anchored = proof.get("anchor")
    if not isinstance(anchored, Mapping):
        return False, f"entry {seq} is not anchored yet"
    try:
        from_seq, to_seq = int(anchored["from_seq"]), int(anchored["to_seq"])
        path = [bytes(HexBytes(node)) for node in anchored["proof"]]
    except (KeyError, TypeError, ValueError) as exc:
        return False, f"the anchored range is malformed: {exc}"
    if not from_seq <= seq <= to_seq:
        return False, f"entry {seq} is outside the range {from_seq}-{to_seq} the proof names"
    if proof.get("contract") and Web3.to_checksum_address(str(proof["contract"])) != Web3.to_checksum_address(
        anchor_address
    ):
        return False, f"the proof names the contract {proof['contract']}, not {anchor_address}"
    if proof.get("chain_id") is not None and int(proof["chain_id"]) != client.chain_id():
        return False, f"the proof is for chain {proof['chain_id']}, the node is on chain {client.chain_id()}"
    contract = ProvenanceAnchor(client, anchor_address)
    on_chain = contract.anchor_of(seq)
    if on_chain is None:
        return False, f"entry {seq} is not anchored on chain"
    if (on_chain.from_seq, on_chain.to_seq) != (from_seq, to_seq):
        return (
            False,
            f"on chain, entry {seq} is in range {on_chain.from_seq}-{on_chain.to_seq}, not {from_seq}-{to_seq}",
        )
    leaf = bytes(HexBytes(recomputed))
    root = bytes(HexBytes(on_chain.root))
    if not merkle.verify_inclusion(leaf, seq - from_seq, on_chain.size, path, root):
        return False, f"the inclusion proof of entry {seq} does not lead to the anchored root {on_chain.root}"
    if not contract.verify_entry(seq, leaf, path):
        return False, f"the contract's verifyEntry refuses entry {seq}"
    return True, f"entry {seq} is in the log as anchored in range {from_seq}-{to_seq} under root {on_chain.root}"


def verify_entry_proof(proof: Mapping[str, Any], *, client: ChainClient, anchor_address: str) -> tuple[bool, str]:
    """Recompute the entry's hash from its fields and check its inclusion proof against the range the
    ProvenanceAnchor at `anchor_address` holds (the Python RFC 6962 check and the contract's verifyEntry).

    Returns (accepted, reason). The root comes from the chain, never from the proof document."""
    try:
        return _check(proof, client, anchor_address)
    except LedgerError as exc:
        return False, f"the chain could not be asked: {exc}"
