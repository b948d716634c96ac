// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

import {Rfc6962} from "./Rfc6962.sol";

/// @title PackageRegistry
/// @notice Anchors the SHA-256 digest of each NFV package together with its origin: the key that
///         signed it, its vendor/name line, its version and the digest of its main descriptor.
///         A developer registers by sending the transaction, or by signing EIP-712 typed data
///         that anyone relays, one at a time or as a leaf of a Merkle batch the operator anchors.
///         Records are never deleted; the line owner's current key can deprecate or revoke them.
/// @dev    Origin: the registration that counts for a file is the one under the vendor/name line the
///         file's own main descriptor names. Anyone may register any bytes under a line of their own;
///         the same bytes under a line they do not name are nobody's origin, and they block nothing:
///         a package is keyed by (digest, line), never by digest alone.
///
///         Lines and keys: a line belongs to whoever claims it first, by commit-reveal as ENS's
///         registrar controller claims names. `commitLine` stores a hash that binds the line, the
///         claimant and a secret; `claimLine` reveals them no sooner than `minCommitmentAge` and no
///         later than a day after. Whoever sees the reveal is too late: their own commitment would be
///         newer. The secret of a relayed claim is the claimant's EIP-712 signature of the claim, so the
///         node that relays it cannot claim for anyone else. An owner is named by the address that
///         claimed its first line and acts through one publishing key at a time, at first that same
///         address; `rotateKey` hands every line of the owner to a new key at once. Versions of a line
///         are ordered numbers (below 2**62) and strictly increase.
///
///         Gas: a registration writes no slot of its own. It is kept in its PackageRegistered event
///         (readers find it by its indexed digest and line), and it rewrites the line's one slot: the
///         latest version and the EIP-712 nonce, the line's registration count. Only a deprecation or a
///         revocation writes a slot per package, its status.
///
///         The EIP-712 domain ("NFV Marketplace PackageRegistry", "1", chain id, this contract) is
///         computed on each use rather than cached in immutables as OpenZeppelin's EIP712 does:
///         immutables would make the runtime code differ per deployment, and the marketplace tells
///         whether a deployment runs the committed build by hashing its runtime code.
contract PackageRegistry is Ownable2Step, IERC5267 {
    enum Status {
        None,
        Active,
        Deprecated,
        Revoked
    }

    /// @notice What a developer signs (EIP-712 primary type "Registration").
    struct Registration {
        bytes32 digest;
        bytes32 nameHash;
        uint64 version;
        bytes32 descriptorDigest;
        address publisher;
        uint256 nonce;
        uint256 deadline;
    }

    /// @notice An anchored batch: the root of a Merkle tree of signed registrations.
    struct Batch {
        bytes32 root;
        uint64 size;
        uint64 anchoredAt;
    }

    // Versions keep 62 bits, enough for ledger.registry.version_number's 61.
    uint64 private constant _MAX_VERSION = (1 << 62) - 1;
    uint256 private constant _NO_NONCE = type(uint256).max;

    // One slot per line: its owner, latest version and the number of registrations it has had,
    // which is the nonce a signed registration for the line must carry.
    struct Line {
        address owner;
        uint64 latestVersion;
        uint32 registrations;
    }

    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant _NAME_HASH = keccak256("NFV Marketplace PackageRegistry");
    bytes32 private constant _VERSION_HASH = keccak256("1");

    /// @notice A commitment older than this can no longer be revealed (ENS's registrar: 24 hours).
    uint256 public constant MAX_COMMITMENT_AGE = 1 days;
    /// @notice Longest minimum age a deployment may set.
    uint256 public constant MAX_MIN_COMMITMENT_AGE = 1 hours;

    /// @notice EIP-712 type hash of `LineClaim`: what a claimant signs when a node relays its claim.
    bytes32 public constant LINE_CLAIM_TYPEHASH =
        keccak256("LineClaim(bytes32 nameHash,address claimant,uint256 deadline)");

    /// @notice EIP-712 type hash of `Registration`.
    bytes32 public constant REGISTRATION_TYPEHASH =
        keccak256(
            "Registration(bytes32 digest,bytes32 nameHash,uint64 version,bytes32 descriptorDigest,address publisher,uint256 nonce,uint256 deadline)"
        );

    // Written only when the line owner deprecates or revokes a package; Active (or never registered)
    // reads as None: a registration itself is its PackageRegistered event.
    mapping(bytes32 packageKey => Status) private _changed;
    mapping(bytes32 commitment => uint256 committedAt) private _commitments;
    mapping(bytes32 nameHash => Line) private _lines;
    // The owner each key acts (or acted) for; set once, so a retired key can never come back.
    mapping(address key => address owner) private _ownerOfKey;
    // The owner's current key when rotated; zero means the owner's own address.
    mapping(address owner => address key) private _rotatedKey;
    mapping(uint64 batchId => Batch) private _batches;

    /// @notice Number of batches anchored; batch ids run from 1 to this.
    uint64 public batchCount;
    /// @notice Seconds a line commitment must wait before its reveal; set once, at construction.
    uint64 public minCommitmentAge;

    /// @notice A package digest was registered in a line (batchId 0 when not through a batch).
    event PackageRegistered(
        bytes32 indexed digest,
        bytes32 indexed nameHash,
        address indexed publisher,
        uint64 version,
        bytes32 descriptorDigest,
        uint64 batchId
    );

    /// @notice `claimant` revealed its commitment for a vendor/name line, which `owner` now owns
    ///         (`claimant` itself, or the owner it is the current key of).
    event LineClaimed(bytes32 indexed nameHash, address indexed owner, address indexed claimant);

    /// @notice The line owner's key changed the status of a package in its line.
    event PackageStatusChanged(bytes32 indexed digest, bytes32 indexed nameHash, address indexed publisher, Status status);

    /// @notice `owner`'s lines are now published with `newKey`; `oldKey` has no rights left.
    event PublishingKeyRotated(address indexed owner, address indexed oldKey, address indexed newKey);

    /// @notice The operator anchored the Merkle root of `size` signed registrations.
    event BatchAnchored(uint64 indexed batchId, bytes32 root, uint64 size);

    error ZeroDigest();
    error LineNotClaimed(bytes32 nameHash);
    error LineTaken(bytes32 nameHash, address owner);
    error NotLineOwner(bytes32 nameHash, address publisher, address owner);
    error NotPublisher(bytes32 nameHash, address caller, address publishingKey);
    error EmptyCommitment();
    error CommitmentPending(bytes32 commitment, uint256 committedAt);
    error CommitmentNotFound(bytes32 commitment);
    error CommitmentTooNew(bytes32 commitment, uint256 revealableAt);
    error CommitmentTooOld(bytes32 commitment, uint256 expiredAt);
    error CommitmentAgeTooLong(uint256 given, uint256 max);
    error VersionNotIncreasing(bytes32 nameHash, uint64 latest, uint64 given);
    error VersionTooLarge(uint64 given, uint64 max);
    error InvalidNonce(bytes32 nameHash, uint256 expected, uint256 given);
    error InvalidTransition(bytes32 digest, Status from, Status to);
    error SignatureExpired(uint256 deadline, uint256 at);
    error InvalidSignature();
    error WrongSigner(address signer, address publisher);
    error NotAnOwner(address caller);
    error RetiredKey(address key, address owner, address currentKey);
    error KeyInUse(address key, address owner);
    error ZeroAddress();
    error EmptyBatch();
    error UnknownBatch(uint64 batchId);
    error InvalidInclusionProof(uint64 batchId, uint256 index);
    error RenounceDisabled();

    /// @param operator The account that anchors batches; it changes only by a two-step transfer.
    /// @param minCommitmentAge_ Seconds between a line's commitment and its reveal (ENS: 60), at least 1.
    constructor(address operator, uint64 minCommitmentAge_) Ownable(operator) {
        if (minCommitmentAge_ == 0 || minCommitmentAge_ > MAX_MIN_COMMITMENT_AGE) {
            revert CommitmentAgeTooLong(minCommitmentAge_, MAX_MIN_COMMITMENT_AGE);
        }
        minCommitmentAge = minCommitmentAge_;
    }

    // ---------------------------------------------------------------- lines

    /// @notice Commit to claiming a line: `commitment` is `lineCommitment(nameHash, claimant, deadline,
    ///         secret)`. Anyone may send it (a node relays it); it reveals nothing of the line.
    /// @dev    A pending commitment cannot be sent again, so nobody can restart its clock; an expired
    ///         one can.
    function commitLine(bytes32 commitment) external {
        if (commitment == bytes32(0)) revert EmptyCommitment();
        uint256 at = _commitments[commitment];
        if (at != 0 && block.timestamp <= at + MAX_COMMITMENT_AGE) revert CommitmentPending(commitment, at);
        _commitments[commitment] = block.timestamp;
    }

    /// @notice Reveal a commitment and claim the line for `claimant`, between `minCommitmentAge` and
    ///         `MAX_COMMITMENT_AGE` after it was committed. Sent by the claimant with any secret, or by
    ///         anyone with the claimant's EIP-712 signature of LineClaim(nameHash, claimant, deadline)
    ///         as the secret: either way nobody but the claimant decides to claim.
    /// @dev    The line goes to the owner `claimant` is the current key of, or to `claimant`, which
    ///         becomes an owner. A claimed line is never released.
    function claimLine(bytes32 nameHash, address claimant, uint256 deadline, bytes calldata secret) external {
        if (block.timestamp > deadline) revert SignatureExpired(deadline, block.timestamp);
        if (nameHash == bytes32(0)) revert ZeroDigest();
        if (msg.sender != claimant) {
            bytes32 structHash = keccak256(abi.encode(LINE_CLAIM_TYPEHASH, nameHash, claimant, deadline));
            _checkSigner(structHash, secret, claimant);
        }
        bytes32 commitment = lineCommitment(nameHash, claimant, deadline, secret);
        uint256 at = _commitments[commitment];
        if (at == 0) revert CommitmentNotFound(commitment);
        if (block.timestamp < at + minCommitmentAge) revert CommitmentTooNew(commitment, at + minCommitmentAge);
        if (block.timestamp > at + MAX_COMMITMENT_AGE) revert CommitmentTooOld(commitment, at + MAX_COMMITMENT_AGE);
        address taken = _lines[nameHash].owner;
        if (taken != address(0)) revert LineTaken(nameHash, taken);
        delete _commitments[commitment];
        address owner = _claimingOwner(claimant);
        _lines[nameHash].owner = owner;
        emit LineClaimed(nameHash, owner, claimant);
    }

    /// @notice The commitment `commitLine` takes for a claim of `nameHash` by `claimant`.
    function lineCommitment(bytes32 nameHash, address claimant, uint256 deadline, bytes calldata secret)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(nameHash, claimant, deadline, keccak256(secret)));
    }

    /// @notice When `commitment` was committed (0 when never, or once revealed).
    function commitmentTime(bytes32 commitment) external view returns (uint256) {
        return _commitments[commitment];
    }

    /// @notice The EIP-712 hash a claimant signs to have its claim of `nameHash` relayed.
    function lineClaimDigest(bytes32 nameHash, address claimant, uint256 deadline) external view returns (bytes32) {
        return
            MessageHashUtils.toTypedDataHash(
                _domainSeparator(),
                keccak256(abi.encode(LINE_CLAIM_TYPEHASH, nameHash, claimant, deadline))
            );
    }

    // ---------------------------------------------------------------- registration

    /// @notice Register a package digest with the caller as its publisher.
    /// @dev    The caller must be the current key of the line's owner; the line must be claimed.
    ///         No signature or nonce: the transaction itself is signed by the publisher.
    /// @param digest SHA-256 of the package archive.
    /// @param nameHash keccak256 of "vendor/name".
    /// @param version Ordered version number; must exceed the line's latest.
    /// @param descriptorDigest SHA-256 of the package's main descriptor.
    function register(bytes32 digest, bytes32 nameHash, uint64 version, bytes32 descriptorDigest) external {
        _record(digest, nameHash, version, descriptorDigest, msg.sender, 0, _NO_NONCE);
    }

    /// @notice Register a package a developer signed as EIP-712 typed data; anyone may relay it.
    /// @dev    The recorded publisher is the signer (`r.publisher`), never the sender. The signature
    ///         must recover to `r.publisher`, `r.nonce` must be the line's `lineNonce`, and the
    ///         block must not be later than `r.deadline`.
    /// @param r The signed registration.
    /// @param signature The publisher's 65-byte signature over the typed data.
    function registerWithSignature(Registration calldata r, bytes calldata signature) external {
        if (block.timestamp > r.deadline) revert SignatureExpired(r.deadline, block.timestamp);
        _checkSignature(r, _structHash(r), signature);
        _record(r.digest, r.nameHash, r.version, r.descriptorDigest, r.publisher, 0, r.nonce);
    }

    /// @notice Mark a package of a line as deprecated: still valid, no longer recommended.
    /// @dev    Only the current publishing key of the line's owner.
    function deprecate(bytes32 digest, bytes32 nameHash) external {
        _transition(digest, nameHash, Status.Deprecated);
    }

    /// @notice Revoke a package of a line: verifiers must reject it from now on. Final.
    /// @dev    Only the current publishing key of the line's owner.
    function revoke(bytes32 digest, bytes32 nameHash) external {
        _transition(digest, nameHash, Status.Revoked);
    }

    /// @notice Hand all of the caller's owner's lines to `newKey`; the caller loses every right.
    /// @dev    Per owner rather than per line: a key is rotated because it is lost or exposed, and
    ///         then none of its lines should stay with it; one write moves any number of lines.
    ///         `newKey` must never have been a key before (nor an owner's own address), so keys
    ///         are not shared between owners and a retired key cannot be brought back.
    /// @param newKey The owner's publishing key from now on.
    function rotateKey(address newKey) external {
        address owner = _ownerOfKey[msg.sender];
        if (owner == address(0)) revert NotAnOwner(msg.sender);
        address current = _keyOf(owner);
        if (current != msg.sender) revert RetiredKey(msg.sender, owner, current);
        if (newKey == address(0)) revert ZeroAddress();
        address taken = _ownerOfKey[newKey];
        if (taken != address(0)) revert KeyInUse(newKey, taken);
        _ownerOfKey[newKey] = owner;
        _rotatedKey[owner] = newKey;
        emit PublishingKeyRotated(owner, msg.sender, newKey);
    }

    // ---------------------------------------------------------------- batches

    /// @notice Anchor the root of an RFC 6962 Merkle tree over `size` signed registrations.
    /// @dev    Only the operator. Leaf data is abi.encode(structHash, keccak256(signature)), where
    ///         structHash is the EIP-712 hash of the Registration: a leaf commits to the signature.
    /// @param root The tree's root.
    /// @param size Number of leaves.
    /// @return batchId The new batch's id (from 1).
    function anchorBatch(bytes32 root, uint64 size) external onlyOwner returns (uint64 batchId) {
        if (root == bytes32(0) || size == 0) revert EmptyBatch();
        batchId = ++batchCount;
        _batches[batchId] = Batch({root: root, size: size, anchoredAt: uint64(block.timestamp)});
        emit BatchAnchored(batchId, root, size);
    }

    /// @notice Record a registration included in an anchored batch; anyone may submit it.
    /// @dev    Checks the inclusion proof, then the signature and nonce as `registerWithSignature`
    ///         does, and records it under the same line and version rules. The deadline is held
    ///         against the time the batch was anchored: that is when the registration reached the
    ///         ledger.
    /// @param batchId The batch the registration is in.
    /// @param r The signed registration.
    /// @param signature The publisher's signature over it.
    /// @param proof Sibling hashes from the leaf up to the root.
    /// @param index The leaf's position in the batch (from 0).
    function proveBatched(
        uint64 batchId,
        Registration calldata r,
        bytes calldata signature,
        bytes32[] calldata proof,
        uint256 index
    ) external {
        Batch storage batch_ = _batch(batchId);
        bytes32 structHash = _structHash(r);
        if (!Rfc6962.verify(_leafHash(structHash, signature), index, batch_.size, proof, batch_.root)) {
            revert InvalidInclusionProof(batchId, index);
        }
        uint64 anchoredAt = batch_.anchoredAt;
        if (anchoredAt > r.deadline) revert SignatureExpired(r.deadline, anchoredAt);
        _checkSignature(r, structHash, signature);
        _record(r.digest, r.nameHash, r.version, r.descriptorDigest, r.publisher, batchId, r.nonce);
    }

    /// @notice Whether a signed registration is at `index` in batch `batchId`; records nothing.
    /// @dev    Checks inclusion only, not the signature, nonce or line rules. False for an unknown batch.
    function verifyBatched(
        uint64 batchId,
        Registration calldata r,
        bytes calldata signature,
        bytes32[] calldata proof,
        uint256 index
    ) external view returns (bool) {
        if (batchId == 0 || batchId > batchCount) return false;
        Batch storage batch_ = _batches[batchId];
        return Rfc6962.verify(_leafHash(_structHash(r), signature), index, batch_.size, proof, batch_.root);
    }

    /// @notice The Merkle leaf hash of a signed registration in a batch.
    function batchLeaf(Registration calldata r, bytes calldata signature) external pure returns (bytes32) {
        return _leafHash(_structHash(r), signature);
    }

    /// @notice An anchored batch.
    function batch(uint64 batchId) external view returns (Batch memory) {
        return _batch(batchId);
    }

    // ---------------------------------------------------------------- queries

    /// @notice The key of a package in a line: what statuses and licence offers are keyed by.
    function packageKey(bytes32 digest, bytes32 nameHash) public pure returns (bytes32) {
        return keccak256(abi.encode(digest, nameHash));
    }

    /// @notice The status the line owner gave a package (`packageKey`): Deprecated or Revoked, or None
    ///         when it never changed one. Whether it is registered is its PackageRegistered event.
    function statusOf(bytes32 key) external view returns (Status) {
        return _changed[key];
    }

    /// @notice The nonce the next signed registration in a vendor/name line must carry: the
    ///         number of registrations the line has had.
    function lineNonce(bytes32 nameHash) external view returns (uint256) {
        return _lines[nameHash].registrations;
    }

    /// @notice Highest version registered in a vendor/name line (0 when none).
    function latestVersion(bytes32 nameHash) external view returns (uint64) {
        return _lines[nameHash].latestVersion;
    }

    /// @notice Owner of a vendor/name line (zero when unclaimed): the address that claimed it, or
    ///         claimed the owner's first line, whatever key it publishes with now.
    function lineOwner(bytes32 nameHash) external view returns (address) {
        return _lines[nameHash].owner;
    }

    /// @notice The key that may act for a line now: the current publishing key of its owner.
    ///         Zero when the line is unclaimed.
    function lineKey(bytes32 nameHash) external view returns (address) {
        address owner = _lines[nameHash].owner;
        return owner == address(0) ? address(0) : _keyOf(owner);
    }

    /// @notice The key that publishes for `owner` now; zero when `owner` owns no line.
    function publishingKey(address owner) external view returns (address) {
        if (_ownerOfKey[owner] != owner) return address(0);
        return _keyOf(owner);
    }

    /// @notice The owner a key publishes (or published, when retired) for; zero for an unused key.
    function ownerOfKey(address key) external view returns (address) {
        return _ownerOfKey[key];
    }

    /// @notice The EIP-712 hash a publisher signs for `r`.
    function registrationDigest(Registration calldata r) external view returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(_domainSeparator(), _structHash(r));
    }

    /// @notice The EIP-712 domain separator: it binds signatures to this chain and this contract.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparator();
    }

    /// @inheritdoc IERC5267
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (
            hex"0f", // name, version, chainId, verifyingContract
            "NFV Marketplace PackageRegistry",
            "1",
            block.chainid,
            address(this),
            bytes32(0),
            new uint256[](0)
        );
    }

    /// @notice Disabled: the operator changes only by a two-step transfer, never to nobody.
    function renounceOwnership() public pure override {
        revert RenounceDisabled();
    }

    // ---------------------------------------------------------------- internals

    // `nonce` is checked against the line's registration count; _NO_NONCE (a direct registration,
    // signed by the transaction itself) skips the check. Writes only the line's slot.
    function _record(
        bytes32 digest,
        bytes32 nameHash,
        uint64 version,
        bytes32 descriptorDigest,
        address publisher,
        uint64 batchId,
        uint256 nonce
    ) private {
        if (digest == bytes32(0) || nameHash == bytes32(0)) revert ZeroDigest();
        if (version > _MAX_VERSION) revert VersionTooLarge(version, _MAX_VERSION);
        Line memory line = _lines[nameHash];
        if (line.owner == address(0)) revert LineNotClaimed(nameHash);
        if (_keyOf(line.owner) != publisher) revert NotLineOwner(nameHash, publisher, line.owner);
        if (version <= line.latestVersion) revert VersionNotIncreasing(nameHash, line.latestVersion, version);
        if (nonce != _NO_NONCE && nonce != line.registrations) {
            revert InvalidNonce(nameHash, line.registrations, nonce);
        }
        _lines[nameHash] = Line({owner: line.owner, latestVersion: version, registrations: line.registrations + 1});
        emit PackageRegistered(digest, nameHash, publisher, version, descriptorDigest, batchId);
    }

    // The owner a new line goes to when `key` claims it: the owner `key` publishes for, or `key`
    // itself on its first line, which makes it an owner.
    function _claimingOwner(address key) private returns (address owner) {
        owner = _ownerOfKey[key];
        if (owner == address(0)) {
            _ownerOfKey[key] = key;
            return key;
        }
        address current = _keyOf(owner);
        if (current != key) revert RetiredKey(key, owner, current);
    }

    function _keyOf(address owner) private view returns (address) {
        address key = _rotatedKey[owner];
        return key == address(0) ? owner : key;
    }

    function _transition(bytes32 digest, bytes32 nameHash, Status to) private {
        address owner = _lines[nameHash].owner;
        if (owner == address(0)) revert LineNotClaimed(nameHash);
        address key = _keyOf(owner);
        if (msg.sender != key) revert NotPublisher(nameHash, msg.sender, key);
        bytes32 packageKey_ = packageKey(digest, nameHash);
        Status from = _changed[packageKey_];
        if (from == Status.None) from = Status.Active;
        // Active -> Deprecated -> Revoked, or Active -> Revoked; never back.
        if (uint8(to) <= uint8(from)) revert InvalidTransition(digest, from, to);
        _changed[packageKey_] = to;
        emit PackageStatusChanged(digest, nameHash, msg.sender, to);
    }

    // Recovers the signer of `r` and requires it to be the publisher; the nonce is the line's, checked
    // in _record.
    function _checkSignature(Registration calldata r, bytes32 structHash, bytes calldata signature) private view {
        _checkSigner(structHash, signature, r.publisher);
    }

    function _checkSigner(bytes32 structHash, bytes calldata signature, address expected) private view {
        bytes32 hash = MessageHashUtils.toTypedDataHash(_domainSeparator(), structHash);
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, signature);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature();
        if (signer != expected) revert WrongSigner(signer, expected);
    }

    function _batch(uint64 batchId) private view returns (Batch storage) {
        if (batchId == 0 || batchId > batchCount) revert UnknownBatch(batchId);
        return _batches[batchId];
    }

    function _domainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(_DOMAIN_TYPEHASH, _NAME_HASH, _VERSION_HASH, block.chainid, address(this)));
    }

    function _structHash(Registration calldata r) private pure returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    REGISTRATION_TYPEHASH,
                    r.digest,
                    r.nameHash,
                    r.version,
                    r.descriptorDigest,
                    r.publisher,
                    r.nonce,
                    r.deadline
                )
            );
    }

    function _leafHash(bytes32 structHash, bytes calldata signature) private pure returns (bytes32) {
        return Rfc6962.leafHash(abi.encode(structHash, keccak256(signature)));
    }
}
