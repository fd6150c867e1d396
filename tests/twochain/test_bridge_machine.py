"""Stateful property test of the bridge on two chains, against a Python model.

Hypothesis drives random sequences of: locks at home (some to the mirror token itself, which cannot receive: the
remote bridge returns them, and the RETURN gives the credits back at home) and burns on the remote side by two
holders, of two ids;
validators attesting (each one on its own schedule); the relayer delivering a few messages at a time; a rogue
relayer delivering a random pending message out of order; replays of delivered messages; remote retirements;
and relayer restarts, some of them "killed" right after sending a delivery and before recording it.

After every step:
- per id, home locked = remote supply + remote retired + in flight (the audit), and equals the model;
- every holder's balance on both chains equals the model's;
- no message is lost (each one sent is either in flight or delivered) and none is applied twice (at most one
  MessageDelivered per id, and each delivered message's effect counted once in the model).
At the end every message is delivered (the relayer drains the backlog).
"""

from __future__ import annotations

import itertools
import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tonne.bridge.attest import attest_once, key_signer
from tonne.bridge.audit import audit
from tonne.bridge.deploy import transact
from tonne.bridge.messages import LOCK, RETURN, Transfer
from tonne.bridge.relay import Relayer
from tonne.bridge.store import Store
from tonne.bridge.watch import sent_messages

settings.register_profile(
    "tonne-bridge-ci",
    max_examples=12,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "tonne-bridge-deep", parent=settings.get_profile("tonne-bridge-ci"), max_examples=60, derandomize=False
)
MACHINE_SETTINGS = settings.get_profile(os.environ.get("TONNE_BRIDGE_HYPOTHESIS_PROFILE", "tonne-bridge-ci"))
# What the runs reached, checked at the end: a machine that never relays or never restarts proves nothing.
REACHED: Counter = Counter()
_SEQUENCES = itertools.count()


class Killed(Exception):
    pass


def snapshot(w3):
    return w3.provider.make_request("evm_snapshot", [])["result"]


def revert(w3, snap):
    assert w3.provider.make_request("evm_revert", [snap])["result"] is True


