"""Outside audit of CreditExchange (audit/market-outside-audit.md): one proof of concept per suspicion, each
asserting the SECURE behaviour. A confirmed weakness was marked `xfail(strict=True, reason="AUDIT-n: ...")`, so
this file stayed green while it stood and failed (XPASS) the day it was fixed; AUDIT-1 to AUDIT-6 are fixed and
their PoCs plain tests now. AUDIT-7 is accepted (documented: takers simulate); its test shows that defence. The
other tests show a suspicion that did not hold."""

from __future__ import annotations

import ape
import pytest
from eth_account import Account as EthAccount
from eth_utils import keccak
from market_support import BUY, FAR, HOLDING, PRICE, UNITS, fee_of, standard_hash
from web3.exceptions import ContractLogicError

from support import ZERO_REF, batch_input, events, retirement_input, reverts
from tonne.market.orders import Domain, Limit, domain_separator, sign_order

pytestmark = pytest.mark.usefixtures("market", "stranger")

MAX_UINT = 2**256 - 1
ORDER_WORDS = 17  # Order: 17 static words, inlined at the head of fill's calldata


def fund(market, account, admin, cash=10**15):
    """`account` gets tUSD and approves the exchange for its cash and its credits."""
    market.usd.mint(account, cash, sender=admin)
    market.usd.approve(market.exchange, MAX_UINT, sender=account)
    market.credit.setApprovalForAll(market.exchange, True, sender=account)


def match(market, sell, buy, units, *, sender, id=None):
    return market.exchange.matchOrders(
        sell.as_struct(),
        market.sign(sell),
        buy.as_struct(),
        market.sign(buy),
        units,
        sell.token_id if id is None else id,
        sender=sender,
    )


def raw_send(chain, sender, to, data: bytes, gas: int) -> dict:
    """Sends `data` to `to` with a fixed gas limit, straight through JSON-RPC, and returns the receipt whether
    the transaction reverted or not (ape raises on a revert and hides its gas)."""
    web3 = chain.provider.web3
    tx = {
        "to": str(to),
        "data": data,
        "value": 0,
        "gas": gas,
        "gasPrice": 0,
        "nonce": web3.eth.get_transaction_count(sender.address, "pending"),
        "chainId": web3.eth.chain_id,
    }
    signed = EthAccount.sign_transaction(tx, sender.private_key)
    return web3.eth.wait_for_transaction_receipt(web3.eth.send_raw_transaction(signed.raw_transaction))


def settled_exactly_or_refused(action, deltas, expected) -> str:
    """Runs `action`; secure if it reverts, or if every balance moved by exactly the documented amount."""
    before = deltas()
    try:
        action()
    except ape.exceptions.ContractLogicError:
        return "refused"
    moved = [b - a for a, b in zip(before, deltas(), strict=True)]
    assert moved == expected, f"balances moved by {moved}, documented {expected}"
    return "settled"


# ------------------------------------------------------------------ AUDIT-1: a dust front-run voids a full take


def test_audit1_dust_front_run__taker_of_the_whole_order_still_gets_the_rest(market, stranger, admin):
    fund(market, stranger, admin)
    order = market.order(amount=10 * UNITS)  # min_fill 0: tonne.market.orders' default
    sig = market.sign(order)
    # The griefer sees the buyer's fill of the whole order in the mempool and gets 1 kg in first (12,345 of the
    # smallest tUSD units, a cent) ...
    market.fill(order, 1, sender=stranger, signature=sig)
    credits = market.credit.balanceOf(market.buyer, market.id_a)
    # ... and the buyer's transaction, built against the untouched order, still gets the rest (capped).
    receipt = market.fill(order, 10 * UNITS, signature=sig)
    assert market.credit.balanceOf(market.buyer, market.id_a) == credits + 10 * UNITS - 1
    assert tuple(receipt.return_value) == (market.hash(order), 10 * UNITS - 1)
    (logged,) = events(receipt, market.exchange, "OrderFilled")
    assert (logged["units"], logged["filledTotal"]) == (10 * UNITS - 1, 10 * UNITS)


