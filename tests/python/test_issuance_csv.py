"""CSV issuance without a chain: static checks, chain checks on a given state, planning, and the send loop."""

from __future__ import annotations

import pytest
from eth_abi import decode
from eth_utils import keccak

from tonne import issuance
from tonne.core.ids import encode_id
from tonne.issuance import (
    BatchInfo,
    BatchRef,
    ChainState,
    IssuanceError,
    Order,
    ProjectInfo,
    ProjectRef,
    Row,
    SendFailed,
    Sent,
    chunk,
    encode_issue_many,
    execute,
    group_by_project,
    max_chunk_size,
    order_ref,
    parse_text,
    read_rows,
)
from tonne.issuance.checks import order_digest, split_done
from tonne.issuance.stream import RowChecks

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
HEADER = "project,batch,recipient,tonnes,reference\n"
SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def parse(body: str, header: str = HEADER):
    return parse_text(header + body, "f.csv")


def problems_of(body: str, header: str = HEADER) -> list[str]:
    rows, problems = parse(body, header)
    return [str(p) for p in problems]


# ---------------------------------------------------------------------------------------------- good input


def test_parse__valid_rows__resolve_every_field():
    rows, problems = parse(
        f"VCS:VCS-1234,VCS-ISS-2021-001,{ALICE},12.5,INV-1\n"
        f"7,2,{BOB.lower()},0.001,INV-2\n"
        f"GS:GS-1:extra,ref:with:colons,{BOB.upper().replace('0X', '0x')},3,INV-3\n"
    )
    assert problems == []
    first, second, third = rows
    assert (first.line, first.project, first.batch) == (2, ProjectRef("VCS", "VCS-1234"), BatchRef("VCS-ISS-2021-001"))
    assert (first.recipient, first.units, first.reference) == (ALICE, 12_500, "INV-1")
    assert (second.project, second.batch, second.recipient, second.units) == (
        ProjectRef(project_id=7),
        BatchRef(number=2),
        BOB,
        1,
    )
    assert third.project == ProjectRef("GS", "GS-1:extra")  # split on the first colon only
    assert third.batch == BatchRef("ref:with:colons")
    assert third.units == 3000


def test_order_ref__is_keccak_of_the_utf8_reference():
    assert order_ref("INV-1") == keccak(b"INV-1")
    assert order_ref("Überweisung-7") == keccak("Überweisung-7".encode())
    rows, _ = parse(f"1,1,{ALICE},1,  INV-1  \n")
    assert rows[0].order_ref == keccak(b"INV-1")  # surrounding spaces are not part of the reference


