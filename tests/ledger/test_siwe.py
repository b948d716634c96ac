"""EIP-4361 messages: the EIP's own examples round-trip, and every claim is checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from ledger import siwe

EIP_EXAMPLE = """service.invalid wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ServiceOrg Terms of Service: https://service.invalid/tos

URI: https://service.invalid/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""

EIP_EXAMPLE_WITH_SCHEME = EIP_EXAMPLE.replace("service.invalid wants", "https://service.invalid wants", 1)
ACCOUNT = Account.from_key("0x" + "42" * 32)
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def message(**overrides):
    fields = {
        "domain": "market.test",
        "address": ACCOUNT.address,
        "statement": "Sign in to the NFV marketplace.",
        "uri": "https://market.test/",
        "chain_id": 31337,
        "nonce": "abcdEFGH1234",
        "issued_at": "2026-11-24T11:59:00Z",
    }
    fields.update(overrides)
    return siwe.SiweMessage(**fields)


def sign(text: str, account=ACCOUNT):
    return account.sign_message(encode_defunct(text=text)).signature.to_0x_hex()


def check(text: str, signature: str, **overrides):
    claims: dict[str, Any] = {"domain": "market.test", "chain_id": 31337, "nonce": "abcdEFGH1234", "now": NOW}
    claims.update(overrides)
    return siwe.verify(text, signature, **claims)


@pytest.mark.parametrize("text", [EIP_EXAMPLE, EIP_EXAMPLE_WITH_SCHEME])
def test_the_eip_examples_parse_and_round_trip(text):
    parsed = siwe.parse(text)

    assert parsed.domain == "service.invalid"
    assert parsed.address == "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    assert parsed.statement == "I accept the ServiceOrg Terms of Service: https://service.invalid/tos"
    assert parsed.chain_id == 1
    assert parsed.nonce == "32891756"
    assert len(parsed.resources) == 2
    assert parsed.to_text() == text


def test_a_message_without_statement_round_trips():
    text = message(statement=None).to_text()
    assert "\n\n\nURI:" in text
    assert siwe.parse(text).statement is None


def test_it_accepts_a_good_signature():
    text = message().to_text()
    assert check(text, sign(text)).address == ACCOUNT.address


@pytest.mark.parametrize(
    ("overrides", "claims", "error"),
    [
        ({}, {"domain": "evil.test"}, "for domain 'market.test'"),
        ({"uri": "https://evil.test/"}, {}, "is not on 'market.test'"),
        ({}, {"chain_id": 1}, "for chain 31337"),
        ({}, {"nonce": "otherNonce99"}, "nonce is not the one"),
        ({"issued_at": "2026-11-24T10:00:00Z"}, {}, "outside the accepted window"),
        ({"expiration_time": "2026-11-24T11:59:30Z"}, {}, "expired"),
        ({"not_before": "2026-11-24T13:00:00Z"}, {}, "not valid before"),
    ],
)
def test_it_refuses_a_claim_that_does_not_hold(overrides, claims, error):
    text = message(**overrides).to_text()
    with pytest.raises(siwe.SiweError, match=error):
        check(text, sign(text), **claims)


def test_it_refuses_a_signature_by_another_key():
    text = message().to_text()
    with pytest.raises(siwe.SiweError, match="not by"):
        check(text, sign(text, Account.from_key("0x" + "43" * 32)))


def test_it_refuses_a_message_changed_after_signing():
    text = message().to_text()
    signature = sign(text)
    with pytest.raises(siwe.SiweError, match="not by"):
        check(text.replace("Sign in", "Sign up"), signature)


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda t: t.replace(ACCOUNT.address, ACCOUNT.address.lower()), "EIP-55"),
        (lambda t: t.replace("Version: 1", "Version: 2"), "Version"),
        (lambda t: t.replace("Nonce: abcdEFGH1234", "Nonce: short"), "Nonce"),
        (lambda t: t.replace("Chain ID: 31337", "Chain ID: x"), "Chain ID"),
        (lambda t: t.replace("Issued At: 2026-11-24T11:59:00Z", "Issued At: yesterday"), "RFC 3339"),
        (lambda t: t + "\nExtra: line", "unexpected"),
        (lambda t: t.replace(" wants you to sign in", " asks you to sign in"), "line 1"),
    ],
)
def test_it_names_what_is_malformed(mutate, error):
    with pytest.raises(siwe.SiweError, match=error):
        siwe.parse(mutate(message().to_text()))


def test_the_window_allows_a_little_clock_skew():
    text = message(issued_at=(NOW + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")).to_text()
    assert check(text, sign(text))
