"""Pure Python of the pledge tooling: price files, class names, money and maturity parsing."""

from __future__ import annotations

import json

import pytest

from tonne.core.ids import encode_id
from tonne.pledge.chain import AmountError, format_money, parse_money
from tonne.pledge.ids import describe_class, parse_class, parse_token_id, vintage_class
from tonne.pledge.ops import InputError, amount_arg, parse_collateral, parse_maturity
from tonne.pledge.prices import PriceFileError, read_price_file


def test_price_csv__every_bad_field_reported_with_file_and_line(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("class,price,observed_at\nP1/B2,12.5,1700000000\nnope,1.0000001,yesterday\nvintage:3:2021,0,\n")
    with pytest.raises(PriceFileError) as info:
        read_price_file(path, 6)
    assert info.value.problems == [
        f"{path}:3: class: not a credit id: 'nope' (a number, or P<project>/B<batch>)",
        f"{path}:3: price: 1.0000001 has more than 6 decimals",
        f"{path}:3: observed_at: not unix seconds or ISO 8601: 'yesterday'",
        f"{path}:4: price: must be above zero",
        f"{path}:4: observed_at: missing",
    ]


def test_price_csv__missing_column__reported_on_the_header(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("class,price\nP1/B1,3\n")
    with pytest.raises(PriceFileError) as info:
        read_price_file(path, 6)
    assert info.value.problems == [
        f"{path}:1: header: missing column observed_at",
        f"{path}:1: header: expected exactly: class,price,observed_at (any order)",
    ]


def test_price_json__both_shapes_and_iso_times(tmp_path):
    rows = [{"class": "P1/B2", "price": "12.5", "observed_at": "2026-11-20T10:00:00Z"}]
    for data in (rows, {"prices": rows}):
        path = tmp_path / "p.json"
        path.write_text(json.dumps(data))
        (row,) = read_price_file(path, 6)
        assert (row.class_id, row.price, row.observed_at) == (encode_id(1, 2), 12_500_000, 1_795_168_800)


def test_price_json__bad_entry__named_by_its_position(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"class": "P1/B1", "price": "1", "observed_at": 5}, {"class": "P1/B1"}]))
    with pytest.raises(PriceFileError) as info:
        read_price_file(path, 6)
    assert info.value.problems == [f"{path}:entry 2: price: missing", f"{path}:entry 2: observed_at: missing"]


def test_class_names__round_trip():
    assert parse_token_id("P3/B2") == encode_id(3, 2) == parse_class(str(encode_id(3, 2)))
    assert parse_class("vintage:3:2021") == vintage_class(3, 2021) == (1 << 255) | (3 << 64) | 2021
    assert describe_class(vintage_class(3, 2021)) == "vintage:3:2021"
    assert describe_class(encode_id(3, 2)) == "P3/B2"
    with pytest.raises(ValueError, match="not a credit id"):
        parse_token_id("0")


def test_money__exact_and_refusals():
    assert parse_money("1234.5", 6) == 1_234_500_000
    assert format_money(1_234_500_000, 6, "tUSD") == "1,234.5 tUSD"
    with pytest.raises(AmountError, match="more than 6 decimals"):
        parse_money("0.0000001", 6)
    with pytest.raises(AmountError, match="not a plain decimal"):
        parse_money("-1", 6)


@pytest.mark.parametrize(
    "bad", ["12,50", "1,5", "1_000", "12_5", "1e3", "\u0661\u0662", " 12", "12 ", "", "+1", ".5", "1."]
)
def test_parse_money__separators_exponents_spaces_other_digits__refused(bad):
    with pytest.raises(AmountError):
        parse_money(bad, 6)


@pytest.mark.parametrize("bad", ["12,50", "1_000", "1e3", "\u0661\u0662", " 12", ""])
def test_amount_arg__not_plain_decimal__refused_naming_the_argument(bad):
    class D:
        decimals = 6

    with pytest.raises(InputError, match=r"^AMOUNT "):
        amount_arg(D(), bad)


@pytest.mark.parametrize("bad", ["12,50", "1_000", "1e3", "\u0661\u0662", " 12", ""])
def test_parse_collateral__not_plain_decimal_tonnes__refused_naming_the_option(bad):
    with pytest.raises(InputError, match="--collateral"):
        parse_collateral([f"P1/B2:{bad}"])