def test_read_rows__bom_crlf_spaces_and_any_column_order__are_accepted(tmp_path):
    path = tmp_path / "in.csv"
    text = (
        " Reference , tonnes,recipient , project,batch\r\n"
        f"  INV-1 , 1.250 , {ALICE} , VCS : VCS-1 , ISS-1 \r\n"
        "\r\n"
        ",,,,\r\n"
        f"INV-2,2,{BOB},3,4\r\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    rows = read_rows(path)
    assert [(r.line, r.reference, r.units) for r in rows] == [(2, "INV-1", 1250), (5, "INV-2", 2000)]
    assert rows[0].project == ProjectRef("VCS", "VCS-1")
    assert rows[0].batch == BatchRef("ISS-1")


def test_parse__quoted_field_over_two_lines__keeps_line_numbers_of_the_rows_after_it():
    # A line break inside a reference is refused (a control character), on the line the record starts.
    rows, problems = parse(f'1,1,{ALICE},1,"INV\nONE"\n1,1,{ALICE},-1,INV-2\n')
    assert rows == []
    assert [str(p) for p in problems] == [
        "f.csv:2: reference: contains the control character U+000A at character 4; not allowed",
        "f.csv:4: tonnes: '-1' is not a decimal number of tonnes (e.g. 12.5)",
    ]


# ---------------------------------------------------------------------------------------------- bad fields


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("project", "", "empty: expected STANDARD:EXTERNAL_ID"),
        ("project", "VCS-1234", "expected STANDARD:EXTERNAL_ID"),
        ("project", "VCS:", "expected STANDARD:EXTERNAL_ID"),
        ("project", ":VCS-1", "expected STANDARD:EXTERNAL_ID"),
        ("project", "0", "project id 0 is out of range"),
        ("project", str(2**64), "out of range"),
        ("batch", "", "empty: expected the batch's issuance reference"),
        ("batch", "0", "batch number 0 is out of range"),
        ("recipient", "", "empty is not an address"),
        ("recipient", "0x1234", "is not an address"),
        ("recipient", ALICE[2:], "is not an address"),
        ("recipient", ALICE[:-1] + "9", "fails its EIP-55 checksum"),
        ("recipient", ALICE.replace("C51812dc", "C51812Dc"), "fails its EIP-55 checksum"),
        ("recipient", "0x" + "0" * 40, "the zero address cannot receive credits"),
        ("tonnes", "", "empty is not a decimal number"),
        ("tonnes", "abc", "not a decimal number"),
        ("tonnes", "-1", "not a decimal number"),
        ("tonnes", "1e3", "not a decimal number"),
        ("tonnes", "1,5", None),  # an unquoted comma makes six fields
        ("tonnes", "0", "must be more than 0"),
        ("tonnes", "0.000", "must be more than 0"),
        ("tonnes", "1.2345", "more than 3 decimals"),
        ("tonnes", "1000000000001", "more than any batch can hold"),
        ("reference", "", "empty: every row needs its own issuance reference"),
    ],
)
def test_parse__bad_field__names_line_field_and_value(column, value, message):
    fields = {"project": "VCS:VCS-1", "batch": "ISS-1", "recipient": ALICE, "tonnes": "1", "reference": "INV-1"}
    fields[column] = value
    rows, problems = parse(f"1,1,{BOB},1,INV-0\n" + ",".join(fields.values()) + "\n")
    assert len(rows) == 1
    assert len(problems) == 1
    problem = problems[0]
    if message is None:
        assert (problem.line, problem.field) == (3, "row")
        assert "6 fields, expected 5" in problem.message
    else:
        assert (problem.path, problem.line, problem.field) == ("f.csv", 3, column)
        assert message in problem.message


def test_parse__several_bad_rows__reports_every_problem_with_its_line():
    body = (
        f"VCS:VCS-1,ISS-1,{ALICE},1,INV-1\n"  # line 2: good
        "VCS,ISS-1,0x12,1.0001,INV-2\n"  # line 3: three problems
        "\n"  # line 4: blank
        f"7,0,{BOB},2,\n"  # line 5: two problems
        f"7,1,{BOB},2,INV-1\n"  # line 6: duplicate of line 2
        "7,1\n"  # line 7: too few fields
    )
    assert problems_of(body) == [
        "f.csv:3: project: 'VCS': expected STANDARD:EXTERNAL_ID (e.g. VCS:VCS-1234) or a numeric project id",
        "f.csv:3: recipient: '0x12' is not an address (0x followed by 40 hex digits)",
        "f.csv:3: tonnes: 1.0001 has more than 3 decimals (the smallest unit is 0.001 t = 1 kg)",
        "f.csv:5: batch: batch number 0 is out of range (1..2^64-1)",
        "f.csv:5: reference: empty: every row needs its own issuance reference",
        "f.csv:6: reference: 'INV-1' is already used on line 2",
        "f.csv:7: row: 2 fields, expected 5 (project,batch,recipient,tonnes,reference)",
    ]


def test_parse__duplicate_references__each_later_line_names_the_first():
    problems = problems_of(f"1,1,{ALICE},1,A\n1,1,{ALICE},1,B\n1,1,{BOB},2,A\n1,1,{BOB},3,A\n")
    assert problems == [
        "f.csv:4: reference: 'A' is already used on line 2",
        "f.csv:5: reference: 'A' is already used on line 2",
    ]


def test_parse__references_differing_in_case__are_distinct():
    rows, problems = parse(f"1,1,{ALICE},1,inv-1\n1,1,{ALICE},1,INV-1\n")
    assert problems == []
    assert rows[0].order_ref != rows[1].order_ref


# ---------------------------------------------------------------------------------------------- header and file


