// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ICarbonRetirement} from "./ICarbonRetirement.sol";

/// @title ICreditExchange
/// @notice Peer-to-peer trading of Tonne credits against an ERC-20, settled delivery-versus-payment in one
/// transaction from orders signed off-chain (EIP-712, domain "Tonne CreditExchange" version "1", this chain and
/// this contract). The exchange holds no credits and no cash between trades: every fill moves the credits straight
/// from the seller to the buyer through the credit token (so every token rule applies to the trade: pause,
/// freezes, the allowlist in permissioned mode, restricted projects) and the payment straight from the buyer to the
/// seller and the fee recipient.
/// Units and prices: `amount`, `minFill` and fills are in token units (1 unit = 1 kg CO2e; 1 tonne = 1000 units);
/// `pricePerUnit` is in the payment token's smallest units per credit unit, so a fill of `units` costs exactly
/// `units * pricePerUnit`, whatever the partial fill (no division, no rounding on the trade itself).
/// Fee: `fee = cost * feeBps / 10_000`, rounded up (so splitting a fill into smaller ones never pays less fee), cut
/// out of what the seller receives: the buyer pays exactly the cost, the seller receives `cost - fee`, the fee
/// recipient `fee`. In a match the fee is booked on the sell
/// order's `OrderFilled` (0 on the buy order's), so the fees of the events sum to what was paid.
/// Orders:
/// - a sell order (side 0) offers `amount` of id `tokenId`; its criteria fields must all be zero;
/// - a buy order (side 1) bids for `amount` of id `tokenId`, or, when `tokenId` is 0, of any id meeting every
///   criterion that is set: `projectId` (0: any), `standardHash` = keccak256 of the registry's standard code
///   (0: any), `vintageFrom` / `vintageTo` (calendar years of the batch's monitoring period start and end, as
///   CompliancePeriods reads them; 0: unbounded), `country` (ISO 3166-1 alpha-2; 0: any), checked against the
///   registry at settlement;
/// - a buy order naming its `tokenId` sets no criterion (refused otherwise: a signed criterion must not be ignored);
/// - live from `listedAt` to `expiry` (both unix seconds, inclusive); a fill of fewer units than
///   min(`minFill`, remaining) is refused; `taker`, when not zero, is the only account that may fill it (in a
///   match: the only counterparty maker); `nonce` tells apart orders with the same terms;
/// - valid only while `counter == counterOf(maker)`; `cancel` ends one order, `incrementCounter` all of them (it
///   raises the counter by a quasi-random step, so no order can be signed ahead for a later counter).
/// Fills take up to the units asked: a fill asking more than remains takes what remains (so a dust front-run of a
/// taker's full fill leaves it the rest, not a revert); nothing remaining reverts (`fill`) or skips the entry
/// (`fillMany`). The minimum applies to the units taken: below min(`minFill`, remaining) is refused.
/// The signature is checked at every fill, not only the first: ECDSA by the maker's key (high-s and wrong-length
/// signatures refused), else EIP-1271 for a contract wallet, which may stop approving at any time. ECDSA is tried
/// first, so an EIP-7702 account's own key signs for it as well as its delegated code.
/// @dev Warning: trust assumptions.
/// - The admin (DEFAULT_ADMIN_ROLE, two-step transfer with delay) sets the fee rate (at most MAX_FEE_BPS) and the
///   fee recipient, which apply to every later fill, signed orders included: a maker is trusted with at most
///   MAX_FEE_BPS of its proceeds. The admin cannot move anyone's credits or cash.
/// - Makers give the exchange ERC-1155 operator approval (`setApprovalForAll`) to sell, and ERC-20 allowance to
///   buy; takers selling into a buy order, and buyers using `fillAndRetire`, give operator approval too. The
///   exchange moves a maker's credits or cash only under a valid signed order, and a taker's only when the taker
///   is the caller.
/// - In permissioned mode the exchange moves credits as an operator, so it must itself be on the token's
///   allowlist (and both parties, as for any transfer).
/// - `listedAt` is the maker's own claim; it decides the price of a match (the resting order's), and an order is
///   not fillable before it, so a maker can only make its own order rest later, never earlier than it was live.
/// - Payment tokens that deliver less (or more) than asked, fee-on-transfer and rebasing tokens, are refused at
///   settlement: the seller's balance must grow by exactly its proceeds, the fee recipient's by exactly the fee,
///   and the buyer's fall by exactly the cost (a token taking its fee from the sender, or from one recipient
///   only, is refused too). What a token does to third parties' balances is not seen.
/// - A contract maker's EIP-1271 `isValidSignature` (and, for a buy order, its `onERC1155Received`) gets all the
///   gas the taker sends: takers and books simulate a fill (`fillable`, an `eth_call`) before sending it. No cap,
///   as in Seaport and 0x.
interface ICreditExchange {
    /// @notice A signed order. See the contract notes for each field's meaning.
    /// @dev The EIP-712 type is `Order(address maker,uint8 side,uint256 tokenId,uint64 projectId,bytes32
    /// standardHash,uint16 vintageFrom,uint16 vintageTo,bytes2 country,uint256 amount,uint256 pricePerUnit,address
    /// paymentToken,uint256 minFill,uint64 listedAt,uint64 expiry,address taker,uint256 nonce,uint256 counter)`,
    /// the fields in this order. Every field is static, so the struct's calldata is its EIP-712 encoding.
    struct Order {
        address maker;
        uint8 side;
        uint256 tokenId;
        uint64 projectId;
        bytes32 standardHash;
        uint16 vintageFrom;
        uint16 vintageTo;
        bytes2 country;
        uint256 amount;
        uint256 pricePerUnit;
        address paymentToken;
        uint256 minFill;
        uint64 listedAt;
        uint64 expiry;
        address taker;
        uint256 nonce;
        uint256 counter;
    }

