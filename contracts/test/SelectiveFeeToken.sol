// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only payment token of the outside market audit: the fee-on-transfer kinds that a check of the
/// recipient's balance alone does not see, and one it does.
/// - `RecipientFee`: burns 1 % of a transfer unless its recipient is `exempt` (real fee tokens keep such lists:
///   a seller exempt from the fee sees its full proceeds; the fee recipient, not exempt, receives 1 % less);
/// - `SenderSurcharge`: the recipient receives the full amount, and 1 % more is burned from the sender's balance
///   (the payer pays more than it was asked);
/// - `RecipientBonus`: the recipient receives 1 % more than sent, minted (a token that pays more).
contract SelectiveFeeToken is ERC20 {
    enum Mode {
        None,
        RecipientFee,
        SenderSurcharge,
        RecipientBonus
    }

    Mode public mode;
    mapping(address account => bool) public exempt;

    constructor() ERC20("Selective Fee USD", "sfUSD") {}

    /// @notice Mints `amount` to `to` (anyone).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Sets how transfers between two accounts behave.
    function setMode(Mode mode_) external {
        mode = mode_;
    }

    /// @notice Exempts `account` (as a recipient) from the `RecipientFee`, or not.
    function setExempt(address account, bool on) external {
        exempt[account] = on;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0) || mode == Mode.None) {
            super._update(from, to, value);
            return;
        }
        uint256 onePercent = value / 100;
        if (mode == Mode.RecipientFee && !exempt[to]) {
            super._update(from, address(0), onePercent);
            super._update(from, to, value - onePercent);
        } else if (mode == Mode.SenderSurcharge) {
            super._update(from, address(0), onePercent);
            super._update(from, to, value);
        } else if (mode == Mode.RecipientBonus) {
            super._update(from, to, value);
            super._update(address(0), to, onePercent);
        } else {
            super._update(from, to, value);
        }
    }
}