def test_audit1_dust_front_run__fill_many_batch_still_settles_the_other_orders(market, stranger, admin):
    fund(market, stranger, admin)
    orders = [market.order(amount=2 * UNITS) for _ in range(5)]
    sigs = [market.sign(o) for o in orders]
    market.fill(orders[3], 1, sender=stranger, signature=sigs[3])
    credits = market.credit.balanceOf(market.buyer, market.id_a)
    receipt = market.exchange.fillMany(
        [(o.as_tuple(), s, 2 * UNITS, market.id_a) for o, s in zip(orders, sigs, strict=True)], sender=market.buyer
    )
    assert market.credit.balanceOf(market.buyer, market.id_a) == credits + 5 * 2 * UNITS - 1
    assert [e["units"] for e in events(receipt, market.exchange, "OrderFilled")] == [2 * UNITS] * 3 + [
        2 * UNITS - 1,
        2 * UNITS,
    ]


def test_audit1_dust_front_run__match_of_the_whole_amount_still_settles(market, stranger, admin):
    fund(market, stranger, admin)
    sell, buy = market.order(amount=2 * UNITS), market.order(side=BUY, amount=2 * UNITS)
    market.fill(sell, 1, sender=stranger)
    receipt = match(market, sell, buy, 2 * UNITS, sender=admin)
    assert market.exchange.filledOf(market.hash(buy)) == 2 * UNITS - 1
    assert market.exchange.filledOf(market.hash(sell)) == 2 * UNITS
    assert events(receipt, market.exchange, "MatchSettled")[0]["units"] == 2 * UNITS - 1


def test_audit1_fill_many__entry_of_an_order_front_run_whole__skipped(market, stranger, admin):
    # The front-runner takes an order whole: the batch's entry for it is skipped (no payment, no event), the
    # others settle.
    fund(market, stranger, admin)
    gone, kept = market.order(amount=UNITS), market.order(amount=UNITS)
    market.fill(gone, UNITS, sender=stranger)
    cash = market.usd.balanceOf(market.buyer)
    receipt = market.exchange.fillMany(
        [(o.as_tuple(), market.sign(o), UNITS, market.id_a) for o in (gone, kept)], sender=market.buyer
    )
    assert [bytes(e["orderHash"]) for e in events(receipt, market.exchange, "OrderFilled")] == [market.hash(kept)]
    assert cash - market.usd.balanceOf(market.buyer) == UNITS * PRICE
    # A lone fill of it still reverts: nothing remains.
    with reverts(market.exchange.ExchangeOverfill, orderHash=market.hash(gone), units=UNITS, remaining=0):
        market.fill(gone, UNITS)


def test_audit1_fill_and_retire__front_run__retires_what_was_bought(market, stranger, admin):
    fund(market, stranger, admin)
    order = market.order(amount=2 * UNITS)
    market.fill(order, 1, sender=stranger)
    retired = market.credit.totalRetired(market.id_a)
    receipt = market.exchange.fillAndRetire(
        order.as_struct(), market.sign(order), 2 * UNITS, retirement_input(), sender=market.buyer
    )
    assert market.credit.totalRetired(market.id_a) - retired == 2 * UNITS - 1
    assert events(receipt, market.exchange, "RetiredOnFill")[0]["units"] == 2 * UNITS - 1
    _, certificate_id = receipt.return_value
    assert market.retirement.certificate(certificate_id).totalAmount == 2 * UNITS - 1


def test_audit1_capped_fill__below_min_fill_of_the_rest__refused_unless_it_is_all(market):
    # The cap applies first, then the minimum: with 300 left of minFill 500, asking 1,000 takes the 300.
    order = market.order(amount=1000, min_fill=500)
    market.fill(order, 700)
    receipt = market.fill(order, 1000)
    assert tuple(receipt.return_value)[1] == 300
    assert market.exchange.filledOf(market.hash(order)) == 1000


def test_audit1_control__dust_front_run_against_min_fill__refused(market, stranger, admin):
    # With minFill set the front-runner must take at least minFill: the griefing costs what minFill is worth.
    fund(market, stranger, admin)
    order = market.order(amount=10 * UNITS, min_fill=UNITS)
    with reverts(market.exchange.ExchangeFillBelowMinimum, orderHash=market.hash(order), units=1, minimum=UNITS):
        market.fill(order, 1, sender=stranger)


