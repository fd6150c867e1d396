import pytest

from tonne.registry_ops import InputError, SerialRange, parse_period, parse_serials, prev_batch_hint

RANGES = [SerialRange(2, 1, 100), SerialRange(1, 201, 300), SerialRange(3, 501, 600)]  # sorted by first serial


@pytest.mark.parametrize(
    ("first", "last", "hint"),
    [
        (101, 200, 2),  # fills the gap after batch 2
        (301, 500, 1),  # fills the gap after batch 1
        (601, 700, 3),  # appends after the last
    ],
)
def test_prev_batch_hint__free_range__names_predecessor(first, last, hint):
    assert prev_batch_hint(RANGES, first, last) == hint


def test_prev_batch_hint__range_before_all__is_zero():
    assert prev_batch_hint([SerialRange(1, 10, 20)], 1, 9) == 0
    assert prev_batch_hint([], 5, 10) == 0


@pytest.mark.parametrize(
    ("first", "last", "conflict"),
    [
        (100, 150, "batch 2"),  # touches the last serial of batch 2
        (150, 201, "batch 1"),  # touches the first serial of batch 1
        (250, 260, "batch 1"),  # inside batch 1
        (0, 1000, "batch"),  # covers several
    ],
)
def test_prev_batch_hint__overlap__raises_naming_the_batch(first, last, conflict):
    with pytest.raises(InputError, match=conflict):
        prev_batch_hint(RANGES, first, last)


def test_parse_serials__valid_and_invalid():
    assert parse_serials(" 1001 - 2000 ") == (1001, 2000)
    for bad in ("2000-1001", "1001", "a-b", f"1-{1 << 64}"):
        with pytest.raises(InputError):
            parse_serials(bad)


def test_parse_period__whole_days_in_utc():
    start, end = parse_period("2021-01-01:2021-12-31")
    assert start == 1609459200  # 2021-01-01T00:00:00Z
    assert end == 1640995199  # 2021-12-31T23:59:59Z
    for bad in ("2021-01-01", "2021-12-31:2021-01-01", "2021-13-01:2021-12-31"):
        with pytest.raises(InputError):
            parse_period(bad)


def test_parse_period__before_1970__refused_clearly():
    from tonne.registry_ops import InputError, parse_period

    with pytest.raises(InputError, match="before 1970"):
        parse_period("1969-01-01:1969-12-31")
