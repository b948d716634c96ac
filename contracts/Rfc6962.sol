// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Rfc6962
/// @notice Merkle trees shaped as in RFC 6962 (Certificate Transparency), hashed with keccak256:
///         leaf = keccak256(0x00 || data), node = keccak256(0x01 || left || right), and a tree of
///         n > 1 leaves splits at k, the largest power of two smaller than n. ledger/merkle.py
///         builds the same trees off chain.
/// @dev    The 0x00/0x01 prefixes keep a leaf from being passed off as an inner node (a second
///         preimage), and the split rule fixes one tree per leaf count, so a proof carries no
///         direction bits: the index and the tree size decide them.
library Rfc6962 {
    /// @notice keccak256(0x00 || data).
    function leafHash(bytes memory data) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), data));
    }

    /// @notice keccak256(0x01 || left || right).
    function nodeHash(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x01), left, right));
    }

    /// @notice Whether `proof` (siblings from the leaf up) shows that `leaf` (a leaf hash) is at
    ///         `index` in a tree of `size` leaves whose root is `root`.
    /// @dev    The verification algorithm of RFC 9162 section 2.1.3.2.
    function verify(
        bytes32 leaf,
        uint256 index,
        uint256 size,
        bytes32[] calldata proof,
        bytes32 root
    ) internal pure returns (bool) {
        if (index >= size) return false;
        uint256 fn = index;
        uint256 sn = size - 1;
        bytes32 r = leaf;
        for (uint256 i = 0; i < proof.length; ++i) {
            if (sn == 0) return false;
            if (fn & 1 == 1 || fn == sn) {
                r = nodeHash(proof[i], r);
                // On the right edge of an unbalanced tree the node is promoted unchanged through
                // the levels where it has no right sibling.
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = nodeHash(r, proof[i]);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r == root;
    }
}