# ------------------------------------------------------------------ AUDIT-2: the fee rounds down per fill


def test_audit2_fee__split_into_fills__pays_at_least_the_fee_of_one_fill(market):
    market.exchange.setFee(100, market.fee_recipient, sender=market.admin)
    # A bid at 1 smallest unit per kg (1 tUSD a tonne; 1 cent a kg on a 2-decimal stablecoin).
    order = market.order(side=BUY, price_per_unit=1, amount=10 * UNITS)
    sig = market.sign(order)
    fees = market.usd.balanceOf(market.fee_recipient)
    cash = market.usd.balanceOf(market.seller)
    # The seller is the taker of a buy order: it picks the split. 10 fills of 99 kg: each costs 99, fee 0.99 -> 0.
    market.exchange.fillMany([(order.as_tuple(), sig, 99, market.id_a)] * 10, sender=market.seller)
    assert market.usd.balanceOf(market.seller) - cash + market.usd.balanceOf(market.fee_recipient) - fees == 990
    assert market.usd.balanceOf(market.fee_recipient) - fees >= fee_of(990, 100)  # 10 in one fill
    assert market.usd.balanceOf(market.fee_recipient) - fees == 10  # 1 per fill, rounded up


def test_audit2_control__one_fill_pays_the_rounded_up_fee(market):
    market.exchange.setFee(100, market.fee_recipient, sender=market.admin)
    order = market.order(side=BUY, price_per_unit=1, amount=10 * UNITS)
    fees = market.usd.balanceOf(market.fee_recipient)
    receipt = market.fill(order, 990)
    assert market.usd.balanceOf(market.fee_recipient) - fees == 10 == fee_of(990, 100)  # 9.9 up
    assert events(receipt, market.exchange, "OrderFilled")[0]["fee"] == 10


# ------------------------------------------------------------------ AUDIT-3: a counter raise revives orders


def test_audit3_increment_counter__order_signed_for_the_next_counter__stays_void(market):
    # A phishing page has the maker sign an order at counter + 1: fillable says StaleCounter, no book lists it.
    ahead = market.order(counter=market.exchange.counterOf(market.seller) + 1, price_per_unit=1)
    assert market.fillable(ahead) == (0, Limit.STALE_COUNTER)
    # The maker, alarmed, raises its counter to void every order it ever signed ...
    before = market.exchange.counterOf(market.seller)
    market.exchange.incrementCounter(sender=market.seller)
    now = market.exchange.counterOf(market.seller)
    # ... by a step of the previous block's hash in the high 128 bits: the phished order stays dead.
    assert now != before + 1 and (now - before) % 2**128 == 0 and now % 2**128 == before % 2**128
    with reverts(market.exchange.ExchangeStaleCounter, orderHash=market.hash(ahead), orderCounter=before + 1,
                 currentCounter=now):  # fmt: skip
        market.fill(ahead, 10 * UNITS)
    assert market.fillable(ahead) == (0, Limit.STALE_COUNTER)


# ------------------------------------------------------------------ AUDIT-4: fee-on-transfer, not on the seller


@pytest.fixture
def selective(project, market, admin):
    token = project.SelectiveFeeToken.deploy(sender=admin)
    token.mint(market.buyer, 10**15, sender=admin)
    token.approve(market.exchange, MAX_UINT, sender=market.buyer)
    return token


def test_audit4_fee_on_transfer__seller_exempt__fee_recipient_shorted_or_refused(market, selective):
    market.exchange.setFee(500, market.fee_recipient, sender=market.admin)
    selective.setMode(1, sender=market.admin)  # RecipientFee
    selective.setExempt(market.seller, True, sender=market.admin)
    order = market.order(payment_token=selective.address, price_per_unit=1000)
    cost = UNITS * 1000
    fee = fee_of(cost, 500)
    outcome = settled_exactly_or_refused(
        lambda: market.fill(order, UNITS),
        lambda: [selective.balanceOf(a) for a in (market.buyer, market.seller, market.fee_recipient)],
        [-cost, cost - fee, fee],
    )
    assert outcome in ("refused", "settled")


