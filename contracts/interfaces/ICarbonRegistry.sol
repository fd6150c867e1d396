// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ICarbonRegistry
/// @notice The registry of carbon projects and of their credit batches (vintages). Each batch is one ERC-1155
/// token id of the credit token (see `CreditIds` for the id layout). The registry is the on-chain guard against
/// double counting: within a project no two batches may share a serial number, and no issuance reference of a
/// standard can be tokenized twice. Both checks cost the same whatever the number of batches already stored.
/// @dev Warning: the REGISTRAR is trusted to register real projects and to set their status honestly; the
/// VERIFIER is trusted to approve only batches that the standard has actually issued. Nothing on-chain can
/// check a claim against an off-chain registry: the roles carry that trust, and every decision is an event.
interface ICarbonRegistry {
    /// @notice Lifecycle of a project. `None` marks an id that was never registered.
    /// @dev Allowed moves: Pending -> Approved | Terminated; Approved -> Suspended | Terminated;
    /// Suspended -> Approved | Terminated. Terminated is final. Credits of Suspended and Terminated projects
    /// cannot be issued, transferred or retired; only the registrar's cancel may remove them.
    enum ProjectStatus {
        None,
        Pending,
        Approved,
        Suspended,
        Terminated
    }

    /// @notice What a registrar supplies to register (or, while Pending, rewrite) a project.
    /// @param standard Short code of the standard, e.g. "VCS", "GS", "CCER".
    /// @param externalId The project's id at that standard; unique per standard.
    /// @param country ISO 3166-1 alpha-2 code, upper case, e.g. "BR".
    /// @param owner The project developer's account.
    /// @param metadataURI Where the project documents live; `metadataHash` is the hash of their content.
    struct ProjectInput {
        string standard;
        string externalId;
        string name;
        string methodology;
        string projectType;
        bytes2 country;
        string region;
        address owner;
        string metadataURI;
        bytes32 metadataHash;
    }

    /// @notice A project as stored. `documentVersion` starts at 1 and grows with each document update.
    struct ProjectView {
        string standard;
        string externalId;
        string name;
        string methodology;
        string projectType;
        bytes2 country;
        string region;
        address owner;
        string metadataURI;
        bytes32 metadataHash;
        ProjectStatus status;
        uint32 documentVersion;
        uint32 batchCount;
    }

    /// @notice What a registrar supplies to add a batch. The quantity is the serial range's length:
    /// `serialLast - serialFirst + 1` tonnes.
    /// @param serialFirst First serial number of the range at the standard (inclusive).
    /// @param serialLast Last serial number of the range at the standard (inclusive).
    /// @param periodStart Start of the monitoring (vintage) period, unix seconds.
    /// @param periodEnd End of the monitoring period, unix seconds; after `periodStart`.
    /// @param issuanceReference The standard's issuance reference for these credits; never usable twice.
    /// @param metadataURI The batch's metadata document, returned by the credit token's `uri(id)`.
    struct BatchInput {
        uint64 serialFirst;
        uint64 serialLast;
        uint40 periodStart;
        uint40 periodEnd;
        string issuanceReference;
        string metadataURI;
    }

    /// @notice A batch as stored.
    struct BatchView {
        uint64 projectId;
        uint64 serialFirst;
        uint64 serialLast;
        uint40 periodStart;
        uint40 periodEnd;
        bool verified;
        address verifier;
        uint64 nextBatchNumber;
        string issuanceReference;
        string metadataURI;
    }

    // ------------------------------------------------------------------ errors

