// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ICreditFacility
/// @notice A lending facility against pledged carbon credits. A lender (LENDER_ROLE) supplies and withdraws an
/// ERC-20 loan currency; borrowers open positions, pledge credits of up to `MAX_COLLATERAL_IDS` ids per
/// position, borrow up to the loan-to-value limit, repay in part or in full, and withdraw collateral while the
/// position stays within its limit. A position that is unhealthy (debt above its liquidation limit) or has
/// reached its maturity can be liquidated by anyone, up to a close factor of its debt, for collateral worth
/// the repaid amount plus a bonus. Debt left once a position has no collateral is recorded as bad debt.
/// @dev Encumbrance is by escrow: pledged credits are held by the facility, so the borrower cannot transfer,
/// retire or bridge them. The facility accepts credits only from its own pulls (`FacilityUnsolicitedTransfer`),
/// so its balance of every id is exactly what its positions hold.
/// Units: credit amounts are token units (1 tonne = 1000 units); prices are loan-currency units per tonne;
/// basis points (bps) are 1/10000. Interest accrues per second at a simple annual rate into a global borrow
/// index (RAY = 1e27), compounded at each accrual. Debts are stored as scaled principal: debt = scaled * index
/// / RAY. Rounding always favours the facility: debt and the scaled amount of a borrow round up; the scaled
/// amount a repayment removes, collateral values and seized amounts round down.
/// Pricing: collateral of a Suspended or Terminated project is valued at zero (the token would refuse to move
/// it, so it can neither be withdrawn nor liquidated); ids of a class without parameters count for nothing.
/// Warning: the admin is trusted with the risk parameters (LTV, liquidation threshold, price age per class,
/// interest rate, close factor, bonus); the oracle's feeder and admin with prices and classes (see
/// ICreditPriceOracle); the lender with the liquidity. The loan currency is assumed to be a plain ERC-20:
/// a transfer that delivers less than asked (fee-on-transfer) is refused, a rebasing token is not supported.
interface ICreditFacility {
    /// @notice Risk parameters of a price class. A class with `liquidationThresholdBps == 0` is not listed:
    /// its ids cannot be pledged and count for nothing.
    /// @param ltvBps The share of collateral value that may be borrowed against.
    /// @param liquidationThresholdBps The share of collateral value above which debt makes a position unhealthy.
    /// @param maxPriceAge Seconds after its observation for which a price of the class may be used.
    struct ClassParams {
        uint16 ltvBps;
        uint16 liquidationThresholdBps;
        uint32 maxPriceAge;
    }

    /// @notice A position as stored, with its debt now.
    struct PositionView {
        address owner;
        uint256 maturity;
        uint256 scaledDebt;
        uint256 debt;
        uint256[] ids;
        uint256[] amounts;
    }

    /// @notice A position's standing now. `healthFactor` is liquidationLimit / debt in 1e18 (type(uint256).max
    /// without debt). `stale` is true when some counted price is older than its class allows (the values use
    /// the stored prices then); `liquidatable` says whether `liquidate` would accept the position now (on an id
    /// with a fresh price): it counts stale collateral at zero.
    struct Health {
        uint256 collateralValue;
        uint256 borrowLimit;
        uint256 liquidationLimit;
        uint256 debt;
        uint256 healthFactor;
        bool stale;
        bool matured;
        bool liquidatable;
    }

    // ------------------------------------------------------------------ errors

