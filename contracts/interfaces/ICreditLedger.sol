// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ICreditLedger
/// @notice The part of the credit token that only its registry may call: the registry pushes the two facts
/// that the token must know without calling back on every transfer.
interface ICreditLedger {
    /// @notice `caller` is not the registry this token was deployed with.
    error CreditCallerNotRegistry(address caller);
    /// @notice The batch was already opened.
    error CreditBatchAlreadyOpen(uint256 id);

    /// @notice A verified batch may now be issued, up to `capUnits` units.
    event BatchOpened(uint256 indexed id, uint256 capUnits);
    /// @notice Credits of project `projectId` were restricted (or released): no issuance, transfer or retirement.
    event ProjectRestrictionSet(uint64 indexed projectId, bool restricted);

    /// @notice Opens batch `id` for issuance, capped at `capUnits`. Only the registry, on verification.
    function openBatch(uint256 id, uint256 capUnits) external;

    /// @notice Restricts or releases every id of project `projectId`. Only the registry, on status changes.
    function setProjectRestricted(uint64 projectId, bool restricted) external;
}
