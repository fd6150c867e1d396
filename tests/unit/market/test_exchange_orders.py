"""Orders and signatures: the hash (Python equals the contract's), replays on another chain, another exchange,
after cancel or a counter raise; malleable and wrong-length signatures; EIP-1271 wallets checked at every fill."""

from __future__ import annotations

import pytest
from market_support import PRICE, Market, deploy_exchange

from support import events, plain, reverts
from tonne.market.orders import Domain, order_for_counter, order_hash, sign_order

pytestmark = pytest.mark.usefixtures("market", "stranger", "attacker")

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_hash_order__python_equals_contract(market):
    order = market.order(project_id=0, min_fill=3, listed_at=5, nonce=2**255)
    assert bytes(market.exchange.hashOrder(order.as_struct())) == market.hash(order)


def test_fill__signed_for_another_chain_id__bad_signature(market):
    order = market.order()
    other_chain = sign_order(order, Domain(market.chain.chain_id + 1, market.exchange.address), market.seller)
    with reverts(market.exchange.ExchangeBadSignature, orderHash=market.hash(order), maker=market.seller):
        market.fill(order, 1, signature=other_chain)


def test_fill__signed_for_another_exchange__bad_signature_here_valid_there(market, project, open_suite, admin):
    other = deploy_exchange(project, open_suite, admin)
    order = market.order()
    for_other = sign_order(order, Domain(market.chain.chain_id, other.address), market.seller)
    with reverts(market.exchange.ExchangeBadSignature, orderHash=market.hash(order), maker=market.seller):
        market.fill(order, 1, signature=for_other)
    # Control: the same signature is good on the exchange it was made for.
    market.credit.setApprovalForAll(other, True, sender=market.seller)
    market.usd.approve(other, 2**256 - 1, sender=market.buyer)
    other.fill(order.as_struct(), for_other, 1, market.id_a, sender=market.buyer)
    assert other.filledOf(order_hash(order, Domain(market.chain.chain_id, other.address))) == 1


def test_fill__signed_by_someone_else__bad_signature(market, attacker):
    order = market.order()
    with reverts(market.exchange.ExchangeBadSignature, orderHash=market.hash(order), maker=market.seller):
        market.fill(order, 1, signature=market.sign(order, signer=attacker))


def test_fill__high_s_signature__refused_though_ecrecover_would_accept_it(market):
    order = market.order()
    sig = market.sign(order)
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    high = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28
    from eth_account import Account

    assert Account._recover_hash(market.hash(order), vrs=(high[64], int.from_bytes(r, "big"), SECP256K1_N - s)) == (
        market.seller.address
    )
    with reverts(market.exchange.ExchangeBadSignature, orderHash=market.hash(order), maker=market.seller):
        market.fill(order, 1, signature=high)


@pytest.mark.parametrize("length", [0, 64, 66])
def test_fill__wrong_length_signature__refused(market, length):
    order = market.order()
    sig = (market.sign(order) + b"\x00")[:length]
    with reverts(market.exchange.ExchangeBadSignature, orderHash=market.hash(order), maker=market.seller):
        market.fill(order, 1, signature=sig)


def test_cancel__maker__later_fill_refused_and_event(market):
    order = market.order()
    market.fill(order, 1)
    receipt = market.exchange.cancel(order.as_struct(), sender=market.seller)
    h = market.hash(order)
    assert events(receipt, market.exchange, "OrderCancelled") == [plain(orderHash=h, maker=market.seller)]
    assert market.exchange.cancelled(h)
    with reverts(market.exchange.ExchangeOrderCancelled, orderHash=h):
        market.fill(order, 1)
    with reverts(market.exchange.ExchangeOrderCancelled, orderHash=h):
        market.exchange.cancel(order.as_struct(), sender=market.seller)


def test_cancel__stranger__refused(market, stranger):
    order = market.order()
    with reverts(
        market.exchange.ExchangeCallerNotMaker, orderHash=market.hash(order), caller=stranger, maker=market.seller
    ):
        market.exchange.cancel(order.as_struct(), sender=stranger)
    assert not market.exchange.cancelled(market.hash(order))


