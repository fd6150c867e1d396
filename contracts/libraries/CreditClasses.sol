// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title CreditClasses
/// @notice Price-class ids of the credit price oracle.
/// @dev A batch's token id (`projectId << 64 | batchNumber`, below 2^128) is its own class. Defined classes set
/// bit 255, so they never collide with a token id: a project/vintage class is
/// `1 << 255 | projectId << 64 | vintageYear`.
library CreditClasses {
    /// @notice The flag bit of classes that are not a single batch.
    uint256 internal constant DEFINED_CLASS_FLAG = 1 << 255;

    /// @notice The class of every batch of project `projectId` whose vintage is `vintageYear`.
    function vintageClass(uint64 projectId, uint16 vintageYear) internal pure returns (uint256) {
        return DEFINED_CLASS_FLAG | (uint256(projectId) << 64) | uint256(vintageYear);
    }
}
