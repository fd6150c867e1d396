// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ICreditLedger} from "./ICreditLedger.sol";

/// @title ICarbonCredit
/// @notice The Tonne credit token: ERC-1155, one id per verified batch of the registry. Amounts are kilograms:
/// 1 credit = 1 tonne CO2e = 1000 units. Supply is tracked per id; no id can ever exceed its batch's quantity.
/// @dev A deployment picks its mode once, at construction:
/// - open: anyone may hold and receive credits;
/// - permissioned: every holder, sender and recipient, and any operator moving credits for a holder, must be on
///   the COMPLIANCE role's allowlist.
/// In both modes the REGULATOR may freeze accounts and pause the whole token, and credits of a Suspended or
/// Terminated project cannot be issued or moved.
/// Warning: the REGULATOR can halt every transfer (pause) and trap any account's credits (freeze); COMPLIANCE
/// decides who may hold credits in permissioned mode. Both are trusted not to abuse that power.
interface ICarbonCredit is ICreditLedger {
    /// @notice One issuance instruction of `issueMany`.
    /// @param orderRef Caller's idempotency key (e.g. the hash of a CSV row's reference), or zero for none.
    /// A non-zero `orderRef` can be used once ever within the id's project: a replayed order reverts instead of
    /// issuing twice. References are scoped to the project, so an issuer of another project cannot use one up.
    struct IssueOrder {
        uint256 id;
        address to;
        uint256 amount;
        bytes32 orderRef;
    }

    /// @notice The whole token is paused.
    error CreditPaused();
    /// @notice The pause is already in the requested state.
    error CreditPauseUnchanged(bool paused);
    /// @notice `account` is frozen by the regulator.
    error CreditAccountFrozen(address account);
    /// @notice The freeze flag of `account` is already `frozen`.
    error CreditFreezeUnchanged(address account, bool frozen);
    /// @notice Permissioned mode: `account` is not on the allowlist.
    error CreditAccountNotAllowed(address account);
    /// @notice The allowlist exists only in permissioned mode.
    error CreditAllowlistDisabled();
    /// @notice Id `id` belongs to project `projectId`, which is Suspended or Terminated.
    error CreditProjectRestricted(uint256 id, uint64 projectId);
    /// @notice Id `id` is not a verified batch.
    error CreditBatchNotOpen(uint256 id);
    /// @notice Issuing `requested` units of `id` would pass its quantity; only `available` are left.
    error CreditIssuanceExceedsCap(uint256 id, uint256 requested, uint256 available);
    /// @notice An issuance of zero units of `id`.
    error CreditZeroAmount(uint256 id);
    /// @notice `orderRef` was already used by an earlier issuance of the same project.
    error CreditOrderReferenceUsed(bytes32 orderRef);
    /// @notice `issueMany` was called with no order.
    error CreditNoOrders();
    /// @notice `caller` is not the retirement module bound to this token.
    error CreditCallerNotRetirement(address caller);
    /// @notice The retirement module is already bound, to `current` (or the zero address was given).
    error CreditRetirementAlreadyBound(address current);

    /// @notice `amount` units of `id` were issued to `to` by `issuer` (with idempotency key `orderRef`, or zero).
    /// `to` is zero when the units were retired at issuance (`issueRetired`).
    event Issued(uint256 indexed id, address indexed to, address indexed issuer, uint256 amount, bytes32 orderRef);
    /// @notice `account` was added to (or removed from) the allowlist by `by`.
    event AllowlistSet(address indexed account, bool allowed, address indexed by);
    /// @notice `account` was frozen (or unfrozen) by `by`, for `reason`.
    event AccountFreezeSet(address indexed account, bool frozen, string reason, address indexed by);
    /// @notice The retirement module was bound (once) by the admin.
    event RetirementBound(address indexed retirement);
    /// @notice The token was paused by `account`.
    event Paused(address account);
    /// @notice The token was unpaused by `account`.
    event Unpaused(address account);

    /// @notice Issues `amount` units of `id` to `to`. The caller must be an issuer authorised for the id's
    /// project in the registry, and not frozen; the batch must be verified and its project not restricted.
    function issue(uint256 id, address to, uint256 amount, bytes32 orderRef) external;

