// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {ICreditExchange} from "../interfaces/ICreditExchange.sol";
import {ICarbonCredit} from "../interfaces/ICarbonCredit.sol";
import {ICarbonRegistry} from "../interfaces/ICarbonRegistry.sol";
import {ICarbonRetirement} from "../interfaces/ICarbonRetirement.sol";
import {CreditCriteria} from "../libraries/CreditCriteria.sol";
import {CreditIds} from "../libraries/CreditIds.sol";

/// @title CreditExchange
/// @notice Settles signed credit orders delivery-versus-payment; see ICreditExchange.
/// @dev Invariants:
/// - per order, filled <= amount, and nothing fills after cancel, a counter raise or the expiry; a fill takes up to
///   the units asked, capped at what remains (never more);
/// - the exchange's own balances never change: every credit moves seller to buyer through the token, every
///   payment buyer to seller and fee recipient, within the fill;
/// - the buyer pays exactly units * price, the seller receives that less the fee (rounded up), the fee recipient
///   the fee: each of the three balances is measured around the transfers.
/// Every settling entry point is `nonReentrant` and writes the filled amount before any external call. No loop runs
/// over stored data: `fillMany` loops over its calldata only, so the 10,000th fill costs what the first does.
contract CreditExchange is ICreditExchange, AccessControlDefaultAdminRules, ReentrancyGuardTransient, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice The highest fee rate the admin may set, in basis points (5 %).
    uint256 public constant MAX_FEE_BPS = 500;
    /// @notice The EIP-712 type hash of `Order`.
    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address maker,uint8 side,uint256 tokenId,uint64 projectId,bytes32 standardHash,uint16 vintageFrom,"
        "uint16 vintageTo,bytes2 country,uint256 amount,uint256 pricePerUnit,address paymentToken,uint256 minFill,"
        "uint64 listedAt,uint64 expiry,address taker,uint256 nonce,uint256 counter)"
    );

    uint8 private constant _SELL = 0;
    uint8 private constant _BUY = 1;
    uint256 private constant _BPS = 10_000;
    /// @dev The byte length of an `Order` in calldata: 17 static words.
    uint256 private constant _ORDER_BYTES = 544;

    /// @dev One slot per order. 2^128 units is far beyond any supply (a batch holds at most 10^15 units).
    struct OrderState {
        uint128 filled;
        bool cancelled;
    }

    /// @dev One slot: read once per fill.
    struct FeeConfig {
        uint16 feeBps;
        address recipient;
    }

    ICarbonCredit private immutable _credit;
    ICarbonRegistry private immutable _registry;
    ICarbonRetirement private immutable _retirement;
    FeeConfig private _fee;
    mapping(bytes32 orderHash => OrderState) private _orders;
    mapping(address maker => uint256) private _counters;

    /// @param retirement_ The retirement module (for `fillAndRetire`); the credit token and the registry are read
    /// from it.
    /// @param adminDelay Seconds the two-step admin transfer waits.
    /// @param admin The DEFAULT_ADMIN_ROLE holder (sets the fee).
    constructor(address retirement_, uint48 adminDelay, address admin)
        AccessControlDefaultAdminRules(adminDelay, admin)
        EIP712("Tonne CreditExchange", "1")
    {
        _retirement = ICarbonRetirement(retirement_);
        _credit = ICarbonCredit(ICarbonRetirement(retirement_).creditToken());
        _registry = ICarbonRegistry(_credit.registry());
    }

    // ------------------------------------------------------------------ settlement

    /// @inheritdoc ICreditExchange
    function fill(Order calldata order, bytes calldata signature, uint256 units, uint256 id)
        external
        nonReentrant
        returns (bytes32 orderHash, uint256 filled)
    {
        (uint256 feeBps, address feeRecipient) = _loadFee();
        orderHash = _hashOrder(order);
        filled = _fillHashed(order, orderHash, signature, units, id, feeBps, feeRecipient, false);
    }

    /// @inheritdoc ICreditExchange
    function fillMany(Fill[] calldata fills) external nonReentrant {
        uint256 n = fills.length;
        if (n == 0) revert ExchangeNoFills();
        (uint256 feeBps, address feeRecipient) = _loadFee();
        for (uint256 i; i < n; ++i) {
            Fill calldata x = fills[i];
            Order calldata o = x.order;
            // An entry of an order with nothing left (filled whole, e.g. by a front-run) is skipped.
            _fillHashed(o, _hashOrder(o), x.signature, x.units, x.id, feeBps, feeRecipient, true);
        }
    }

    /// @inheritdoc ICreditExchange
    function matchOrders(
        Order calldata sell,
        bytes calldata sellSignature,
        Order calldata buy,
        bytes calldata buySignature,
        uint256 units,
        uint256 id
    ) external nonReentrant returns (bytes32 sellHash, bytes32 buyHash) {
        if (sell.side != _SELL || buy.side != _BUY) revert ExchangeNotASellAndABuy(sell.side, buy.side);
        if (sell.paymentToken != buy.paymentToken) revert ExchangePaymentTokenMismatch(sell.paymentToken, buy.paymentToken);
        if (sell.pricePerUnit > buy.pricePerUnit) revert ExchangeOrdersDoNotCross(sell.pricePerUnit, buy.pricePerUnit);
        address seller = sell.maker;
        address buyer = buy.maker;
        sellHash = _hashOrder(sell);
        buyHash = _hashOrder(buy);
        // Up to `units`, capped at the smaller remainder (when both have some left: an order with nothing left is
        // refused by its booking), so each booking below takes exactly `units`.
        {
            uint256 cap = Math.min(_remaining(sell, sellHash), _remaining(buy, buyHash));
            if (cap != 0 && units > cap) units = cap;
        }
        (uint256 sellFilled,) = _book(sell, sellHash, sellSignature, units, id, buyer, false);
        (uint256 buyFilled,) = _book(buy, buyHash, buySignature, units, id, seller, false);
        // The resting order sets the price: the earlier listed, the sell order on a tie.
        uint256 price = buy.listedAt < sell.listedAt ? buy.pricePerUnit : sell.pricePerUnit;
        (uint256 feeBps, address feeRecipient) = _loadFee();
        uint256 cost = units * price;
        uint256 feeAmount = _feeOf(cost, feeBps);
        address paymentToken = sell.paymentToken;
        _emitFilled(sellHash, seller, buyer, _SELL, id, units, price, paymentToken, feeAmount, sellFilled);
        _emitFilled(buyHash, buyer, seller, _BUY, id, units, price, paymentToken, 0, buyFilled);
        emit MatchSettled(sellHash, buyHash, msg.sender, id, units, price, feeAmount);
        _settle(seller, buyer, id, units, paymentToken, cost, feeAmount, feeRecipient);
    }

    /// @inheritdoc ICreditExchange
    function fillAndRetire(
        Order calldata order,
        bytes calldata signature,
        uint256 units,
        ICarbonRetirement.RetirementInput calldata input
    ) external nonReentrant returns (bytes32 orderHash, uint256 certificateId) {
        (uint256 feeBps, address feeRecipient) = _loadFee();
        orderHash = _hashOrder(order);
        if (order.side != _SELL) revert ExchangeNotASellOrder(orderHash);
        uint256 id = order.tokenId;
        // Up to `units`, capped at what remains: what was bought is what is retired.
        units = _fillHashed(order, orderHash, signature, units, id, feeBps, feeRecipient, false);
        // The credits are the caller's now; the retirement module burns them from its balance (the caller is the
        // retiring account), holding the exchange, its operator, to the token's rules.
        uint256[] memory ids = new uint256[](1);
        uint256[] memory amounts = new uint256[](1);
        ids[0] = id;
        amounts[0] = units;
        certificateId = _retirement.retireFrom(msg.sender, ids, amounts, input);
        emit RetiredOnFill(orderHash, msg.sender, certificateId, units);
    }

    // ------------------------------------------------------------------ makers

    /// @inheritdoc ICreditExchange
    function cancel(Order calldata order) external nonReentrant returns (bytes32 orderHash) {
        orderHash = _hashOrder(order);
        if (msg.sender != order.maker) revert ExchangeCallerNotMaker(orderHash, msg.sender, order.maker);
        OrderState storage s = _orders[orderHash];
        if (s.cancelled) revert ExchangeOrderCancelled(orderHash);
        s.cancelled = true;
        emit OrderCancelled(orderHash, msg.sender);
    }

    /// @inheritdoc ICreditExchange
    function incrementCounter() external nonReentrant returns (uint256 counter) {
        // A quasi-random step (as Seaport 1.5): the previous block's hash in the high 128 bits, its lowest of them
        // set so the step is never zero modulo 2^256. An order signed ahead for a later counter stays void: that
        // counter cannot be known before this transaction is mined. Wraps modulo 2^256 by design (the low 128
        // bits never change, so no step returns the counter to a value it had but by a 2^-127 chance).
        uint256 step = (uint256(blockhash(block.number - 1)) << 128) | (1 << 128);
        unchecked {
            counter = _counters[msg.sender] + step;
        }
        _counters[msg.sender] = counter;
        emit CounterIncremented(msg.sender, counter);
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc ICreditExchange
    function setFee(uint256 feeBps, address recipient) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feeBps > MAX_FEE_BPS || (feeBps != 0 && recipient == address(0))) {
            revert ExchangeInvalidFee(feeBps, MAX_FEE_BPS, recipient);
        }
        // Cannot truncate: feeBps <= MAX_FEE_BPS.
        _fee = FeeConfig(uint16(feeBps), recipient);
        emit FeeUpdated(feeBps, recipient, msg.sender);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICreditExchange
    function fillable(Order calldata order, bytes calldata signature, uint256 id)
        external
        view
        returns (uint256 units, Limit reason)
    {
        bytes32 orderHash = _hashOrder(order);
        OrderState memory s = _orders[orderHash];
        // Criteria only on a buy of any id (tokenId 0): a sell order, or a buy naming its id, setting one is refused.
        if (order.side > _BUY || ((order.side == _SELL || order.tokenId != 0) && _hasCriteria(order))) {
            return (0, Limit.InvalidOrder);
        }
        if (block.timestamp < order.listedAt) return (0, Limit.NotYetListed);
        if (block.timestamp > order.expiry) return (0, Limit.Expired);
        if (s.cancelled) return (0, Limit.Cancelled);
        if (order.counter != _counters[order.maker]) return (0, Limit.StaleCounter);
        if (s.filled >= order.amount) return (0, Limit.Filled);
        if (!_validSignature(order.maker, orderHash, signature)) return (0, Limit.BadSignature);
        if (!_meetsTerms(order, id)) return (0, Limit.CriteriaNotMet);
        ICarbonCredit token = _credit;
        if (token.paused()) return (0, Limit.Paused);
        if (token.isProjectRestricted(CreditIds.projectOf(id))) return (0, Limit.ProjectRestricted);
        address maker = order.maker;
        if (token.isFrozen(maker)) return (0, Limit.MakerFrozen);
        bool permissioned = token.permissioned();
        if (permissioned && !token.isAllowed(maker)) return (0, Limit.MakerNotAllowed);
        // The exchange moves the credits as the token's operator: the token refuses it frozen or, permissioned,
        // off the allowlist.
        if (token.isFrozen(address(this))) return (0, Limit.ExchangeFrozen);
        if (permissioned && !token.isAllowed(address(this))) return (0, Limit.ExchangeNotAllowed);
        // A priced fill reads the payment token's balances: one without code is refused (either side).
        if (order.pricePerUnit != 0 && order.paymentToken.code.length == 0) return (0, Limit.InvalidOrder);
        uint256 remaining = order.amount - s.filled;
        units = remaining;
        if (order.side == _SELL) {
            if (!IERC1155(address(token)).isApprovedForAll(maker, address(this))) return (0, Limit.MakerApprovalShort);
            uint256 balance = IERC1155(address(token)).balanceOf(maker, id);
            if (balance < units) (units, reason) = (balance, Limit.MakerBalanceShort);
        } else if (order.pricePerUnit != 0) {
            IERC20 pay = IERC20(order.paymentToken);
            uint256 byBalance = pay.balanceOf(maker) / order.pricePerUnit;
            uint256 byAllowance = pay.allowance(maker, address(this)) / order.pricePerUnit;
            if (byBalance < units) (units, reason) = (byBalance, Limit.MakerBalanceShort);
            if (byAllowance < units) (units, reason) = (byAllowance, Limit.MakerApprovalShort);
        }
        uint256 minimum = order.minFill < remaining ? order.minFill : remaining;
        if (units < minimum || units == 0) units = 0;
    }

    /// @inheritdoc ICreditExchange
    function hashOrder(Order calldata order) external view returns (bytes32) {
        return _hashOrder(order);
    }

    /// @inheritdoc ICreditExchange
    function filledOf(bytes32 orderHash) external view returns (uint256) {
        return _orders[orderHash].filled;
    }

    /// @inheritdoc ICreditExchange
    function cancelled(bytes32 orderHash) external view returns (bool) {
        return _orders[orderHash].cancelled;
    }

    /// @inheritdoc ICreditExchange
    function counterOf(address maker) external view returns (uint256) {
        return _counters[maker];
    }

    /// @inheritdoc ICreditExchange
    function fee() external view returns (uint256 feeBps, address recipient) {
        FeeConfig memory f = _fee;
        return (f.feeBps, f.recipient);
    }

    /// @inheritdoc ICreditExchange
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc ICreditExchange
    function credit() external view returns (address) {
        return address(_credit);
    }

    /// @inheritdoc ICreditExchange
    function retirement() external view returns (address) {
        return address(_retirement);
    }

    /// @inheritdoc AccessControlDefaultAdminRules
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(ICreditExchange).interfaceId || super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ internals

    /// @dev The fee rate and recipient in one read of their slot (`FeeConfig`: feeBps in the low 16 bits, the
    /// recipient above).
    function _loadFee() private view returns (uint256 feeBps, address recipient) {
        uint256 word;
        assembly ("memory-safe") {
            word := sload(_fee.slot)
        }
        feeBps = word & 0xffff;
        recipient = address(uint160(word >> 16));
    }

    /// @dev A fill by the caller of up to `units` (capped at what remains): checks and books it (effects), emits,
    /// then moves credits and payment. Returns the units filled; with `skipIfDone`, 0 (nothing booked, paid or
    /// emitted) for an order with nothing left.
    function _fillHashed(
        Order calldata order,
        bytes32 orderHash,
        bytes calldata signature,
        uint256 units,
        uint256 id,
        uint256 feeBps,
        address feeRecipient,
        bool skipIfDone
    ) private returns (uint256) {
        uint256 filledTotal;
        (filledTotal, units) = _book(order, orderHash, signature, units, id, msg.sender, skipIfDone);
        if (units == 0) return 0;
        address maker = order.maker;
        uint8 side = order.side;
        uint256 price = order.pricePerUnit;
        address paymentToken = order.paymentToken;
        uint256 cost = units * price;
        uint256 feeAmount = _feeOf(cost, feeBps);
        _emitFilled(orderHash, maker, msg.sender, side, id, units, price, paymentToken, feeAmount, filledTotal);
        if (side == _SELL) _settle(maker, msg.sender, id, units, paymentToken, cost, feeAmount, feeRecipient);
        else _settle(msg.sender, maker, id, units, paymentToken, cost, feeAmount, feeRecipient);
        return units;
    }

    /// @dev The fee of a fill of cost `cost`: `cost * feeBps / 10_000` rounded up, so splitting a fill never pays
    /// less fee than the fill whole (at most MAX_FEE_BPS of the cost, so never above it). `ceilDiv` of the checked
    /// product rather than `mulDiv(..., Ceil)`: 84 gas less; the product overflows only for a cost above
    /// 2^256 / MAX_FEE_BPS, which no buyer can pay (it reverts with a panic, as the rounded-down fee did).
    function _feeOf(uint256 cost, uint256 feeBps) private pure returns (uint256) {
        return Math.ceilDiv(cost * feeBps, _BPS);
    }

    /// @dev What remains of order `orderHash` (0 when filled whole); its cancel flag and the rest are `_book`'s.
    function _remaining(Order calldata order, bytes32 orderHash) private view returns (uint256) {
        uint256 filled = _orders[orderHash].filled;
        uint256 amount = order.amount;
        return filled < amount ? amount - filled : 0;
    }

    /// @dev `emit OrderFilled(...)`, its data written once at the free memory pointer (not reserved: nothing
    /// reads it after the log).
    function _emitFilled(
        bytes32 orderHash,
        address maker,
        address taker,
        uint8 side,
        uint256 id,
        uint256 units,
        uint256 price,
        address paymentToken,
        uint256 feeAmount,
        uint256 filledTotal
    ) private {
        bytes32 topic = OrderFilled.selector;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, side)
            mstore(add(ptr, 0x20), id)
            mstore(add(ptr, 0x40), units)
            mstore(add(ptr, 0x60), price)
            mstore(add(ptr, 0x80), paymentToken)
            mstore(add(ptr, 0xa0), feeAmount)
            mstore(add(ptr, 0xc0), filledTotal)
            log4(ptr, 0xe0, topic, orderHash, maker, taker)
        }
    }

    /// @dev Every check of an order against a fill of up to `units` delivering `id` to or from `taker`, then the
    /// booking of `booked` = min(units, remaining): the order's new filled amount is written before the caller makes
    /// any external call but the signature check (a static call to an EIP-1271 wallet, which cannot change state).
    /// Nothing remaining reverts `ExchangeOverfill(orderHash, units, 0)`, or, with `skipIfDone`, returns
    /// `booked` = 0 having checked the order's life (listing, expiry, counter, cancel) but booked nothing.
    function _book(
        Order calldata order,
        bytes32 orderHash,
        bytes calldata signature,
        uint256 units,
        uint256 id,
        address taker,
        bool skipIfDone
    ) private returns (uint256 filledTotal, uint256 booked) {
        // The fields read here, as raw calldata words (offsets of `Order`'s 17 words), checked for dirty bits
        // together, as the ABI decoder would check each one: a dirty value reverts without data.
        address maker;
        uint256 side;
        uint256 listedAt;
        uint256 expiry;
        address named;
        uint256 counter;
        assembly ("memory-safe") {
            maker := calldataload(order)
            side := calldataload(add(order, 0x20))
            listedAt := calldataload(add(order, 0x180))
            expiry := calldataload(add(order, 0x1a0))
            named := calldataload(add(order, 0x1c0))
            counter := calldataload(add(order, 0x200))
            if or(or(shr(160, maker), shr(160, named)), or(shr(8, side), or(shr(64, listedAt), shr(64, expiry)))) {
                revert(0, 0)
            }
        }
        // Cannot truncate: side < 2^8 (checked above).
        if (side > _BUY) revert ExchangeInvalidSide(orderHash, uint8(side));
        if (named != address(0) && named != taker) revert ExchangeNotNamedTaker(orderHash, taker, named);
        if (block.timestamp < listedAt) revert ExchangeOrderNotYetListed(orderHash, listedAt, block.timestamp);
        if (block.timestamp > expiry) revert ExchangeOrderExpired(orderHash, expiry, block.timestamp);
        uint256 current = _counters[maker];
        if (counter != current) revert ExchangeStaleCounter(orderHash, counter, current);
        // The order's slot (`OrderState`: filled in the low 128 bits, cancelled at bit 128), read and written whole.
        OrderState storage s = _orders[orderHash];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(s.slot)
        }
        if ((word >> 128) & 1 != 0) revert ExchangeOrderCancelled(orderHash);
        if (units == 0) revert ExchangeZeroUnits(orderHash);
        uint256 amount = order.amount;
        uint256 filled = word & type(uint128).max;
        // Cannot underflow: filled <= amount always holds (the overfill check below keeps it).
        uint256 remaining = filled < amount ? amount - filled : 0;
        if (remaining == 0) {
            if (skipIfDone) return (filled, 0);
            revert ExchangeOverfill(orderHash, units, 0);
        }
        // Up to the units asked: a taker who was front-run gets what is left.
        if (units > remaining) units = remaining;
        uint256 minimum = order.minFill < remaining ? order.minFill : remaining;
        if (units < minimum) revert ExchangeFillBelowMinimum(orderHash, units, minimum);
        _requireTerms(order, orderHash, id);
        if (!_validSignature(maker, orderHash, signature)) revert ExchangeBadSignature(orderHash, maker);
        // Cannot overflow: units <= remaining, so filled + units <= amount.
        unchecked {
            filledTotal = filled + units;
        }
        booked = units;
        // Cannot truncate below 2^128 unless an order's amount is above any supply; SafeCast-free by that bound,
        // checked here to be exact.
        if (filledTotal > type(uint128).max) revert ExchangeOverfill(orderHash, units, type(uint128).max - filled);
        // The whole slot at once: `cancelled` is false here (checked above), filledTotal < 2^128.
        assembly ("memory-safe") {
            sstore(s.slot, filledTotal)
        }
    }

    /// @dev Moves `units` of `id` seller to buyer through the token, and `cost` buyer to seller less `feeAmount`,
    /// which goes to the fee recipient. Each payment balance must move by exactly what the exchange sent: the
    /// seller's grows by the proceeds (measured around their transfer), the fee recipient's by the fee (around
    /// its transfer), and the buyer's falls by the cost (around both; by the proceeds alone when the buyer is the
    /// fee recipient). The six `balanceOf` reads land on slots the transfers read and write anyway.
    function _settle(
        address seller,
        address buyer,
        uint256 id,
        uint256 units,
        address paymentToken,
        uint256 cost,
        uint256 feeAmount,
        address feeRecipient
    ) private {
        if (seller == buyer) revert ExchangeSelfTrade(seller);
        // The token checks balance, operator approval, pause, freezes, the allowlist and the project's status.
        // `safeTransferFrom(seller, buyer, id, units, "")`, encoded by hand; the token's error is passed on as is.
        // The token is an immutable set from the retirement module at construction: it has code.
        address token = address(_credit);
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, 0xf242432a00000000000000000000000000000000000000000000000000000000)
            mstore(add(ptr, 0x04), seller)
            mstore(add(ptr, 0x24), buyer)
            mstore(add(ptr, 0x44), id)
            mstore(add(ptr, 0x64), units)
            mstore(add(ptr, 0x84), 0xa0)
            mstore(add(ptr, 0xa4), 0)
            if iszero(call(gas(), token, 0, ptr, 0xc4, 0, 0)) {
                returndatacopy(ptr, 0, returndatasize())
                revert(ptr, returndatasize())
            }
        }
        if (cost == 0) return;
        IERC20 pay = IERC20(paymentToken);
        // Cannot underflow: feeAmount = ceil(cost * feeBps / 10_000) <= cost (feeBps <= 10_000).
        uint256 proceeds;
        unchecked {
            proceeds = cost - feeAmount;
        }
        uint256 buyerBefore = _balanceOf(paymentToken, buyer);
        // The deltas below are taken modulo 2^256: a balance moving the wrong way shows as a huge number, refused
        // all the same.
        unchecked {
            if (proceeds != 0) {
                uint256 before = _balanceOf(paymentToken, seller);
                pay.safeTransferFrom(buyer, seller, proceeds);
                uint256 received = _balanceOf(paymentToken, seller) - before;
                if (received != proceeds) revert ExchangePaymentShort(paymentToken, seller, proceeds, received);
            }
            uint256 paid = cost;
            if (feeAmount != 0) {
                if (feeRecipient == buyer) {
                    // The fee stays with the buyer: the transfer to itself moves nothing.
                    pay.safeTransferFrom(buyer, feeRecipient, feeAmount);
                    paid = proceeds;
                } else {
                    uint256 before = _balanceOf(paymentToken, feeRecipient);
                    pay.safeTransferFrom(buyer, feeRecipient, feeAmount);
                    uint256 received = _balanceOf(paymentToken, feeRecipient) - before;
                    if (received != feeAmount) {
                        revert ExchangeFeeShort(paymentToken, feeRecipient, feeAmount, received);
                    }
                }
            }
            uint256 debited = buyerBefore - _balanceOf(paymentToken, buyer);
            if (debited != paid) revert ExchangePaymentOverdrawn(paymentToken, buyer, paid, debited);
        }
    }

    /// @dev Reverts unless `id` may be delivered against `order` (a sell order's own id; a buy order's id, or any
    /// id meeting its criteria).
    function _requireTerms(Order calldata order, bytes32 orderHash, uint256 id) private view {
        uint256 tokenId = order.tokenId;
        if (order.side == _SELL) {
            if (_hasCriteria(order)) revert ExchangeSellWithCriteria(orderHash);
            if (id != tokenId) revert ExchangeWrongId(orderHash, id, tokenId);
            return;
        }
        if (tokenId != 0) {
            if (_hasCriteria(order)) revert ExchangeIdWithCriteria(orderHash);
            if (id != tokenId) revert ExchangeWrongId(orderHash, id, tokenId);
            return;
        }
        uint64 projectId = CreditIds.projectOf(id);
        if (order.projectId != 0 && order.projectId != projectId) {
            revert ExchangeProjectMismatch(orderHash, id, projectId, order.projectId);
        }
        if (order.vintageFrom != 0 || order.vintageTo != 0) {
            (uint16 firstYear, uint16 lastYear) = CreditCriteria.vintageOf(_registry, id);
            if (!CreditCriteria.vintageWithin(firstYear, lastYear, order.vintageFrom, order.vintageTo)) {
                revert ExchangeVintageMismatch(orderHash, id, firstYear, lastYear, order.vintageFrom, order.vintageTo);
            }
        }
        if (order.standardHash != bytes32(0)) {
            string memory standard = _registry.projectStandard(projectId);
            if (keccak256(bytes(standard)) != order.standardHash) revert ExchangeStandardMismatch(orderHash, id, standard);
        }
        if (order.country != bytes2(0)) {
            bytes2 country = _registry.project(projectId).country;
            if (country != order.country) revert ExchangeCountryMismatch(orderHash, id, country, order.country);
        }
    }

    /// @dev `_requireTerms` as a yes/no, for `fillable` (an unknown batch or project fails the terms).
    function _meetsTerms(Order calldata order, uint256 id) private view returns (bool) {
        try this.requireTerms(order, id) {
            return true;
        } catch {
            return false;
        }
    }

    /// @inheritdoc ICreditExchange
    function requireTerms(Order calldata order, uint256 id) external view {
        _requireTerms(order, _hashOrder(order), id);
    }

    /// @dev ECDSA first (an account without code, or an EIP-7702 account signing with its own key): one
    /// `ecrecover`, no EXTCODESIZE of the maker (a cold account access, 2,600 gas). Only if that fails, EIP-1271
    /// (OpenZeppelin's check: a call to an account without code returns nothing, which is no approval). OZ's
    /// `tryRecover` refuses high-s and any length but 65.
    function _validSignature(address maker, bytes32 orderHash, bytes calldata signature) private view returns (bool) {
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(orderHash, signature);
        if (err == ECDSA.RecoverError.NoError && signer == maker) return true;
        return SignatureChecker.isValidERC1271SignatureNowCalldata(maker, orderHash, signature);
    }

    /// @dev `token.balanceOf(account)` without the ABI decoder; a token that returns less than a word (no code, no
    /// such function) is refused by name.
    function _balanceOf(address token, address account) private view returns (uint256 amount) {
        bool ok;
        uint256 size;
        assembly ("memory-safe") {
            mstore(0x00, 0x70a08231) // balanceOf(address)
            mstore(0x20, account)
            ok := staticcall(gas(), token, 0x1c, 0x24, 0x00, 0x20)
            size := returndatasize()
            amount := mload(0x00)
        }
        if (!ok || size < 32) revert ExchangeInvalidPaymentToken(token);
    }

    /// @dev Whether any criterion is set: `projectId`, `standardHash`, `vintageFrom`, `vintageTo` and `country`
    /// are the five words from offset 0x60, so one OR of their raw words (a dirty word counts as set).
    function _hasCriteria(Order calldata order) private pure returns (bool set) {
        assembly ("memory-safe") {
            let words := or(calldataload(add(order, 0x60)), calldataload(add(order, 0x80)))
            words := or(words, or(calldataload(add(order, 0xa0)), calldataload(add(order, 0xc0))))
            set := iszero(iszero(or(words, calldataload(add(order, 0xe0)))))
        }
    }

    /// @dev The EIP-712 digest of `order`. Every field of `Order` is a static type, so its calldata is exactly its
    /// EIP-712 `encodeData`: one copy after the type hash, one keccak.
    function _hashOrder(Order calldata order) private view returns (bytes32) {
        bytes32 typeHash = ORDER_TYPEHASH;
        bytes32 structHash;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            calldatacopy(add(ptr, 0x20), order, _ORDER_BYTES)
            structHash := keccak256(ptr, add(_ORDER_BYTES, 0x20))
        }
        return _hashTypedDataV4(structHash);
    }
}