@pytest.mark.parametrize("text", ["", "\n\n", "\ufeff", "  \r\n"])
def test_parse__empty_file__reports_missing_header(text):
    rows, problems = parse_text(text, "f.csv")
    assert rows == []
    assert [str(p) for p in problems] == [
        "f.csv:1: header: the file is empty; expected the header project,batch,recipient,tonnes,reference"
    ]


def test_parse__header_only__reports_no_data_rows():
    assert problems_of("") == ["f.csv:1: file: the file has a header but no data rows"]


def test_parse__missing_column__is_reported_on_the_header_line():
    problems = problems_of(f"1,1,{ALICE},1\n", header="project,batch,recipient,tonnes\n")
    assert problems == [
        "f.csv:1: header: missing column reference",
        "f.csv:1: header: expected exactly: project,batch,recipient,tonnes,reference (any order)",
    ]


def test_parse__extra_and_repeated_columns__are_reported():
    problems = problems_of("", header="project,batch,recipient,tonnes,reference,memo,batch\n")
    assert problems[:2] == [
        "f.csv:1: header: unknown column memo",
        "f.csv:1: header: repeated column batch",
    ]


def test_parse__no_header_but_data__reports_header_problems():
    problems = problems_of("", header=f"VCS:VCS-1,ISS-1,{ALICE},1,INV-1\n")
    assert problems[0] == "f.csv:1: header: missing columns project, batch, recipient, tonnes, reference"
    assert problems[1].startswith("f.csv:1: header: unknown columns vcs:vcs-1, iss-1")


def test_read_rows__not_utf8__names_the_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + f"1,1,{ALICE},1,INV-1\n1,1,{ALICE},1,Überweisung\n").encode("latin-1"))
    with pytest.raises(IssuanceError) as info:
        read_rows(path)
    offset = path.read_bytes().index("Ü".encode("latin-1"))
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3: file: not UTF-8 text (byte {offset}); save the CSV as UTF-8"
    ]


def test_read_rows__problems__raise_with_a_full_report(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "x,1,y,1,A\n1,1,z,0,A\n")
    with pytest.raises(IssuanceError) as info:
        read_rows(path)
    report = info.value.report().splitlines()
    assert report[0] == f"{path}: 5 problems found, nothing was sent"
    assert report[1].startswith(f"{path}:2: project: ")
    assert report[-1] == f"{path}:3: reference: 'A' is already used on line 2"


def test_read_rows__missing_file__names_it(tmp_path):
    with pytest.raises(IssuanceError, match="nope.csv: cannot read the file"):
        read_rows(tmp_path / "nope.csv")


# ---------------------------------------------------------------------------------------------- chain checks


VCS_1 = ProjectRef("VCS", "VCS-1")
ISS_1 = BatchRef("ISS-1")


def _row(line, project=VCS_1, batch=ISS_1, recipient=ALICE, units=1000, ref=None):
    return Row(line, project, batch, recipient, units, ref or f"INV-{line}")


def check_against_chain(rows, state, sender, path):
    """The chain checks of the streamed pass (``tonne.issuance.stream.RowChecks``), fed ``rows`` in file order."""
    checks = RowChecks(path, state, sender)
    for row in rows:
        checks.check(row)
    return checks.problems()


def _state(**overrides) -> ChainState:
    """Project VCS:VCS-1 = id 1 (approved, sender authorised) with batch ISS-1 = P1/B1 (verified, 10 t left)."""
    token = encode_id(1, 1)
    state = ChainState(
        project_ids={ProjectRef("VCS", "VCS-1"): 1, ProjectRef(project_id=1): 1},
        projects={1: ProjectInfo(status=2, issuer_ok=True, restricted=False)},
        batch_ids={(1, BatchRef("ISS-1")): token, (1, BatchRef(number=1)): token},
        batches={token: BatchInfo(project_id=1, verified=True, cap=20_000, issued=10_000)},
        frozen={ALICE: False, BOB: False},
    )
    for key, value in overrides.items():
        setattr(state, key, value)
    return state


def test_check_against_chain__all_good__no_problem():
    rows = [_row(2), _row(3, ProjectRef(project_id=1), BatchRef(number=1), BOB, 9000)]
    assert check_against_chain(rows, _state(), SENDER, "f.csv") == []


