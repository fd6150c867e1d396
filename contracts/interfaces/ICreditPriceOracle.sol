// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title ICreditPriceOracle
/// @notice Prices of carbon credits for lending: a price per tonne (1 credit, 1000 token units), in the smallest
/// unit of a loan currency (e.g. 1_000_000 = 1 USDC-like token of 6 decimals), per price class.
/// @dev A price class is either a single batch (class id = the token id, the default for every id) or a class the
/// admin defines, e.g. a project/vintage class (see `CreditClasses.vintageClass`), to which the admin assigns
/// batch ids with `setClass`. One posted price then values every batch of the class.
/// The oracle stores what the PRICE_FEEDER posts, with the observation time the feeder gives; it bounds each
/// update's move (`maxMoveBps`) against the previous price of the class. Consumers (the credit facility) decide
/// how old a price may be.
/// Warning: the PRICE_FEEDER is trusted to post honest prices. The move bound stops one fat-fingered update,
/// not a compromised feeder, which can walk a price in steps of `maxMoveBps`. The admin is trusted with the
/// class assignment and the move bound: reassigning a pledged id to a class of another price revalues it.
interface ICreditPriceOracle {
    /// @notice The price of a class as stored.
    /// @param price Loan-currency units per tonne; never zero once posted.
    /// @param updatedAt Observation time the feeder gave for `price` (unix seconds); zero before the first post.
    struct Price {
        uint128 price;
        uint40 updatedAt;
    }

    /// @notice Class `classId` has no price yet.
    error OracleNoPrice(uint256 classId);
    /// @notice A posted price must be above zero (class `classId`).
    error OraclePriceZero(uint256 classId);
    /// @notice The price of `classId` is `price` loan units, over the most (2^128 - 1) one slot holds.
    error OraclePriceTooLarge(uint256 classId, uint256 price);
    /// @notice The observation time `observedAt` of a post for `classId` is in the future (block time `now`).
    error OracleObservationInFuture(uint256 classId, uint256 observedAt, uint256 now);
    /// @notice A post for `classId` observed at `observedAt` is not newer than the stored one, of `updatedAt`.
    error OracleObservationNotNewer(uint256 classId, uint256 observedAt, uint256 updatedAt);
    /// @notice The post moves the price of `classId` from `previous` to `proposed`, more than `maxMoveBps`.
    error PriceMoveTooLarge(uint256 classId, uint256 previous, uint256 proposed, uint256 maxMoveBps);
    /// @notice The lists of a batch post or assignment differ in length, or are empty.
    error OracleInvalidLists(uint256 first, uint256 second);
    /// @notice A move bound of `maxMoveBps` is not in 1..10000.
    error OracleInvalidMaxMove(uint256 maxMoveBps);
    /// @notice Class id zero is reserved for "no class" and cannot be assigned or priced.
    error OracleZeroClass();

    /// @notice The feeder `feeder` posted `price` for `classId`, observed at `observedAt`.
    event PricePosted(uint256 indexed classId, uint256 price, uint256 observedAt, address indexed feeder);
    /// @notice The admin assigned token id `id` to price class `classId` (the id itself: its own class again).
    event ClassAssigned(uint256 indexed id, uint256 indexed classId);
    /// @notice The admin set the most a price may move per update, in basis points.
    event MaxMoveSet(uint256 maxMoveBps);

    /// @notice Posts prices (loan units per tonne) for classes, each with its observation time (<= now, and
    /// newer than the stored one). The first price of a class is unbounded; every later one may move at most
    /// `maxMoveBps` from the previous. Only PRICE_FEEDER_ROLE. All or nothing.
    function postPrices(uint256[] calldata classIds, uint256[] calldata prices, uint256[] calldata observedAt)
        external;

    /// @notice Assigns token ids to a price class (pass an id as its own class to undo). Only the admin.
    /// Ids already in the requested class are skipped: no write, no event.
    function setClass(uint256[] calldata ids, uint256 classId) external;

    /// @notice Sets the most a price may move per update, in basis points (1..10000). Only the admin.
    function setMaxMoveBps(uint256 maxMoveBps) external;

    /// @notice The price class of token id `id`: its assigned class, or the id itself.
    function classOf(uint256 id) external view returns (uint256);

    /// @notice The stored price of class `classId` (zeros before the first post).
    function priceOf(uint256 classId) external view returns (Price memory);

    /// @notice The class of token id `id` and that class's stored price (zeros before the first post).
    function quote(uint256 id) external view returns (uint256 classId, uint256 price, uint256 updatedAt);

    /// @notice The most a price may move per update, in basis points.
    function maxMoveBps() external view returns (uint256);
}
