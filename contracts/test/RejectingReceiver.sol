// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";

/// @notice Test-only: an ERC-1155 receiver that refuses every transfer with a revert.
contract RejectingReceiver is ERC165, IERC1155Receiver {
    /// @notice The receiver refuses credits.
    error ReceiverRefused();

    /// @notice Always reverts.
    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external pure returns (bytes4) {
        revert ReceiverRefused();
    }

    /// @notice Always reverts.
    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        revert ReceiverRefused();
    }
}