def test_increment_counter__voids_every_older_order_new_ones_valid(market, chain):
    old = market.order()
    receipt = market.exchange.incrementCounter(sender=market.seller)
    counter = market.exchange.counterOf(market.seller)
    # The step: the hash of the block before the raise's, in the high 128 bits, its lowest of them set.
    parent = chain.provider.web3.eth.get_block(receipt.block_number - 1)["hash"]
    assert counter == (int.from_bytes(parent, "big") << 128 | 1 << 128) % 2**256
    assert events(receipt, market.exchange, "CounterIncremented") == [plain(maker=market.seller, counter=counter)]
    with reverts(
        market.exchange.ExchangeStaleCounter, orderHash=market.hash(old), orderCounter=0, currentCounter=counter
    ):
        market.fill(old, 1)
    fresh = order_for_counter(market.order(counter=0), market.exchange)
    market.fill(fresh, 1, signature=sign_order(fresh, market.domain, market.seller, current_counter=counter))
    # Another maker's counter is untouched.
    assert market.exchange.counterOf(market.buyer) == 0


def test_increment_counter__future_counter_order__never_fillable(market):
    # Changed with AUDIT-3: the counter rises by a quasi-random step, so an order signed for counter + 1 (or for
    # any value but the current one) never comes alive: the maker's "cancel all" cannot arm a phished order.
    ahead = market.order(counter=1)
    with reverts(market.exchange.ExchangeStaleCounter, orderHash=market.hash(ahead), orderCounter=1, currentCounter=0):
        market.fill(ahead, 1)
    for _ in range(3):
        market.exchange.incrementCounter(sender=market.seller)
        counter = market.exchange.counterOf(market.seller)
        with reverts(
            market.exchange.ExchangeStaleCounter, orderHash=market.hash(ahead), orderCounter=1, currentCounter=counter
        ):
            market.fill(ahead, 1)


# ------------------------------------------------------------------ EIP-1271


@pytest.fixture
def wallet(project, market: Market, admin, issuer):
    """An EIP-1271 wallet owned by the seller's key, holding 10 t of id_a, approving the exchange."""
    w = project.TestERC1271Wallet.deploy(market.seller.address, sender=admin)
    market.credit.safeTransferFrom(market.seller, w, market.id_a, 10_000, b"", sender=market.seller)
    w.execute(market.credit, market.credit.setApprovalForAll.encode_input(market.exchange, True), sender=admin)
    return w


def test_eip1271_wallet__stops_approving_after_first_fill__second_fill_refused(market, wallet, admin):
    order = market.order(maker=wallet.address)
    sig = market.sign(order, signer=market.seller)
    market.fill(order, 100, signature=sig)
    assert market.credit.balanceOf(wallet, market.id_a) == 10_000 - 100
    assert market.usd.balanceOf(wallet) == 100 * PRICE

    wallet.setApproving(False, sender=admin)
    # Checked at every fill, not only the first (Seaport skips it once an order is partly filled).
    with reverts(market.exchange.ExchangeBadSignature, orderHash=market.hash(order), maker=wallet):
        market.fill(order, 100, signature=sig)
    units, reason = market.fillable(order, signature=sig)
    assert (units, reason) == (0, 6)  # BadSignature
    wallet.setApproving(True, sender=admin)
    market.fill(order, 100, signature=sig)


def test_eip1271_wallet__signature_of_another_key__refused(market, wallet, attacker):
    order = market.order(maker=wallet.address)
    with reverts(market.exchange.ExchangeBadSignature, orderHash=market.hash(order), maker=wallet):
        market.fill(order, 1, signature=market.sign(order, signer=attacker))


def test_front_run_cancel__taker_fill_after_cancel_reverts_and_pays_nothing(market):
    # The maker sees a taker's fill in the mempool and cancels first: the taker's transaction reverts whole.
    order = market.order()
    market.exchange.cancel(order.as_struct(), sender=market.seller)
    cash = market.usd.balanceOf(market.buyer)
    with reverts(market.exchange.ExchangeOrderCancelled, orderHash=market.hash(order)):
        market.fill(order, 1)
    assert market.usd.balanceOf(market.buyer) == cash
