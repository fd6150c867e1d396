"""Helpers of the pledge tests: a world (suite + oracle + facility + bilateral pledge, funded and priced), time
travel, price posts, and the facility's arithmetic done again in exact Python integers.

Test modules import these as `from pledge_support import ...`; tests/unit/pledge/conftest.py holds the fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RAY = 10**27
BPS = 10_000
UNITS = 1000  # token units per tonne
YEAR = 365 * 24 * 3600
DAY = 24 * 3600

USD = 10**6  # one TestStablecoin (6 decimals)
PRICE_A = 20 * USD  # per tonne
PRICE_B = 10 * USD
LTV, THRESHOLD, MAX_AGE = 5_000, 7_000, DAY
RATE_BPS, CLOSE_FACTOR, BONUS = 800, 5_000, 500
HOLDING = 1_000 * UNITS  # the borrower holds 1,000 t of each batch
LIQUIDITY = 1_000_000 * USD


@dataclass
class World:
    registry: Any
    credit: Any
    oracle: Any
    facility: Any
    bilateral: Any
    usd: Any
    admin: Any
    lender: Any
    feeder: Any
    borrower: Any
    liquidator: Any
    project_id: int
    id_a: int
    id_b: int
    chain: Any

    def now(self) -> int:
        return self.chain.blocks.head.timestamp

    def tick(self, seconds: int = 1) -> int:
        """Sets the next block's time to head + `seconds` and returns it."""
        at = self.now() + seconds
        self.chain.pending_timestamp = at
        return at

    def post(self, prices: dict[int, int], observed_at: int | None = None) -> Any:
        """The feeder posts `prices` (class -> loan units per tonne) in the next block, observed at its time."""
        at = self.tick() if observed_at is None else observed_at
        classes = list(prices)
        return self.oracle.postPrices(classes, [prices[c] for c in classes], [at] * len(classes), sender=self.feeder)

    def open(self, ids=None, amounts=None, *, maturity_in: int = 30 * DAY, owner=None) -> int:
        """A position of `owner` (the borrower) pledging `amounts` of `ids` (default 100 t of A)."""
        ids = [self.id_a] if ids is None else ids
        amounts = [100 * UNITS] * len(ids) if amounts is None else amounts
        owner = owner or self.borrower
        receipt = self.facility.openPosition(self.now() + maturity_in, ids, amounts, sender=owner)
        return receipt.return_value

    def warp(self, seconds: int) -> None:
        """Moves chain time forward by `seconds` (mines a block at head + seconds)."""
        self.chain.mine(1, timestamp=self.now() + seconds)

    def prime(self) -> int:
        """Accrues now (at head + 1) and returns the borrow index the facility will use one second later, in the
        block after (whose time this sets): the exact index of the next transaction."""
        at = self.tick()
        receipt = self.facility.accrue(sender=self.admin)
        accrued = event_args(receipt, self.facility, "InterestAccrued")
        index = accrued[0]["index"] if accrued else self.facility.borrowIndex()
        self.chain.pending_timestamp = at + 1
        return grown_index(index, rate_per_second(self.facility.interestRateBps()), 1)

    def fund(self, account: Any, amount: int) -> None:
        """Mints `amount` loan units to `account` and approves the facility for all it holds."""
        self.usd.mint(account, amount, sender=account)
        self.usd.approve(self.facility, 2**256 - 1, sender=account)


def debt_of(scaled: int, index: int) -> int:
    """What the facility owes for `scaled` at `index`, rounded up as the contract does."""
    return -(-scaled * index // RAY)


def grown_index(index: int, rate_per_second: int, elapsed: int) -> int:
    """The borrow index after `elapsed` seconds, rounded up as the contract does."""
    return index + -(-index * rate_per_second * elapsed // RAY)


def rate_per_second(annual_bps: int) -> int:
    return -(-annual_bps * RAY // (BPS * YEAR))


def value_of(units: int, price: int) -> int:
    return units * price // UNITS


def event_args(receipt, contract, name: str) -> list[dict]:
    """Raw arguments (ints, addresses) of every `name` event of `contract` in `receipt`."""
    return [
        dict(log.event_arguments)
        for log in receipt.events
        if log.event_name == name and log.contract_address == contract.address
    ]
