"""A read-only JSON-RPC client that starts fast, for the independent verifier (`nfvm verify`).

web3 takes ~0.7 s to import, several times the hashing of a 100 MiB package. This client talks to the
node with urllib and decodes with `ledger.offline.abi`, and offers the part of `ChainClient` and of web3's
contract and `eth` API that the registry's read bindings (`ledger.registry.PackageRegistry` reads,
`ledger.offline.verify`) use: `call`, `chain_id`, `code_at`, `bound(...)` contracts with `functions.X(...).call()`,
`events.X().topic` / `.process_log`, `decode_function_input`, and `w3.eth.get_logs` / `get_block` /
`get_transaction` answering with web3's value types. It sends no transactions."""

from __future__ import annotations

import itertools
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hexbytes import HexBytes

from ledger.artifacts import Artifact
from ledger.exceptions import ChainUnavailable, LedgerError
from ledger.offline.abi import AbiError, ContractAbi, to_checksum_address
from ledger.offline.redact import redact_url

T = TypeVar("T")


class NodeError(LedgerError, ValueError):
    """The node answered a request with a JSON-RPC error (web3 raises ValueError-like errors here too)."""


class RpcClient:
    """One chain node over JSON-RPC, for reads only."""

    def __init__(self, rpc_url: str, *, timeout: float = 30.0) -> None:
        self.rpc_url = rpc_url
        self.display_url = redact_url(rpc_url)
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._chain_id: int | None = None
        self.w3 = _Web3Subset(self)

    # -- the transport

    def request(self, method: str, params: Sequence[Any]) -> Any:
        """The result of one JSON-RPC call; ChainUnavailable when the node cannot be reached."""
        body = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)})
        request = urllib.request.Request(  # noqa: S310 (the URL's scheme is checked by the CLI)
            self.rpc_url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise ChainUnavailable(self.display_url, f"HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ChainUnavailable(self.display_url, _short(exc)) from exc
        except ValueError as exc:
            raise LedgerError(f"chain node at {self.display_url} answered with something other than JSON") from exc
        if not isinstance(answer, dict):
            raise LedgerError(f"chain node at {self.display_url} answered {method} with {answer!r}")
        if answer.get("error") is not None:
            error = answer["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise NodeError(f"chain node at {self.display_url} answered {method} with an error: {message}")
        return answer.get("result")

    # -- what ChainClient offers for reads

    def call(self, fn: Callable[[], T]) -> T:
        """Run a read; decoding errors become ledger errors, as ChainClient.call does for web3's."""
        try:
            return fn()
        except LedgerError:
            raise
        except (AbiError, ValueError, KeyError, TypeError) as exc:
            raise LedgerError(f"chain node at {self.display_url} answered with an error: {exc}") from exc

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.request("eth_chainId", []), 16)
        return self._chain_id

    def code_at(self, address: str) -> bytes:
        return bytes(HexBytes(self.request("eth_getCode", [to_checksum_address(address), "latest"])))

    def eth_call(self, to: str, data: bytes) -> bytes:
        return bytes(HexBytes(self.request("eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])))

    def bound(self, artifact: Artifact, address: str) -> LightContract:
        return LightContract(self, artifact.abi, to_checksum_address(address))


# ---------------------------------------------------------------- contracts


class LightContract:
    """A deployed contract's reads, spelled as web3's `Contract` spells them."""

    def __init__(self, client: RpcClient, abi: Sequence[Mapping[str, Any]], address: str) -> None:
        self.client = client
        self.abi = abi
        self.address = address
        self.codec = ContractAbi(abi)
        self.functions = _Functions(self)
        self.events = _Events(self)

    def decode_function_input(self, data: bytes | str) -> tuple[_FunctionName, dict[str, Any]]:
        name, params = self.codec.decode_input(bytes(HexBytes(data)))
        return _FunctionName(name), params


@dataclass(frozen=True)
class _FunctionName:
    fn_name: str


@dataclass(frozen=True)
class _BoundCall:
    contract: LightContract
    name: str
    args: tuple[Any, ...]

    def call(self) -> Any:
        """The function's return value: one value, or a tuple when it returns several (as web3)."""
        contract = self.contract
        raw = contract.client.eth_call(contract.address, contract.codec.call_data(self.name, *self.args))
        values = contract.codec.decode_output(self.name, raw)
        return values[0] if len(values) == 1 else values


class _Functions:
    def __init__(self, contract: LightContract) -> None:
        self._contract = contract

    def __getattr__(self, name: str) -> Callable[..., _BoundCall]:
        if name not in self._contract.codec.functions:
            raise AttributeError(f"the contract's ABI has no function {name}")
        return lambda *args: _BoundCall(self._contract, name, args)


@dataclass(frozen=True)
class _Event:
    """web3's ContractEvent: `events[name].topic`, and `events.name()` an instance with `process_log`."""

    contract: LightContract
    name: str

    def __call__(self) -> _Event:
        return self

    @property
    def topic(self) -> str:
        return "0x" + self.contract.codec.topic(self.name).hex()

    def process_log(self, log: Mapping[str, Any]) -> dict[str, Any]:
        decoded = self.contract.codec.decode_log(
            [bytes(HexBytes(t)) for t in log["topics"]], bytes(HexBytes(log["data"]))
        )
        if decoded is None or decoded[0] != self.name:
            raise AbiError(f"the log is not a {self.name} event")
        return {"event": self.name, "args": decoded[1], "address": log.get("address")}


class _Events:
    def __init__(self, contract: LightContract) -> None:
        self._contract = contract

    def __getitem__(self, name: str) -> _Event:
        if name not in self._contract.codec.events:
            raise KeyError(f"the contract's ABI has no event {name}")
        return _Event(self._contract, name)

    def __getattr__(self, name: str) -> _Event:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(str(exc)) from None


# ---------------------------------------------------------------- the part of `w3.eth` the reads use


class _Web3Subset:
    def __init__(self, client: RpcClient) -> None:
        self.eth = _Eth(client)


class _Eth:
    def __init__(self, client: RpcClient) -> None:
        self._client = client

    def get_logs(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        for key in ("fromBlock", "toBlock"):
            if key in params:
                query[key] = hex(params[key]) if isinstance(params[key], int) else params[key]
        if "address" in params:
            query["address"] = params["address"]
        if "topics" in params:
            query["topics"] = [_hex_topic(t) for t in params["topics"]]
        logs = self._client.request("eth_getLogs", [query]) or []
        return [_log(entry) for entry in logs]

    def get_block(self, number: int | str) -> dict[str, Any]:
        block = self._client.request(
            "eth_getBlockByNumber", [hex(number) if isinstance(number, int) else number, False]
        )
        if block is None:
            raise LedgerError(f"chain node at {self._client.display_url} has no block {number}")
        return {
            "number": int(block["number"], 16),
            "hash": HexBytes(block["hash"]),
            "timestamp": int(block["timestamp"], 16),
        }

    def get_transaction(self, tx_hash: bytes | str) -> dict[str, Any]:
        tx = self._client.request("eth_getTransactionByHash", [HexBytes(tx_hash).to_0x_hex()])
        if tx is None:
            raise LedgerError(
                f"chain node at {self._client.display_url} has no transaction {HexBytes(tx_hash).to_0x_hex()}"
            )
        return {
            "hash": HexBytes(tx["hash"]),
            "from": to_checksum_address(tx["from"]),
            "to": to_checksum_address(tx["to"]) if tx.get("to") else None,
            "input": HexBytes(tx.get("input") or tx.get("data") or "0x"),
            "blockNumber": int(tx["blockNumber"], 16) if tx.get("blockNumber") else None,
        }


def _hex_topic(topic: Any) -> Any:
    if topic is None or isinstance(topic, str):
        return topic
    if isinstance(topic, list):
        return [_hex_topic(t) for t in topic]
    return HexBytes(topic).to_0x_hex()


def _log(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "address": to_checksum_address(entry["address"]),
        "topics": [HexBytes(t) for t in entry["topics"]],
        "data": HexBytes(entry["data"]),
        "blockNumber": int(entry["blockNumber"], 16),
        "blockHash": HexBytes(entry["blockHash"]),
        "transactionHash": HexBytes(entry["transactionHash"]),
        "transactionIndex": int(entry["transactionIndex"], 16),
        "logIndex": int(entry["logIndex"], 16),
        "removed": bool(entry.get("removed", False)),
    }


def _short(exc: Exception) -> str:
    """The same wording ChainClient uses for an unreachable node."""
    reason = getattr(exc, "reason", exc)
    text = str(reason)
    if isinstance(reason, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused"
    if isinstance(reason, socket.timeout | TimeoutError) or "timed out" in text.lower():
        return "timed out"
    return text if len(text) < 200 else text[:200] + "..."
