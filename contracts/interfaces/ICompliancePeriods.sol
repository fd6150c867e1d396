// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ICompliancePeriods
/// @notice Compliance surrender: a regulator opens compliance periods, each with a deadline, and sets each
/// regulated entity's obligation in it; entities surrender Tonne credits against their obligation until the
/// deadline. A surrender is a retirement with purpose Compliance (through the retirement module's
/// `retireForCompliance`): the credits are burned and a locked certificate is minted to the entity, with the
/// period's consumption period and jurisdiction. After the deadline each entity's status is final and on-chain.
/// @dev Amounts are token units (1 unit = 1 kg CO2e; 1 tonne = 1000 units), as everywhere in Tonne.
/// Vintage: a batch's vintage years are the UTC calendar years of its monitoring period's start and end (the
/// registry's `periodStart` and `periodEnd`, the end being the period's last second). A period limited to
/// vintages [vintageFrom, vintageTo] accepts a batch only if its monitoring period lies wholly within those
/// years: start year >= vintageFrom and end year <= vintageTo (0: no bound on that side). A batch straddling a
/// bound is refused, since part of its reductions happened outside the eligible years.
/// Standards: a period may list eligible standards (the registry's project standard codes, e.g. "VCS", "GS",
/// compared byte for byte); an empty list accepts every standard.
/// Warning: the PERIOD_REGULATOR is trusted to open periods with honest terms and to set obligations from
/// verified emissions; it can raise or lower an obligation (never below what was already surrendered) until
/// the deadline, and nothing after it. An approved ERC-1155 operator of an entity (`setApprovalForAll` on the
/// credit token) can surrender the entity's credits on its behalf, as it could already move them.
interface ICompliancePeriods {
    /// @notice The terms of a compliance period, as the regulator opens it.
    /// @param name What the period is, e.g. "EU ETS 2025 surrender"; every certificate's reason (required).
    /// @param jurisdiction ISO 3166-1 alpha-2 ("DE") or ISO 3166-2 ("US-CA"); every certificate's jurisdiction.
    /// @param periodStart First second of the emissions (consumption) period covered, unix seconds.
    /// @param periodEnd Last second of that period; not before `periodStart`.
    /// @param deadline Last second at which surrenders and obligation changes are accepted; not before `periodEnd`
    /// and not in the past.
    /// @param vintageFrom Earliest eligible vintage year (0: none).
    /// @param vintageTo Latest eligible vintage year (0: none); not before `vintageFrom` when both are set.
    /// @param eligibleStandards Eligible standard codes, distinct and non-empty (none: every standard).
    struct PeriodInput {
        string name;
        string jurisdiction;
        uint40 periodStart;
        uint40 periodEnd;
        uint40 deadline;
        uint16 vintageFrom;
        uint16 vintageTo;
        string[] eligibleStandards;
    }

    /// @notice A period as stored; the eligible standards are in `PeriodOpened` and `isEligibleStandard`.
    struct PeriodView {
        string name;
        string jurisdiction;
        uint40 periodStart;
        uint40 periodEnd;
        uint40 deadline;
        uint16 vintageFrom;
        uint16 vintageTo;
        uint16 standardCount;
    }

    /// @notice An entity's standing in a period, in units.
    /// @param obligation What the entity must surrender (0: it has no obligation in the period).
    /// @param surrendered What it has surrendered; never more than `obligation`.
    /// @param deadlinePassed Whether the deadline has passed, so that the status is final.
    /// @param compliant Whether `surrendered` covers `obligation` (trivially true for a zero obligation).
    /// @param shortfall `obligation - surrendered`.
    struct Status {
        uint256 obligation;
        uint256 surrendered;
        bool deadlinePassed;
        bool compliant;
        uint256 shortfall;
    }

    // ------------------------------------------------------------------ errors