def test_check_against_chain__unknown_project__reported_once_with_its_lines():
    state = _state()
    state.project_ids[ProjectRef("VCS", "NOPE")] = 0
    state.project_ids[ProjectRef(project_id=9)] = 9
    rows = [
        _row(2, ProjectRef("VCS", "NOPE")),
        _row(3),
        _row(4, ProjectRef("VCS", "NOPE")),
        _row(5, ProjectRef(project_id=9)),
    ]
    assert [str(p) for p in check_against_chain(rows, state, SENDER, "f.csv")] == [
        "f.csv:2: project: no project 'NOPE' of standard 'VCS' is registered [2 rows: lines 2, 4]",
        "f.csv:5: project: project 9 does not exist",
    ]


@pytest.mark.parametrize(
    ("info", "message"),
    [
        (ProjectInfo(1, True, False), "project VCS:VCS-1 (id 1) is Pending; credits can be issued only while"),
        (ProjectInfo(3, True, True), "project VCS:VCS-1 (id 1) is Suspended"),
        (ProjectInfo(4, True, True), "project VCS:VCS-1 (id 1) is Terminated"),
        (ProjectInfo(2, True, True), "credits of project VCS:VCS-1 (id 1) are restricted in the token"),
        (ProjectInfo(2, False, False), f"{SENDER} is not an authorised issuer of project VCS:VCS-1 (id 1)"),
    ],
)
def test_check_against_chain__project_not_usable__reported(info, message):
    problems = check_against_chain([_row(2)], _state(projects={1: info}), SENDER, "f.csv")
    assert [(p.line, p.field) for p in problems] == [(2, "project")]
    assert problems[0].message.startswith(message)


def test_check_against_chain__batch_problems__reported():
    state = _state()
    other = encode_id(2, 1)
    unverified = encode_id(1, 2)
    state.batch_ids[(1, BatchRef("OTHER"))] = other
    state.batches[other] = BatchInfo(project_id=2, verified=True, cap=5, issued=0)
    state.batch_ids[(1, BatchRef("NOPE"))] = 0
    state.batch_ids[(1, BatchRef(number=7))] = encode_id(1, 7)  # registry.batch reverted: not in state.batches
    state.batch_ids[(1, BatchRef(number=2))] = unverified
    state.batches[unverified] = BatchInfo(project_id=1, verified=False, cap=0, issued=0)
    rows = [
        _row(2, batch=BatchRef("OTHER")),
        _row(3, batch=BatchRef("NOPE")),
        _row(4, batch=BatchRef(number=7)),
        _row(5, batch=BatchRef(number=2)),
    ]
    assert [str(p) for p in check_against_chain(rows, state, SENDER, "f.csv")] == [
        "f.csv:2: batch: issuance reference 'OTHER' is batch P2/B1 of project 2, not of project VCS:VCS-1",
        "f.csv:3: batch: no batch has the issuance reference 'NOPE'",
        "f.csv:4: batch: project VCS:VCS-1 has no batch number 7",
        "f.csv:5: batch: batch number 2 (P1/B2) is not verified yet",
    ]


def test_check_against_chain__rows_over_cap__reported_on_the_line_that_passes_it():
    rows = [_row(2, units=4000), _row(3, units=6000), _row(4, units=1), _row(5, ProjectRef(project_id=1), units=1)]
    problems = check_against_chain(rows, _state(), SENDER, "f.csv")
    assert [(p.line, p.field) for p in problems] == [(4, "tonnes")]
    assert problems[0].message.startswith(
        "batch P1/B1 (issuance reference 'ISS-1') has 10 t left to issue (cap 20 t, 10 t issued), "
        "but its 4 row(s) still to issue need 10.002 t; the cap is passed on this line [4 rows: lines 2, 3, 4, 5]"
    )


def test_check_against_chain__rows_exactly_at_cap__pass():
    assert check_against_chain([_row(2, units=4000), _row(3, units=6000)], _state(), SENDER, "f.csv") == []