def test_audit4_fee_on_transfer__sender_surcharge__buyer_pays_exactly_the_cost_or_refused(market, selective):
    selective.setMode(2, sender=market.admin)  # SenderSurcharge
    order = market.order(payment_token=selective.address, price_per_unit=1000)
    cost = UNITS * 1000
    outcome = settled_exactly_or_refused(
        lambda: market.fill(order, UNITS),
        lambda: [selective.balanceOf(a) for a in (market.buyer, market.seller)],
        [-cost, cost],
    )
    assert outcome in ("refused", "settled")


def test_audit4_fee_on_transfer__seller_exempt__refused_naming_the_fee_recipients_shortfall(market, selective):
    market.exchange.setFee(500, market.fee_recipient, sender=market.admin)
    selective.setMode(1, sender=market.admin)  # RecipientFee
    selective.setExempt(market.seller, True, sender=market.admin)
    order = market.order(payment_token=selective.address, price_per_unit=1000)
    fee = fee_of(UNITS * 1000, 500)
    with reverts(
        market.exchange.ExchangeFeeShort,
        token=selective,
        recipient=market.fee_recipient,
        expected=fee,
        received=fee - fee // 100,
    ):
        market.fill(order, UNITS)


def test_audit4_fee_on_transfer__sender_surcharge__refused_naming_the_buyers_debit(market, selective):
    selective.setMode(2, sender=market.admin)  # SenderSurcharge
    order = market.order(payment_token=selective.address, price_per_unit=1000)
    cost = UNITS * 1000
    with reverts(
        market.exchange.ExchangePaymentOverdrawn, token=selective, buyer=market.buyer, expected=cost,
        debited=cost + cost // 100,
    ):  # fmt: skip
        market.fill(order, UNITS)


def test_audit4_buyer_is_the_fee_recipient__settles_paying_the_proceeds(market):
    # The fee goes back to the buyer (a transfer to itself): its balance falls by the proceeds only, as checked.
    market.exchange.setFee(500, market.buyer, sender=market.admin)
    order = market.order()
    before = market.balances(market.seller, market.buyer)
    market.fill(order, UNITS)
    after = market.balances(market.seller, market.buyer)
    proceeds = UNITS * PRICE - fee_of(UNITS * PRICE, 500)
    assert (after[0][1] - before[0][1], before[1][1] - after[1][1]) == (proceeds, proceeds)


def test_audit4_control__token_paying_more__refused(market, selective):
    selective.setMode(3, sender=market.admin)  # RecipientBonus
    order = market.order(payment_token=selective.address, price_per_unit=1000)
    cost = UNITS * 1000
    with reverts(
        market.exchange.ExchangePaymentShort,
        token=selective,
        seller=market.seller,
        expected=cost,
        received=cost + cost // 100,
    ):
        market.fill(order, UNITS)


def test_audit4_control__fee_on_transfer_with_seller_as_fee_recipient__still_refused(market, project, admin):
    fot = project.FeeOnTransferToken.deploy(sender=admin)
    fot.mint(market.buyer, 10**12, sender=admin)
    fot.approve(market.exchange, MAX_UINT, sender=market.buyer)
    market.exchange.setFee(500, market.seller, sender=market.admin)
    order = market.order(payment_token=fot.address, price_per_unit=1000)
    proceeds = UNITS * 1000 - fee_of(UNITS * 1000, 500)
    with reverts(
        market.exchange.ExchangePaymentShort,
        token=fot,
        seller=market.seller,
        expected=proceeds,
        received=proceeds - proceeds // 100,
    ):
        market.fill(order, UNITS)


# ------------------------------------------------------------------ AUDIT-5: fillable says yes, every fill fails


def test_audit5_fillable__exchange_frozen__zero(market, regulator):
    order = market.order()
    market.credit.setFrozen(market.exchange, True, "audit", sender=regulator)
    with reverts(market.credit.CreditAccountFrozen, account=market.exchange):
        market.fill(order, UNITS)
    assert market.fillable(order)[0] == 0


def test_audit5_fillable__permissioned_exchange_off_the_allowlist__zero(permissioned_market, compliance):
    m = permissioned_market
    order = m.order()
    m.credit.setAllowed([m.exchange], False, sender=compliance)
    with reverts(m.credit.CreditAccountNotAllowed, account=m.exchange):
        m.fill(order, UNITS)
    assert m.fillable(order)[0] == 0