    /// @notice One fill of `fillMany`: `units` of `order`, delivering id `id`.
    struct Fill {
        Order order;
        bytes signature;
        uint256 units;
        uint256 id;
    }

    /// @notice Why `fillable` gives fewer units than remain (None: nothing limits the fill but what remains).
    enum Limit {
        None,
        NotYetListed,
        Expired,
        Cancelled,
        Filled,
        StaleCounter,
        BadSignature,
        InvalidOrder,
        CriteriaNotMet,
        Paused,
        ProjectRestricted,
        MakerFrozen,
        MakerNotAllowed,
        MakerBalanceShort,
        MakerApprovalShort,
        ExchangeFrozen,
        ExchangeNotAllowed
    }

    /// @notice Order `orderHash` has side `side`; only 0 (sell) and 1 (buy) exist.
    error ExchangeInvalidSide(bytes32 orderHash, uint8 side);
    /// @notice Sell order `orderHash` sets a buy criterion (project, standard, vintage or country); a sell
    /// order offers exactly `tokenId`.
    error ExchangeSellWithCriteria(bytes32 orderHash);
    /// @notice Buy order `orderHash` names a `tokenId` and also sets a criterion (project, standard, vintage or
    /// country), which would go unchecked; criteria belong to a buy of any id (`tokenId` 0).
    error ExchangeIdWithCriteria(bytes32 orderHash);
    /// @notice The signature is not `maker`'s for order `orderHash` (wrong signer, malformed, high-s, or an
    /// EIP-1271 wallet that does not approve it now).
    error ExchangeBadSignature(bytes32 orderHash, address maker);
    /// @notice Order `orderHash` names `taker` as its only taker; `caller` is not it.
    error ExchangeNotNamedTaker(bytes32 orderHash, address caller, address taker);
    /// @notice Order `orderHash` is live from `listedAt`; it is `now`.
    error ExchangeOrderNotYetListed(bytes32 orderHash, uint256 listedAt, uint256 now);
    /// @notice Order `orderHash` expired at `expiry`; it is `now`.
    error ExchangeOrderExpired(bytes32 orderHash, uint256 expiry, uint256 now);
    /// @notice Order `orderHash` was cancelled by its maker.
    error ExchangeOrderCancelled(bytes32 orderHash);
    /// @notice Order `orderHash` was signed for counter `orderCounter`; its maker's counter is `currentCounter`.
    error ExchangeStaleCounter(bytes32 orderHash, uint256 orderCounter, uint256 currentCounter);
    /// @notice A fill of zero units of order `orderHash`.
    error ExchangeZeroUnits(bytes32 orderHash);
    /// @notice A fill of `units` of order `orderHash`, of which only `remaining` are left: nothing (fills are
    /// capped at what remains), or, for a fill past 2^128 units, the room left below it.
    error ExchangeOverfill(bytes32 orderHash, uint256 units, uint256 remaining);
    /// @notice A fill of `units` of order `orderHash`, below its minimum of `minimum` (min(minFill, remaining)).
    error ExchangeFillBelowMinimum(bytes32 orderHash, uint256 units, uint256 minimum);
    /// @notice Id `id` was delivered against order `orderHash`, which is for id `tokenId` only.
    error ExchangeWrongId(bytes32 orderHash, uint256 id, uint256 tokenId);
    /// @notice Id `id` is of project `projectOfId`; buy order `orderHash` wants project `projectId`.
    error ExchangeProjectMismatch(bytes32 orderHash, uint256 id, uint64 projectOfId, uint64 projectId);
    /// @notice Id `id`'s project has standard `standard`, not the one buy order `orderHash` wants.
    error ExchangeStandardMismatch(bytes32 orderHash, uint256 id, string standard);
    /// @notice Id `id`'s vintage years [`firstYear`, `lastYear`] are not within buy order `orderHash`'s
    /// [`vintageFrom`, `vintageTo`] (0: unbounded).
    error ExchangeVintageMismatch(
        bytes32 orderHash, uint256 id, uint16 firstYear, uint16 lastYear, uint16 vintageFrom, uint16 vintageTo
    );
    /// @notice Id `id`'s project is in country `country`; buy order `orderHash` wants `wanted`.
    error ExchangeCountryMismatch(bytes32 orderHash, uint256 id, bytes2 country, bytes2 wanted);
    /// @notice `account` would trade with itself (it is both the seller and the buyer).
    error ExchangeSelfTrade(address account);
    /// @notice `seller` was sent `expected` of payment token `token` but its balance grew by `received`: the token
    /// takes a fee on transfer (or rebases), which the exchange refuses.
    error ExchangePaymentShort(address token, address seller, uint256 expected, uint256 received);
    /// @notice Fee recipient `recipient` was sent a fee of `expected` of payment token `token` but its balance grew
    /// by `received` (modulo 2^256): a token charging some recipients, refused.
    error ExchangeFeeShort(address token, address recipient, uint256 expected, uint256 received);
    /// @notice `buyer` owed `expected` of payment token `token` but its balance fell by `debited` (modulo 2^256):
    /// a token taking a fee from the sender on top, refused.
    error ExchangePaymentOverdrawn(address token, address buyer, uint256 expected, uint256 debited);
    /// @notice `token` is not an ERC-20 payment token (no code, or no `balanceOf`).
    error ExchangeInvalidPaymentToken(address token);
    /// @notice `caller` is not the maker `maker` of order `orderHash`.
    error ExchangeCallerNotMaker(bytes32 orderHash, address caller, address maker);
    /// @notice `matchOrders` needs a sell order then a buy order; it got sides `sellSide` and `buySide`.
    error ExchangeNotASellAndABuy(uint8 sellSide, uint8 buySide);
    /// @notice The matched orders are paid in different tokens, `sellToken` and `buyToken`.
    error ExchangePaymentTokenMismatch(address sellToken, address buyToken);
    /// @notice The matched orders do not cross: the sell asks `sellPrice` per unit, the buy bids `buyPrice`.
    error ExchangeOrdersDoNotCross(uint256 sellPrice, uint256 buyPrice);
    /// @notice `fillAndRetire` takes sell orders only; order `orderHash` is a buy order.
    error ExchangeNotASellOrder(bytes32 orderHash);
    /// @notice A fee of `feeBps` basis points is above `maxFeeBps`, or a non-zero fee has no recipient.
    error ExchangeInvalidFee(uint256 feeBps, uint256 maxFeeBps, address recipient);
    /// @notice `fillMany` was called with no fills.
    error ExchangeNoFills();

