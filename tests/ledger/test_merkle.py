"""ledger.offline.merkle builds RFC 6962's trees (keccak256, 0x00/0x01 prefixes) and checks their proofs."""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak

from ledger.offline import merkle


def rfc_leaf(data: bytes) -> bytes:
    return keccak(b"\x00" + data)


def rfc_node(left: bytes, right: bytes) -> bytes:
    return keccak(b"\x01" + left + right)


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(entries: list[bytes]) -> bytes:
    """RFC 6962 section 2.1: MTH(D[n]), written from the definition."""
    if not entries:
        return keccak(b"")
    if len(entries) == 1:
        return rfc_leaf(entries[0])
    k = split(len(entries))
    return rfc_node(mth(entries[:k]), mth(entries[k:]))


def path(m: int, entries: list[bytes]) -> list[bytes]:
    """RFC 6962 section 2.1.1: PATH(m, D[n]), written from the definition."""
    if len(entries) == 1:
        return []
    k = split(len(entries))
    if m < k:
        return [*path(m, entries[:k]), mth(entries[k:])]
    return [*path(m - k, entries[k:]), mth(entries[:k])]


def entries(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


SIZES = range(1, 10)
CASES = [(n, m) for n in SIZES for m in range(n)]


def test_leaves_and_nodes_are_domain_separated():
    assert merkle.leaf_hash(b"x") == keccak(b"\x00x")
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == keccak(b"\x01" + b"a" * 32 + b"b" * 32)
    # A leaf whose data is two hashes is not the node over them.
    assert merkle.leaf_hash(b"a" * 32 + b"b" * 32) != merkle.node_hash(b"a" * 32, b"b" * 32)


@pytest.mark.parametrize("n", SIZES)
def test_the_root_is_rfc_6962s(n):
    assert merkle.root(entries(n)) == mth(entries(n))


def test_small_trees_have_the_rfc_shape():
    a, b, c, d, e = (rfc_leaf(x) for x in entries(5))
    assert merkle.root(entries(1)) == a
    assert merkle.root(entries(2)) == rfc_node(a, b)
    assert merkle.root(entries(3)) == rfc_node(rfc_node(a, b), c)
    # Five leaves split 4 + 1: the fifth leaf hangs directly under the root.
    assert merkle.root(entries(5)) == rfc_node(rfc_node(rfc_node(a, b), rfc_node(c, d)), e)
    assert merkle.inclusion_proof(entries(5), 4) == [rfc_node(rfc_node(a, b), rfc_node(c, d))]
    assert merkle.inclusion_proof(entries(5), 2) == [d, rfc_node(a, b), e]


def test_the_empty_tree_has_the_hash_of_nothing_as_root():
    assert merkle.root([]) == keccak(b"")


@pytest.mark.parametrize(("n", "m"), CASES)
def test_each_proof_is_rfc_6962s_audit_path_and_verifies(n, m):
    leaves = entries(n)
    proof = merkle.inclusion_proof(leaves, m)
    assert proof == path(m, leaves)
    assert merkle.verify_inclusion(leaves[m], m, n, proof, mth(leaves))


@pytest.mark.parametrize(("n", "m"), CASES)
def test_a_proof_fails_for_anything_else(n, m):
    leaves = entries(n)
    proof = merkle.inclusion_proof(leaves, m)
    root = merkle.root(leaves)
    assert not merkle.verify_inclusion(b"another entry", m, n, proof, root)
    assert not merkle.verify_inclusion(leaves[m], m, n, proof, keccak(b"another root"))
    assert not merkle.verify_inclusion(leaves[m], n, n, proof, root)
    assert not merkle.verify_inclusion(leaves[m], -1, n, proof, root)
    assert not merkle.verify_inclusion(leaves[m], m, n, [*proof, b"\0" * 32], root)
    if proof:
        assert not merkle.verify_inclusion(leaves[m], m, n, proof[:-1], root)
        assert not merkle.verify_inclusion(leaves[m], m, n, [b"\0" * 32, *proof[1:]], root)
        assert not merkle.verify_inclusion(leaves[m], m, n, [proof[0][:31], *proof[1:]], root)
    for other in range(n):
        if other != m:
            assert not merkle.verify_inclusion(leaves[m], other, n, proof, root)


def test_a_tree_answers_every_proof_of_a_large_batch():
    leaves = entries(1000)
    tree = merkle.MerkleTree(leaves)
    assert tree.root == mth(leaves)
    for m in (0, 511, 512, 767, 999):
        assert tree.proof(m) == path(m, leaves)


@pytest.mark.parametrize("index", [-1, 3])
def test_a_proof_outside_the_tree_is_refused(index):
    with pytest.raises(IndexError):
        merkle.inclusion_proof(entries(3), index)
