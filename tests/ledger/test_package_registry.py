"""PackageRegistry on a real anvil node: direct, relayed (EIP-712) and batched registrations, lines
(claimed by commit-reveal: tests/ledger/test_line_claims.py), versions, key rotation, status, the
operator, and the Python bindings in ledger.registry."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger.client import ChainClient
from ledger.exceptions import LedgerError, TransactionFailed
from ledger.offline import merkle
from ledger.provenance_anchor import ProvenanceAnchor
from ledger.registry import (
    PackageRegistry,
    PackageStatus,
    Registration,
    UnencodableVersion,
    batch_leaf,
    batch_tree,
    name_hash,
    package_key,
    registration_from_typed_data,
    registration_typed_data,
    signer_of,
    typed_data_hash,
    version_number,
)
from tests.factories import claim_line

HOUR = 3600


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


FW = name_hash("acme", "fw")
ROUTER = name_hash("acme", "router")
GLOBEX = name_hash("globex", "fw")


@pytest.fixture
def reg(snapshot, deployed, chain: ChainClient) -> PackageRegistry:
    return PackageRegistry(chain, deployed["PackageRegistry"])


def now(chain: ChainClient) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def send(chain: ChainClient, reg: PackageRegistry, account: LocalAccount, tx):
    return chain.transact(account, tx, abi=reg.abi)


def register(chain, reg, account, label: str, line: bytes = FW, version: int = 1, *, claim: bool = True):
    """A direct registration by `account`, claiming the line for it first unless the line has an owner
    (or `claim` is False)."""
    if claim and reg.line_owner(line) is None:
        claim_line(chain, reg, account, line)
    return send(
        chain, reg, account, reg.register(account.address, digest(label), line, version, digest(f"{label}.vnfd"))
    )


def signed(
    chain, reg, signer: LocalAccount, label: str, line: bytes = FW, version: int = 1, *, nonce=None, deadline=None
) -> tuple[Registration, bytes]:
    """A registration `signer` signs with its wallet (eth_signTypedData_v4 payload); by default
    with its next nonce and a deadline an hour ahead."""
    registration = Registration(
        digest="0x" + digest(label).hex(),
        name_hash="0x" + line.hex(),
        version=version,
        descriptor_digest="0x" + digest(f"{label}.vnfd").hex(),
        publisher=signer.address,
        nonce=reg.line_nonce(line) if nonce is None else nonce,
        deadline=now(chain) + HOUR if deadline is None else deadline,
    )
    payload = reg.typed_data(registration)
    return registration, bytes(Account.sign_typed_data(signer.key, full_message=payload).signature)


def relay(chain, reg, relayer: LocalAccount, registration: Registration, signature: bytes):
    return send(chain, reg, relayer, reg.register_with_signature(relayer.address, registration, signature))


def fresh_key(chain: ChainClient) -> LocalAccount:
    account: LocalAccount = Account.create()
    chain.w3.provider.make_request("anvil_setBalance", [account.address, hex(10**18)])  # type: ignore[arg-type]
    return account


# ---------------------------------------------------------------- encodings (no chain)


def test_version_numbers_keep_the_version_order():
    ordered = ["0.1", "0.9", "0.10", "1.0-rc1", "1.0", "1.0.1-beta", "1.0.1", "1.1", "2.0.0", "1048575.1048575.1048575"]
    numbers = [version_number(v) for v in ordered]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)
    assert all(0 < n < 2**64 for n in numbers)
    assert version_number("1") == version_number("1.0") == version_number("v1.0.0")
    assert version_number("1.0-rc1") == version_number("1.0-rc2")


@pytest.mark.parametrize("bad", ["", "one", "1.2.3.4", "1.0+build5", "1.0rc1", "1.1048576", "-1", "0.0.0-rc1", "1..2"])
def test_versions_that_cannot_be_encoded_raise_a_ledger_error(bad):
    with pytest.raises(UnencodableVersion):
        version_number(bad)
    assert issubclass(UnencodableVersion, LedgerError)


def test_the_line_hash_is_keccak_of_vendor_slash_name():
    assert name_hash("acme", "fw") == keccak(text="acme/fw")
    for vendor, name in (("", "fw"), ("acme", ""), ("ac/me", "fw")):
        with pytest.raises(LedgerError):
            name_hash(vendor, name)


def test_the_typed_data_is_what_a_wallet_signs_and_round_trips(developer):
    payload = registration_typed_data(
        31337, "0x" + "11" * 20, digest("p"), FW, version_number("1.0"), digest("d"), developer.address, 3, 2**60
    )
    assert payload["primaryType"] == "Registration"
    assert payload["domain"] == {
        "name": "NFV Marketplace PackageRegistry",
        "version": "1",
        "chainId": 31337,
        "verifyingContract": to_checksum_address("0x" + "11" * 20),
    }
    # Large numbers travel as decimal strings so a browser wallet does not round them.
    assert payload["message"]["deadline"] == str(2**60)
    signature = Account.sign_typed_data(developer.key, full_message=payload).signature
    assert signer_of(payload, signature) == developer.address
    registration = registration_from_typed_data(payload)
    assert registration.nonce == 3
    assert registration.publisher == developer.address
    with pytest.raises(LedgerError):
        registration_from_typed_data({**payload, "primaryType": "Other"})


# ---------------------------------------------------------------- direct registration


def test_a_developer_registers_directly(chain, reg, developer):
    receipt = register(chain, reg, developer, "pkg-1", version=version_number("1.0"))

    record = reg.registration_of(digest("pkg-1"), FW)
    assert record is not None
    assert record.publisher == developer.address
    assert record.name_hash == "0x" + FW.hex()
    assert record.version == version_number("1.0")
    assert record.descriptor_digest == "0x" + digest("pkg-1.vnfd").hex()
    assert record.status is PackageStatus.ACTIVE
    assert record.batch_id is None
    assert abs(record.registered_at.timestamp() - now(chain)) < 60
    assert reg.line_owner(FW) == developer.address
    assert reg.latest_version(FW) == version_number("1.0")
    assert reg.publishing_key(developer.address) == developer.address
    assert reg.line_key(FW) == developer.address
    (event,) = reg.events(receipt, "PackageRegistered")
    assert event["publisher"] == developer.address
    assert event["digest"] == digest("pkg-1")
    assert event["nameHash"] == FW
    assert event["batchId"] == 0
    assert reg.events(receipt, "LineClaimed") == []  # the line was claimed before, by commit-reveal
    assert reg.registration_of(digest("never registered"), FW) is None
    assert reg.registration_of(digest("pkg-1"), ROUTER) is None


def test_an_unclaimed_line_takes_no_registration(chain, reg, developer, operator):
    with pytest.raises(TransactionFailed, match=rf"LineNotClaimed\(0x{FW.hex()}\)"):
        register(chain, reg, developer, "pkg-1", claim=False)
    registration, signature = signed(chain, reg, developer, "pkg-1")
    with pytest.raises(TransactionFailed, match="LineNotClaimed"):
        relay(chain, reg, operator, registration, signature)
    assert reg.line_owner(FW) is None


def test_a_registration_is_its_event_and_only_a_status_change_writes_a_slot(chain, reg, developer):
    receipt = register(chain, reg, developer, "pkg-1", version=version_number("2.1.3"))

    record = reg.registration_of(digest("pkg-1"), FW)
    assert record is not None
    assert (record.block_number, record.tx_hash) == (receipt["blockNumber"], receipt["transactionHash"].to_0x_hex())
    assert (record.name_hash, record.descriptor_digest) == ("0x" + FW.hex(), "0x" + digest("pkg-1.vnfd").hex())
    key = package_key(digest("pkg-1"), FW)
    assert reg.contract.functions.statusOf(key).call() == PackageStatus.NONE
    assert reg.status_of(digest("pkg-1"), FW) is PackageStatus.ACTIVE

    send(chain, reg, developer, reg.deprecate(developer.address, digest("pkg-1"), FW))
    assert reg.contract.functions.statusOf(key).call() == PackageStatus.DEPRECATED
    assert reg.status_of(digest("pkg-1"), FW) is PackageStatus.DEPRECATED
    assert reg.registration_of(digest("pkg-1"), FW).status is PackageStatus.DEPRECATED


def test_a_version_above_62_bits_is_refused(chain, reg, developer):
    with pytest.raises(TransactionFailed, match=rf"VersionTooLarge\({2**62}, {2**62 - 1}\)"):
        register(chain, reg, developer, "huge", version=2**62)
    register(chain, reg, developer, "largest", version=2**62 - 1)
    assert reg.registration_of(digest("largest"), FW).version == 2**62 - 1
    # version_number's largest encoding fits.
    assert version_number(f"{2**20 - 1}.{2**20 - 1}.{2**20 - 1}") < 2**62


def test_the_nonce_is_the_line_registration_count(chain, reg, developer, operator):
    assert reg.line_nonce(FW) == 0
    claim_line(chain, reg, developer, FW)
    assert reg.line_nonce(FW) == 0  # a claim is no registration
    register(chain, reg, developer, "pkg-1", version=1)
    assert reg.line_nonce(FW) == 1
    relay(chain, reg, operator, *signed(chain, reg, developer, "pkg-2", version=2))
    assert reg.line_nonce(FW) == 2
    assert reg.line_nonce(ROUTER) == 0
    assert (
        reg.registration(
            developer.address,
            digest="0x" + digest("pkg-3").hex(),
            name_hash=FW,
            version=3,
            descriptor_digest=FW,
            deadline=1,
        ).nonce
        == 2
    )


def test_the_same_bytes_under_another_line_are_another_package_and_block_nothing(chain, reg, developer, stranger):
    # The stranger registers the developer's bytes first, under a line of its own.
    register(chain, reg, stranger, "pkg-1", line=GLOBEX)
    register(chain, reg, developer, "pkg-1")

    ours, theirs = reg.registration_of(digest("pkg-1"), FW), reg.registration_of(digest("pkg-1"), GLOBEX)
    assert ours is not None
    assert ours.publisher == developer.address
    assert theirs is not None
    assert theirs.publisher == stranger.address
    assert {r.name_hash for r in reg.registrations_of_digest(digest("pkg-1"))} == {"0x" + FW.hex(), "0x" + GLOBEX.hex()}
    # The stranger's revocation of its own registration leaves the developer's untouched.
    send(chain, reg, stranger, reg.revoke(stranger.address, digest("pkg-1"), GLOBEX))
    assert reg.status_of(digest("pkg-1"), GLOBEX) is PackageStatus.REVOKED
    assert reg.status_of(digest("pkg-1"), FW) is PackageStatus.ACTIVE
    # And it cannot touch the developer's line at all.
    with pytest.raises(TransactionFailed, match="NotPublisher"):
        send(chain, reg, stranger, reg.revoke(stranger.address, digest("pkg-1"), FW))


def test_a_digest_registered_twice_in_its_line_counts_by_its_first_registration(chain, reg, developer):
    register(chain, reg, developer, "pkg-1", version=1)
    register(chain, reg, developer, "pkg-1", version=2)
    assert reg.registration_of(digest("pkg-1"), FW).version == 1


def test_a_zero_digest_or_line_is_refused(chain, reg, developer):
    with pytest.raises(TransactionFailed, match="ZeroDigest"):
        send(chain, reg, developer, reg.register(developer.address, b"\0" * 32, FW, 1, digest("d")))
    with pytest.raises(TransactionFailed, match="ZeroDigest"):
        send(chain, reg, developer, reg.register(developer.address, digest("p"), b"\0" * 32, 1, digest("d")))


def test_versions_must_strictly_increase(chain, reg, developer):
    register(chain, reg, developer, "first", version=5)
    for version in (5, 4):
        with pytest.raises(TransactionFailed, match=r"VersionNotIncreasing\(0x[0-9a-f]+, 5, " + str(version)):
            register(chain, reg, developer, f"v{version}", version=version)
        registration, signature = signed(chain, reg, developer, f"signed v{version}", version=version)
        with pytest.raises(TransactionFailed, match="VersionNotIncreasing"):
            relay(chain, reg, developer, registration, signature)
    assert reg.latest_version(FW) == 5
    register(chain, reg, developer, "v6", version=6)


def test_another_address_cannot_publish_in_an_owned_line(chain, reg, developer, stranger, operator):
    register(chain, reg, developer, "pkg-1")
    with pytest.raises(TransactionFailed, match="NotLineOwner"):
        register(chain, reg, stranger, "pkg-2", version=2)
    registration, signature = signed(chain, reg, stranger, "pkg-3", version=3)
    with pytest.raises(TransactionFailed, match="NotLineOwner"):
        relay(chain, reg, operator, registration, signature)
    assert reg.registration_of(digest("pkg-2"), FW) is None
    # Its own line is fine.
    register(chain, reg, stranger, "other", line=GLOBEX)
    assert reg.line_owner(GLOBEX) == stranger.address


# ---------------------------------------------------------------- relayed registration


@pytest.mark.parametrize("relayer_name", ["operator", "stranger"])
def test_a_relayed_registration_records_the_signer_not_the_relayer(chain, reg, developer, relayer_name, request):
    relayer = request.getfixturevalue(relayer_name)
    claim_line(chain, reg, developer, FW)
    registration, signature = signed(chain, reg, developer, "pkg-1")
    assert registration.nonce == 0

    receipt = relay(chain, reg, relayer, registration, signature)

    record = reg.registration_of(digest("pkg-1"), FW)
    assert record is not None
    assert record.publisher == developer.address
    assert reg.line_owner(FW) == developer.address
    assert reg.line_nonce(FW) == 1
    assert reg.line_nonce(name_hash("globex", "fw")) == 0
    (event,) = reg.events(receipt, "PackageRegistered")
    assert event["publisher"] == developer.address
    assert receipt["from"] == relayer.address


def test_python_and_the_contract_hash_a_registration_alike(chain, reg, developer):
    registration, signature = signed(chain, reg, developer, "pkg-1")
    payload = reg.typed_data(registration)
    assert reg.contract.functions.registrationDigest(registration.as_args()).call() == typed_data_hash(payload)
    assert reg.contract.functions.batchLeaf(registration.as_args(), signature).call() == merkle.leaf_hash(
        batch_leaf(registration, signature)
    )
    domain = reg.contract.functions.eip712Domain().call()
    assert list(domain[1:5]) == ["NFV Marketplace PackageRegistry", "1", chain.chain_id(), reg.address]


def test_a_replayed_signature_is_refused(chain, reg, developer, stranger):
    claim_line(chain, reg, developer, FW)
    registration, signature = signed(chain, reg, developer, "pkg-1")
    stale, stale_signature = signed(chain, reg, developer, "pkg-2", version=2)  # signed for nonce 0 too
    relay(chain, reg, stranger, registration, signature)
    with pytest.raises(TransactionFailed, match="VersionNotIncreasing"):  # and its nonce is spent
        relay(chain, reg, stranger, registration, signature)
    # The line's nonce is spent: another registration signed for it is refused.
    with pytest.raises(TransactionFailed, match=rf"InvalidNonce\(0x{FW.hex()}, 1, 0\)"):
        relay(chain, reg, stranger, stale, stale_signature)
    # A signature for a nonce not reached yet is refused too.
    ahead, ahead_signature = signed(chain, reg, developer, "pkg-3", version=3, nonce=5)
    with pytest.raises(TransactionFailed, match=rf"InvalidNonce\(0x{FW.hex()}, 1, 5\)"):
        relay(chain, reg, stranger, ahead, ahead_signature)
    assert reg.line_nonce(FW) == 1


def test_an_expired_signature_is_refused(chain, reg, developer, operator):
    claim_line(chain, reg, developer, FW)
    registration, signature = signed(chain, reg, developer, "pkg-1", deadline=now(chain) - 1)
    with pytest.raises(TransactionFailed, match="SignatureExpired"):
        relay(chain, reg, operator, registration, signature)
    assert reg.registration_of(digest("pkg-1"), FW) is None


@pytest.mark.parametrize("other", ["chain", "contract"])
def test_a_signature_for_another_domain_is_refused(chain, reg, developer, operator, deployed, other):
    claim_line(chain, reg, developer, FW)
    registration = reg.registration(
        developer.address,
        digest=digest("pkg-1"),
        name_hash=FW,
        version=1,
        descriptor_digest=digest("d"),
        deadline=now(chain) + HOUR,
    )
    chain_id = chain.chain_id() + (1 if other == "chain" else 0)
    address = deployed["ProvenanceAnchor"] if other == "contract" else reg.address
    payload = registration_typed_data(chain_id, address, **_fields(registration))
    signature = Account.sign_typed_data(developer.key, full_message=payload).signature
    with pytest.raises(TransactionFailed, match="WrongSigner"):
        relay(chain, reg, operator, registration, signature)


def _fields(registration: Registration) -> dict[str, Any]:
    return {
        "digest": registration.digest,
        "name_hash": registration.name_hash,
        "version": registration.version,
        "descriptor_digest": registration.descriptor_digest,
        "publisher": registration.publisher,
        "nonce": registration.nonce,
        "deadline": registration.deadline,
    }


def test_a_signature_by_another_key_is_refused(chain, reg, developer, stranger, operator):
    claim_line(chain, reg, developer, FW)
    registration, _ = signed(chain, reg, developer, "pkg-1")
    forged = Account.sign_typed_data(stranger.key, full_message=reg.typed_data(registration)).signature
    expected = rf"WrongSigner\({stranger.address.lower()}, {developer.address.lower()}\)"
    with pytest.raises(TransactionFailed, match=expected):
        relay(chain, reg, operator, registration, forged)
    with pytest.raises(TransactionFailed, match="InvalidSignature"):
        relay(chain, reg, operator, registration, b"\x01" * 64)
    assert reg.registration_of(digest("pkg-1"), FW) is None


# ---------------------------------------------------------------- key rotation


def test_a_rotated_key_hands_every_line_to_the_new_key(chain, reg, developer, operator):
    register(chain, reg, developer, "fw-1", line=FW, version=1)
    register(chain, reg, developer, "router-1", line=ROUTER, version=1)
    new_key = fresh_key(chain)

    receipt = send(chain, reg, developer, reg.rotate_key(developer.address, new_key.address))

    (event,) = reg.events(receipt, "PublishingKeyRotated")
    assert (event["owner"], event["oldKey"], event["newKey"]) == (developer.address, developer.address, new_key.address)
    assert reg.publishing_key(developer.address) == new_key.address
    assert reg.line_key(FW) == new_key.address
    assert reg.line_owner(FW) == developer.address

    # The old key has no right left: not in its lines, not for new lines, not on its packages.
    with pytest.raises(TransactionFailed, match="NotLineOwner"):
        register(chain, reg, developer, "fw-2", line=FW, version=2)
    old_registration, old_signature = signed(chain, reg, developer, "router-2", line=ROUTER, version=2)
    with pytest.raises(TransactionFailed, match="NotLineOwner"):
        relay(chain, reg, operator, old_registration, old_signature)
    with pytest.raises(TransactionFailed, match="RetiredKey"):
        register(chain, reg, developer, "new line", line=name_hash("acme", "new"))
    for build in (reg.deprecate, reg.revoke):
        with pytest.raises(TransactionFailed, match="NotPublisher"):
            send(chain, reg, developer, build(developer.address, digest("fw-1"), FW))
    with pytest.raises(TransactionFailed, match="RetiredKey"):
        send(chain, reg, developer, reg.rotate_key(developer.address, fresh_key(chain).address))

    # The new key publishes in every line (directly or relayed) and manages the old versions.
    register(chain, reg, new_key, "fw-2", line=FW, version=2)
    registration, signature = signed(chain, reg, new_key, "router-2", line=ROUTER, version=2)
    relay(chain, reg, operator, registration, signature)
    record = reg.registration_of(digest("router-2"), ROUTER)
    assert record is not None
    assert record.publisher == new_key.address
    register(chain, reg, new_key, "new line", line=name_hash("acme", "new"))
    assert reg.line_owner(name_hash("acme", "new")) == developer.address
    send(chain, reg, new_key, reg.deprecate(new_key.address, digest("fw-1"), FW))
    assert reg.registration_of(digest("fw-1"), FW).status is PackageStatus.DEPRECATED

    # And can rotate again; the intermediate key is then retired as well.
    newer_key = fresh_key(chain)
    send(chain, reg, new_key, reg.rotate_key(new_key.address, newer_key.address))
    with pytest.raises(TransactionFailed, match="NotLineOwner"):
        register(chain, reg, new_key, "fw-3", line=FW, version=3)
    register(chain, reg, newer_key, "fw-3", line=FW, version=3)


def test_rotate_key_refuses_non_owners_and_used_keys(chain, reg, developer, stranger, operator):
    with pytest.raises(TransactionFailed, match="NotAnOwner"):
        send(chain, reg, stranger, reg.rotate_key(stranger.address, fresh_key(chain).address))
    register(chain, reg, developer, "fw-1")
    register(chain, reg, stranger, "globex-1", line=GLOBEX)
    with pytest.raises(TransactionFailed, match="ZeroAddress"):
        send(chain, reg, developer, reg.rotate_key(developer.address, "0x" + "00" * 20))
    for used in (developer, stranger):  # its own key, another owner's key
        with pytest.raises(TransactionFailed, match="KeyInUse"):
            send(chain, reg, developer, reg.rotate_key(developer.address, used.address))
    new_key = fresh_key(chain)
    send(chain, reg, developer, reg.rotate_key(developer.address, new_key.address))
    # A key bound to one owner cannot be taken by another.
    with pytest.raises(TransactionFailed, match="KeyInUse"):
        send(chain, reg, stranger, reg.rotate_key(stranger.address, new_key.address))
    assert reg.publishing_key(stranger.address) == stranger.address
    assert reg.publishing_key(operator.address) is None


# ---------------------------------------------------------------- status


def test_only_the_publisher_deprecates_or_revokes(chain, reg, developer, stranger, operator):
    register(chain, reg, developer, "pkg-1")
    for outsider in (stranger, operator):
        for build in (reg.deprecate, reg.revoke):
            with pytest.raises(TransactionFailed, match="NotPublisher"):
                send(chain, reg, outsider, build(outsider.address, digest("pkg-1"), FW))
    assert reg.registration_of(digest("pkg-1"), FW).status is PackageStatus.ACTIVE

    send(chain, reg, developer, reg.deprecate(developer.address, digest("pkg-1"), FW))
    assert reg.registration_of(digest("pkg-1"), FW).status is PackageStatus.DEPRECATED
    receipt = send(chain, reg, developer, reg.revoke(developer.address, digest("pkg-1"), FW))
    assert reg.registration_of(digest("pkg-1"), FW).status is PackageStatus.REVOKED
    (event,) = reg.events(receipt, "PackageStatusChanged")
    assert event["status"] == PackageStatus.REVOKED


def test_a_revoked_package_stays_revoked(chain, reg, developer):
    register(chain, reg, developer, "pkg-1")
    send(chain, reg, developer, reg.revoke(developer.address, digest("pkg-1"), FW))
    for build in (reg.deprecate, reg.revoke):
        with pytest.raises(TransactionFailed, match="InvalidTransition"):
            send(chain, reg, developer, build(developer.address, digest("pkg-1"), FW))
    assert reg.registration_of(digest("pkg-1"), FW).status is PackageStatus.REVOKED
    # Its version stays used: the line moves on.
    with pytest.raises(TransactionFailed, match="VersionNotIncreasing"):
        register(chain, reg, developer, "pkg-1 again", version=1)


def test_status_changes_in_an_unclaimed_line_are_refused(chain, reg, developer):
    with pytest.raises(TransactionFailed, match="LineNotClaimed"):
        send(chain, reg, developer, reg.deprecate(developer.address, digest("never registered"), FW))


# ---------------------------------------------------------------- batches


def anchor(chain, reg, operator, signed_items):
    tree = batch_tree(signed_items)
    receipt = send(chain, reg, operator, reg.anchor_batch(operator.address, tree.root, tree.size))
    return reg.anchored_batch_id(receipt), tree, receipt


def prove(chain, reg, sender, batch_id, tree, signed_items, index):
    registration, signature = signed_items[index]
    tx = reg.prove_batched(sender.address, batch_id, registration, signature, tree.proof(index), index)
    return send(chain, reg, sender, tx)


def test_only_the_operator_anchors_batches(chain, reg, operator, developer, stranger):
    for outsider in (stranger, developer):
        with pytest.raises(TransactionFailed, match="OwnableUnauthorizedAccount"):
            send(chain, reg, outsider, reg.anchor_batch(outsider.address, digest("root"), 5))
    with pytest.raises(TransactionFailed, match="EmptyBatch"):
        send(chain, reg, operator, reg.anchor_batch(operator.address, digest("root"), 0))
    with pytest.raises(TransactionFailed, match="EmptyBatch"):
        send(chain, reg, operator, reg.anchor_batch(operator.address, b"\0" * 32, 5))
    receipt = send(chain, reg, operator, reg.anchor_batch(operator.address, digest("root"), 5))
    (event,) = reg.events(receipt, "BatchAnchored")
    assert (event["batchId"], event["root"], event["size"]) == (1, digest("root"), 5)
    batch = reg.batch(1)
    assert batch is not None
    assert (batch.root, batch.size) == ("0x" + digest("root").hex(), 5)
    assert reg.batch(2) is None


def test_every_leaf_of_a_five_leaf_batch_is_proven_and_recorded(chain, reg, operator, developer, stranger):
    for account, line in ((developer, FW), (stranger, GLOBEX), (developer, ROUTER)):
        claim_line(chain, reg, account, line)
    items = [
        signed(chain, reg, developer, "fw-1", line=FW, version=1, nonce=0),
        signed(chain, reg, stranger, "globex-1", line=name_hash("globex", "fw"), version=1, nonce=0),
        signed(chain, reg, developer, "fw-2", line=FW, version=2, nonce=1),
        signed(chain, reg, developer, "router-1", line=ROUTER, version=7, nonce=0),
        signed(chain, reg, stranger, "globex-2", line=name_hash("globex", "fw"), version=2, nonce=1),
    ]
    batch_id, tree, _ = anchor(chain, reg, operator, items)

    for index, (registration, signature) in enumerate(items):
        proof = tree.proof(index)
        assert merkle.verify_inclusion(batch_leaf(registration, signature), index, 5, proof, tree.root)
        assert reg.verify_batched(batch_id, registration, signature, proof, index)
        # Anyone submits the proof: here the stranger and the operator take turns.
        receipt = prove(chain, reg, (stranger, operator)[index % 2], batch_id, tree, items, index)
        (event,) = reg.events(receipt, "PackageRegistered")
        assert event["batchId"] == batch_id
        record = reg.registration_of(registration.digest, registration.name_hash)
        assert record is not None
        assert record.publisher == registration.publisher
        assert record.batch_id == batch_id
        assert record.version == registration.version
    assert reg.latest_version(FW) == 2
    assert reg.line_owner(GLOBEX) == stranger.address
    # A proven leaf cannot be recorded twice: its version (and nonce) is spent.
    with pytest.raises(TransactionFailed, match="VersionNotIncreasing"):
        prove(chain, reg, operator, batch_id, tree, items, 0)


def test_a_one_leaf_batch_is_proven_with_an_empty_proof(chain, reg, operator, developer):
    claim_line(chain, reg, developer, FW)
    items = [signed(chain, reg, developer, "fw-1")]
    batch_id, tree, _ = anchor(chain, reg, operator, items)
    assert tree.proof(0) == []
    assert tree.root == merkle.leaf_hash(batch_leaf(*items[0]))
    prove(chain, reg, developer, batch_id, tree, items, 0)
    assert reg.registration_of(digest("fw-1"), FW).batch_id == batch_id


def test_a_wrong_proof_index_or_registration_is_refused(chain, reg, operator, developer, stranger):
    items = [signed(chain, reg, developer, f"fw-{i}", version=i + 1, nonce=i) for i in range(5)]
    batch_id, tree, _ = anchor(chain, reg, operator, items)
    registration, signature = items[2]
    proof = tree.proof(2)
    tampered = dataclasses.replace(registration, version=99)
    # Another valid encoding of a signature over the same registration would be another leaf.
    flipped = signature[:-1] + bytes([55 - signature[-1]])
    cases = [
        (registration, signature, tree.proof(3), 2),  # another leaf's proof
        (registration, signature, proof, 3),  # wrong index
        (registration, signature, proof, 7),  # outside the batch
        (registration, signature, proof[:-1], 2),  # truncated
        (tampered, signature, proof, 2),  # registration changed after signing
        (registration, flipped, proof, 2),  # signature changed
    ]
    for r, s, p, i in cases:
        assert not reg.verify_batched(batch_id, r, s, p, i)
        with pytest.raises(TransactionFailed, match="InvalidInclusionProof"):
            send(chain, reg, stranger, reg.prove_batched(stranger.address, batch_id, r, s, p, i))
    with pytest.raises(TransactionFailed, match="UnknownBatch"):
        send(chain, reg, stranger, reg.prove_batched(stranger.address, 9, registration, signature, proof, 2))
    assert not reg.verify_batched(9, registration, signature, proof, 2)


def test_a_batched_registration_obeys_the_line_and_version_rules(chain, reg, operator, developer, stranger):
    register(chain, reg, developer, "fw-5", version=5)
    items = [
        signed(chain, reg, stranger, "intruder", line=FW, version=6),
        signed(chain, reg, developer, "rollback", line=FW, version=4),
        signed(chain, reg, developer, "forged", line=FW, version=6, nonce=0)[0],
    ]
    # The third leaf carries the developer's registration with the stranger's signature.
    forged_signature = Account.sign_typed_data(stranger.key, full_message=reg.typed_data(items[2])).signature
    items[2] = (items[2], bytes(forged_signature))
    batch_id, tree, _ = anchor(chain, reg, operator, items)

    with pytest.raises(TransactionFailed, match="NotLineOwner"):
        prove(chain, reg, operator, batch_id, tree, items, 0)
    with pytest.raises(TransactionFailed, match="VersionNotIncreasing"):
        prove(chain, reg, operator, batch_id, tree, items, 1)
    with pytest.raises(TransactionFailed, match="WrongSigner"):
        prove(chain, reg, operator, batch_id, tree, items, 2)
    assert reg.latest_version(FW) == 5


def test_a_batched_deadline_counts_at_anchoring_not_at_proving(chain, reg, operator, developer):
    claim_line(chain, reg, developer, FW)
    claim_line(chain, reg, developer, ROUTER)
    late = signed(chain, reg, developer, "late", deadline=now(chain) - 1)
    in_time = signed(chain, reg, developer, "in-time", line=ROUTER, deadline=now(chain) + 60)
    items = [late, in_time]
    batch_id, tree, _ = anchor(chain, reg, operator, items)
    chain.w3.provider.make_request("evm_increaseTime", [HOUR])

    with pytest.raises(TransactionFailed, match="SignatureExpired"):
        prove(chain, reg, operator, batch_id, tree, items, 0)
    prove(chain, reg, operator, batch_id, tree, items, 1)
    assert reg.registration_of(digest("in-time"), ROUTER) is not None


# ---------------------------------------------------------------- operator


def test_the_operator_changes_only_by_a_two_step_transfer(chain, reg, operator, developer, stranger):
    contract = reg.contract
    assert contract.functions.owner().call() == operator.address
    with pytest.raises(TransactionFailed, match="OwnableUnauthorizedAccount"):
        chain.send(stranger, contract.functions.transferOwnership(stranger.address))
    for account in (operator, stranger):
        with pytest.raises(TransactionFailed, match="RenounceDisabled"):
            chain.send(account, contract.functions.renounceOwnership())

    chain.send(operator, contract.functions.transferOwnership(stranger.address))
    assert contract.functions.pendingOwner().call() == stranger.address
    # Until accepted, the operator is unchanged.
    with pytest.raises(TransactionFailed, match="OwnableUnauthorizedAccount"):
        send(chain, reg, stranger, reg.anchor_batch(stranger.address, digest("root"), 1))
    with pytest.raises(TransactionFailed, match="OwnableUnauthorizedAccount"):
        chain.send(developer, contract.functions.acceptOwnership())
    chain.send(stranger, contract.functions.acceptOwnership())

    assert contract.functions.owner().call() == stranger.address
    send(chain, reg, stranger, reg.anchor_batch(stranger.address, digest("root"), 1))
    with pytest.raises(TransactionFailed, match="OwnableUnauthorizedAccount"):
        send(chain, reg, operator, reg.anchor_batch(operator.address, digest("root"), 1))


# ---------------------------------------------------------------- gas


def test_gas_stays_within_bounds(chain, reg, operator, developer, stranger, deployed):
    gas: dict[str, int] = {}
    claim_line(chain, reg, developer, FW)
    claim_line(chain, reg, developer, ROUTER)
    gas["register (first in its line)"] = register(chain, reg, developer, "fw-1")["gasUsed"]
    gas["register (another line)"] = register(chain, reg, developer, "router-1", line=ROUTER)["gasUsed"]
    gas["register (next version)"] = register(chain, reg, developer, "fw-2", version=2)["gasUsed"]
    registration, signature = signed(chain, reg, developer, "fw-3", version=3)
    gas["registerWithSignature (next version, first signed)"] = relay(chain, reg, operator, registration, signature)[
        "gasUsed"
    ]
    registration, signature = signed(chain, reg, developer, "fw-4", version=4)
    gas["registerWithSignature (next version)"] = relay(chain, reg, operator, registration, signature)["gasUsed"]

    deadline = now(chain) + HOUR
    items = [
        signed(chain, reg, developer, f"fw-{5 + i}", version=5 + i, nonce=4 + i, deadline=deadline) for i in range(1024)
    ]
    batch_id, tree, receipt = anchor(chain, reg, operator, items)
    gas["anchorBatch (first)"] = receipt["gasUsed"]
    gas["anchorBatch"] = send(chain, reg, operator, reg.anchor_batch(operator.address, tree.root, 1024))["gasUsed"]
    gas["proveBatched (1024 leaves, next version)"] = prove(chain, reg, stranger, batch_id, tree, items, 0)["gasUsed"]
    gas["proveBatched (1024 leaves, next version, again)"] = prove(chain, reg, stranger, batch_id, tree, items, 1)[
        "gasUsed"
    ]

    anchors = ProvenanceAnchor(chain, deployed["ProvenanceAnchor"])
    first = chain.transact(operator, anchors.anchor(operator.address, 1, 1000, digest("log 1")), abi=anchors.abi)
    gas["ProvenanceAnchor.anchor (first)"] = first["gasUsed"]
    again = chain.transact(operator, anchors.anchor(operator.address, 1001, 2000, digest("log 2")), abi=anchors.abi)
    gas["ProvenanceAnchor.anchor"] = again["gasUsed"]

    for what, used in gas.items():
        print(f"gas {what}: {used}")
    # No slot of its own per package: the line's slot is rewritten and the event keeps the rest.
    bounds = {
        "register (first in its line)": 50_000,
        "register (another line)": 50_000,
        "register (next version)": 40_000,
        "registerWithSignature (next version, first signed)": 50_000,
        "registerWithSignature (next version)": 50_000,
        "anchorBatch (first)": 100_000,
        "anchorBatch": 85_000,
        "proveBatched (1024 leaves, next version)": 90_000,
        "proveBatched (1024 leaves, next version, again)": 90_000,
        "ProvenanceAnchor.anchor (first)": 110_000,
        "ProvenanceAnchor.anchor": 90_000,
    }
    for what, bound in bounds.items():
        assert 21_000 < gas[what] < bound, f"{what}: {gas[what]} gas, bound {bound}"
