"""RFC 6962-shaped Merkle trees hashed with keccak256, as contracts/Rfc6962.sol verifies them on chain."""

from __future__ import annotations

from collections.abc import Sequence

from ledger.offline.abi import keccak

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """keccak256(0x00 || data)."""
    return keccak(LEAF_PREFIX + data)


def node_hash(left: bytes, right: bytes) -> bytes:
    """keccak256(0x01 || left || right)."""
    return keccak(NODE_PREFIX + left + right)


class MerkleTree:
    """A tree over leaf data, built once: its root and every inclusion proof without rehashing.

    Built bottom-up, a level's last node without a sibling is carried up unchanged; that gives
    exactly RFC 6962's tree, where n leaves split at the largest power of two smaller than n.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.size = len(leaves)
        level = [leaf_hash(data) for data in leaves]
        self._levels = [level]
        while len(level) > 1:
            level = [
                node_hash(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)
            ]
            self._levels.append(level)

    @property
    def root(self) -> bytes:
        # RFC 6962 defines the empty tree's root as the hash of the empty string.
        return self._levels[-1][0] if self.size else keccak(b"")

    def proof(self, index: int) -> list[bytes]:
        """The audit path of leaf `index`: sibling hashes from the leaf up to the root."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} is outside a tree of {self.size}")
        path = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return path


def root(leaves: Sequence[bytes]) -> bytes:
    """The root of the tree over `leaves` (leaf data, hashed here with `leaf_hash`)."""
    return MerkleTree(leaves).root


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of `leaves[index]`; raises IndexError outside the tree."""
    return MerkleTree(leaves).proof(index)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether `proof` shows leaf data `leaf` at `index` of a `size`-leaf tree with root `root`.

    RFC 9162 section 2.1.3.2, as contracts/Rfc6962.sol runs it (there on the leaf's hash).
    """
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash(leaf)
    for sibling in proof:
        if sn == 0 or len(sibling) != 32:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(sibling, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
