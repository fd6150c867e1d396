// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only attacker: an ERC-20 payment token whose transfers replay a call prepared in advance (e.g. a
/// second fill of the order being settled) against `target`, once per arming, recording whether it succeeded and
/// its revert data, then complete the transfer.
contract HookedPaymentToken is ERC20 {
    address public target;
    bytes public payload;
    bool public armed;
    uint256 public attempts;
    bool public lastSucceeded;
    bytes public lastRevertData;

    constructor() ERC20("Hooked USD", "hUSD") {}

    /// @notice Mints `amount` to `to` (anyone).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Prepares the call to replay on the next transfer.
    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (armed && from != address(0)) {
            armed = false;
            ++attempts;
            (bool ok, bytes memory ret) = target.call(payload);
            lastSucceeded = ok;
            lastRevertData = ret;
        }
        super._update(from, to, value);
    }
}