    /// @notice Position `positionId` does not exist.
    error FacilityUnknownPosition(uint256 positionId);
    /// @notice `caller` is not the owner of position `positionId`.
    error FacilityNotPositionOwner(uint256 positionId, address caller);
    /// @notice The id list (`ids` long) and the amount list (`amounts` long) differ in length, or are empty.
    error FacilityInvalidLists(uint256 ids, uint256 amounts);
    /// @notice An amount of zero was given (for token id `id`, or 0 for the loan currency).
    error FacilityZeroAmount(uint256 id);
    /// @notice Position `positionId` would hold `count` ids, more than `max`.
    error FacilityTooManyCollateralIds(uint256 positionId, uint256 count, uint256 max);
    /// @notice Id `id` is of class `classId`, which has no risk parameters: it cannot be pledged.
    error FacilityClassNotListed(uint256 id, uint256 classId);
    /// @notice A maturity of `maturity` is not after the current time `now`.
    error FacilityMaturityInPast(uint256 maturity, uint256 now);
    /// @notice Position `positionId` reached its maturity `maturity` (time now: `now`): no more borrowing.
    error FacilityPositionMatured(uint256 positionId, uint256 maturity, uint256 now);
    /// @notice The price of `classId`, observed at `updatedAt` (0: never), is older than `maxAge` seconds at `now`.
    error PriceStale(uint256 classId, uint256 updatedAt, uint256 maxAge, uint256 now);
    /// @notice Borrowing would bring the debt of `positionId` to `debtAfter`, above its borrow limit `limit`.
    error FacilityBorrowExceedsLimit(uint256 positionId, uint256 debtAfter, uint256 limit);
    /// @notice `requested` loan units were asked for, but only `available` are unborrowed.
    error FacilityInsufficientLiquidity(uint256 requested, uint256 available);
    /// @notice A repayment of `offered` to position `positionId`, which owes only `owed`.
    error FacilityRepayExceedsDebt(uint256 positionId, uint256 owed, uint256 offered);
    /// @notice Position `positionId` has no debt.
    error FacilityNoDebt(uint256 positionId);
    /// @notice Position `positionId` holds no collateral of id `id`.
    error FacilityCollateralNotFound(uint256 positionId, uint256 id);
    /// @notice A withdrawal of `requested` units of `id` from `positionId`, which holds only `pledged`.
    error FacilityWithdrawExceedsCollateral(uint256 positionId, uint256 id, uint256 pledged, uint256 requested);
    /// @notice The withdrawal would leave position `positionId` with debt `debt` above its borrow limit `limit`.
    error FacilityWithdrawUnhealthy(uint256 positionId, uint256 debt, uint256 limit);
    /// @notice Position `positionId` is healthy (debt `debt` within liquidation limit `limit`) and not matured.
    error FacilityPositionHealthy(uint256 positionId, uint256 debt, uint256 limit);
    /// @notice Repaying `repay` buys less than one unit of id `id` of position `positionId`.
    error FacilityNothingToSeize(uint256 positionId, uint256 id, uint256 repay);
    /// @notice The facility accepts credits only from its own pulls; `operator` sent credits of `from`.
    error FacilityUnsolicitedTransfer(address operator, address from);
    /// @notice Risk parameters out of range for `classId`: need 0 < ltv < threshold <= 10000 (or all zero to
    /// delist) and a non-zero maximum price age.
    error FacilityInvalidClassParams(uint256 classId, uint256 ltvBps, uint256 liquidationThresholdBps, uint256 maxAge);
    /// @notice Liquidation parameters out of range: need 0 < closeFactor <= 10000 and bonus <= 5000.
    error FacilityInvalidLiquidationParams(uint256 closeFactorBps, uint256 bonusBps);
    /// @notice An annual interest rate of `annualRateBps` is above the 10000 (100 %) bound.
    error FacilityInvalidRate(uint256 annualRateBps);
    /// @notice A loan-currency transfer in delivered `received` instead of `expected` (fee-on-transfer token).
    error FacilityTransferShortfall(uint256 expected, uint256 received);

    // ------------------------------------------------------------------ events

