// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title ContractWallet
/// @notice Test-only ERC-1271 smart-contract wallet: its owner approves digests, and the wallet
///         answers `isValidSignature` for exactly those, whatever signature bytes come with them.
contract ContractWallet {
    bytes4 private constant _MAGIC = 0x1626ba7e; // IERC1271.isValidSignature.selector

    address public immutable owner;
    mapping(bytes32 hash => bool) public approved;

    error NotOwner(address caller);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Approve `hash` as signed by this wallet.
    function approve(bytes32 hash) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        approved[hash] = true;
    }

    /// @notice ERC-1271: the magic value for approved digests, zero otherwise.
    function isValidSignature(bytes32 hash, bytes calldata) external view returns (bytes4) {
        return approved[hash] ? _MAGIC : bytes4(0);
    }
}
