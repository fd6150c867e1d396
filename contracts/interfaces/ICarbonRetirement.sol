// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ICarbonRetirement
/// @notice Retirement of Tonne credits: burned for good, on behalf of a beneficiary, for a reason, in a
/// jurisdiction and consumption period, each retirement proven by a non-transferable certificate (ERC-721 with
/// ERC-5192 `locked`). The certificate goes to the beneficiary's account, or to the retiring account when the
/// beneficiary has none.
/// @dev Storage per certificate is one packed slot (first id, id count, total amount, purpose, country,
/// consumption period, timestamp) besides the ERC-721 owner (the beneficiary); the retiring account takes a
/// second slot only when it is not the beneficiary. The texts (beneficiary
/// name, reason, full jurisdiction) and every id and amount are in `RetirementRecorded`, whose indexed
/// `beneficiary` lets anyone list every certificate of a beneficiary, and total what they retired, from events
/// alone.
/// Warning: credits of Suspended or Terminated projects cannot be retired (the token refuses to burn them);
/// the registrar's cancel is the only way out for them. Retirement is refused while the token is paused.
interface ICarbonRetirement {
    /// @notice Why credits were retired.
    enum Purpose {
        Voluntary,
        Compliance
    }

    /// @notice What a retirement says about itself.
    /// @param beneficiary Who the retirement is for, and who receives the certificate; zero: the retiring account.
    /// @param beneficiaryName The beneficiary's name as it should appear on the certificate (required).
    /// @param reason Why, e.g. "Scope 1 emissions FY2025" (required).
    /// @param jurisdiction Where the emissions were consumed: ISO 3166-1 alpha-2 ("DE") or ISO 3166-2 ("US-CA").
    /// @param periodStart Start of the consumption period, unix seconds.
    /// @param periodEnd End of the consumption period, unix seconds; not before `periodStart`.
    /// @param retirementRef Optional idempotency key (zero for none): a non-zero one can be used once, ever, by
    /// each retiring account. References are scoped to the retiring account, so nobody can use up another's.
    struct RetirementInput {
        address beneficiary;
        string beneficiaryName;
        string reason;
        string jurisdiction;
        uint40 periodStart;
        uint40 periodEnd;
        bytes32 retirementRef;
    }

    /// @notice One retirement of a many-retirement transaction (`retireBatch`): its own certificate, its own
    /// reference, the same checks as `retire` (or `retireFrom` when `holder` is another account).
    /// @param holder Whose credits are retired (the retiring account); zero: the caller.
    /// @param ids Credit token ids, at most MAX_IDS_PER_CERTIFICATE.
    /// @param amounts Units of each id.
    /// @param input What the retirement says about itself.
    struct RetirementRequest {
        address holder;
        uint256[] ids;
        uint256[] amounts;
        RetirementInput input;
    }

    /// @notice A certificate as stored. `firstId` and `totalAmount` cover single-id retirements fully; for
    /// several ids the full lists are in the event.
    struct CertificateView {
        address beneficiary;
        address retiringAccount;
        uint256 firstId;
        uint256 totalAmount;
        uint16 idCount;
        Purpose purpose;
        uint40 timestamp;
        uint40 periodStart;
        uint40 periodEnd;
        bytes2 country;
    }

    /// @notice `operator` may not retire credits of `holder`: it is neither the holder nor approved by it.
    error RetirementOperatorNotApproved(address holder, address operator);
    /// @notice A required text field is empty; `field` names it.
    error RetirementEmptyField(string field);
    /// @notice The jurisdiction is not an ISO 3166-1 alpha-2 or ISO 3166-2 code.
    error RetirementInvalidJurisdiction(string jurisdiction);
    /// @notice The consumption period ends before it starts, or after 2106 (beyond 32-bit seconds).
    error RetirementInvalidPeriod(uint40 periodStart, uint40 periodEnd);
    /// @notice A certificate's total of `total` units is above the `max` one certificate can record.
    error RetirementAmountTooLarge(uint256 total, uint256 max);
    /// @notice `retiringAccount` already used `retirementRef`, for certificate `certificateId`.
    error RetirementReferenceUsed(address retiringAccount, bytes32 retirementRef, uint256 certificateId);
    /// @notice More ids than one certificate can list.
    error RetirementTooManyIds(uint256 count, uint256 max);
    /// @notice `retireBatch` was called with no retirements.
    error RetirementBatchEmpty();
    /// @notice Certificates cannot be transferred or approved: they prove a retirement by their holder.
    error CertificateNonTransferable(uint256 certificateId);
    /// @notice No certificate `certificateId` exists.
    error CertificateUnknown(uint256 certificateId);
    /// @notice `caller` is not the compliance module bound to this contract.
    error RetirementCallerNotCompliance(address caller);
    /// @notice The compliance module is already bound (or the zero address was given).
    error RetirementComplianceAlreadyBound(address current);

