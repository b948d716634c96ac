// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title PackageRegistry
/// @notice Anchors the SHA-256 digest of each NFV package together with its origin: who
///         published it, under which vendor/name line, at which version, and the digest of its
///         main descriptor. Records are never deleted; only their publisher can change their
///         status (deprecated, revoked).
/// @dev    The first address to register a vendor/name line owns it. Versions of a line are
///         encoded by the marketplace into an ordered uint64 and must strictly increase.
contract PackageRegistry {
    enum Status {
        None,
        Active,
        Deprecated,
        Revoked
    }

    struct Registration {
        address publisher;
        uint64 version;
        uint64 registeredAt;
        Status status;
        bytes32 nameHash;
        bytes32 descriptorDigest;
    }

    mapping(bytes32 digest => Registration) private _registrations;

    /// @notice Owner of each vendor/name line (keccak256 of "vendor/name").
    mapping(bytes32 nameHash => address) public lineOwner;

    /// @notice Highest version registered in each vendor/name line.
    mapping(bytes32 nameHash => uint64) public latestVersion;

    /// @notice A package digest was anchored.
    event PackageRegistered(
        bytes32 indexed digest,
        address indexed publisher,
        bytes32 indexed nameHash,
        uint64 version,
        bytes32 descriptorDigest
    );

    /// @notice The publisher changed the status of a registered package.
    event PackageStatusChanged(bytes32 indexed digest, address indexed publisher, Status status);

    error ZeroDigest();
    error AlreadyRegistered(bytes32 digest);
    error NotRegistered(bytes32 digest);
    error NotLineOwner(bytes32 nameHash, address caller, address owner);
    error NotPublisher(bytes32 digest, address caller, address publisher);
    error VersionNotIncreasing(bytes32 nameHash, uint64 latest, uint64 given);
    error InvalidTransition(bytes32 digest, Status from, Status to);

    /// @notice Anchor a package digest; the caller becomes its publisher.
    /// @param digest SHA-256 of the package archive.
    /// @param nameHash keccak256 of "vendor/name".
    /// @param version Ordered version number; must exceed the line's latest.
    /// @param descriptorDigest SHA-256 of the package's main descriptor.
    function register(bytes32 digest, bytes32 nameHash, uint64 version, bytes32 descriptorDigest) external {
        if (digest == bytes32(0) || nameHash == bytes32(0)) revert ZeroDigest();
        if (_registrations[digest].status != Status.None) revert AlreadyRegistered(digest);
        address owner = lineOwner[nameHash];
        if (owner == address(0)) {
            lineOwner[nameHash] = msg.sender;
        } else if (owner != msg.sender) {
            revert NotLineOwner(nameHash, msg.sender, owner);
        }
        uint64 latest = latestVersion[nameHash];
        if (version <= latest) revert VersionNotIncreasing(nameHash, latest, version);
        latestVersion[nameHash] = version;
        _registrations[digest] = Registration({
            publisher: msg.sender,
            version: version,
            registeredAt: uint64(block.timestamp),
            status: Status.Active,
            nameHash: nameHash,
            descriptorDigest: descriptorDigest
        });
        emit PackageRegistered(digest, msg.sender, nameHash, version, descriptorDigest);
    }

    /// @notice Mark a package as deprecated: still valid, no longer recommended.
    function deprecate(bytes32 digest) external {
        _transition(digest, Status.Deprecated);
    }

    /// @notice Revoke a package: verifiers must reject it from now on. Final.
    function revoke(bytes32 digest) external {
        _transition(digest, Status.Revoked);
    }

    /// @notice The registration of a digest; status None when unknown.
    function registration(bytes32 digest) external view returns (Registration memory) {
        return _registrations[digest];
    }

    function _transition(bytes32 digest, Status to) private {
        Registration storage record = _registrations[digest];
        if (record.status == Status.None) revert NotRegistered(digest);
        if (record.publisher != msg.sender) revert NotPublisher(digest, msg.sender, record.publisher);
        // Active -> Deprecated -> Revoked, or Active -> Revoked; never back.
        if (uint8(to) <= uint8(record.status)) revert InvalidTransition(digest, record.status, to);
        record.status = to;
        emit PackageStatusChanged(digest, msg.sender, to);
    }
}
