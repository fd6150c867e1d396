// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ICarbonRegistry} from "../interfaces/ICarbonRegistry.sol";
import {Calendar} from "./Calendar.sol";

/// @title CreditCriteria
/// @notice The vintage of a credit id and the vintage-range test, shared by the compliance periods and the market.
/// @dev A batch's vintage years are the UTC calendar years of its monitoring period's start and end. A range
/// [from, to] (0: unbounded on that side) holds a batch only if its monitoring period lies wholly within it.
library CreditCriteria {
    /// @notice The vintage years of id `id`: the calendar years of its batch's monitoring period start and end.
    function vintageOf(ICarbonRegistry registry, uint256 id) internal view returns (uint16 firstYear, uint16 lastYear) {
        (uint40 start, uint40 end) = registry.batchPeriod(id);
        // Cannot truncate: a uint40 timestamp falls in a year below 2^16.
        firstYear = uint16(Calendar.yearOf(start));
        lastYear = uint16(Calendar.yearOf(end));
    }

    /// @notice Whether vintage years [`firstYear`, `lastYear`] lie within [`from`, `to`] (0: unbounded).
    function vintageWithin(uint16 firstYear, uint16 lastYear, uint16 from, uint16 to) internal pure returns (bool) {
        return (from == 0 || firstYear >= from) && (to == 0 || lastYear <= to);
    }
}
