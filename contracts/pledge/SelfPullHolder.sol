// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

/// @title SelfPullHolder
/// @notice An ERC-1155 holder that accepts credits only when the contract itself pulls them (its own
/// `safeTransferFrom` / `safeBatchTransferFrom` from a pledgor); any other deposit reverts with the
/// inheriting contract's custom error, raised by `_revertUnsolicited`.
/// @dev Shared by BilateralPledge and CreditFacility, which escrow pledged credits the same way.
abstract contract SelfPullHolder is ERC1155Holder {
    /// @notice Accepts credits only when this contract itself pulls them.
    function onERC1155Received(address operator, address from, uint256, uint256, bytes memory)
        public
        view
        virtual
        override
        returns (bytes4)
    {
        if (operator != address(this)) _revertUnsolicited(operator, from);
        return this.onERC1155Received.selector;
    }

    /// @notice Accepts credits only when this contract itself pulls them.
    function onERC1155BatchReceived(address operator, address from, uint256[] memory, uint256[] memory, bytes memory)
        public
        view
        virtual
        override
        returns (bytes4)
    {
        if (operator != address(this)) _revertUnsolicited(operator, from);
        return this.onERC1155BatchReceived.selector;
    }

    /// @dev Reverts with the inheriting contract's unsolicited-transfer error; must not return.
    function _revertUnsolicited(address operator, address from) internal pure virtual;
}
