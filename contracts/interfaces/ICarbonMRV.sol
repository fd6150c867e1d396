// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ICarbonMRV
/// @notice Measurement, reporting and verification: signed meter readings turned into verified registry batches.
/// A device (meter) has a signing key and belongs to one registry project; its readings are signed off-chain
/// (EIP-712, domain "Tonne MRV" version "1", this chain and this contract, type
/// `Reading(bytes32 device,uint64 sequence,uint40 start,uint40 end,uint256 value)`) and stay off-chain. A report
/// covers one device for one interval `[start, end)`, starting exactly where the device's last accepted report
/// ended, and carries the readings' total, the emission factor used and the Merkle root of the readings (see
/// `hashReadingLeaf`; OpenZeppelin StandardMerkleTree compatible). A verifier's approval turns the report into a
/// registry batch of whole tonnes, verified at once; the remainder below a tonne is carried on the device to its
/// next report.
/// Units: a reading's value is in the device's unit (watt-hours for a generation meter); a factor is milligrams
/// CO2e per unit (for Wh, equal to grams per kWh); `total * milligramsPerUnit` milligrams, exact in integers; one
/// tonne is 1e9 mg. Per device, over any number of reports, whole tonnes issued == floor(sum of each report's mg).
/// Capacity: a device's `capacityWatts` is its nameplate rate, in units per hour (W for a Wh meter); a report's
/// total may not exceed `capacityWatts * (end - start) / 3600`.
/// Storage per report is constant (a report of 100,000 readings costs what one of 10 does), and no transaction
/// loops over stored data.
/// @dev Warning: trust assumptions.
/// - This contract holds REGISTRAR_ROLE and VERIFIER_ROLE of the registry (granted at deploy): anyone holding
///   VERIFIER_ROLE here can add and verify a batch of an Approved project that has an approved device, in the
///   amount a report (submitted by the project owner or a registrar) claims, bounded by the device's capacity.
/// - A device key is trusted to sign only what its meter measured; a report's total and root are the submitter's
///   claims, which the verifier re-derives off-chain from the signed readings before approving. Nothing on-chain
///   checks the total against the readings: the root commits the submitter to them, for any later audit.
/// - A successful `challenge` suspends a device and records a dispute; a batch already issued from its reports
///   stays issued. The registrar investigates and may cancel the credits through the registry's `cancelCredits`,
///   then closes the dispute with `resolveDispute`, reinstating the device or not.
/// - The METHODOLOGY role publishes emission factors; a published factor never changes (a new value is a new
///   version), so a report always names the exact value it was computed with.
interface ICarbonMRV {
    /// @notice What a device measures: a generation meter (e.g. Wh of a wind turbine) or an emissions meter.
    enum DeviceKind {
        GenerationMeter,
        EmissionsMeter
    }

    /// @notice Lifecycle of a device. `None` marks an id never registered.
    /// @dev Moves: Registered -> Approved (verifier); Registered | Approved -> Suspended (verifier, registrar, or a
    /// successful challenge); Suspended -> Approved (registrar, only for a device approved before) | Registered
    /// (registrar); any but Decommissioned -> Decommissioned (registrar or the project owner). Decommissioned is
    /// final. A device with an open dispute cannot be reinstated.
    enum DeviceStatus {
        None,
        Registered,
        Approved,
        Suspended,
        Decommissioned
    }

    /// @notice Lifecycle of a report: Submitted, then Approved or Rejected (both final).
    enum ReportStatus {
        None,
        Submitted,
        Approved,
        Rejected
    }

    /// @notice One signed meter reading (the EIP-712 `Reading`): `value` measured by device `device` over
    /// `[start, end)` (unix seconds), its `sequence`-th reading (counting from 1).
    struct Reading {
        bytes32 device;
        uint64 sequence;
        uint40 start;
        uint40 end;
        uint256 value;
    }

