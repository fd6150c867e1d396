// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";

/// @notice Test-only receiver whose hook burns `burn` gas before it accepts: under-gassed, the hook runs out of
/// gas (the token then reports ERC1155InvalidReceiver); with enough gas it accepts.
contract GasBurningReceiver is ERC165, IERC1155Receiver {
    uint256 public burn;
    uint256 public received;

    /// @notice Sets the gas the hook burns.
    function setBurn(uint256 burn_) external {
        burn = burn_;
    }

    /// @notice Burns `burn` gas, then accepts.
    function onERC1155Received(address, address, uint256, uint256 value, bytes calldata) external returns (bytes4) {
        uint256 start = gasleft();
        while (start - gasleft() < burn) {}
        received += value;
        return this.onERC1155Received.selector;
    }

    /// @notice Refuses batches.
    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        revert("no batches");
    }

}