def test_audit5_fillable__sell_paid_in_a_token_without_code__zero(market):
    order = market.order(payment_token="0x" + "ab" * 20)
    with reverts(market.exchange.ExchangeInvalidPaymentToken, token="0x" + "ab" * 20):
        market.fill(order, UNITS)
    assert market.fillable(order) == (0, Limit.INVALID_ORDER)


# ------------------------------------------------------------------ AUDIT-6: signed criteria silently ignored


def test_audit6_buy_for_one_id__contradicting_signed_criteria__refused(market):
    # tonne.market.orders refuses to build it; the contract refuses it signed by any other client.
    with pytest.raises(ValueError, match="a buy order for one id sets no criterion"):
        market.order(side=BUY, token_id=market.id_a, country=b"BR")  # id_a's project is in ID
    struct = dict(market.order(side=BUY).as_struct(), country=b"BR")
    h = bytes(market.exchange.hashOrder(struct))
    sig = EthAccount.unsafe_sign_hash(h, market.buyer.private_key).signature
    with reverts(market.exchange.ExchangeIdWithCriteria, orderHash=h):
        market.exchange.fill(struct, sig, UNITS, market.id_a, sender=market.seller)
    units, reason = market.exchange.fillable(struct, sig, market.id_a)
    assert (units, reason) == (0, Limit.INVALID_ORDER)
    with reverts(market.exchange.ExchangeIdWithCriteria, orderHash=h):
        market.exchange.requireTerms.transact(struct, market.id_a, sender=market.seller)


# ------------------------------------------------------------------ AUDIT-7: gas griefing by a contract maker


def test_audit7_contract_maker__heavy_is_valid_signature__a_simulating_taker_sees_the_cost_first(
    market, project, admin, chain
):
    # Accepted (docs/market.md, "Contract makers"): isValidSignature gets the gas the taker sends, as in Seaport
    # and 0x; the defence is the taker's simulation. The estimate shows the wallet's 5M burn before anything is sent,
    # and a taker who caps its gas below it loses only that capped gas, never credits or cash.
    wallet = project.GasBurning1271Wallet.deploy(sender=admin)
    market.usd.mint(wallet, 10**12, sender=admin)
    wallet.execute(market.usd, market.usd.approve.encode_input(market.exchange, MAX_UINT), sender=admin)
    wallet.setBurn(5_000_000, sender=admin)
    order = market.order(maker=wallet.address, side=BUY, amount=UNITS)
    data = market.exchange.fill.encode_input(order.as_struct(), b"\x00" * 65, UNITS, market.id_a)
    web3 = chain.provider.web3
    estimate = web3.eth.estimate_gas({"from": market.seller.address, "to": market.exchange.address, "data": data})
    assert estimate > 5_000_000
    before = market.balances(market.seller, wallet.address)
    receipt = raw_send(chain, market.seller, market.exchange.address, data, gas=1_000_000)
    assert receipt["status"] == 0 and receipt["gasUsed"] <= 1_000_000
    assert market.balances(market.seller, wallet.address) == before


# ------------------------------------------------------------------ suspicions that did not hold


def test_non_canonical_encoding_of_a_signed_order__refused(market, chain):
    # The order hash is keccak of the raw calldata: dirty high bits in a field a buy-for-one-id fill never used to
    # read (projectId) give another hash, which the maker never signed. Since AUDIT-6 such a fill reads the
    # criteria words too (a buy naming its id sets none) and a dirty one counts as set: refused before the
    # signature is even checked.
    order = market.order(side=BUY)
    data = bytearray(market.exchange.fill.encode_input(order.as_struct(), market.sign(order), UNITS, market.id_a))
    web3 = chain.provider.web3
    call = {"from": market.seller.address, "to": market.exchange.address}
    web3.eth.call({**call, "data": bytes(data)})  # canonical: would settle
    word = 4 + 3 * 32  # projectId
    data[word : word + 32] = (1 << 64).to_bytes(32, "big")
    with pytest.raises(ContractLogicError) as raised:
        web3.eth.call({**call, "data": bytes(data)})
    selector = keccak(text="ExchangeIdWithCriteria(bytes32)")[:4].hex()
    assert str(raised.value.data).startswith("0x" + selector), raised.value.data