    /// @notice A device as stored.
    /// @param key The address whose signatures are the device's readings.
    /// @param owner The project's owner at registration (a project's owner never changes once Approved).
    /// @param country The project's country, copied at registration (ISO 3166-1 alpha-2).
    /// @param reportedUntil Where the device's next report must start (unix seconds; first `activeFrom`).
    /// @param nextSequence The first sequence number of the device's next report (first 1).
    /// @param carryMilligrams The remainder below a tonne carried to the next report (< 1e9).
    /// @param openReport The id of the device's Submitted report, 0 if none.
    /// @param openDisputes How many disputes of the device are open.
    struct DeviceView {
        address key;
        uint64 projectId;
        DeviceKind kind;
        DeviceStatus status;
        bytes2 country;
        uint64 capacityWatts;
        uint40 reportedUntil;
        uint64 nextSequence;
        uint32 carryMilligrams;
        uint64 openReport;
        address owner;
        uint40 activeFrom;
        uint16 openDisputes;
        bool approvedOnce;
    }

    /// @notice An emission factor as published: `milligramsPerUnit` mg CO2e per unit, for devices of `country`,
    /// valid for reports within `[validFrom, validUntil]`; `version` of `code` (counting from 1).
    struct FactorView {
        bytes32 code;
        bytes2 country;
        uint40 validFrom;
        uint40 validUntil;
        uint64 milligramsPerUnit;
        uint32 version;
    }

    /// @notice A report as stored. `tonnes` is set at approval; `batchId` is the registry batch of the report's
    /// issuance reference (0 when it yielded no whole tonne, or before approval).
    struct ReportView {
        bytes32 deviceId;
        uint40 start;
        uint40 end;
        uint64 firstSequence;
        uint64 lastSequence;
        uint128 total;
        uint64 factorId;
        bytes32 readingsRoot;
        ReportStatus status;
        uint128 batchId;
        uint64 tonnes;
    }

    /// @notice A dispute: two readings of device `deviceId` (their EIP-712 digests) that conflict, brought by
    /// `challenger`. `open` until the registrar resolves it; `reinstated` says how.
    struct DisputeView {
        bytes32 deviceId;
        address challenger;
        bytes32 readingA;
        bytes32 readingB;
        bool open;
        bool reinstated;
    }

    // ------------------------------------------------------------------ errors