    /// @notice `units` of order `orderHash` (by `maker`, side 0 sell / 1 buy) were filled by `taker` (in a match,
    /// the other order's maker), delivering id `id` at `pricePerUnit` of `paymentToken`; `fee` was cut from the
    /// seller's proceeds (in a match, on the sell order's event only); `filledTotal` is the order's filled amount
    /// after this fill.
    event OrderFilled(
        bytes32 indexed orderHash,
        address indexed maker,
        address indexed taker,
        uint8 side,
        uint256 id,
        uint256 units,
        uint256 pricePerUnit,
        address paymentToken,
        uint256 fee,
        uint256 filledTotal
    );
    /// @notice `matcher` settled `units` of id `id` between sell order `sellHash` and buy order `buyHash` at
    /// `pricePerUnit` (the resting order's), with `fee`; the two `OrderFilled` events precede this one.
    event MatchSettled(
        bytes32 indexed sellHash,
        bytes32 indexed buyHash,
        address indexed matcher,
        uint256 id,
        uint256 units,
        uint256 pricePerUnit,
        uint256 fee
    );
    /// @notice The credits of fill `orderHash` bought by `buyer` were retired at once, certificate
    /// `certificateId` (its `RetirementRecorded` event, from the retirement module, has every field).
    event RetiredOnFill(bytes32 indexed orderHash, address indexed buyer, uint256 indexed certificateId, uint256 units);
    /// @notice `maker` cancelled order `orderHash`.
    event OrderCancelled(bytes32 indexed orderHash, address indexed maker);
    /// @notice `maker` raised its counter to `counter`: every order it signed before is void.
    event CounterIncremented(address indexed maker, uint256 counter);
    /// @notice `by` set the fee to `feeBps` basis points, paid to `recipient`.
    event FeeUpdated(uint256 feeBps, address indexed recipient, address indexed by);

