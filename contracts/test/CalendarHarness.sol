// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Calendar} from "../libraries/Calendar.sol";

/// @notice Test-only: exposes the Calendar library, so that its years can be checked against Python's calendar.
contract CalendarHarness {
    /// @notice The UTC year of each timestamp.
    function yearsOf(uint256[] calldata timestamps) external pure returns (uint256[] memory yearList) {
        yearList = new uint256[](timestamps.length);
        for (uint256 i; i < timestamps.length; ++i) {
            yearList[i] = Calendar.yearOf(timestamps[i]);
        }
    }
}