    /// @notice Device `deviceId` was never registered.
    error MrvUnknownDevice(bytes32 deviceId);
    /// @notice A device with meter id hash `deviceId` already exists.
    error MrvDeviceExists(bytes32 deviceId);
    /// @notice The meter id is empty.
    error MrvEmptyMeterId();
    /// @notice The device key is the zero address.
    error MrvZeroDeviceKey();
    /// @notice `key` is already the key of device `deviceId` (a key signs for one device, forever).
    error MrvKeyInUse(address key, bytes32 deviceId);
    /// @notice Device kind `kind` does not exist (0 a generation meter, 1 an emissions meter).
    error MrvInvalidDeviceKind(uint8 kind);
    /// @notice A device's capacity must be above zero.
    error MrvZeroCapacity(bytes32 deviceId);
    /// @notice The action needs project `projectId` to be Approved in the registry; it is `status`
    /// (ICarbonRegistry.ProjectStatus, 0 for an unknown project).
    error MrvProjectNotApproved(uint64 projectId, uint8 status);
    /// @notice `account` is neither the owner of project `projectId` nor a registrar.
    error MrvNotProjectOwnerOrRegistrar(uint64 projectId, address account);
    /// @notice Device `deviceId` cannot move from `from` to `to`.
    error MrvInvalidDeviceTransition(bytes32 deviceId, DeviceStatus from, DeviceStatus to);
    /// @notice Device `deviceId` has `openDisputes` open disputes, so it cannot be reinstated.
    error MrvDeviceHasOpenDisputes(bytes32 deviceId, uint16 openDisputes);
    /// @notice A status change or rejection must say why.
    error MrvEmptyReason();
    /// @notice The action needs device `deviceId` to be Approved; it is `status`.
    error MrvDeviceNotApproved(bytes32 deviceId, DeviceStatus status);
    /// @notice Factor code is zero.
    error MrvZeroFactorCode();
    /// @notice `country` is not an upper-case ISO 3166-1 alpha-2 code.
    error MrvInvalidCountry(bytes2 country);
    /// @notice A factor's validity must not end before it starts (`validFrom <= validUntil`).
    error MrvInvalidFactorValidity(uint40 validFrom, uint40 validUntil);
    /// @notice `keySignature` is no valid signature by `key` of device `deviceId`'s binding to its project
    /// (`deviceBindingDigest`).
    error MrvBadKeySignature(bytes32 deviceId, address key);
    /// @notice A factor of zero milligrams per unit.
    error MrvZeroFactor(bytes32 code);
    /// @notice Factor `factorId` was never published.
    error MrvUnknownFactor(uint64 factorId);
    /// @notice Factor `factorId` is valid for `[validFrom, validUntil]`, which does not contain the report's
    /// `[start, end]`.
    error MrvFactorNotValid(uint64 factorId, uint40 start, uint40 end, uint40 validFrom, uint40 validUntil);
    /// @notice Factor `factorId` is version `version` of its code, superseded by version `latestVersion`: only
    /// the latest version of a code may be used (a correction applies from its publication).
    error MrvFactorSuperseded(uint64 factorId, uint32 version, uint32 latestVersion);
    /// @notice Factor `factorId` is for `factorCountry`; the device is in `deviceCountry`.
    error MrvFactorCountryMismatch(uint64 factorId, bytes2 factorCountry, bytes2 deviceCountry);
    /// @notice Device `deviceId` already has report `reportId` open (submitted, not yet approved or rejected).
    error MrvReportPending(bytes32 deviceId, uint64 reportId);
    /// @notice A report of device `deviceId` starts at `start`; the device's last accepted report ended at
    /// `expected` (or the device became active then).
    error MrvReportNotContiguous(bytes32 deviceId, uint40 start, uint40 expected);
    /// @notice A report of device `deviceId` starts at sequence `firstSequence`; the device's next is `expected`.
    error MrvWrongFirstSequence(bytes32 deviceId, uint64 firstSequence, uint64 expected);
    /// @notice A report's interval does not end after it starts.
    error MrvInvalidInterval(uint40 start, uint40 end);
    /// @notice A report of device `deviceId` ends at `end`, after the block's time `now`: nothing measured it yet.
    error MrvReportInFuture(bytes32 deviceId, uint40 end, uint256 now);
    /// @notice A report's last sequence is below its first (or is 2^64 - 1, which leaves no next sequence).
    error MrvInvalidSequenceRange(uint64 firstSequence, uint64 lastSequence);
    /// @notice A report's readings root is zero.
    error MrvZeroRoot();
    /// @notice Device `deviceId` reports `total`, more than its capacity allows over the interval, `maxTotal`.
    error MrvImplausibleTotal(bytes32 deviceId, uint256 total, uint256 maxTotal);
    /// @notice Report `reportId` was never submitted.
    error MrvUnknownReport(uint64 reportId);
    /// @notice Report `reportId` is `status`, not Submitted.
    error MrvReportNotOpen(uint64 reportId, ReportStatus status);
    /// @notice Report `reportId` yields `tonnes`, above the `maxTonnes` one batch may hold.
    error MrvReportTooLarge(uint64 reportId, uint256 tonnes, uint256 maxTonnes);
    /// @notice A challenge's two readings are of devices `deviceA` and `deviceB`, not one.
    error MrvChallengeDifferentDevices(bytes32 deviceA, bytes32 deviceB);
    /// @notice The reading with digest `readingDigest` is not signed by the key of device `deviceId`.
    error MrvBadReadingSignature(bytes32 deviceId, bytes32 readingDigest);
    /// @notice Both readings of a challenge are the same reading (digest `readingDigest`).
    error MrvSameReading(bytes32 readingDigest);
    /// @notice The readings `readingA` and `readingB` neither share a sequence number nor overlap in time.
    error MrvReadingsDoNotConflict(bytes32 readingA, bytes32 readingB);
    /// @notice These two readings were already brought as dispute `disputeId`.
    error MrvDuplicateDispute(uint64 disputeId);
    /// @notice Dispute `disputeId` does not exist.
    error MrvUnknownDispute(uint64 disputeId);
    /// @notice Dispute `disputeId` was already resolved.
    error MrvDisputeClosed(uint64 disputeId);