def test_check_against_chain__recipient_and_token_problems__reported():
    state = _state(permissioned=True, paused=True, allowed={ALICE: True, BOB: False}, frozen={ALICE: True, BOB: False})
    state.rejections[BOB] = "ERC1155InvalidReceiver(0x3C44...)"
    problems = [str(p) for p in check_against_chain([_row(2), _row(3, recipient=BOB)], state, SENDER, "f.csv")]
    assert problems == [
        "f.csv: token: the credit token is paused by the regulator: nothing can be issued",
        f"f.csv:2: recipient: {ALICE} is frozen by the regulator",
        f"f.csv:3: recipient: {BOB} is not on the allowlist (the token is permissioned)",
        f"f.csv:3: recipient: contract {BOB} rejects the credits: ERC1155InvalidReceiver(0x3C44...)",
    ]


# ---------------------------------------------------------------------------------------------- planning


def _orders(*project_ids: int) -> list[Order]:
    return [Order(_row(line + 2), encode_id(pid, 1)) for line, pid in enumerate(project_ids)]


def test_group_by_project__projects_contiguous_in_first_seen_order_rows_in_file_order():
    grouped = group_by_project(_orders(3, 1, 3, 2, 1, 3))
    assert [(o.token_id >> 64, o.row.line) for o in grouped] == [(3, 2), (3, 4), (3, 7), (1, 3), (1, 6), (2, 5)]


def test_chunk__slices_in_order_with_a_short_last_chunk():
    orders = _orders(*([1] * 7))
    chunks = chunk(orders, 3)
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert [o for c in chunks for o in c] == orders
    assert chunk([], 3) == []
    with pytest.raises(ValueError, match="at least 1"):
        chunk(orders, 0)


def test_max_chunk_size__keeps_worst_case_gas_within_half_a_block():
    assert max_chunk_size(30_000_000) == 249
    assert issuance.estimated_gas(max_chunk_size(30_000_000)) <= 15_000_000
    assert max_chunk_size(30_000_000) >= issuance.DEFAULT_CHUNK_SIZE
    assert max_chunk_size(100_000) == 1


def test_encode_issue_many__round_trips_the_orders():
    orders = [Order(_row(2, units=1500), encode_id(1, 1)), Order(_row(3, recipient=BOB, units=1), encode_id(2, 5))]
    data = encode_issue_many(orders)
    assert data[:4] == keccak(text="issueMany((uint256,address,uint256,bytes32)[])")[:4]
    (decoded,) = decode(["(uint256,address,uint256,bytes32)[]"], data[4:])
    assert [(i, to.lower(), a, r) for i, to, a, r in decoded] == [
        (encode_id(1, 1), ALICE.lower(), 1500, keccak(b"INV-2")),
        (encode_id(2, 5), BOB.lower(), 1, keccak(b"INV-3")),
    ]


def test_call_data__fast_path_matches_eth_abi():
    from eth_abi import encode

    call = issuance.Call("0x" + "11" * 20, "isProjectIssuer(uint64,address)", (7, ALICE), ("bool",))
    assert call.data() == keccak(text="isProjectIssuer(uint64,address)")[:4] + encode(["uint64", "address"], [7, ALICE])


# ---------------------------------------------------------------------------------------------- send loop


class FakeView:
    """Stands in for ChainView in the send loop: knows which orderRefs are used."""

    def __init__(self, used: set[bytes]):
        self.used = used
        self.recorded: dict[bytes, bytes] = {}  # ref -> digest of the issuance that used it

    def wait_settled(self, address, timeout, log):
        pass

    def pin(self):
        return 1

    def unpin(self):
        pass

    def call_many(self, calls):
        return [self.recorded.get(call.args[1], b"\x00" * 32) for call in calls]


