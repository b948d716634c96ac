// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

interface ILicenseManagerEarnings {
    function withdraw(address token) external returns (uint256);
}

/// @title ReentrantWithdrawer
/// @notice Test-only provider contract: when paid out in ether it calls `withdraw` again from its
///         receive hook, and records whether that second call was refused and with which revert data.
contract ReentrantWithdrawer {
    address public immutable owner;
    ILicenseManagerEarnings public immutable manager;
    uint256 public received;
    uint256 public reentries;
    bool public reentryRefused;
    bytes public refusal;

    error NotOwner(address caller);

    /// @param manager_ The LicenseManager to attack.
    constructor(ILicenseManagerEarnings manager_) {
        owner = msg.sender;
        manager = manager_;
    }

    /// @notice Call the manager with `data` as this contract (to create offers as a provider).
    /// @param data ABI-encoded call.
    /// @return The call's return data; a revert is passed on.
    function forward(bytes calldata data) external returns (bytes memory) {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        (bool ok, bytes memory result) = address(manager).call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
        return result;
    }

    /// @notice Withdraw this contract's ether earnings, which triggers the re-entry.
    function attack() external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        manager.withdraw(address(0));
    }

    receive() external payable {
        received += msg.value;
        if (reentries == 0) {
            reentries = 1;
            try manager.withdraw(address(0)) {}
            catch (bytes memory reason) {
                reentryRefused = true;
                refusal = reason;
            }
        }
    }
}