    // ------------------------------------------------------------------ events

    /// @notice Device `deviceId` (keccak256 of `meterId`) was registered for project `projectId` by `by`.
    event DeviceRegistered(
        bytes32 indexed deviceId,
        uint64 indexed projectId,
        string meterId,
        address key,
        DeviceKind kind,
        uint64 capacityWatts,
        uint40 activeFrom,
        bytes2 country,
        address owner,
        address indexed by
    );
    /// @notice Device `deviceId` moved from `from` to `to`, by `by`, for `reason`.
    event DeviceStatusChanged(
        bytes32 indexed deviceId, DeviceStatus from, DeviceStatus to, string reason, address indexed by
    );
    /// @notice Factor `factorId`, version `version` of `code`, was published by `by`.
    event FactorPublished(
        uint64 indexed factorId,
        bytes32 indexed code,
        uint32 version,
        bytes2 country,
        uint40 validFrom,
        uint40 validUntil,
        uint64 milligramsPerUnit,
        address indexed by
    );
    /// @notice Report `reportId` of device `deviceId` was submitted by `by`.
    event ReportSubmitted(
        uint64 indexed reportId,
        bytes32 indexed deviceId,
        uint40 start,
        uint40 end,
        uint64 firstSequence,
        uint64 lastSequence,
        uint256 total,
        uint64 factorId,
        bytes32 readingsRoot,
        address indexed by
    );
    /// @notice Verifier `verifier` approved report `reportId`: `tonnes` whole tonnes in batch `batchId` (0: none),
    /// `carryMilligrams` left on the device, whose next report starts at the report's end and next sequence.
    event ReportApproved(
        uint64 indexed reportId,
        bytes32 indexed deviceId,
        uint256 batchId,
        uint64 tonnes,
        uint32 carryMilligrams,
        address indexed verifier
    );
    /// @notice Report `reportId` was rejected by `by` for `reason`; the device may submit a corrected report.
    event ReportRejected(uint64 indexed reportId, bytes32 indexed deviceId, string reason, address indexed by);
    /// @notice `challenger` proved two conflicting signed readings of device `deviceId` (digests `readingA`,
    /// `readingB`): dispute `disputeId` is open.
    event DisputeOpened(
        uint64 indexed disputeId, bytes32 indexed deviceId, address indexed challenger, bytes32 readingA, bytes32 readingB
    );
    /// @notice Dispute `disputeId` was resolved by `by`; `reinstated` says whether the device was reinstated.
    event DisputeResolved(uint64 indexed disputeId, bytes32 indexed deviceId, bool reinstated, address indexed by);

    // ------------------------------------------------------------------ devices

    /// @notice Registers device `keccak256(bytes(meterId))` for project `projectId`, Registered (its data counts
    /// once a verifier approves it). The project owner or a REGISTRAR; the project must be Approved.
    /// @param meterId The meter's id, UTF-8, unique in this contract.
    /// @param key The address whose EIP-712 signatures are the device's readings; unused by any other device.
    /// @param keySignature Proof that the registrant holds `key`: its 65-byte EIP-712 signature (domain "Tonne MRV",
    /// version "1", this chain and contract) of `DeviceBinding(bytes32 device,uint64 projectId)` for this device id
    /// and `projectId`, i.e. of `deviceBindingDigest(deviceId, projectId)`; else `MrvBadKeySignature`. A key
    /// address alone (public once the meter signs anything) can no longer be bound by someone else.
    /// @param kind A `DeviceKind`: 0 a generation meter, 1 an emissions meter.
    /// @param capacityWatts Nameplate capacity, in units per hour (W for a Wh meter); above zero.
    /// @param activeFrom Where the device's first report starts, unix seconds.
    /// @return deviceId The device's id.
    function registerDevice(
        string calldata meterId,
        address key,
        uint64 projectId,
        uint8 kind,
        uint64 capacityWatts,
        uint40 activeFrom,
        bytes calldata keySignature
    ) external returns (bytes32 deviceId);

