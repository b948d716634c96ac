"""The small ABI codec agrees with eth_abi and web3 on every type our contracts use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_abi.abi import decode as eth_decode
from eth_abi.abi import encode as eth_encode
from eth_utils.address import to_checksum_address as eth_checksum
from web3 import Web3

from ledger.offline.abi import (
    AbiError,
    ContractAbi,
    canonical_type,
    decode,
    encode,
    is_address,
    keccak,
    to_checksum_address,
)

BUILD = Path(__file__).resolve().parents[2] / "contracts" / "build"
ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
REGISTRATION: dict[str, object] = {
    "type": "tuple",
    "name": "r",
    "components": [
        {"name": "digest", "type": "bytes32"},
        {"name": "nameHash", "type": "bytes32"},
        {"name": "version", "type": "uint64"},
        {"name": "publisher", "type": "address"},
    ],
}
CASES: list[tuple[list[dict[str, object]], list[object]]] = [
    ([{"type": "uint256"}, {"type": "address"}, {"type": "bool"}], [2**255 + 7, ALICE, True]),
    ([{"type": "int64"}, {"type": "int8"}], [-5, 127]),
    ([{"type": "bytes32"}, {"type": "bytes1"}], [b"\x11" * 32, b"\x7f"]),
    ([{"type": "bytes"}, {"type": "string"}], [b"\x01" * 70, "grüße"]),
    ([{"type": "bytes32[]"}, {"type": "uint256[]"}], [[b"\x01" * 32, b"\x02" * 32], []]),
    ([{"type": "uint16[3]"}, {"type": "string[]"}], [[1, 2, 3], ["a", "", "long " * 20]]),
    (
        [{"type": "uint256"}, REGISTRATION, {"type": "bytes"}, {"type": "bytes32[]"}],
        [9, (b"\xaa" * 32, b"\xbb" * 32, 42, ALICE), b"\x05" * 65, [b"\x03" * 32]],
    ),
    ([{"type": "tuple[]", "components": [{"type": "string"}, {"type": "uint8"}]}], [[("x", 1), ("yz", 2)]]),
]


@pytest.mark.parametrize(("params", "values"), CASES)
def test_it_encodes_and_decodes_as_eth_abi_does(params, values):
    types = [canonical_type(p) for p in params]
    ours = encode(params, values)

    assert ours == eth_encode(types, values)
    assert _plain(decode(params, ours)) == _plain(eth_decode(types, ours))


def test_it_checksums_addresses_as_eth_utils_does():
    for raw in ("0x" + "ab" * 20, ALICE.lower(), "0x" + "00" * 19 + "01"):
        assert to_checksum_address(raw) == eth_checksum(raw)
    assert is_address(ALICE)
    assert is_address(ALICE.lower())
    assert not is_address(ALICE.replace("C8", "c8"))  # a broken checksum
    assert not is_address("0x1234")


def test_it_hashes_with_keccak_not_sha3():
    assert keccak(text="") == bytes(Web3.keccak(text=""))


def test_it_decodes_our_contracts_logs_and_inputs_as_web3_does():
    abi = json.loads((BUILD / "PackageRegistry.json").read_text())["abi"]
    contract = Web3().eth.contract(abi=abi)
    ours = ContractAbi(abi)
    for name, entry in ours.functions.items():
        args = [_sample(p) for p in entry.get("inputs", [])]
        data = ours.call_data(name, *args)
        assert data == bytes.fromhex(contract.encode_abi(name, args=args)[2:])
        decoded_name, params = ours.decode_input(data)
        fn, theirs = contract.decode_function_input(data)
        assert decoded_name == fn.fn_name
        assert _plain(params) == _plain(dict(theirs))
    for name in ours.events:
        assert "0x" + ours.topic(name).hex() == str(contract.events[name]().topic)


def test_it_refuses_short_data_and_unknown_selectors():
    with pytest.raises(AbiError):
        decode([{"type": "uint256"}], b"\x00" * 31)
    with pytest.raises(AbiError):
        decode([{"type": "bytes"}], (32).to_bytes(32, "big") + (1000).to_bytes(32, "big"))
    with pytest.raises(AbiError):
        ContractAbi([]).decode_input(b"\x01\x02\x03\x04")
    with pytest.raises(AbiError):
        encode([{"type": "uint8"}], [256])


def _sample(param: dict[str, object]) -> object:
    kind = str(param["type"])
    if kind.endswith("[]"):
        return [_sample({**param, "type": kind[:-2]}) for _ in range(2)]
    if kind == "tuple":
        return {str(c["name"]): _sample(c) for c in param["components"]}  # type: ignore[attr-defined]
    if kind == "address":
        return ALICE
    if kind == "bool":
        return True
    if kind.startswith(("uint", "int")):
        return 7
    if kind == "string":
        return "text"
    if kind == "bytes":
        return b"\x09" * 65
    return b"\x01" * int(kind[len("bytes") :])


def _plain(value: object) -> object:
    """Tuples and lists alike, dict values compared as plain values, addresses checksummed (as web3 does)."""
    if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
        return eth_checksum(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value
