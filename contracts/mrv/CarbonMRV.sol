// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {ICarbonMRV} from "../interfaces/ICarbonMRV.sol";
import {ICarbonRegistry} from "../interfaces/ICarbonRegistry.sol";
import {CreditIds} from "../libraries/CreditIds.sol";

/// @title CarbonMRV
/// @notice Devices, emission factors, monitoring reports and their conversion into verified registry batches;
/// see ICarbonMRV.
/// @dev Invariants:
/// - per device, accepted reports tile time without gap or overlap: each starts where the last accepted one
///   ended (`reportedUntil`) and at the next sequence number, and at most one report is open at a time;
/// - per device, whole tonnes issued == floor(sum of accepted reports' mg / 1e9), the rest on `carryMilligrams`
///   (< 1e9), never lost and never counted twice;
/// - a published factor never changes; a device key signs for one device, forever;
/// - every transaction reads a fixed number of slots: no loop runs over stored data, so the 10,000th report costs
///   what the first does, and a report of 100,000 readings what one of 10 does (only the root is stored).
/// The registry is trusted code (Tonne's own): its calls come after this contract's state changes.
contract CarbonMRV is ICarbonMRV, AccessControlDefaultAdminRules, EIP712 {
    /// @notice Registers devices for any project, sets device statuses, resolves disputes.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @notice Approves and suspends devices, approves and rejects reports.
    bytes32 public constant VERIFIER_ROLE = keccak256("VERIFIER_ROLE");
    /// @notice Publishes emission factors.
    bytes32 public constant METHODOLOGY_ROLE = keccak256("METHODOLOGY_ROLE");
    /// @notice The EIP-712 type hash of `Reading`.
    bytes32 public constant READING_TYPEHASH =
        keccak256("Reading(bytes32 device,uint64 sequence,uint40 start,uint40 end,uint256 value)");
    /// @notice The EIP-712 type hash of `DeviceBinding`, which a device key signs to be registered.
    bytes32 private constant DEVICE_BINDING_TYPEHASH = keccak256("DeviceBinding(bytes32 device,uint64 projectId)");
    /// @notice Milligrams in a tonne.
    uint256 public constant MILLIGRAMS_PER_TONNE = 1e9;
    /// @notice The most tonnes one report may yield: the registry's MAX_BATCH_TONNES.
    uint256 public constant MAX_REPORT_TONNES = 1e12;

    struct Device {
        // slot 0: read by every report and approval
        address owner;
        uint64 projectId;
        DeviceKind kind;
        DeviceStatus status;
        bytes2 country;
        // slot 1: the report cursor, read and written by every approval
        uint64 capacityWatts;
        uint40 reportedUntil;
        uint64 nextSequence;
        uint32 carryMilligrams;
        uint56 openReport;
        // slot 2: read by challenges and status changes only
        address key;
        uint40 activeFrom;
        uint16 openDisputes;
        bool approvedOnce;
        // the status the device had when a challenge suspended it, while that dispute or a later one is open;
        // None when no open dispute suspended it (MRV-AUDIT-4)
        DeviceStatus suspendedFrom;
    }

    struct Factor {
        bytes32 code;
        // slot 1: everything a report checks
        bytes2 country;
        uint40 validFrom;
        uint40 validUntil;
        uint64 milligramsPerUnit;
        uint32 version;
    }

    struct Report {
        bytes32 deviceId;
        // slot 1
        uint40 start;
        uint40 end;
        uint64 firstSequence;
        uint64 lastSequence;
        ReportStatus status;
        // slot 2
        uint128 total;
        uint64 factorId;
        uint64 tonnes;
        // slot 3
        bytes32 readingsRoot;
    }

    struct Dispute {
        bytes32 deviceId;
        address challenger;
        bool open;
        bool reinstated;
        bytes32 readingA;
        bytes32 readingB;
    }

    ICarbonRegistry private immutable _registry;
    string private _selfHex; // this contract's address as 0x-hex, for batch references and URIs
    uint64 private _reportCount;
    uint64 private _factorCount;
    uint64 private _disputeCount;
    mapping(bytes32 deviceId => Device) private _devices;
    mapping(address key => bytes32 deviceId) private _deviceOfKey;
    mapping(uint64 factorId => Factor) private _factors;
    mapping(bytes32 code => uint32 version) private _latestVersion;
    mapping(bytes32 code => mapping(uint32 version => uint64 factorId)) private _factorIds;
    mapping(uint64 reportId => Report) private _reports;
    mapping(uint64 disputeId => Dispute) private _disputes;
    mapping(bytes32 readingPair => uint64 disputeId) private _disputeOfPair;

    /// @param registry_ The CarbonRegistry; this contract needs its REGISTRAR_ROLE and VERIFIER_ROLE to approve
    /// reports into batches.
    /// @param admin The DEFAULT_ADMIN_ROLE holder; its transfer takes two steps (the delay starts at 0 and can be
    /// raised with `changeDefaultAdminDelay`).
    constructor(address registry_, address admin)
        AccessControlDefaultAdminRules(0, admin)
        EIP712("Tonne MRV", "1")
    {
        _registry = ICarbonRegistry(registry_);
        _selfHex = Strings.toHexString(address(this));
    }

    // ------------------------------------------------------------------ devices

    /// @inheritdoc ICarbonMRV
    function registerDevice(
        string calldata meterId,
        address key,
        uint64 projectId,
        uint8 kind,
        uint64 capacityWatts,
        uint40 activeFrom,
        bytes calldata keySignature
    ) external returns (bytes32 deviceId) {
        if (bytes(meterId).length == 0) revert MrvEmptyMeterId();
        deviceId = keccak256(bytes(meterId));
        if (_devices[deviceId].status != DeviceStatus.None) revert MrvDeviceExists(deviceId);
        if (key == address(0)) revert MrvZeroDeviceKey();
        bytes32 keyOwner = _deviceOfKey[key];
        if (keyOwner != bytes32(0)) revert MrvKeyInUse(key, keyOwner);
        if (kind > uint8(type(DeviceKind).max)) revert MrvInvalidDeviceKind(kind);
        if (capacityWatts == 0) revert MrvZeroCapacity(deviceId);
        ICarbonRegistry.ProjectStatus projectStatus = _registry.projectStatus(projectId);
        if (projectStatus != ICarbonRegistry.ProjectStatus.Approved) {
            revert MrvProjectNotApproved(projectId, uint8(projectStatus));
        }
        // An Approved project's owner and country never change (core fields are frozen once it leaves Pending),
        // so copies of them stay true.
        ICarbonRegistry.ProjectView memory p = _registry.project(projectId);
        if (msg.sender != p.owner && !hasRole(REGISTRAR_ROLE, msg.sender)) {
            revert MrvNotProjectOwnerOrRegistrar(projectId, msg.sender);
        }
        // Proof of possession (MRV-AUDIT-1): only the holder of `key` can bind it, and to this device and project.
        if (!_signedBy(key, deviceBindingDigest(deviceId, projectId), keySignature)) {
            revert MrvBadKeySignature(deviceId, key);
        }

        Device storage d = _devices[deviceId];
        d.owner = p.owner;
        d.projectId = projectId;
        d.kind = DeviceKind(kind);
        d.status = DeviceStatus.Registered;
        d.country = p.country;
        d.capacityWatts = capacityWatts;
        d.reportedUntil = activeFrom;
        d.nextSequence = 1;
        d.key = key;
        d.activeFrom = activeFrom;
        _deviceOfKey[key] = deviceId;
        emit DeviceRegistered(
            deviceId, projectId, meterId, key, DeviceKind(kind), capacityWatts, activeFrom, p.country, p.owner, msg.sender
        );
    }

    /// @inheritdoc ICarbonMRV
    function approveDevice(bytes32 deviceId) external onlyRole(VERIFIER_ROLE) {
        Device storage d = _existingDevice(deviceId);
        if (d.status != DeviceStatus.Registered) {
            revert MrvInvalidDeviceTransition(deviceId, d.status, DeviceStatus.Approved);
        }
        d.approvedOnce = true;
        _moveDevice(d, deviceId, DeviceStatus.Approved, "approved");
    }

    /// @inheritdoc ICarbonMRV
    function suspendDevice(bytes32 deviceId, string calldata reason) external onlyRole(VERIFIER_ROLE) {
        Device storage d = _existingDevice(deviceId);
        if (bytes(reason).length == 0) revert MrvEmptyReason();
        if (d.status != DeviceStatus.Registered && d.status != DeviceStatus.Approved) {
            revert MrvInvalidDeviceTransition(deviceId, d.status, DeviceStatus.Suspended);
        }
        _moveDevice(d, deviceId, DeviceStatus.Suspended, reason);
    }

    /// @inheritdoc ICarbonMRV
    function setDeviceStatus(bytes32 deviceId, DeviceStatus newStatus, string calldata reason)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        Device storage d = _existingDevice(deviceId);
        if (bytes(reason).length == 0) revert MrvEmptyReason();
        DeviceStatus from = d.status;
        bool allowed = false;
        if (newStatus == DeviceStatus.Suspended) {
            allowed = from == DeviceStatus.Registered || from == DeviceStatus.Approved;
        } else if (newStatus == DeviceStatus.Decommissioned) {
            allowed = from != DeviceStatus.Decommissioned;
        } else if (from == DeviceStatus.Suspended) {
            allowed = newStatus == DeviceStatus.Registered || (newStatus == DeviceStatus.Approved && d.approvedOnce);
            if (allowed && d.openDisputes != 0) revert MrvDeviceHasOpenDisputes(deviceId, d.openDisputes);
        }
        if (!allowed) revert MrvInvalidDeviceTransition(deviceId, from, newStatus);
        _moveDevice(d, deviceId, newStatus, reason);
    }

    /// @inheritdoc ICarbonMRV
    function decommissionDevice(bytes32 deviceId, string calldata reason) external {
        Device storage d = _existingDevice(deviceId);
        if (msg.sender != d.owner && !hasRole(REGISTRAR_ROLE, msg.sender)) {
            revert MrvNotProjectOwnerOrRegistrar(d.projectId, msg.sender);
        }
        if (bytes(reason).length == 0) revert MrvEmptyReason();
        if (d.status == DeviceStatus.Decommissioned) {
            revert MrvInvalidDeviceTransition(deviceId, d.status, DeviceStatus.Decommissioned);
        }
        _moveDevice(d, deviceId, DeviceStatus.Decommissioned, reason);
    }

    // ------------------------------------------------------------------ factors

    /// @inheritdoc ICarbonMRV
    function publishFactor(bytes32 code, bytes2 country, uint40 validFrom, uint40 validUntil, uint64 milligramsPerUnit)
        external
        onlyRole(METHODOLOGY_ROLE)
        returns (uint64 factorId, uint32 version)
    {
        if (code == bytes32(0)) revert MrvZeroFactorCode();
        if (!_isIsoAlpha2(country)) revert MrvInvalidCountry(country);
        if (validUntil < validFrom) revert MrvInvalidFactorValidity(validFrom, validUntil);
        if (milligramsPerUnit == 0) revert MrvZeroFactor(code);
        // 2^32 - 1 versions of one code, 2^64 - 1 factors: the checked increments revert beyond.
        version = ++_latestVersion[code];
        factorId = ++_factorCount;
        _factorIds[code][version] = factorId;
        _factors[factorId] = Factor(code, country, validFrom, validUntil, milligramsPerUnit, version);
        emit FactorPublished(factorId, code, version, country, validFrom, validUntil, milligramsPerUnit, msg.sender);
    }

    // ------------------------------------------------------------------ reports

    /// @inheritdoc ICarbonMRV
    function submitReport(
        bytes32 deviceId,
        uint40 start,
        uint40 end,
        uint64 firstSequence,
        uint64 lastSequence,
        uint256 total,
        uint64 factorId,
        bytes32 readingsRoot
    ) external returns (uint64 reportId) {
        Device storage d = _existingDevice(deviceId);
        if (msg.sender != d.owner && !hasRole(REGISTRAR_ROLE, msg.sender)) {
            revert MrvNotProjectOwnerOrRegistrar(d.projectId, msg.sender);
        }
        if (d.status != DeviceStatus.Approved) revert MrvDeviceNotApproved(deviceId, d.status);
        if (d.openReport != 0) revert MrvReportPending(deviceId, d.openReport);
        if (start != d.reportedUntil) revert MrvReportNotContiguous(deviceId, start, d.reportedUntil);
        if (firstSequence != d.nextSequence) revert MrvWrongFirstSequence(deviceId, firstSequence, d.nextSequence);
        if (end <= start) revert MrvInvalidInterval(start, end);
        if (end > block.timestamp) revert MrvReportInFuture(deviceId, end, block.timestamp);
        if (lastSequence < firstSequence || lastSequence == type(uint64).max) {
            revert MrvInvalidSequenceRange(firstSequence, lastSequence);
        }
        if (readingsRoot == bytes32(0)) revert MrvZeroRoot();
        _checkFactor(factorId, start, end, d.country);
        // Cannot overflow: a 64-bit capacity times a 40-bit interval.
        uint256 maxTotal = uint256(d.capacityWatts) * (end - start) / 3600;
        if (total > maxTotal) revert MrvImplausibleTotal(deviceId, total, maxTotal);

        // Cannot overflow: one report per transaction would need 2^56 transactions.
        unchecked {
            reportId = ++_reportCount;
        }
        d.openReport = uint56(reportId);
        Report storage r = _reports[reportId];
        r.deviceId = deviceId;
        r.start = start;
        r.end = end;
        r.firstSequence = firstSequence;
        r.lastSequence = lastSequence;
        r.status = ReportStatus.Submitted;
        // Cannot truncate: total <= maxTotal < 2^104.
        r.total = uint128(total);
        r.factorId = factorId;
        r.readingsRoot = readingsRoot;
        emit ReportSubmitted(
            reportId, deviceId, start, end, firstSequence, lastSequence, total, factorId, readingsRoot, msg.sender
        );
    }

    /// @inheritdoc ICarbonMRV
    function approveReport(uint64 reportId, uint64 prevBatchNumberHint)
        external
        onlyRole(VERIFIER_ROLE)
        returns (uint256 batchId)
    {
        Report storage r = _openReport(reportId);
        bytes32 deviceId = r.deviceId;
        Device storage d = _devices[deviceId];
        if (d.status != DeviceStatus.Approved) revert MrvDeviceNotApproved(deviceId, d.status);

        uint64 factorId = r.factorId;
        Factor storage f = _factors[factorId];
        // A version published since the submission supersedes the report's factor: the report must be resent.
        _requireLatest(factorId, f);
        // Cannot overflow: a carry below 1e9 plus a total below 2^104 times a 64-bit factor.
        uint256 mg = uint256(d.carryMilligrams) + uint256(r.total) * f.milligramsPerUnit;
        uint256 tonnes = mg / MILLIGRAMS_PER_TONNE;
        if (tonnes > MAX_REPORT_TONNES) revert MrvReportTooLarge(reportId, tonnes, MAX_REPORT_TONNES);

        r.status = ReportStatus.Approved;
        // Cannot truncate: tonnes <= 1e12.
        r.tonnes = uint64(tonnes);
        uint40 end = r.end;
        d.reportedUntil = end;
        d.nextSequence = r.lastSequence + 1;
        // Cannot truncate: a remainder of a division by 1e9.
        uint32 carry = uint32(mg % MILLIGRAMS_PER_TONNE);
        d.carryMilligrams = carry;
        d.openReport = 0;

        if (tonnes != 0) {
            // Every write is done: the registry (trusted) is called last, and the batch id is not stored (the
            // report view finds it by the issuance reference).
            batchId = _issueBatch(d.projectId, reportId, r.start, end, uint64(tonnes), prevBatchNumberHint, r.readingsRoot, factorId);
        }
        emit ReportApproved(reportId, deviceId, batchId, uint64(tonnes), carry, msg.sender);
    }

    /// @inheritdoc ICarbonMRV
    function rejectReport(uint64 reportId, string calldata reason) external onlyRole(VERIFIER_ROLE) {
        Report storage r = _openReport(reportId);
        if (bytes(reason).length == 0) revert MrvEmptyReason();
        r.status = ReportStatus.Rejected;
        bytes32 deviceId = r.deviceId;
        _devices[deviceId].openReport = 0;
        emit ReportRejected(reportId, deviceId, reason, msg.sender);
    }

    // ------------------------------------------------------------------ disputes

    /// @inheritdoc ICarbonMRV
    function challenge(Reading calldata a, bytes calldata signatureA, Reading calldata b, bytes calldata signatureB)
        external
        returns (uint64 disputeId)
    {
        bytes32 deviceId = a.device;
        if (b.device != deviceId) revert MrvChallengeDifferentDevices(deviceId, b.device);
        Device storage d = _existingDevice(deviceId);
        bytes32 digestA = _readingDigest(a);
        bytes32 digestB = _readingDigest(b);
        if (digestA == digestB) revert MrvSameReading(digestA);
        address key = d.key;
        if (!_signedBy(key, digestA, signatureA)) revert MrvBadReadingSignature(deviceId, digestA);
        if (!_signedBy(key, digestB, signatureB)) revert MrvBadReadingSignature(deviceId, digestB);
        // Overlap counts only between well-formed intervals (start < end); a shared sequence number always counts.
        bool overlap = a.start < a.end && b.start < b.end && a.start < b.end && b.start < a.end;
        if (a.sequence != b.sequence && !overlap) revert MrvReadingsDoNotConflict(digestA, digestB);
        bytes32 pair = digestA < digestB
            ? keccak256(abi.encodePacked(digestA, digestB))
            : keccak256(abi.encodePacked(digestB, digestA));
        uint64 existing = _disputeOfPair[pair];
        if (existing != 0) revert MrvDuplicateDispute(existing);

        // Cannot overflow: each dispute needs two distinct signed readings and a transaction.
        unchecked {
            disputeId = ++_disputeCount;
        }
        _disputeOfPair[pair] = disputeId;
        _disputes[disputeId] = Dispute(deviceId, msg.sender, true, false, digestA, digestB);
        // 2^16 - 1 open disputes of one device at most: the checked increment reverts beyond.
        ++d.openDisputes;
        DeviceStatus from = d.status;
        if (from == DeviceStatus.Registered || from == DeviceStatus.Approved) {
            // Only the first open dispute can find the device Registered or Approved: while one is open it stays
            // Suspended (or Decommissioned), as setDeviceStatus refuses to lift a suspension before.
            d.suspendedFrom = from;
            _moveDevice(d, deviceId, DeviceStatus.Suspended, "challenge: conflicting signed readings");
        }
        emit DisputeOpened(disputeId, deviceId, msg.sender, digestA, digestB);
    }

    /// @inheritdoc ICarbonMRV
    function resolveDispute(uint64 disputeId, bool reinstate) external onlyRole(REGISTRAR_ROLE) {
        Dispute storage x = _existingDispute(disputeId);
        if (!x.open) revert MrvDisputeClosed(disputeId);
        bytes32 deviceId = x.deviceId;
        Device storage d = _devices[deviceId];
        // Cannot underflow: every open dispute counted one.
        uint16 othersOpen;
        unchecked {
            othersOpen = d.openDisputes - 1;
        }
        DeviceStatus to = d.suspendedFrom;
        if (reinstate) {
            if (othersOpen != 0) revert MrvDeviceHasOpenDisputes(deviceId, othersOpen);
            if (to != DeviceStatus.None && d.status != DeviceStatus.Suspended) {
                revert MrvInvalidDeviceTransition(deviceId, d.status, to);
            }
        }
        x.open = false;
        x.reinstated = reinstate;
        d.openDisputes = othersOpen;
        if (othersOpen == 0) d.suspendedFrom = DeviceStatus.None;
        emit DisputeResolved(disputeId, deviceId, reinstate, msg.sender);
        // Back to the status the challenge suspended; a status the challenges did not set is left alone.
        if (reinstate && to != DeviceStatus.None) _moveDevice(d, deviceId, to, "dispute resolved: reinstated");
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICarbonMRV
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc ICarbonMRV
    function device(bytes32 deviceId) external view returns (DeviceView memory v) {
        Device storage d = _existingDevice(deviceId);
        v.key = d.key;
        v.projectId = d.projectId;
        v.kind = d.kind;
        v.status = d.status;
        v.country = d.country;
        v.capacityWatts = d.capacityWatts;
        v.reportedUntil = d.reportedUntil;
        v.nextSequence = d.nextSequence;
        v.carryMilligrams = d.carryMilligrams;
        v.openReport = d.openReport;
        v.owner = d.owner;
        v.activeFrom = d.activeFrom;
        v.openDisputes = d.openDisputes;
        v.approvedOnce = d.approvedOnce;
    }

    /// @inheritdoc ICarbonMRV
    function deviceOfKey(address key) external view returns (bytes32) {
        return _deviceOfKey[key];
    }

    /// @inheritdoc ICarbonMRV
    function report(uint64 reportId) external view returns (ReportView memory v) {
        Report storage r = _existingReport(reportId);
        v.deviceId = r.deviceId;
        v.start = r.start;
        v.end = r.end;
        v.firstSequence = r.firstSequence;
        v.lastSequence = r.lastSequence;
        v.total = r.total;
        v.factorId = r.factorId;
        v.readingsRoot = r.readingsRoot;
        v.status = r.status;
        v.tonnes = r.tonnes;
        if (r.tonnes != 0) {
            // Cannot truncate: a token id is a 64-bit project id and a 64-bit batch number.
            v.batchId = uint128(_registry.batchOfIssuanceReference(_issuanceReference(reportId)));
        }
    }

    /// @inheritdoc ICarbonMRV
    function reportCount() external view returns (uint64) {
        return _reportCount;
    }

    /// @inheritdoc ICarbonMRV
    function factor(uint64 factorId) external view returns (FactorView memory) {
        Factor storage f = _factors[factorId];
        if (f.version == 0) revert MrvUnknownFactor(factorId);
        return FactorView(f.code, f.country, f.validFrom, f.validUntil, f.milligramsPerUnit, f.version);
    }

    /// @inheritdoc ICarbonMRV
    function factorCount() external view returns (uint64) {
        return _factorCount;
    }

    /// @inheritdoc ICarbonMRV
    function latestFactorVersion(bytes32 code) external view returns (uint32) {
        return _latestVersion[code];
    }

    /// @inheritdoc ICarbonMRV
    function factorIdOf(bytes32 code, uint32 version) external view returns (uint64) {
        return _factorIds[code][version];
    }

    /// @inheritdoc ICarbonMRV
    function dispute(uint64 disputeId) external view returns (DisputeView memory) {
        Dispute storage x = _existingDispute(disputeId);
        return DisputeView(x.deviceId, x.challenger, x.readingA, x.readingB, x.open, x.reinstated);
    }

    /// @inheritdoc ICarbonMRV
    function disputeCount() external view returns (uint64) {
        return _disputeCount;
    }

    /// @inheritdoc ICarbonMRV
    function deviceBindingDigest(bytes32 device, uint64 projectId) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(DEVICE_BINDING_TYPEHASH, device, projectId)));
    }

    /// @inheritdoc ICarbonMRV
    function readingDigest(Reading calldata reading) external view returns (bytes32) {
        return _readingDigest(reading);
    }

    /// @inheritdoc ICarbonMRV
    function hashReadingLeaf(Reading calldata reading) public pure returns (bytes32) {
        return keccak256(
            bytes.concat(keccak256(abi.encode(reading.device, reading.sequence, reading.start, reading.end, reading.value)))
        );
    }

    /// @inheritdoc ICarbonMRV
    function readingIncluded(uint64 reportId, Reading calldata reading, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        Report storage r = _existingReport(reportId);
        // A leaf the submitter put in the tree counts only if it is a reading of the report's device inside the
        // report's interval and sequence range (MRV-AUDIT-6).
        if (
            reading.device != r.deviceId || reading.start < r.start || reading.end > r.end
                || reading.sequence < r.firstSequence || reading.sequence > r.lastSequence
        ) return false;
        return MerkleProof.verifyCalldata(proof, r.readingsRoot, hashReadingLeaf(reading));
    }

    // ------------------------------------------------------------------ internals

    /// @dev Adds and verifies the batch of report `reportId`: `tonnes` serials right after batch `prevHint` of
    /// project `projectId` (from 1 with no hint). Reads the hinted batch only: constant cost.
    function _issueBatch(
        uint64 projectId,
        uint64 reportId,
        uint40 start,
        uint40 end,
        uint64 tonnes,
        uint64 prevHint,
        bytes32 root,
        uint64 factorId
    ) private returns (uint256 batchId) {
        uint64 serialFirst = prevHint == 0
            ? 1
            : _registry.batch(CreditIds.encode(projectId, prevHint)).serialLast + 1;
        string memory id = Strings.toString(reportId);
        string memory self = _selfHex;
        ICarbonRegistry.BatchInput memory input = ICarbonRegistry.BatchInput({
            serialFirst: serialFirst,
            serialLast: serialFirst + tonnes - 1,
            periodStart: start,
            periodEnd: end,
            issuanceReference: _issuanceReference(reportId),
            metadataURI: string.concat(
                "mrv://",
                self,
                "/reports/",
                id,
                "?root=",
                Strings.toHexString(uint256(root), 32),
                "&factor=",
                Strings.toString(factorId)
            )
        });
        batchId = _registry.addBatch(projectId, input, prevHint);
        _registry.verifyBatch(batchId);
    }

    function _issuanceReference(uint64 reportId) private view returns (string memory) {
        return string.concat("MRV/", _selfHex, "/", Strings.toString(reportId));
    }

    function _checkFactor(uint64 factorId, uint40 start, uint40 end, bytes2 deviceCountry) private view {
        Factor storage f = _factors[factorId];
        if (f.version == 0) revert MrvUnknownFactor(factorId);
        _requireLatest(factorId, f);
        if (start < f.validFrom || end > f.validUntil) {
            revert MrvFactorNotValid(factorId, start, end, f.validFrom, f.validUntil);
        }
        if (f.country != deviceCountry) revert MrvFactorCountryMismatch(factorId, f.country, deviceCountry);
    }

    /// @dev A factor superseded by a later version of its code is refused (MRV-AUDIT-3): the correction applies.
    function _requireLatest(uint64 factorId, Factor storage f) private view {
        uint32 latest = _latestVersion[f.code];
        if (f.version != latest) revert MrvFactorSuperseded(factorId, f.version, latest);
    }

    function _signedBy(address key, bytes32 digest, bytes calldata signature) private pure returns (bool) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        return err == ECDSA.RecoverError.NoError && signer == key;
    }

    function _readingDigest(Reading calldata r) private view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(READING_TYPEHASH, r.device, r.sequence, r.start, r.end, r.value)));
    }

    function _moveDevice(Device storage d, bytes32 deviceId, DeviceStatus to, string memory reason) private {
        DeviceStatus from = d.status;
        d.status = to;
        emit DeviceStatusChanged(deviceId, from, to, reason, msg.sender);
    }

    function _existingDevice(bytes32 deviceId) private view returns (Device storage d) {
        d = _devices[deviceId];
        if (d.status == DeviceStatus.None) revert MrvUnknownDevice(deviceId);
    }

    function _existingDispute(uint64 disputeId) private view returns (Dispute storage x) {
        x = _disputes[disputeId];
        if (x.deviceId == bytes32(0)) revert MrvUnknownDispute(disputeId);
    }

    function _existingReport(uint64 reportId) private view returns (Report storage r) {
        r = _reports[reportId];
        if (r.status == ReportStatus.None) revert MrvUnknownReport(reportId);
    }

    function _openReport(uint64 reportId) private view returns (Report storage r) {
        r = _existingReport(reportId);
        if (r.status != ReportStatus.Submitted) revert MrvReportNotOpen(reportId, r.status);
    }

    function _isIsoAlpha2(bytes2 code) private pure returns (bool) {
        bytes1 a = code[0];
        bytes1 b = code[1];
        return a >= "A" && a <= "Z" && b >= "A" && b <= "Z";
    }
}