    /// @notice Approves a Registered device, so that its reports can be submitted. Only a VERIFIER.
    function approveDevice(bytes32 deviceId) external;

    /// @notice Suspends a Registered or Approved device, saying why: no report of it can be submitted or
    /// approved (its open report may still be rejected). Only a VERIFIER.
    function suspendDevice(bytes32 deviceId, string calldata reason) external;

    /// @notice Moves a device to `newStatus`, saying why. Only a REGISTRAR. Allowed: Registered | Approved ->
    /// Suspended; Suspended -> Registered, or -> Approved for a device approved before (reinstatement, only with
    /// no open dispute); any but Decommissioned -> Decommissioned.
    function setDeviceStatus(bytes32 deviceId, DeviceStatus newStatus, string calldata reason) external;

    /// @notice Decommissions a device for good, saying why. The project owner or a REGISTRAR. Its key stays
    /// used (it can never sign for another device).
    function decommissionDevice(bytes32 deviceId, string calldata reason) external;

    // ------------------------------------------------------------------ factors

    /// @notice Publishes the next version of emission factor `code`: `milligramsPerUnit` mg CO2e per unit for
    /// devices of `country`, valid for reports within `[validFrom, validUntil]`. Only the METHODOLOGY role.
    /// Published factors never change.
    /// @return factorId The factor's id (counting from 1, across codes).
    /// @return version Its version of `code` (counting from 1).
    function publishFactor(bytes32 code, bytes2 country, uint40 validFrom, uint40 validUntil, uint64 milligramsPerUnit)
        external
        returns (uint64 factorId, uint32 version);

    // ------------------------------------------------------------------ reports

    /// @notice Submits a report of device `deviceId` over `[start, end)`, readings `firstSequence` to
    /// `lastSequence`, summing to `total` (device units), computed with factor `factorId`, the readings' Merkle
    /// root `readingsRoot`. The project owner or a REGISTRAR; the device must be Approved, have no open report,
    /// and the report must start at the device's `reportedUntil` and `nextSequence` and end no later than the
    /// block's time; the factor must be the latest version of its code (else `MrvFactorSuperseded`) and valid
    /// for the interval and the device's country; the total may not exceed the device's capacity over it.
    /// @return reportId The report's id, counting from 1.
    function submitReport(
        bytes32 deviceId,
        uint40 start,
        uint40 end,
        uint64 firstSequence,
        uint64 lastSequence,
        uint256 total,
        uint64 factorId,
        bytes32 readingsRoot
    ) external returns (uint64 reportId);

    /// @notice Approves Submitted report `reportId`. Only a VERIFIER; the device must be Approved and the report's
    /// factor still the latest version of its code (`MrvFactorSuperseded` once a newer one is published: reject
    /// the report and resend it with the new version). Computes
    /// `mg = carry + total * factor`, `tonnes = mg / 1e9` and leaves `mg % 1e9` on the device. With tonnes > 0,
    /// adds the registry batch (serials right after batch `prevBatchNumberHint` of the project, or from 1 when it
    /// is 0; period the report's interval; issuance reference "MRV/<this contract>/<reportId>"; metadata URI
    /// "mrv://<this contract>/reports/<reportId>?root=<root>&factor=<factorId>") and verifies it. The device's
    /// next report starts at this one's end and last sequence + 1. Registry errors (a bad hint, an overlap, a
    /// project no longer Approved) bubble up unchanged.
    /// @return batchId The batch's token id, 0 when the report yields no whole tonne.
    function approveReport(uint64 reportId, uint64 prevBatchNumberHint) external returns (uint256 batchId);

