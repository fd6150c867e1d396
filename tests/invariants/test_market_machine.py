"""Stateful property test of the CreditExchange, against a Python model.

Hypothesis drives random sequences of signed orders on the real contracts (Anvil): sells and buys of one id, buys
by criteria (project, vintage, standard, country), named takers, minimum fills, future listings, expiries and
future counters, some signed with the wrong key; fills and partial fills, fillMany (the same order twice
included), matchOrders, cancels, counter raises, re-pricing (an order cancelled and placed again at another
price), fee changes, the makers' balances and approvals moving under their orders (credit and cash transfers,
operator approval and allowance changes), and the clock moving (every transaction's block time is set by the
machine, time jumps land on expiry and listing boundaries). The model predicts each outcome first: success, or
the exact custom error of the first check that fails (the exchange's, the credit token's or the payment token's).
It follows the outside audit's rules: a fill takes up to the units asked, capped at what remains (a match at the
smaller remainder); a fillMany entry of an order with nothing left is skipped; the fee is rounded up; a counter
raise adds the previous block's hash in the high 128 bits (so an order signed ahead for counter + 1 never lives).
After every step the invariants check, on-chain:

- per order, filledOf = the model's filled <= amount, and `cancelled` agrees;
- nothing filled after a cancel, a counter raise or the expiry: an order's filled amount is frozen from the step
  it died on (the model also refuses every such fill, and the contract refused each one);
- credits and payment tokens are conserved: every trader's, the keeper's and the fee recipient's balances equal
  the model's (it moves exactly units, units * price and the rounded-up fee), the sums equal what was issued
  and minted, and the exchange holds nothing; counters, operator approvals and allowances agree too;
- the model's fillable amount and reason equal the contract's `fillable(order, signature, id)` for every order
  known and every id (so each criteria buy is asked about ids that meet its criteria and ids that do not).

The machine shares the session's chain with the other tests: its accounts are fresh (generated, never used by
another test), its project, batches (references MKT-MACHINE-...) and payment token its own, and every sequence
runs between a snapshot and its restore.
At the end of each sequence, the supervision index follows the suite's and the exchange's contracts from their
deployment, and the state rebuilt from those events alone must reconcile with the chain with no alert
(``supervise_support.Reconciler``).

Settings (profile ``tonne-market-ci``, the default): 30 sequences of up to 30 steps (some 870 steps),
deterministic (``derandomize=True``): about 21 s of test call, 35 s wall with ape's start, on two idle cores. Each
sequence opens with a sell, a buy and a criteria buy; every step is then one weighted action chosen with the state
in view (mostly live orders and units they can take, answering orders so that matches cross, fills of dead orders
to show they are refused), so that fills and partial fills come in the hundreds, matches, fillMany and cancels in
the tens. The counts of every action, outcome and `fillable` reason are printed at the end (``-s``; Hypothesis's
``--hypothesis-show-statistics`` shows the outcomes as events), and the run must reach each of
``REQUIRED_OUTCOMES``. A deeper local run:
``TONNE_HYPOTHESIS_PROFILE=tonne-deep ape test tests/invariants/test_market_machine.py -s``.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from market_support import deploy_exchange

from supervise_support import Reconciler
from support import ZERO_REF, BatchedReads, Factory, FastRevert, FastSender, batch_input
from tonne.market.orders import BUY, SELL, ZERO_ADDRESS, Domain, Limit, Order, order_hash, sign_order, standard_hash

settings.register_profile(
    "tonne-market-ci",
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "tonne-market-deep",
    parent=settings.get_profile("tonne-market-ci"),
    max_examples=150,
    stateful_step_count=60,
    derandomize=False,
)
_PROFILE = {"tonne-deep": "tonne-market-deep", "tonne-ci": "tonne-market-ci"}
MACHINE_SETTINGS = settings.get_profile(
    _PROFILE.get(os.environ.get("TONNE_HYPOTHESIS_PROFILE", "tonne-ci"), "tonne-market-ci")
)

BPS = 10_000
MAX_FEE_BPS = 500
MAX_UINT = 2**256 - 1
HOLDING = 3_000  # units of each id per trader
CASH = 1_500_000  # payment units per trader
# Per sequence: at most this many orders standing (live or listed later), so that orders are filled again and
# again (partial fills, overfills), and this many in all (dead ones stay in the book, for the views and refusals).
MAX_STANDING, MAX_ORDERS = 8, 24
FAR = 4_102_444_799  # 2099-12-31 23:59:59 UTC
Y2022 = (1640995200, 1672531199)
Y2023 = (1672531200, 1704067199)
VCS, GS = standard_hash("VCS"), standard_hash("GS")


@dataclass(frozen=True)
class IdTerms:
    """What a criteria buy is checked against: the id's project, its vintage years, standard and country."""

    project_id: int
    first_year: int
    last_year: int
    standard: bytes
    country: bytes


@dataclass
class Placed:
    order: Order
    sig: bytes
    hash: bytes
    signed_by_maker: bool
    filled: int = 0
    cancelled: bool = False
    dead_at: int | None = None  # the filled amount when the order died (cancel, counter raise, expiry)


