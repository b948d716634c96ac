// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {Rfc6962} from "./Rfc6962.sol";

/// @title ProvenanceAnchor
/// @notice Anchors the marketplace's off-chain provenance log: the operator publishes, range
///         after range, the RFC 6962 Merkle root of the hashes of log entries `fromSeq`..`toSeq`.
///         Anyone can then check that an entry hash was in the log at its sequence number.
/// @dev    Ranges are contiguous and start at sequence number 1, so `latestSeq() == 0` means
///         nothing is anchored yet. Leaf data is the 32-byte entry hash; the entry with sequence
///         number s is leaf s - fromSeq of its range's tree.
contract ProvenanceAnchor is Ownable2Step {
    /// @notice One anchored range of the log.
    struct Anchor {
        bytes32 root;
        uint64 fromSeq;
        uint64 toSeq;
        uint64 anchoredAt;
    }

    mapping(uint64 anchorId => Anchor) private _anchors;
    uint64 private _anchorCount;
    uint64 private _latestSeq;

    /// @notice The operator anchored log entries `fromSeq`..`toSeq` (inclusive) under `root`.
    event RangeAnchored(uint64 indexed anchorId, uint64 fromSeq, uint64 toSeq, bytes32 root);

    error RangeNotContiguous(uint64 expectedFromSeq, uint64 fromSeq);
    error InvalidRange(uint64 fromSeq, uint64 toSeq);
    error ZeroRoot();
    error UnknownAnchor(uint64 anchorId);
    error SequenceNotAnchored(uint64 seq);
    error RenounceDisabled();

    /// @param operator The account that anchors; it changes only by a two-step transfer.
    constructor(address operator) Ownable(operator) {}

    /// @notice Anchor the Merkle root of log entries `fromSeq`..`toSeq` (inclusive).
    /// @dev    Only the operator. `fromSeq` must be `latestSeq() + 1` (1 for the first range).
    /// @return anchorId The new anchor's id (from 1).
    function anchor(uint64 fromSeq, uint64 toSeq, bytes32 root) external onlyOwner returns (uint64 anchorId) {
        uint64 expected = _latestSeq + 1;
        if (fromSeq != expected) revert RangeNotContiguous(expected, fromSeq);
        if (toSeq < fromSeq) revert InvalidRange(fromSeq, toSeq);
        if (root == bytes32(0)) revert ZeroRoot();
        anchorId = ++_anchorCount;
        _latestSeq = toSeq;
        _anchors[anchorId] = Anchor({root: root, fromSeq: fromSeq, toSeq: toSeq, anchoredAt: uint64(block.timestamp)});
        emit RangeAnchored(anchorId, fromSeq, toSeq, root);
    }

    /// @notice The last anchored sequence number (0 when nothing is anchored).
    function latestSeq() external view returns (uint64) {
        return _latestSeq;
    }

    /// @notice Number of anchored ranges; anchor ids run from 1 to this.
    function anchorCount() external view returns (uint64) {
        return _anchorCount;
    }

    /// @notice An anchored range by id.
    function anchorAt(uint64 anchorId) external view returns (Anchor memory) {
        if (anchorId == 0 || anchorId > _anchorCount) revert UnknownAnchor(anchorId);
        return _anchors[anchorId];
    }

    /// @notice The id of the anchored range holding sequence number `seq`.
    function anchorIdOf(uint64 seq) public view returns (uint64) {
        if (seq == 0 || seq > _latestSeq) revert SequenceNotAnchored(seq);
        // Ranges are contiguous and increasing: the first one whose toSeq reaches seq holds it.
        uint64 low = 1;
        uint64 high = _anchorCount;
        while (low < high) {
            uint64 mid = low + (high - low) / 2;
            if (_anchors[mid].toSeq < seq) low = mid + 1;
            else high = mid;
        }
        return low;
    }

    /// @notice Whether `proof` (siblings from the leaf up) shows that `entryHash` is the log entry
    ///         with sequence number `seq` in its anchored range. False when `seq` is not anchored.
    function verifyEntry(uint64 seq, bytes32 entryHash, bytes32[] calldata proof) external view returns (bool) {
        if (seq == 0 || seq > _latestSeq) return false;
        Anchor storage range = _anchors[anchorIdOf(seq)];
        uint256 size = uint256(range.toSeq) - range.fromSeq + 1;
        return Rfc6962.verify(Rfc6962.leafHash(abi.encode(entryHash)), seq - range.fromSeq, size, proof, range.root);
    }

    /// @notice Disabled: the operator changes only by a two-step transfer, never to nobody.
    function renounceOwnership() public pure override {
        revert RenounceDisabled();
    }
}