    /// @notice Rejects Submitted report `reportId`, saying why; the device may submit a corrected report of the
    /// same interval. Only a VERIFIER.
    function rejectReport(uint64 reportId, string calldata reason) external;

    // ------------------------------------------------------------------ disputes

    /// @notice Anyone: proves that a device double-reported with two different readings, both signed by its key,
    /// that share a sequence number or overlap in time. The device is Suspended (unless Suspended or
    /// Decommissioned already) and a dispute is opened for the registrar. Batches already issued stay issued (see
    /// the contract notes).
    /// @return disputeId The dispute's id, counting from 1.
    function challenge(Reading calldata a, bytes calldata signatureA, Reading calldata b, bytes calldata signatureB)
        external
        returns (uint64 disputeId);

    /// @notice Closes open dispute `disputeId`. Only a REGISTRAR. With `reinstate` (refused while another dispute
    /// of the device is open), the device goes back to exactly the status it had when the challenge of its first
    /// open dispute suspended it (Approved or Registered; it must still be Suspended); if no challenge suspended it
    /// (a verifier or registrar had, or it was Decommissioned), its status is left alone.
    function resolveDispute(uint64 disputeId, bool reinstate) external;

    // ------------------------------------------------------------------ views

    /// @notice The registry this contract adds batches to.
    function registry() external view returns (address);

    /// @notice A device. Reverts for an unknown id.
    function device(bytes32 deviceId) external view returns (DeviceView memory);

    /// @notice The device whose key is `key`, 0 if none.
    function deviceOfKey(address key) external view returns (bytes32);

    /// @notice A report. Reverts for an unknown id.
    function report(uint64 reportId) external view returns (ReportView memory);

    /// @notice How many reports exist; ids run from 1 to this number.
    function reportCount() external view returns (uint64);

    /// @notice A factor. Reverts for an unknown id.
    function factor(uint64 factorId) external view returns (FactorView memory);

    /// @notice How many factors exist; ids run from 1 to this number.
    function factorCount() external view returns (uint64);

    /// @notice The latest version of factor `code` (0 if none).
    function latestFactorVersion(bytes32 code) external view returns (uint32);

    /// @notice The id of version `version` of factor `code` (0 if none).
    function factorIdOf(bytes32 code, uint32 version) external view returns (uint64);

    /// @notice A dispute. Reverts for an unknown id.
    function dispute(uint64 disputeId) external view returns (DisputeView memory);

    /// @notice How many disputes exist; ids run from 1 to this number.
    function disputeCount() external view returns (uint64);

    /// @notice The EIP-712 digest a device key signs to be registered as device `device` of project `projectId`:
    /// of `DeviceBinding(bytes32 device,uint64 projectId)`, domain "Tonne MRV" "1" of this chain and contract.
    function deviceBindingDigest(bytes32 device, uint64 projectId) external view returns (bytes32);

    /// @notice The EIP-712 digest a device key signs for `reading`.
    function readingDigest(Reading calldata reading) external view returns (bytes32);

    /// @notice The Merkle leaf of `reading`: keccak256(bytes.concat(keccak256(abi.encode(device, sequence, start,
    /// end, value)))), as OpenZeppelin's StandardMerkleTree hashes it.
    function hashReadingLeaf(Reading calldata reading) external pure returns (bytes32);

    /// @notice Whether `reading` is a reading of report `reportId`: of the report's device, inside its interval
    /// (report.start <= reading.start, reading.end <= report.end), inside its sequence range (firstSequence <=
    /// reading.sequence <= lastSequence), and a leaf of its readings root by the inclusion `proof`. False if any
    /// of these fails, whatever the tree holds. Reverts for an unknown report.
    function readingIncluded(uint64 reportId, Reading calldata reading, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