    /// @notice `owner` opened position `positionId`, due at `maturity`.
    event PositionOpened(uint256 indexed positionId, address indexed owner, uint256 maturity);
    /// @notice `owner` pledged `amounts` of `ids` to position `positionId`.
    event Pledged(uint256 indexed positionId, address indexed owner, uint256[] ids, uint256[] amounts);
    /// @notice `amount` units of `id` left position `positionId` for its owner `to`.
    event Withdrawn(uint256 indexed positionId, address indexed to, uint256 indexed id, uint256 amount);
    /// @notice Position `positionId` borrowed `amount`, paid to `to`; its scaled debt is now `scaledDebt`, at
    /// borrow index `index`.
    event Borrowed(uint256 indexed positionId, address indexed to, uint256 amount, uint256 scaledDebt, uint256 index);
    /// @notice `payer` repaid `amount` of position `positionId`; its scaled debt is now `scaledDebt`, at `index`.
    event Repaid(uint256 indexed positionId, address indexed payer, uint256 amount, uint256 scaledDebt, uint256 index);
    /// @notice `liquidator` repaid `repaid` of position `positionId` and received `seized` units of `id`; the
    /// position's scaled debt is now `scaledDebt`, at `index`.
    event Liquidated(
        uint256 indexed positionId,
        address indexed liquidator,
        uint256 indexed id,
        uint256 repaid,
        uint256 seized,
        uint256 scaledDebt,
        uint256 index
    );
    /// @notice Position `positionId` ran out of collateral owing `amount`, written off as bad debt (the
    /// facility's total is now `totalBadDebt`); its debt is now zero.
    event BadDebtRecorded(uint256 indexed positionId, uint256 amount, uint256 totalBadDebt);
    /// @notice The borrow index grew to `index` at time `timestamp`.
    event InterestAccrued(uint256 index, uint256 timestamp);
    /// @notice `lender` supplied `amount` of liquidity.
    event LiquiditySupplied(address indexed lender, uint256 amount);
    /// @notice `lender` withdrew `amount` of unborrowed liquidity to `to`.
    event LiquidityWithdrawn(address indexed lender, address indexed to, uint256 amount);
    /// @notice The admin set the risk parameters of `classId`.
    event ClassParamsSet(uint256 indexed classId, uint256 ltvBps, uint256 liquidationThresholdBps, uint256 maxPriceAge);
    /// @notice The admin set the annual interest rate (bps); `ratePerSecond` is in RAY.
    event InterestRateSet(uint256 annualRateBps, uint256 ratePerSecond);
    /// @notice The admin set the close factor and the liquidation bonus (bps).
    event LiquidationParamsSet(uint256 closeFactorBps, uint256 bonusBps);

    // ------------------------------------------------------------------ borrower

    /// @notice Opens a position of the caller, due at `maturity` (after now), and pledges `amounts` of `ids`
    /// (both may be empty). The facility must be the caller's approved ERC-1155 operator when pledging. Each
    /// pledged id needs a listed class with a fresh price (`PriceStale` otherwise).
    /// @return positionId The new position's id (counting from 1).
    function openPosition(uint256 maturity, uint256[] calldata ids, uint256[] calldata amounts)
        external
        returns (uint256 positionId);

    /// @notice Pledges `amounts` of `ids` from the caller, the owner, to position `positionId`: the credits move
    /// into the facility. Ids of a class without risk parameters, or without a fresh price (`PriceStale`), are
    /// refused; at most MAX_COLLATERAL_IDS ids.
    function pledge(uint256 positionId, uint256[] calldata ids, uint256[] calldata amounts) external;

    /// @notice Borrows `amount` of the loan currency against position `positionId`, paid to the caller, its owner.
    /// Refused at or after maturity, when any counted price is stale, or above the borrow limit (LTV).
    function borrow(uint256 positionId, uint256 amount) external;

    /// @notice Repays `amount` of position `positionId`'s debt, from the caller (anyone). More than is owed is
    /// refused (`FacilityRepayExceedsDebt`); `type(uint256).max` repays exactly what is owed now.
    /// @return repaid What was taken from the caller.
    function repay(uint256 positionId, uint256 amount) external returns (uint256 repaid);

    /// @notice Withdraws `amount` units of `id` from position `positionId` to the caller, its owner. With debt
    /// left, every counted price must be fresh and the debt must stay within the borrow limit (LTV).
    function withdraw(uint256 positionId, uint256 id, uint256 amount) external;