def test_chain_id_change__domain_rebuilt__old_chain_signature_refused(market, chain):
    order = market.order()
    old = chain.provider.web3.eth.chain_id
    new = old + 1_000
    old_sig = market.sign(order)
    chain.provider.make_request("anvil_setChainId", [new])
    try:
        assert chain.provider.web3.eth.chain_id == new
        assert bytes(market.exchange.domainSeparator()) == domain_separator(Domain(new, market.exchange.address))
        assert market.fillable(order, signature=old_sig) == (0, Limit.BAD_SIGNATURE)
        new_sig = sign_order(order, Domain(new, market.exchange.address), market.seller)
        assert market.fillable(order, signature=new_sig) == (10 * UNITS, Limit.NONE)
    finally:
        chain.provider.make_request("anvil_setChainId", [old])
    assert chain.provider.web3.eth.chain_id == old


@pytest.mark.parametrize("v", [0, 1, 29])
def test_signature_with_another_v__refused(market, v):
    order = market.order()
    sig = bytearray(market.sign(order))
    sig[64] = v if v != 29 else sig[64] + 2
    with reverts(market.exchange.ExchangeBadSignature, orderHash=market.hash(order), maker=market.seller):
        market.fill(order, 1, signature=bytes(sig))


def test_events__rebuild_every_orders_filled_amount(market, stranger, admin):
    fund(market, stranger, admin)
    s1, s2 = market.order(amount=5 * UNITS), market.order(amount=3 * UNITS, min_fill=100)
    b1 = market.order(side=BUY, amount=4 * UNITS, price_per_unit=PRICE + 1)
    gone = market.order()
    receipts = [
        market.fill(s1, 1000),
        market.exchange.fillMany(
            [(s1.as_tuple(), market.sign(s1), 500, market.id_a), (s2.as_tuple(), market.sign(s2), 300, market.id_a)],
            sender=market.buyer,
        ),
        match(market, s2, b1, 700, sender=stranger),
        market.exchange.fillAndRetire(s1.as_struct(), market.sign(s1), 200, retirement_input(), sender=market.buyer),
        market.fill(b1, 50, sender=market.seller),
        market.exchange.cancel(gone.as_struct(), sender=market.seller),
    ]
    rebuilt, summed, cancelled = {}, {}, set()
    for receipt in receipts:
        for e in events(receipt, market.exchange, "OrderFilled"):
            h = bytes(e["orderHash"])
            summed[h] = summed.get(h, 0) + e["units"]
            rebuilt[h] = e["filledTotal"]
        cancelled |= {bytes(e["orderHash"]) for e in events(receipt, market.exchange, "OrderCancelled")}
    for order in (s1, s2, b1, gone):
        h = market.hash(order)
        assert rebuilt.get(h, 0) == summed.get(h, 0) == market.exchange.filledOf(h)
        assert (h in cancelled) == market.exchange.cancelled(h)
    assert rebuilt[market.hash(s1)] == 1700


def test_fill_and_retire__retires_only_the_callers_fresh_credits_not_a_bystanders(market, stranger, admin):
    # The buyer approved the exchange as operator (as fillAndRetire asks) and holds credits; a stranger's
    # fillAndRetire retires the stranger's own purchase, nothing of the buyer's.
    fund(market, stranger, admin)
    market.fill(market.order(), 2 * UNITS)
    held = market.credit.balanceOf(market.buyer, market.id_a)
    order = market.order()
    receipt = market.exchange.fillAndRetire(
        order.as_struct(), market.sign(order), UNITS, retirement_input(beneficiary=market.buyer.address),
        sender=stranger,
    )  # fmt: skip
    _, certificate_id = receipt.return_value
    assert market.credit.balanceOf(market.buyer, market.id_a) == held
    assert market.credit.balanceOf(stranger, market.id_a) == 0
    assert market.retirement.certificate(certificate_id).retiringAccount == stranger.address


