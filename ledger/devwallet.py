"""The development wallet the portal offers in embedded mode: anvil's published test accounts,
signing in the browser (the keys are public knowledge, never a user's), and the narrow JSON-RPC
relay to the node that wallet needs. Offered only on anvil's development chain id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account

from config.embedded import ANVIL_DEV_KEYS
from ledger.client import ChainClient
from ledger.exceptions import LedgerError

# anvil's default chain id: no public network uses it, so a production chain never gets the wallet.
ANVIL_CHAIN_ID = 31337

# Account 0 is the embedded operator (it relays and anchors); the wallet offers the others, so a
# browser transaction never races the operator's nonces.
WALLET_ACCOUNTS = range(1, len(ANVIL_DEV_KEYS))

# What the in-browser wallet asks the node: reads, fee data, and its own signed transactions.
RELAYED_METHODS = frozenset(
    {
        "eth_blockNumber",
        "eth_call",
        "eth_chainId",
        "eth_estimateGas",
        "eth_feeHistory",
        "eth_gasPrice",
        "eth_getBalance",
        "eth_getBlockByNumber",
        "eth_getCode",
        "eth_getTransactionByHash",
        "eth_getTransactionCount",
        "eth_getTransactionReceipt",
        "eth_maxPriorityFeePerGas",
        "eth_sendRawTransaction",
        "net_version",
    }
)


class DevWalletUnavailable(LedgerError):
    """The development wallet is off here (not embedded mode, or not anvil's development chain)."""


class DevWalletRefused(LedgerError):
    """The relay refused a request: the method is not one it relays, or the call is malformed."""


@dataclass(frozen=True)
class DevAccount:
    index: int
    address: str
    key: str


def dev_accounts() -> list[DevAccount]:
    return [DevAccount(i, str(Account.from_key(ANVIL_DEV_KEYS[i]).address), ANVIL_DEV_KEYS[i]) for i in WALLET_ACCOUNTS]


def dev_wallet_config(client: ChainClient, *, enabled: bool) -> dict[str, Any] | None:
    """What the browser needs to build the wallet, or None when it must not be offered."""
    if not enabled or client.chain_id() != ANVIL_CHAIN_ID:
        return None
    return {
        "chainId": ANVIL_CHAIN_ID,
        "accounts": [{"index": a.index, "address": a.address, "key": a.key} for a in dev_accounts()],
    }


def dev_rpc(client: ChainClient, *, enabled: bool, method: Any, params: Any) -> dict[str, Any]:
    """Forward one JSON-RPC call of the development wallet to the node; the answer is the node's
    `result` or its `error` object (a revert's data included, so the browser can decode it)."""
    if not enabled or client.chain_id() != ANVIL_CHAIN_ID:
        raise DevWalletUnavailable("the development wallet is only offered on the embedded development chain")
    if not isinstance(method, str) or method not in RELAYED_METHODS:
        raise DevWalletRefused(f"method {method!r} is not relayed for the development wallet")
    if not isinstance(params, list):
        raise DevWalletRefused("params must be a JSON array")
    response = client.call(lambda: client.w3.provider.make_request(method, params))  # type: ignore[arg-type]
    if "error" in response:
        return {"error": response["error"]}
    return {"result": response.get("result")}
