"""Helpers of the market's contract tests: a market (exchange + payment token + credits held by a seller, cash
held by a buyer), orders built and signed with tonne.market.orders, and exact settlement arithmetic.

Test modules import these as `from market_support import ...`; tests/unit/market/conftest.py holds the fixtures.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from support import ZERO_REF, Factory
from tonne.market.orders import BUY, SELL, Domain, Order, domain_separator, order_hash, sign_order, standard_hash

UNITS = 1000  # token units per tonne
USD = 10**6  # one TestStablecoin (6 decimals)
BPS = 10_000
HOLDING = 100 * UNITS  # the seller holds 100 t of each id
CASH = 10**9 * USD
FAR = 4_102_444_799  # 2099-12-31 23:59:59 UTC
PRICE = 12_345  # tUSD smallest units per kg: 12.345 tUSD a tonne

_nonces = itertools.count(1)

__all__ = ["BUY", "SELL", "Order", "standard_hash"]


def deploy_exchange(project, suite, admin, *, admin_delay: int = 0):
    return project.CreditExchange.deploy(suite.retirement, admin_delay, admin, sender=admin)


def fee_of(cost: int, fee_bps: int) -> int:
    """The exchange's fee of a fill costing `cost`: rounded up."""
    return -(-cost * fee_bps // BPS)


@dataclass
class Market:
    project: Any
    chain: Any
    registry: Any
    credit: Any
    retirement: Any
    exchange: Any
    usd: Any
    admin: Any
    seller: Any
    buyer: Any
    fee_recipient: Any
    id_a: int  # VCS, ID, vintage 2021
    id_b: int  # same project, second batch
    make: Factory

    @property
    def domain(self) -> Domain:
        return Domain(self.chain.chain_id, self.exchange.address)

    def domain_separator(self) -> bytes:
        return domain_separator(self.domain)

    def now(self) -> int:
        return self.chain.blocks.head.timestamp

    def order(self, maker=None, side: int = SELL, **fields) -> Order:
        """An order with sensible defaults: a sell of 10 t of `id_a` by the seller (a buy of it by the buyer), at
        PRICE, paid in tUSD, live now until 2099, a fresh nonce, the maker's current counter."""
        if maker is None:
            maker = self.seller if side == SELL else self.buyer
        address = getattr(maker, "address", maker)
        fields.setdefault("token_id", self.id_a)
        fields.setdefault("amount", 10 * UNITS)
        fields.setdefault("price_per_unit", PRICE)
        fields.setdefault("payment_token", self.usd.address)
        fields.setdefault("expiry", FAR)
        fields.setdefault("nonce", next(_nonces))
        if "counter" not in fields:
            fields["counter"] = self.exchange.counterOf(address)
        return Order(maker=str(address), side=side, **fields)

    def sign(self, order: Order, signer=None) -> bytes:
        # Signs whatever counter the order carries (the tests sign stale and future counters on purpose);
        # tonne.market.orders.sign_order(current_counter=) refuses them for real clients.
        return sign_order(order, self.domain, signer if signer is not None else self._key_of(order.maker))

    def hash(self, order: Order) -> bytes:
        return order_hash(order, self.domain)

    def fill(self, order: Order, units: int, *, sender=None, id: int | None = None, signature=None):
        sender = sender if sender is not None else (self.buyer if order.side == SELL else self.seller)
        sig = self.sign(order) if signature is None else signature
        return self.exchange.fill(order.as_struct(), sig, units, order.token_id if id is None else id, sender=sender)

    def fillable(self, order: Order, id: int | None = None, signature=None) -> tuple[int, int]:
        sig = self.sign(order) if signature is None else signature
        units, reason = self.exchange.fillable(order.as_struct(), sig, order.token_id if id is None else id)
        return int(units), int(reason)

    def balances(self, *accounts, token_id: int | None = None) -> list[tuple[int, int]]:
        token_id = self.id_a if token_id is None else token_id
        return [(self.credit.balanceOf(a, token_id), self.usd.balanceOf(a)) for a in accounts]

    def _key_of(self, address: str):
        for account in (self.seller, self.buyer, self.admin):
            if account.address == address:
                return account
        raise KeyError(f"no test key for maker {address}; pass signer=")


def build_market(project, chain, suite, admin, registrar, verifier, issuer, seller, buyer, fee_recipient) -> Market:
    """The exchange on `suite`, tUSD, two verified batches (VCS, ID, vintage 2021) of one project, 100 t of each
    held by the seller; the buyer holds CASH tUSD; both approved the exchange for everything (credits and cash);
    the fee recipient holds 1 tUSD (so that a fee lands on a warm balance, as on a live market)."""
    exchange = deploy_exchange(project, suite, admin)
    usd = project.TestStablecoin.deploy(sender=admin)
    make = Factory(suite.registry, suite.credit, registrar, verifier, issuer, seller)
    if suite.credit.permissioned():
        suite.credit.setAllowed([seller, buyer, exchange, fee_recipient], True, sender=_compliance_of(suite, admin))
    project_id = make.project()
    id_a = make.batch(project_id, 1, 10_000, ref=f"MKT-{project_id}-A")
    id_b = make.batch(project_id, 10_001, 20_000, prev=1, ref=f"MKT-{project_id}-B")
    for token_id in (id_a, id_b):
        suite.credit.issue(token_id, seller, HOLDING, ZERO_REF, sender=issuer)
    for account in (seller, buyer):
        usd.mint(account, CASH, sender=admin)
        usd.approve(exchange, 2**256 - 1, sender=account)
        suite.credit.setApprovalForAll(exchange, True, sender=account)
    usd.mint(fee_recipient, USD, sender=admin)
    return Market(
        project=project,
        chain=chain,
        registry=suite.registry,
        credit=suite.credit,
        retirement=suite.retirement,
        exchange=exchange,
        usd=usd,
        admin=admin,
        seller=seller,
        buyer=buyer,
        fee_recipient=fee_recipient,
        id_a=id_a,
        id_b=id_b,
        make=make,
    )


def _compliance_of(suite, admin):
    from ape import accounts as ape_accounts

    role = suite.credit.COMPLIANCE_ROLE()
    for account in ape_accounts.test_accounts:
        if suite.credit.hasRole(role, account):
            return account
    raise LookupError("no COMPLIANCE_ROLE holder among the test accounts")