@pytest.mark.parametrize("bad", ["12,50", "1_000", "1e3", "\u0661\u0662", " 12", ""])
def test_price_file__decimal_comma_and_other_non_plain_prices__refused_naming_the_field(tmp_path, bad):
    from tonne.pledge.prices import PriceFileError, read_price_file

    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"class": "P1/B2", "price": bad, "observed_at": 100}]))
    with pytest.raises(PriceFileError) as info:
        read_price_file(path, 6)
    assert any(": price: " in p for p in info.value.problems), info.value.problems


def test_collateral_and_maturity__parsed_or_refused_naming_the_option():
    assert [(c.token_id, c.units) for c in parse_collateral(["P1/B2:100.5"])] == [(encode_id(1, 2), 100_500)]
    with pytest.raises(InputError, match="--collateral 'P1/B2': expected ID:TONNES"):
        parse_collateral(["P1/B2"])
    assert parse_maturity("+2d", 1_000) == 1_000 + 2 * 86_400
    with pytest.raises(InputError, match="is not after the chain's time"):
        parse_maturity("999", 1_000)


class _FakeDeployed:
    """Just enough of PledgeDeployed for plan_feed: the oracle's and registry's addresses, money in tUSD."""

    decimals = 6

    def __init__(self):
        from types import SimpleNamespace

        self.oracle = SimpleNamespace(address="0x" + "0" * 39 + "1")
        self.registry = SimpleNamespace(address="0x" + "0" * 39 + "2")

    def money(self, units):
        return format_money(units, 6, "tUSD")


class _FakeView:
    """Just enough of a ChainView for check_feed: an oracle holding 10 tUSD for every class at t=50, a registry with
    batch P1/B2 and project 1; an unknown batch's call reverts (a falsy Reverted). Pins and reads, no chain."""

    def pin(self):
        return 1

    def wait_settled(self, address, timeout, log):
        pass

    def unpin(self):
        pass

    def call_many(self, calls):
        from tonne.chain.view import Reverted

        answers = {
            "maxMoveBps()": lambda: 2_000,
            "projectCount()": lambda: 1,
            "priceOf(uint256)": lambda c: (10_000_000, 50),
            "batchPeriod(uint256)": lambda c: (0, 1) if c == encode_id(1, 2) else Reverted(b"", "RegistryUnknownBatch"),
        }
        return [answers[call.signature](*call.args) for call in calls]


def _plan(tmp_path, text, now=10**9):
    from tonne.pledge.prices import check_feed

    path = tmp_path / "p.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path, lambda: check_feed(_FakeDeployed(), _FakeView(), path, now)


def test_price_feed__same_class_and_time_two_prices__reported_as_conflict(tmp_path):
    path, run = _plan(tmp_path, "class,price,observed_at\nP1/B2,10.5,100\nP1/B2,11,100\n")
    with pytest.raises(PriceFileError) as info:
        run()
    assert len(info.value.problems) == 1 and "conflict" in info.value.problems[0], info.value.problems


def test_price_feed__same_time_as_on_chain_other_price__conflict_not_already_on_chain(tmp_path):
    # The oracle holds 10 tUSD for P1/B2 at t=50; 99 tUSD at t=50 was never posted (audit PoC
    # test_poc_price_feed_already_onchain).
    path, run = _plan(tmp_path, "class,price,observed_at\nP1/B2,99,50\n")
    with pytest.raises(PriceFileError) as info:
        run()
    assert info.value.problems == [f"{path}:2: price: on-chain price for P1/B2 at 50 is 10 tUSD, the file says 99 tUSD"]
    assert info.value.conflicts == 1 and "1 of them conflict(s) with the on-chain price" in info.value.report()


def test_price_feed__older_than_on_chain__superseded_not_already_on_chain(tmp_path):
    path, run = _plan(tmp_path, "class,price,observed_at\nP1/B2,12.5,40\nP1/B2,10,50\nP1/B2,11,60\n")
    plan = run()
    assert [(r.price, at) for r, at in plan.superseded] == [(12_500_000, 50)]
    assert [r.observed_at for r in plan.already] == [50]  # same time and same price: the chain has this row
    assert [r.observed_at for r in plan.to_post] == [60]


def test_price_feed__same_observation_twice_in_the_file__one_row_no_unique_column_problem(tmp_path):
    path, run = _plan(tmp_path, "class,price,observed_at\nP1/B2,11,60\nP1/B2,11,60\nP1/B2,11.5,70\n")
    plan = run()
    assert [r.observed_at for r in plan.to_post] == [60, 70]


