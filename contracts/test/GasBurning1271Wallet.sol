// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

import {TestAccount} from "./TestAccount.sol";

/// @notice Test-only contract maker of the outside market audit: an EIP-1271 wallet that approves every hash,
/// after burning `burn` gas in `isValidSignature` (a heavy or hostile wallet; its takers pay that gas).
contract GasBurning1271Wallet is IERC1271, ERC1155Holder, TestAccount {
    uint256 public burn;

    /// @notice Sets the gas `isValidSignature` burns before it approves.
    function setBurn(uint256 burn_) external {
        burn = burn_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32, bytes calldata) external view returns (bytes4) {
        uint256 start = gasleft();
        uint256 amount = burn;
        while (start - gasleft() < amount) {}
        return IERC1271.isValidSignature.selector;
    }
}
