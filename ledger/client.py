"""The chain client: one JSON-RPC connection, with node errors turned into ledger errors."""

from __future__ import annotations

import functools
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
from eth_abi.abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, Web3Exception
from web3.types import TxParams, TxReceipt, Wei

from config.embedded import file_locked
from config.faults import fault_point
from ledger.artifacts import Artifact
from ledger.exceptions import ChainUnavailable, LedgerError, TransactionFailed
from ledger.offline.redact import redact_url

T = TypeVar("T")


@dataclass(frozen=True)
class ChainStatus:
    rpc_url: str
    chain_id: int
    latest_block: int
    genesis_hash: str


class ChainClient:
    def __init__(self, rpc_url: str, *, timeout: float = 3.0, receipt_timeout: float = 120.0) -> None:
        self.rpc_url = rpc_url
        self.display_url = redact_url(rpc_url)
        self.receipt_timeout = receipt_timeout
        self._chain_id: int | None = None
        # Transactions this process sends from one account take its next nonce one at a time; waiting for
        # their receipts is not serialised.
        self._sending = threading.Lock()
        # No automatic retries: callers (health checks, the indexer) decide how to retry.
        self.w3 = Web3(
            Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
        )

    @contextmanager
    def _errors(self, abi: Sequence[Any] | None = None) -> Iterator[None]:
        try:
            yield
        except LedgerError:
            raise
        except requests.RequestException as exc:
            raise ChainUnavailable(self.display_url, _short(exc)) from exc
        except ContractCustomError as exc:
            raise TransactionFailed(f"reverted with {decode_custom_error(str(exc.data), abi or [])}") from exc
        except ContractLogicError as exc:
            raise TransactionFailed(f"reverted: {exc.message or exc}") from exc
        except TimeExhausted as exc:
            raise TransactionFailed(f"no receipt within {self.receipt_timeout:.0f} s: {exc}") from exc
        except (Web3Exception, ValueError) as exc:
            raise LedgerError(f"chain node at {self.display_url} answered with an error: {exc}") from exc

    def call(self, fn: Callable[[], T]) -> T:
        with self._errors():
            return fn()

    def status(self) -> ChainStatus:
        with self._errors():
            chain_id = self.w3.eth.chain_id
            latest = self.w3.eth.block_number
            genesis = self.w3.eth.get_block(0)
        return ChainStatus(
            rpc_url=self.display_url,
            chain_id=int(chain_id),
            latest_block=int(latest),
            genesis_hash=HexBytes(genesis["hash"]).to_0x_hex(),
        )

    def chain_id(self) -> int:
        """The node's chain id, asked once: it does not change while the node runs."""
        if self._chain_id is None:
            with self._errors():
                self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def now(self) -> int:
        """The latest block's timestamp: licence expiry is judged by chain time, not this host's clock."""
        with self._errors():
            return int(self.w3.eth.get_block("latest")["timestamp"])

    def code_at(self, address: str) -> bytes:
        with self._errors():
            return bytes(self.w3.eth.get_code(Web3.to_checksum_address(address)))

    def factory(self, artifact: Artifact) -> type[Contract]:
        return self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)

    def bound(self, artifact: Artifact, address: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact.abi)

    def send(self, account: LocalAccount, fn: ContractFunction, *, value: int = 0) -> TxReceipt:
        """Call contract function `fn` in a transaction signed by `account`; a revert raises."""
        with self._errors(fn.contract_abi):
            tx = fn.build_transaction({"from": account.address, "value": Wei(value)})
        return self.transact(account, tx, abi=fn.contract_abi)

    def transact(
        self, account: LocalAccount, tx: TxParams, *, abi: Sequence[Any] | None = None, step: str = ""
    ) -> TxReceipt:
        """Sign `tx` with `account`, send it, and wait for its receipt; a revert raises. `step` names the
        journey for the fault-injection kill points "<step>:signed" and "<step>:sent" (config.faults)."""
        with self._errors(abi):
            tx = dict(tx)  # type: ignore[assignment]
            tx.setdefault("from", account.address)
            tx.setdefault("chainId", self.w3.eth.chain_id)
            if "gas" not in tx:
                tx["gas"] = int(self.w3.eth.estimate_gas(tx) * 1.2)
            if "maxFeePerGas" not in tx and "gasPrice" not in tx:
                base = self.w3.eth.get_block("latest").get("baseFeePerGas", 0)
                tip = self.w3.eth.max_priority_fee
                tx["maxPriorityFeePerGas"] = tip
                tx["maxFeePerGas"] = Wei(2 * int(base) + int(tip))
            with self._sending, _sender_lock(self.chain_id(), account.address):
                tx.setdefault("nonce", self.w3.eth.get_transaction_count(account.address, "pending"))
                signed = account.sign_transaction(tx)  # type: ignore[arg-type]
                if step:
                    fault_point(f"{step}:signed")
                tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            if step:
                fault_point(f"{step}:sent")
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.receipt_timeout)
        if receipt["status"] != 1:
            raise TransactionFailed(f"transaction {HexBytes(tx_hash).to_0x_hex()} reverted")
        return receipt


def _sender_lock(chain_id: int, address: str) -> AbstractContextManager[None]:
    """Hold the account's sending lock across this host's processes (the web server's workers and the indexer
    worker all sign with the operator key): from reading the pending nonce to handing the transaction to the
    node, so two processes never sign two transactions with one nonce, which the node would refuse, or
    worse, let one replace the other."""
    return file_locked(Path(tempfile.gettempdir()) / f"nfvm-sender-{chain_id}-{address.lower()}.lock")


def decode_custom_error(data: str, abi: Sequence[Any]) -> str:
    """`Name(arg, ...)` for a Solidity custom error's revert data, from the contract's ABI."""
    raw = bytes.fromhex(data.removeprefix("0x"))
    for entry in abi:
        if entry.get("type") != "error":
            continue
        types = [i["type"] for i in entry.get("inputs", [])]
        if Web3.keccak(text=f"{entry['name']}({','.join(types)})")[:4] == raw[:4]:
            values = abi_decode(types, raw[4:])
            shown = [HexBytes(v).to_0x_hex() if isinstance(v, bytes) else str(v) for v in values]
            return f"{entry['name']}({', '.join(shown)})"
    return f"unknown error {data}"


def _short(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text if len(text) < 200 else text[:200] + "..."


@functools.cache
def _cached(rpc_url: str, timeout: float) -> ChainClient:
    return ChainClient(rpc_url, timeout=timeout)


def get_chain_client() -> ChainClient:
    """The chain client for the configured node (ETH_RPC_URL, or the embedded anvil)."""
    from django.conf import settings

    return _cached(settings.ETH_RPC_URL, settings.CHAIN_TIMEOUT_S)
