// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ICarbonCredit} from "../interfaces/ICarbonCredit.sol";
import {ICarbonRegistry} from "../interfaces/ICarbonRegistry.sol";
import {ICreditLedger} from "../interfaces/ICreditLedger.sol";
import {CreditIds} from "../libraries/CreditIds.sol";

/// @title CarbonCredit
/// @notice ERC-1155 carbon credits, one id per verified registry batch, in kilogram units.
/// @dev Invariants:
/// - per id, issued <= cap (the batch quantity in units), and totalSupply(id) = the sum of all balances of id;
/// - no unit of an id exists before its batch is verified;
/// - a non-zero order reference issues at most once, ever, within its project (key keccak256(projectId, ref)).
/// Gas: every restriction that can apply to a transfer (pause, frozen accounts, restricted projects) is summed
/// up in one storage slot, `_guard`, which a transfer reads once. The per-account and per-project lookups run
/// only when something is actually frozen or restricted, or, for the allowlist, in permissioned mode. Pause is
/// kept in that slot rather than in OpenZeppelin's Pausable (its own slot) for the same reason.
contract CarbonCredit is ICarbonCredit, ERC1155, AccessControlDefaultAdminRules, ReentrancyGuardTransient {
    /// @notice Keeps the allowlist in permissioned mode.
    bytes32 public constant COMPLIANCE_ROLE = keccak256("COMPLIANCE_ROLE");
    /// @notice Freezes accounts and pauses the token.
    bytes32 public constant REGULATOR_ROLE = keccak256("REGULATOR_ROLE");
    /// @notice Token units per tonne of CO2e.
    uint256 public constant UNITS_PER_TONNE = CreditIds.UNITS_PER_TONNE;

    uint8 private constant _FLAG_ALLOWED = 1;
    uint8 private constant _FLAG_FROZEN = 2;

    /// @dev Everything a transfer must know before it can skip the slower checks, in one slot; the bound
    /// retirement module rides along, so a retirement's caller check costs no extra read.
    struct Guard {
        bool paused;
        uint32 frozenAccounts;
        uint32 restrictedProjects;
        address retirement;
    }

    /// @dev Per-id ledger, one slot: issued = circulating + retired + cancelled. Units fit in 64 bits: the
    /// registry caps a batch at 10^12 tonnes (10^15 units).
    struct Ledger {
        uint64 cap;
        uint64 issued;
        uint64 retired;
        uint64 cancelled;
    }

    ICarbonRegistry private immutable _registry;
    bool private immutable _permissioned;

    Guard private _guard;
    mapping(address account => uint8 flags) private _accountFlags;
    mapping(uint64 projectId => bool) private _projectRestricted;
    mapping(uint256 id => Ledger) private _ledgers;
    // keccak256(abi.encode(projectId, orderRef)) => keccak256(abi.encode(id, to, amount)) of the issuance that used
    // it (never zero once used): a reference is scoped to its project, so no issuer of another project can use it up.
    mapping(bytes32 scopedRef => bytes32 orderDigest) private _orderRefs;
    mapping(uint256 id => uint256) private _shortfalls;

    /// @param registry_ The registry that verifies batches and authorises issuers.
    /// @param permissioned_ True for permissioned mode (allowlist enforced), false for open mode.
    /// @param fallbackURI ERC-1155 URI template for ids whose batch has no metadata URI.
    /// @param adminDelay Seconds the two-step admin transfer waits before it can be accepted.
    /// @param admin The DEFAULT_ADMIN_ROLE holder.
    constructor(address registry_, bool permissioned_, string memory fallbackURI, uint48 adminDelay, address admin)
        ERC1155(fallbackURI)
        AccessControlDefaultAdminRules(adminDelay, admin)
    {
        _registry = ICarbonRegistry(registry_);
        _permissioned = permissioned_;
    }

    modifier onlyRegistry() {
        if (msg.sender != address(_registry)) revert CreditCallerNotRegistry(msg.sender);
        _;
    }

    modifier onlyRetirement() {
        if (msg.sender != _guard.retirement) revert CreditCallerNotRetirement(msg.sender);
        _;
    }

    // ------------------------------------------------------------------ registry hooks

    /// @inheritdoc ICreditLedger
    function openBatch(uint256 id, uint256 capUnits) external onlyRegistry {
        Ledger storage l = _ledgers[id];
        if (l.cap != 0) revert CreditBatchAlreadyOpen(id);
        l.cap = uint64(capUnits);
        emit BatchOpened(id, capUnits);
    }

    /// @inheritdoc ICreditLedger
    function setProjectRestricted(uint64 projectId, bool restricted) external onlyRegistry {
        if (_projectRestricted[projectId] == restricted) return;
        _projectRestricted[projectId] = restricted;
        // Cannot overflow or underflow: the counter moves only when the flag actually flips.
        unchecked {
            if (restricted) ++_guard.restrictedProjects;
            else --_guard.restrictedProjects;
        }
        emit ProjectRestrictionSet(projectId, restricted);
    }

    // ------------------------------------------------------------------ issuance

    /// @inheritdoc ICarbonCredit
    function issue(uint256 id, address to, uint256 amount, bytes32 orderRef) external nonReentrant {
        _registry.requireProjectIssuer(CreditIds.projectOf(id), msg.sender);
        _requireNotFrozen(msg.sender);
        _recordIssuance(id, to, msg.sender, amount, orderRef);
        _mint(to, id, amount, "");
    }

    /// @inheritdoc ICarbonCredit
    function issueMany(IssueOrder[] calldata orders) external nonReentrant {
        uint256 n = orders.length;
        if (n == 0) revert CreditNoOrders();
        _requireNotFrozen(msg.sender);
        uint64 checkedProject;
        for (uint256 i; i < n; ++i) {
            IssueOrder calldata o = orders[i];
            uint64 projectId = CreditIds.projectOf(o.id);
            // The first order is always checked (its id may name project 0, which has no issuer); after that,
            // runs of one project are checked once.
            if (i == 0 || projectId != checkedProject) {
                _registry.requireProjectIssuer(projectId, msg.sender);
                checkedProject = projectId;
            }
            _recordIssuance(o.id, o.to, msg.sender, o.amount, o.orderRef);
            _mint(o.to, o.id, o.amount, "");
        }
    }

    // ------------------------------------------------------------------ retirement and cancellation

    /// @inheritdoc ICarbonCredit
    function bindRetirement(address retirement_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        address current = _guard.retirement;
        if (current != address(0) || retirement_ == address(0)) revert CreditRetirementAlreadyBound(current);
        _guard.retirement = retirement_;
        emit RetirementBound(retirement_);
    }

    /// @inheritdoc ICarbonCredit
    function retire(address holder, address operator, uint256[] calldata ids, uint256[] calldata amounts)
        external
        onlyRetirement
        nonReentrant
    {
        // The operator burning someone else's credits is held to the holder's rules (the burn below checks
        // only the holder: its msg.sender is the retirement module).
        if (operator != holder && (_permissioned || _guard.frozenAccounts != 0)) _checkAccount(operator);
        uint256 n = ids.length;
        if (n == 0 || n != amounts.length) revert CreditInvalidLists(n, amounts.length);
        for (uint256 i; i < n; ++i) {
            uint256 amount = amounts[i];
            if (amount == 0) revert CreditZeroAmount(ids[i]);
            // Cannot overflow: the burn below reverts unless the holder had `amount`, so retired stays <= issued.
            unchecked {
                _ledgers[ids[i]].retired += uint64(amount);
            }
        }
        // Burns go through _update: pause, freeze, allowlist and project restrictions apply as to any transfer.
        if (n == 1) _burn(holder, ids[0], amounts[0]);
        else _burnBatch(holder, ids, amounts);
    }

    /// @inheritdoc ICarbonCredit
    function issueRetired(address issuer, uint256 id, uint256 amount, bytes32 orderRef)
        external
        onlyRetirement
        nonReentrant
    {
        _registry.requireProjectIssuer(CreditIds.projectOf(id), issuer);
        // No balance moves, so _update's checks are made here.
        Guard memory g = _guard;
        if (g.paused) revert CreditPaused();
        if (g.frozenAccounts != 0 && _accountFlags[issuer] & _FLAG_FROZEN != 0) revert CreditAccountFrozen(issuer);
        uint64 projectId = CreditIds.projectOf(id);
        if (g.restrictedProjects != 0 && _projectRestricted[projectId]) revert CreditProjectRestricted(id, projectId);
        _recordIssuance(id, address(0), issuer, amount, orderRef);
        // Cannot overflow: amount <= cap was just checked by _recordIssuance.
        unchecked {
            _ledgers[id].retired += uint64(amount);
        }
    }

    /// @inheritdoc ICreditLedger
    function cancel(
        uint256 id,
        address[] calldata holders,
        uint256[] calldata amounts,
        uint256 reversal,
        string calldata reason
    ) external onlyRegistry {
        uint256 n = holders.length;
        if (n != amounts.length) revert CreditInvalidLists(n, amounts.length);
        if (bytes(reason).length == 0) revert CreditEmptyReason();
        uint256[] memory ids = new uint256[](1);
        uint256[] memory values = new uint256[](1);
        ids[0] = id;
        uint256 cancelled;
        for (uint256 i; i < n; ++i) {
            if (amounts[i] == 0) revert CreditZeroAmount(id);
            // ERC1155._update takes a zero `from` for a mint and would skip the balance check: "cancelling" from
            // the zero address would book cancelled units that were never burned.
            if (holders[i] == address(0)) revert ERC1155InvalidSender(address(0));
            values[0] = amounts[i];
            // ERC1155._update directly, past this contract's override: a reversal must reach frozen holders,
            // credits of restricted projects and a paused token alike. The balance check still applies.
            ERC1155._update(holders[i], address(0), ids, values);
            cancelled += amounts[i];
            emit CreditsCancelled(id, holders[i], amounts[i]);
        }
        if (reversal < cancelled) revert CreditReversalBelowCancelled(reversal, cancelled);
        if (reversal == 0) revert CreditZeroAmount(id);
        // Cannot overflow: cancelled units were burned from balances, so cancelled stays <= issued < 2^64.
        unchecked {
            _ledgers[id].cancelled += uint64(cancelled);
        }
        uint256 short = reversal - cancelled;
        if (short != 0) _shortfalls[id] += short;
        emit ReversalRecorded(id, reversal, cancelled, short, reason);
    }

    // ------------------------------------------------------------------ compliance and regulator

    /// @inheritdoc ICarbonCredit
    function setAllowed(address[] calldata accounts, bool allowed) external onlyRole(COMPLIANCE_ROLE) {
        if (!_permissioned) revert CreditAllowlistDisabled();
        for (uint256 i; i < accounts.length; ++i) {
            address account = accounts[i];
            uint8 flags = _accountFlags[account];
            uint8 updated = allowed ? flags | _FLAG_ALLOWED : flags & ~_FLAG_ALLOWED;
            if (updated == flags) continue; // nothing changes, so nothing is written or emitted
            _accountFlags[account] = updated;
            emit AllowlistSet(account, allowed, msg.sender);
        }
    }

    /// @inheritdoc ICarbonCredit
    function setFrozen(address account, bool frozen, string calldata reason) external onlyRole(REGULATOR_ROLE) {
        uint8 flags = _accountFlags[account];
        if (((flags & _FLAG_FROZEN) != 0) == frozen) revert CreditFreezeUnchanged(account, frozen);
        _accountFlags[account] = frozen ? flags | _FLAG_FROZEN : flags & ~_FLAG_FROZEN;
        // Cannot overflow or underflow: the counter moves only when the flag actually flips.
        unchecked {
            if (frozen) ++_guard.frozenAccounts;
            else --_guard.frozenAccounts;
        }
        emit AccountFreezeSet(account, frozen, reason, msg.sender);
    }

    /// @inheritdoc ICarbonCredit
    function pause() external onlyRole(REGULATOR_ROLE) {
        if (_guard.paused) revert CreditPauseUnchanged(true);
        _guard.paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc ICarbonCredit
    function unpause() external onlyRole(REGULATOR_ROLE) {
        if (!_guard.paused) revert CreditPauseUnchanged(false);
        _guard.paused = false;
        emit Unpaused(msg.sender);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICarbonCredit
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc ICarbonCredit
    function permissioned() external view returns (bool) {
        return _permissioned;
    }

    /// @inheritdoc ICarbonCredit
    function paused() external view returns (bool) {
        return _guard.paused;
    }

    /// @inheritdoc ICarbonCredit
    function isAllowed(address account) external view returns (bool) {
        return _accountFlags[account] & _FLAG_ALLOWED != 0;
    }

    /// @inheritdoc ICarbonCredit
    function isFrozen(address account) external view returns (bool) {
        return _accountFlags[account] & _FLAG_FROZEN != 0;
    }

    /// @inheritdoc ICarbonCredit
    function isProjectRestricted(uint64 projectId) external view returns (bool) {
        return _projectRestricted[projectId];
    }

    /// @inheritdoc ICarbonCredit
    function isOrderReferenceUsed(uint64 projectId, bytes32 orderRef) external view returns (bool) {
        return _orderRefs[_scopedRef(projectId, orderRef)] != bytes32(0);
    }

    /// @inheritdoc ICarbonCredit
    function orderDigest(uint64 projectId, bytes32 orderRef) external view returns (bytes32) {
        return _orderRefs[_scopedRef(projectId, orderRef)];
    }

    /// @inheritdoc ICarbonCredit
    function totalSupply(uint256 id) external view returns (uint256) {
        Ledger memory l = _ledgers[id];
        // Cannot underflow: retired and cancelled units were burned from balances that issuance created.
        unchecked {
            return uint256(l.issued) - l.retired - l.cancelled;
        }
    }

    /// @inheritdoc ICarbonCredit
    function totalRetired(uint256 id) external view returns (uint256) {
        return _ledgers[id].retired;
    }

    /// @inheritdoc ICarbonCredit
    function totalCancelled(uint256 id) external view returns (uint256) {
        return _ledgers[id].cancelled;
    }

    /// @inheritdoc ICarbonCredit
    function shortfall(uint256 id) external view returns (uint256) {
        return _shortfalls[id];
    }

    /// @inheritdoc ICarbonCredit
    function retirement() external view returns (address) {
        return _guard.retirement;
    }

    /// @inheritdoc ICarbonCredit
    function issuanceCap(uint256 id) external view returns (uint256) {
        return _ledgers[id].cap;
    }

    /// @inheritdoc ICarbonCredit
    function totalIssued(uint256 id) external view returns (uint256) {
        return _ledgers[id].issued;
    }

    /// @inheritdoc ICarbonCredit
    function exists(uint256 id) external view returns (bool) {
        return _ledgers[id].issued != 0;
    }

    /// @notice The batch's metadata URI from the registry, or the fallback template when it has none.
    function uri(uint256 id) public view override returns (string memory) {
        string memory batchURI = _registry.batchURI(id);
        return bytes(batchURI).length != 0 ? batchURI : super.uri(id);
    }

    /// @inheritdoc ERC1155
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC1155, AccessControlDefaultAdminRules)
        returns (bool)
    {
        return interfaceId == type(ICarbonCredit).interfaceId || super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Books an issuance before the mint (checks-effects-interactions: the receiver hook runs after).
    function _recordIssuance(uint256 id, address to, address issuer, uint256 amount, bytes32 orderRef) private {
        if (amount == 0) revert CreditZeroAmount(id);
        Ledger memory l = _ledgers[id];
        if (l.cap == 0) revert CreditBatchNotOpen(id);
        // Cannot underflow: issued <= cap always holds.
        uint256 available;
        unchecked {
            available = uint256(l.cap) - l.issued;
        }
        if (amount > available) revert CreditIssuanceExceedsCap(id, amount, available);
        // Cannot overflow: amount <= cap - issued, so issued + amount <= cap < 2^64.
        unchecked {
            _ledgers[id].issued = l.issued + uint64(amount);
        }
        if (orderRef != bytes32(0)) {
            bytes32 scoped = _scopedRef(CreditIds.projectOf(id), orderRef);
            if (_orderRefs[scoped] != bytes32(0)) revert CreditOrderReferenceUsed(orderRef);
            _orderRefs[scoped] = keccak256(abi.encode(id, to, amount));
        }
        emit Issued(id, to, issuer, amount, orderRef);
    }

    /// @dev The storage key of an order reference: the reference within its project.
    function _scopedRef(uint64 projectId, bytes32 orderRef) private pure returns (bytes32) {
        return keccak256(abi.encode(projectId, orderRef));
    }

    /// @dev Every balance change passes here: mint (from = 0), transfer, and burn (to = 0).
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values) internal override {
        Guard memory g = _guard;
        if (g.paused) revert CreditPaused();
        if (_permissioned || g.frozenAccounts != 0) {
            if (from != address(0)) _checkAccount(from);
            if (to != address(0)) _checkAccount(to);
            // An approved operator moving someone else's credits is held to the same rules as a holder.
            // Mint and burn are excluded: their caller is the issuer or a Tonne module, checked by role.
            address operator = _msgSender();
            if (from != address(0) && to != address(0) && operator != from) _checkAccount(operator);
        }
        if (g.restrictedProjects != 0) {
            for (uint256 i; i < ids.length; ++i) {
                uint64 projectId = CreditIds.projectOf(ids[i]);
                if (_projectRestricted[projectId]) revert CreditProjectRestricted(ids[i], projectId);
            }
        }
        super._update(from, to, ids, values);
    }

    /// @dev A frozen issuer cannot mint (a mint's _update checks only the recipient).
    function _requireNotFrozen(address account) private view {
        if (_guard.frozenAccounts != 0 && _accountFlags[account] & _FLAG_FROZEN != 0) {
            revert CreditAccountFrozen(account);
        }
    }

    function _checkAccount(address account) private view {
        uint8 flags = _accountFlags[account];
        if (flags & _FLAG_FROZEN != 0) revert CreditAccountFrozen(account);
        if (_permissioned && flags & _FLAG_ALLOWED == 0) revert CreditAccountNotAllowed(account);
    }
}
