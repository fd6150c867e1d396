// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Test-only gas floor of one trade, the sum of its parts in one transaction on plain contracts: one
/// ERC-1155 transfer seller to buyer (this contract an approved operator), the ERC-20 transfers of the payment and
/// of the fee, and one fresh storage slot (the filled amount). No signature, no check: nothing a trade can skip.
contract BaselineSettlement {
    mapping(bytes32 key => uint256) public filled;

    /// @notice Moves `units` of `id` seller to buyer, `cost - fee` buyer to seller and `fee` buyer to
    /// `feeRecipient`, and writes `filled[key] = units`.
    function settle(
        IERC1155 credits,
        IERC20 pay,
        address seller,
        address buyer,
        uint256 id,
        uint256 units,
        uint256 cost,
        uint256 fee,
        address feeRecipient,
        bytes32 key
    ) external {
        credits.safeTransferFrom(seller, buyer, id, units, "");
        pay.transferFrom(buyer, seller, cost - fee);
        if (fee != 0) pay.transferFrom(buyer, feeRecipient, fee);
        filled[key] = units;
    }
}
