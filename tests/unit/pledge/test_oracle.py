"""CreditPriceOracle: posting, the move bound, observation times, classes, and their exact refusals."""

from __future__ import annotations

import pytest

from pledge_support import PRICE_A, PRICE_B, USD
from support import events, plain, reverts
from tonne.core.ids import encode_id

pytestmark = pytest.mark.usefixtures("world")

VINTAGE_FLAG = 1 << 255


def vintage_class(project_id: int, year: int) -> int:
    return VINTAGE_FLAG | (project_id << 64) | year


def test_post__within_bound__stored_with_observation_time_and_event(world):
    at = world.tick()
    new = PRICE_A * 12 // 10  # +20 %, exactly the bound
    receipt = world.oracle.postPrices([world.id_a], [new], [at], sender=world.feeder)
    assert world.oracle.priceOf(world.id_a) == (new, at)
    assert events(receipt, world.oracle, "PricePosted") == [
        plain(classId=world.id_a, price=new, observedAt=at, feeder=world.feeder)
    ]
    assert world.oracle.quote(world.id_a) == (world.id_a, new, at)


@pytest.mark.parametrize("direction", [1, -1])
def test_post__one_unit_past_the_bound__reverts_price_move_too_large(world, direction):
    # 20 % of 20 tUSD is 4 tUSD; one loan unit more in either direction is refused.
    proposed = PRICE_A + direction * (PRICE_A * 2_000 // 10_000 + 1)
    with reverts(
        world.oracle.PriceMoveTooLarge, classId=world.id_a, previous=PRICE_A, proposed=proposed, maxMoveBps=2_000
    ):
        world.oracle.postPrices([world.id_a], [proposed], [world.tick()], sender=world.feeder)
    assert world.oracle.priceOf(world.id_a).price == PRICE_A


def test_post__first_price_of_a_class__unbounded(world):
    new_class = encode_id(world.project_id, 99)
    world.oracle.postPrices([new_class], [10**15], [world.now()], sender=world.feeder)
    assert world.oracle.priceOf(new_class).price == 10**15


def test_post__batch_with_one_bad_entry__nothing_stored(world):
    at = world.tick()
    with reverts(world.oracle.OraclePriceZero, classId=world.id_b):
        world.oracle.postPrices([world.id_a, world.id_b], [PRICE_A + 1, 0], [at, at], sender=world.feeder)
    assert world.oracle.priceOf(world.id_a).price == PRICE_A


def test_post__observation_in_future__reverts(world, chain):
    chain.pending_timestamp = world.now() + 10
    future = world.now() + 11
    with reverts(world.oracle.OracleObservationInFuture, classId=world.id_a, observedAt=future, now=future - 1):
        world.oracle.postPrices([world.id_a], [PRICE_A], [future], sender=world.feeder)


def test_post__observation_not_newer__reverts(world):
    updated = world.oracle.priceOf(world.id_a).updatedAt
    with reverts(world.oracle.OracleObservationNotNewer, classId=world.id_a, observedAt=updated, updatedAt=updated):
        world.oracle.postPrices([world.id_a], [PRICE_A], [updated], sender=world.feeder)


def test_post__price_above_128_bits__reverts(world):
    new_class = encode_id(world.project_id, 98)
    with reverts(world.oracle.OraclePriceTooLarge, classId=new_class, price=2**128):
        world.oracle.postPrices([new_class], [2**128], [world.now()], sender=world.feeder)


def test_post__class_zero__reverts(world):
    with reverts(world.oracle.OracleZeroClass):
        world.oracle.postPrices([0], [USD], [world.now()], sender=world.feeder)


@pytest.mark.parametrize(
    ("classes", "prices", "times", "first", "second"),
    [
        (0, 0, 0, 0, 0),
        (1, 2, 1, 1, 2),
        (2, 2, 1, 2, 1),
    ],
)
def test_post__lists_of_different_lengths__reverts(world, classes, prices, times, first, second):
    ids = [world.id_a, world.id_b][:classes]
    with reverts(world.oracle.OracleInvalidLists, first=first, second=second):
        world.oracle.postPrices(ids, [PRICE_A] * prices, [world.now()] * times, sender=world.feeder)


def test_set_class__vintage_class__both_batches_priced_by_it(world):
    vintage = vintage_class(world.project_id, 2021)
    receipt = world.oracle.setClass([world.id_a, world.id_b], vintage, sender=world.admin)
    assert events(receipt, world.oracle, "ClassAssigned") == [
        plain(id=world.id_a, classId=vintage),
        plain(id=world.id_b, classId=vintage),
    ]
    world.post({vintage: 15 * USD})
    assert world.oracle.quote(world.id_a)[:2] == (vintage, 15 * USD)
    assert world.oracle.quote(world.id_b)[:2] == (vintage, 15 * USD)


def test_set_class__same_class_again__no_write_no_event(world):
    vintage = vintage_class(world.project_id, 2021)
    world.oracle.setClass([world.id_a], vintage, sender=world.admin)
    receipt = world.oracle.setClass([world.id_a], vintage, sender=world.admin)
    assert events(receipt, world.oracle, "ClassAssigned") == []


def test_set_class__id_as_its_own_class__undone(world):
    vintage = vintage_class(world.project_id, 2021)
    world.oracle.setClass([world.id_a], vintage, sender=world.admin)
    receipt = world.oracle.setClass([world.id_a], world.id_a, sender=world.admin)
    assert events(receipt, world.oracle, "ClassAssigned") == [plain(id=world.id_a, classId=world.id_a)]
    assert world.oracle.classOf(world.id_a) == world.id_a
    assert world.oracle.quote(world.id_a)[1] == PRICE_A


def test_set_class__class_zero_or_no_ids__reverts(world):
    with reverts(world.oracle.OracleZeroClass):
        world.oracle.setClass([world.id_a], 0, sender=world.admin)
    with reverts(world.oracle.OracleInvalidLists, first=0, second=0):
        world.oracle.setClass([], 5, sender=world.admin)


@pytest.mark.parametrize("bps", [0, 10_001])
def test_set_max_move__out_of_range__reverts(world, bps):
    with reverts(world.oracle.OracleInvalidMaxMove, maxMoveBps=bps):
        world.oracle.setMaxMoveBps(bps, sender=world.admin)


def test_set_max_move__wider_bound__allows_larger_step_and_emits(world):
    receipt = world.oracle.setMaxMoveBps(5_000, sender=world.admin)
    assert events(receipt, world.oracle, "MaxMoveSet") == [plain(maxMoveBps=5_000)]
    world.post({world.id_b: PRICE_B // 2})
    assert world.oracle.priceOf(world.id_b).price == PRICE_B // 2
