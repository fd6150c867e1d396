// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";

import {ICreditPriceOracle} from "../interfaces/ICreditPriceOracle.sol";

/// @title CreditPriceOracle
/// @notice Per-class credit prices posted by a price feeder, with a bound on each update's move.
/// @dev Gas: one slot per class (price and observation time packed); a quote is one or two reads (the class
/// assignment, then the price). Loops only over the caller's calldata.
contract CreditPriceOracle is ICreditPriceOracle, AccessControlDefaultAdminRules {
    /// @notice Posts prices.
    bytes32 public constant PRICE_FEEDER_ROLE = keccak256("PRICE_FEEDER_ROLE");
    uint256 private constant _BPS = 10_000;

    uint256 private _maxMoveBps;
    mapping(uint256 classId => Price) private _prices;
    mapping(uint256 id => uint256 classId) private _classOf;

    /// @param maxMoveBps_ The most a price may move per update, in basis points (1..10000).
    /// @param adminDelay Seconds the two-step admin transfer waits.
    /// @param admin The DEFAULT_ADMIN_ROLE holder.
    constructor(uint256 maxMoveBps_, uint48 adminDelay, address admin) AccessControlDefaultAdminRules(adminDelay, admin) {
        _setMaxMove(maxMoveBps_);
    }

    /// @inheritdoc ICreditPriceOracle
    function postPrices(uint256[] calldata classIds, uint256[] calldata prices, uint256[] calldata observedAt)
        external
        onlyRole(PRICE_FEEDER_ROLE)
    {
        uint256 n = classIds.length;
        if (n == 0 || n != prices.length) revert OracleInvalidLists(n, prices.length);
        if (n != observedAt.length) revert OracleInvalidLists(n, observedAt.length);
        uint256 maxMove = _maxMoveBps;
        for (uint256 i; i < n; ++i) {
            _post(classIds[i], prices[i], observedAt[i], maxMove);
        }
    }

    /// @inheritdoc ICreditPriceOracle
    function setClass(uint256[] calldata ids, uint256 classId) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (ids.length == 0) revert OracleInvalidLists(0, 0);
        if (classId == 0) revert OracleZeroClass();
        for (uint256 i; i < ids.length; ++i) {
            uint256 id = ids[i];
            // Stored as 0 when the id is its own class, so that an unassigned id costs one read.
            uint256 stored = classId == id ? 0 : classId;
            if (_classOf[id] == stored) continue;
            _classOf[id] = stored;
            emit ClassAssigned(id, classId);
        }
    }

    /// @inheritdoc ICreditPriceOracle
    function setMaxMoveBps(uint256 maxMoveBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMaxMove(maxMoveBps_);
    }

    /// @inheritdoc ICreditPriceOracle
    function classOf(uint256 id) public view returns (uint256) {
        uint256 assigned = _classOf[id];
        return assigned == 0 ? id : assigned;
    }

    /// @inheritdoc ICreditPriceOracle
    function priceOf(uint256 classId) external view returns (Price memory) {
        return _prices[classId];
    }

    /// @inheritdoc ICreditPriceOracle
    function quote(uint256 id) external view returns (uint256 classId, uint256 price, uint256 updatedAt) {
        classId = classOf(id);
        Price memory p = _prices[classId];
        return (classId, p.price, p.updatedAt);
    }

    /// @inheritdoc ICreditPriceOracle
    function maxMoveBps() external view returns (uint256) {
        return _maxMoveBps;
    }

    function _post(uint256 classId, uint256 price, uint256 observedAt, uint256 maxMove) private {
        if (classId == 0) revert OracleZeroClass();
        if (price == 0) revert OraclePriceZero(classId);
        if (price > type(uint128).max) revert OraclePriceTooLarge(classId, price);
        if (observedAt > block.timestamp) revert OracleObservationInFuture(classId, observedAt, block.timestamp);
        Price memory previous = _prices[classId];
        if (observedAt <= previous.updatedAt) {
            revert OracleObservationNotNewer(classId, observedAt, previous.updatedAt);
        }
        if (previous.price != 0) {
            uint256 move = price > previous.price ? price - previous.price : previous.price - price;
            // Cannot overflow: both prices are below 2^128 and maxMove <= 10^4.
            if (move * _BPS > uint256(previous.price) * maxMove) {
                revert PriceMoveTooLarge(classId, previous.price, price, maxMove);
            }
        }
        // Cannot truncate: price < 2^128 was checked; observedAt <= block.timestamp < 2^40.
        _prices[classId] = Price(uint128(price), uint40(observedAt));
        emit PricePosted(classId, price, observedAt, msg.sender);
    }

    function _setMaxMove(uint256 maxMoveBps_) private {
        if (maxMoveBps_ == 0 || maxMoveBps_ > _BPS) revert OracleInvalidMaxMove(maxMoveBps_);
        _maxMoveBps = maxMoveBps_;
        emit MaxMoveSet(maxMoveBps_);
    }
}