@dataclass
class Model:
    ids: list[int]
    terms: dict[int, IdTerms]
    fee_bps: int = 0
    recipient: str = ZERO_ADDRESS
    credits: dict[tuple[str, int], int] = field(default_factory=dict)
    cash: dict[str, int] = field(default_factory=dict)
    allowance: dict[str, int] = field(default_factory=dict)  # to the exchange; MAX_UINT is never spent
    approved: dict[str, bool] = field(default_factory=dict)  # the exchange as credit operator
    counters: dict[str, int] = field(default_factory=dict)
    orders: list[Placed] = field(default_factory=list)
    fees_paid: int = 0  # settlements that paid a fee (for the report)

    # ------------------------------------------------------------ the exchange's checks

    def terms_error(self, o: Order, token_id: int) -> str | None:
        """CreditExchange._requireTerms: the error name for delivering `token_id` against `o`, or None."""
        if o.side == SELL or o.token_id != 0:
            return None if token_id == o.token_id else "ExchangeWrongId"
        t = self.terms[token_id]
        if o.project_id and o.project_id != t.project_id:
            return "ExchangeProjectMismatch"
        if (o.vintage_from and t.first_year < o.vintage_from) or (o.vintage_to and t.last_year > o.vintage_to):
            return "ExchangeVintageMismatch"
        if o.standard_hash != b"\x00" * 32 and o.standard_hash != t.standard:
            return "ExchangeStandardMismatch"
        if o.country != b"\x00\x00" and o.country != t.country:
            return "ExchangeCountryMismatch"
        return None

    def book(
        self, p: Placed, units: int, token_id: int, taker: str, now: int, skip_if_done: bool = False
    ) -> tuple[str | None, int]:
        """CreditExchange._book's checks, in its order: (the error name of the first that fails, or None; the units
        it books: the units asked capped at what remains, 0 for an entry skipped with `skip_if_done`)."""
        o = p.order
        if o.taker != ZERO_ADDRESS and o.taker != taker:
            return "ExchangeNotNamedTaker", 0
        if now < o.listed_at:
            return "ExchangeOrderNotYetListed", 0
        if now > o.expiry:
            return "ExchangeOrderExpired", 0
        if o.counter != self.counters[o.maker]:
            return "ExchangeStaleCounter", 0
        if p.cancelled:
            return "ExchangeOrderCancelled", 0
        if units == 0:
            return "ExchangeZeroUnits", 0
        remaining = o.amount - p.filled
        if remaining == 0:
            return (None, 0) if skip_if_done else ("ExchangeOverfill", 0)
        units = min(units, remaining)  # up to the units asked
        if units < min(o.min_fill, remaining):
            return "ExchangeFillBelowMinimum", 0
        if error := self.terms_error(o, token_id):
            return error, 0
        if not p.signed_by_maker:
            return "ExchangeBadSignature", 0
        return None, units

    def _pay(self, payer: str, to: str, amount: int) -> str | None:
        """One ERC-20 transferFrom by the exchange (OpenZeppelin: the allowance is spent first, then moved)."""
        if self.allowance[payer] != MAX_UINT:
            if self.allowance[payer] < amount:
                return "ERC20InsufficientAllowance"
            self.allowance[payer] -= amount
        if self.cash[payer] < amount:
            return "ERC20InsufficientBalance"
        self.cash[payer] -= amount
        self.cash[to] += amount
        return None

    def settle(self, seller: str, buyer: str, token_id: int, units: int, cost: int) -> str | None:
        """CreditExchange._settle on this model (applied; the caller drops the model if it fails)."""
        if seller == buyer:
            return "ExchangeSelfTrade"
        if not self.approved[seller]:
            return "ERC1155MissingApprovalForAll"
        if self.credits[(seller, token_id)] < units:
            return "ERC1155InsufficientBalance"
        self.credits[(seller, token_id)] -= units
        self.credits[(buyer, token_id)] += units
        if cost == 0:
            return None
        fee = -(-cost * self.fee_bps // BPS)  # rounded up
        if cost - fee and (error := self._pay(buyer, seller, cost - fee)):
            return error
        if fee and (error := self._pay(buyer, self.recipient, fee)):
            return error
        self.fees_paid += fee > 0
        return None

    # ------------------------------------------------------------ the view

    def fillable(self, p: Placed, token_id: int, now: int) -> tuple[int, int]:
        """CreditExchange.fillable, check for check."""
        o = p.order
        if now < o.listed_at:
            return 0, Limit.NOT_YET_LISTED
        if now > o.expiry:
            return 0, Limit.EXPIRED
        if p.cancelled:
            return 0, Limit.CANCELLED
        if o.counter != self.counters[o.maker]:
            return 0, Limit.STALE_COUNTER
        if p.filled >= o.amount:
            return 0, Limit.FILLED
        if not p.signed_by_maker:
            return 0, Limit.BAD_SIGNATURE
        if self.terms_error(o, token_id):
            return 0, Limit.CRITERIA_NOT_MET
        remaining = o.amount - p.filled
        units, reason = remaining, Limit.NONE
        if o.side == SELL:
            if not self.approved[o.maker]:
                return 0, Limit.MAKER_APPROVAL_SHORT
            balance = self.credits[(o.maker, token_id)]
            if balance < units:
                units, reason = balance, Limit.MAKER_BALANCE_SHORT
        elif o.price_per_unit:
            by_balance = self.cash[o.maker] // o.price_per_unit
            by_allowance = self.allowance[o.maker] // o.price_per_unit
            if by_balance < units:
                units, reason = by_balance, Limit.MAKER_BALANCE_SHORT
            if by_allowance < units:
                units, reason = by_allowance, Limit.MAKER_APPROVAL_SHORT
        if units < min(o.min_fill, remaining) or units == 0:
            units = 0
        return units, int(reason)

    def dead(self, p: Placed, now: int) -> bool:
        """Never fillable again: cancelled, not of its maker's counter (the counter moves by a quasi-random step, so
        an order of another counter, passed or ahead, never becomes current), or expired (time only moves on)."""
        return p.cancelled or self.counters[p.order.maker] != p.order.counter or now > p.order.expiry


@dataclass
class Env:
    chain: Any
    credit: Any  # FastSender-wrapped
    usd: Any  # FastSender-wrapped
    exchange: Any  # FastSender-wrapped
    admin: Any
    traders: list[Any]
    keeper: Any  # matches orders; receives credits and cash in transfers; never trades
    fee_recipient: Any
    ids: list[int]
    terms: dict[int, IdTerms]
    initial: Model
    outcomes: Counter[str] = field(default_factory=Counter)
    views: Counter[str] = field(default_factory=Counter)
    steps: Counter[str] = field(default_factory=Counter)
    reconciler: Reconciler | None = None  # the supervision index's reconciliation, once at the end of each run


def _revert_name(err: FastRevert) -> str:
    return err.name or f"undecoded revert 0x{err.data.hex()}"


class MarketMachine(RuleBasedStateMachine):
    def __init__(self, env: Env) -> None:
        super().__init__()
        self.env = env
        self.snapshot = env.chain.snapshot()
        self.reads = BatchedReads(env.chain.provider.web3, env.exchange, env.credit, env.usd)
        self.domain = Domain(env.chain.chain_id, env.exchange.address)
        self.now = env.chain.blocks.head.timestamp
        self.nonce = 0
        self.model = copy.deepcopy(env.initial)
        self.keys = {a.address: a for a in [*env.traders, env.keeper]}
        self.accounts = [*env.traders, env.keeper, env.fee_recipient]
        self.env.steps["sequences"] += 1

    def teardown(self) -> None:
        try:
            if self.env.reconciler is not None:
                self.env.reconciler.check()  # the state rebuilt from the run's events equals the chain's
        finally:  # a failed check leaves the chain as the next (shrinking) run expects it
            self.env.chain.restore(self.snapshot)

    # ------------------------------------------------------------------ helpers

    def _send(self, label: str, expected: str | None, send: Callable[[], Any]) -> bool:
        """Sends in a block one second after the last (the time the model predicted `expected` for): it must
        succeed when `expected` is None, else revert with exactly that error. Counts the outcome."""
        t = self.now + 1
        self.env.chain.provider.make_request("evm_setNextBlockTimestamp", [t])
        try:
            send()
            got = None
        except FastRevert as err:
            got = _revert_name(err)
        head = self.env.chain.blocks.head.timestamp
        assert head == t, f"{label}: mined at {head}, the machine set {t}"
        self.now = t
        outcome = f"{label}: {got or 'ok'}"
        assert got == expected, f"{label}: {'reverted with ' + got if got else 'succeeded'}, model: {expected or 'ok'}"
        self.env.outcomes[outcome] += 1
        event(outcome)
        return got is None

    def _draw(self, data: st.DataObject, strategy: st.SearchStrategy, label: str) -> Any:
        return data.draw(strategy, label=label)

    def _live(self, now: int) -> list[tuple[Placed, list[int], int]]:
        """(order, the ids it takes now, units fillable now) for every order fillable by some id."""
        found = []
        for p in self.model.orders:
            takes = [(i, self.model.fillable(p, i, now)[0]) for i in self.model.ids]
            ids = [i for i, u in takes if u]
            if ids:
                found.append((p, ids, max(u for _, u in takes)))
        return found

    def _pick_order(self, data: st.DataObject, taker: str | None = None, odds: int = 4) -> tuple[Placed, int] | None:
        """Mostly (`odds` to 1) a live order (one `taker` may fill, if given) and an id it takes; else any order and
        any id (dead ones included)."""
        live = [
            (p, ids)
            for p, ids, _ in self._live(self.now + 1)
            if taker is None or (p.order.maker != taker and p.order.taker in (ZERO_ADDRESS, taker))
        ]
        pool = self.model.orders
        if not pool:
            return None
        if live and self._draw(data, st.sampled_from([True] * odds + [False]), "live"):
            p, ids = self._draw(data, st.sampled_from(live), "order")
            token_id = self._draw(data, st.sampled_from(ids), "id")
        else:
            p = self._draw(data, st.sampled_from(pool), "order")
            own = [p.order.token_id] * 3 if p.order.token_id else []
            token_id = self._draw(data, st.sampled_from([*own, *self.model.ids]), "id")
        return p, token_id

    def _units(self, data: st.DataObject, fillable: int, remaining: int, minimum: int, odds: int = 1) -> int:
        """Mostly units the order can take now; sometimes (less often by `odds`) one, zero, below the minimum or
        above what remains."""
        low = max(minimum, 1)
        kinds = ["within"] * 5 * odds + ["fillable"] * 2 * odds + ["one", "over", "below", "zero"]
        kind = self._draw(data, st.sampled_from(kinds), "units kind")
        if kind == "within":
            return self._draw(data, st.integers(low, max(fillable, low)), "units")
        return {
            "fillable": max(fillable, 1),
            "one": 1,
            "over": remaining + 1,
            "below": max(minimum - 1, 0),
            "zero": 0,
        }[kind]

    def _taker(self, data: st.DataObject, o: Order, usual: bool = False) -> Any:
        """The named taker, else another trader; now and then (unless `usual`) anyone (the maker: a self trade)."""
        if usual or self._draw(data, st.sampled_from([True] * 9 + [False]), "usual taker"):
            if o.taker != ZERO_ADDRESS:
                return self.keys[o.taker]
            return self._draw(data, st.sampled_from([a for a in self.env.traders if a.address != o.maker]), "taker")
        return self._draw(data, st.sampled_from(self.env.traders), "taker")

    def _predict_fill(
        self, m: Model, p: Placed, units: int, token_id: int, taker: str, skip_if_done: bool = False
    ) -> tuple[str | None, int]:
        """One fill of up to `units` by `taker` on model `m` (p is m's own copy), applied: (the error name, or
        None; the units filled, 0 for a skipped fillMany entry)."""
        error, units = m.book(p, units, token_id, taker, self.now + 1, skip_if_done)
        if error or units == 0:
            return error, 0
        o = p.order
        seller, buyer = (o.maker, taker) if o.side == SELL else (taker, o.maker)
        if error := m.settle(seller, buyer, token_id, units, units * o.price_per_unit):
            return error, 0
        p.filled += units
        return None, units

    def _adopt(self, trial: Model) -> None:
        """The trial model a transaction just confirmed becomes the model."""
        self.env.outcomes["settlements paying a fee"] += trial.fees_paid - self.model.fees_paid
        self.model = trial

    def _count_fill(self, kind: str, p: Placed, units: int) -> None:
        """Counts a successful fill of `units` on `p` (the model's order after the fill) as partial or final."""
        done = p.filled == p.order.amount
        self.env.outcomes[f"{kind}: {'completes the order' if done else 'partial fill'}"] += 1

    # ------------------------------------------------------------------ rules

    @initialize(data=st.data())
    def open_book(self, data: st.DataObject) -> None:
        """Every sequence opens with a small book: a sell, a buy of one id and a criteria buy."""
        for kind in ("sell", "buy", "criteria buy"):
            self.place_order(data, kind=kind)

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        """One action, weighted: mostly fills, fillMany, matches and new orders; then cancels, re-pricing, counter
        raises, fee changes, balance and approval changes and time jumps."""
        actions = ["fill"] * 6 + ["fill dead"] * 2 + ["fill many"] * 3 + ["match"] * 4 + ["cancel"] * 2
        actions += ["reprice", "counter", "fee"]
        actions += ["credits", "cash", "approval", "time", "time"]
        standing = sum(not self.model.dead(p, self.now + 1) for p in self.model.orders)
        if standing < MAX_STANDING and len(self.model.orders) < MAX_ORDERS:
            actions += ["place"] * (3 if standing > 2 else 8) + ["answer"] * 2
        action = self._draw(data, st.sampled_from(actions), "action")
        self.env.steps[action] += 1
        {
            "place": self.place_order,
            "answer": self.answer_order,
            "fill": self.fill,
            "fill dead": self.fill_dead,
            "fill many": self.fill_many,
            "match": self.match,
            "cancel": self.cancel,
            "reprice": self.reprice,
            "counter": self.increment_counter,
            "fee": self.set_fee,
            "credits": self.move_credits,
            "cash": self.move_cash,
            "approval": self.change_approval,
            "time": self.time_jump,
        }[action](data)

    def place_order(self, data: st.DataObject, kind: str | None = None) -> None:
        m = self.model
        maker = self._draw(data, st.sampled_from(self.env.traders), "maker")
        kind = kind or self._draw(data, st.sampled_from(["sell", "sell", "buy", "criteria buy"]), "kind")
        amount = self._draw(data, st.sampled_from([500, 1_000, 10, 2_000, 1, 4_000]), "amount")
        self.nonce += 1
        counter = m.counters[maker.address]
        counter += self._draw(data, st.sampled_from([0] * 8 + [1, -1 if counter else 1]), "counter offset")
        fields: dict[str, Any] = dict(
            maker=maker.address,
            side=SELL if kind == "sell" else BUY,
            token_id=0 if kind == "criteria buy" else self._draw(data, st.sampled_from(m.ids), "token"),
            amount=amount,
            price_per_unit=self._draw(data, st.sampled_from([100, 250, 7, 333, 1, 0]), "price"),
            payment_token=self.env.usd.address,
            min_fill=self._draw(data, st.sampled_from([0, 0, 1, amount // 3, 0, amount]), "min fill"),
            listed_at=self.now + self._draw(data, st.sampled_from([0, 0, -10, -100, 0, 20]), "listed"),
            expiry=min(self.now + self._draw(data, st.sampled_from([10**6] * 4 + [3_600, 300, 30, 4]), "expiry"), FAR),
            nonce=self.nonce,
            counter=counter,
        )
        if kind == "criteria buy":
            projects = sorted({t.project_id for t in m.terms.values()})
            project = self._draw(data, st.sampled_from([0, 0, *projects]), "project")
            vintage = self._draw(
                data, st.sampled_from([(0, 0), (0, 0), (2022, 0), (0, 2022), (2021, 2021), (2023, 2023)]), "vintage"
            )
            fields.update(
                project_id=project,
                vintage_from=vintage[0],
                vintage_to=vintage[1],
                standard_hash=self._draw(data, st.sampled_from([b"\x00" * 32] * 3 + [VCS, GS]), "standard"),
                country=self._draw(data, st.sampled_from([b"\x00\x00"] * 3 + [b"ID", b"BR"]), "country"),
            )
        if self._draw(data, st.sampled_from([False] * 7 + [True]), "named taker"):
            fields["taker"] = self._draw(data, st.sampled_from(self.env.traders), "taker").address
        self._add_order(data, Order(**fields), maker)

    def answer_order(self, data: st.DataObject) -> tuple[Placed, Placed] | None:
        """A maker answers a live order with one on the other side, for matchOrders: the same id (one the buy
        takes, for a criteria buy), from another trader, mostly at a price that crosses. Returns (sell, buy)."""
        live = self._live(self.now + 1)
        if not live:
            self.place_order(data)
            return None
        p, ids, _ = self._draw(data, st.sampled_from(live), "answered")
        o = p.order
        maker = self._draw(data, st.sampled_from([a for a in self.env.traders if a.address != o.maker]), "maker")
        price = o.price_per_unit
        price += self._draw(data, st.sampled_from([0, -1, 1, -price // 2, price]), "price offset")
        self.nonce += 1
        amount = self._draw(data, st.sampled_from([o.amount - p.filled, 500, 10, 3_000]), "amount")
        order = Order(
            maker=maker.address,
            side=BUY if o.side == SELL else SELL,
            token_id=self._draw(data, st.sampled_from(ids), "token"),
            amount=max(amount, 1),
            price_per_unit=max(price, 0),
            payment_token=self.env.usd.address,
            min_fill=self._draw(data, st.sampled_from([0, 0, 1, amount // 2]), "min fill"),
            listed_at=self.now + self._draw(data, st.sampled_from([0, -5, 1]), "listed"),
            expiry=self.now + self._draw(data, st.sampled_from([10**6, 10**6, 3_600, 60]), "expiry"),
            nonce=self.nonce,
            counter=self.model.counters[maker.address],
        )
        answer = self._add_order(data, order, maker)
        self.env.outcomes["orders answering one"] += 1
        return (p, answer) if o.side == SELL else (answer, p)

    def _add_order(self, data: st.DataObject, order: Order, maker: Any) -> Placed:
        signer = maker
        if self._draw(data, st.sampled_from([False] * 11 + [True]), "wrong key"):
            signer = next(a for a in self.env.traders if a.address != maker.address)
        placed = Placed(order, sign_order(order, self.domain, signer), order_hash(order, self.domain), signer is maker)
        self.model.orders.append(placed)
        self.env.outcomes["orders placed"] += 1
        return placed

    def fill(self, data: st.DataObject) -> None:
        picked = self._pick_order(data)
        if picked is None:
            return
        p, token_id = picked
        m, o = self.model, p.order
        remaining = o.amount - p.filled
        units = self._units(data, m.fillable(p, token_id, self.now + 1)[0], remaining, min(o.min_fill, remaining))
        taker = self._taker(data, o)
        trial = copy.deepcopy(m)
        trial_p = trial.orders[m.orders.index(p)]
        expected, filled = self._predict_fill(trial, trial_p, units, token_id, taker.address)
        label = "fill (sell order)" if o.side == SELL else "fill (buy order)"
        if self._send(label, expected, lambda: self.env.exchange.fill(o.as_struct(), p.sig, units, token_id,
                                                                       sender=taker)):  # fmt: skip
            self._adopt(trial)
            self._count_fill("fill", trial_p, filled)
            if filled < units:
                self.env.outcomes["fill: capped at what remains"] += 1

    def fill_dead(self, data: st.DataObject) -> None:
        """A fill of an order that can never fill again (cancelled, its counter passed, expired, or filled), as it
        would be filled live: by its taker, an id it takes, at least its minimum. The model refuses it too."""
        t = self.now + 1
        dead = [p for p in self.model.orders if self.model.dead(p, t) or p.filled == p.order.amount]
        if not dead:
            self.fill(data)
            return
        p = self._draw(data, st.sampled_from(dead), "order")
        o = p.order
        takes = [i for i in self.model.ids if not self.model.terms_error(o, i)] or self.model.ids
        token_id = self._draw(data, st.sampled_from(takes), "id")
        remaining = o.amount - p.filled
        units = max(min(o.min_fill, remaining), 1) if remaining else 1
        taker = self._taker(data, o, usual=True)
        trial = copy.deepcopy(self.model)
        expected, _ = self._predict_fill(
            trial, trial.orders[self.model.orders.index(p)], units, token_id, taker.address
        )
        assert expected, f"the model would fill a dead order: {p}"
        self._send("fill (dead order)", expected, lambda: self.env.exchange.fill(o.as_struct(), p.sig, units,
                                                                                token_id, sender=taker))  # fmt: skip

    def fill_many(self, data: st.DataObject) -> None:
        if not self.model.orders:
            return
        m = self.model
        taker = self._draw(data, st.sampled_from(self.env.traders), "taker")
        count = self._draw(data, st.sampled_from([2, 2, 2, 3, 1, 0]), "fills")
        plan: list[tuple[Placed, int]] = []
        for _ in range(count):
            if plan and self._draw(data, st.sampled_from([True, False, False]), "same order again"):
                plan.append(plan[-1])
            else:
                plan.append(self._pick_order(data, taker=taker.address, odds=9))
        # Now and then an order filled whole that is otherwise live (as after a front-run): its entry is skipped.
        done = [p for p in m.orders if p.filled == p.order.amount and not m.dead(p, self.now + 1)
                and p.order.taker in (ZERO_ADDRESS, taker.address) and p.order.maker != taker.address]  # fmt: skip
        if done and count and self._draw(data, st.sampled_from([False] * 2 + [True]), "a filled order too"):
            p = self._draw(data, st.sampled_from(done), "filled order")
            plan.insert(0, (p, p.order.token_id or self._draw(data, st.sampled_from(m.ids), "id")))
        picks: list[tuple[Placed, int, int]] = []
        for n, (p, token_id) in enumerate(plan):
            o = p.order
            taken = sum(u for q, u, _ in picks if q is p)  # by the fills before it in this call
            remaining = max(o.amount - p.filled - taken, 0)
            # What it can take now, shared with its later repeats in this call.
            share = max(self.model.fillable(p, token_id, self.now + 1)[0] - taken, 0)
            share //= sum(q is p for q, _ in plan[n:])
            units = self._units(data, share, remaining, min(o.min_fill, remaining), odds=8)
            picks.append((p, units, token_id))
        trial = copy.deepcopy(m)
        expected = "ExchangeNoFills" if not picks else None
        skipped = 0
        for p, units, token_id in picks:
            expected, filled = self._predict_fill(
                trial, trial.orders[m.orders.index(p)], units, token_id, taker.address, skip_if_done=True
            )
            if expected:
                break
            skipped += filled == 0
        twice = len({id(p) for p, _, _ in picks}) < len(picks)
        label = "fillMany (same order twice)" if twice else "fillMany"
        fills = [(p.order.as_tuple(), p.sig, units, token_id) for p, units, token_id in picks]
        if self._send(label, expected, lambda: self.env.exchange.fillMany(fills, sender=taker)):
            self._adopt(trial)
            for p, units, _ in picks:
                self._count_fill("fillMany entry", trial.orders[m.orders.index(p)], units)
            self.env.outcomes["fillMany entries skipped (nothing left)"] += skipped

    def match(self, data: st.DataObject) -> None:
        m, t = self.model, self.now + 1
        sells = [p for p in m.orders if p.order.side == SELL]
        buys = [p for p in m.orders if p.order.side == BUY]
        if not sells or not buys:
            return
        live = {id(p): u for p, _, u in self._live(t)}
        crossing = [
            (s, b)
            for s in sells
            for b in buys
            if id(s) in live
            and id(b) in live
            and s.order.maker != b.order.maker
            and s.order.price_per_unit <= b.order.price_per_unit
            and m.fillable(b, s.order.token_id, t)[0]
        ]
        pair = None
        if self._draw(data, st.sampled_from([True] * 6 + [False]), "crossing"):
            if crossing:
                pair = self._draw(data, st.sampled_from(crossing), "pair")
            elif len(m.orders) < MAX_ORDERS:
                # No crossing pair stands: a maker answers a live order first (no transaction), then the match.
                pair = self.answer_order(data)
        if pair:
            s, b = pair
        else:
            s = self._draw(data, st.sampled_from(sells), "sell")
            b = self._draw(data, st.sampled_from(buys), "buy")
        token_id = s.order.token_id
        if self._draw(data, st.sampled_from([False] * 9 + [True]), "other id"):
            token_id = self._draw(data, st.sampled_from(m.ids), "id")
        s_rem, b_rem = s.order.amount - s.filled, b.order.amount - b.filled
        fillable = min(m.fillable(s, token_id, t)[0], m.fillable(b, token_id, t)[0])
        minimum = max(min(s.order.min_fill, s_rem), min(b.order.min_fill, b_rem))
        units = self._units(data, fillable, min(s_rem, b_rem), minimum, odds=2)
        if self._draw(data, st.sampled_from([False] * 4 + [True]), "ask the larger remainder"):
            units = max(s_rem, b_rem) + 1  # capped at the smaller one
        trial = copy.deepcopy(m)
        ts, tb = (trial.orders[m.orders.index(x)] for x in (s, b))
        seller, buyer = s.order.maker, b.order.maker
        asked = units
        if s.order.price_per_unit > b.order.price_per_unit:
            expected = "ExchangeOrdersDoNotCross"
        else:
            # Capped at the smaller remainder (when both have some left), then each order booked as a fill.
            cap = min(s_rem, b_rem)
            if cap and units > cap:
                units = cap
            expected = trial.book(ts, units, token_id, buyer, t)[0] or trial.book(tb, units, token_id, seller, t)[0]
        if expected is None:
            # The resting order sets the price: the earlier listed, the sell order on a tie.
            price = b.order.price_per_unit if b.order.listed_at < s.order.listed_at else s.order.price_per_unit
            expected = trial.settle(seller, buyer, token_id, units, units * price)
        if expected is None:
            ts.filled += units
            tb.filled += units
        matcher = self._draw(data, st.sampled_from([self.env.keeper] * 3 + self.env.traders), "matcher")
        if self._send("matchOrders", expected, lambda: self.env.exchange.matchOrders(
            s.order.as_struct(), s.sig, b.order.as_struct(), b.sig, units, token_id, sender=matcher)):  # fmt: skip
            self._adopt(trial)
            for side, p in (("sell", ts), ("buy", tb)):
                self._count_fill(f"matchOrders {side} side", p, units)
            if units < asked:
                self.env.outcomes["matchOrders: capped at the smaller remainder"] += 1

    def cancel(self, data: st.DataObject) -> None:
        if not self.model.orders:
            return
        standing = [p for p in self.model.orders if not p.cancelled]
        cancelled = [p for p in self.model.orders if p.cancelled]
        again = not standing or (cancelled and self._draw(data, st.sampled_from([False] * 5 + [True]), "again"))
        p = self._draw(data, st.sampled_from(cancelled if again else standing), "order")
        self._cancel(data, p)

    def _cancel(self, data: st.DataObject, p: Placed) -> bool:
        caller = self.keys[p.order.maker]
        if self._draw(data, st.sampled_from([False] * 9 + [True]), "not the maker"):
            caller = self._draw(data, st.sampled_from([self.env.keeper, *self.env.traders]), "caller")
        expected = None
        if caller.address != p.order.maker:
            expected = "ExchangeCallerNotMaker"
        elif p.cancelled:
            expected = "ExchangeOrderCancelled"
        sent = self._send("cancel", expected, lambda: self.env.exchange.cancel(p.order.as_struct(), sender=caller))
        if sent:
            p.cancelled = True
        return sent

    def reprice(self, data: st.DataObject) -> None:
        """A maker moves a live order to another price: cancels it, signs the rest at the new price."""
        live = [p for p, _, _ in self._live(self.now + 1)]
        if not live:
            return
        p = self._draw(data, st.sampled_from(live), "order")
        if not self._cancel(data, p):
            return
        o = p.order
        factor = self._draw(data, st.sampled_from([0.5, 0.9, 1.1, 2.0]), "price factor")
        self.nonce += 1
        remaining = o.amount - p.filled
        order = o.replace(
            price_per_unit=int(o.price_per_unit * factor) + (factor > 1),
            amount=remaining,
            min_fill=min(o.min_fill, remaining),
            nonce=self.nonce,
        )
        self._add_order(data, order, self.keys[o.maker])
        self.env.outcomes["orders re-priced"] += 1

    def increment_counter(self, data: st.DataObject) -> None:
        maker = self._draw(data, st.sampled_from(self.env.traders), "maker")
        if self._send("incrementCounter", None, lambda: self.env.exchange.incrementCounter(sender=maker)):
            # The step: the previous block's hash in the high 128 bits, its lowest of them set (never zero).
            parent = self.env.chain.provider.web3.eth.get_block("latest")["parentHash"]
            step = (int.from_bytes(parent, "big") << 128 | 1 << 128) % 2**256
            self.model.counters[maker.address] = (self.model.counters[maker.address] + step) % 2**256

    def set_fee(self, data: st.DataObject) -> None:
        bps = self._draw(data, st.sampled_from([30, 150, 0, 1, 499, 500, 501]), "bps")
        recipient = self.env.fee_recipient.address
        if self._draw(data, st.sampled_from([False] * 5 + [True]), "zero recipient"):
            recipient = ZERO_ADDRESS
        invalid = bps > MAX_FEE_BPS or (bps and recipient == ZERO_ADDRESS)
        if self._send("setFee", "ExchangeInvalidFee" if invalid else None, lambda: self.env.exchange.setFee(
            bps, recipient, sender=self.env.admin)):  # fmt: skip
            self.model.fee_bps, self.model.recipient = bps, recipient

    def move_credits(self, data: st.DataObject) -> None:
        """A trader's credits move under its orders (to another trader or the keeper)."""
        m = self.model
        a = self._draw(data, st.sampled_from(self.env.traders), "from")
        b = self._draw(data, st.sampled_from([x for x in [*self.env.traders, self.env.keeper] if x != a]), "to")
        token_id = self._draw(data, st.sampled_from(m.ids), "id")
        held = m.credits[(a.address, token_id)]
        amount = self._draw(data, st.sampled_from([held, held // 2, min(held, 1), held + 1]), "amount")
        expected = "ERC1155InsufficientBalance" if amount > held else None
        if self._send("transfer credits", expected, lambda: self.env.credit.safeTransferFrom(
            a, b, token_id, amount, b"", sender=a)):  # fmt: skip
            m.credits[(a.address, token_id)] -= amount
            m.credits[(b.address, token_id)] += amount

    def move_cash(self, data: st.DataObject) -> None:
        m = self.model
        a = self._draw(data, st.sampled_from(self.env.traders), "from")
        b = self._draw(data, st.sampled_from([x for x in [*self.env.traders, self.env.keeper] if x != a]), "to")
        held = m.cash[a.address]
        amount = self._draw(data, st.sampled_from([held, held // 2, held - held // 10, 1_000]), "amount")
        expected = "ERC20InsufficientBalance" if amount > held else None
        if self._send("transfer cash", expected, lambda: self.env.usd.transfer(b, amount, sender=a)):
            m.cash[a.address] -= amount
            m.cash[b.address] += amount

    def change_approval(self, data: st.DataObject) -> None:
        """A trader withdraws or gives back its operator approval of the exchange, or sets a new allowance."""
        m = self.model
        a = self._draw(data, st.sampled_from(self.env.traders), "trader")
        if self._draw(data, st.booleans(), "credits"):
            approved = not m.approved[a.address] or self._draw(data, st.booleans(), "approve again")
            if self._send("setApprovalForAll", None, lambda: self.env.credit.setApprovalForAll(
                self.env.exchange, approved, sender=a)):  # fmt: skip
                m.approved[a.address] = approved
            return
        amount = self._draw(data, st.sampled_from([20_000, 0, 300_000, 999, MAX_UINT]), "allowance")
        if self._send("approve", None, lambda: self.env.usd.approve(self.env.exchange, amount, sender=a)):
            m.allowance[a.address] = amount

    def time_jump(self, data: st.DataObject) -> None:
        """Mines an empty block later: by a fixed step, or onto an order's boundary (so the next transaction lands
        on its expiry, or one second after it, or on its listing time, or one second before it)."""
        boundaries = [p.order.expiry - 1 for p in self.model.orders] + [p.order.expiry for p in self.model.orders]
        boundaries += [p.order.listed_at - d for p in self.model.orders for d in (1, 2)]
        boundaries = sorted({b for b in boundaries if b > self.now})
        if boundaries and self._draw(data, st.booleans(), "to a boundary"):
            t = self._draw(data, st.sampled_from(boundaries[:6]), "boundary")
        else:
            t = self.now + self._draw(data, st.sampled_from([5, 30, 120, 5, 30, 600, 3_600]), "seconds")
        self.env.chain.provider.make_request("evm_setNextBlockTimestamp", [t])
        self.env.chain.provider.make_request("anvil_mine", ["0x1"])
        self.now = self.env.chain.blocks.head.timestamp
        assert self.now == t, f"time jump: mined at {self.now}, the machine set {t}"
        self.env.outcomes["time jumps"] += 1

    # ------------------------------------------------------------------ invariants

    @invariant()
    def chain_matches_the_model(self) -> None:
        env, m, r = self.env, self.model, self.reads
        for n, p in enumerate(m.orders):
            r.add(("filled", n), env.exchange, "filledOf", p.hash)
            r.add(("cancelled", n), env.exchange, "cancelled", p.hash)
        holders = [*self.accounts, env.exchange]
        for a in holders:
            r.add(("cash", a.address), env.usd, "balanceOf", a.address)
            for token_id in m.ids:
                r.add(("credits", a.address, token_id), env.credit, "balanceOf", a.address, token_id)
        for a in env.traders:
            r.add(("counter", a.address), env.exchange, "counterOf", a.address)
            r.add(("allowance", a.address), env.usd, "allowance", a.address, env.exchange.address)
            r.add(("approved", a.address), env.credit, "isApprovedForAll", a.address, env.exchange.address)
        r.add("fee", env.exchange, "fee")
        got = r.execute()
        for n, p in enumerate(m.orders):
            filled = got[("filled", n)]
            assert filled == p.filled <= p.order.amount, f"order {n}: filled {filled}, model {p.filled}"
            assert got[("cancelled", n)] == p.cancelled, f"order {n}: cancelled {got[('cancelled', n)]}"
            # Nothing fills after a cancel, a counter raise or the expiry.
            if p.dead_at is not None:
                assert filled == p.dead_at, f"order {n} filled {filled - p.dead_at} units after it died"
            elif m.dead(p, self.now):
                p.dead_at = filled
        for a in holders:
            want = m.cash.get(a.address, 0)
            assert got[("cash", a.address)] == want, f"{a.address}: cash {got[('cash', a.address)]}, model {want}"
            for token_id in m.ids:
                want = m.credits.get((a.address, token_id), 0)
                have = got[("credits", a.address, token_id)]
                assert have == want, f"{a.address}: {have} of id {token_id}, model {want}"
        # Conservation: what was issued and minted is all with the traders, the keeper and the fee recipient.
        assert sum(got[("cash", a.address)] for a in self.accounts) == CASH * len(env.traders)
        for token_id in m.ids:
            assert sum(got[("credits", a.address, token_id)] for a in self.accounts) == HOLDING * len(env.traders)
        assert got[("cash", env.exchange.address)] == 0
        assert all(got[("credits", env.exchange.address, i)] == 0 for i in m.ids), "the exchange holds credits"
        for a in env.traders:
            assert got[("counter", a.address)] == m.counters[a.address], f"{a.address}: counter"
            assert got[("allowance", a.address)] == m.allowance[a.address], f"{a.address}: allowance"
            assert got[("approved", a.address)] == m.approved[a.address], f"{a.address}: operator approval"
        assert tuple(got["fee"]) == (m.fee_bps, m.recipient), f"fee {got['fee']}"

    @invariant()
    def fillable_matches_the_model(self) -> None:
        # Views run against the latest block, whose time is the machine's.
        r, m = self.reads, self.model
        checks = []
        for n, p in enumerate(m.orders):
            for token_id in m.ids:
                checks.append((n, token_id, m.fillable(p, token_id, self.now)))
                r.add((n, token_id), self.env.exchange, "fillable", p.order.as_tuple(), p.sig, token_id)
        got = r.execute()
        for n, token_id, want in checks:
            have = tuple(got[(n, token_id)])
            assert have == want, f"order {n} id {token_id}: fillable {have}, model {want} ({m.orders[n]})"
            units, reason = want
            self.env.views[f"{Limit(reason).name}{'' if units else ' (0 units)'}"] += 1


@pytest.fixture(scope="module")
def env(project, chain, accounts, open_suite, admin, registrar, verifier, issuer) -> Env:
    credit, registry = open_suite.credit, open_suite.registry
    # Fresh accounts (never used by another test): three traders, a keeper, the fee recipient.
    fresh = [accounts.generate_test_account() for _ in range(5)]
    for a in fresh:
        chain.set_balance(a, 10**21)
    traders, keeper, fee_recipient = fresh[:3], fresh[3], fresh[4]
    exchange = deploy_exchange(project, open_suite, admin)
    usd = project.TestStablecoin.deploy(sender=admin)
    make = Factory(registry, credit, registrar, verifier, issuer, traders[0])
    p1 = make.project()  # VCS, ID
    p2 = make.project(standard="GS", country=b"BR")
    batches = [(p1, 1, 1_000, None, 0, (2021, 2021)), (p1, 1_001, 2_000, Y2023, 1, (2023, 2023)),
               (p2, 1, 1_000, Y2022, 0, (2022, 2022))]  # fmt: skip
    ids, terms = [], {}
    for n, (project_id, first, last, period, prev, years) in enumerate(batches):
        spec = batch_input(first, last, ref=f"MKT-MACHINE-{project_id}-{n}")
        if period:
            spec = batch_input(first, last, ref=f"MKT-MACHINE-{project_id}-{n}", period=period)
        token_id = registry.addBatch(project_id, spec, prev, sender=registrar).return_value
        registry.verifyBatch(token_id, sender=verifier)
        ids.append(token_id)
        standard, country = (VCS, b"ID") if project_id == p1 else (GS, b"BR")
        terms[token_id] = IdTerms(project_id, *years, standard, country)
    for t in traders:
        for token_id in ids:
            credit.issue(token_id, t, HOLDING, ZERO_REF, sender=issuer)
        credit.setApprovalForAll(exchange, True, sender=t)
        usd.mint(t, CASH, sender=admin)
        usd.approve(exchange, MAX_UINT, sender=t)
    # A fee from the start (the sequences change it), so that most settlements pay one.
    exchange.setFee(30, fee_recipient, sender=admin)
    model = Model(ids=ids, terms=terms, fee_bps=30, recipient=fee_recipient.address)
    for a in fresh:
        m_cash = CASH if a in traders else 0
        model.cash[a.address] = m_cash
        model.allowance[a.address] = MAX_UINT if a in traders else 0
        model.approved[a.address] = a in traders
        model.counters[a.address] = 0
        for token_id in ids:
            model.credits[(a.address, token_id)] = HOLDING if a in traders else 0
    fast = FastSender(chain.provider.web3, exchange, credit, usd)
    suite = (registry, credit, open_suite.retirement, open_suite.compliance)
    return Env(
        reconciler=Reconciler(chain.provider.web3, [*suite, exchange]),
        chain=chain,
        credit=fast.wrap(credit),
        usd=fast.wrap(usd),
        exchange=fast.wrap(exchange),
        admin=admin,
        traders=traders,
        keeper=keeper,
        fee_recipient=fee_recipient,
        ids=ids,
        terms=terms,
        initial=model,
    )


# Outcomes every run must reach (" | ": either). The counts of all are printed first.
REQUIRED_OUTCOMES = (
    "fill: partial fill",
    "fill: completes the order",
    "fill (sell order): ok",
    "fill (buy order): ok",
    "fill (sell order): ExchangeOverfill | fill (buy order): ExchangeOverfill | fill (dead order): ExchangeOverfill",
    "fill: capped at what remains",
    "fill (sell order): ExchangeFillBelowMinimum | fill (buy order): ExchangeFillBelowMinimum"
    " | fillMany (same order twice): ExchangeFillBelowMinimum | fillMany: ExchangeFillBelowMinimum"
    " | matchOrders: ExchangeFillBelowMinimum",
    "fill (sell order): ExchangeOrderExpired | fill (buy order): ExchangeOrderExpired",
    "fill (sell order): ExchangeOrderCancelled | fill (buy order): ExchangeOrderCancelled"
    " | fill (dead order): ExchangeOrderCancelled",
    "fill (sell order): ExchangeStaleCounter | fill (buy order): ExchangeStaleCounter",
    "fillMany: ok",
    "fillMany (same order twice): ok",
    "fillMany entries skipped (nothing left)",
    "matchOrders: ok",
    "matchOrders sell side: partial fill",
    "matchOrders: ExchangeOrdersDoNotCross",
    "matchOrders: capped at the smaller remainder",
    "cancel: ok",
    "cancel: ExchangeOrderCancelled",
    "incrementCounter: ok",
    "setFee: ok",
    "settlements paying a fee",
    "orders re-priced",
)
REQUIRED_VIEWS = ("NONE", "MAKER_BALANCE_SHORT", "MAKER_APPROVAL_SHORT", "CRITERIA_NOT_MET", "FILLED", "EXPIRED")


def _report(env: Env) -> None:
    print(f"\nMarket machine: {env.steps['sequences']} sequences, {sum(env.steps.values()) - env.steps['sequences']}"
          " random steps")  # fmt: skip
    print("Steps by action:")
    for action, count in sorted(env.steps.items()):
        if action != "sequences":
            print(f"{count:6d}  {action}")
    print("Outcomes of the machine's transactions:")
    for outcome, count in sorted(env.outcomes.items()):
        print(f"{count:6d}  {outcome}")
    print("fillable views checked, by reason:")
    for reason, count in sorted(env.views.items()):
        print(f"{count:6d}  {reason}")


@pytest.mark.slow
def test_market__random_sequences__keep_invariants(env: Env) -> None:
    run_state_machine_as_test(lambda: MarketMachine(env), settings=MACHINE_SETTINGS)
    _report(env)
    print(env.reconciler.summary())
    missing = [o for o in REQUIRED_OUTCOMES if not any(env.outcomes[alt] for alt in o.split(" | "))]
    missing += [f"fillable: {v}" for v in REQUIRED_VIEWS if not any(k.split(" ")[0] == v for k in env.views)]
    assert not missing, f"the run never reached {missing}; widen the strategies or add examples"