def test_fill_and_retire__callers_used_reference__refused_as_a_direct_retirement_is(market):
    ref = b"\x42" * 32
    market.fill(market.order(), UNITS)
    first = market.retirement.retire([market.id_a], [UNITS], retirement_input(retirementRef=ref), sender=market.buyer)
    order = market.order()
    with reverts(
        market.retirement.RetirementReferenceUsed,
        retiringAccount=market.buyer,
        retirementRef=ref,
        certificateId=first.return_value,
    ):
        market.exchange.fillAndRetire(
            order.as_struct(), market.sign(order), UNITS, retirement_input(retirementRef=ref), sender=market.buyer
        )
    assert market.exchange.filledOf(market.hash(order)) == 0


def test_permissioned_fill_and_retire__caller_off_the_allowlist__refused(permissioned_market, stranger, admin):
    m = permissioned_market
    fund(m, stranger, admin)
    order = m.order()
    with reverts(m.credit.CreditAccountNotAllowed, account=stranger):
        m.exchange.fillAndRetire(order.as_struct(), m.sign(order), UNITS, retirement_input(), sender=stranger)


def test_permissioned_fill_and_retire__caller_frozen__refused(permissioned_market, regulator):
    m = permissioned_market
    order = m.order()
    m.credit.setFrozen(m.buyer, True, "audit", sender=regulator)
    with reverts(m.credit.CreditAccountFrozen, account=m.buyer):
        m.exchange.fillAndRetire(order.as_struct(), m.sign(order), UNITS, retirement_input(), sender=m.buyer)


def test_permissioned_fill_and_retire__beneficiary_off_the_allowlist__same_as_a_direct_retirement(
    permissioned_market, stranger
):
    # The certificate's beneficiary is the retirement module's matter: the exchange path must be no more
    # permissive than a holder retiring its own credits directly.
    m = permissioned_market
    inp = retirement_input(beneficiary=stranger.address)

    def outcome(action):
        try:
            action()
            return "accepted"
        except ape.exceptions.ContractLogicError as e:
            return type(e).__name__ + str(getattr(e, "message", ""))

    direct = outcome(lambda: m.retirement.retire([m.id_a], [UNITS], inp, sender=m.seller))
    order = m.order()
    via_exchange = outcome(
        lambda: m.exchange.fillAndRetire(order.as_struct(), m.sign(order), UNITS, inp, sender=m.buyer)
    )
    assert direct == via_exchange


def test_permissioned_match__buy_maker_off_the_allowlist__refused(permissioned_market, compliance, stranger):
    m = permissioned_market
    sell, buy = m.order(), m.order(side=BUY)
    m.credit.setAllowed([m.buyer], False, sender=compliance)
    with reverts(m.credit.CreditAccountNotAllowed, account=m.buyer):
        match(m, sell, buy, UNITS, sender=stranger)


def test_pledged_credits__standing_sell_order__cannot_reach_them(market, project, stranger, chain):
    pledge = project.BilateralPledge.deploy(market.credit.address, sender=market.admin)
    order = market.order(amount=HOLDING)
    market.credit.setApprovalForAll(pledge, True, sender=market.seller)
    now = chain.pending_timestamp
    pledge.createPledge(stranger, [market.id_a], [HOLDING], now + 1_000, now + 2_000, sender=market.seller)
    assert market.fillable(order) == (0, Limit.MAKER_BALANCE_SHORT)
    with ape.reverts():
        market.fill(order, UNITS)
    assert market.credit.balanceOf(pledge, market.id_a) == HOLDING


def test_criteria_buy__unverified_batch_or_suspended_project__nothing_delivered(market, registrar):
    project_id = market.id_a >> 64
    unverified = market.registry.addBatch(
        project_id, batch_input(30_001, 31_000, ref=f"AUDIT-{project_id}-U"), 2, sender=registrar
    ).return_value
    order = market.order(side=BUY, token_id=0, project_id=project_id)
    with ape.reverts():  # no credit of an unverified batch exists: its issuance is refused ...
        market.credit.issue(unverified, market.seller, UNITS, ZERO_REF, sender=market.make.issuer)
    # ... so no seller can deliver one (fillable does not see the taker's side, as its NatSpec says).
    with reverts(
        market.credit.ERC1155InsufficientBalance, sender=market.seller, balance=0, needed=UNITS, tokenId=unverified
    ):
        market.fill(order, UNITS, sender=market.seller, id=unverified)
    market.registry.setProjectStatus(project_id, 3, "audit", sender=registrar)
    assert market.fillable(order, id=market.id_a) == (0, Limit.PROJECT_RESTRICTED)
    with reverts(market.credit.CreditProjectRestricted, id=market.id_a, projectId=project_id):
        market.fill(order, UNITS, sender=market.seller, id=market.id_a)


