"""Claiming a vendor/name line on the PackageRegistry by commit-reveal, on a real anvil node: a registry
deployed here with ENS's 60 s minimum age, the relayed path (the claimant's signature is the secret) and
the direct one, and the front-running, squatting and griefing attempts that must fail."""

from __future__ import annotations

import os

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger import artifacts
from ledger.client import ChainClient
from ledger.exceptions import TransactionFailed
from ledger.registry import LineClaim, PackageRegistry, name_hash, typed_data_hash
from tests.factories import warp

LINE = name_hash("acme", "fw")
ENS_MIN_AGE = 60
DAY = 24 * 3600


@pytest.fixture
def reg(snapshot, chain: ChainClient, operator: LocalAccount) -> PackageRegistry:
    """A registry of its own, with the production minimum age (the suite's deployment waits 1 s)."""
    artifact = artifacts.load("PackageRegistry")
    tx = (
        chain.factory(artifact).constructor(operator.address, ENS_MIN_AGE).build_transaction({"from": operator.address})
    )
    receipt = chain.transact(operator, tx)
    return PackageRegistry(chain, str(receipt["contractAddress"]))


def send(chain: ChainClient, reg: PackageRegistry, account: LocalAccount, tx):
    return chain.transact(account, tx, abi=reg.abi)


def signed_claim(chain: ChainClient, reg: PackageRegistry, claimant: LocalAccount, line: bytes = LINE):
    claim = LineClaim(name_hash="0x" + line.hex(), claimant=claimant.address, deadline=chain.now() + DAY - 60)
    signature = Account.sign_typed_data(claimant.key, full_message=reg.claim_typed_data(claim)).signature
    return claim, bytes(signature)


def commit(chain, reg, sender: LocalAccount, claim: LineClaim, secret: bytes):
    return send(chain, reg, sender, reg.commit_line(sender.address, claim.commitment(secret)))


def reveal(chain, reg, sender: LocalAccount, claim: LineClaim, secret: bytes):
    return send(chain, reg, sender, reg.claim_line(sender.address, claim, secret))


def test_a_relayed_claim_is_revealed_after_the_minimum_age(chain, reg, operator, developer):
    claim, signature = signed_claim(chain, reg, developer)
    commit(chain, reg, operator, claim, signature)
    with pytest.raises(TransactionFailed, match="CommitmentTooNew"):
        reveal(chain, reg, operator, claim, signature)

    warp(chain, ENS_MIN_AGE)
    receipt = reveal(chain, reg, operator, claim, signature)

    (event,) = reg.events(receipt, "LineClaimed")
    assert (event["owner"], event["claimant"]) == (developer.address, developer.address)
    assert reg.line_owner(LINE) == developer.address
    assert reg.line_key(LINE) == developer.address
    assert reg.commitment_time(claim.commitment(signature)) == 0  # spent
    assert reg.min_commitment_age() == ENS_MIN_AGE


def test_a_claimant_claims_directly_with_a_secret_of_its_own(chain, reg, developer):
    claim = LineClaim(name_hash="0x" + LINE.hex(), claimant=developer.address, deadline=chain.now() + DAY)
    secret = os.urandom(32)
    commit(chain, reg, developer, claim, secret)
    warp(chain, ENS_MIN_AGE)
    reveal(chain, reg, developer, claim, secret)
    assert reg.line_owner(LINE) == developer.address


def test_python_and_the_contract_compute_commitments_and_claim_digests_alike(chain, reg, developer):
    claim, signature = signed_claim(chain, reg, developer)
    args = (LINE, developer.address, claim.deadline, signature)
    assert "0x" + reg.contract.functions.lineCommitment(*args).call().hex() == claim.commitment(signature)
    digest = reg.contract.functions.lineClaimDigest(LINE, developer.address, claim.deadline).call()
    assert digest == typed_data_hash(reg.claim_typed_data(claim))