def test_price_feed__observed_at_zero__refused(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("class,price,observed_at\nP1/B2,10,0\n")
    with pytest.raises(PriceFileError) as info:
        read_price_file(path, 6)
    assert info.value.problems[0].startswith(f"{path}:2: observed_at: 0 is not")


def test_price_feed__bom_and_spaced_header__read(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes("\ufeffclass , price ,observed_at\nP1/B2,10,100\n".encode())
    (row,) = read_price_file(path, 6)
    assert row.price == 10_000_000


def test_price_feed__extra_field__refused(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("class,price,observed_at\nP1/B2,12,50,100\n")
    with pytest.raises(PriceFileError) as info:
        read_price_file(path, 6)
    assert info.value.problems == [f"{path}:2: row: 4 fields, expected 3 (class,price,observed_at)"]


def test_price_feed__latin1_file__clear_error(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes("class,price,observed_at\nP1/B2,10,100 \xe9\n".encode("latin-1"))
    with pytest.raises(PriceFileError) as info:
        read_price_file(path, 6)
    assert "not UTF-8" in info.value.problems[0]


def test_price_feed__eighty_digit_price__clear_error(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(f"class,price,observed_at\nP1/B2,{'9' * 80},100\n")
    with pytest.raises(PriceFileError) as info:
        read_price_file(path, 6)
    assert info.value.problems[0].startswith(f"{path}:2: price: ")


def test_price_feed__class_with_no_batch__refused(tmp_path):
    path, run = _plan(tmp_path, "class,price,observed_at\nP1/B9,10,100\nvintage:7:2021,10,100\n")
    with pytest.raises(PriceFileError) as info:
        run()
    assert info.value.problems == [
        f"{path}:2: class: P1/B9: no such batch in the registry",
        f"{path}:3: class: vintage:7:2021: no project 7 in the registry",
    ]


def test_price_feed__future_judged_against_the_given_wall_clock_and_moves_in_money(tmp_path):
    path, run = _plan(tmp_path, "class,price,observed_at\nP1/B2,10.5,100\n", now=99)
    with pytest.raises(PriceFileError) as info:
        run()
    assert "in the future (now 99)" in info.value.problems[0]
    path, run = _plan(tmp_path, "class,price,observed_at\nP1/B2,20,100\n")
    with pytest.raises(PriceFileError) as info:
        run()
    assert "from 10 tUSD to 20 tUSD per tonne" in info.value.problems[0]


class _ClashingOracle:
    """postPrices refused by ape for its nonce (another run of the account took it) the first ``clashes`` times."""

    address = "0x" + "0" * 39 + "1"

    def __init__(self, clashes):
        self.clashes, self.posted = clashes, []

    def postPrices(self, classes, prices, times, sender):  # noqa: N802 - the contract's name
        from types import SimpleNamespace

        from ape.exceptions import AccountsError

        if self.clashes:
            self.clashes -= 1
            raise AccountsError("Invalid nonce, will not publish.")
        self.posted.append(list(classes))
        return SimpleNamespace(txn_hash="0x" + "ab" * 32, gas_used=40_000, block_number=7)


def _post_with_clashes(clashes):
    from types import SimpleNamespace

    from tonne.pledge.prices import FeedPlan, FeedSummary, PriceRow, post_plan

    d = _FakeDeployed()
    d.oracle = _ClashingOracle(clashes)
    rows = [PriceRow("p.csv", 2, encode_id(1, 2), 10_500_000, 60)]
    summary = FeedSummary(1, 0, 0)
    sender = SimpleNamespace(address="0x" + "0" * 39 + "3")
    post_plan(d, FeedPlan(rows, to_post=rows), sender, view=_FakeView(), summary=summary)
    return d.oracle, summary


def test_post_plan__nonce_taken_by_another_run__rechecked_and_sent_again():
    # The same feed run twice at once: the loser's postPrices is refused for its nonce before it does anything; the
    # shared sender has it re-checked (not posted meanwhile) and sent again, as issue does.
    oracle, summary = _post_with_clashes(2)
    assert oracle.posted == [[encode_id(1, 2)]] and (summary.txs, summary.raced) == (1, 0)


def test_post_plan__nonce_refused_every_time__stops_after_the_retries_with_the_error():
    from tonne.bulk import NONCE_RETRIES
    from tonne.pledge.prices import FeedSendError

    with pytest.raises(FeedSendError, match="Invalid nonce, will not publish"):
        _post_with_clashes(99)
    oracle, _ = _post_with_clashes(NONCE_RETRIES)
    assert oracle.posted  # the last retry goes through