    /// @notice The credit token is already bound, to `current`.
    error RegistryCreditTokenAlreadyBound(address current);
    /// @notice The zero address cannot be bound as the credit token.
    error RegistryZeroCreditToken();
    /// @notice The credit token has not been bound yet, so nothing can be verified.
    error RegistryCreditTokenNotBound();
    /// @notice `projectId` was never registered.
    error RegistryUnknownProject(uint64 projectId);
    /// @notice The batch with token id `id` does not exist.
    error RegistryUnknownBatch(uint256 id);
    /// @notice A field of a project input is empty or malformed; `field` names it.
    error RegistryInvalidProjectField(string field);
    /// @notice Another project of `standard` already has `externalId`.
    error RegistryDuplicateProject(string standard, string externalId, uint64 existingProjectId);
    /// @notice The project's core fields can only change while it is Pending.
    error RegistryProjectImmutable(uint64 projectId, ProjectStatus status);
    /// @notice The move from `from` to `to` is not an allowed status change.
    error RegistryInvalidStatusTransition(uint64 projectId, ProjectStatus from, ProjectStatus to);
    /// @notice A status change must say why.
    error RegistryEmptyReason();
    /// @notice The action needs the project to be Approved.
    error RegistryProjectNotApproved(uint64 projectId, ProjectStatus status);
    /// @notice `account` may not do this for project `projectId`.
    error RegistryNotProjectOwnerOrRegistrar(uint64 projectId, address account);
    /// @notice `serialFirst > serialLast`.
    error RegistryInvalidSerialRange(uint64 serialFirst, uint64 serialLast);
    /// @notice The batch holds `quantityTonnes`, more than the `maxTonnes` one batch may hold.
    error RegistryBatchTooLarge(uint256 quantityTonnes, uint256 maxTonnes);
    /// @notice The monitoring period does not end after it starts.
    error RegistryInvalidPeriod(uint40 periodStart, uint40 periodEnd);
    /// @notice The range `[serialFirst, serialLast]` shares serials with batch `conflictingId`.
    error RegistrySerialOverlap(uint64 projectId, uint64 serialFirst, uint64 serialLast, uint256 conflictingId);
    /// @notice The hint does not point at the batch right before the new range; recompute it.
    error RegistryBadPositionHint(uint64 projectId, uint64 prevBatchNumberHint, uint64 serialFirst);
    /// @notice The issuance reference is empty.
    error RegistryEmptyIssuanceReference();
    /// @notice The issuance reference was already used by batch `existingId`.
    error RegistryIssuanceReferenceUsed(string issuanceReference, uint256 existingId);
    /// @notice The batch was already verified.
    error RegistryBatchAlreadyVerified(uint256 id);
    /// @notice `account` does not hold the issuer role, or is not authorised for project `projectId`.
    error RegistryIssuerNotAuthorized(uint64 projectId, address account);

    // ------------------------------------------------------------------ events

    /// @notice The credit token was bound to this registry (once).
    event CreditTokenBound(address indexed creditToken);
    /// @notice A project was registered as Pending.
    event ProjectRegistered(
        uint64 indexed projectId, string standard, string externalId, address indexed owner, ProjectInput input
    );
    /// @notice A Pending project's core fields were rewritten.
    event ProjectUpdated(uint64 indexed projectId, ProjectInput input);
    /// @notice A project's status changed from `from` to `to` by `by`, for `reason`.
    event ProjectStatusChanged(
        uint64 indexed projectId, ProjectStatus from, ProjectStatus to, string reason, address indexed by
    );
    /// @notice A project's documents moved to version `version`.
    event ProjectDocumentsUpdated(uint64 indexed projectId, uint32 version, string metadataURI, bytes32 metadataHash);
    /// @notice `issuer` was authorised (or no longer) to issue credits of project `projectId`.
    event ProjectIssuerSet(uint64 indexed projectId, address indexed issuer, bool authorized);
    /// @notice A batch was added; it holds no credits until verified.
    event BatchAdded(
        uint256 indexed id,
        uint64 indexed projectId,
        uint64 serialFirst,
        uint64 serialLast,
        uint40 periodStart,
        uint40 periodEnd,
        string issuanceReference,
        string metadataURI
    );
    /// @notice A verifier approved a batch; up to its quantity may now be issued.
    event BatchVerified(uint256 indexed id, address indexed verifier, uint256 quantityTonnes);

    // ------------------------------------------------------------------ registrar

    /// @notice Binds the credit token that the registry drives. Callable once, by the admin.
    /// @param creditToken The deployed `CarbonCredit` whose registry is this contract.
    function bindCreditToken(address creditToken) external;

    /// @notice Registers a project as Pending. Only the REGISTRAR.
    /// @return projectId The new project's id, counting from 1.
    function registerProject(ProjectInput calldata input) external returns (uint64 projectId);

