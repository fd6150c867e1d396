// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {ICreditFacility} from "../interfaces/ICreditFacility.sol";
import {ICreditPriceOracle} from "../interfaces/ICreditPriceOracle.sol";
import {ICarbonCredit} from "../interfaces/ICarbonCredit.sol";
import {SelfPullHolder} from "./SelfPullHolder.sol";
import {CreditIds} from "../libraries/CreditIds.sol";

/// @title CreditFacility
/// @notice Loans in an ERC-20 against carbon credits held in escrow; see ICreditFacility.
/// @dev Invariants:
/// - the facility's balance of every id equals the sum of what its positions hold of it;
/// - totalScaledDebt equals the sum of the positions' scaled debts, so totalDebt <= the sum of their debts;
/// - cash = supplied - withdrawn - borrowed + repaid (tokens sent to the facility otherwise are ignored);
/// - a position without collateral has no debt: what is left when liquidation takes the last unit is bad debt.
/// Gas: a position holds at most MAX_COLLATERAL_IDS ids (one packed slot each), so a health check reads at
/// most that many entries, one oracle quote and one restriction flag each. No loop runs over positions.
contract CreditFacility is ICreditFacility, SelfPullHolder, AccessControlDefaultAdminRules, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Supplies and withdraws liquidity.
    bytes32 public constant LENDER_ROLE = keccak256("LENDER_ROLE");
    /// @notice The most distinct ids one position may hold.
    uint256 public constant MAX_COLLATERAL_IDS = 16;
    /// @notice Fixed-point unit of the borrow index.
    uint256 public constant RAY = 1e27;
    /// @notice The borrow index saturates here (about 3.4e11 times its start): interest stops accruing.
    uint256 public constant MAX_INDEX = type(uint128).max;

    uint256 private constant _BPS = 10_000;
    uint256 private constant _UNITS_PER_TONNE = CreditIds.UNITS_PER_TONNE;
    uint256 private constant _YEAR = 365 days;
    uint256 private constant _MAX_BONUS_BPS = 5_000;
    uint256 private constant _WAD = 1e18;

    /// @dev Slot 0 of a position.
    struct Position {
        address owner;
        uint40 maturity;
        uint8 idCount;
    }

    /// @dev One collateral entry in one slot: token ids are below 2^128 (two 64-bit halves, see CreditIds).
    struct Collateral {
        uint128 id;
        uint128 amount;
    }

    /// @dev Everything accrual reads and writes, in one slot.
    struct Accrual {
        uint128 index;
        uint40 lastAccrual;
        uint88 ratePerSecond;
    }

    struct Params {
        uint16 annualRateBps;
        uint16 closeFactorBps;
        uint16 bonusBps;
    }

    /// @dev Sums over a position's collateral.
    struct Assessment {
        uint256 value;
        uint256 borrowLimit;
        uint256 liquidationLimit;
        /// @dev The liquidation limit of the collateral with a fresh price only (stale prices count for zero).
        uint256 freshLiquidationLimit;
        bool stale;
    }

    IERC1155 private immutable _credit;
    IERC20 private immutable _loanToken;
    ICreditPriceOracle private immutable _oracle;

    Accrual private _accrual;
    Params private _params;
    uint256 private _totalScaledDebt;
    uint256 private _cash;
    uint256 private _badDebt;
    uint256 private _positionCount;
    mapping(uint256 positionId => Position) private _positions;
    mapping(uint256 positionId => uint256) private _scaledDebts;
    mapping(uint256 positionId => mapping(uint256 slot => Collateral)) private _collateral;
    mapping(uint256 classId => ClassParams) private _classParams;

    /// @param credit_ The credit token (ERC-1155).
    /// @param loanToken_ The loan currency (ERC-20).
    /// @param oracle_ The credit price oracle.
    /// @param annualRateBps Annual interest rate, bps (at most 10000).
    /// @param closeFactorBps Share of the debt one liquidation may repay before maturity, bps (1..10000).
    /// @param bonusBps Liquidation bonus, bps (at most 5000).
    /// @param adminDelay Seconds the two-step admin transfer waits.
    /// @param admin The DEFAULT_ADMIN_ROLE holder.
    constructor(
        address credit_,
        address loanToken_,
        address oracle_,
        uint256 annualRateBps,
        uint256 closeFactorBps,
        uint256 bonusBps,
        uint48 adminDelay,
        address admin
    ) AccessControlDefaultAdminRules(adminDelay, admin) {
        _credit = IERC1155(credit_);
        _loanToken = IERC20(loanToken_);
        _oracle = ICreditPriceOracle(oracle_);
        _accrual = Accrual(uint128(RAY), uint40(block.timestamp), 0);
        _setRate(annualRateBps);
        _setLiquidationParams(closeFactorBps, bonusBps);
    }

    modifier onlyOwnerOf(uint256 positionId) {
        address owner = _existing(positionId).owner;
        if (owner != msg.sender) revert FacilityNotPositionOwner(positionId, msg.sender);
        _;
    }

    // ------------------------------------------------------------------ borrower

    /// @inheritdoc ICreditFacility
    function openPosition(uint256 maturity, uint256[] calldata ids, uint256[] calldata amounts)
        external
        nonReentrant
        returns (uint256 positionId)
    {
        if (maturity <= block.timestamp) revert FacilityMaturityInPast(maturity, block.timestamp);
        if (ids.length != amounts.length) revert FacilityInvalidLists(ids.length, amounts.length);
        positionId = ++_positionCount;
        _positions[positionId] = Position(msg.sender, SafeCast.toUint40(maturity), 0);
        emit PositionOpened(positionId, msg.sender, maturity);
        if (ids.length != 0) _pledge(positionId, 0, ids, amounts);
    }

    /// @inheritdoc ICreditFacility
    function pledge(uint256 positionId, uint256[] calldata ids, uint256[] calldata amounts)
        external
        nonReentrant
        onlyOwnerOf(positionId)
    {
        if (ids.length == 0 || ids.length != amounts.length) revert FacilityInvalidLists(ids.length, amounts.length);
        _pledge(positionId, _positions[positionId].idCount, ids, amounts);
    }

    /// @inheritdoc ICreditFacility
    function borrow(uint256 positionId, uint256 amount) external nonReentrant onlyOwnerOf(positionId) {
        Position memory p = _positions[positionId];
        if (amount == 0) revert FacilityZeroAmount(0);
        if (block.timestamp >= p.maturity) revert FacilityPositionMatured(positionId, p.maturity, block.timestamp);
        uint256 available = _cash;
        if (amount > available) revert FacilityInsufficientLiquidity(amount, available);
        uint256 index = _accrue();
        // Rounded up: the position owes at least what it received.
        uint256 added = Math.mulDiv(amount, RAY, index, Math.Rounding.Ceil);
        uint256 scaled = _scaledDebts[positionId] + added;
        uint256 debtAfter = _debt(scaled, index);
        Assessment memory s = _assess(positionId, p.idCount, true);
        if (debtAfter > s.borrowLimit) revert FacilityBorrowExceedsLimit(positionId, debtAfter, s.borrowLimit);
        _scaledDebts[positionId] = scaled;
        _totalScaledDebt += added;
        // Cannot underflow: amount <= available was checked.
        unchecked {
            _cash = available - amount;
        }
        emit Borrowed(positionId, msg.sender, amount, scaled, index);
        _loanToken.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc ICreditFacility
    function repay(uint256 positionId, uint256 amount) external nonReentrant returns (uint256) {
        _existing(positionId);
        uint256 index = _accrue();
        uint256 scaled = _scaledDebts[positionId];
        if (scaled == 0) revert FacilityNoDebt(positionId);
        uint256 owed = _debt(scaled, index);
        if (amount == type(uint256).max) amount = owed;
        if (amount == 0) revert FacilityZeroAmount(0);
        if (amount > owed) revert FacilityRepayExceedsDebt(positionId, owed, amount);
        uint256 remaining = _reduceDebt(positionId, scaled, amount, owed, index);
        _cash += amount;
        emit Repaid(positionId, msg.sender, amount, remaining, index);
        _pull(msg.sender, amount);
        return amount;
    }

    /// @inheritdoc ICreditFacility
    function withdraw(uint256 positionId, uint256 id, uint256 amount) external nonReentrant onlyOwnerOf(positionId) {
        if (amount == 0) revert FacilityZeroAmount(id);
        uint256 count = _positions[positionId].idCount;
        (uint256 slot, uint256 pledged) = _find(positionId, count, id);
        if (amount > pledged) revert FacilityWithdrawExceedsCollateral(positionId, id, pledged, amount);
        // Cannot underflow: amount <= pledged was checked.
        unchecked {
            count = _setAmount(positionId, count, slot, pledged - amount);
        }
        uint256 scaled = _scaledDebts[positionId];
        if (scaled != 0) {
            uint256 debt = _debt(scaled, _accrue());
            Assessment memory s = _assess(positionId, count, true);
            if (debt > s.borrowLimit) revert FacilityWithdrawUnhealthy(positionId, debt, s.borrowLimit);
        }
        emit Withdrawn(positionId, msg.sender, id, amount);
        _credit.safeTransferFrom(address(this), msg.sender, id, amount, "");
    }

    // ------------------------------------------------------------------ liquidation

    /// @inheritdoc ICreditFacility
    function liquidate(uint256 positionId, uint256 id, uint256 repayAmount)
        external
        nonReentrant
        returns (uint256 repaid, uint256 seized)
    {
        Position memory p = _existing(positionId);
        if (repayAmount == 0) revert FacilityZeroAmount(0);
        uint256 index = _accrue();
        uint256 scaled = _scaledDebts[positionId];
        if (scaled == 0) revert FacilityNoDebt(positionId);
        uint256 debt = _debt(scaled, index);
        Params memory params = _params;
        (uint256 slot, uint256 pledged) = _find(positionId, p.idCount, id);
        uint256 price = _freshPrice(id);
        uint256 premium = _BPS + params.bonusBps;
        uint256 maxRepay = debt;
        if (block.timestamp < p.maturity) {
            // Stale prices count for zero here (never revert): no class the borrower holds can shield the
            // position; the seized id itself must have a fresh price.
            Assessment memory s = _assess(positionId, p.idCount, false);
            if (debt <= s.freshLiquidationLimit) {
                revert FacilityPositionHealthy(positionId, debt, s.freshLiquidationLimit);
            }
            // Dust (the whole debt buys less than one unit of `id`) may be closed at once; otherwise the close
            // factor applies, rounded up.
            if (Math.mulDiv(debt * premium, _UNITS_PER_TONNE, _BPS * price) != 0) {
                maxRepay = Math.mulDiv(debt, params.closeFactorBps, _BPS, Math.Rounding.Ceil);
            }
        }
        // Capped, not refused: a repayment landing just before cannot make an exact offer fail.
        if (repayAmount > maxRepay) repayAmount = maxRepay;
        // Units worth repay * (1 + bonus), rounded down.
        seized = Math.mulDiv(repayAmount * premium, _UNITS_PER_TONNE, _BPS * price);
        // Closing a dust debt takes one unit, rounded up (at most one unit's worth above the bonus).
        if (seized == 0 && repayAmount == debt) seized = 1;
        repaid = repayAmount;
        if (seized >= pledged) {
            // The id runs out: take all of it, and repay only its worth (rounded up), never more than offered.
            seized = pledged;
            repaid = Math.min(repayAmount, Math.mulDiv(pledged * price, _BPS, _UNITS_PER_TONNE * premium, Math.Rounding.Ceil));
        }
        if (seized == 0) revert FacilityNothingToSeize(positionId, id, repayAmount);
        uint256 count;
        // Cannot underflow: seized <= pledged.
        unchecked {
            count = _setAmount(positionId, p.idCount, slot, pledged - seized);
        }
        scaled = _reduceDebt(positionId, scaled, repaid, debt, index);
        _cash += repaid;
        emit Liquidated(positionId, msg.sender, id, repaid, seized, scaled, index);
        if (count == 0 && scaled != 0) _writeOff(positionId, scaled, index);
        _pull(msg.sender, repaid);
        _credit.safeTransferFrom(address(this), msg.sender, id, seized, "");
    }

    // ------------------------------------------------------------------ lender and admin

    /// @inheritdoc ICreditFacility
    function supplyLiquidity(uint256 amount) external nonReentrant onlyRole(LENDER_ROLE) {
        if (amount == 0) revert FacilityZeroAmount(0);
        _cash += amount;
        emit LiquiditySupplied(msg.sender, amount);
        _pull(msg.sender, amount);
    }

    /// @inheritdoc ICreditFacility
    function withdrawLiquidity(uint256 amount, address to) external nonReentrant onlyRole(LENDER_ROLE) {
        if (amount == 0) revert FacilityZeroAmount(0);
        uint256 available = _cash;
        if (amount > available) revert FacilityInsufficientLiquidity(amount, available);
        // Cannot underflow: amount <= available was checked.
        unchecked {
            _cash = available - amount;
        }
        emit LiquidityWithdrawn(msg.sender, to, amount);
        _loanToken.safeTransfer(to, amount);
    }

    /// @inheritdoc ICreditFacility
    function setClassParams(uint256 classId, uint16 ltvBps, uint16 liquidationThresholdBps, uint32 maxPriceAge)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        bool delist = ltvBps == 0 && liquidationThresholdBps == 0;
        bool valid = delist || (ltvBps != 0 && ltvBps < liquidationThresholdBps && liquidationThresholdBps <= _BPS);
        if (!valid || maxPriceAge == 0) {
            revert FacilityInvalidClassParams(classId, ltvBps, liquidationThresholdBps, maxPriceAge);
        }
        _classParams[classId] = ClassParams(ltvBps, liquidationThresholdBps, maxPriceAge);
        emit ClassParamsSet(classId, ltvBps, liquidationThresholdBps, maxPriceAge);
    }

    /// @inheritdoc ICreditFacility
    function setInterestRate(uint256 annualRateBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _accrue();
        _setRate(annualRateBps);
    }

    /// @inheritdoc ICreditFacility
    function setLiquidationParams(uint256 closeFactorBps_, uint256 bonusBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setLiquidationParams(closeFactorBps_, bonusBps);
    }

    /// @inheritdoc ICreditFacility
    function accrue() external {
        _accrue();
    }

    /// @dev Credits are accepted only when the facility itself pulls them (a pledge); see SelfPullHolder.
    function _revertUnsolicited(address operator, address from) internal pure override {
        revert FacilityUnsolicitedTransfer(operator, from);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICreditFacility
    function position(uint256 positionId) external view returns (PositionView memory v) {
        Position memory p = _positions[positionId];
        v.owner = p.owner;
        v.maturity = p.maturity;
        v.scaledDebt = _scaledDebts[positionId];
        v.debt = _debt(v.scaledDebt, _currentIndex());
        v.ids = new uint256[](p.idCount);
        v.amounts = new uint256[](p.idCount);
        for (uint256 i; i < p.idCount; ++i) {
            Collateral memory c = _collateral[positionId][i];
            (v.ids[i], v.amounts[i]) = (c.id, c.amount);
        }
    }

    /// @inheritdoc ICreditFacility
    function debtOf(uint256 positionId) external view returns (uint256) {
        return _debt(_scaledDebts[positionId], _currentIndex());
    }

    /// @inheritdoc ICreditFacility
    function health(uint256 positionId) external view returns (Health memory) {
        return _health(positionId, _currentIndex());
    }

    /// @inheritdoc ICreditFacility
    function healthMany(uint256[] calldata positionIds) external view returns (Health[] memory out) {
        uint256 index = _currentIndex();
        out = new Health[](positionIds.length);
        for (uint256 i; i < positionIds.length; ++i) {
            out[i] = _health(positionIds[i], index);
        }
    }

    /// @inheritdoc ICreditFacility
    function classParams(uint256 classId) external view returns (ClassParams memory) {
        return _classParams[classId];
    }

    /// @inheritdoc ICreditFacility
    function borrowIndex() external view returns (uint256) {
        return _currentIndex();
    }

    /// @inheritdoc ICreditFacility
    function totalScaledDebt() external view returns (uint256) {
        return _totalScaledDebt;
    }

    /// @inheritdoc ICreditFacility
    function totalDebt() external view returns (uint256) {
        return _debt(_totalScaledDebt, _currentIndex());
    }

    /// @inheritdoc ICreditFacility
    function cash() external view returns (uint256) {
        return _cash;
    }

    /// @inheritdoc ICreditFacility
    function badDebt() external view returns (uint256) {
        return _badDebt;
    }

    /// @inheritdoc ICreditFacility
    function positionCount() external view returns (uint256) {
        return _positionCount;
    }

    /// @inheritdoc ICreditFacility
    function interestRateBps() external view returns (uint256) {
        return _params.annualRateBps;
    }

    /// @inheritdoc ICreditFacility
    function closeFactorBps() external view returns (uint256) {
        return _params.closeFactorBps;
    }

    /// @inheritdoc ICreditFacility
    function liquidationBonusBps() external view returns (uint256) {
        return _params.bonusBps;
    }

    /// @inheritdoc ICreditFacility
    function credit() external view returns (address) {
        return address(_credit);
    }

    /// @inheritdoc ICreditFacility
    function loanToken() external view returns (address) {
        return address(_loanToken);
    }

    /// @inheritdoc ICreditFacility
    function oracle() external view returns (address) {
        return address(_oracle);
    }

    /// @inheritdoc ERC1155Holder
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC1155Holder, AccessControlDefaultAdminRules)
        returns (bool)
    {
        return interfaceId == type(ICreditFacility).interfaceId || super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ internals

    function _existing(uint256 positionId) private view returns (Position memory p) {
        p = _positions[positionId];
        if (p.owner == address(0)) revert FacilityUnknownPosition(positionId);
    }

    /// @dev Adds `amounts` of `ids` to the position (which holds `count` entries), then pulls the credits.
    function _pledge(uint256 positionId, uint256 count, uint256[] calldata ids, uint256[] calldata amounts) private {
        for (uint256 i; i < ids.length; ++i) {
            uint256 id = ids[i];
            uint256 amount = amounts[i];
            if (amount == 0) revert FacilityZeroAmount(id);
            (uint256 classId,, uint256 updatedAt) = _oracle.quote(id);
            ClassParams memory params = _classParams[classId];
            if (params.liquidationThresholdBps == 0) revert FacilityClassNotListed(id, classId);
            // Only collateral with a fresh price is taken: a liquidation can then value (or seize) it.
            if (_isStale(updatedAt, params.maxPriceAge)) {
                revert PriceStale(classId, updatedAt, params.maxPriceAge, block.timestamp);
            }
            uint256 slot = _slotOf(positionId, count, id);
            if (slot == count) {
                if (count == MAX_COLLATERAL_IDS) {
                    revert FacilityTooManyCollateralIds(positionId, count + 1, MAX_COLLATERAL_IDS);
                }
                _collateral[positionId][slot] = Collateral(SafeCast.toUint128(id), SafeCast.toUint128(amount));
                ++count;
            } else {
                Collateral storage c = _collateral[positionId][slot];
                c.amount = SafeCast.toUint128(c.amount + amount);
            }
        }
        // Cannot truncate: count <= MAX_COLLATERAL_IDS.
        _positions[positionId].idCount = uint8(count);
        emit Pledged(positionId, msg.sender, ids, amounts);
        // The token checks the caller's balance, approval, freeze, allowlist and the project's status.
        _credit.safeBatchTransferFrom(msg.sender, address(this), ids, amounts, "");
    }

    /// @dev The slot of `id` among the position's `count` entries, or `count` when it holds none.
    function _slotOf(uint256 positionId, uint256 count, uint256 id) private view returns (uint256) {
        for (uint256 i; i < count; ++i) {
            if (_collateral[positionId][i].id == id) return i;
        }
        return count;
    }

    function _find(uint256 positionId, uint256 count, uint256 id) private view returns (uint256 slot, uint256 amount) {
        slot = _slotOf(positionId, count, id);
        if (slot == count) revert FacilityCollateralNotFound(positionId, id);
        amount = _collateral[positionId][slot].amount;
    }

    /// @dev Sets the amount of entry `slot`; an emptied entry is replaced by the last one. Returns the new count.
    function _setAmount(uint256 positionId, uint256 count, uint256 slot, uint256 amount) private returns (uint256) {
        mapping(uint256 => Collateral) storage entries = _collateral[positionId];
        if (amount != 0) {
            // Cannot truncate: amount is below the entry's current amount.
            entries[slot].amount = uint128(amount);
            return count;
        }
        uint256 last = count - 1;
        if (slot != last) entries[slot] = entries[last];
        delete entries[last];
        // Cannot truncate: last < MAX_COLLATERAL_IDS.
        _positions[positionId].idCount = uint8(last);
        return last;
    }

    /// @dev Removes `amount` of debt (`owed` in all): all of the scaled debt when it is all owed, else the
    /// scaled amount rounded down. Returns the scaled debt left.
    function _reduceDebt(uint256 positionId, uint256 scaled, uint256 amount, uint256 owed, uint256 index)
        private
        returns (uint256)
    {
        uint256 removed = amount == owed ? scaled : Math.mulDiv(amount, RAY, index);
        // Cannot underflow: amount < owed means amount * RAY / index < scaled (owed is scaled * index rounded up).
        unchecked {
            scaled -= removed;
            _totalScaledDebt -= removed;
        }
        _scaledDebts[positionId] = scaled;
        return scaled;
    }

    function _writeOff(uint256 positionId, uint256 scaled, uint256 index) private {
        uint256 amount = _debt(scaled, index);
        _scaledDebts[positionId] = 0;
        // Cannot underflow: the position's scaled debt is part of the total.
        unchecked {
            _totalScaledDebt -= scaled;
        }
        uint256 total = _badDebt + amount;
        _badDebt = total;
        emit BadDebtRecorded(positionId, amount, total);
    }

    function _health(uint256 positionId, uint256 index) private view returns (Health memory h) {
        Position memory p = _positions[positionId];
        Assessment memory s = _assess(positionId, p.idCount, false);
        h.collateralValue = s.value;
        h.borrowLimit = s.borrowLimit;
        h.liquidationLimit = s.liquidationLimit;
        h.stale = s.stale;
        h.debt = _debt(_scaledDebts[positionId], index);
        h.matured = p.owner != address(0) && block.timestamp >= p.maturity;
        h.healthFactor = h.debt == 0 ? type(uint256).max : Math.mulDiv(s.liquidationLimit, _WAD, h.debt);
        h.liquidatable = h.debt != 0 && (h.matured || h.debt > s.freshLiquidationLimit);
    }

    /// @dev Values the position's `count` entries. Collateral of a restricted project, or of a class without
    /// risk parameters, counts for nothing (and needs no price). With `requireFresh`, a stale price reverts;
    /// without, it is flagged and left out of `freshLiquidationLimit`.
    function _assess(uint256 positionId, uint256 count, bool requireFresh) private view returns (Assessment memory s) {
        for (uint256 i; i < count; ++i) {
            Collateral memory c = _collateral[positionId][i];
            if (ICarbonCredit(address(_credit)).isProjectRestricted(CreditIds.projectOf(c.id))) continue;
            (uint256 classId, uint256 price, uint256 updatedAt) = _oracle.quote(c.id);
            ClassParams memory params = _classParams[classId];
            if (params.liquidationThresholdBps == 0) continue;
            bool stale = _isStale(updatedAt, params.maxPriceAge);
            if (stale) {
                if (requireFresh) revert PriceStale(classId, updatedAt, params.maxPriceAge, block.timestamp);
                s.stale = true;
            }
            uint256 value = Math.mulDiv(c.amount, price, _UNITS_PER_TONNE);
            uint256 limit = Math.mulDiv(value, params.liquidationThresholdBps, _BPS);
            s.value += value;
            s.borrowLimit += Math.mulDiv(value, params.ltvBps, _BPS);
            s.liquidationLimit += limit;
            if (!stale) s.freshLiquidationLimit += limit;
        }
    }

    function _freshPrice(uint256 id) private view returns (uint256 price) {
        (uint256 classId, uint256 p, uint256 updatedAt) = _oracle.quote(id);
        uint256 maxAge = _classParams[classId].maxPriceAge;
        if (_isStale(updatedAt, maxAge)) revert PriceStale(classId, updatedAt, maxAge, block.timestamp);
        return p;
    }

    function _isStale(uint256 updatedAt, uint256 maxAge) private view returns (bool) {
        // The oracle never stores an observation from the future, so the subtraction cannot underflow.
        return updatedAt == 0 || block.timestamp - updatedAt > maxAge;
    }

    function _debt(uint256 scaled, uint256 index) private pure returns (uint256) {
        return Math.mulDiv(scaled, index, RAY, Math.Rounding.Ceil);
    }

    function _currentIndex() private view returns (uint256 index) {
        Accrual memory a = _accrual;
        index = a.index;
        uint256 elapsed = block.timestamp - a.lastAccrual;
        if (elapsed != 0 && a.ratePerSecond != 0) {
            // Cannot overflow: index < 2^128 and rate * elapsed < 2^66 * 2^40.
            index += Math.mulDiv(index, uint256(a.ratePerSecond) * elapsed, RAY, Math.Rounding.Ceil);
            // Saturates: once at MAX_INDEX the index (and interest) stops growing, so accrual never reverts.
            if (index > MAX_INDEX) index = MAX_INDEX;
        }
    }

    /// @dev Brings the index up to now (rounded up: interest favours the facility) and returns it.
    function _accrue() private returns (uint256 index) {
        Accrual memory a = _accrual;
        if (a.lastAccrual == block.timestamp) return a.index;
        index = _currentIndex();
        // Cannot truncate: index <= MAX_INDEX = 2^128 - 1.
        _accrual = Accrual(uint128(index), uint40(block.timestamp), a.ratePerSecond);
        if (index != a.index) emit InterestAccrued(index, block.timestamp);
    }

    function _setRate(uint256 annualRateBps) private {
        if (annualRateBps > _BPS) revert FacilityInvalidRate(annualRateBps);
        // Rounded up; at most 10^27 / 31,536,000 ~ 3.2e19 per second, far below 2^88.
        uint256 perSecond = Math.mulDiv(annualRateBps, RAY, _BPS * _YEAR, Math.Rounding.Ceil);
        _accrual.ratePerSecond = uint88(perSecond);
        _params.annualRateBps = uint16(annualRateBps);
        emit InterestRateSet(annualRateBps, perSecond);
    }

    function _setLiquidationParams(uint256 closeFactorBps_, uint256 bonusBps) private {
        if (closeFactorBps_ == 0 || closeFactorBps_ > _BPS || bonusBps > _MAX_BONUS_BPS) {
            revert FacilityInvalidLiquidationParams(closeFactorBps_, bonusBps);
        }
        _params.closeFactorBps = uint16(closeFactorBps_);
        _params.bonusBps = uint16(bonusBps);
        emit LiquidationParamsSet(closeFactorBps_, bonusBps);
    }

    /// @dev Takes `amount` of the loan currency from `from`; refuses a token that delivers anything else.
    function _pull(address from, uint256 amount) private {
        uint256 before = _loanToken.balanceOf(address(this));
        _loanToken.safeTransferFrom(from, address(this), amount);
        uint256 received = _loanToken.balanceOf(address(this)) - before;
        if (received != amount) revert FacilityTransferShortfall(amount, received);
    }
}
