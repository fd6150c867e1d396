// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {SingleOnlyReceiver} from "./SingleOnlyReceiver.sol";

/// @notice Test-only receiver whose hook burns `burn` gas before it accepts: under-gassed, the hook runs out of
/// gas (the token then reports ERC1155InvalidReceiver); with enough gas it accepts.
contract GasBurningReceiver is SingleOnlyReceiver {
    uint256 public burn;
    uint256 public received;

    /// @notice Sets the gas the hook burns.
    function setBurn(uint256 burn_) external {
        burn = burn_;
    }

    /// @notice Burns `burn` gas, then accepts.
    function onERC1155Received(address, address, uint256, uint256 value, bytes calldata) external returns (bytes4) {
        _burnGas(burn);
        received += value;
        return this.onERC1155Received.selector;
    }
}
