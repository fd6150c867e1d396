// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only loan currency: a plain OpenZeppelin ERC-20 with 6 decimals, like USDC, that anyone may mint
/// (a faucet for local chains and testnets). Never a real asset.
contract TestStablecoin is ERC20 {
    constructor() ERC20("Tonne Test USD", "tUSD") {}

    /// @notice 6 decimals, as USDC.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` to `to` (anyone: a test faucet).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