    // ------------------------------------------------------------------ liquidation

    /// @notice Liquidates position `positionId`, which must be unhealthy or at/after maturity. Health counts
    /// collateral with a stale price at zero (it never reverts on it); `id` itself needs a fresh price. The
    /// caller offers `repay`, capped (not refused) at the close factor of the debt, rounded up (all of it once
    /// matured, or when the whole debt buys less than one unit of `id`), and receives units of `id` worth the
    /// repayment times (1 + bonus) at its fresh price, rounded down; closing such a dust debt takes one unit.
    /// When `id` holds less, the caller gets all of it and repays only its worth. Debt left once no
    /// collateral remains is bad debt.
    /// @return repaid What was taken from the caller.
    /// @return seized The units of `id` sent to the caller.
    function liquidate(uint256 positionId, uint256 id, uint256 repay) external returns (uint256 repaid, uint256 seized);

    // ------------------------------------------------------------------ lender and admin

    /// @notice Supplies `amount` of the loan currency from the caller. Only LENDER_ROLE.
    function supplyLiquidity(uint256 amount) external;

    /// @notice Withdraws `amount` of unborrowed liquidity to `to`. Only LENDER_ROLE.
    function withdrawLiquidity(uint256 amount, address to) external;

    /// @notice Sets the risk parameters of price class `classId` (all zero: delisted). Only the admin.
    function setClassParams(uint256 classId, uint16 ltvBps, uint16 liquidationThresholdBps, uint32 maxPriceAge)
        external;

    /// @notice Sets the annual interest rate in bps (at most 10000); interest so far accrues first. Only the admin.
    function setInterestRate(uint256 annualRateBps) external;

    /// @notice Sets the close factor (share of debt one liquidation may repay) and the liquidation bonus, in
    /// bps. Only the admin.
    function setLiquidationParams(uint256 closeFactorBps, uint256 bonusBps) external;

    /// @notice Brings the borrow index up to now (anyone; every state change does it anyway).
    function accrue() external;

    // ------------------------------------------------------------------ views

    /// @notice Position `positionId` with its debt now.
    function position(uint256 positionId) external view returns (PositionView memory);

    /// @notice What position `positionId` owes now (rounded up).
    function debtOf(uint256 positionId) external view returns (uint256);

    /// @notice The standing of position `positionId` now (values at the stored prices, stale or not).
    function health(uint256 positionId) external view returns (Health memory);

    /// @notice `health` of several positions (for keepers); bounded by the caller's list.
    function healthMany(uint256[] calldata positionIds) external view returns (Health[] memory);

    /// @notice The risk parameters of `classId`.
    function classParams(uint256 classId) external view returns (ClassParams memory);

    /// @notice The borrow index now, in RAY. It saturates at 2^128 - 1 (interest then stops accruing), so that
    /// accrual never reverts at any allowed rate over any horizon.
    function borrowIndex() external view returns (uint256);

    /// @notice The sum of all scaled debts.
    function totalScaledDebt() external view returns (uint256);

    /// @notice All debt now (total scaled debt at the current index, rounded up).
    function totalDebt() external view returns (uint256);

    /// @notice Unborrowed liquidity: what the lender may withdraw and borrowers may borrow.
    function cash() external view returns (uint256);

    /// @notice All debt ever written off as bad debt.
    function badDebt() external view returns (uint256);

    /// @notice Positions opened so far (the last position id).
    function positionCount() external view returns (uint256);

    /// @notice The annual interest rate in bps.
    function interestRateBps() external view returns (uint256);

    /// @notice The close factor in bps.
    function closeFactorBps() external view returns (uint256);

    /// @notice The liquidation bonus in bps.
    function liquidationBonusBps() external view returns (uint256);

    /// @notice The credit token.
    function credit() external view returns (address);

    /// @notice The loan currency (ERC-20).
    function loanToken() external view returns (address);

    /// @notice The price oracle.
    function oracle() external view returns (address);
}
