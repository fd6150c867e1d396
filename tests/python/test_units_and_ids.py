from decimal import Decimal

import pytest

from tonne.core.ids import batch_number_of, describe, encode_id, project_of
from tonne.core.units import UnitError, format_tonnes, tonnes_to_units, units_to_tonnes


@pytest.mark.parametrize(
    ("tonnes", "units"),
    [("1", 1000), ("0.001", 1), ("12.5", 12500), (Decimal("3.250"), 3250), (7, 7000), (" 2.000 ", 2000)],
)
def test_tonnes_to_units__exact_values__convert(tonnes, units):
    assert tonnes_to_units(tonnes) == units


@pytest.mark.parametrize("bad", ["0.0001", "1.2345", "abc", "", "NaN", "inf", 0.1, True])
def test_tonnes_to_units__finer_than_kg_or_not_a_number__raises(bad):
    with pytest.raises(UnitError):
        tonnes_to_units(bad)


def test_units_to_tonnes__round_trips_exactly():
    for units in (0, 1, 999, 1000, 123456789):
        assert tonnes_to_units(units_to_tonnes(units)) == units


def test_format_tonnes__groups_thousands_and_trims_zeros():
    assert format_tonnes(1234567) == "1,234.567 t"
    assert format_tonnes(5000) == "5 t"
    assert format_tonnes(1500) == "1.5 t"


def test_ids__encode_and_split__round_trip():
    token_id = encode_id(3, 2)
    assert token_id == (3 << 64) | 2
    assert project_of(token_id) == 3 and batch_number_of(token_id) == 2
    assert describe(token_id) == "P3/B2"


@pytest.mark.parametrize(("project_id", "batch_number"), [(0, 1), (1, 0), (1 << 64, 1)])
def test_ids__out_of_range__raises(project_id, batch_number):
    with pytest.raises(ValueError):
        encode_id(project_id, batch_number)


def test_parse_amount__plain_decimals__exact_base_units():
    from tonne.core.units import parse_amount, parse_tonnes_amount

    assert parse_amount("12.50", 6) == 12_500_000
    assert parse_amount("0", 6, allow_zero=True) == 0
    assert parse_tonnes_amount("100.5") == 100_500


@pytest.mark.parametrize(
    "bad", ["12,50", "1_000", "12_5", "1e3", "\u0661\u0662", " 12", "12 ", "", "-1", "0", "1" * 80]
)
def test_parse_amount__anything_but_a_plain_decimal__refused(bad):
    from tonne.core.units import parse_amount

    with pytest.raises(UnitError):
        parse_amount(bad, 6)


# The parse is exact (integer arithmetic on the digits): Decimal's default 28-digit context used to round before
# the decimals check (audit PoC test_poc_parse_amount_precision).


@pytest.mark.parametrize(
    ("text", "decimals"),
    [
        ("1.0000000000000000000000000001", 3),  # 29 significant digits: was accepted as 1 t
        ("0.9999999999999999999999999999999", 3),  # 31 nines: was booked as 1 t (rounded up)
        ("10000000000.0000000000000000001", 18),  # 19 decimals
    ],
)
def test_parse_amount__more_decimals_than_allowed_beyond_28_digits__refused_not_rounded(text, decimals):
    from tonne.core.units import TooManyDecimalsError, parse_amount

    with pytest.raises(TooManyDecimalsError, match=f"more than {decimals} decimals"):
        parse_amount(text, decimals)


def test_parse_amount__more_than_28_significant_digits__exact():
    from tonne.core.units import parse_amount
    from tonne.pledge.chain import parse_money

    assert parse_money("10000000000.000000000000000001", 18) == 10**28 + 1  # the last wei kept
    assert parse_amount("12345678901234567890123456789", 0) == 12345678901234567890123456789
    assert parse_amount("1.500", 1) == 15  # zeros past the allowed decimals change nothing: accepted
    assert parse_amount("9" * 40, 18, maximum=2**256 - 1) == int("9" * 40) * 10**18


def test_parse_amount__too_many_digits__refused_naming_the_limit():
    from tonne.core.units import UnitError, parse_amount

    with pytest.raises(UnitError, match="has 41 digits before the point; at most 40"):
        parse_amount("1" * 41, 0)
    with pytest.raises(UnitError, match="has 41 digits after the point; at most 40"):
        parse_amount("1." + "0" * 41, 3)


@pytest.mark.parametrize("bad", ["1e3", "1_000", "12,5", "\u0661\u0662", "1.", ".5", "+1", "1.0.0"])
def test_parse_amount__strict_grammar__still_refused(bad):
    from tonne.core.units import TooManyDecimalsError, UnitError, parse_amount

    with pytest.raises(UnitError) as info:
        parse_amount(bad, 6)
    assert not isinstance(info.value, TooManyDecimalsError) and "not a plain decimal" in str(info.value)


def test_tonnes_to_units__decimal_beyond_28_digits__exact_or_refused():
    assert tonnes_to_units(Decimal("12345678901234567890123456.789")) == 12345678901234567890123456789
    assert tonnes_to_units(Decimal("1.5000000000000000000000000000000")) == 1500
    assert tonnes_to_units(10**30) == 10**33
    with pytest.raises(UnitError, match="finer than 1 kg"):
        tonnes_to_units(Decimal("1.0000000000000000000000000001"))
    with pytest.raises(UnitError, match="finer than 1 kg"):
        tonnes_to_units("0.9999999999999999999999999999999")
    with pytest.raises(UnitError, match="far too large"):
        tonnes_to_units(Decimal("1e999999999"))
    assert units_to_tonnes(10**30 + 1) == Decimal("1000000000000000000000000000.001")
