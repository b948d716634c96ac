"""ProvenanceAnchor on a real anvil node: contiguous ranges anchored by the operator only, and entry
proofs that the contract and ledger.offline.merkle judge alike for trees of 1 to 9 entries."""

from __future__ import annotations

import hashlib

import pytest

from ledger.client import ChainClient
from ledger.exceptions import TransactionFailed
from ledger.offline import merkle
from ledger.provenance_anchor import FIRST_SEQ, ProvenanceAnchor


def entry_hash(seq: int) -> bytes:
    return hashlib.sha256(f"provenance entry {seq}".encode()).digest()


@pytest.fixture
def anchors(snapshot, deployed, chain: ChainClient) -> ProvenanceAnchor:
    return ProvenanceAnchor(chain, deployed["ProvenanceAnchor"])


def anchor(chain, anchors, account, from_seq, to_seq, root=None):
    leaves = [entry_hash(s) for s in range(from_seq, to_seq + 1)]
    root = merkle.root(leaves) if root is None else root
    return chain.transact(account, anchors.anchor(account.address, from_seq, to_seq, root), abi=anchors.abi)


def test_nothing_is_anchored_at_first(anchors):
    assert anchors.latest_seq() == 0
    assert anchors.anchor_count() == 0
    assert anchors.anchor_at(1) is None
    assert anchors.anchor_of(1) is None
    assert not anchors.verify_entry(1, entry_hash(1), [])


def test_the_operator_anchors_contiguous_ranges_from_one(chain, anchors, operator):
    receipt = anchor(chain, anchors, operator, FIRST_SEQ, 4)
    (event,) = anchors.events(receipt, "RangeAnchored")
    assert (event["anchorId"], event["fromSeq"], event["toSeq"]) == (1, 1, 4)
    anchor(chain, anchors, operator, 5, 5)
    anchor(chain, anchors, operator, 6, 12)

    assert anchors.latest_seq() == 12
    assert anchors.anchor_count() == 3
    third = anchors.anchor_at(3)
    assert third is not None
    assert (third.from_seq, third.to_seq, third.size) == (6, 12, 7)
    assert third.root == "0x" + merkle.root([entry_hash(s) for s in range(6, 13)]).hex()
    assert [anchors.anchor_of(s).anchor_id for s in (1, 4, 5, 6, 12)] == [1, 1, 2, 3, 3]
    assert anchors.anchor_of(13) is None


@pytest.mark.parametrize(
    ("from_seq", "to_seq", "error"),
    [
        (0, 3, r"RangeNotContiguous\(1, 0\)"),  # the log starts at 1
        (2, 3, r"RangeNotContiguous\(1, 2\)"),  # a gap
        (1, 0, r"InvalidRange\(1, 0\)"),
    ],
)
def test_the_first_range_starts_at_one(chain, anchors, operator, from_seq, to_seq, error):
    with pytest.raises(TransactionFailed, match=error):
        anchor(chain, anchors, operator, from_seq, to_seq, root=b"\x01" * 32)


def test_later_ranges_continue_where_the_last_ended(chain, anchors, operator):
    anchor(chain, anchors, operator, 1, 4)
    for from_seq, to_seq in ((4, 6), (1, 9), (6, 9), (3, 3)):
        with pytest.raises(TransactionFailed, match=r"RangeNotContiguous\(5, "):
            anchor(chain, anchors, operator, from_seq, to_seq, root=b"\x01" * 32)
    with pytest.raises(TransactionFailed, match="ZeroRoot"):
        anchor(chain, anchors, operator, 5, 6, root=b"\0" * 32)
    anchor(chain, anchors, operator, 5, 6)
    assert anchors.latest_seq() == 6


def test_only_the_operator_anchors(chain, anchors, developer, stranger):
    for outsider in (developer, stranger):
        with pytest.raises(TransactionFailed, match="OwnableUnauthorizedAccount"):
            anchor(chain, anchors, outsider, 1, 2)
    assert anchors.latest_seq() == 0


def test_the_operator_changes_only_by_a_two_step_transfer(chain, anchors, operator, stranger, developer):
    contract = anchors.contract
    with pytest.raises(TransactionFailed, match="OwnableUnauthorizedAccount"):
        chain.send(stranger, contract.functions.transferOwnership(stranger.address))
    with pytest.raises(TransactionFailed, match="RenounceDisabled"):
        chain.send(operator, contract.functions.renounceOwnership())
    chain.send(operator, contract.functions.transferOwnership(stranger.address))
    with pytest.raises(TransactionFailed, match="OwnableUnauthorizedAccount"):
        anchor(chain, anchors, stranger, 1, 2)
    with pytest.raises(TransactionFailed, match="OwnableUnauthorizedAccount"):
        chain.send(developer, contract.functions.acceptOwnership())
    chain.send(stranger, contract.functions.acceptOwnership())

    anchor(chain, anchors, stranger, 1, 2)
    with pytest.raises(TransactionFailed, match="OwnableUnauthorizedAccount"):
        anchor(chain, anchors, operator, 3, 4)


def test_the_contract_and_python_agree_on_every_proof_of_trees_of_one_to_nine(chain, anchors, operator):
    # Ranges of 1, 2, ..., 9 entries, one after the other: seq 1 | 2-3 | 4-6 | ... | 37-45.
    ranges = []
    seq = FIRST_SEQ
    for size in range(1, 10):
        anchor(chain, anchors, operator, seq, seq + size - 1)
        ranges.append((seq, size))
        seq += size

    for from_seq, size in ranges:
        leaves = [entry_hash(s) for s in range(from_seq, from_seq + size)]
        tree = merkle.MerkleTree(leaves)
        for index, leaf in enumerate(leaves):
            seq = from_seq + index
            proof = tree.proof(index)
            assert merkle.verify_inclusion(leaf, index, size, proof, tree.root)
            assert anchors.verify_entry(seq, leaf, proof), (size, index)
            # Both refuse another entry hash, and the proof of a neighbour.
            assert not merkle.verify_inclusion(entry_hash(0), index, size, proof, tree.root)
            assert not anchors.verify_entry(seq, entry_hash(0), proof)
            if size > 1:
                other = (index + 1) % size
                python = merkle.verify_inclusion(leaf, index, size, tree.proof(other), tree.root)
                assert anchors.verify_entry(seq, leaf, tree.proof(other)) == python
                assert not python
            if proof:
                assert not anchors.verify_entry(seq, leaf, proof[:-1])
                assert not anchors.verify_entry(seq, leaf, [*proof, b"\0" * 32])
    assert not anchors.verify_entry(46, entry_hash(46), [])
    assert not anchors.verify_entry(0, entry_hash(0), [])
