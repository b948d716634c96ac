"""EIP-712 digests and signer recovery without eth-account agree with eth-account."""

from __future__ import annotations

import hashlib

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from ledger.exceptions import LedgerError
from ledger.offline.eip712 import recover_typed_data_signer, typed_data_digest
from ledger.registry import Registration, typed_data_for

REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def registration(publisher: str, n: int) -> Registration:
    return Registration(
        digest="0x" + hashlib.sha256(f"pkg {n}".encode()).hexdigest(),
        name_hash="0x" + hashlib.sha256(b"acme/fw").hexdigest(),
        version=2**41 + n,
        descriptor_digest="0x" + hashlib.sha256(b"vnfd").hexdigest(),
        publisher=publisher,
        nonce=n,
        deadline=2**40 + n,
    )


NESTED = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person[]"},
            {"name": "contents", "type": "string"},
            {"name": "payload", "type": "bytes"},
            {"name": "flag", "type": "bool"},
        ],
    },
    "primaryType": "Mail",
    "domain": {"name": "Ether Mail", "chainId": 1},
    "message": {
        "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
        "to": [{"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"}],
        "contents": "Hello, Bob!",
        "payload": "0x0102",
        "flag": True,
    },
}


@pytest.mark.parametrize("n", range(6))
def test_it_recovers_the_signer_of_a_registration_as_eth_account_does(n):
    key = hashlib.sha256(f"key {n}".encode()).digest()
    signer = Account.from_key(key)
    payload = typed_data_for(registration(signer.address, n), chain_id=31337 + n, registry_address=REGISTRY)
    signed = Account.sign_typed_data(key, full_message=payload)

    signable = encode_typed_data(full_message=payload)
    assert typed_data_digest(payload) == bytes(signed.message_hash)
    assert recover_typed_data_signer(payload, bytes(signed.signature)) == signer.address
    assert recover_typed_data_signer(payload, signed.signature.to_0x_hex()) == Account.recover_message(
        signable, signature=signed.signature
    )


def test_it_hashes_nested_structs_arrays_and_bytes_as_eth_account_does():
    key = hashlib.sha256(b"mail").digest()
    signed = Account.sign_typed_data(key, full_message=NESTED)

    assert typed_data_digest(NESTED) == bytes(signed.message_hash)
    assert recover_typed_data_signer(NESTED, bytes(signed.signature)) == Account.from_key(key).address


def test_another_message_recovers_another_address():
    key = hashlib.sha256(b"k").digest()
    payload = typed_data_for(registration(Account.from_key(key).address, 1), chain_id=1, registry_address=REGISTRY)
    signature = bytes(Account.sign_typed_data(key, full_message=payload).signature)
    other = typed_data_for(registration(Account.from_key(key).address, 2), chain_id=1, registry_address=REGISTRY)

    assert recover_typed_data_signer(other, signature) != Account.from_key(key).address


@pytest.mark.parametrize(
    "signature",
    [b"\x01" * 64, b"\x00" * 65, b"\xff" * 32 + b"\x01" * 32 + b"\x1b", b"\x01" * 64 + b"\x05"],
)
def test_it_refuses_malformed_signatures(signature):
    payload = typed_data_for(registration(REGISTRY, 1), chain_id=1, registry_address=REGISTRY)
    with pytest.raises(LedgerError):
        recover_typed_data_signer(payload, signature)


def test_it_refuses_typed_data_it_cannot_encode():
    with pytest.raises(LedgerError):
        typed_data_digest({"types": {}, "primaryType": "Registration", "domain": {}, "message": {}})
