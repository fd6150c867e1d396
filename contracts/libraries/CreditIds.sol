// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title CreditIds
/// @notice Packing of ERC-1155 credit token ids and the unit convention shared by every Tonne contract.
/// @dev A token id is `projectId << 64 | batchNumber`: the project of any id is known without a storage read,
/// which keeps per-project checks on the transfer path to one lookup. `batchNumber` counts from 1 within a project.
/// Amounts are in kilograms of CO2e: 1 credit = 1 tonne = `UNITS_PER_TONNE` units.
library CreditIds {
    /// @notice Token units per tonne of CO2e (one unit is one kilogram).
    uint256 internal constant UNITS_PER_TONNE = 1000;

    /// @notice The token id of batch `batchNumber` of project `projectId`.
    function encode(uint64 projectId, uint64 batchNumber) internal pure returns (uint256) {
        return (uint256(projectId) << 64) | uint256(batchNumber);
    }

    /// @notice The project of token id `id`.
    function projectOf(uint256 id) internal pure returns (uint64) {
        return uint64(id >> 64);
    }

    /// @notice The batch number (within its project) of token id `id`.
    function batchNumberOf(uint256 id) internal pure returns (uint64) {
        return uint64(id);
    }
}
