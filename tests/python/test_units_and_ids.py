from decimal import Decimal

import pytest

from tonne.ids import batch_number_of, describe, encode_id, project_of
from tonne.units import UnitError, format_tonnes, tonnes_to_units, units_to_tonnes


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
    from tonne.units import parse_amount, parse_tonnes_amount

    assert parse_amount("12.50", 6) == 12_500_000
    assert parse_amount("0", 6, allow_zero=True) == 0
    assert parse_tonnes_amount("100.5") == 100_500


@pytest.mark.parametrize(
    "bad", ["12,50", "1_000", "12_5", "1e3", "\u0661\u0662", " 12", "12 ", "", "-1", "0", "1" * 80]
)
def test_parse_amount__anything_but_a_plain_decimal__refused(bad):
    from tonne.units import parse_amount

    with pytest.raises(UnitError):
        parse_amount(bad, 6)