    /// @notice Fills up to `units` of `order` for the caller (capped at what remains), delivering id `id` (the
    /// order's `tokenId`, or, for a buy order with criteria, any id meeting them).
    /// Sell order: the maker's credits go to the caller, who pays `units * pricePerUnit` (the maker gets it less the
    /// fee). Buy order: the caller's credits go to the maker, who pays; the caller gets the cost less the fee.
    /// @param order The order, as signed.
    /// @param signature The maker's signature of the order's EIP-712 hash (65 bytes for an EOA), or whatever its
    /// EIP-1271 wallet accepts.
    /// @param units How many units to fill at most: the fill takes min(units, remaining), which must be at least
    /// min(minFill, remaining); nothing remaining reverts `ExchangeOverfill(orderHash, units, 0)`.
    /// @param id The id delivered.
    /// @return orderHash The order's EIP-712 hash.
    /// @return filled The units filled (what the `OrderFilled` event says and the caller paid or delivered for).
    function fill(Order calldata order, bytes calldata signature, uint256 units, uint256 id)
        external
        returns (bytes32 orderHash, uint256 filled);

    /// @notice Several fills in one transaction, in order, each checked and capped as `fill` checks and caps it,
    /// except that an entry of an order with nothing left (filled whole, by an earlier entry or a front-run) is
    /// skipped: no payment, no event. Otherwise atomic (one refused fill reverts all, with its error). The same
    /// order twice is filled twice against one remaining amount (the second entry capped at what the first left).
    /// @dev Gas grows with the fills given only: no loop runs over stored data.
    /// @param fills The fills, at least one.
    function fillMany(Fill[] calldata fills) external;

    /// @notice Settles up to `units` between a crossing sell and buy order (capped at the smaller of their
    /// remainders), at the resting order's price: the one with the earlier `listedAt` (a tie: the sell order's). Anyone may call; the caller receives nothing. Each order
    /// is checked as `fill` checks it, with the other order's maker as its taker; `id` must be the sell order's
    /// `tokenId` and meet the buy order's terms.
    /// @return sellHash The sell order's hash.
    /// @return buyHash The buy order's hash.
    function matchOrders(
        Order calldata sell,
        bytes calldata sellSignature,
        Order calldata buy,
        bytes calldata buySignature,
        uint256 units,
        uint256 id
    ) external returns (bytes32 sellHash, bytes32 buyHash);

