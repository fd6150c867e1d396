// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {ICarbonRetirement} from "../interfaces/ICarbonRetirement.sol";
import {ICarbonCredit} from "../interfaces/ICarbonCredit.sol";
import {IERC5192} from "../interfaces/IERC5192.sol";
import {ICertificateRenderer} from "../interfaces/ICertificateRenderer.sol";
import {CertificateRenderer} from "./CertificateRenderer.sol";
import {CreditIds} from "../libraries/CreditIds.sol";
import {Jurisdiction} from "../libraries/Jurisdiction.sol";

/// @title CarbonRetirement
/// @notice Retires Tonne credits and mints one locked certificate per retirement.
/// @dev Invariants:
/// - per id, the amounts of all certificates sum to the token's `totalRetired(id)` (issueAndRetire included);
/// - a certificate never moves and can never be approved: every transfer and approval path reverts;
/// - a non-zero retirement reference maps to at most one certificate per retiring account, ever.
/// Gas: a certificate costs one packed slot (plus ERC-721 ownership), whatever its text, and a second slot only
/// when the retiring account is not the beneficiary; no loop runs over stored data, so the 10,000th retirement
/// costs what the first does.
contract CarbonRetirement is ICarbonRetirement, IERC5192, ERC721, AccessControlDefaultAdminRules, ReentrancyGuardTransient {

    /// @notice The most ids one certificate lists.
    uint256 public constant MAX_IDS_PER_CERTIFICATE = 100;

    /// @dev One slot (248 bits). Seconds fit 32 bits until 2106; a certificate's total is at most
    /// MAX_CERTIFICATE_UNITS (2^48 - 1 units, some 281 billion tonnes).
    struct Certificate {
        uint72 firstId; // projectId << 32 | batchNumber (project ids < 2^40, batch numbers < 2^32)
        uint48 totalAmount;
        uint32 timestamp;
        uint32 periodStart;
        uint32 periodEnd;
        uint8 idCount;
        Purpose purpose;
        bytes2 country;
    }

    /// @notice The largest total one certificate can record, in units.
    uint256 public constant MAX_CERTIFICATE_UNITS = type(uint48).max;

    ICarbonCredit private immutable _credit;
    ICertificateRenderer private immutable _renderer;
    address private _compliance;
    uint256 private _count;
    mapping(uint256 certificateId => Certificate) private _certificates;
    /// @dev Written only when the retiring account is not the beneficiary (the certificate's owner).
    mapping(uint256 certificateId => address) private _retiringAccountOf;
    /// @dev Keyed by keccak256(abi.encode(retiringAccount, retirementRef)): nobody can use up another's reference.
    mapping(bytes32 accountRef => uint256 certificateId) private _certificateOfRef;

    /// @param credit The credit token; its admin must `bindRetirement` this contract.
    /// @param adminDelay Seconds the two-step admin transfer waits.
    /// @param admin The DEFAULT_ADMIN_ROLE holder (binds the compliance module).
    constructor(address credit, uint48 adminDelay, address admin)
        ERC721("Tonne Retirement Certificate", "TONNE-RC")
        AccessControlDefaultAdminRules(adminDelay, admin)
    {
        _credit = ICarbonCredit(credit);
        _renderer = new CertificateRenderer();
    }

    // ------------------------------------------------------------------ retire

    /// @inheritdoc ICarbonRetirement
    function retire(uint256[] calldata ids, uint256[] calldata amounts, RetirementInput calldata input)
        external
        nonReentrant
        returns (uint256)
    {
        return _retireOne(msg.sender, ids, amounts, input);
    }

    /// @inheritdoc ICarbonRetirement
    function retireFrom(
        address holder,
        uint256[] calldata ids,
        uint256[] calldata amounts,
        RetirementInput calldata input
    ) external nonReentrant returns (uint256) {
        _requireOperator(holder);
        return _retireOne(holder, ids, amounts, input);
    }

    /// @inheritdoc ICarbonRetirement
    function retireBatch(RetirementRequest[] calldata requests)
        external
        nonReentrant
        returns (uint256 firstCertificateId)
    {
        uint256 n = requests.length;
        if (n == 0) revert RetirementBatchEmpty();
        // Certificate ids are consecutive: nothing else can certify during this call (nonReentrant on every path).
        firstCertificateId = _count + 1;
        for (uint256 i; i < n; ++i) {
            RetirementRequest calldata r = requests[i];
            address holder = r.holder == address(0) ? msg.sender : r.holder;
            // The same steps as retire (holder == caller) and retireFrom (another holder), in the same order.
            if (holder != msg.sender) _requireOperator(holder);
            _retireOne(holder, r.ids, r.amounts, r.input);
        }
    }

    /// @inheritdoc ICarbonRetirement
    function issueAndRetire(uint256 id, uint256 amount, bytes32 orderRef, RetirementInput calldata input)
        external
        nonReentrant
        returns (uint256)
    {
        _credit.issueRetired(msg.sender, id, amount, orderRef);
        uint256[] memory ids = new uint256[](1);
        uint256[] memory amounts = new uint256[](1);
        ids[0] = id;
        amounts[0] = amount;
        return _certify(msg.sender, ids, amounts, input, Purpose.Voluntary);
    }

    /// @inheritdoc ICarbonRetirement
    function retireForCompliance(
        address entity,
        address operator,
        uint256[] calldata ids,
        uint256[] calldata amounts,
        RetirementInput calldata input
    ) external nonReentrant returns (uint256) {
        if (msg.sender != _compliance) revert RetirementCallerNotCompliance(msg.sender);
        _credit.retire(entity, operator, ids, amounts);
        return _certify(entity, ids, amounts, input, Purpose.Compliance);
    }

    /// @inheritdoc ICarbonRetirement
    function bindCompliance(address compliance) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_compliance != address(0) || compliance == address(0)) {
            revert RetirementComplianceAlreadyBound(_compliance);
        }
        _compliance = compliance;
        emit ComplianceBound(compliance);
    }

    // ------------------------------------------------------------------ certificates are locked

    /// @inheritdoc IERC5192
    function locked(uint256 certificateId) external view returns (bool) {
        _requireOwned(certificateId);
        return true;
    }

    /// @notice Always reverts: certificates cannot be approved.
    /// @dev Not `pure`, so that wallets and libraries send it as a transaction and see the revert, instead of
    /// running it as a read-only call that silently does nothing.
    function approve(address, uint256 certificateId) public override {
        revert CertificateNonTransferable(certificateId);
    }

    /// @notice Always reverts: certificates cannot be approved.
    function setApprovalForAll(address, bool) public override {
        revert CertificateNonTransferable(0);
    }

    /// @dev Only minting passes: every transfer path (transferFrom, both safeTransferFrom) ends here and reverts.
    function _update(address to, uint256 certificateId, address auth) internal override returns (address from) {
        from = _ownerOf(certificateId);
        if (from != address(0)) revert CertificateNonTransferable(certificateId);
        return super._update(to, certificateId, auth);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICarbonRetirement
    function certificate(uint256 certificateId) public view returns (CertificateView memory v) {
        Certificate storage c = _certificates[certificateId];
        if (c.timestamp == 0) revert CertificateUnknown(certificateId);
        v.beneficiary = _ownerOf(certificateId);
        address retiring = _retiringAccountOf[certificateId];
        v.retiringAccount = retiring == address(0) ? v.beneficiary : retiring;
        v.firstId = CreditIds.encode(uint64(c.firstId >> 32), uint64(uint32(c.firstId)));
        v.totalAmount = c.totalAmount;
        v.idCount = c.idCount;
        v.purpose = c.purpose;
        v.timestamp = c.timestamp;
        v.periodStart = c.periodStart;
        v.periodEnd = c.periodEnd;
        v.country = c.country;
    }

    /// @inheritdoc ICarbonRetirement
    function certificateCount() external view returns (uint256) {
        return _count;
    }

    /// @inheritdoc ICarbonRetirement
    function certificateOfReference(address retiringAccount, bytes32 retirementRef) external view returns (uint256) {
        return _certificateOfRef[_refKey(retiringAccount, retirementRef)];
    }

    /// @inheritdoc ICarbonRetirement
    function creditToken() external view returns (address) {
        return address(_credit);
    }

    /// @notice On-chain metadata: JSON with every stored field and an SVG rendering, as a data URI.
    /// @dev The texts (beneficiary name, reason, full jurisdiction) and the ids beyond the first are not stored,
    /// to keep a retirement within 150k gas: they are in the `RetirementRecorded` event (docs/retirement.md).
    /// Rendered by `renderer()` (a stateless contract this one deploys), which keeps this contract under the
    /// 24,576-byte code size limit.
    function tokenURI(uint256 certificateId) public view override returns (string memory) {
        return _renderer.tokenURI(certificateId, certificate(certificateId));
    }

    /// @inheritdoc ICarbonRetirement
    function renderer() external view returns (address) {
        return address(_renderer);
    }

    /// @inheritdoc ERC721
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721, AccessControlDefaultAdminRules)
        returns (bool)
    {
        return interfaceId == type(IERC5192).interfaceId || interfaceId == type(ICarbonRetirement).interfaceId
            || super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ internals

    function _certify(
        address retiringAccount,
        uint256[] memory ids,
        uint256[] memory amounts,
        RetirementInput calldata input,
        Purpose purpose
    ) private returns (uint256 certificateId) {
        bytes2 country = _validate(input);
        uint256 n = ids.length;
        if (n > MAX_IDS_PER_CERTIFICATE) revert RetirementTooManyIds(n, MAX_IDS_PER_CERTIFICATE);
        uint256 total;
        for (uint256 i; i < n; ++i) {
            total += amounts[i];
        }
        if (total > MAX_CERTIFICATE_UNITS) revert RetirementAmountTooLarge(total, MAX_CERTIFICATE_UNITS);
        // Cannot overflow: one more certificate per retirement, each costing gas; 2^256 are never reached.
        unchecked {
            certificateId = ++_count;
        }
        if (input.retirementRef != bytes32(0)) {
            bytes32 key = _refKey(retiringAccount, input.retirementRef);
            uint256 usedBy = _certificateOfRef[key];
            if (usedBy != 0) revert RetirementReferenceUsed(retiringAccount, input.retirementRef, usedBy);
            _certificateOfRef[key] = certificateId;
        }
        // One slot, written at once. Cannot truncate: total and the period were checked above, n <= 100, the
        // registry numbers a project's batches with a uint32, and SafeCast guards the project id and the clock.
        _certificates[certificateId] = Certificate({
            firstId: uint72(
                (uint256(SafeCast.toUint40(CreditIds.projectOf(ids[0]))) << 32) | CreditIds.batchNumberOf(ids[0])
            ),
            totalAmount: uint48(total),
            timestamp: SafeCast.toUint32(block.timestamp),
            periodStart: uint32(input.periodStart),
            periodEnd: uint32(input.periodEnd),
            idCount: uint8(n),
            purpose: purpose,
            country: country
        });
        address beneficiary = input.beneficiary == address(0) ? retiringAccount : input.beneficiary;
        if (beneficiary != retiringAccount) _retiringAccountOf[certificateId] = retiringAccount;
        // _mint, not _safeMint: a certificate cannot be refused, and no receiver hook runs during a retirement.
        _mint(beneficiary, certificateId);
        emit Locked(certificateId);
        emit RetirementRecorded(
            certificateId,
            beneficiary,
            retiringAccount,
            ids,
            amounts,
            input.beneficiaryName,
            input.reason,
            input.jurisdiction,
            input.periodStart,
            input.periodEnd,
            purpose,
            input.retirementRef
        );
    }

    /// @dev A voluntary retirement of `holder`'s credits by the caller (already allowed to): burn, then certify.
    function _retireOne(
        address holder,
        uint256[] calldata ids,
        uint256[] calldata amounts,
        RetirementInput calldata input
    ) private returns (uint256) {
        _credit.retire(holder, msg.sender, ids, amounts);
        return _certify(holder, ids, amounts, input, Purpose.Voluntary);
    }

    /// @dev The caller may retire `holder`'s credits: it is the holder, or the holder approved it on the token.
    function _requireOperator(address holder) private view {
        if (holder != msg.sender && !IERC1155(address(_credit)).isApprovedForAll(holder, msg.sender)) {
            revert RetirementOperatorNotApproved(holder, msg.sender);
        }
    }

    function _refKey(address retiringAccount, bytes32 retirementRef) private pure returns (bytes32) {
        return keccak256(abi.encode(retiringAccount, retirementRef));
    }

    function _validate(RetirementInput calldata input) private pure returns (bytes2 country) {
        if (bytes(input.beneficiaryName).length == 0) revert RetirementEmptyField("beneficiaryName");
        if (bytes(input.reason).length == 0) revert RetirementEmptyField("reason");
        if (input.periodEnd < input.periodStart || input.periodEnd > type(uint32).max) {
            revert RetirementInvalidPeriod(input.periodStart, input.periodEnd);
        }
        // ISO 3166-1 alpha-2 "DE", or ISO 3166-2 "US-CA": two letters, then '-' and 1 to 3 letters or digits.
        bytes calldata j = bytes(input.jurisdiction);
        if (!Jurisdiction.isValid(j)) revert RetirementInvalidJurisdiction(input.jurisdiction);
        country = bytes2(abi.encodePacked(j[0], j[1]));
    }
}
