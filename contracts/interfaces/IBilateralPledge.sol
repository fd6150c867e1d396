// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IBilateralPledge
/// @notice A pledge of carbon credits in favour of a named pledgee, typically a bank whose loan is off-chain.
/// The pledgor locks credits (up to `MAX_IDS` ids) until a maturity; the credits sit in this contract, so the
/// pledgor can neither transfer, retire nor bridge them.
/// Lifecycle and timing (all times unix seconds, `now` is the block time):
/// - Active: the pledgee may `release` at any time, and may `declareDefault` when maturity <= now <= claimDeadline;
/// - Defaulted: the pledgee may `claim` (the credits go where it says) at any time, or `release`; the claim
///   deadline binds only the declaration, so a claim blocked by the registry or the regulator (a suspended
///   project, the allowlist, a freeze) never expires, and the pledgor cannot `reclaim` a Defaulted pledge;
/// - Released: the pledgor may `reclaim`;
/// - Active with now > claimDeadline (the pledgee never declared a default): the pledgor may `reclaim`;
/// - Claimed and Reclaimed are final.
/// @dev Warning: the terms (maturity, claim deadline) are the pledgor's; the pledgee is trusted to check them in
/// the `PledgeCreated` event before it lends, and nothing on-chain ties the pledge to the off-chain loan. In
/// permissioned mode this contract, the pledgor, the pledgee (to claim) and the claim's recipient must be on the
/// token's allowlist, and a frozen pledgee cannot claim;
/// credits of a Suspended or Terminated project cannot leave until the project is Approved again.
interface IBilateralPledge {
    /// @notice Where a pledge stands. `None` marks an id never used.
    enum Status {
        None,
        Active,
        Released,
        Defaulted,
        Claimed,
        Reclaimed
    }

    /// @notice A pledge as stored.
    struct PledgeView {
        address pledgor;
        address pledgee;
        uint256 maturity;
        uint256 claimDeadline;
        Status status;
        uint256[] ids;
        uint256[] amounts;
    }

    /// @notice Pledge `pledgeId` does not exist.
    error PledgeUnknown(uint256 pledgeId);
    /// @notice `caller` is not the pledgee of pledge `pledgeId`.
    error PledgeCallerNotPledgee(uint256 pledgeId, address caller);
    /// @notice `caller` is not the pledgor of pledge `pledgeId`.
    error PledgeCallerNotPledgor(uint256 pledgeId, address caller);
    /// @notice The id list (`ids` long) and the amount list (`amounts` long) differ in length, or are empty.
    error PledgeInvalidLists(uint256 ids, uint256 amounts);
    /// @notice A pledge of `count` ids, more than `max`.
    error PledgeTooManyIds(uint256 count, uint256 max);
    /// @notice An amount of zero for id `id`.
    error PledgeZeroAmount(uint256 id);
    /// @notice `pledgee` cannot be the pledgee (the zero address, or the pledgor).
    error PledgeInvalidPledgee(address pledgee);
    /// @notice Terms need now < maturity < claimDeadline; got `maturity`, `claimDeadline` at `now`.
    error PledgeInvalidTerms(uint256 maturity, uint256 claimDeadline, uint256 now);
    /// @notice Pledge `pledgeId` is `status`, which does not allow the action.
    error PledgeWrongStatus(uint256 pledgeId, Status status);
    /// @notice Pledge `pledgeId` matures at `maturity`; it is `now`: no default can be declared yet.
    error PledgeNotMatured(uint256 pledgeId, uint256 maturity, uint256 now);
    /// @notice The claim deadline `claimDeadline` of pledge `pledgeId` has passed (it is `now`): no default can
    /// be declared any more.
    error PledgeClaimWindowClosed(uint256 pledgeId, uint256 claimDeadline, uint256 now);
    /// @notice Pledge `pledgeId` is `status` (claim deadline `claimDeadline`, it is `now`): the pledgor may
    /// reclaim only after a release, or an Active pledge after the deadline (a Defaulted one never).
    error PledgeNotReclaimable(uint256 pledgeId, Status status, uint256 claimDeadline, uint256 now);
    /// @notice This contract accepts credits only from its own pulls; `operator` sent credits of `from`.
    error PledgeUnsolicitedTransfer(address operator, address from);
    /// @notice A claim may not send the credits to `escrow`, this contract itself.
    error PledgeRecipientIsEscrow(address escrow);

    /// @notice `pledgor` locked `amounts` of `ids` in favour of `pledgee` until `maturity`; the pledgee may claim
    /// after a declared default until `claimDeadline`.
    event PledgeCreated(
        uint256 indexed pledgeId,
        address indexed pledgor,
        address indexed pledgee,
        uint256[] ids,
        uint256[] amounts,
        uint256 maturity,
        uint256 claimDeadline
    );
    /// @notice The pledgee released pledge `pledgeId`: the pledgor may reclaim it.
    event PledgeReleased(uint256 indexed pledgeId, address indexed pledgee);
    /// @notice The pledgee declared the loan behind pledge `pledgeId` in default.
    event DefaultDeclared(uint256 indexed pledgeId, address indexed pledgee);
    /// @notice The pledgee claimed the credits of pledge `pledgeId`; they went to `to`.
    event PledgeClaimed(uint256 indexed pledgeId, address indexed pledgee, address indexed to);
    /// @notice The pledgor took back the credits of pledge `pledgeId`.
    event PledgeReclaimed(uint256 indexed pledgeId, address indexed pledgor);

    /// @notice Locks `amounts` of `ids` from the caller in favour of `pledgee` until `maturity`, claimable after
    /// a declared default until `claimDeadline`. This contract must be the caller's approved ERC-1155 operator.
    /// @return pledgeId The new pledge's id (counting from 1).
    function createPledge(
        address pledgee,
        uint256[] calldata ids,
        uint256[] calldata amounts,
        uint256 maturity,
        uint256 claimDeadline
    ) external returns (uint256 pledgeId);

    /// @notice Releases pledge `pledgeId` (Active or Defaulted), so the pledgor may reclaim. Only the pledgee.
    function release(uint256 pledgeId) external;

    /// @notice Declares the loan behind pledge `pledgeId` (Active) in default, when maturity <= now <= claim
    /// deadline. Only the pledgee.
    function declareDefault(uint256 pledgeId) external;

    /// @notice Sends the credits of pledge `pledgeId` (Defaulted, at any time: a declared default has no claim
    /// deadline) to `to`, which may not be this contract (`PledgeRecipientIsEscrow`). Only the pledgee, held to
    /// the token's rule for whoever directs a transfer: it may not be frozen (`CreditAccountFrozen`) nor, in
    /// permissioned mode, off the allowlist (`CreditAccountNotAllowed`). A frozen pledgee's claim is refused, not
    /// lost: it succeeds once the freeze is lifted.
    function claim(uint256 pledgeId, address to) external;

    /// @notice Sends the credits of pledge `pledgeId` back to the pledgor: after a release, or once the claim
    /// deadline has passed with no default declared (never for a Defaulted pledge). Only the pledgor.
    function reclaim(uint256 pledgeId) external;

    /// @notice Pledge `pledgeId` as stored.
    function pledgeOf(uint256 pledgeId) external view returns (PledgeView memory);

    /// @notice Pledges created so far (the last pledge id).
    function pledgeCount() external view returns (uint256);

    /// @notice The credit token.
    function credit() external view returns (address);
}
