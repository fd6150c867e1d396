// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Jurisdiction
/// @notice The shape check of a jurisdiction code, shared by every Tonne contract that records one: ISO 3166-1
/// alpha-2 ("DE") or ISO 3166-2 ("US-CA", "GB-ENG", "FR-75"), upper case.
/// @dev A shape check only: whether the country or subdivision exists is not checked on-chain.
library Jurisdiction {
    /// @notice Whether `code` is two upper-case letters, optionally followed by '-' and 1 to 3 upper-case letters
    /// or digits. Its country is then its first two bytes.
    function isValid(bytes calldata code) internal pure returns (bool) {
        bool ok = (code.length == 2 || (code.length >= 4 && code.length <= 6 && code[2] == "-")) && _isUpper(code[0])
            && _isUpper(code[1]);
        for (uint256 i = 3; ok && i < code.length; ++i) {
            ok = _isUpper(code[i]) || (code[i] >= "0" && code[i] <= "9");
        }
        return ok;
    }

    function _isUpper(bytes1 c) private pure returns (bool) {
        return c >= "A" && c <= "Z";
    }
}