class BridgeMachine(RuleBasedStateMachine):
    def __init__(self, tc, ids, tmp):
        super().__init__()
        self.tc = tc
        self.ids = ids
        self.holders = [tc.holder, tc.stranger]
        self.snaps = [snapshot(tc.home.w3), snapshot(tc.remote.w3)]
        # A fresh store per sequence: the chains are reverted between sequences, so old cursors would be wrong.
        self.store = Store(tmp / f"store-{next(_SEQUENCES)}.sqlite")
        self.home_bal = {(h, i): tc.home.token.functions.balanceOf(h, i).call() for h in self.holders for i in ids}
        self.remote_bal = Counter()
        self.locked = Counter()
        self.retired = Counter()
        self.sent = {}  # message id -> Sent
        self.applied = set()  # message ids whose effect the model has booked
        self.kill_next = False

    def teardown(self):
        self.store.close()
        revert(self.tc.home.w3, self.snaps[0])
        revert(self.tc.remote.w3, self.snaps[1])

    # The first sequence of a run opens with one round trip, without draws: a lock delivered, a remote retirement
    # and a burn home. The derandomized sequences shift with the chain's state, and one proof run never retired
    # remotely; the random steps then go on from there, and the model judges every outcome as before.
    opened = False

    @initialize()
    def open_with_a_round_trip(self):
        if type(self).opened:
            return
        type(self).opened = True
        self.lock(holder=0, which=0, amount=1_000)  # 1,000 % 7 != 0: a deliverable recipient
        self.drain()
        self.retire_remotely(holder=0, which=0, amount=100)
        self.burn(holder=0, which=0, amount=100, to=0)

    # ------------------------------------------------------------------ sends

    @rule(holder=st.integers(0, 1), which=st.integers(0, 1), amount=st.integers(1, 3_000))
    def lock(self, holder, which, amount):
        h, token_id = self.holders[holder], self.ids[which]
        if self.home_bal[(h, token_id)] < amount:
            return
        # One lock in seven goes to the mirror token itself, an undeliverable recipient (chosen from the amount
        # rather than by a strategy of its own, so that the derandomized runs draw the same steps as before).
        recipient = self.tc.remote.token.address if amount % 7 == 0 else h
        sent = self.tc.lock(token_id, amount, to=recipient, sender=h)
        self.home_bal[(h, token_id)] -= amount
        self.locked[token_id] += amount
        self.sent[sent.id] = sent

    @rule(holder=st.integers(0, 1), which=st.integers(0, 1), amount=st.integers(1, 3_000), to=st.integers(0, 1))
    def burn(self, holder, which, amount, to):
        h, token_id = self.holders[holder], self.ids[which]
        if self.remote_bal[(h, token_id)] < amount:
            return
        sent = self.tc.burn(token_id, amount, to=self.holders[to], sender=h)
        REACHED["burns"] += 1
        self.remote_bal[(h, token_id)] -= amount
        self.sent[sent.id] = sent

    @rule(holder=st.integers(0, 1), which=st.integers(0, 1), amount=st.integers(1, 500))
    def retire_remotely(self, holder, which, amount):
        h, token_id = self.holders[holder], self.ids[which]
        if self.remote_bal[(h, token_id)] < amount:
            return
        transact(self.tc.remote.w3, self.tc.remote.token.functions.retire(token_id, amount, "b", "r"), h)
        REACHED["remote retirements"] += 1
        self.remote_bal[(h, token_id)] -= amount
        self.retired[token_id] += amount

    # ------------------------------------------------------------------ validators and relayers

    @precondition(lambda self: self.sent)
    @rule(validators=st.sets(st.integers(0, 2), min_size=1))
    def attest(self, validators):
        for v in sorted(validators):
            attest_once(self.tc.pair, key_signer(self.tc.keys[v]), self.store)

    @precondition(lambda self: len(self.applied) < len(self.sent))
    @rule(budget=st.integers(1, 4), batch=st.sampled_from([1, 2, 50]))
    def relay_some(self, budget, batch):
        on_sent = None
        if self.kill_next:
            self.kill_next = False

            def on_sent(_):
                raise Killed

        try:
            relayer = Relayer(self.tc.pair, self.store, self.tc.relayer, on_sent=on_sent, batch=batch)
            result = relayer.relay_once(limit=budget)
            REACHED["relayed"] += result.sent
            REACHED["found done by the relayer"] += result.already
        except Killed:
            REACHED["relayer killed after sending"] += 1
        self.book_deliveries()

    @precondition(lambda self: not self.kill_next and len(self.applied) < len(self.sent))
    @rule()
    def arm_kill(self):
        self.kill_next = True

    @precondition(lambda self: len(self.applied) < len(self.sent))
    @rule(data=st.data())
    def rogue_delivery_out_of_order(self, data):
        pending = [s for mid, s in sorted(self.sent.items()) if mid not in self.applied]
        if not pending:
            return
        sent = data.draw(st.sampled_from(pending))
        refused = self.tc.refused(self.tc.deliver_call(sent), self.tc.destination(sent))
        if refused is None:
            self.tc.deliver(sent)
            REACHED["delivered out of order"] += 1
        else:  # only the rate limit could refuse an honest message here, and limits are high
            assert refused[0] == "GatewayMessageAlreadyProcessed", refused
        self.book_deliveries()

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def rogue_batch(self, data):
        """Someone else delivers a batch of their choosing to one chain: any messages, repeated, delivered or not.
        It never reverts; each message is delivered at most once, the rest reported."""
        dest = data.draw(st.sampled_from([self.tc.home, self.tc.remote]))
        mine = [s for _, s in sorted(self.sent.items()) if s.destination_chain_id == dest.chain_id]
        done = [s for s in mine if s.id in self.applied]
        # Mostly replays, and at most one new message (repeated), so that the relayer keeps work to do.
        batch = data.draw(st.lists(st.sampled_from(done), max_size=3)) if done else []
        fresh = [s for s in mine if s.id not in self.applied]
        if fresh and data.draw(st.booleans()):
            new = data.draw(st.sampled_from(fresh))
            batch += [new] * data.draw(st.integers(1, 2))
        if not batch:
            return
        batch = data.draw(st.permutations(batch))
        call = dest.gateway.functions.deliverBatch(
            [s.message.as_tuple() for s in batch], [self.tc.sign(s) for s in batch], 600_000
        )
        receipt = transact(dest.w3, call, self.tc.stranger)
        delivered = [
            bytes(e["args"]["messageId"]) for e in dest.gateway.events.MessageDelivered().process_receipt(receipt)
        ]
        assert len(delivered) == len(set(delivered)) and not set(delivered) & self.applied
        REACHED["delivered by a rogue batch"] += len(delivered)
        self.book_deliveries()

    @precondition(lambda self: self.applied)
    @rule(data=st.data())
    def replay(self, data):
        mid = data.draw(st.sampled_from(sorted(self.applied)))
        REACHED["replays refused"] += 1
        sent = self.sent[mid]
        assert self.tc.refused(self.tc.deliver_call(sent), self.tc.destination(sent)) == (
            "GatewayMessageAlreadyProcessed",
            {"messageId": mid},
        )

    # ------------------------------------------------------------------ model

    def book_deliveries(self):
        for mid, sent in list(self.sent.items()):  # a refused lock adds its RETURN
            if mid in self.applied:
                continue
            if not self.tc.destination(sent).gateway.functions.isProcessed(mid).call():
                continue
            self.applied.add(mid)
            t = Transfer.decode(sent.message.payload)
            homeward = sent.destination_chain_id == self.tc.home.chain_id
            if t.kind == LOCK and t.to == self.tc.remote.token.address:
                self.adopt_return(mid)  # refused: nothing minted, a RETURN is on its way home
            elif not homeward:  # a lock minted, or a refused burn's RETURN re-minted
                self.remote_bal[(t.to, t.token_id)] += t.amount
            else:  # a burn released, or a refused lock's RETURN released
                self.home_bal[(t.to, t.token_id)] += t.amount
                self.locked[t.token_id] -= t.amount

    def adopt_return(self, mid):
        """The RETURN the remote bridge sent for refused lock ``mid``: a message like any other from now on."""
        (sent,) = [
            s
            for s in sent_messages(self.tc.remote, self.tc.remote.start_block)
            if Transfer.decode(s.message.payload).kind == RETURN and Transfer.decode(s.message.payload).returned == mid
        ]
        REACHED["returns"] += 1
        self.sent[sent.id] = sent

    @invariant()
    def books_balance_and_match_the_model(self):
        self.book_deliveries()
        report = audit(self.tc.pair)
        assert report.ok, report.render()
        for books in report.ids:
            assert books.locked == self.locked[books.token_id]
            assert books.remote_retired == self.retired[books.token_id]
        for h in self.holders:
            for i in self.ids:
                assert self.tc.home.token.functions.balanceOf(h, i).call() == self.home_bal[(h, i)]
                assert self.tc.remote.token.functions.balanceOf(h, i).call() == self.remote_bal[(h, i)]

    @invariant()
    def no_message_lost_or_applied_twice(self):
        counts = Counter()
        for side in (self.tc.home, self.tc.remote):
            for log in side.gateway.events.MessageDelivered.get_logs(from_block=side.start_block):
                counts[bytes(log["args"]["messageId"])] += 1
        assert all(n == 1 for n in counts.values()), counts
        assert set(counts) == self.applied
        assert self.applied <= set(self.sent)

    def drain(self):
        for _ in range(2):  # twice: a lock refused in the first round sends a RETURN, delivered in the second
            for v in range(2):
                attest_once(self.tc.pair, key_signer(self.tc.keys[v]), self.store)
            Relayer(self.tc.pair, self.store, self.tc.relayer).relay_once()
            self.book_deliveries()
        assert self.applied == set(self.sent), "a message was lost"


@pytest.mark.slow
def test_bridge_machine__random_sends_relays_and_restarts__books_always_balance(tc, tmp_path):
    ids = [tc.issue(20, to=tc.holder) for _ in range(2)]
    for token_id in ids:
        transact(
            tc.home.w3,
            tc.home.token.functions.safeTransferFrom(tc.holder, tc.stranger, token_id, 10_000, b""),
            tc.holder,
        )

    class Machine(BridgeMachine):
        def __init__(self):
            super().__init__(tc, ids, tmp_path)

        def teardown(self):
            try:
                self.drain()
                self.books_balance_and_match_the_model()
                self.no_message_lost_or_applied_twice()
            finally:
                super().teardown()

    REACHED.clear()
    BridgeMachine.opened = False
    run_state_machine_as_test(Machine, settings=MACHINE_SETTINGS)
    missing = [
        outcome
        for outcome in (
            "relayed",
            "found done by the relayer",
            "relayer killed after sending",
            "delivered out of order",
            "replays refused",
            "burns",
            "remote retirements",
            "returns",
        )
        if REACHED[outcome] == 0
    ]
    assert not missing, f"the runs never reached {missing}: {dict(REACHED)}"
