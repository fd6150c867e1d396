// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Calendar
/// @notice The UTC calendar year of a unix timestamp, for vintage checks.
library Calendar {
    /// @notice The proleptic Gregorian year (UTC) in which unix second `timestamp` falls.
    /// @dev Howard Hinnant's days-to-civil algorithm (public domain), shifted so the year starts on 1 March and
    /// leap days fall at its end; only the year is kept. 20-odd arithmetic operations, no loop, no table.
    function yearOf(uint256 timestamp) internal pure returns (uint256 year) {
        // Cannot overflow: a uint40 timestamp (the widest Tonne stores) is far below any bound used here, and every
        // subtraction takes away a part of what it is subtracted from.
        unchecked {
            uint256 z = timestamp / 86_400 + 719_468; // days since 0000-03-01
            uint256 era = z / 146_097; // 400-year eras
            uint256 doe = z - era * 146_097; // day of era, 0..146096
            uint256 yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..399
            uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year, 0..365
            uint256 mp = (5 * doy + 2) / 153; // month, March = 0
            year = yoe + era * 400 + (mp >= 10 ? 1 : 0); // January and February belong to the next civil year
        }
    }
}
