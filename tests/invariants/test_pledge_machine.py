"""Stateful property test of the credit facility and its oracle, against a Python model.

Hypothesis drives random sequences of position openings, pledges, borrows, repayments, withdrawals, price
moves, time jumps and liquidations on the real contracts (Anvil). Every transaction's time is chosen by the
machine (`chain.pending_timestamp`), so the model replays the facility's arithmetic exactly: the borrow index,
scaled debts, limits, seizures, rounding. Each outcome (success, or the exact custom error) is predicted by the
model first. After every step the invariants check, on-chain:

- the facility's credit balance of each id equals the sum pledged to its positions, and each position's ids,
  amounts and scaled debt equal the model's;
- totalScaledDebt equals the sum of scaled debts, and totalDebt <= the sum of the positions' debts, by less
  than one unit per position (rounding favours the facility);
- no healthy position is liquidatable (the `health` view agrees with the model's rule, and every liquidation
  of a healthy position in the run was refused with FacilityPositionHealthy); in liquidation a class with a
  stale price counts for zero (it never shields a position), while pledging it is refused (PriceStale);
- a position whose collateral reached zero has no debt: it was repaid, or the rest was recorded as bad debt
  (badDebt and cash equal the model's).

At the end of each sequence, the supervision index follows the suite's and the pledge module's contracts from their
deployment, and the state rebuilt from those events alone must reconcile with the chain with no alert
(``supervise_support.Reconciler``).

Every sequence opens with the same scripted steps (``open_with_every_required_outcome``: no draws, the model
predicts each outcome) that reach each outcome of ``REQUIRED_OUTCOMES`` at least once, so the coverage check does
not depend on what the derandomized sequences happen to reach. Runs are deterministic (``derandomize=True``).
For a deeper local run:
``TONNE_HYPOTHESIS_PROFILE=tonne-deep ape test tests/invariants/test_pledge_machine.py``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest
from ape.exceptions import ContractLogicError
from ape_ethereum.trace import Trace
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from supervise_support import Reconciler
from support import ZERO_REF, BatchedReads, Factory, FastRevert, FastSender
from tonne.pledge.deploy import deploy_pledge, grant_pledge_roles

settings.register_profile(
    "tonne-pledge-ci",
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "tonne-pledge-deep",
    parent=settings.get_profile("tonne-pledge-ci"),
    max_examples=200,
    stateful_step_count=60,
    derandomize=False,
)
_PROFILE = {"tonne-deep": "tonne-pledge-deep", "tonne-ci": "tonne-pledge-ci"}
MACHINE_SETTINGS = settings.get_profile(
    _PROFILE.get(os.environ.get("TONNE_HYPOTHESIS_PROFILE", "tonne-ci"), "tonne-pledge-ci")
)

RAY, BPS, UNITS, DAY, YEAR = 10**27, 10_000, 1000, 86_400, 365 * 86_400
USD = 10**6
RATE_BPS, CLOSE_FACTOR, BONUS, MAX_MOVE = 5_000, 5_000, 500, 2_000  # 50 % a year, so time jumps matter
MAX_AGE = DAY
# id index -> (LTV, threshold, starting price per tonne)
CLASSES = [(5_000, 7_000, 20 * USD), (6_000, 8_000, 10 * USD), (4_000, 6_000, 50 * USD)]
HOLDING = 200 * UNITS
LIQUIDITY = 50_000 * USD
MAX_POSITIONS = 6
MAX_INDEX = 2**128 - 1  # CreditFacility.MAX_INDEX: the borrow index saturates there


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# ---------------------------------------------------------------------------------------------- model


@dataclass
class Position:
    owner: str
    maturity: int
    entries: list[list[int]] = field(default_factory=list)  # [id, amount], in the contract's slot order
    scaled: int = 0

    def amount(self, token_id: int) -> int:
        return next((a for i, a in self.entries if i == token_id), 0)

    def set_amount(self, token_id: int, amount: int) -> None:
        """Mirrors CreditFacility._setAmount: an emptied entry is replaced by the last one."""
        slot = next(n for n, (i, _) in enumerate(self.entries) if i == token_id)
        if amount:
            self.entries[slot][1] = amount
        else:
            self.entries[slot] = self.entries[-1]
            self.entries.pop()


@dataclass
class Model:
    ids: list[int]
    params: dict[int, tuple[int, int]]  # id -> (ltv, threshold)
    prices: dict[int, tuple[int, int]]  # id (its own class) -> (price, updatedAt)
    index: int
    last_accrual: int
    rate_per_second: int
    cash: int = LIQUIDITY
    bad_debt: int = 0
    positions: dict[int, Position] = field(default_factory=dict)
    balances: dict[tuple[str, int], int] = field(default_factory=dict)  # borrowers' credits

    def index_at(self, t: int) -> int:
        elapsed = t - self.last_accrual
        if elapsed == 0 or self.rate_per_second == 0:
            return self.index
        return min(self.index + ceil_div(self.index * self.rate_per_second * elapsed, RAY), MAX_INDEX)

    def accrue(self, t: int) -> int:
        self.index, self.last_accrual = self.index_at(t), t
        return self.index

    @staticmethod
    def debt(scaled: int, index: int) -> int:
        return ceil_div(scaled * index, RAY)

    def is_stale(self, token_id: int, t: int) -> bool:
        return t - self.prices[token_id][1] > MAX_AGE

    def assess(self, entries: list[list[int]], t: int, fresh: bool) -> tuple[str | None, int, int, bool]:
        """(stale error or None, borrow limit, liquidation limit, any stale), as CreditFacility._assess."""
        error, borrow, liquidation, _, stale = self.assess_all(entries, t, fresh)
        return error, borrow, liquidation, stale

    def assess_all(self, entries: list[list[int]], t: int, fresh: bool) -> tuple[str | None, int, int, int, bool]:
        """(stale error or None, borrow limit, liquidation limit, fresh liquidation limit, any stale): the fresh
        limit leaves stale classes out (they count for zero in liquidation)."""
        borrow = liquidation = fresh_liquidation = 0
        stale = False
        for token_id, amount in entries:
            ltv, threshold = self.params[token_id]
            price, _ = self.prices[token_id]
            is_stale = self.is_stale(token_id, t)
            if is_stale:
                if fresh:
                    return "PriceStale", 0, 0, 0, True
                stale = True
            value = amount * price // UNITS
            borrow += value * ltv // BPS
            limit = value * threshold // BPS
            liquidation += limit
            if not is_stale:
                fresh_liquidation += limit
        return None, borrow, liquidation, fresh_liquidation, stale


@dataclass
class Env:
    chain: Any
    credit: Any
    oracle: Any
    facility: Any
    usd: Any
    feeder: Any
    borrowers: list[Any]
    liquidator: Any
    ids: list[int]
    outcomes: Counter[str] = field(default_factory=Counter)
    reconciler: Reconciler | None = None  # the supervision index's reconciliation, once at the end of each run


def send_expecting(outcomes: Counter[str], label: str, expected: str | None, send: Callable[[], Any]) -> Any:
    """Sends; it must succeed when `expected` is None, else revert with exactly that custom error. Counts the
    outcome. The call trace ape-foundry prints for expected reverts is skipped."""
    if expected is None:
        receipt = send()
        outcomes[f"{label}: ok"] += 1
        return receipt
    try:
        with mock.patch.object(Trace, "show", lambda *_a, **_k: None):
            send()
    except (ContractLogicError, FastRevert) as err:
        name = getattr(err, "name", None) or repr(err)
        assert name == expected, f"{label}: reverted with {name} ({err}), the model expected {expected}"
        outcomes[f"{label}: {name}"] += 1
        return None
    raise AssertionError(f"{label}: succeeded, the model expected {expected}")


class Script:
    """Stands in for Hypothesis's data object in the opening steps: each draw returns the next value scripted
    for its label (a list is a queue, any other value repeats); the strategy is not drawn from. So the opening
    makes no draws, and the rules' own code (the model's prediction first, then the exact outcome) judges it."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = {k: list(v) if isinstance(v, list) else v for k, v in values.items()}

    def draw(self, _strategy: Any, label: str) -> Any:
        value = self.values[label]
        return value.pop(0) if isinstance(value, list) else value


