import pytest

from tonne.registry.ops import InputError, SerialRange, parse_period, parse_serials, prev_batch_hint

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
    from tonne.registry.ops import InputError, parse_period

    with pytest.raises(InputError, match="before 1970"):
        parse_period("1969-01-01:1969-12-31")


def test_read_allowlist__hostile_file__every_problem_in_line_order_homoglyph_pointed_at(tmp_path):
    from tonne.registry.admin import AdminError, read_allowlist

    address = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"
    padded = "0x" + "ab" * 20
    lines = [
        "\ufeffaccount,note",
        f"  {padded}  ,padded",
        f"0x{padded[2:].upper()},the same in upper case",
        address[:5] + "\u0430" + address[6:] + ",homoglyph",
        "1e3,junk",
        f'{"0x" + "cd" * 20},"an unterminated quote',
        f"{address},swallowed",
    ]
    path = tmp_path / "kyc.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    with pytest.raises(AdminError) as info:
        read_allowlist(path)
    report = info.value.report().splitlines()
    assert report[0] == f"{path}: 4 problems found, nothing was sent"
    assert report[1].startswith(f"{path}:3: account: 0xABaB") and report[1].endswith("is already listed on line 2")
    assert "character 6 is the non-ASCII 'а' (U+0430)" in report[2] and report[2].startswith(f"{path}:4: account:")
    assert report[3] == f"{path}:5: account: '1e3' is not an address (0x followed by 40 hex digits)"
    assert report[4].startswith(f"{path}:6: row: a quoted field is not closed")