def test_attack_front_running_a_reveal_gains_nothing(chain, reg, operator, developer, stranger):
    """The stranger watches the honest reveal, learns the line, and races it with a claim of its own."""
    claim, signature = signed_claim(chain, reg, developer)
    commit(chain, reg, operator, claim, signature)
    warp(chain, ENS_MIN_AGE)
    # Seen in the mempool: the stranger commits to the same line for itself and reveals at once.
    theirs = LineClaim(name_hash=claim.name_hash, claimant=stranger.address, deadline=claim.deadline)
    secret = os.urandom(32)
    commit(chain, reg, stranger, theirs, secret)
    with pytest.raises(TransactionFailed, match="CommitmentTooNew"):
        reveal(chain, reg, stranger, theirs, secret)
    # Reusing the honest reveal only ever claims for the developer, whoever sends it.
    reveal(chain, reg, stranger, claim, signature)
    assert reg.line_owner(LINE) == developer.address
    # Once its commitment is old enough, the stranger finds the line taken.
    warp(chain, ENS_MIN_AGE)
    with pytest.raises(TransactionFailed, match="LineTaken"):
        reveal(chain, reg, stranger, theirs, secret)
    assert reg.line_owner(LINE) == developer.address


def test_attack_a_relayer_cannot_claim_a_line_for_a_key_that_did_not_sign(chain, reg, operator, developer, stranger):
    claim, _ = signed_claim(chain, reg, developer)
    forged = bytes(Account.sign_typed_data(stranger.key, full_message=reg.claim_typed_data(claim)).signature)
    commit(chain, reg, operator, claim, forged)
    warp(chain, ENS_MIN_AGE)
    with pytest.raises(TransactionFailed, match="WrongSigner"):
        reveal(chain, reg, operator, claim, forged)
    # Nor with any secret of its own: only the claimant sends a reveal that carries no signature.
    secret = os.urandom(32)
    commit(chain, reg, operator, claim, secret)
    warp(chain, ENS_MIN_AGE)
    with pytest.raises(TransactionFailed, match="InvalidSignature"):
        reveal(chain, reg, operator, claim, secret)
    assert reg.line_owner(LINE) is None


def test_attack_a_pending_commitment_cannot_be_restarted_by_anyone(chain, reg, operator, developer, stranger):
    claim, signature = signed_claim(chain, reg, developer)
    commit(chain, reg, operator, claim, signature)
    committed = reg.commitment_time(claim.commitment(signature))
    # The commitment is public once sent: committing it again would push the reveal back.
    with pytest.raises(TransactionFailed, match="CommitmentPending"):
        commit(chain, reg, stranger, claim, signature)
    assert reg.commitment_time(claim.commitment(signature)) == committed


def test_a_reveal_needs_a_live_commitment_and_deadline(chain, reg, operator, developer):
    claim, signature = signed_claim(chain, reg, developer)
    with pytest.raises(TransactionFailed, match="CommitmentNotFound"):
        reveal(chain, reg, operator, claim, signature)
    commit(chain, reg, operator, claim, signature)
    warp(chain, DAY + 1)
    with pytest.raises(TransactionFailed, match="SignatureExpired"):
        reveal(chain, reg, operator, claim, signature)
    late = LineClaim(name_hash=claim.name_hash, claimant=developer.address, deadline=chain.now() + 3 * DAY)
    secret = os.urandom(32)
    commit(chain, reg, developer, late, secret)
    warp(chain, DAY + 1)
    with pytest.raises(TransactionFailed, match="CommitmentTooOld"):
        reveal(chain, reg, developer, late, secret)
    with pytest.raises(TransactionFailed, match="EmptyCommitment"):
        send(chain, reg, operator, reg.commit_line(operator.address, b"\0" * 32))
    assert reg.line_owner(LINE) is None


@pytest.mark.parametrize("age", [0, 3601])
def test_a_registry_takes_a_minimum_age_between_one_second_and_an_hour(chain, operator, snapshot, age):
    artifact = artifacts.load("PackageRegistry")
    data = chain.factory(artifact).constructor(operator.address, age).data_in_transaction
    with pytest.raises(TransactionFailed, match=rf"CommitmentAgeTooLong\({age}, 3600\)"):
        chain.transact(operator, {"from": operator.address, "data": data}, abi=artifact.abi)
