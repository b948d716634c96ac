"""What the contract bindings (registry, licensing, provenance_anchor) share: unsigned transactions
for a wallet, 32-byte values, ABI structs and receipt events. Imports no web3 at load, so the
verifier's light path (ledger.registry through ledger.offline.rpc) stays light."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from hexbytes import HexBytes

from ledger.exceptions import LedgerError
from ledger.offline.abi import to_checksum_address

if TYPE_CHECKING:
    from eth_typing import HexStr
    from web3.contract import Contract
    from web3.types import TxParams, TxReceipt, Wei


def unsigned_tx(sender: str, to: str, data: HexStr, chain_id: int, value: int = 0) -> TxParams:
    # No gas, fees or nonce: the signing wallet (or ChainClient.transact) fills them in and, by
    # estimating gas, reports a revert before anything is sent.
    return {
        "from": to_checksum_address(sender),
        "to": to_checksum_address(to),
        "data": data,
        "value": cast("Wei", value),
        "chainId": chain_id,
    }


def bytes32(value: bytes | str) -> bytes:
    try:
        raw = bytes(HexBytes(value))
    except ValueError as exc:
        raise LedgerError(f"expected 32 bytes in hex: {exc}") from exc
    if len(raw) != 32:
        raise LedgerError(f"expected 32 bytes, got {len(raw)}")
    return raw


def hex32(value: bytes | str) -> str:
    return HexBytes(bytes32(value)).to_0x_hex()


def named_struct(abi: Sequence[Any], function: str, raw: Sequence[Any], *, contract: str) -> dict[str, Any]:
    """A struct returned by `function`, as a dict keyed by the ABI's component names."""
    for entry in abi:
        if entry.get("type") == "function" and entry.get("name") == function:
            components = entry["outputs"][0]["components"]
            return {c["name"]: value for c, value in zip(components, raw, strict=True)}
    raise LedgerError(f"{contract} ABI has no function {function}")


def receipt_events(contract: Contract, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
    """The arguments of each `name` event `contract` emitted in a mined transaction."""
    from web3.logs import DISCARD

    event = contract.events[name]()
    return [dict(log["args"]) for log in event.process_receipt(receipt, errors=DISCARD)]


def only_event(contract: Contract, receipt: TxReceipt, name: str) -> dict[str, Any]:
    """The arguments of the one `name` event a transaction must have emitted."""
    found = receipt_events(contract, receipt, name)
    if len(found) != 1:
        raise LedgerError(f"expected one {name} event, found {len(found)}")
    return found[0]