class FakeSender:
    """Issues by marking orderRefs used; can be told to lose a race or to fail outright."""

    address = SENDER

    def __init__(self, view: FakeView, race: set[bytes] = frozenset(), fail: bool = False, foreign: bool = False):
        self.view, self.race, self.fail, self.foreign = view, set(race), fail, foreign
        self.sent: list[list[bytes]] = []

    def send(self, to, data):
        (orders,) = decode(["(uint256,address,uint256,bytes32)[]"], data[4:])
        refs = [o[3] for o in orders]
        if self.race & set(refs):  # someone else issued some of these just before us
            self.view.used |= self.race
            for o in orders:
                if o[3] in self.race:  # the same row's issuance, or (foreign) a different one under its reference
                    self.view.recorded[o[3]] = order_digest(o[0], o[1], o[2] + self.foreign)
            self.race = set()
            raise SendFailed("ContractLogicError: CreditOrderReferenceUsed")
        if self.fail:
            raise SendFailed("ContractLogicError: CreditPaused()")
        self.view.used |= set(refs)
        for o in orders:
            self.view.recorded[o[3]] = order_digest(o[0], o[1], o[2])
        self.sent.append(refs)
        return Sent(tx_hash=f"0x{len(self.sent):064x}", gas_used=100 * len(refs))


class Bar:
    def __init__(self):
        self.n = 0

    def update(self, n):
        self.n += n


def _plan(rows, size):
    orders = [Order(r, encode_id(1, 1)) for r in rows]
    return issuance.Plan("f.csv", rows, [], chunk(orders, size), ChainState())


def test_execute__race_on_some_rows__skips_them_and_issues_the_rest():
    rows = [_row(n) for n in range(2, 9)]
    view = FakeView(set())
    sender = FakeSender(view, race={rows[4].order_ref})
    bar, notes = Bar(), []
    summary = execute(_plan(rows, 3), view, issuance.Contracts("0xc", "0xr"), sender, progress=bar, log=notes.append)
    assert (summary.issued, summary.raced, summary.txs, summary.gas_used) == (6, 1, 3, 600)
    assert sorted(ref for refs in sender.sent for ref in refs) == sorted(r.order_ref for r in rows if r != rows[4])
    assert bar.n == 7
    assert notes == [
        "transaction 2/3: 1 row(s) were issued meanwhile by another transaction (lines 6): is another run issuing "
        "this file? Sending the rest; rows issued by someone else are listed at the end"
    ]
    assert summary.raced_lines == [6]
    assert "done by someone else: lines 6 were issued by another run" in summary.describe()


def test_execute__failure_without_race__stops_with_the_error_and_the_chunk():
    rows = [_row(n) for n in range(2, 6)]
    view = FakeView(set())
    with pytest.raises(IssuanceError) as info:
        execute(_plan(rows, 2), view, issuance.Contracts("0xc", "0xr"), FakeSender(view, fail=True))
    assert str(info.value).startswith(
        "transaction 1/2 (2 orders, lines 2..3) failed: ContractLogicError: CreditPaused()"
    )


class NonceClashSender(FakeSender):
    """The node refuses the first ``clashes`` sends for their nonce (another run of the same account used it)."""

    def __init__(self, view: FakeView, clashes: int):
        super().__init__(view)
        self.clashes = clashes

    def send(self, to, data):
        if self.clashes:
            self.clashes -= 1
            raise SendFailed("ValueError: {'code': -32003, 'message': 'nonce too low'}")
        return super().send(to, data)


def test_execute__nonce_taken_by_another_run__retried_not_failed():
    rows = [_row(n) for n in range(2, 6)]
    view = FakeView(set())
    sender = NonceClashSender(view, clashes=2)
    summary = execute(_plan(rows, 2), view, issuance.Contracts("0xc", "0xr"), sender)
    assert (summary.issued, summary.raced, summary.txs) == (4, 0, 2)


def test_execute__nonce_refused_every_time__stops_after_the_retries():
    rows = [_row(n) for n in range(2, 4)]
    view = FakeView(set())
    with pytest.raises(IssuanceError, match="nonce too low"):
        execute(_plan(rows, 2), view, issuance.Contracts("0xc", "0xr"), NonceClashSender(view, clashes=99))


def test_summary__describe_says_when_nothing_was_left():
    done = issuance.IssueSummary(rows=5, already_done=5, elapsed=0.4)
    assert done.describe() == "nothing to issue: all 5 rows were already issued on-chain (0.4 s)"
    run = issuance.IssueSummary(rows=5, issued=4, already_done=1, txs=2, gas_used=4000, elapsed=2.0)
    assert run.describe() == (
        "issued 4 rows now; 1 were already done before this run; 2 transaction(s), 4,000 gas (1,000/row); "
        "2.0 s, 2 rows/s"
    )


