// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {Rfc6962} from "./Rfc6962.sol";

/// @title PackageRegistry
/// @notice Anchors the SHA-256 digest of each NFV package together with its origin: the key that
///         signed it, its vendor/name line, its version and the digest of its main descriptor.
///         A developer registers by sending the transaction, or by signing EIP-712 typed data
///         that anyone relays, one at a time or as a leaf of a Merkle batch the operator anchors.
///         Records are never deleted; the line owner's current key can deprecate or revoke them.
/// @dev    Lines and keys: the first publisher of a vendor/name line owns it. An owner is named by
///         the address that claimed its first line and acts through one publishing key at a time,
///         at first that same address; `rotateKey` hands every line of the owner to a new key at
///         once. Versions of a line are ordered numbers (below 2**62) and strictly increase.
///
///         Gas: a registration writes one fresh slot, the package's packed record (publisher, version,
///         status, block). Its name hash and descriptor digest are proven by its PackageRegistered
///         event, which readers fetch at the recorded block, and the EIP-712 nonce is the line's
///         registration count, kept in the line's slot that every registration rewrites anyway.
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

    /// @notice A registered package, as `registration` returns it. Its name hash and descriptor
    ///         digest are in the PackageRegistered event emitted in block `registeredBlock`.
    struct PackageRecord {
        address publisher;
        uint64 version;
        Status status;
        uint64 registeredBlock;
        uint64 batchId;
    }

    /// @notice An anchored batch: the root of a Merkle tree of signed registrations.
    struct Batch {
        bytes32 root;
        uint64 size;
        uint64 anchoredAt;
    }

    // A package's record is one slot, packed by hand because Solidity has no 62- or 2-bit types:
    // publisher (bits 0-159) | version (160-221) | status (222-223) | block number (224-255).
    // The version keeps 62 bits, enough for ledger.registry.version_number's 61; the block number
    // 32 bits (SafeCast reverts past block 2**32).
    uint256 private constant _VERSION_SHIFT = 160;
    uint256 private constant _STATUS_SHIFT = 222;
    uint256 private constant _BLOCK_SHIFT = 224;
    uint256 private constant _VERSION_MASK = (1 << 62) - 1;
    uint64 private constant _MAX_VERSION = uint64(_VERSION_MASK);
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

    /// @notice EIP-712 type hash of `Registration`.
    bytes32 public constant REGISTRATION_TYPEHASH =
        keccak256(
            "Registration(bytes32 digest,bytes32 nameHash,uint64 version,bytes32 descriptorDigest,address publisher,uint256 nonce,uint256 deadline)"
        );

    mapping(bytes32 digest => uint256 packed) private _records;
    // Written only for packages recorded through a batch.
    mapping(bytes32 digest => uint64 batchId) private _batchOf;
    mapping(bytes32 nameHash => Line) private _lines;
    // The owner each key acts (or acted) for; set once, so a retired key can never come back.
    mapping(address key => address owner) private _ownerOfKey;
    // The owner's current key when rotated; zero means the owner's own address.
    mapping(address owner => address key) private _rotatedKey;
    mapping(uint64 batchId => Batch) private _batches;

    /// @notice Number of batches anchored; batch ids run from 1 to this.
    uint64 public batchCount;

    /// @notice A package digest was registered (batchId 0 when not through a batch).
    event PackageRegistered(
        bytes32 indexed digest,
        address indexed publisher,
        bytes32 indexed nameHash,
        uint64 version,
        bytes32 descriptorDigest,
        uint64 batchId
    );

    /// @notice The first registration in a vendor/name line made `owner` its owner.
    event LineClaimed(bytes32 indexed nameHash, address indexed owner);

    /// @notice The line owner's key changed the status of a registered package.
    event PackageStatusChanged(bytes32 indexed digest, address indexed publisher, Status status);

    /// @notice `owner`'s lines are now published with `newKey`; `oldKey` has no rights left.
    event PublishingKeyRotated(address indexed owner, address indexed oldKey, address indexed newKey);

    /// @notice The operator anchored the Merkle root of `size` signed registrations.
    event BatchAnchored(uint64 indexed batchId, bytes32 root, uint64 size);

    error ZeroDigest();
    error AlreadyRegistered(bytes32 digest);
    error NotRegistered(bytes32 digest);
    error NotLineOwner(bytes32 nameHash, address publisher, address owner);
    error NotPublisher(bytes32 digest, address caller, address publishingKey);
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
    constructor(address operator) Ownable(operator) {}

    // ---------------------------------------------------------------- registration

    /// @notice Register a package digest with the caller as its publisher.
    /// @dev    The caller must be the current key of the line's owner, or claims the line when it
    ///         is new. No signature or nonce: the transaction itself is signed by the publisher.
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

    /// @notice Mark a package as deprecated: still valid, no longer recommended.
    /// @dev    Only the current publishing key of the line's owner.
    function deprecate(bytes32 digest) external {
        _transition(digest, Status.Deprecated);
    }

    /// @notice Revoke a package: verifiers must reject it from now on. Final.
    /// @dev    Only the current publishing key of the line's owner.
    function revoke(bytes32 digest) external {
        _transition(digest, Status.Revoked);
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

    /// @notice The registration of a digest; status None (and zeros) when unknown.
    function registration(bytes32 digest) external view returns (PackageRecord memory) {
        uint256 packed = _records[digest];
        return
            PackageRecord({
                publisher: _publisher(packed),
                version: uint64((packed >> _VERSION_SHIFT) & _VERSION_MASK),
                status: _status(packed),
                registeredBlock: uint64(packed >> _BLOCK_SHIFT),
                batchId: _batchOf[digest]
            });
    }

    /// @notice A package's status (None when unknown), from one slot: what LicenseManager asks.
    function statusOf(bytes32 digest) external view returns (Status) {
        return _status(_records[digest]);
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

    /// @notice The key that may act on a registered package now: the current publishing key of
    ///         its line's owner, which is its publisher unless the owner rotated keys since.
    ///         Zero when the digest is not registered.
    function publishingKeyFor(bytes32 digest) external view returns (address) {
        address publisher = _publisher(_records[digest]);
        if (publisher == address(0)) return address(0);
        return _keyOf(_ownerOfKey[publisher]);
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
    // signed by the transaction itself) skips the check.
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
        if (_records[digest] != 0) revert AlreadyRegistered(digest);
        if (version > _MAX_VERSION) revert VersionTooLarge(version, _MAX_VERSION);
        Line memory line = _lines[nameHash];
        if (line.owner == address(0)) {
            line.owner = _claimingOwner(publisher);
            emit LineClaimed(nameHash, line.owner);
        } else if (_keyOf(line.owner) != publisher) {
            revert NotLineOwner(nameHash, publisher, line.owner);
        }
        if (version <= line.latestVersion) revert VersionNotIncreasing(nameHash, line.latestVersion, version);
        if (nonce != _NO_NONCE && nonce != line.registrations) {
            revert InvalidNonce(nameHash, line.registrations, nonce);
        }
        _lines[nameHash] = Line({owner: line.owner, latestVersion: version, registrations: line.registrations + 1});
        _records[digest] =
            uint256(uint160(publisher)) |
            (uint256(version) << _VERSION_SHIFT) |
            (uint256(uint8(Status.Active)) << _STATUS_SHIFT) |
            (uint256(SafeCast.toUint32(block.number)) << _BLOCK_SHIFT);
        if (batchId != 0) _batchOf[digest] = batchId;
        emit PackageRegistered(digest, publisher, nameHash, version, descriptorDigest, batchId);
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

    function _transition(bytes32 digest, Status to) private {
        uint256 packed = _records[digest];
        address publisher = _publisher(packed);
        if (publisher == address(0)) revert NotRegistered(digest);
        address key = _keyOf(_ownerOfKey[publisher]);
        if (msg.sender != key) revert NotPublisher(digest, msg.sender, key);
        Status from = _status(packed);
        // Active -> Deprecated -> Revoked, or Active -> Revoked; never back.
        if (uint8(to) <= uint8(from)) revert InvalidTransition(digest, from, to);
        _records[digest] = (packed & ~(uint256(3) << _STATUS_SHIFT)) | (uint256(uint8(to)) << _STATUS_SHIFT);
        emit PackageStatusChanged(digest, msg.sender, to);
    }

    function _publisher(uint256 packed) private pure returns (address) {
        return address(uint160(packed));
    }

    function _status(uint256 packed) private pure returns (Status) {
        return Status(uint8((packed >> _STATUS_SHIFT) & 3));
    }

    // Recovers the signer of `r` and requires it to be the publisher; the nonce is the line's, checked
    // in _record.
    function _checkSignature(Registration calldata r, bytes32 structHash, bytes calldata signature) private view {
        bytes32 hash = MessageHashUtils.toTypedDataHash(_domainSeparator(), structHash);
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, signature);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature();
        if (signer != r.publisher) revert WrongSigner(signer, r.publisher);
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
