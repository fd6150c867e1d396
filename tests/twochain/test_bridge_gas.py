"""Bridge gas is deterministic on fresh chains: the main figures are pinned within 2%.

A change that moves a figure past the tolerance must update the pin here and the bench/README figures together.
"""

from __future__ import annotations

import pytest

from tonne.bridge.gas import measure_bridge_gas
from tonne.bridge.watch import connect
from tonne.core.localchain import plain_anvil

PINNED = {
    "bridge lock-and-send (first of id)": 253_935,
    "bridge lock-and-send (warm id)": 165_315,
    "bridge burn-and-send home (return)": 111_048,
    "bridge sync rules, 1 account": 95_366,
    "bridge deliver rules, 1 account, M=2/N=3": 116_722,
    "bridge deliver lock, mint first of id, M=2/N=3": 347_595,
    "bridge deliver lock, mint warm id, M=2/N=3": 150_636,
    "bridge deliver burn, release (return), M=2/N=3": 144_390,
    "bridge deliver lock, mint first of id, M=5/N=7": 369_834,
    "bridge deliver lock, mint warm id, M=5/N=7": 172_875,
    "bridge deliver burn, release (return), M=5/N=7": 166_629,
    "bridge deliver lock, refused and returned, M=2/N=3": 205_133,
    "bridge deliver return, release to sender, M=2/N=3": 117_485,
    "bridge deliverBatch lock, mint warm id, M=2/N=3, per message, batch of 1": 154_617,
    "bridge deliverBatch lock, mint warm id, M=2/N=3, per message, batch of 10": 83_313,
    "bridge deliverBatch lock, mint warm id, M=2/N=3, per message, batch of 50": 77_379,
}
TOLERANCE = 0.02


@pytest.fixture(scope="module")
def gas():
    # Chains of their own: the shared two-chain fixture's snapshots would not disturb gas, but fresh chains keep
    # every first-write (zero -> non-zero) the same from run to run.
    with plain_anvil(chain_id=7_101) as (home_url, _), plain_anvil(chain_id=7_102) as (remote_url, _):
        yield measure_bridge_gas(connect(home_url), connect(remote_url))


@pytest.mark.parametrize(("operation", "pinned"), sorted(PINNED.items()))
def test_bridge_gas__operation__stays_within_tolerance_of_pin(gas, operation, pinned):
    measured = gas[operation]
    assert abs(measured - pinned) <= pinned * TOLERANCE, f"{operation}: {measured} gas, pinned {pinned}"


def test_bridge_gas__batch_of_50__at_most_six_tenths_of_a_single_delivery_per_message(gas):
    single = gas["bridge deliver lock, mint warm id, M=2/N=3"]
    batched = gas["bridge deliverBatch lock, mint warm id, M=2/N=3, per message, batch of 50"]
    assert batched <= 0.6 * single, (batched, single)


def test_bridge_gas__each_extra_signature__costs_the_same(gas):
    # Three more signatures (5 of 7 against 2 of 3) add the same amount to every delivery, up to calldata bytes
    # that happen to be zero: no loop over the validator set, one ecrecover and one validator lookup per signature.
    extra = {
        kind: gas[f"bridge deliver {kind}, M=5/N=7"] - gas[f"bridge deliver {kind}, M=2/N=3"]
        for kind in ("lock, mint first of id", "lock, mint warm id", "burn, release (return)")
    }
    assert max(extra.values()) - min(extra.values()) < 100, extra
    per_signature = next(iter(extra.values())) / 3
    assert 6_000 < per_signature < 9_000, per_signature