class FacilityMachine(RuleBasedStateMachine):
    def __init__(self, env: Env) -> None:
        super().__init__()
        self.env = env
        self.snapshot = env.chain.snapshot()
        self.reads = BatchedReads(env.chain.provider.web3, env.facility, env.credit)
        f = env.facility
        self.now = env.chain.blocks.head.timestamp
        prices = {}
        for token_id in env.ids:
            p = env.oracle.priceOf(token_id)
            prices[token_id] = (p.price, p.updatedAt)
        self.model = Model(
            ids=list(env.ids),
            params={i: (CLASSES[n][0], CLASSES[n][1]) for n, i in enumerate(env.ids)},
            prices=prices,
            index=f.borrowIndex(),
            last_accrual=self.now,
            rate_per_second=ceil_div(RATE_BPS * RAY, BPS * YEAR),
        )
        # The facility's stored accrual: bring it to a known time, so that the model starts exact.
        self._at(1)
        accrued = _events(f.accrue(sender=env.feeder), f, "InterestAccrued")
        assert accrued, "the facility's index did not move in a second at a non-zero rate"
        self.now = env.chain.blocks.head.timestamp
        self.model.index, self.model.last_accrual = accrued[0]["index"], accrued[0]["timestamp"]
        self.base_positions = f.positionCount()
        self.model.cash = f.cash()
        self.model.bad_debt = f.badDebt()
        for b in env.borrowers:
            for token_id in env.ids:
                self.model.balances[(b.address, token_id)] = env.credit.balanceOf(b, token_id)
        self.accounts = {b.address: b for b in env.borrowers}

    def teardown(self) -> None:
        try:
            if self.env.reconciler is not None:
                self.env.reconciler.check()  # the state rebuilt from the run's events equals the chain's
        finally:  # a failed check leaves the chain as the next (shrinking) run expects it
            self.env.chain.restore(self.snapshot)

    # ------------------------------------------------------------------ helpers

    def _at(self, seconds: int) -> int:
        t = self.now + seconds
        self.env.chain.pending_timestamp = t
        return t

    def _send(self, label: str, expected: str | None, send: Callable[[], Any]) -> Any:
        try:
            return send_expecting(self.env.outcomes, label, expected, send)
        finally:
            self.now = self.env.chain.blocks.head.timestamp

    def _dt(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from([1, 1, 60, 3_600, 6 * 3_600]), label="seconds")

    def _position(self, data: st.DataObject, with_debt: bool = False) -> int | None:
        pool = [p for p, pos in self.model.positions.items() if pos.scaled or not with_debt]
        return data.draw(st.sampled_from(sorted(pool)), label="position") if pool else None

    # ------------------------------------------------------------------ rules

    def _entry(self, pid: int, token_id: int) -> list[int]:
        return next(list(e) for e in self.model.positions[pid].entries if e[0] == token_id)

    def _last_position(self) -> int:
        return max(self.model.positions)

    @initialize()
    def open_with_every_required_outcome(self) -> None:
        """Opens every sequence with the same scripted steps (no draws), through the rules' own code, so the
        model predicts each outcome: the random sequences reached dust closes, a stale class beside a fresh
        seized id, bad debt, a stale open and an unhealthy withdrawal too rarely to count on. Three positions:
        P1 (id0 and id1) borrows, repays, withdraws, is refused as healthy, then is liquidated with id1 stale
        and an offer above the maximum (capped); P2 (one unit of id1) is closed as dust after two falls; P3
        (id1, a week) is liquidated after maturity and a third fall, its rest recorded as bad debt."""
        b0, b1 = self.env.borrowers
        id0, id1, _ = self.model.ids

        def go(step: Callable[[Any], None], **values: Any) -> None:
            values = {k.replace("_", " "): v for k, v in values.items()}
            values.setdefault("seconds", 1)
            step(Script(values))

        def down() -> None:
            by = [price * MAX_MOVE // BPS for price, _ in (self.model.prices[i] for i in self.model.ids)]
            go(lambda d: self.move_price(d, force="market down"), by=by)

        # Opens: one unit more than held (refused), P1, P2, P3.
        go(self.open_position, owner=b0, ids=[[id0]], overdraw=[True], late=False, maturity=60 * DAY)
        go(
            self.open_position,
            owner=b0,
            ids=[[id0, id1]],
            overdraw=False,
            amount=[10_000, 20_000],
            late=False,
            maturity=60 * DAY,
        )
        p1 = self._last_position()
        go(self.open_position, owner=b1, ids=[[id1]], overdraw=False, amount=[1], late=False, maturity=60 * DAY)
        p2 = self._last_position()
        go(self.open_position, owner=b1, ids=[[id1]], overdraw=False, amount=[10_000], late=False, maturity=7 * DAY)
        p3 = self._last_position()
        # P1: limit $220. Above it (refused), then $200; P2 $0.0059 of $0.006; P3 $59 of $60.
        go(self.borrow, position=p1, borrow_kind="above", excess=1)
        go(self.borrow, position=p1, borrow_kind="within", amount=200 * USD)
        go(self.borrow, position=p2, borrow_kind="within", amount=5_900)
        go(self.borrow, position=p3, borrow_kind="within", amount=59 * USD)
        # P1 repays a part, then one unit more than it owes (refused).
        go(self.repay, position=p1, repay_kind="part", amount=USD)
        go(self.repay, position=p1, repay_kind="over", amount=USD)
        # P1 withdraws all its id1 with debt (refused: unhealthy), then one unit; repays all, withdraws a unit.
        go(self.withdraw, with_debt=True, position=p1, entry=[self._entry(p1, id1)], amount=20_000)
        go(self.withdraw, with_debt=True, position=p1, entry=[self._entry(p1, id1)], amount=1)
        go(self.repay, position=p1, repay_kind="max", amount=USD)
        go(self.withdraw, with_debt=False, position=p1, entry=[self._entry(p1, id1)], amount=1)
        # P1 borrows $190 again; its liquidation is refused (healthy); a price move beyond the bound is refused.
        go(self.borrow, position=p1, borrow_kind="within", amount=190 * USD)
        go(self.liquidate, unhealthy=False, debt=True, position=p1, entry=[self._entry(p1, id0)], repay_kind="max")
        go(self.move_price, move="too far", **{"class": id0}, up=True)
        # A day on, only id0 is posted: id1 is stale. Pledging it is refused, so is borrowing against it; the
        # liquidation of P1 seizing id0 values id1 at zero (P1 is unhealthy so), and the offer above the
        # maximum is capped.
        go(self.move_price, move="solo", **{"class": id0}, by=0, late=True)
        go(self.open_position, owner=b0, ids=[[id1]], overdraw=False, amount=[1], late=False, maturity=60 * DAY)
        go(self.borrow, position=p1, borrow_kind="within", amount=1)
        go(self.liquidate, unhealthy=True, position=p1, entry=[self._entry(p1, id0)], repay_kind="over")
        # Every class posted again; two market-wide falls: P2's debt buys less than its one unit (dust).
        go(self.move_price, move="refresh", **{"class": id0})
        down()
        down()
        go(self.liquidate, unhealthy=True, position=p2, entry=[self._entry(p2, id1)], repay_kind="max")
        # A week on P3 is matured; after a third fall its collateral is worth less than its debt: bad debt.
        go(self.time_jump, jump=7 * DAY + 1)
        down()
        go(self.liquidate, unhealthy=True, position=p3, entry=[self._entry(p3, id1)], repay_kind="max")

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        """One action, weighted by what the state allows: open a position first; then mostly borrow, repay,
        price moves (down more often than up, so that positions turn unhealthy and some run out of collateral)
        and liquidations; sometimes a withdrawal, a time jump, or another position."""
        positions = self.model.positions
        if not positions:
            self.open_position(data)
            return
        actions = (
            ["borrow"] * 3 + ["repay"] * 2 + ["price"] * 3 + ["liquidate"] * 3 + ["withdraw", "time"] + ["crash"] * 2
        )
        if len(positions) < MAX_POSITIONS:
            actions.append("open")
        action = data.draw(st.sampled_from(actions), label="action")
        {
            "open": self.open_position,
            "borrow": self.borrow,
            "repay": self.repay,
            "price": self.move_price,
            "liquidate": self.liquidate,
            "withdraw": self.withdraw,
            "time": self.time_jump,
            "crash": self.crash,
        }[action](data)

    def crash(self, data: st.DataObject) -> None:
        """Three market-wide falls of up to the bound in a row, then up to four liquidation attempts: enough for
        a position borrowed to its LTV to run out of collateral with debt left."""
        for _ in range(3):
            self.move_price(data, force="market down")
        for _ in range(data.draw(st.integers(1, 4), label="liquidations")):
            self.liquidate(data, after_crash=True)

    def open_position(self, data: st.DataObject) -> None:
        if len(self.model.positions) >= MAX_POSITIONS:
            return
        m = self.model
        owner = data.draw(st.sampled_from(self.env.borrowers), label="owner")
        ids = data.draw(st.lists(st.sampled_from(m.ids), min_size=1, max_size=3, unique=True), label="ids")
        amounts = []
        for token_id in ids:
            held = m.balances[(owner.address, token_id)]
            over = data.draw(st.sampled_from([False] * 9 + [True]), label="overdraw")
            amounts.append(held + 1 if over or held == 0 else data.draw(st.integers(1, held), label="amount"))
        # Sometimes a day late: no price was posted since, so the pledge is refused (PriceStale).
        late = data.draw(st.sampled_from([False] * 9 + [True]), label="late")
        t = self._at(MAX_AGE + 1 if late else self._dt(data))
        maturity = t + data.draw(st.sampled_from([7 * DAY, 60 * DAY, 60 * DAY]), label="maturity")
        expected = None
        if any(m.is_stale(token_id, t) for token_id in ids):
            # CreditFacility._pledge checks every id's price before the transfer.
            expected = "PriceStale"
        for token_id, amount in zip(ids, amounts, strict=True):
            if expected is None and amount > m.balances[(owner.address, token_id)]:
                expected = "ERC1155InsufficientBalance"
                break
        receipt = self._send(
            "openPosition",
            expected,
            lambda: self.env.facility.openPosition(maturity, ids, amounts, sender=owner),
        )
        if receipt is None:
            return
        pid = receipt.return_value
        pos = Position(owner.address, maturity)
        for token_id, amount in zip(ids, amounts, strict=True):
            pos.entries.append([token_id, amount])
            m.balances[(owner.address, token_id)] -= amount
        m.positions[pid] = pos

    def borrow(self, data: st.DataObject) -> None:
        pid = self._position(data)
        if pid is None:
            return
        m, pos = self.model, self.model.positions[pid]
        t = self._at(self._dt(data))
        index = m.index_at(t)
        _, limit, _, _ = m.assess(pos.entries, t, fresh=False)
        room = max(limit - m.debt(pos.scaled, index), 0)
        kind = data.draw(st.sampled_from(["within", "edge", "edge", "above"]), label="borrow kind")
        if kind == "within":
            amount = data.draw(st.integers(1, max(room, 1)), label="amount")
        elif kind == "edge":
            amount = max(room, 1)
        else:
            amount = room + data.draw(st.integers(1, 100 * USD), label="excess")
        expected, added = None, ceil_div(amount * RAY, index)
        if t >= pos.maturity:
            expected = "FacilityPositionMatured"
        elif amount > m.cash:
            expected = "FacilityInsufficientLiquidity"
        else:
            stale, limit, _, _ = m.assess(pos.entries, t, fresh=True)
            if stale:
                expected = stale
            elif m.debt(pos.scaled + added, index) > limit:
                expected = "FacilityBorrowExceedsLimit"
        owner = self.accounts[pos.owner]
        if self._send("borrow", expected, lambda: self.env.facility.borrow(pid, amount, sender=owner)) is None:
            return
        m.accrue(t)
        pos.scaled += added
        m.cash -= amount

    def repay(self, data: st.DataObject) -> None:
        pid = self._position(data, with_debt=True)
        if pid is None:
            return
        m, pos = self.model, self.model.positions[pid]
        t = self._at(self._dt(data))
        index = m.index_at(t)
        owed = m.debt(pos.scaled, index)
        kind = data.draw(st.sampled_from(["part", "all", "max", "max", "over"]), label="repay kind")
        amount = {
            "part": data.draw(st.integers(1, max(owed - 1, 1)), label="amount"),
            "all": owed,
            "max": 2**256 - 1,
            "over": owed + 1,
        }[kind]
        paid = owed if kind == "max" else amount
        expected = "FacilityRepayExceedsDebt" if paid > owed else None
        owner = self.accounts[pos.owner]
        if self._send(f"repay ({kind})", expected, lambda: self.env.facility.repay(pid, amount, sender=owner)) is None:
            return
        m.accrue(t)
        removed = pos.scaled if paid == owed else paid * RAY // index
        pos.scaled -= removed
        m.cash += paid

    def withdraw(self, data: st.DataObject) -> None:
        pid = self._position(data, with_debt=data.draw(st.booleans(), label="with debt"))
        if pid is None or not self.model.positions[pid].entries:
            return
        m, pos = self.model, self.model.positions[pid]
        token_id, pledged = data.draw(st.sampled_from(pos.entries), label="entry")
        amount = data.draw(st.sampled_from([1, 1, max(pledged // 10, 1), pledged, pledged + 1]), label="amount")
        t = self._at(self._dt(data))
        expected = None
        after = [list(e) for e in pos.entries]
        if amount > pledged:
            expected = "FacilityWithdrawExceedsCollateral"
        else:
            trial = Position(pos.owner, pos.maturity, after, pos.scaled)
            trial.set_amount(token_id, pledged - amount)
            if pos.scaled:
                debt = m.debt(pos.scaled, m.index_at(t))
                stale, limit, _, _ = m.assess(trial.entries, t, fresh=True)
                if stale:
                    expected = stale
                elif debt > limit:
                    expected = "FacilityWithdrawUnhealthy"
        owner = self.accounts[pos.owner]
        label = "withdraw" + (" (with debt)" if pos.scaled else "")
        if self._send(label, expected, lambda: self.env.facility.withdraw(pid, token_id, amount, sender=owner)) is None:
            return
        if pos.scaled:
            m.accrue(t)
        pos.set_amount(token_id, pledged - amount)
        m.balances[(pos.owner, token_id)] += amount

    def move_price(self, data: st.DataObject, force: str | None = None) -> None:
        """Mostly posts every class in one call (so all prices stay fresh): mostly a market-wide fall by up to the
        bound, so that positions turn unhealthy and some run out of collateral; else one class moves. Sometimes
        ("solo") only one class is posted, sometimes a day on, so that the others go stale while it stays fresh."""
        m = self.model
        kinds = ["market down"] * 3 + ["one down", "up", "refresh", "too far", "solo"]
        kind = force or data.draw(st.sampled_from(kinds), label="move")
        if kind == "solo":
            token_id = data.draw(st.sampled_from(m.ids), label="class")
            price = m.prices[token_id][0]
            price = max(price - data.draw(st.sampled_from([0, price * MAX_MOVE // BPS]), label="by"), 1)
            # Sometimes a day on: the other classes go stale while this one is fresh.
            late = data.draw(st.sampled_from([False, False, True]), label="late")
            t = self._at(MAX_AGE + 1 if late else self._dt(data))
            sent = self._send(
                "postPrices (one class)",
                None,
                lambda: self.env.oracle.postPrices([token_id], [price], [t], sender=self.env.feeder),
            )
            if sent is not None:
                m.prices[token_id] = (price, t)
            return
        moved = m.ids if kind == "market down" else [data.draw(st.sampled_from(m.ids), label="class")]
        prices = []
        for i in m.ids:
            price = m.prices[i][0]
            bound = price * MAX_MOVE // BPS
            if i not in moved or kind == "refresh":
                prices.append(price)
            elif kind in ("market down", "one down"):
                prices.append(max(price - data.draw(st.sampled_from([bound, bound, bound // 2]), label="by"), 1))
            elif kind == "up":
                prices.append(price + data.draw(st.integers(0, bound), label="up by"))
            else:
                prices.append(max(price + bound + 1 if data.draw(st.booleans(), label="up") else price - bound - 1, 1))
        t = self._at(self._dt(data))
        too_far = any(
            abs(p - m.prices[i][0]) * BPS > m.prices[i][0] * MAX_MOVE for i, p in zip(m.ids, prices, strict=True)
        )
        label = "postPrices (too far)" if kind == "too far" else "postPrices"
        sent = self._send(
            label,
            "PriceMoveTooLarge" if too_far else None,
            lambda: self.env.oracle.postPrices(m.ids, prices, [t] * len(m.ids), sender=self.env.feeder),
        )
        if sent is not None:
            for i, p in zip(m.ids, prices, strict=True):
                m.prices[i] = (p, t)

    def time_jump(self, data: st.DataObject) -> None:
        seconds = data.draw(st.sampled_from([3_600, DAY // 2, DAY // 2, DAY + 1, 10 * DAY]), label="jump")
        self.env.chain.mine(1, timestamp=self.now + seconds)
        self.now = self.env.chain.blocks.head.timestamp
        self.env.outcomes["time jump"] += 1

    def liquidate(self, data: st.DataObject, after_crash: bool = False) -> None:
        t_guess = self.now + 1
        unhealthy = [
            p
            for p, pos in sorted(self.model.positions.items())
            if pos.scaled and pos.entries and self._liquidatable(pos, t_guess)
        ]
        if unhealthy and (after_crash or data.draw(st.sampled_from([True, True, True, False]), label="unhealthy")):
            pid = data.draw(st.sampled_from(unhealthy), label="position")
        else:
            pid = self._position(data, with_debt=data.draw(st.sampled_from([True, True, True, False]), label="debt"))
        if pid is None or not self.model.positions[pid].entries:
            return
        m, pos = self.model, self.model.positions[pid]
        token_id, pledged = data.draw(st.sampled_from(pos.entries), label="entry")
        t = self._at(self._dt(data))
        index = m.index_at(t)
        debt = m.debt(pos.scaled, index)
        matured = t >= pos.maturity
        price, _ = m.prices[token_id]
        premium = BPS + BONUS
        # Dust (the whole debt buys less than one unit of the id) may be closed at once, else the close factor.
        dust = debt * premium * UNITS // (BPS * price) == 0
        max_repay = debt if matured or dust else ceil_div(debt * CLOSE_FACTOR, BPS)
        kinds = ["max", "max", "over"] if after_crash else ["max", "half", "over"]
        kind = data.draw(st.sampled_from(kinds), label="repay kind")
        repay = {"max": max_repay, "half": max(max_repay // 2, 1), "over": max_repay + 1}[kind]
        expected = None
        _, _, limit, fresh_limit, any_stale = m.assess_all(pos.entries, t, fresh=False)
        if repay == 0:
            expected = "FacilityZeroAmount"
        elif debt == 0:
            expected = "FacilityNoDebt"
        elif m.is_stale(token_id, t):
            expected = "PriceStale"  # the seized id itself needs a fresh price
        elif not matured and debt <= fresh_limit:
            expected = "FacilityPositionHealthy"
        seized = repaid = 0
        offered, closed_dust = repay, False
        if expected is None:
            repay = min(repay, max_repay)  # capped, not refused
            seized, repaid = repay * premium * UNITS // (BPS * price), repay
            closed_dust = seized == 0 and repay == debt
            if closed_dust:
                seized = 1
            if seized >= pledged:
                seized = pledged
                repaid = min(repay, ceil_div(pledged * price * BPS, UNITS * premium))
            if seized == 0:
                expected = "FacilityNothingToSeize"
        liquidator = self.env.liquidator
        label = "liquidate" + (" (matured)" if matured else "")
        receipt = self._send(
            label, expected, lambda: self.env.facility.liquidate(pid, token_id, offered, sender=liquidator)
        )
        if receipt is None:
            return
        if offered > max_repay:
            self.env.outcomes["liquidate: offer above the maximum capped"] += 1
        if closed_dust:
            self.env.outcomes["liquidate: dust closed for one unit"] += 1
        if not matured and any_stale:
            self.env.outcomes["liquidate: stale class valued at zero"] += 1
            if debt <= limit:
                self.env.outcomes["liquidate: stale class valued at zero (it would have shielded)"] += 1
        bad_before = m.bad_debt
        m.accrue(t)
        pos.set_amount(token_id, pledged - seized)
        pos.scaled -= pos.scaled if repaid == debt else repaid * RAY // index
        m.cash += repaid
        if not pos.entries and pos.scaled:
            m.bad_debt += m.debt(pos.scaled, index)
            pos.scaled = 0
            self.env.outcomes["liquidate: bad debt recorded"] += 1
        recorded = [e["amount"] for e in _events(receipt, self.env.facility, "BadDebtRecorded")]
        assert recorded == ([m.bad_debt - bad_before] if m.bad_debt != bad_before else []), recorded

    def _liquidatable(self, pos: Position, t: int) -> bool:
        m = self.model
        if t >= pos.maturity:
            return True
        _, _, _, fresh_limit, _ = m.assess_all(pos.entries, t, fresh=False)
        return m.debt(pos.scaled, m.index_at(t)) > fresh_limit

    # ------------------------------------------------------------------ invariants

    @invariant()
    def books_match_the_model(self) -> None:
        env, m, reads = self.env, self.model, self.reads
        f = env.facility
        pids = sorted(m.positions)
        for pid in pids:
            reads.add(("position", pid), f, "position", pid)
        for token_id in m.ids:
            reads.add(("held", token_id), env.credit, "balanceOf", f, token_id)
        for name in ("totalScaledDebt", "cash", "badDebt"):
            reads.add(name, f, name)
        state = reads.execute()
        views = {pid: state[("position", pid)] for pid in pids}
        held: Counter[int] = Counter()
        for pid, pos in m.positions.items():
            v = views[pid]
            assert [[i, a] for i, a in zip(v.ids, v.amounts, strict=True)] == pos.entries, f"position {pid} entries"
            assert v.scaledDebt == pos.scaled, f"position {pid}: scaled {v.scaledDebt}, model {pos.scaled}"
            if not pos.entries:
                assert v.scaledDebt == 0, f"position {pid} has no collateral but debt {v.debt}: bad debt hidden"
            for token_id, amount in pos.entries:
                held[token_id] += amount
        for token_id in m.ids:
            assert state[("held", token_id)] == held[token_id], f"facility balance of {token_id}"
        assert state["totalScaledDebt"] == sum(p.scaled for p in m.positions.values())
        assert state["cash"] == m.cash and state["badDebt"] == m.bad_debt

    @invariant()
    def total_debt_within_rounding_and_no_healthy_position_liquidatable(self) -> None:
        f, reads = self.env.facility, self.reads
        pids = sorted(self.model.positions)
        if not pids:
            return
        reads.add("health", f, "healthMany", pids)  # one call: one block time for every figure
        reads.add("totalDebt", f, "totalDebt")
        state = reads.execute()  # one batch, so one head block for both reads
        health, total = state["health"], state["totalDebt"]
        debts = sum(h.debt for h in health)
        assert 0 <= debts - total <= len(pids), f"total debt {total}, positions owe {debts}"
        m = self.model
        for pid, h in zip(pids, health, strict=True):
            # The view's time is the head block's: stale classes count for zero in the liquidation test.
            _, _, limit, fresh_limit, any_stale = m.assess_all(m.positions[pid].entries, self.now, fresh=False)
            assert (h.liquidationLimit, h.stale) == (limit, any_stale), f"position {pid}: {h}"
            if not h.stale:
                assert fresh_limit == h.liquidationLimit
            healthy = h.debt == 0 or (not h.matured and h.debt <= fresh_limit)
            if healthy:
                assert not h.liquidatable, f"position {pid} is healthy yet liquidatable: {h}"
            expected = h.debt != 0 and (h.matured or h.debt > fresh_limit)
            assert h.liquidatable == expected, f"position {pid}: {h}"


def _events(receipt: Any, contract: Any, name: str) -> list[dict]:
    """The arguments of every `name` event `contract` emitted in `receipt` (a `support.FastReceipt`)."""
    return [vars(e) for e in receipt.decode_logs(getattr(contract, name))]


REQUIRED_OUTCOMES = (
    "openPosition: ok",
    "openPosition: ERC1155InsufficientBalance",
    "openPosition: PriceStale",
    "borrow: ok",
    "borrow: FacilityBorrowExceedsLimit",
    "borrow: PriceStale",
    "repay (part): ok",
    "repay (max): ok",
    "repay (over): FacilityRepayExceedsDebt",
    "withdraw: ok",
    "withdraw (with debt): ok",
    "withdraw (with debt): FacilityWithdrawUnhealthy",
    "postPrices: ok",
    "postPrices (too far): PriceMoveTooLarge",
    "liquidate: ok | liquidate (matured): ok",
    "liquidate: FacilityPositionHealthy",
    "liquidate: offer above the maximum capped",
    "liquidate: dust closed for one unit",
    "liquidate: stale class valued at zero",
    "liquidate: bad debt recorded",
)


@pytest.fixture(scope="module")
def env(project, chain, open_suite, admin, registrar, verifier, issuer, accounts) -> Env:
    credit, registry = open_suite.credit, open_suite.registry
    liquidator, feeder, lender = accounts[7], accounts[8], accounts[9]
    pair = [accounts[6], accounts[5]]  # two borrowers
    contracts = deploy_pledge(
        project,
        credit,
        admin,
        annual_rate_bps=RATE_BPS,
        close_factor_bps=CLOSE_FACTOR,
        bonus_bps=BONUS,
        max_move_bps=MAX_MOVE,
    )
    grant_pledge_roles(contracts, lenders=[lender], feeders=[feeder], sender=admin)
    f, usd = contracts.facility, contracts.loan_token
    make = Factory(registry, credit, registrar, verifier, issuer, pair[0])
    project_id = make.project()
    ids = [make.batch(project_id, n * 1_000 + 1, n * 1_000 + 1_000, prev=n) for n in range(len(CLASSES))]
    at = chain.blocks.head.timestamp + 1
    chain.pending_timestamp = at
    contracts.oracle.postPrices(ids, [c[2] for c in CLASSES], [at] * len(ids), sender=feeder)
    for token_id, (ltv, threshold, _) in zip(ids, CLASSES, strict=True):
        f.setClassParams(token_id, ltv, threshold, MAX_AGE, sender=admin)
        for b in pair:
            credit.issue(token_id, b, HOLDING, ZERO_REF, sender=issuer)
    for b in pair:
        credit.setApprovalForAll(f, True, sender=b)
        usd.mint(b, 10**15, sender=b)
        usd.approve(f, 2**256 - 1, sender=b)
    for account in (liquidator, lender):
        usd.mint(account, 10**15, sender=account)
        usd.approve(f, 2**256 - 1, sender=account)
    f.supplyLiquidity(LIQUIDITY, sender=lender)
    # The machine's own transactions go through FastSender (see support); the set-up above is ape's.
    fast = FastSender(chain.provider.web3, f, contracts.oracle, credit, usd)
    suite = (registry, credit, open_suite.retirement, open_suite.compliance)
    reconciler = Reconciler(chain.provider.web3, [*suite, f, contracts.oracle, contracts.bilateral])
    return Env(
        chain,
        credit,
        fast.wrap(contracts.oracle),
        fast.wrap(f),
        usd,
        feeder,
        pair,
        liquidator,
        ids,
        reconciler=reconciler,
    )


@pytest.mark.slow
def test_facility__random_sequences__keep_invariants(env: Env) -> None:
    run_state_machine_as_test(lambda: FacilityMachine(env), settings=MACHINE_SETTINGS)
    print(f"\n{env.reconciler.summary()}")
    print("\nOutcomes of the machine's transactions:")
    for outcome, count in sorted(env.outcomes.items()):
        print(f"{count:6d}  {outcome}")
    missing = [o for o in REQUIRED_OUTCOMES if not any(env.outcomes[alt] for alt in o.split(" | "))]
    assert not missing, f"the run never reached {missing}; widen the strategies or add examples"
