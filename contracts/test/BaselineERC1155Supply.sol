// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Supply} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Supply.sol";

/// @notice Test-only: OpenZeppelin ERC1155Supply with an open mint, the gas baseline for issuance.
contract BaselineERC1155Supply is ERC1155Supply {
    constructor() ERC1155("") {}

    /// @notice Mints `amount` of `id` to `to`; anyone may call (baseline only).
    function mint(address to, uint256 id, uint256 amount) external {
        _mint(to, id, amount, "");
    }
}
