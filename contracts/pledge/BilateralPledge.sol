// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IBilateralPledge} from "../interfaces/IBilateralPledge.sol";
import {ICarbonCredit} from "../interfaces/ICarbonCredit.sol";
import {SelfPullHolder} from "./SelfPullHolder.sol";

/// @title BilateralPledge
/// @notice Credits locked in favour of a named pledgee until maturity; see IBilateralPledge.
/// @dev Invariant: this contract's balance of every id equals the sum over Active, Released and Defaulted
/// pledges of their amounts of it (it accepts credits only from its own pulls).
/// No roles: every action belongs to the pledgor or the pledgee of one pledge. A pledge holds at most MAX_IDS
/// ids, so releasing its credits touches a bounded number of slots.
contract BilateralPledge is IBilateralPledge, SelfPullHolder, ReentrancyGuardTransient {
    /// @notice The most ids one pledge may hold.
    uint256 public constant MAX_IDS = 16;

    /// @dev Two slots: parties and terms.
    struct Pledge {
        address pledgor;
        uint40 maturity;
        uint40 claimDeadline;
        Status status;
        address pledgee;
        uint8 idCount;
    }

    IERC1155 private immutable _credit;
    uint256 private _count;
    mapping(uint256 pledgeId => Pledge) private _pledges;
    mapping(uint256 pledgeId => mapping(uint256 slot => uint256)) private _ids;
    mapping(uint256 pledgeId => mapping(uint256 slot => uint256)) private _amounts;

    /// @param credit_ The credit token (ERC-1155).
    constructor(address credit_) {
        _credit = IERC1155(credit_);
    }

    /// @inheritdoc IBilateralPledge
    function createPledge(
        address pledgee,
        uint256[] calldata ids,
        uint256[] calldata amounts,
        uint256 maturity,
        uint256 claimDeadline
    ) external nonReentrant returns (uint256 pledgeId) {
        uint256 n = ids.length;
        if (n == 0 || n != amounts.length) revert PledgeInvalidLists(n, amounts.length);
        if (n > MAX_IDS) revert PledgeTooManyIds(n, MAX_IDS);
        if (pledgee == address(0) || pledgee == msg.sender) revert PledgeInvalidPledgee(pledgee);
        if (maturity <= block.timestamp || claimDeadline <= maturity) {
            revert PledgeInvalidTerms(maturity, claimDeadline, block.timestamp);
        }
        pledgeId = ++_count;
        for (uint256 i; i < n; ++i) {
            if (amounts[i] == 0) revert PledgeZeroAmount(ids[i]);
            _ids[pledgeId][i] = ids[i];
            _amounts[pledgeId][i] = amounts[i];
        }
        // Cannot truncate: n <= MAX_IDS.
        _pledges[pledgeId] = Pledge(
            msg.sender,
            SafeCast.toUint40(maturity),
            SafeCast.toUint40(claimDeadline),
            Status.Active,
            pledgee,
            uint8(n)
        );
        emit PledgeCreated(pledgeId, msg.sender, pledgee, ids, amounts, maturity, claimDeadline);
        // The token checks the pledgor's balance, approval, freeze, allowlist and the projects' status.
        _credit.safeBatchTransferFrom(msg.sender, address(this), ids, amounts, "");
    }

    /// @inheritdoc IBilateralPledge
    function release(uint256 pledgeId) external {
        Pledge storage p = _asPledgee(pledgeId);
        Status status = p.status;
        if (status != Status.Active && status != Status.Defaulted) revert PledgeWrongStatus(pledgeId, status);
        p.status = Status.Released;
        emit PledgeReleased(pledgeId, msg.sender);
    }

    /// @inheritdoc IBilateralPledge
    function declareDefault(uint256 pledgeId) external {
        Pledge storage p = _asPledgee(pledgeId);
        if (p.status != Status.Active) revert PledgeWrongStatus(pledgeId, p.status);
        if (block.timestamp < p.maturity) revert PledgeNotMatured(pledgeId, p.maturity, block.timestamp);
        if (block.timestamp > p.claimDeadline) {
            revert PledgeClaimWindowClosed(pledgeId, p.claimDeadline, block.timestamp);
        }
        p.status = Status.Defaulted;
        emit DefaultDeclared(pledgeId, msg.sender);
    }

    /// @inheritdoc IBilateralPledge
    function claim(uint256 pledgeId, address to) external nonReentrant {
        Pledge storage p = _asPledgee(pledgeId);
        // No deadline here: a declared default (made by the deadline) gives the credits to the pledgee, so a
        // claim blocked by the registry or the regulator (suspended project, allowlist, freeze) never expires.
        if (p.status != Status.Defaulted) revert PledgeWrongStatus(pledgeId, p.status);
        // Credits sent to this contract would sit outside every pledge, movable by no one.
        if (to == address(this)) revert PledgeRecipientIsEscrow(to);
        // The transfer below is this contract's own (operator == from), so the token checks only this contract
        // and `to`; the pledgee, who directs it, is held here to the token's rule for an operator.
        _requireMayDirect(msg.sender);
        p.status = Status.Claimed;
        emit PledgeClaimed(pledgeId, msg.sender, to);
        _sendOut(pledgeId, p.idCount, to);
    }

    /// @inheritdoc IBilateralPledge
    function reclaim(uint256 pledgeId) external nonReentrant {
        Pledge storage p = _existing(pledgeId);
        if (p.pledgor != msg.sender) revert PledgeCallerNotPledgor(pledgeId, msg.sender);
        Status status = p.status;
        // Only an Active pledge expires: once default is declared the pledgor gets the credits back only by release.
        bool expired = status == Status.Active && block.timestamp > p.claimDeadline;
        if (status != Status.Released && !expired) {
            revert PledgeNotReclaimable(pledgeId, status, p.claimDeadline, block.timestamp);
        }
        p.status = Status.Reclaimed;
        emit PledgeReclaimed(pledgeId, msg.sender);
        // The pledgor directs the transfer and receives it, so the token's check of `to` holds it to the freeze
        // and the allowlist; it cannot be this contract (which never pledges).
        _sendOut(pledgeId, p.idCount, msg.sender);
    }

    /// @dev Credits are accepted only when this contract itself pulls them (a new pledge); see SelfPullHolder.
    function _revertUnsolicited(address operator, address from) internal pure override {
        revert PledgeUnsolicitedTransfer(operator, from);
    }

    /// @inheritdoc IBilateralPledge
    function pledgeOf(uint256 pledgeId) external view returns (PledgeView memory v) {
        Pledge storage p = _pledges[pledgeId];
        (v.ids, v.amounts) = _lists(pledgeId, p.idCount);
        v.pledgor = p.pledgor;
        v.pledgee = p.pledgee;
        v.maturity = p.maturity;
        v.claimDeadline = p.claimDeadline;
        v.status = p.status;
    }

    /// @inheritdoc IBilateralPledge
    function pledgeCount() external view returns (uint256) {
        return _count;
    }

    /// @inheritdoc IBilateralPledge
    function credit() external view returns (address) {
        return address(_credit);
    }

    function _existing(uint256 pledgeId) private view returns (Pledge storage p) {
        p = _pledges[pledgeId];
        if (p.status == Status.None) revert PledgeUnknown(pledgeId);
    }

    function _asPledgee(uint256 pledgeId) private view returns (Pledge storage p) {
        p = _existing(pledgeId);
        if (p.pledgee != msg.sender) revert PledgeCallerNotPledgee(pledgeId, msg.sender);
    }

    /// @dev Reverts as the token would for an operator: `account` frozen, or off the allowlist in permissioned mode.
    function _requireMayDirect(address account) private view {
        ICarbonCredit token = ICarbonCredit(address(_credit));
        if (token.isFrozen(account)) revert ICarbonCredit.CreditAccountFrozen(account);
        if (token.permissioned() && !token.isAllowed(account)) revert ICarbonCredit.CreditAccountNotAllowed(account);
    }

    function _lists(uint256 pledgeId, uint256 count)
        private
        view
        returns (uint256[] memory ids, uint256[] memory amounts)
    {
        ids = new uint256[](count);
        amounts = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            ids[i] = _ids[pledgeId][i];
            amounts[i] = _amounts[pledgeId][i];
        }
    }

    function _sendOut(uint256 pledgeId, uint256 count, address to) private {
        (uint256[] memory ids, uint256[] memory amounts) = _lists(pledgeId, count);
        _credit.safeBatchTransferFrom(address(this), to, ids, amounts, "");
    }
}