    /// @notice Issues several orders, of one or many ids and recipients, in one transaction; all or nothing.
    function issueMany(IssueOrder[] calldata orders) external;

    /// @notice Binds the retirement module, the only caller of `retire` and `issueRetired`. Once, by the admin.
    function bindRetirement(address retirement) external;

    /// @notice Burns `amounts` of `ids` from `holder` as retired. Only the retirement module, which has checked
    /// that `operator` (its caller's account) is `holder` or an operator `holder` approved. The usual rules
    /// apply: not while paused, not from a frozen account, not from outside the allowlist in permissioned mode,
    /// and not credits of a Suspended or Terminated project; an `operator` other than `holder` is held to the
    /// same freeze and allowlist rules.
    /// @param holder The account whose credits are burned.
    /// @param operator The account that asked for the retirement (the holder itself, or its approved operator).
    function retire(address holder, address operator, uint256[] calldata ids, uint256[] calldata amounts) external;

    /// @notice Issues `amount` units of `id` and retires them at once, for a direct offset by `issuer` (who must
    /// be an authorised issuer of the project, and not frozen). No balance is ever created. Only the retirement
    /// module.
    function issueRetired(address issuer, uint256 id, uint256 amount, bytes32 orderRef) external;

    /// @notice Adds accounts to (or removes them from) the allowlist. Only COMPLIANCE, permissioned mode only.
    /// Accounts already in the requested state are skipped: no write, no event.
    function setAllowed(address[] calldata accounts, bool allowed) external;

    /// @notice Freezes or unfreezes `account`: a frozen account can neither send nor receive, nor move others'
    /// credits as an approved operator. Only REGULATOR.
    function setFrozen(address account, bool frozen, string calldata reason) external;

    /// @notice Stops every issuance and transfer. Only REGULATOR.
    function pause() external;

    /// @notice Resumes issuance and transfers. Only REGULATOR.
    function unpause() external;

    /// @notice The registry that drives this token.
    function registry() external view returns (address);

    /// @notice Whether the token runs in permissioned mode (fixed at deployment).
    function permissioned() external view returns (bool);

    /// @notice Whether the token is paused.
    function paused() external view returns (bool);

    /// @notice Whether `account` is on the allowlist (meaningful in permissioned mode).
    function isAllowed(address account) external view returns (bool);

    /// @notice Whether `account` is frozen.
    function isFrozen(address account) external view returns (bool);

    /// @notice Whether credits of `projectId` are restricted (project Suspended or Terminated).
    function isProjectRestricted(uint64 projectId) external view returns (bool);

    /// @notice Whether a non-zero issuance `orderRef` was used within project `projectId`.
    function isOrderReferenceUsed(uint64 projectId, bytes32 orderRef) external view returns (bool);

    /// @notice keccak256(abi.encode(id, to, amount)) of the issuance of project `projectId` that used `orderRef`
    /// (`to` is the zero address for an issueRetired), or zero when the reference is unused in that project.
    function orderDigest(uint64 projectId, bytes32 orderRef) external view returns (bytes32);

    /// @notice Units of `id` in circulation: issued - retired - cancelled.
    function totalSupply(uint256 id) external view returns (uint256);

    /// @notice Units of `id` retired (burned for good on behalf of a beneficiary).
    function totalRetired(uint256 id) external view returns (uint256);

    /// @notice Units of `id` cancelled by the registrar.
    function totalCancelled(uint256 id) external view returns (uint256);

    /// @notice Units of `id` that reversals asked for but could not cancel.
    function shortfall(uint256 id) external view returns (uint256);

    /// @notice The bound retirement module (zero until bound).
    function retirement() external view returns (address);

    /// @notice The most units of `id` that can ever be issued (zero while the batch is not verified).
    function issuanceCap(uint256 id) external view returns (uint256);

    /// @notice Units of `id` issued so far.
    function totalIssued(uint256 id) external view returns (uint256);

    /// @notice Whether any unit of `id` was ever issued.
    function exists(uint256 id) external view returns (bool);
}
