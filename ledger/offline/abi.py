"""A small Ethereum ABI codec, keccak and address checksums, for the read paths that must start fast:
the independent verifier (`nfvm verify`) and the indexer's log decoding. It imports neither web3 nor
eth_abi (together ~0.8 s of start-up); values come out as web3 gives them: checksummed addresses,
`bytes`, `int`, `bool`, `str`, lists for arrays, and tuples (dicts where names are asked for)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from Crypto.Hash import keccak as _keccak  # pycryptodome: the keccak backend eth-hash[pycryptodome] installs for web3

from ledger.exceptions import LedgerError

if TYPE_CHECKING:
    from eth_typing import ChecksumAddress

Param = Mapping[str, Any]  # an ABI parameter: {"name", "type", "components"?, "indexed"?}
WORD = 32
_ARRAY = re.compile(r"^(.*)\[(\d*)\]$")
_ADDRESS = re.compile(r"^(0x)?[0-9a-fA-F]{40}$")


class AbiError(LedgerError, ValueError):
    """Data that does not decode as the ABI says, or a value that cannot be encoded as its type (a
    ValueError as well, as the errors of web3 and eth_abi it stands in for are)."""


def keccak(data: bytes = b"", *, text: str | None = None) -> bytes:
    hasher = _keccak.new(digest_bits=256)
    hasher.update(text.encode() if text is not None else data)
    return hasher.digest()


def is_address(value: Any) -> bool:
    """A 20-byte hex address; mixed case must carry a valid EIP-55 checksum."""
    if not isinstance(value, str) or not _ADDRESS.match(value):
        return False
    body = value.removeprefix("0x")
    return body.lower() == body or body.upper() == body or to_checksum_address(value) == "0x" + body


def to_checksum_address(value: str | bytes) -> ChecksumAddress:
    """EIP-55: the hex address with letters upper-cased where keccak(lowercase hex) has a high nibble."""
    body = value.hex() if isinstance(value, bytes) else value.lower().removeprefix("0x")
    if len(body) != 40 or not all(c in "0123456789abcdef" for c in body):
        raise AbiError(f"{value!r} is not an address")
    digest = keccak(body.encode()).hex()
    return cast(
        "ChecksumAddress", "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(body))
    )


def canonical_type(param: Param) -> str:
    """The type as it appears in a signature: tuples spelled out as (t1,t2)."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def signature(entry: Param) -> str:
    return f"{entry['name']}({','.join(canonical_type(p) for p in entry.get('inputs', []))})"


# ---------------------------------------------------------------- types


def _array(param: Param) -> tuple[Param, int | None] | None:
    """(element parameter, fixed length or None) when `param` is an array."""
    match = _ARRAY.match(str(param["type"]))
    if match is None:
        return None
    element = {**param, "type": match.group(1)}
    return element, int(match.group(2)) if match.group(2) else None


def _dynamic(param: Param) -> bool:
    array = _array(param)
    if array is not None:
        element, length = array
        return length is None or _dynamic(element)
    if param["type"] == "tuple":
        return any(_dynamic(c) for c in param.get("components", []))
    return param["type"] in ("bytes", "string")


def _head_size(param: Param) -> int:
    if _dynamic(param):
        return WORD
    array = _array(param)
    if array is not None:
        element, length = array
        return (length or 0) * _head_size(element)
    if param["type"] == "tuple":
        return sum(_head_size(c) for c in param.get("components", []))
    return WORD


def _bits(kind: str, prefix: str) -> int:
    rest = kind[len(prefix) :]
    return int(rest) if rest else 256


# ---------------------------------------------------------------- encoding