def test_match__buy_named_taker__sell_maker_must_be_it(market, stranger):
    sell, buy = market.order(), market.order(side=BUY, taker=stranger.address)
    with reverts(
        market.exchange.ExchangeNotNamedTaker, orderHash=market.hash(buy), caller=market.seller, taker=stranger
    ):
        match(market, sell, buy, UNITS, sender=stranger)


def test_match__below_either_min_fill__refused(market, stranger):
    sell, buy = market.order(), market.order(side=BUY, min_fill=2 * UNITS)
    with reverts(market.exchange.ExchangeFillBelowMinimum, orderHash=market.hash(buy), units=UNITS, minimum=2 * UNITS):
        match(market, sell, buy, UNITS, sender=stranger)


def test_match__criteria_buy_and_a_sell_of_another_standard__refused(market, stranger):
    gs_project = market.make.project(standard="GS", country=b"BR")
    other = market.make.batch(gs_project, 1, 1_000, ref=f"AUDIT-GS-{gs_project}")
    market.credit.issue(other, market.seller, UNITS, ZERO_REF, sender=market.make.issuer)
    sell = market.order(token_id=other)
    buy = market.order(side=BUY, token_id=0, standard_hash=standard_hash("VCS"))
    with reverts(market.exchange.ExchangeStandardMismatch, orderHash=market.hash(buy), id=other, standard="GS"):
        match(market, sell, buy, UNITS, sender=stranger)


@pytest.mark.parametrize("outer", ["matchOrders", "fillAndRetire"])
def test_hooked_payment_token__reenters_from_match_or_fill_and_retire__refused(market, project, admin, outer):
    hooked = project.HookedPaymentToken.deploy(sender=admin)
    hooked.mint(market.buyer, 10**12, sender=admin)
    hooked.approve(market.exchange, MAX_UINT, sender=market.buyer)
    sell = market.order(payment_token=hooked.address, amount=3 * UNITS)
    sig = market.sign(sell)
    hooked.arm(market.exchange, market.exchange.fill.encode_input(sell.as_struct(), sig, UNITS, market.id_a),
               sender=admin)  # fmt: skip
    if outer == "matchOrders":
        match(market, sell, market.order(side=BUY, payment_token=hooked.address), UNITS, sender=admin)
    else:
        market.exchange.fillAndRetire(sell.as_struct(), sig, UNITS, retirement_input(), sender=market.buyer)
    assert hooked.attempts() == 1 and hooked.lastSucceeded() is False
    assert market.exchange.filledOf(market.hash(sell)) == UNITS


def test_boundaries__amount_zero_refused_price_zero_at_max_fee_moves_credits_only(market):
    market.exchange.setFee(500, market.fee_recipient, sender=market.admin)
    empty = market.order(amount=0)
    with reverts(market.exchange.ExchangeOverfill, orderHash=market.hash(empty), units=1, remaining=0):
        market.fill(empty, 1)
    gift = market.order(price_per_unit=0, expiry=FAR)
    before = market.balances(market.seller, market.buyer, market.fee_recipient)
    market.fill(gift, UNITS)
    after = market.balances(market.seller, market.buyer, market.fee_recipient)
    assert [a[1] - b[1] for a, b in zip(after, before, strict=True)] == [0, 0, 0]
    assert after[1][0] - before[1][0] == UNITS


def test_cancel__twice_refused_after_full_fill_allowed(market):
    order = market.order(amount=UNITS)
    market.fill(order, UNITS)
    market.exchange.cancel(order.as_struct(), sender=market.seller)
    with reverts(market.exchange.ExchangeOrderCancelled, orderHash=market.hash(order)):
        market.exchange.cancel(order.as_struct(), sender=market.seller)
