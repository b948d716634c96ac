// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestToken
/// @notice Test-only ERC-20 to pay licences in. Mints its whole supply to `holder`; with a non-zero
///         `feeBasisPoints` it burns that share of every transfer, like fee-charging tokens do.
contract TestToken is ERC20 {
    uint16 public immutable feeBasisPoints;

    /// @param holder Receives the whole supply.
    /// @param supply Number of token units minted.
    /// @param feeBasisPoints_ Share of each transfer burnt, in 1/10000.
    constructor(address holder, uint256 supply, uint16 feeBasisPoints_) ERC20("Test Token", "TEST") {
        feeBasisPoints = feeBasisPoints_;
        _mint(holder, supply);
    }

    function _update(address from, address to, uint256 value) internal override {
        uint256 fee = from == address(0) || to == address(0) ? 0 : (value * feeBasisPoints) / 10_000;
        if (fee != 0) super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}
