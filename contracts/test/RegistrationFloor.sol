// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title RegistrationFloor
/// @notice Benchmark only, never deployed by the marketplace: the least a signed registration must do
///         under the registry's rules, to measure PackageRegistry's registration against. It recovers
///         the EIP-712 signer, keeps the line's owner, latest version and nonce (one rewritten slot:
///         versions strictly increase, nonces are the line's) and emits the record, which is the
///         registration (the same bytes may be registered in other lines). It has none of the registry's
///         line claims, key rotation, batches, statuses, deadline against a batch or custom errors, and
///         takes the signature as
///         three fixed words, the least calldata there is. Its EIP-712 domain has the registry's name
///         and version, so ledger.registry's typed data signs for it (the contract address differs).
contract RegistrationFloor {
    bytes32 private constant _REGISTRATION_TYPEHASH =
        keccak256(
            "Registration(bytes32 digest,bytes32 nameHash,uint64 version,bytes32 descriptorDigest,address publisher,uint256 nonce,uint256 deadline)"
        );
    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    /// @notice What the publisher signs: PackageRegistry's Registration, field for field.
    struct Registration {
        bytes32 digest;
        bytes32 nameHash;
        uint64 version;
        bytes32 descriptorDigest;
        address publisher;
        uint256 nonce;
        uint256 deadline;
    }

    // owner (bits 0-159) | latest version (160-223) | registrations, the next nonce (224-255)
    mapping(bytes32 nameHash => uint256 packed) private _lines;

    /// @notice A package digest was registered.
    event Registered(
        bytes32 indexed digest,
        address indexed publisher,
        bytes32 indexed nameHash,
        uint64 version,
        bytes32 descriptorDigest
    );

    /// @notice Register a package its publisher signed; anyone may relay it.
    function register(Registration calldata reg, uint8 v, bytes32 r, bytes32 s) external {
        require(block.timestamp <= reg.deadline, "expired");
        uint256 line = _lines[reg.nameHash];
        address owner = address(uint160(line));
        require(owner == address(0) || owner == reg.publisher, "not the line's owner");
        require(reg.version > uint64(line >> 160), "version not increasing");
        require(reg.nonce == line >> 224, "wrong nonce");
        bytes32 domain = keccak256(
            abi.encode(
                _DOMAIN_TYPEHASH,
                keccak256("NFV Marketplace PackageRegistry"),
                keccak256("1"),
                block.chainid,
                address(this)
            )
        );
        bytes32 structHash = keccak256(abi.encode(_REGISTRATION_TYPEHASH, reg));
        address signer = ecrecover(keccak256(abi.encodePacked(hex"1901", domain, structHash)), v, r, s);
        require(signer != address(0) && signer == reg.publisher, "bad signature");
        _lines[reg.nameHash] = uint256(uint160(reg.publisher)) | (uint256(reg.version) << 160) | ((reg.nonce + 1) << 224);
        emit Registered(reg.digest, reg.publisher, reg.nameHash, reg.version, reg.descriptorDigest);
    }
}