def test_execute__ref_used_meanwhile_by_a_different_issuance__conflict_raised_nothing_more_sent():
    rows = [_row(n) for n in range(2, 9)]
    view = FakeView(set())
    sender = FakeSender(view, race={rows[4].order_ref}, foreign=True)
    with pytest.raises(issuance.IssuanceError, match="line\\(s\\) 6 was used meanwhile by a different issuance"):
        execute(_plan(rows, 3), view, issuance.Contracts("0xc", "0xr"), sender)
    assert len(sender.sent) == 1  # the first chunk only


@pytest.mark.parametrize("recorded", ["same", "other-recipient", "other-amount", "other-batch"])
def test_split_done__ref_recorded_on_chain__done_only_when_it_is_this_rows_issuance(recorded):
    (row,) = parse_text(HEADER + f"VCS:VCS-1,ISS-1,{ALICE},1.5,INV-1\n")[0]
    token = encode_id(1, 1)
    digest = {
        "same": order_digest(token, ALICE, 1500),
        "other-recipient": order_digest(token, BOB, 1500),
        "other-amount": order_digest(token, ALICE, 1501),
        "other-batch": order_digest(encode_id(1, 2), ALICE, 1500),
    }[recorded]
    done, todo, conflicts = split_done([row], _state(recorded={row.order_ref: digest}), "f.csv")
    assert todo == []
    if recorded == "same":
        assert (done, conflicts) == ([row], [])
    else:
        assert done == [] and [str(p) for p in conflicts] == [
            f"f.csv:2: reference: 'INV-1' was already used in project VCS:VCS-1 by a different issuance "
            f"(not 1.5 t of this batch to {ALICE}); nothing is sent"
        ]


def test_parse_text__unterminated_quote__reported_on_the_line_it_opened():
    text = HEADER + f'VCS:VCS-1,ISS-1,{ALICE},1,"INV-1\nVCS:VCS-1,ISS-1,{ALICE},1,INV-2\n'
    rows, problems = parse_text(text, "f.csv")
    assert rows == [] and [(p.line, p.field) for p in problems] == [(2, "row")]
    assert "quoted field is not closed" in problems[0].message


@pytest.mark.parametrize("reference", ['"INV\x001"', '"INV\n1"', '"INV\x1b1"'])
def test_parse_text__control_character_in_reference__refused(reference):
    rows, problems = parse_text(HEADER + f"VCS:VCS-1,ISS-1,{ALICE},1,{reference}\n", "f.csv")
    assert rows == [] and [(p.line, p.field) for p in problems] == [(2, "reference")]
    assert "control character" in problems[0].message


NFC_PROBLEM = (
    'not in Unicode normal form NFC (the registry compares exact bytes); write it composed, e.g. "\u00c9" not '
    '"E"+U+0301'
)


def test_parse_text__reference_in_nfd__refused_not_rewritten():
    # NFC was once applied to every value (so the NFD spelling could not be issued a second time); it is refused
    # now instead, so no value reaches the chain in another form than the one typed.
    text = HEADER + f"VCS:VCS-1,ISS-1,{ALICE},1,Caf\u00e9\nVCS:VCS-1,ISS-1,{ALICE},1,Cafe\u0301\n"
    rows, problems = parse_text(text, "f.csv")
    assert [r.reference for r in rows] == ["Caf\u00e9"] and rows[0].order_ref == keccak("Caf\u00e9".encode())
    assert [str(p) for p in problems] == [f"f.csv:3: reference: {NFC_PROBLEM}"]


def test_parse_text__project_external_id_in_nfd__refused_never_looked_up_as_its_nfc_twin():
    # The registry keys a project by the bytes of its external id: VCS:CAFE+U+0301 and VCS:CAF+U+00C9 are two
    # projects; the NFD one must not be planned against the NFC one (audit PoC test_poc_csv_nfc_twin_project).
    rows, problems = parse_text(HEADER + f"VCS:CAFE\u0301-1,1,{ALICE},1,POC-NFC-1\n", "f.csv")
    assert rows == [] and [str(p) for p in problems] == [f"f.csv:2: project: {NFC_PROBLEM}"]
    (row,) = parse_text(HEADER + f"VCS:CAF\u00c9-1,1,{ALICE},1,POC-NFC-1\n", "f.csv")[0]
    assert row.project == ProjectRef("VCS", "CAF\u00c9-1")