    /// @notice Credits were retired and certificate `certificateId` minted to `beneficiary`.
    event RetirementRecorded(
        uint256 indexed certificateId,
        address indexed beneficiary,
        address indexed retiringAccount,
        uint256[] ids,
        uint256[] amounts,
        string beneficiaryName,
        string reason,
        string jurisdiction,
        uint40 periodStart,
        uint40 periodEnd,
        Purpose purpose,
        bytes32 retirementRef
    );
    /// @notice The compliance module was bound (once).
    event ComplianceBound(address indexed compliance);

    /// @notice Retires the caller's `amounts` of `ids` and mints the certificate.
    function retire(uint256[] calldata ids, uint256[] calldata amounts, RetirementInput calldata input)
        external
        returns (uint256 certificateId);

    /// @notice Retires `holder`'s credits; the caller must be approved by `holder` on the credit token
    /// (`setApprovalForAll`), and is held to the freeze and allowlist rules. The certificate records `holder` as
    /// the retiring account (and the reference is `holder`'s).
    function retireFrom(
        address holder,
        uint256[] calldata ids,
        uint256[] calldata amounts,
        RetirementInput calldata input
    ) external returns (uint256 certificateId);

    /// @notice Many retirements in one transaction, in order: each its own certificate (consecutive ids, from the
    /// returned one), its own reference and its own `RetirementRecorded`, each checked exactly as `retire` (holder
    /// zero or the caller) or `retireFrom` (another holder, who must have approved the caller) checks it.
    /// @dev Atomic: one refused retirement reverts the whole transaction with that retirement's error, and nothing of
    /// the batch is retired. A reference repeated inside the batch is refused like one used before
    /// (`RetirementReferenceUsed` naming the certificate the earlier entry just got). The loop runs over the
    /// caller's calldata only; the block gas limit bounds its length.
    /// @param requests The retirements, at least one.
    /// @return firstCertificateId The certificate of `requests[0]`; entry i got `firstCertificateId + i`.
    function retireBatch(RetirementRequest[] calldata requests) external returns (uint256 firstCertificateId);

    /// @notice Issues `amount` of `id` and retires it at once, for a direct offset. The caller must be an issuer
    /// authorised for the project; `orderRef` is the issuance's idempotency key (or zero).
    function issueAndRetire(uint256 id, uint256 amount, bytes32 orderRef, RetirementInput calldata input)
        external
        returns (uint256 certificateId);

    /// @notice Retires `entity`'s credits as a compliance surrender. Only the bound compliance module, which
    /// checked the entity, the period, the deadline, the eligibility and that `operator` is `entity` or approved
    /// by it; the token holds `operator` to the freeze and allowlist rules.
    /// @param entity The surrendering entity (retiring account and beneficiary).
    /// @param operator The account that called the compliance module.
    function retireForCompliance(
        address entity,
        address operator,
        uint256[] calldata ids,
        uint256[] calldata amounts,
        RetirementInput calldata input
    ) external returns (uint256 certificateId);

    /// @notice Binds the compliance module. Once, by the admin.
    function bindCompliance(address compliance) external;

    /// @notice A certificate. Reverts for unknown ids.
    function certificate(uint256 certificateId) external view returns (CertificateView memory);

    /// @notice How many certificates exist; ids run from 1.
    function certificateCount() external view returns (uint256);

    /// @notice The certificate for which `retiringAccount` used `retirementRef`, or 0.
    /// @param retiringAccount The account whose credits were retired (not the caller, not the beneficiary).
    /// @param retirementRef The reference.
    function certificateOfReference(address retiringAccount, bytes32 retirementRef) external view returns (uint256);

    /// @notice The credit token whose credits this contract retires.
    function creditToken() external view returns (address);

    /// @notice The stateless contract that renders `tokenURI` (an ICertificateRenderer this contract deployed).
    function renderer() external view returns (address);
}