    /// @notice Rewrites a Pending project's core fields. Only the REGISTRAR; reverts once approved.
    function updateProject(uint64 projectId, ProjectInput calldata input) external;

    /// @notice Moves a project to `newStatus`, saying why. Only the REGISTRAR. Suspending or terminating an
    /// Approved project restricts its credits in the token at once; re-approving a Suspended one lifts that.
    function setProjectStatus(uint64 projectId, ProjectStatus newStatus, string calldata reason) external;

    /// @notice Publishes a new version of the project documents. The REGISTRAR or the project owner; not once
    /// Terminated. The old version stays in the event log: documents are versioned, never rewritten.
    function updateProjectDocuments(uint64 projectId, string calldata metadataURI, bytes32 metadataHash) external;

    /// @notice Authorises (or stops) `issuer`, who must hold ISSUER_ROLE to issue, for project `projectId`.
    /// Only the REGISTRAR.
    function setProjectIssuer(uint64 projectId, address issuer, bool authorized) external;

    /// @notice Adds a batch to an Approved project. Only the REGISTRAR.
    /// @dev The project's batches form a list sorted by serial number. `prevBatchNumberHint` names the batch
    /// whose range comes right before the new one (0: the new range comes first). The contract checks only the
    /// two neighbours, so the cost does not depend on how many batches exist; tooling computes the hint.
    /// @return id The new batch's token id.
    function addBatch(uint64 projectId, BatchInput calldata input, uint64 prevBatchNumberHint)
        external
        returns (uint256 id);

    /// @notice Cancels credits of batch `id` for a reversal (e.g. a forest burned) or an invalidation: burns
    /// `amounts` from `holders` whatever their status, and books `reversal - sum(amounts)` as shortfall. Only the
    /// REGISTRAR. Distinct from retirement: no certificate, no beneficiary.
    function cancelCredits(
        uint256 id,
        address[] calldata holders,
        uint256[] calldata amounts,
        uint256 reversal,
        string calldata reason
    ) external;

    /// @notice Approves a batch so that its credits can be issued, up to its quantity. Only the VERIFIER;
    /// the project must be Approved.
    function verifyBatch(uint256 id) external;

    // ------------------------------------------------------------------ views

    /// @notice The credit token bound to this registry (zero until bound).
    function creditToken() external view returns (address);

    /// @notice How many projects exist; ids run from 1 to this number.
    function projectCount() external view returns (uint64);

    /// @notice A project, by id. Reverts for unknown ids.
    function project(uint64 projectId) external view returns (ProjectView memory);

    /// @notice A project's status (`None` for unknown ids).
    function projectStatus(uint64 projectId) external view returns (ProjectStatus);

    /// @notice The id of the project of `standard` with `externalId`, or 0.
    function projectIdOf(string calldata standard, string calldata externalId) external view returns (uint64);

    /// @notice A batch, by token id. Reverts for unknown ids.
    function batch(uint256 id) external view returns (BatchView memory);

    /// @notice A batch's monitoring (vintage) period, unix seconds. Reverts for unknown ids. One storage read, for
    /// contracts that check vintages (`batch` reads every field, strings included).
    function batchPeriod(uint256 id) external view returns (uint40 periodStart, uint40 periodEnd);

    /// @notice A project's standard code, e.g. "VCS". Reverts for unknown ids. Two storage reads, for contracts
    /// that check standards (`project` reads every field).
    function projectStandard(uint64 projectId) external view returns (string memory);

    /// @notice The batch number that starts a project's serial-sorted list (0 when it has no batch).
    function firstBatchNumber(uint64 projectId) external view returns (uint64);

    /// @notice The token id of the batch that used `issuanceReference`, or 0.
    function batchOfIssuanceReference(string calldata issuanceReference) external view returns (uint256);

    /// @notice Whether `account` holds ISSUER_ROLE and is authorised for `projectId`.
    function isProjectIssuer(uint64 projectId, address account) external view returns (bool);

    /// @notice Reverts with `RegistryIssuerNotAuthorized` unless `isProjectIssuer(projectId, account)`.
    function requireProjectIssuer(uint64 projectId, address account) external view;

    /// @notice The batch's metadata URI (empty for unknown ids).
    function batchURI(uint256 id) external view returns (string memory);
}
