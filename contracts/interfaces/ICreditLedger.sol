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
    /// @notice A list of ids (or holders) and its list of amounts differ in length, or name nothing.
    error CreditInvalidLists(uint256 ids, uint256 amounts);
    /// @notice A reversal of `reversal` units cannot be smaller than the `cancelled` units it cancels.
    error CreditReversalBelowCancelled(uint256 reversal, uint256 cancelled);
    /// @notice A cancellation must say why.
    error CreditEmptyReason();

    /// @notice A verified batch may now be issued, up to `capUnits` units.
    event BatchOpened(uint256 indexed id, uint256 capUnits);
    /// @notice Credits of project `projectId` were restricted (or released): no issuance, transfer or retirement.
    event ProjectRestrictionSet(uint64 indexed projectId, bool restricted);

    /// @notice The registrar cancelled `amount` units of `id` held by `holder` (a reversal or invalidation).
    event CreditsCancelled(uint256 indexed id, address indexed holder, uint256 amount);
    /// @notice A reversal of `reversal` units of `id` was booked: `cancelled` units were cancelled from holders,
    /// and the rest, `shortfall`, could not be recovered on-chain (already retired, or not enough in circulation).
    event ReversalRecorded(uint256 indexed id, uint256 reversal, uint256 cancelled, uint256 shortfall, string reason);

    /// @notice Opens batch `id` for issuance, capped at `capUnits`. Only the registry, on verification.
    function openBatch(uint256 id, uint256 capUnits) external;

    /// @notice Restricts or releases every id of project `projectId`. Only the registry, on status changes.
    function setProjectRestricted(uint64 projectId, bool restricted) external;

    /// @notice Cancels credits for a reversal or an invalidation, whatever the holders' status (frozen, paused
    /// token, restricted project), and books the part of `reversal` that could not be cancelled as shortfall.
    /// Only the registry, for its REGISTRAR. No certificate is issued.
    function cancel(
        uint256 id,
        address[] calldata holders,
        uint256[] calldata amounts,
        uint256 reversal,
        string calldata reason
    ) external;
}