    /// @notice No period `periodId` was opened.
    error ComplianceUnknownPeriod(uint64 periodId);
    /// @notice The deadline of period `periodId` passed: nothing about it can change any more.
    error ComplianceDeadlinePassed(uint64 periodId, uint40 deadline, uint256 timestamp);
    /// @notice `entity` has no obligation in period `periodId`, so it has nothing to surrender.
    error ComplianceNoObligation(uint64 periodId, address entity);
    /// @notice Credit `id`'s monitoring period runs from `firstYear` to `lastYear`, not wholly within the period's
    /// eligible vintages `vintageFrom`..`vintageTo` (0: no bound).
    error ComplianceIneligibleVintage(
        uint64 periodId, uint256 id, uint16 firstYear, uint16 lastYear, uint16 vintageFrom, uint16 vintageTo
    );
    /// @notice Credit `id` is of a project of `standard`, which period `periodId` does not accept.
    error ComplianceIneligibleStandard(uint64 periodId, uint256 id, string standard);
    /// @notice Surrendering `amount` would pass `entity`'s obligation: only `remaining` is still owed.
    error ComplianceExceedsObligation(uint64 periodId, address entity, uint256 amount, uint256 remaining);
    /// @notice The ids and amounts of a surrender differ in length, or name nothing.
    error ComplianceInvalidLists(uint256 ids, uint256 amounts);
    /// @notice More ids than one surrender (one certificate) can list.
    error ComplianceTooManyIds(uint256 count, uint256 max);
    /// @notice The entities, names and amounts of `setObligations` differ in length, name nothing, or are too many.
    error ComplianceInvalidObligationLists(uint256 entities, uint256 names, uint256 amounts, uint256 max);
    /// @notice Entry `index` of `setObligations` is invalid: `field` is "entity" (the zero address), "name" (empty)
    /// or "amount" (2^128 units or more).
    error ComplianceInvalidObligation(uint256 index, address entity, string field);
    /// @notice Lowering `entity`'s obligation to `obligation` would leave less than the `surrendered` units.
    error ComplianceObligationBelowSurrendered(uint64 periodId, address entity, uint256 obligation, uint256 surrendered);
    /// @notice A required text of the period's terms is empty; `field` names it.
    error ComplianceEmptyField(string field);
    /// @notice The jurisdiction is not an ISO 3166-1 alpha-2 or ISO 3166-2 code.
    error ComplianceInvalidJurisdiction(string jurisdiction);
    /// @notice The period's times are out of order: they must be `periodStart <= periodEnd <= deadline`.
    error ComplianceInvalidTimes(uint40 periodStart, uint40 periodEnd, uint40 deadline);
    /// @notice The deadline is already in the past.
    error ComplianceDeadlineInPast(uint40 deadline, uint256 timestamp);
    /// @notice The eligible vintages end before they start.
    error ComplianceInvalidVintageRange(uint16 vintageFrom, uint16 vintageTo);
    /// @notice Eligible standard `index` is empty or repeats an earlier one.
    error ComplianceInvalidStandard(uint256 index, string standard);
    /// @notice More eligible standards than a period can list.
    error ComplianceTooManyStandards(uint256 count, uint256 max);
    /// @notice `operator` may not surrender credits of `entity`: it is neither the entity nor approved by it on
    /// the credit token.
    error ComplianceOperatorNotApproved(address entity, address operator);

    // ------------------------------------------------------------------ events

    /// @notice Period `periodId` was opened by `by` with these terms.
    event PeriodOpened(
        uint64 indexed periodId,
        string name,
        string jurisdiction,
        uint40 periodStart,
        uint40 periodEnd,
        uint40 deadline,
        uint16 vintageFrom,
        uint16 vintageTo,
        string[] eligibleStandards,
        address indexed by
    );
    /// @notice `entity`'s obligation in period `periodId` changed from `previous` to `obligation` units (or its
    /// name changed), set by `by`. The first one has `previous` 0.
    event ObligationSet(
        uint64 indexed periodId,
        address indexed entity,
        string name,
        uint256 previous,
        uint256 obligation,
        address indexed by
    );
    /// @notice `entity` surrendered `amount` units in period `periodId`, proven by certificate `certificateId`
    /// (its `RetirementRecorded` lists the ids and amounts); `by` sent it (the entity or its operator);
    /// `surrendered` is the entity's total in the period afterwards.
    event Surrendered(
        uint64 indexed periodId,
        address indexed entity,
        uint256 indexed certificateId,
        address by,
        uint256 amount,
        uint256 surrendered
    );