def encode(params: Sequence[Param], values: Sequence[Any]) -> bytes:
    """abi.encode(values) for the parameter list `params`."""
    if len(params) != len(values):
        raise AbiError(f"expected {len(params)} values, got {len(values)}")
    heads: list[bytes] = []
    tails: list[bytes] = []
    offset = sum(_head_size(p) for p in params)
    for param, value in zip(params, values, strict=True):
        encoded = _encode_one(param, value)
        if _dynamic(param):
            heads.append(offset.to_bytes(WORD, "big"))
            tails.append(encoded)
            offset += len(encoded)
        else:
            heads.append(encoded)
    return b"".join(heads + tails)


def _encode_one(param: Param, value: Any) -> bytes:
    kind = str(param["type"])
    array = _array(param)
    if array is not None:
        element, length = array
        items = list(value)
        if length is not None and len(items) != length:
            raise AbiError(f"{kind} needs {length} items, got {len(items)}")
        body = encode([element] * len(items), items)
        return body if length is not None else len(items).to_bytes(WORD, "big") + body
    if kind == "tuple":
        components = list(param.get("components", []))
        if isinstance(value, Mapping):
            value = [value[c["name"]] for c in components]
        return encode(components, list(value))
    if kind == "address":
        if not is_address(value if isinstance(value, str) else "0x" + bytes(value).hex()):
            raise AbiError(f"{value!r} is not an address")
        raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
        return raw.rjust(WORD, b"\0")
    if kind == "bool":
        return int(bool(value)).to_bytes(WORD, "big")
    if kind.startswith("uint") or kind.startswith("int"):
        signed = kind.startswith("int")
        bits = _bits(kind, "int" if signed else "uint")
        number = int(value)
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not low <= number <= high:
            raise AbiError(f"{number} does not fit {kind}")
        return number.to_bytes(WORD, "big", signed=True) if signed else number.to_bytes(WORD, "big")
    if kind in ("bytes", "string"):
        raw = value.encode() if kind == "string" else _as_bytes(value)
        padded = raw.ljust((len(raw) + WORD - 1) // WORD * WORD, b"\0")
        return len(raw).to_bytes(WORD, "big") + padded
    if kind.startswith("bytes"):
        size = int(kind[len("bytes") :])
        raw = _as_bytes(value)
        if len(raw) != size:
            raise AbiError(f"{kind} needs {size} bytes, got {len(raw)}")
        return raw.ljust(WORD, b"\0")
    raise AbiError(f"ABI type {kind} is not supported")


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        try:
            return bytes.fromhex(value.removeprefix("0x"))
        except ValueError as exc:
            raise AbiError(f"{value!r} is not hex") from exc
    return bytes(value)


# ---------------------------------------------------------------- decoding


def decode(params: Sequence[Param], data: bytes, *, named: bool = False) -> tuple[Any, ...]:
    """The values abi.encode wrote for `params`; with `named`, tuples come back as dicts."""
    return tuple(_decode_seq(params, data, 0, named))


def _decode_seq(params: Sequence[Param], data: bytes, base: int, named: bool) -> list[Any]:
    values: list[Any] = []
    head = base
    for param in params:
        if _dynamic(param):
            values.append(_decode_one(param, data, base + _word(data, head), named))
        else:
            values.append(_decode_one(param, data, head, named))
        head += _head_size(param)
    return values


def _word(data: bytes, at: int) -> int:
    if at < 0 or at + WORD > len(data):
        raise AbiError(f"the data ends at byte {len(data)}, a word was expected at {at}")
    return int.from_bytes(data[at : at + WORD], "big")


def _decode_one(param: Param, data: bytes, at: int, named: bool) -> Any:
    kind = str(param["type"])
    array = _array(param)
    if array is not None:
        element, length = array
        if length is None:
            length, at = _word(data, at), at + WORD
        if length > len(data):
            raise AbiError(f"an array of {length} items cannot fit in {len(data)} bytes")
        return _decode_seq([element] * length, data, at, named)
    if kind == "tuple":
        components = list(param.get("components", []))
        values = _decode_seq(components, data, at, named)
        if named:
            return {str(c["name"]): v for c, v in zip(components, values, strict=True)}
        return tuple(values)
    if kind in ("bytes", "string"):
        size = _word(data, at)
        if at + WORD + size > len(data):
            raise AbiError(f"{kind} of {size} bytes runs past the end of the data")
        raw = data[at + WORD : at + WORD + size]
        if kind == "bytes":
            return raw
        try:
            return raw.decode()
        except UnicodeDecodeError as exc:
            raise AbiError(f"a string that is not UTF-8: {exc}") from exc
    number = _word(data, at)
    if kind == "address":
        return to_checksum_address(number.to_bytes(WORD, "big")[12:])
    if kind == "bool":
        return number != 0
    if kind.startswith("uint"):
        return number
    if kind.startswith("int"):
        bits = _bits(kind, "int")
        number &= (1 << bits) - 1
        return number - (1 << bits) if number >> (bits - 1) else number
    if kind.startswith("bytes"):
        return data[at : at + int(kind[len("bytes") :])]
    raise AbiError(f"ABI type {kind} is not supported")


# ---------------------------------------------------------------- a contract's ABI


class ContractAbi:
    """One contract's ABI: call data, return values, event topics and logs, transaction input."""

    def __init__(self, abi: Sequence[Param]) -> None:
        self.abi = abi
        self.functions = {str(e["name"]): e for e in abi if e.get("type") == "function"}
        self.events = {str(e["name"]): e for e in abi if e.get("type") == "event"}
        self._selectors = {keccak(text=signature(e))[:4]: e for e in self.functions.values()}
        self._topics = {keccak(text=signature(e)): e for e in self.events.values() if not e.get("anonymous")}

    def _function(self, name: str) -> Param:
        try:
            return self.functions[name]
        except KeyError:
            raise AbiError(f"the ABI has no function {name}") from None

    def call_data(self, name: str, *args: Any) -> bytes:
        entry = self._function(name)
        return keccak(text=signature(entry))[:4] + encode(entry.get("inputs", []), args)

    def decode_output(self, name: str, data: bytes) -> tuple[Any, ...]:
        return decode(self._function(name).get("outputs", []), data)

    def topic(self, event: str) -> bytes:
        try:
            return keccak(text=signature(self.events[event]))
        except KeyError:
            raise AbiError(f"the ABI has no event {event}") from None

    def decode_log(self, topics: Sequence[bytes], data: bytes) -> tuple[str, dict[str, Any]] | None:
        """(event name, arguments by name) of a log, or None when it is not one of this ABI's events.
        Indexed arguments of dynamic types are their keccak hash, as in the topic."""
        entry = self._topics.get(topics[0]) if topics else None
        if entry is None:
            return None
        inputs = entry.get("inputs", [])
        indexed = [p for p in inputs if p.get("indexed")]
        if len(indexed) != len(topics) - 1:
            raise AbiError(f"{entry['name']} has {len(indexed)} indexed arguments, the log {len(topics) - 1} topics")
        plain = iter(decode([p for p in inputs if not p.get("indexed")], data))
        topic = iter(topics[1:])
        args: dict[str, Any] = {}
        for param in inputs:
            if param.get("indexed"):
                raw = next(topic)
                args[str(param["name"])] = raw if _dynamic(param) else decode([param], raw)[0]
            else:
                args[str(param["name"])] = next(plain)
        return str(entry["name"]), args

    def decode_input(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """(function name, arguments by name, structs as dicts) of a transaction's input."""
        entry = self._selectors.get(bytes(data[:4]))
        if entry is None:
            raise AbiError(f"the input's selector 0x{bytes(data[:4]).hex()} is none of the contract's functions")
        inputs = entry.get("inputs", [])
        values = decode(inputs, bytes(data[4:]), named=True)
        return str(entry["name"]), {str(p["name"]): v for p, v in zip(inputs, values, strict=True)}


def encode_types(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """abi.encode for types given by name ("bytes32", "uint256[]", ...; no tuples), as eth_abi's `encode`."""
    return encode([{"type": t} for t in types], values)