def test_parse_text__batch_reference_in_nfd__refused():
    rows, problems = parse_text(HEADER + f"VCS:VCS-1,ISS-E\u0301,{ALICE},1,INV-1\n", "f.csv")
    assert rows == [] and [str(p) for p in problems] == [f"f.csv:2: batch: {NFC_PROBLEM}"]


@pytest.mark.parametrize(
    ("char", "named"),
    [
        ("\u200b", "U+200B ZERO WIDTH SPACE (an invisible format character)"),
        ("\u2060", "U+2060 WORD JOINER (an invisible format character)"),
        ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE (an invisible format character)"),
        ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE (an invisible format character)"),
        ("\u00ad", "U+00AD SOFT HYPHEN (an invisible format character)"),
        ("\u2028", "U+2028 LINE SEPARATOR (a line separator)"),
        ("\u2029", "U+2029 PARAGRAPH SEPARATOR (a paragraph separator)"),
        ("\u00a0", "U+00A0 NO-BREAK SPACE (a whitespace other than the plain space)"),
        ("\u3000", "U+3000 IDEOGRAPHIC SPACE (a whitespace other than the plain space)"),
    ],
)
def test_parse_text__invisible_or_separator_character_in_reference__refused_naming_it_and_its_position(char, named):
    # "INV-1" and "INV-1<ZWSP>" print the same but were two orderRefs, both issued (audit PoC
    # test_poc_csv_invisible_reference_chars).
    text = HEADER + f"VCS:VCS-1,ISS-1,{ALICE},1,INV-1\nVCS:VCS-1,ISS-1,{ALICE},1,INV{char}-1\n"
    rows, problems = parse_text(text, "f.csv")
    assert [r.reference for r in rows] == ["INV-1"]
    assert [str(p) for p in problems] == [f"f.csv:3: reference: contains {named} at character 4; not allowed"]


@pytest.mark.parametrize(
    ("column", "project", "batch"),
    [
        ("project", "VCS\u200b:VCS-1", "ISS-1"),
        ("project", "VCS:VCS\u202e-1", "ISS-1"),
        ("batch", "VCS:VCS-1", "ISS\u2028-1"),
    ],
)
def test_parse_text__invisible_character_in_project_or_batch__refused(column, project, batch):
    rows, problems = parse_text(HEADER + f"{project},{batch},{ALICE},1,INV-1\n", "f.csv")
    assert rows == [] and [(p.line, p.field) for p in problems] == [(2, column)]
    assert problems[0].message.startswith("contains U+") and "; not allowed" in problems[0].message


def test_parse_text__plain_space_and_composed_letters_in_identifiers__accepted():
    rows, problems = parse_text(HEADER + f"GS:Caf\u00e9 North,ISS 2021,{ALICE},1,Rechnung Nr. 7 \u00fc\n", "f.csv")
    assert problems == [] and rows[0].reference == "Rechnung Nr. 7 \u00fc"
    assert rows[0].project == ProjectRef("GS", "Caf\u00e9 North") and rows[0].batch == BatchRef("ISS 2021")


@pytest.mark.parametrize(
    "tonnes", ["1.0000000000000000000000000001", "0.9999999999999999999999999999999", "12.0000000000000000000000000001"]
)
def test_parse_text__tonnes_beyond_28_significant_digits__refused_not_rounded(tonnes):
    # Decimal's 28-digit context rounded these to whole tonnes before the decimals check (audit PoC
    # test_poc_parse_amount_precision).
    rows, problems = parse_text(HEADER + f"VCS:VCS-1,ISS-1,{ALICE},{tonnes},INV-1\n", "f.csv")
    assert rows == []
    assert [str(p) for p in problems] == [
        f"f.csv:2: tonnes: {tonnes} has more than 3 decimals (the smallest unit is 0.001 t = 1 kg)"
    ]