    // ------------------------------------------------------------------ regulator

    /// @notice Opens a compliance period. Only the PERIOD_REGULATOR. Its terms never change afterwards.
    /// @return periodId The new period's id, counting from 1.
    function openPeriod(PeriodInput calldata input) external returns (uint64 periodId);

    /// @notice Sets the obligations of `entities` in period `periodId`, in units, with each entity's name (the
    /// beneficiary name on its certificates). Only the PERIOD_REGULATOR, and only until the deadline. An obligation
    /// can be raised or lowered, but not below what the entity already surrendered; 0 removes it. Entries that
    /// change nothing are skipped: no write, no event.
    function setObligations(
        uint64 periodId,
        address[] calldata entities,
        string[] calldata names,
        uint256[] calldata amounts
    ) external;

    // ------------------------------------------------------------------ entities

    /// @notice Surrenders the caller's `amounts` of `ids` against its obligation in period `periodId`, until the
    /// deadline; each id must be eligible for the period, and the total must not pass what is still owed.
    /// The credits are retired with purpose Compliance and the certificate minted to the caller.
    /// @param retirementRef Optional idempotency key, passed to the retirement (zero: none); usable once, ever,
    /// by each entity (the reference is scoped to the entity, whoever the operator).
    /// @return certificateId The certificate that proves the surrender.
    function surrender(uint64 periodId, uint256[] calldata ids, uint256[] calldata amounts, bytes32 retirementRef)
        external
        returns (uint256 certificateId);

    /// @notice `surrender` on behalf of `entity`, by the entity itself or an operator it approved on the credit
    /// token. The certificate goes to the entity and records it as the retiring account.
    function surrenderFrom(
        address entity,
        uint64 periodId,
        uint256[] calldata ids,
        uint256[] calldata amounts,
        bytes32 retirementRef
    ) external returns (uint256 certificateId);

    // ------------------------------------------------------------------ views

    /// @notice How many periods exist; ids run from 1 to this number.
    function periodCount() external view returns (uint64);

    /// @notice A period's terms. Reverts for unknown ids.
    function period(uint64 periodId) external view returns (PeriodView memory);

    /// @notice Whether credits of `standard` are eligible in period `periodId` (true for every standard when the
    /// period lists none). Reverts for unknown periods.
    function isEligibleStandard(uint64 periodId, string calldata standard) external view returns (bool);

    /// @notice The UTC years of the start and end of credit `id`'s monitoring period (reverts for unknown ids).
    function vintageOf(uint256 id) external view returns (uint16 firstYear, uint16 lastYear);

    /// @notice Reverts with `ComplianceIneligibleVintage` or `ComplianceIneligibleStandard` unless credit `id` is
    /// eligible in period `periodId`; for tooling that checks a surrender before sending it. Only the period's
    /// limits are checked: a period without limits accepts every id (the token still refuses unknown ones).
    function requireEligible(uint64 periodId, uint256 id) external view;

    /// @notice `entity`'s status in period `periodId`. Reverts for unknown periods.
    function status(uint64 periodId, address entity) external view returns (Status memory);

    /// @notice The name `entity` was given in period `periodId` (empty if it never had an obligation there).
    function entityName(uint64 periodId, address entity) external view returns (string memory);

    /// @notice The retirement module through which surrenders retire credits.
    function retirement() external view returns (address);
}
