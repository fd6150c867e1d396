// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ICompliancePeriods} from "../interfaces/ICompliancePeriods.sol";
import {ICarbonRetirement} from "../interfaces/ICarbonRetirement.sol";
import {ICarbonCredit} from "../interfaces/ICarbonCredit.sol";
import {ICarbonRegistry} from "../interfaces/ICarbonRegistry.sol";
import {CreditCriteria} from "../libraries/CreditCriteria.sol";
import {CreditIds} from "../libraries/CreditIds.sol";
import {Jurisdiction} from "../libraries/Jurisdiction.sol";

/// @title CompliancePeriods
/// @notice Compliance periods with deadlines, obligations per regulated entity, and surrenders that retire
/// credits through the retirement module's `retireForCompliance`.
/// @dev Invariants:
/// - per entity and period, 0 <= surrendered <= obligation;
/// - per period, the sum of `surrendered` over its entities equals the sum of the totals of the certificates
///   with purpose Compliance minted by its surrenders (each surrender books exactly its certificate's total);
/// - after the deadline no obligation and no surrendered total of the period changes.
/// No loop runs over stored data: surrender loops over the ids it is given (at most MAX_IDS_PER_SURRENDER),
/// setObligations over its entries (at most MAX_OBLIGATIONS_PER_CALL), openPeriod over its standards.
contract CompliancePeriods is ICompliancePeriods, AccessControlDefaultAdminRules, ReentrancyGuardTransient {
    /// @notice Opens compliance periods and sets obligations.
    bytes32 public constant PERIOD_REGULATOR_ROLE = keccak256("PERIOD_REGULATOR_ROLE");
    /// @notice The most ids one surrender lists: the retirement module's MAX_IDS_PER_CERTIFICATE.
    uint256 public constant MAX_IDS_PER_SURRENDER = 100;
    /// @notice The most entries one `setObligations` call takes.
    uint256 public constant MAX_OBLIGATIONS_PER_CALL = 200;
    /// @notice The most eligible standards a period lists.
    uint256 public constant MAX_STANDARDS = 32;

    struct Period {
        // slot 0: everything a surrender checks
        uint40 periodStart;
        uint40 periodEnd;
        uint40 deadline; // non-zero for every opened period
        uint16 vintageFrom;
        uint16 vintageTo;
        uint16 standardCount;
        // the certificate's reason and jurisdiction
        string name;
        string jurisdiction;
    }

    struct Obligation {
        // slot 0: units; 2^128 is far beyond any supply (a batch holds at most 10^15 units)
        uint128 obligation;
        uint128 surrendered;
        // the certificate's beneficiary name
        string name;
    }

    ICarbonRetirement private immutable _retirement;
    ICarbonCredit private immutable _credit;
    ICarbonRegistry private immutable _registry;
    uint64 private _periodCount;
    mapping(uint64 periodId => Period) private _periods;
    mapping(uint64 periodId => mapping(bytes32 standardHash => bool)) private _eligibleStandards;
    mapping(uint64 periodId => mapping(address entity => Obligation)) private _obligations;

    /// @param retirement_ The retirement module; its admin must `bindCompliance` this contract. The credit token
    /// and the registry are read from it.
    /// @param adminDelay Seconds the two-step admin transfer waits.
    /// @param admin The DEFAULT_ADMIN_ROLE holder (grants PERIOD_REGULATOR_ROLE).
    constructor(address retirement_, uint48 adminDelay, address admin) AccessControlDefaultAdminRules(adminDelay, admin) {
        _retirement = ICarbonRetirement(retirement_);
        _credit = ICarbonCredit(ICarbonRetirement(retirement_).creditToken());
        _registry = ICarbonRegistry(_credit.registry());
    }

    // ------------------------------------------------------------------ regulator

    /// @inheritdoc ICompliancePeriods
    function openPeriod(PeriodInput calldata input) external onlyRole(PERIOD_REGULATOR_ROLE) returns (uint64 periodId) {
        if (bytes(input.name).length == 0) revert ComplianceEmptyField("name");
        if (!Jurisdiction.isValid(bytes(input.jurisdiction))) revert ComplianceInvalidJurisdiction(input.jurisdiction);
        if (input.periodEnd < input.periodStart || input.deadline < input.periodEnd) {
            revert ComplianceInvalidTimes(input.periodStart, input.periodEnd, input.deadline);
        }
        if (input.deadline < block.timestamp) revert ComplianceDeadlineInPast(input.deadline, block.timestamp);
        if (input.vintageFrom != 0 && input.vintageTo != 0 && input.vintageTo < input.vintageFrom) {
            revert ComplianceInvalidVintageRange(input.vintageFrom, input.vintageTo);
        }
        uint256 standards = input.eligibleStandards.length;
        if (standards > MAX_STANDARDS) revert ComplianceTooManyStandards(standards, MAX_STANDARDS);

        // Cannot overflow: one period per transaction would need 2^64 transactions.
        unchecked {
            periodId = ++_periodCount;
        }
        for (uint256 i; i < standards; ++i) {
            string calldata standard = input.eligibleStandards[i];
            bytes32 key = keccak256(bytes(standard));
            if (bytes(standard).length == 0 || _eligibleStandards[periodId][key]) {
                revert ComplianceInvalidStandard(i, standard);
            }
            _eligibleStandards[periodId][key] = true;
        }
        Period storage p = _periods[periodId];
        p.periodStart = input.periodStart;
        p.periodEnd = input.periodEnd;
        p.deadline = input.deadline;
        p.vintageFrom = input.vintageFrom;
        p.vintageTo = input.vintageTo;
        // Cannot truncate: at most MAX_STANDARDS.
        p.standardCount = uint16(standards);
        p.name = input.name;
        p.jurisdiction = input.jurisdiction;
        emit PeriodOpened(
            periodId,
            input.name,
            input.jurisdiction,
            input.periodStart,
            input.periodEnd,
            input.deadline,
            input.vintageFrom,
            input.vintageTo,
            input.eligibleStandards,
            msg.sender
        );
    }

    /// @inheritdoc ICompliancePeriods
    function setObligations(
        uint64 periodId,
        address[] calldata entities,
        string[] calldata names,
        uint256[] calldata amounts
    ) external onlyRole(PERIOD_REGULATOR_ROLE) {
        _openPeriod(periodId);
        uint256 n = entities.length;
        if (n == 0 || n != names.length || n != amounts.length || n > MAX_OBLIGATIONS_PER_CALL) {
            revert ComplianceInvalidObligationLists(n, names.length, amounts.length, MAX_OBLIGATIONS_PER_CALL);
        }
        for (uint256 i; i < n; ++i) {
            address entity = entities[i];
            string calldata name = names[i];
            if (entity == address(0)) revert ComplianceInvalidObligation(i, entity, "entity");
            if (bytes(name).length == 0) revert ComplianceInvalidObligation(i, entity, "name");
            Obligation storage o = _obligations[periodId][entity];
            uint256 previous = o.obligation;
            uint256 amount = amounts[i];
            if (amount < o.surrendered) {
                revert ComplianceObligationBelowSurrendered(periodId, entity, amount, o.surrendered);
            }
            bool renamed = keccak256(bytes(o.name)) != keccak256(bytes(name));
            if (amount == previous && !renamed) continue;
            // Cannot truncate: amount < 2^128 is checked here.
            if (amount > type(uint128).max) revert ComplianceInvalidObligation(i, entity, "amount");
            o.obligation = uint128(amount);
            if (renamed) o.name = name;
            emit ObligationSet(periodId, entity, name, previous, amount, msg.sender);
        }
    }

    // ------------------------------------------------------------------ entities

    /// @inheritdoc ICompliancePeriods
    function surrender(uint64 periodId, uint256[] calldata ids, uint256[] calldata amounts, bytes32 retirementRef)
        external
        nonReentrant
        returns (uint256)
    {
        return _surrender(msg.sender, periodId, ids, amounts, retirementRef);
    }

    /// @inheritdoc ICompliancePeriods
    function surrenderFrom(
        address entity,
        uint64 periodId,
        uint256[] calldata ids,
        uint256[] calldata amounts,
        bytes32 retirementRef
    ) external nonReentrant returns (uint256) {
        if (entity != msg.sender && !IERC1155(address(_credit)).isApprovedForAll(entity, msg.sender)) {
            revert ComplianceOperatorNotApproved(entity, msg.sender);
        }
        return _surrender(entity, periodId, ids, amounts, retirementRef);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICompliancePeriods
    function periodCount() external view returns (uint64) {
        return _periodCount;
    }

    /// @inheritdoc ICompliancePeriods
    function period(uint64 periodId) external view returns (PeriodView memory v) {
        Period storage p = _existingPeriod(periodId);
        v.name = p.name;
        v.jurisdiction = p.jurisdiction;
        v.periodStart = p.periodStart;
        v.periodEnd = p.periodEnd;
        v.deadline = p.deadline;
        v.vintageFrom = p.vintageFrom;
        v.vintageTo = p.vintageTo;
        v.standardCount = p.standardCount;
    }

    /// @inheritdoc ICompliancePeriods
    function isEligibleStandard(uint64 periodId, string calldata standard) external view returns (bool) {
        Period storage p = _existingPeriod(periodId);
        return p.standardCount == 0 || _eligibleStandards[periodId][keccak256(bytes(standard))];
    }

    /// @inheritdoc ICompliancePeriods
    function vintageOf(uint256 id) public view returns (uint16 firstYear, uint16 lastYear) {
        return CreditCriteria.vintageOf(_registry, id);
    }

    /// @inheritdoc ICompliancePeriods
    function requireEligible(uint64 periodId, uint256 id) external view {
        _requireEligible(periodId, _existingPeriod(periodId), id);
    }

    /// @inheritdoc ICompliancePeriods
    function status(uint64 periodId, address entity) external view returns (Status memory s) {
        Period storage p = _existingPeriod(periodId);
        Obligation storage o = _obligations[periodId][entity];
        s.obligation = o.obligation;
        s.surrendered = o.surrendered;
        s.deadlinePassed = block.timestamp > p.deadline;
        s.compliant = s.surrendered >= s.obligation;
        // Cannot underflow: surrendered <= obligation always holds.
        unchecked {
            s.shortfall = s.obligation - s.surrendered;
        }
    }

    /// @inheritdoc ICompliancePeriods
    function entityName(uint64 periodId, address entity) external view returns (string memory) {
        return _obligations[periodId][entity].name;
    }

    /// @inheritdoc ICompliancePeriods
    function retirement() external view returns (address) {
        return address(_retirement);
    }

    /// @inheritdoc AccessControlDefaultAdminRules
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(ICompliancePeriods).interfaceId || super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Checks, then books the surrender (effects), then retires through the retirement module (interaction).
    function _surrender(
        address entity,
        uint64 periodId,
        uint256[] calldata ids,
        uint256[] calldata amounts,
        bytes32 retirementRef
    ) private returns (uint256 certificateId) {
        Period storage p = _openPeriod(periodId);
        Obligation storage o = _obligations[periodId][entity];
        uint256 obligation = o.obligation;
        if (obligation == 0) revert ComplianceNoObligation(periodId, entity);
        uint256 n = ids.length;
        if (n == 0 || n != amounts.length) revert ComplianceInvalidLists(n, amounts.length);
        if (n > MAX_IDS_PER_SURRENDER) revert ComplianceTooManyIds(n, MAX_IDS_PER_SURRENDER);
        uint256 total;
        for (uint256 i; i < n; ++i) {
            _requireEligible(periodId, p, ids[i]);
            total += amounts[i];
        }
        uint256 surrendered = o.surrendered;
        // Cannot underflow: surrendered <= obligation always holds.
        uint256 remaining;
        unchecked {
            remaining = obligation - surrendered;
        }
        if (total > remaining) revert ComplianceExceedsObligation(periodId, entity, total, remaining);
        // Cannot overflow or truncate: total <= remaining, so surrendered + total <= obligation < 2^128.
        unchecked {
            surrendered += total;
        }
        o.surrendered = uint128(surrendered);

        certificateId = _retirement.retireForCompliance(
            entity,
            msg.sender,
            ids,
            amounts,
            ICarbonRetirement.RetirementInput({
                beneficiary: entity,
                beneficiaryName: o.name,
                reason: p.name,
                jurisdiction: p.jurisdiction,
                periodStart: p.periodStart,
                periodEnd: p.periodEnd,
                retirementRef: retirementRef
            })
        );
        emit Surrendered(periodId, entity, certificateId, msg.sender, total, surrendered);
    }

    /// @dev Reads the registry only for the restrictions the period has: a period with neither vintage bounds
    /// nor eligible standards costs no external call per id.
    function _requireEligible(uint64 periodId, Period storage p, uint256 id) private view {
        uint16 from = p.vintageFrom;
        uint16 to = p.vintageTo;
        if (from != 0 || to != 0) {
            (uint16 firstYear, uint16 lastYear) = vintageOf(id);
            if (!CreditCriteria.vintageWithin(firstYear, lastYear, from, to)) {
                revert ComplianceIneligibleVintage(periodId, id, firstYear, lastYear, from, to);
            }
        }
        if (p.standardCount != 0) {
            string memory standard = _registry.projectStandard(CreditIds.projectOf(id));
            if (!_eligibleStandards[periodId][keccak256(bytes(standard))]) {
                revert ComplianceIneligibleStandard(periodId, id, standard);
            }
        }
    }

    function _existingPeriod(uint64 periodId) private view returns (Period storage p) {
        p = _periods[periodId];
        if (p.deadline == 0) revert ComplianceUnknownPeriod(periodId);
    }

    /// @dev An existing period whose deadline has not passed (the deadline's own second still counts).
    function _openPeriod(uint64 periodId) private view returns (Period storage p) {
        p = _existingPeriod(periodId);
        if (block.timestamp > p.deadline) revert ComplianceDeadlinePassed(periodId, p.deadline, block.timestamp);
    }
}
