"""PackageRegistry on a real anvil node: registration, line ownership, versions, status."""

from __future__ import annotations

import hashlib

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger import artifacts
from ledger.client import ChainClient
from ledger.exceptions import TransactionFailed

ACTIVE, DEPRECATED, REVOKED = 1, 2, 3


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def line(vendor_name: str) -> bytes:
    return Web3.keccak(text=vendor_name)


@pytest.fixture
def registry(deployed, chain: ChainClient, snapshot):
    return chain.bound(artifacts.load("PackageRegistry"), deployed["PackageRegistry"])


def send(chain: ChainClient, account: LocalAccount, fn):
    return chain.send(account, fn)


def test_it_records_the_caller_as_publisher_and_emits_an_event(chain, registry, developer):
    receipt = send(chain, developer, registry.functions.register(digest("pkg-1"), line("acme/fw"), 1, digest("vnfd")))

    record = registry.functions.registration(digest("pkg-1")).call()
    assert record[0] == developer.address
    assert record[1] == 1
    assert record[3] == ACTIVE
    assert record[5] == digest("vnfd")
    assert registry.functions.lineOwner(line("acme/fw")).call() == developer.address
    (event,) = registry.events.PackageRegistered().process_receipt(receipt)
    assert event["args"]["publisher"] == developer.address
    assert event["args"]["digest"] == digest("pkg-1")


def test_it_refuses_registering_the_same_digest_twice(chain, registry, developer):
    send(chain, developer, registry.functions.register(digest("pkg-1"), line("acme/fw"), 1, digest("d")))
    with pytest.raises(TransactionFailed, match=r"AlreadyRegistered\(0x"):
        send(chain, developer, registry.functions.register(digest("pkg-1"), line("acme/fw"), 2, digest("d")))


def test_it_refuses_another_address_publishing_in_an_owned_line(chain, registry, developer, stranger):
    send(chain, developer, registry.functions.register(digest("pkg-1"), line("acme/fw"), 1, digest("d")))
    with pytest.raises(TransactionFailed, match="NotLineOwner"):
        send(chain, stranger, registry.functions.register(digest("pkg-2"), line("acme/fw"), 2, digest("d")))
    assert registry.functions.registration(digest("pkg-2")).call()[3] == 0


def test_it_refuses_a_version_that_does_not_increase(chain, registry, developer):
    send(chain, developer, registry.functions.register(digest("pkg-1"), line("acme/fw"), 5, digest("d")))
    for version in (5, 4):
        with pytest.raises(TransactionFailed, match="VersionNotIncreasing"):
            send(
                chain,
                developer,
                registry.functions.register(digest(f"v{version}"), line("acme/fw"), version, digest("d")),
            )
    assert registry.functions.latestVersion(line("acme/fw")).call() == 5


def test_it_refuses_a_zero_digest(chain, registry, developer):
    with pytest.raises(TransactionFailed, match="ZeroDigest"):
        send(chain, developer, registry.functions.register(b"\0" * 32, line("acme/fw"), 1, digest("d")))


def test_only_the_publisher_deprecates_or_revokes(chain, registry, developer, stranger, operator):
    send(chain, developer, registry.functions.register(digest("pkg-1"), line("acme/fw"), 1, digest("d")))
    for outsider in (stranger, operator):
        for fn in (registry.functions.deprecate, registry.functions.revoke):
            with pytest.raises(TransactionFailed, match="NotPublisher"):
                send(chain, outsider, fn(digest("pkg-1")))
    assert registry.functions.registration(digest("pkg-1")).call()[3] == ACTIVE

    send(chain, developer, registry.functions.deprecate(digest("pkg-1")))
    assert registry.functions.registration(digest("pkg-1")).call()[3] == DEPRECATED
    receipt = send(chain, developer, registry.functions.revoke(digest("pkg-1")))
    assert registry.functions.registration(digest("pkg-1")).call()[3] == REVOKED
    (event,) = registry.events.PackageStatusChanged().process_receipt(receipt)
    assert event["args"]["status"] == REVOKED


def test_a_revoked_package_cannot_come_back(chain, registry, developer):
    send(chain, developer, registry.functions.register(digest("pkg-1"), line("acme/fw"), 1, digest("d")))
    send(chain, developer, registry.functions.revoke(digest("pkg-1")))
    for fn in (registry.functions.deprecate, registry.functions.revoke):
        with pytest.raises(TransactionFailed, match="InvalidTransition"):
            send(chain, developer, fn(digest("pkg-1")))


def test_status_changes_of_an_unknown_digest_are_refused(chain, registry, developer):
    with pytest.raises(TransactionFailed, match="NotRegistered"):
        send(chain, developer, registry.functions.deprecate(digest("never registered")))
