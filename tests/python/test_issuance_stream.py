"""The streamed issuance path without a chain: the static pass reads the file lazily, holds no rows, finds a bad row
anywhere in a large file before the chain is touched, and the spool gives the rows back exactly."""

from __future__ import annotations

import itertools

import pytest

from tonne.core.csvinput import iter_table
from tonne.core.ids import encode_id
from tonne.issuance import HEADER, Contracts, IssuanceError, Order, parse_text, read_rows, run_file
from tonne.issuance.plan import (
    GAS_PER_ORDER,
    GAS_PER_TX,
    TX_GAS_CAP,
    auto_chunk_size,
    chunk_budget,
    encode_issue_many,
    encode_issue_many_abi,
    estimated_gas,
    max_chunk_size,
)
from tonne.issuance.rows import _parse_row
from tonne.issuance.send import chunk_gas_limit
from tonne.issuance.stream import scan

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


class Untouchable:
    """A chain view or sender that fails the test if the run uses it at all."""

    address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

    def __init__(self):
        self.used: list[str] = []

    def __getattr__(self, name):
        self.used.append(name)
        raise AssertionError(f"the chain was used ({name}) before the whole file was checked")


def _write(path, rows: int, bad: dict[int, str] | None = None):
    """``rows`` good rows (lines 2..rows+1); ``bad`` replaces the row of a line with the given text."""
    bad = bad or {}
    with path.open("w") as fh:
        fh.write(",".join(HEADER) + "\n")
        for line in range(2, rows + 2):
            recipient = ALICE if line % 2 else BOB
            fh.write(bad.get(line, f"7,{1 + line % 3},{recipient},{line % 50 + 1}.25,INV-{line}") + "\n")
    return path


def test_run_file__bad_rows_at_the_end_of_30000__reported_and_the_chain_never_touched(tmp_path):
    path = _write(
        tmp_path / "big.csv",
        30_000,
        bad={29_999: f"7,1,{ALICE},1.2345,INV-29999", 30_001: f"7,1,{BOB},1,INV-2"},
    )
    view, sender = Untouchable(), Untouchable()
    with pytest.raises(IssuanceError) as caught:
        run_file(path, view, Contracts("0xc", "0xr"), sender)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:29999: tonnes: 1.2345 has more than 3 decimals (the smallest unit is 0.001 t = 1 kg)",
        f"{path}:30001: reference: 'INV-2' is already used on line 2",
    ]
    assert view.used == [] and sender.used == []


def test_iter_table__reads_lazily__rows_come_before_the_source_ends():
    lines = itertools.chain([",".join(HEADER) + "\n"], (f"7,1,{ALICE},1,INV-{i}\n" for i in itertools.count()))
    problems: list = []
    rows = iter_table(lines, "f.csv", problems, required=HEADER, unique="reference", parse_row=_parse_row("f.csv"))
    first = list(itertools.islice(rows, 3))  # the source never ends: only a lazy reader gets here
    assert [r.reference for r in first] == ["INV-0", "INV-1", "INV-2"] and problems == []


def test_scan__spool_gives_back_the_rows_read_rows_gives(tmp_path):
    path = tmp_path / "f.csv"
    text = (
        ",".join(HEADER) + "\n"
        f"VCS:VCS-1234,VCS-ISS-2021-001,{ALICE},12.5,INV-1\n"
        "\n"
        f"7,2,{BOB.lower()},0.001,Rechnung Nr. 7 \u00fc\n"
        f"GS:GS-1:extra,ref:with:colons,{ALICE},3,INV-3\n"
    )
    path.write_text(text)
    expected, problems = parse_text(text, str(path))
    assert problems == []
    scanned = scan(path)
    try:
        assert not hasattr(scanned, "__len__")  # a count and a spool, not a list of rows
        assert scanned.rows == 3 and len(scanned.recipients) == 2
        assert [row for window in scanned.iter_rows(2) for _, row in window] == expected
        offsets = [offset for window in scanned.iter_rows(1000) for offset, _ in window]
        assert [scanned.read(o)[0] for o in reversed(offsets)] == expected[::-1]
    finally:
        scanned.close()


def test_scan__file_problems__same_report_as_read_rows(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"project,batch,recipient,tonnes,reference\n7,1,\xff,1,INV-1\n")
    with pytest.raises(IssuanceError) as caught:
        scan(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2: file: not UTF-8 text (byte 45); save the CSV as UTF-8"
    ]
    with pytest.raises(IssuanceError) as listed:
        read_rows(path)
    assert str(listed.value) == str(caught.value)
    path.write_text("project,batch,recipient,tonnes,reference\n")
    with pytest.raises(IssuanceError, match="the file has a header but no data rows"):
        scan(path)


def test_chunk_gas_limit__covers_the_worst_case_estimate_and_stays_within_the_block():
    rows = parse_text(",".join(HEADER) + "\n" + "".join(f"7,{i % 5 + 1},{ALICE},1,R-{i}\n" for i in range(200)))[0]
    orders = [Order(r, encode_id(7, r.batch.number or 1)) for r in rows]
    assert chunk_gas_limit(orders, 30_000_000) >= estimated_gas(200) + 5 * 50_000
    assert chunk_gas_limit(orders, 30_000_000) == GAS_PER_TX + GAS_PER_ORDER * 200 + 5 * 50_000
    assert chunk_gas_limit(orders, 5_000_000) == 5_000_000


@pytest.mark.parametrize("block", [30_000_000, 36_000_000, 60_000_000, 200_000_000, 3_000_000])
@pytest.mark.parametrize("ids", [1, 5, 40, 10_000])
def test_auto_chunk_size__worst_case_gas_within_half_the_block_and_the_2_24_cap(block, ids):
    n = auto_chunk_size(block, ids=ids)
    rows = parse_text(",".join(HEADER) + "\n" + "".join(f"7,{i % ids + 1},{ALICE},1,R-{i}\n" for i in range(n)))[0]
    orders = [Order(r, encode_id(7, r.batch.number or 1)) for r in rows]
    assert chunk_gas_limit(orders, block) <= chunk_budget(block) <= min(block // 2, TX_GAS_CAP)
    assert n <= max_chunk_size(block)  # never above what --chunk-size itself may ask for
    more = parse_text(",".join(HEADER) + "\n" + "".join(f"7,{i + 1},{ALICE},1,R-{i}\n" for i in range(n + 1)))[0]
    one_more = [Order(r, encode_id(7, r.batch.number or 1)) for r in more][: n + 1]
    if len({o.token_id for o in one_more}) >= min(ids, n + 1):
        assert GAS_PER_TX + GAS_PER_ORDER * (n + 1) + 50_000 * min(ids, n + 1) > chunk_budget(block)


def test_auto_chunk_size__the_sizes_it_picks():
    assert auto_chunk_size(30_000_000, ids=5) == 245  # the bench's Anvil
    assert auto_chunk_size(30_000_000, ids=1) == 248
    assert auto_chunk_size(60_000_000, ids=5) == 274  # mainnet and Sepolia: the EIP-7825 cap binds
    assert auto_chunk_size(100_000, ids=5) == 1


def test_encode_issue_many__same_bytes_as_eth_abi():
    text = ",".join(HEADER) + "\n" + "".join(f"7,{i % 3 + 1},{(ALICE, BOB)[i % 2]},{i + 1}.5,R-{i}\n" for i in range(9))
    orders = [Order(r, encode_id(7, r.batch.number or 1)) for r in parse_text(text)[0]]
    for part in (orders, orders[:1], []):
        assert encode_issue_many(part) == encode_issue_many_abi(part)
