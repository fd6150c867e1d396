// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1155Receiver} from "@openzeppelin/contracts/token/ERC1155/IERC1155Receiver.sol";
import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";

/// @notice Test-only: an ERC-1155 receiver that refuses every batch; the inheriting contract writes the single
/// hook. `_burnGas` burns a chosen amount of gas inside it (a heavy wallet hook).
abstract contract SingleOnlyReceiver is ERC165, IERC1155Receiver {
    /// @notice Refuses batches.
    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        revert("no batches");
    }

    /// @dev Spins until at least `amount` gas is used.
    function _burnGas(uint256 amount) internal view {
        uint256 start = gasleft();
        while (start - gasleft() < amount) {}
    }
}