    /// @notice Buys up to `units` from sell `order` for the caller (capped at what remains) and retires them at once through the retirement
    /// module's `retireFrom`, with `input` (beneficiary, name, reason, jurisdiction, consumption period,
    /// reference). The credits go from the maker to the caller, then are burned from the caller's balance (the
    /// caller is the retiring account, and the reference is the caller's); the exchange never holds them.
    /// @dev The caller must have approved the exchange as its ERC-1155 operator (`setApprovalForAll`), as
    /// `retireFrom` requires of an operator; the retirement module's checks and the token's rules apply.
    /// @return orderHash The order's hash.
    /// @return certificateId The retirement certificate, held by `input.beneficiary` (or the caller if zero).
    function fillAndRetire(
        Order calldata order,
        bytes calldata signature,
        uint256 units,
        ICarbonRetirement.RetirementInput calldata input
    ) external returns (bytes32 orderHash, uint256 certificateId);

    /// @notice Cancels `order`. Only its maker; refused if already cancelled.
    /// @return orderHash The order's hash.
    function cancel(Order calldata order) external returns (bytes32 orderHash);

    /// @notice Raises the caller's counter by a quasi-random step (the previous block's hash in the high 128 bits,
    /// never zero), voiding every order it signed with the old counter; an order signed for any other counter
    /// cannot come alive by it. Sign orders with `counterOf(maker)` as it is now.
    /// @return counter The new counter.
    function incrementCounter() external returns (uint256 counter);

    /// @notice Sets the fee rate (basis points of each fill's cost, at most MAX_FEE_BPS) and its recipient (not
    /// zero when the rate is not). Only the admin.
    function setFee(uint256 feeBps, address recipient) external;

    /// @notice How many units of `order` can be filled now delivering id `id`, and what limits it: `units` is 0
    /// with the blocking reason, or below the remaining amount with the limiting one (the maker's balance or
    /// approval: its credits and operator approval for a sell order, its payment balance and allowance for a buy
    /// order), or the remaining amount with `Limit.None`. When the maker cannot cover min(minFill, remaining),
    /// `units` is 0. The exchange's own standing as the token's operator is checked (`ExchangeFrozen`,
    /// `ExchangeNotAllowed`), and a priced order's payment token must have code (else `InvalidOrder`). The taker's
    /// side (its balance, freeze, allowlist) is not known here and not checked.
    /// @param order The order.
    /// @param signature Its signature (checked as a fill checks it).
    /// @param id The id that would be delivered.
    function fillable(Order calldata order, bytes calldata signature, uint256 id)
        external
        view
        returns (uint256 units, Limit reason);

    /// @notice Reverts, with the error a fill would give, unless id `id` may be delivered against `order`: a sell
    /// order's own id (and no criteria set), a buy order's id, or any id meeting its criteria (checked against the
    /// registry now; an unknown batch or project reverts with the registry's error). Checks nothing else.
    function requireTerms(Order calldata order, uint256 id) external view;

    /// @notice The EIP-712 hash of `order` under this exchange's domain: what its maker signs.
    function hashOrder(Order calldata order) external view returns (bytes32);

    /// @notice Units of order `orderHash` filled so far.
    function filledOf(bytes32 orderHash) external view returns (uint256);

    /// @notice Whether order `orderHash` was cancelled.
    function cancelled(bytes32 orderHash) external view returns (bool);

    /// @notice `maker`'s current counter: only orders signed with it are valid.
    function counterOf(address maker) external view returns (uint256);

    /// @notice The fee rate (basis points) and its recipient.
    function fee() external view returns (uint256 feeBps, address recipient);

    /// @notice The EIP-712 domain separator of this exchange (this chain, this address).
    function domainSeparator() external view returns (bytes32);

    /// @notice The credit token traded here.
    function credit() external view returns (address);

    /// @notice The retirement module `fillAndRetire` retires through.
    function retirement() external view returns (address);
}
