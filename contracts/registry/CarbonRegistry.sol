// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";

import {ICarbonRegistry} from "../interfaces/ICarbonRegistry.sol";
import {ICreditLedger} from "../interfaces/ICreditLedger.sol";
import {CreditIds} from "../libraries/CreditIds.sol";

/// @title CarbonRegistry
/// @notice Projects, their statuses and documents, and their credit batches with serial ranges.
/// @dev Invariants:
/// - within a project, batch serial ranges never overlap (kept by a serial-sorted list, checked at the two
///   neighbours of each insertion, so the check costs the same for the 1st and the 10,000th batch);
/// - an issuance reference maps to at most one batch, forever;
/// - a project's core fields never change once it leaves Pending; documents only move forward in version;
/// - the credit token sees a project as restricted exactly when the project is Suspended or Terminated after
///   having been Approved.
contract CarbonRegistry is ICarbonRegistry, AccessControlDefaultAdminRules {
    /// @notice Registers projects, sets their status, adds batches and authorises issuers per project.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @notice Approves batches before any credit of them can exist.
    bytes32 public constant VERIFIER_ROLE = keccak256("VERIFIER_ROLE");
    /// @notice Issues credits of the projects it is authorised for (see `setProjectIssuer`).
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");
    /// @notice The most tonnes one batch may hold (10^12, some 25 years of world emissions); it keeps every
    /// unit count of the credit token within 64 bits.
    uint256 public constant MAX_BATCH_TONNES = 1e12;

    struct Project {
        // slot 0: everything addBatch and verifyBatch read or write, so a project's first batch pays no
        // zero-to-non-zero store that later ones would not
        address owner;
        ProjectStatus status;
        bytes2 country;
        uint32 batchCount;
        uint32 firstBatchNumber;
        // rest: written at registration and on document updates only
        uint32 documentVersion;
        bytes32 metadataHash;
        string standard;
        string externalId;
        string name;
        string methodology;
        string projectType;
        string region;
        string metadataURI;
    }

    struct Batch {
        // slot 0: the serial-list node, read on every insertion next to it
        uint64 serialFirst;
        uint64 serialLast;
        uint64 nextBatchNumber;
        bool verified;
        // slot 1
        uint40 periodStart;
        uint40 periodEnd;
        address verifier;
        string issuanceReference;
        string metadataURI;
    }

    ICreditLedger private _creditToken;
    uint64 private _projectCount;
    mapping(uint64 projectId => Project) private _projects;
    mapping(bytes32 standardAndExternalId => uint64 projectId) private _projectIds;
    mapping(uint256 id => Batch) private _batches;
    mapping(bytes32 issuanceReferenceHash => uint256 id) private _batchOfReference;
    mapping(uint64 projectId => mapping(address issuer => bool)) private _projectIssuers;

    /// @param admin The DEFAULT_ADMIN_ROLE holder; its transfer takes two steps and `adminDelay` seconds.
    constructor(uint48 adminDelay, address admin) AccessControlDefaultAdminRules(adminDelay, admin) {}

    // ------------------------------------------------------------------ registrar

    /// @inheritdoc ICarbonRegistry
    function bindCreditToken(address creditToken_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(_creditToken) != address(0)) revert RegistryCreditTokenAlreadyBound(address(_creditToken));
        if (creditToken_ == address(0)) revert RegistryZeroCreditToken();
        _creditToken = ICreditLedger(creditToken_);
        emit CreditTokenBound(creditToken_);
    }

    /// @inheritdoc ICarbonRegistry
    function registerProject(ProjectInput calldata input)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (uint64 projectId)
    {
        _validateProjectInput(input);
        bytes32 key = _projectKey(input.standard, input.externalId);
        uint64 existing = _projectIds[key];
        if (existing != 0) revert RegistryDuplicateProject(input.standard, input.externalId, existing);

        // Cannot overflow: one registration per transaction would need 2^64 transactions.
        unchecked {
            projectId = ++_projectCount;
        }
        _projectIds[key] = projectId;
        Project storage p = _projects[projectId];
        p.status = ProjectStatus.Pending;
        p.documentVersion = 1;
        _writeCoreFields(p, input);
        emit ProjectRegistered(projectId, input.standard, input.externalId, input.owner, input);
    }

    /// @inheritdoc ICarbonRegistry
    function updateProject(uint64 projectId, ProjectInput calldata input) external onlyRole(REGISTRAR_ROLE) {
        Project storage p = _existingProject(projectId);
        if (p.status != ProjectStatus.Pending) revert RegistryProjectImmutable(projectId, p.status);
        _validateProjectInput(input);

        bytes32 oldKey = _projectKey(p.standard, p.externalId);
        bytes32 newKey = _projectKey(input.standard, input.externalId);
        if (newKey != oldKey) {
            uint64 existing = _projectIds[newKey];
            if (existing != 0) revert RegistryDuplicateProject(input.standard, input.externalId, existing);
            delete _projectIds[oldKey];
            _projectIds[newKey] = projectId;
        }
        _writeCoreFields(p, input);
        emit ProjectUpdated(projectId, input);
    }

    /// @inheritdoc ICarbonRegistry
    function setProjectStatus(uint64 projectId, ProjectStatus newStatus, string calldata reason)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        Project storage p = _existingProject(projectId);
        ProjectStatus from = p.status;
        if (!_isAllowedTransition(from, newStatus)) {
            revert RegistryInvalidStatusTransition(projectId, from, newStatus);
        }
        if (bytes(reason).length == 0) revert RegistryEmptyReason();
        p.status = newStatus;
        emit ProjectStatusChanged(projectId, from, newStatus, reason, msg.sender);

        // Only an Approved project can have credits, so the token needs to hear of exactly two kinds of move.
        if (from == ProjectStatus.Approved) {
            _requireCreditToken().setProjectRestricted(projectId, true);
        } else if (from == ProjectStatus.Suspended && newStatus == ProjectStatus.Approved) {
            _requireCreditToken().setProjectRestricted(projectId, false);
        }
    }

    /// @inheritdoc ICarbonRegistry
    function updateProjectDocuments(uint64 projectId, string calldata metadataURI, bytes32 metadataHash) external {
        Project storage p = _existingProject(projectId);
        if (msg.sender != p.owner && !hasRole(REGISTRAR_ROLE, msg.sender)) {
            revert RegistryNotProjectOwnerOrRegistrar(projectId, msg.sender);
        }
        if (p.status == ProjectStatus.Terminated) revert RegistryProjectImmutable(projectId, p.status);
        if (bytes(metadataURI).length == 0) revert RegistryInvalidProjectField("metadataURI");
        if (metadataHash == bytes32(0)) revert RegistryInvalidProjectField("metadataHash");
        uint32 version;
        // Cannot overflow in practice: 2^32 document versions of one project.
        unchecked {
            version = ++p.documentVersion;
        }
        p.metadataURI = metadataURI;
        p.metadataHash = metadataHash;
        emit ProjectDocumentsUpdated(projectId, version, metadataURI, metadataHash);
    }

    /// @inheritdoc ICarbonRegistry
    function setProjectIssuer(uint64 projectId, address issuer, bool authorized) external onlyRole(REGISTRAR_ROLE) {
        _existingProject(projectId);
        if (issuer == address(0)) revert RegistryIssuerNotAuthorized(projectId, issuer);
        _projectIssuers[projectId][issuer] = authorized;
        emit ProjectIssuerSet(projectId, issuer, authorized);
    }

    /// @inheritdoc ICarbonRegistry
    function addBatch(uint64 projectId, BatchInput calldata input, uint64 prevBatchNumberHint)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (uint256 id)
    {
        Project storage p = _existingProject(projectId);
        if (p.status != ProjectStatus.Approved) revert RegistryProjectNotApproved(projectId, p.status);
        if (input.serialFirst > input.serialLast) revert RegistryInvalidSerialRange(input.serialFirst, input.serialLast);
        uint256 tonnes = uint256(input.serialLast) - input.serialFirst + 1;
        if (tonnes > MAX_BATCH_TONNES) revert RegistryBatchTooLarge(tonnes, MAX_BATCH_TONNES);
        if (input.periodEnd <= input.periodStart) revert RegistryInvalidPeriod(input.periodStart, input.periodEnd);
        if (bytes(input.issuanceReference).length == 0) revert RegistryEmptyIssuanceReference();
        bytes32 refHash = keccak256(bytes(input.issuanceReference));
        uint256 usedBy = _batchOfReference[refHash];
        if (usedBy != 0) revert RegistryIssuanceReferenceUsed(input.issuanceReference, usedBy);

        uint64 batchNumber;
        // 2^32 - 1 batches per project at most: the checked increment reverts beyond that.
        batchNumber = ++p.batchCount;
        id = CreditIds.encode(projectId, batchNumber);
        uint64 next = _linkIntoSerialList(p, projectId, input.serialFirst, input.serialLast, prevBatchNumberHint);
        if (prevBatchNumberHint == 0) {
            // Cannot truncate: batchNumber comes from the uint32 batchCount.
            p.firstBatchNumber = uint32(batchNumber);
        } else {
            _batches[CreditIds.encode(projectId, prevBatchNumberHint)].nextBatchNumber = batchNumber;
        }

        Batch storage b = _batches[id];
        b.serialFirst = input.serialFirst;
        b.serialLast = input.serialLast;
        b.nextBatchNumber = next;
        b.periodStart = input.periodStart;
        b.periodEnd = input.periodEnd;
        b.issuanceReference = input.issuanceReference;
        if (bytes(input.metadataURI).length != 0) b.metadataURI = input.metadataURI;
        _batchOfReference[refHash] = id;
        emit BatchAdded(
            id,
            projectId,
            input.serialFirst,
            input.serialLast,
            input.periodStart,
            input.periodEnd,
            input.issuanceReference,
            input.metadataURI
        );
    }

    /// @inheritdoc ICarbonRegistry
    function cancelCredits(
        uint256 id,
        address[] calldata holders,
        uint256[] calldata amounts,
        uint256 reversal,
        string calldata reason
    ) external onlyRole(REGISTRAR_ROLE) {
        _existingBatch(id);
        _requireCreditToken().cancel(id, holders, amounts, reversal, reason);
    }

    /// @inheritdoc ICarbonRegistry
    function verifyBatch(uint256 id) external onlyRole(VERIFIER_ROLE) {
        Batch storage b = _existingBatch(id);
        if (b.verified) revert RegistryBatchAlreadyVerified(id);
        uint64 projectId = CreditIds.projectOf(id);
        ProjectStatus status = _projects[projectId].status;
        if (status != ProjectStatus.Approved) revert RegistryProjectNotApproved(projectId, status);
        b.verified = true;
        b.verifier = msg.sender;
        // Cannot overflow: serialLast >= serialFirst was checked when the batch was added.
        uint256 tonnes;
        unchecked {
            tonnes = uint256(b.serialLast) - b.serialFirst + 1;
        }
        emit BatchVerified(id, msg.sender, tonnes);
        _requireCreditToken().openBatch(id, tonnes * CreditIds.UNITS_PER_TONNE);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICarbonRegistry
    function creditToken() external view returns (address) {
        return address(_creditToken);
    }

    /// @inheritdoc ICarbonRegistry
    function projectCount() external view returns (uint64) {
        return _projectCount;
    }

    /// @inheritdoc ICarbonRegistry
    function project(uint64 projectId) external view returns (ProjectView memory v) {
        Project storage p = _existingProject(projectId);
        v.standard = p.standard;
        v.externalId = p.externalId;
        v.name = p.name;
        v.methodology = p.methodology;
        v.projectType = p.projectType;
        v.country = p.country;
        v.region = p.region;
        v.owner = p.owner;
        v.metadataURI = p.metadataURI;
        v.metadataHash = p.metadataHash;
        v.status = p.status;
        v.documentVersion = p.documentVersion;
        v.batchCount = p.batchCount;
    }

    /// @inheritdoc ICarbonRegistry
    function projectStatus(uint64 projectId) external view returns (ProjectStatus) {
        return _projects[projectId].status;
    }

    /// @inheritdoc ICarbonRegistry
    function projectIdOf(string calldata standard, string calldata externalId) external view returns (uint64) {
        return _projectIds[_projectKey(standard, externalId)];
    }

    /// @inheritdoc ICarbonRegistry
    function batch(uint256 id) external view returns (BatchView memory v) {
        Batch storage b = _existingBatch(id);
        v.projectId = CreditIds.projectOf(id);
        v.serialFirst = b.serialFirst;
        v.serialLast = b.serialLast;
        v.periodStart = b.periodStart;
        v.periodEnd = b.periodEnd;
        v.verified = b.verified;
        v.verifier = b.verifier;
        v.nextBatchNumber = b.nextBatchNumber;
        v.issuanceReference = b.issuanceReference;
        v.metadataURI = b.metadataURI;
    }

    /// @inheritdoc ICarbonRegistry
    function batchPeriod(uint256 id) external view returns (uint40 periodStart, uint40 periodEnd) {
        Batch storage b = _existingBatch(id);
        return (b.periodStart, b.periodEnd);
    }

    /// @inheritdoc ICarbonRegistry
    function projectStandard(uint64 projectId) external view returns (string memory) {
        return _existingProject(projectId).standard;
    }

    /// @inheritdoc ICarbonRegistry
    function firstBatchNumber(uint64 projectId) external view returns (uint64) {
        return _projects[projectId].firstBatchNumber;
    }

    /// @inheritdoc ICarbonRegistry
    function batchOfIssuanceReference(string calldata issuanceReference) external view returns (uint256) {
        return _batchOfReference[keccak256(bytes(issuanceReference))];
    }

    /// @inheritdoc ICarbonRegistry
    function isProjectIssuer(uint64 projectId, address account) public view returns (bool) {
        return _projectIssuers[projectId][account] && hasRole(ISSUER_ROLE, account);
    }

    /// @inheritdoc ICarbonRegistry
    function requireProjectIssuer(uint64 projectId, address account) external view {
        if (!isProjectIssuer(projectId, account)) revert RegistryIssuerNotAuthorized(projectId, account);
    }

    /// @inheritdoc ICarbonRegistry
    function batchURI(uint256 id) external view returns (string memory) {
        return _batches[id].metadataURI;
    }

    // ------------------------------------------------------------------ internals

    /// @dev Checks that `[first, last]` fits between the hinted batch and its successor, and returns that
    /// successor's number (0 if none). Reads at most two list nodes, whatever the list's length.
    function _linkIntoSerialList(Project storage p, uint64 projectId, uint64 first, uint64 last, uint64 prevHint)
        private
        view
        returns (uint64 next)
    {
        if (prevHint == 0) {
            next = p.firstBatchNumber;
        } else {
            // The new batch's own number was just taken, so a hint to it (or beyond) names no stored batch.
            if (prevHint >= p.batchCount) revert RegistryBadPositionHint(projectId, prevHint, first);
            Batch storage prev = _batches[CreditIds.encode(projectId, prevHint)];
            if (prev.serialFirst > first) revert RegistryBadPositionHint(projectId, prevHint, first);
            if (prev.serialLast >= first) {
                revert RegistrySerialOverlap(projectId, first, last, CreditIds.encode(projectId, prevHint));
            }
            next = prev.nextBatchNumber;
        }
        if (next != 0) {
            uint64 nextFirst = _batches[CreditIds.encode(projectId, next)].serialFirst;
            if (nextFirst < first) revert RegistryBadPositionHint(projectId, prevHint, first);
            if (nextFirst <= last) revert RegistrySerialOverlap(projectId, first, last, CreditIds.encode(projectId, next));
        }
    }

    function _writeCoreFields(Project storage p, ProjectInput calldata input) private {
        p.owner = input.owner;
        p.country = input.country;
        p.metadataHash = input.metadataHash;
        p.standard = input.standard;
        p.externalId = input.externalId;
        p.name = input.name;
        p.methodology = input.methodology;
        p.projectType = input.projectType;
        p.region = input.region;
        p.metadataURI = input.metadataURI;
    }

    function _validateProjectInput(ProjectInput calldata input) private pure {
        if (bytes(input.standard).length == 0) revert RegistryInvalidProjectField("standard");
        if (bytes(input.externalId).length == 0) revert RegistryInvalidProjectField("externalId");
        if (bytes(input.name).length == 0) revert RegistryInvalidProjectField("name");
        if (bytes(input.methodology).length == 0) revert RegistryInvalidProjectField("methodology");
        if (!_isIsoAlpha2(input.country)) revert RegistryInvalidProjectField("country");
        if (input.owner == address(0)) revert RegistryInvalidProjectField("owner");
        if (bytes(input.metadataURI).length == 0) revert RegistryInvalidProjectField("metadataURI");
        if (input.metadataHash == bytes32(0)) revert RegistryInvalidProjectField("metadataHash");
    }

    function _isIsoAlpha2(bytes2 code) private pure returns (bool) {
        bytes1 a = code[0];
        bytes1 b = code[1];
        return a >= "A" && a <= "Z" && b >= "A" && b <= "Z";
    }

    function _isAllowedTransition(ProjectStatus from, ProjectStatus to) private pure returns (bool) {
        if (from == ProjectStatus.Pending) return to == ProjectStatus.Approved || to == ProjectStatus.Terminated;
        if (from == ProjectStatus.Approved) return to == ProjectStatus.Suspended || to == ProjectStatus.Terminated;
        if (from == ProjectStatus.Suspended) return to == ProjectStatus.Approved || to == ProjectStatus.Terminated;
        return false;
    }

    function _projectKey(string memory standard, string memory externalId) private pure returns (bytes32) {
        return keccak256(abi.encode(standard, externalId));
    }

    function _existingProject(uint64 projectId) private view returns (Project storage p) {
        p = _projects[projectId];
        if (p.status == ProjectStatus.None) revert RegistryUnknownProject(projectId);
    }

    function _existingBatch(uint256 id) private view returns (Batch storage b) {
        b = _batches[id];
        if (b.periodEnd == 0) revert RegistryUnknownBatch(id);
    }

    function _requireCreditToken() private view returns (ICreditLedger token) {
        token = _creditToken;
        if (address(token) == address(0)) revert RegistryCreditTokenNotBound();
    }
}
