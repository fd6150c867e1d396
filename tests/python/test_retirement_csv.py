"""Retirement requests without a chain: the CSV format and its static checks, the `retire one` options, the chain
checks on a given state, the calldata, and the send loop (window, races, failures) with a scripted sender."""

from __future__ import annotations

import pytest
from eth_abi import decode
from eth_utils import keccak

from tonne.chain.errors import SendFailed
from tonne.chain.send import Sent
from tonne.chain.view import Reverted
from tonne.core.csvinput import BatchRef, ProjectRef
from tonne.core.ids import encode_id
from tonne.retirement import (
    ISSUE_AND_RETIRE,
    RETIRE,
    RETIRE_BATCH,
    RETIRE_FROM,
    RETIREMENT_RECORDED_TOPIC,
    ZERO_ADDRESS,
    Batch,
    BatchInfo,
    ChainState,
    Contracts,
    Credit,
    Plan,
    ProjectInfo,
    Request,
    Retirement,
    RetirementError,
    auto_reference,
    check_against_chain,
    command_request,
    execute,
    group,
    parse_text,
    read_requests,
    retirement_ref,
    simulate_batches,
)
from tonne.retirement.checks import COMPLIANCE, certificate_mismatch
from tonne.retirement.plan import ACCESS_LIST_MARGIN, INPUT, REQUEST

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
HEADER = "project,batch,tonnes,beneficiary_name,reason,jurisdiction,period,reference\n"
Y2025 = (1735689600, 1767225599)  # 2025-01-01 00:00:00 .. 2025-12-31 23:59:59 UTC


def parse(body: str, header: str = HEADER):
    return parse_text(header + body, "r.csv")


def problems_of(body: str, header: str = HEADER) -> list[str]:
    return [str(p) for p in parse(body, header)[1]]


# ---------------------------------------------------------------------------------------------- good input


def test_parse__valid_rows__resolve_every_field():
    requests, problems = parse(
        "VCS:VCS-1748,VCU-2021,12.5,Acme GmbH,Scope 1 FY2025,DE,2025,RET-1\n"
        '7,2,0.001,"Beta, Inc.","Travel, 2025 H1",US-CA,2025-01-01:2025-06-30,RET-2\n'
    )
    assert problems == []
    first, second = requests
    assert first.credits == (Credit(ProjectRef("VCS", "VCS-1748"), BatchRef("VCU-2021"), 12_500),)
    assert (first.line, first.beneficiary, first.holder) == (2, ZERO_ADDRESS, None)
    assert (first.beneficiary_name, first.reason, first.jurisdiction, first.period) == (
        "Acme GmbH",
        "Scope 1 FY2025",
        "DE",
        Y2025,
    )
    assert first.retirement_ref == keccak(b"RET-1") == retirement_ref("RET-1")
    assert second.credits == (Credit(ProjectRef(project_id=7), BatchRef(number=2), 1),)
    assert (second.beneficiary_name, second.reason, second.jurisdiction) == ("Beta, Inc.", "Travel, 2025 H1", "US-CA")
    assert second.period == (1735689600, 1751327999)  # to 2025-06-30 23:59:59


def test_parse__optional_columns_in_any_order__beneficiary_and_holder_read():
    header = "reference,holder,period,jurisdiction,reason,beneficiary_name,tonnes,batch,project,beneficiary\n"
    requests, problems = parse(
        f"R-1,{ALICE.lower()},2024,FR,why,Name,1,1,1,{BOB}\nR-2,,2024,FR,why,Name,1,1,1,\n", header
    )
    assert problems == []
    assert (requests[0].holder, requests[0].beneficiary) == (ALICE, BOB)
    assert (requests[1].holder, requests[1].beneficiary) == (None, ZERO_ADDRESS)
    assert requests[1].holder_or(SENDER) == SENDER


# ---------------------------------------------------------------------------------------------- static problems


def test_parse__every_bad_field__reported_with_line_and_column():
    problems = problems_of(
        "VCS,B,1,Acme,why,DE,2025,R-1\n"  # 2: project
        "1,B,1.0001,Acme,why,DE,2025,R-2\n"  # 3: tonnes
        "1,B,1,,why,DE,2025,R-3\n"  # 4: beneficiary_name
        "1,B,1,Acme,,DE,2025,R-4\n"  # 5: reason
        "1,B,1,Acme,why,de,2025,R-5\n"  # 6: jurisdiction (lower case)
        "1,B,1,Acme,why,DEU,2025,R-6\n"  # 7: jurisdiction (alpha-3)
        "1,B,1,Acme,why,DE,2025-12-31:2025-01-01,R-7\n"  # 8: period backwards
        "1,B,1,Acme,why,DE,25,R-8\n"  # 9: period
        "1,B,1,Acme,why,DE,2025,\n"  # 10: reference
        "1,B,1,Acme,why,DE,2025,R-1\n"  # 11: duplicate reference
    )
    assert problems[0] == (
        "r.csv:2: project: 'VCS': expected STANDARD:EXTERNAL_ID (e.g. VCS:VCS-1234) or a numeric project id"
    )
    assert problems[1] == "r.csv:3: tonnes: 1.0001 has more than 3 decimals (the smallest unit is 0.001 t = 1 kg)"
    assert problems[2] == "r.csv:4: beneficiary_name: empty: the certificate needs a beneficiary name"
    assert problems[3] == "r.csv:5: reason: empty: the certificate needs a reason"
    assert problems[4] == "r.csv:6: jurisdiction: 'de' is not an ISO 3166 code such as DE or US-CA (upper case: DE)"
    assert problems[5] == "r.csv:7: jurisdiction: 'DEU' is not an ISO 3166 code such as DE or US-CA"
    assert problems[6].startswith("r.csv:8: period: period '2025-12-31:2025-01-01': ends before it starts")
    assert problems[7].startswith("r.csv:9: period: period '25': expected START:END dates")
    assert problems[8] == "r.csv:10: reference: empty: every row needs its own retirement reference"
    assert problems[9] == "r.csv:11: reference: 'R-1' is already used on line 2"
    assert len(problems) == 10


def test_parse__control_and_bidi_characters__refused_in_texts():
    problems = problems_of('1,B,1,"Acme\u202egnp",why,DE,2025,R-1\n1,B,1,Acme,"a\x1b[31mred",DE,2025,R-2\n')
    assert problems == [
        "r.csv:2: beneficiary_name: contains the control character U+202E; certificates take plain text",
        "r.csv:3: reason: contains the control character U+001B; certificates take plain text",
    ]


def test_parse__texts_longer_than_the_limits__refused():
    problems = problems_of(f"1,B,1,{'n' * 201},{'r' * 501},DE,2025,R-1\n1,B,1,{'n' * 200},{'r' * 500},DE,2025,R-2\n")
    assert problems == [
        "r.csv:2: beneficiary_name: 201 characters; at most 200",
        "r.csv:2: reason: 501 characters; at most 500",
    ]


def test_parse__zero_holder_and_bad_beneficiary__refused():
    header = HEADER.strip() + ",holder,beneficiary\n"
    problems = problems_of(f"1,B,1,A,w,DE,2025,R-1,0x{'0' * 40},{ALICE[:-1]}X\n", header)
    assert problems == [
        f"r.csv:2: beneficiary: '{ALICE[:-1]}X' is not an address (0x followed by 40 hex digits)",
        "r.csv:2: holder: the zero address holds no credits; leave it empty to retire the sending account's credits",
    ]


def test_parse__header_problems__named_and_the_expected_header_given():
    problems = problems_of("1,B,1,A,w,DE,2025,R-1\n", header="project,batch,tonnes,name,reason,jurisdiction,period\n")
    assert problems == [
        "r.csv:1: header: missing columns beneficiary_name, reference",
        "r.csv:1: header: unknown column name",
        "r.csv:1: header: expected exactly: project,batch,tonnes,beneficiary_name,reason,jurisdiction,period,"
        "reference, optionally beneficiary,holder (any order)",
    ]


def test_parse__wrong_field_count__reported():
    assert problems_of("1,B,1,A,w,DE,2025\n") == [
        "r.csv:2: row: 7 fields, expected 8 "
        "(project,batch,tonnes,beneficiary_name,reason,jurisdiction,period,reference)"
    ]


def test_read_requests__bad_file__raises_with_every_problem_and_summary(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "1,B,0,A,w,DE,2025,R-1\n1,B,1,A,w,XX-,2025,R-2\n")
    with pytest.raises(RetirementError) as info:
        read_requests(path)
    assert info.value.summary == f"{path}: 2 problems found, nothing was sent"
    assert [p.line for p in info.value.problems] == [2, 3]


# ---------------------------------------------------------------------------------------------- retire one


def one(**overrides):
    options = dict(
        project="VCS:VCS-1748",
        batches=["VCU-2021"],
        ids=[],
        amounts=["2.5"],
        beneficiary=None,
        name="Acme GmbH",
        reason="Scope 1 FY2025",
        jurisdiction="DE",
        period="2025",
        reference=None,
        sender=SENDER,
    )
    options.update(overrides)
    return command_request(**options)


def test_command_request__no_reference__derived_from_sender_and_content():
    request = one()
    assert request.reference.startswith("auto:") and len(request.reference) == 5 + 32
    assert one().reference == request.reference  # the same command twice: one retirement
    assert one(sender=ALICE).reference != request.reference  # another account: another retirement
    assert one(amounts=["2.501"]).reference != request.reference
    assert one(reason="Scope 2 FY2025").reference != request.reference
    assert one(reference="INV-9").reference == "INV-9"
    assert auto_reference(request, SENDER) == request.reference


def test_command_request__several_ids__one_request_with_every_credit():
    a, b = encode_id(3, 1), encode_id(4, 2)
    request = one(project=None, batches=[], ids=[a, b], amounts=["1", "0.5"])
    assert request.credits == (
        Credit(ProjectRef(project_id=3), BatchRef(number=1), 1_000),
        Credit(ProjectRef(project_id=4), BatchRef(number=2), 500),
    )
    assert request.units == 1_500 and request.line is None


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (dict(amounts=["1", "2"]), "retire one: --amount: 2 amount(s) for 1 batch(es): give one each"),
        (dict(ids=[5]), "retire one: --id: name credits by --id, or by --project and --batch, not both"),
        (dict(project=None, batches=[]), "retire one: --id: name the credits: --id TOKEN_ID, or --project and --batch"),
        (dict(project=None, batches=[], ids=[7]), "retire one: --id: 7 is not a credit token id"),
        (
            dict(jurisdiction="Germany"),
            "retire one: --jurisdiction: 'Germany' is not an ISO 3166 code such as DE or US-CA",
        ),
        (dict(issue=True, holder=ALICE), "retire one: --holder: issue-and-retire retires new credits: no holder"),
        (
            dict(issue=True, batches=["1", "2"], amounts=["1", "1"]),
            "retire one: --issue: issue-and-retire takes one batch",
        ),
        (dict(reference=" "), "retire one: --reference: empty: every row needs its own retirement reference"),
    ],
)
def test_command_request__bad_options__named_by_option(overrides, expected):
    with pytest.raises(RetirementError) as info:
        one(**overrides)
    assert expected in [str(p) for p in info.value.problems]


# ---------------------------------------------------------------------------------------------- chain checks

P, Q = 1, 2
A, B, C = encode_id(P, 1), encode_id(P, 2), encode_id(Q, 1)


def request(line: int, units: int = 1_000, *, batch: BatchRef | None = None, project: int = P, **kw) -> Request:
    fields = dict(
        line=line,
        credits=(Credit(ProjectRef(project_id=project), batch or BatchRef(number=1), units),),
        beneficiary=ZERO_ADDRESS,
        beneficiary_name="Acme",
        reason="why",
        jurisdiction="DE",
        period=Y2025,
        reference=f"R-{line}",
    )
    fields.update(kw)
    return Request(**fields)


def state(**overrides) -> ChainState:
    s = ChainState(
        project_ids={ProjectRef(project_id=P): P, ProjectRef(project_id=Q): Q},
        projects={
            P: ProjectInfo(status=2, restricted=False, issuer_ok=True),
            Q: ProjectInfo(status=2, restricted=False, issuer_ok=False),
        },
        batch_ids={(P, BatchRef(number=1)): A, (P, BatchRef(number=2)): B, (Q, BatchRef(number=1)): C},
        batches={A: BatchInfo(P, True, 10_000, 5_000), B: BatchInfo(P, False, 0, 0), C: BatchInfo(Q, True, 10, 10)},
        balances={(SENDER, A): 3_000, (ALICE, A): 1_000},
        approved={SENDER: True, ALICE: False},
        frozen={SENDER: False, ALICE: False},
    )
    for key, value in overrides.items():
        setattr(s, key, value)
    return s


def check(requests, s=None) -> list[str]:
    return [str(p) for p in check_against_chain(requests, s or state(), SENDER, "r.csv")]


def test_check__rows_within_balance__no_problem():
    assert check([request(2, 1_000), request(3, 2_000)]) == []


def test_check__rows_passing_the_balance__reported_where_it_is_passed_with_every_line():
    assert check([request(2, 1_000), request(3, 2_000), request(4, 1)]) == [
        f"r.csv:4: tonnes: {SENDER} holds 3 t of batch P1/B1 (batch number 1), but the 3 retirement(s) still to do "
        "need 3.001 t; that is passed here [3 rows: lines 2, 3, 4]"
    ]


def test_check__suspended_project__cannot_retire_and_says_why():
    s = state(
        projects={
            P: ProjectInfo(status=3, restricted=True, issuer_ok=True),
            Q: ProjectInfo(status=2, restricted=False, issuer_ok=False),
        }
    )
    assert check([request(2), request(3)], s) == [
        "r.csv:2: project: project 1 is Suspended: its credits cannot be retired (only the registrar's cancel removes "
        "them) [2 rows: lines 2, 3]"
    ]


def test_check__holder_without_approval_frozen_or_off_the_allowlist__each_reported():
    s = state(frozen={SENDER: False, ALICE: True}, permissioned=True, allowed={SENDER: True, ALICE: False})
    assert check([request(2, holder=ALICE)], s) == [
        f"r.csv:2: holder: {SENDER} may not retire credits of {ALICE}: the holder has not approved it on the credit "
        "token (setApprovalForAll)",
        f"r.csv:2: holder: {ALICE} is frozen by the regulator",
        f"r.csv:2: holder: {ALICE} is not on the allowlist (the token is permissioned)",
    ]


def test_check__unknown_project_and_batch_and_paused_token__reported():
    s = state(paused=True)
    problems = check(
        [request(2, project=9), request(3, batch=BatchRef(number=7)), request(4, batch=BatchRef(reference="NOPE"))], s
    )
    assert problems == [
        "r.csv: token: the credit token is paused by the regulator: nothing can be retired",
        "r.csv:2: project: project 9 does not exist",
        "r.csv:3: batch: project 1 has no batch number 7",
        "r.csv:4: batch: no batch has the issuance reference 'NOPE'",
    ]


def test_check__issue_and_retire__issuer_verification_cap_and_order_ref_checked():
    issue = request(2, 6_000, issue=True)
    assert check([issue]) == [
        "r.csv:2: tonnes: batch P1/B1 has 5 t left to issue (cap 10 t, 5 t issued), but the 1 retirement(s) still "
        "to do need 6 t; that is passed here"
    ]
    problems = check([request(2, issue=True, batch=BatchRef(number=2)), request(3, issue=True, project=Q)])
    assert problems == [
        "r.csv:2: batch: batch number 2 (P1/B2) is not verified yet",  # and no cap problem: its cap is 0 until then
        f"r.csv:3: project: {SENDER} is not an authorised issuer of project 2 (ISSUER_ROLE + setProjectIssuer)",
        "r.csv:3: tonnes: batch P2/B1 has 0 t left to issue (cap 0.01 t, 0.01 t issued), but the 1 retirement(s) "
        "still to do need 1 t; that is passed here",
    ]
    s = state(order_refs_used={issue.retirement_ref})
    assert check([request(2, issue=True)], s) == [
        "r.csv:2: reference: 'R-2' is already used as an issuance order reference"
    ]


def test_check__command_line_request__problems_name_the_options():
    cli = Request(
        line=None,
        credits=(Credit(ProjectRef(project_id=P), BatchRef(number=1), 5_000),),
        beneficiary=ZERO_ADDRESS,
        beneficiary_name="A",
        reason="w",
        jurisdiction="DE",
        period=Y2025,
        reference="X",
        holder=ALICE,
    )
    assert check([cli]) == [
        f"r.csv: --holder: {SENDER} may not retire credits of {ALICE}: the holder has not approved it on the credit "
        "token (setApprovalForAll)",
        f"r.csv: --amount: {ALICE} holds 1 t of batch P1/B1 (batch number 1), but the 1 retirement(s) still to do "
        "need 5 t; that is passed here",
    ]


# ---------------------------------------------------------------------------------------------- calldata


def test_calldata__own_credits_other_holder_and_issue__encode_the_right_function():
    own = Retirement(request(2, 1_500, beneficiary=BOB), (A,))
    data = own.calldata(SENDER)
    assert data[:4] == keccak(text=RETIRE)[:4]
    ids, amounts, inp = decode(["uint256[]", "uint256[]", INPUT], data[4:])
    assert (list(ids), list(amounts)) == ([A], [1_500])
    assert inp == (BOB.lower(), "Acme", "why", "DE", *Y2025, keccak(b"R-2"))

    other = Retirement(request(3, holder=ALICE), (A,)).calldata(SENDER)
    assert other[:4] == keccak(text=RETIRE_FROM)[:4]
    assert decode(["address"], other[4:36])[0] == ALICE.lower()

    issued = Retirement(request(4, 700, issue=True), (A,)).calldata(SENDER)
    assert issued[:4] == keccak(text=ISSUE_AND_RETIRE)[:4]
    token_id, amount, order_ref, inp = decode(["uint256", "uint256", "bytes32", INPUT], issued[4:])
    assert (token_id, amount, order_ref) == (A, 700, keccak(b"R-4"))


# ---------------------------------------------------------------------------------------------- send loop


class ScriptedSender:
    """Submits into a list; ``fail`` maps a reference to the exception its submit (or wait) raises."""

    address = SENDER

    def __init__(self, fail_submit=(), fail_wait=()):
        self.fail_submit, self.fail_wait = set(fail_submit), set(fail_wait)
        self.submitted: list[str] = []
        self.in_flight_max = 0
        self._open: list[str] = []

    def submit(self, to, data, gas=None):
        _, _, inp = decode(["uint256[]", "uint256[]", INPUT], data[4:])
        ref = inp[6]
        if ref in self.fail_submit:
            raise SendFailed("node refused")
        self.submitted.append(ref)
        self._open.append(ref)
        self.in_flight_max = max(self.in_flight_max, len(self._open))
        return "0x" + ref.hex()

    def wait(self, tx_hash):
        ref = bytes.fromhex(tx_hash[2:])
        self._open.remove(ref)
        if ref in self.fail_wait:
            raise SendFailed(f"transaction {tx_hash} reverted")
        number = len(self.submitted) - len(self._open)
        log = {"address": RETIREMENT, "topics": [RETIREMENT_RECORDED_TOPIC, f"0x{number:064x}"]}
        return Sent(tx_hash=tx_hash, gas_used=150_000, block_number=number, logs=(log,))


RETIREMENT = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
CONTRACTS = Contracts(credit="0x" + "11" * 20, registry="0x" + "22" * 20, retirement=RETIREMENT)


def own_certificate(units: int = 1_000) -> tuple:
    """The ``certificate(uint256)`` tuple of a request() row's own retirement (SENDER's ``units`` of A)."""
    return (SENDER, SENDER, A, units, 1, 0, 1, *Y2025, b"DE")


class FakeView:
    """certificateOfReference(account, ref) answers from ``used`` (ref -> certificate id, for SENDER) or ``used_by``
    ((account, ref) -> id); certificate(id) from ``certificates`` (default: the row's own); wait_settled returns."""

    def __init__(self, used=None, certificates=None, used_by=None):
        self.used_by = {(SENDER.lower(), ref): cid for ref, cid in (used or {}).items()}
        self.used_by.update({(a.lower(), ref): cid for (a, ref), cid in (used_by or {}).items()})
        self.certificates = certificates or {}

    block: int | str = "latest"
    blocks_read: list = []  # the block of every call_many round

    def wait_settled(self, *args, **kwargs):
        return None

    def pin(self):
        self.block = 7
        return 7

    def unpin(self):
        self.block = "latest"

    def call_many(self, calls):
        self.blocks_read = [*self.blocks_read, self.block]
        return [self._call(call) for call in calls]

    def _call(self, call):
        if call.signature == "certificateOfReference(address,bytes32)":
            account, ref = call.args
            return self.used_by.get((account.lower(), ref), 0)
        assert call.signature == "certificate(uint256)", call.signature
        return self.certificates.get(call.args[0], own_certificate())


def plan_of(n: int) -> Plan:
    todo = [Retirement(request(line), (A,)) for line in range(2, 2 + n)]
    return Plan("r.csv", [t.request for t in todo], [], todo, state(), SENDER)


def test_execute__window__keeps_that_many_in_flight_and_records_certificates_in_order():
    sender = ScriptedSender()
    summary = execute(plan_of(10), FakeView(), CONTRACTS, sender, window=4)
    assert sender.in_flight_max == 4
    assert [c.certificate_id for c in summary.certified] == list(range(1, 11))
    assert [c.retirement.request.line for c in summary.certified] == list(range(2, 12))
    assert (summary.retired, summary.gas_used, summary.raced) == (10, 1_500_000, 0)


def test_execute__failed_retirement_done_meanwhile__counted_as_raced_and_the_rest_sent():
    raced = keccak(b"R-4")
    sender = ScriptedSender(fail_wait={raced})
    summary = execute(plan_of(6), FakeView(used={raced: 42}), CONTRACTS, sender, window=2)
    assert summary.raced == 1 and (request(4), 42) in summary.done
    assert summary.retired == 5  # the lost race settled, the run went on with lines 6 and 7
    assert [c.retirement.request.line for c in summary.certified] == [2, 3, 5, 6, 7]


def test_execute__failed_retirement_whose_reference_is_another_certificate__conflict_not_raced():
    used = keccak(b"R-4")
    sender = ScriptedSender(fail_wait={used})
    other = own_certificate(units=1)  # SENDER used R-4 for 1 unit, line 4 retires 1000
    view = FakeView(used={used: 42}, certificates={42: other})
    with pytest.raises(RetirementError) as info:
        execute(plan_of(6), view, CONTRACTS, sender, window=2)
    message = str(info.value)
    assert message.startswith(f"the retirement of line 4 (R-4) failed: conflict: {SENDER} already used the reference")
    assert "certificate #42, which is not this retirement (total 1 (this row: 1000))" in message
    # The one report format: the row at fault as file:line: field: message.
    assert [(p.path, p.line, p.field) for p in info.value.problems] == [("r.csv", 4, "reference")]
    assert f"\nr.csv:4: reference: the retirement failed: conflict: {SENDER} already used" in message


def test_execute__failed_retirement_whose_reference_another_account_used__real_failure_not_raced():
    used = keccak(b"R-4")
    sender = ScriptedSender(fail_wait={used})
    view = FakeView(used_by={(ALICE, used): 42})  # a stranger's certificate under the same reference
    with pytest.raises(RetirementError, match=r"line 4 \(R-4\) failed: transaction 0x[0-9a-f]+ reverted"):
        execute(plan_of(6), view, CONTRACTS, sender, window=2)


def test_execute__recheck_after_a_failure__every_read_at_one_pinned_block():
    raced = keccak(b"R-4")
    view = FakeView(used={raced: 42})
    execute(plan_of(6), view, CONTRACTS, ScriptedSender(fail_wait={raced}), window=2)
    assert view.blocks_read == [7, 7] and view.block == "latest"  # certificateOfReference, then certificate(42)


def test_execute__window__submit_refused_while_earlier_fail__problems_and_retries_in_file_order():
    # Line 5's wait fails, and line 6's submit is refused while 5 is still in flight: 6 fails first, 5 after.
    sender = ScriptedSender(fail_submit={keccak(b"R-6")}, fail_wait={keccak(b"R-5")})
    with pytest.raises(RetirementError) as info:
        execute(plan_of(8), FakeView(), CONTRACTS, sender, window=3)
    assert [p.line for p in info.value.problems] == [5, 6]
    assert str(info.value).startswith("the retirement of line 5 (R-5) failed: transaction 0x")


def test_certificate_mismatch__own_certificate__none_and_each_other_field_named():
    assert certificate_mismatch(own_certificate(), SENDER, ZERO_ADDRESS, [A], [1_000]) is None
    assert certificate_mismatch(own_certificate(), SENDER.lower(), SENDER, [A], [600, 400]) is None
    stranger = (ALICE, ALICE, A, 1_000, 1, 0, 1, *Y2025, b"DE")
    assert certificate_mismatch(stranger, SENDER, ZERO_ADDRESS, [A], [1_000]) == (
        f"retiring account {ALICE.lower()} (this row: {SENDER.lower()}); "
        f"beneficiary {ALICE.lower()} (this row: {SENDER.lower()})"
    )
    assert certificate_mismatch(own_certificate(), SENDER, BOB, [A], [1_000]) == (
        f"beneficiary {SENDER.lower()} (this row: {BOB.lower()})"
    )
    assert certificate_mismatch(own_certificate(), SENDER, ZERO_ADDRESS, [B, A], [500, 500]) == (
        f"first id {A} (this row: {B}); id count 1 (this row: 2)"
    )
    assert certificate_mismatch(
        own_certificate(), SENDER, ZERO_ADDRESS, [A], [1_000], COMPLIANCE, "this surrender"
    ) == ("purpose voluntary (this surrender: compliance)")


def test_execute__real_failure__stops_submitting_and_names_the_line():
    sender = ScriptedSender(fail_submit={keccak(b"R-5")})
    with pytest.raises(RetirementError, match=r"the retirement of line 5 \(R-5\) failed: node refused"):
        execute(plan_of(8), FakeView(), CONTRACTS, sender, window=3)
    assert sender.submitted == [keccak(f"R-{n}".encode()) for n in (2, 3, 4)]  # nothing after line 5


@pytest.mark.parametrize("bad", ["12,50", "1_000", "1e3", "\u0661\u0662", " 12", ""])
def test_command_request__amount_not_plain_decimal__refused_naming_amount(bad):
    with pytest.raises(RetirementError) as info:
        one(amounts=[bad])
    assert any(str(p).startswith("retire one: --amount: ") for p in info.value.problems), info.value.problems


@pytest.mark.parametrize("period", ["1969", "1969-12-31:1970-01-31"])
def test_command_request__period_before_1970__refused_naming_period(period):
    with pytest.raises(RetirementError) as info:
        one(period=period)
    assert any(str(p).startswith("retire one: --period: ") and "before 1970" in str(p) for p in info.value.problems)


def test_command_request__period_ending_after_2106__refused_under_period_not_reference():
    with pytest.raises(RetirementError) as info:
        one(period="2106-01-01:2106-12-31")
    assert [p.field for p in info.value.problems] == ["--period"]
    assert "2106-02-07" in str(info.value.problems[0])


def test_retirement_csv__period_before_1970__reported_on_its_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "project,batch,tonnes,beneficiary_name,reason,jurisdiction,period,reference\n"
        "VCS:VCS-1,1,1,Acme,Scope 1,DE,1969,R-1\n"
    )
    with pytest.raises(RetirementError) as info:
        read_requests(path)
    assert [(p.line, p.field) for p in info.value.problems] == [(2, "period")]


def test_parse__unterminated_quote__reported_on_the_line_it_opened():
    requests, problems = parse('7,2,1,Acme,"Scope 1,DE,2025,RET-1\n7,2,1,Acme,Scope 1,DE,2025,RET-2\n')
    assert requests == [] and [(p.line, p.field) for p in problems] == [(2, "row")]
    assert "quoted field is not closed" in problems[0].message


def test_parse__control_character_in_reference__refused():
    requests, problems = parse('7,2,1,Acme,Scope 1,DE,2025,"RET\x001"\n7,2,1,Acme,Scope 1,DE,2025,"RET\n2"\n')
    assert requests == [] and [(p.line, p.field) for p in problems] == [(2, "reference"), (3, "reference")]


def test_parse__reference_in_nfd__refused_not_rewritten():
    requests, problems = parse("7,2,1,Acme,Scope 1,DE,2025,R\u00c9T\n7,2,1,Acme,Scope 1,DE,2025,RE\u0301T\n")
    assert [r.retirement_ref for r in requests] == [keccak("R\u00c9T".encode())]
    assert [str(p) for p in problems] == [
        "r.csv:3: reference: not in Unicode normal form NFC (the registry compares exact bytes); write it composed, "
        'e.g. "\u00c9" not "E"+U+0301'
    ]


def test_parse__beneficiary_name_in_nfd__refused():
    requests, problems = parse("7,2,1,Jose\u0301 SA,Scope 1,DE,2025,RET-1\n")
    assert requests == [] and [(p.line, p.field) for p in problems] == [(2, "beneficiary_name")]
    assert problems[0].message.startswith("not in Unicode normal form NFC")


def test_parse__zero_width_twin_references__second_refused_naming_the_code_point():
    requests, problems = parse("7,2,1,Acme,Scope 1,DE,2025,RET-1\n7,2,1,Acme,Scope 1,DE,2025,RET-1\u200b\n")
    assert len(requests) == 1
    assert [str(p) for p in problems] == [
        "r.csv:3: reference: contains U+200B ZERO WIDTH SPACE (an invisible format character) at character 6; "
        "not allowed"
    ]


# ---------------------------------------------------------------------------------------------- batches


def test_group__batch_size__consecutive_rows_in_order_issue_and_retire_alone():
    todo = [Retirement(request(line, issue=line == 5), (A,)) for line in range(2, 10)]
    batches = group(todo, 3)
    assert [[t.request.line for t in b.retirements] for b in batches] == [[2, 3, 4], [5], [6, 7, 8], [9]]
    assert [[t.request.line for t in b.retirements] for b in group(todo)] == [[n] for n in range(2, 10)]
    with pytest.raises(ValueError, match="batch size must be at least 1, got 0"):
        group(todo, 0)


def test_batch_calldata__one_row_is_its_own_call_several_are_retire_batch_with_each_holder():
    own, theirs = Retirement(request(2), (A,)), Retirement(request(3, 250, holder=ALICE), (A,))
    assert Batch((own,)).calldata(SENDER) == own.calldata(SENDER)
    data = Batch((own, theirs)).calldata(SENDER)
    assert data[:4] == keccak(text=RETIRE_BATCH)[:4]
    (entries,) = decode([f"{REQUEST}[]"], data[4:])
    assert [(e[0].lower(), e[1], e[2], e[3][6]) for e in entries] == [
        (SENDER.lower(), (A,), (1_000,), keccak(b"R-2")),
        (ALICE.lower(), (A,), (250,), keccak(b"R-3")),
    ]


class BatchSender:
    """Sends ``retire`` and ``retireBatch`` calldata into a list, numbering certificates on-chain style; a
    transaction holding a reference of ``fail`` reverts (as a whole), once per reference."""

    address = SENDER

    def __init__(self, fail=()):
        self.fail = set(fail)
        self.transactions: list[list[bytes]] = []
        self.certificates = 0
        self._pending: dict[str, list[bytes]] = {}

    def submit(self, to, data, gas=None):
        if data[:4] == keccak(text=RETIRE_BATCH)[:4]:
            refs = [e[3][6] for e in decode([f"{REQUEST}[]"], data[4:])[0]]
        else:
            refs = [decode(["uint256[]", "uint256[]", INPUT], data[4:])[2][6]]
        tx_hash = "0x" + keccak(b"".join(refs) + len(self.transactions).to_bytes(8, "big")).hex()
        self.transactions.append(refs)
        self._pending[tx_hash] = refs
        return tx_hash

    def wait(self, tx_hash):
        refs = self._pending.pop(tx_hash)
        if self.fail & set(refs):
            self.fail -= set(refs)
            raise SendFailed(f"transaction {tx_hash} reverted")
        logs = []
        for _ in refs:
            self.certificates += 1
            logs.append({"address": RETIREMENT, "topics": [RETIREMENT_RECORDED_TOPIC, f"0x{self.certificates:064x}"]})
        return Sent(tx_hash=tx_hash, gas_used=100_000 * len(refs), block_number=1, logs=tuple(logs))


class EstimatingView(FakeView):
    """A FakeView whose eth_estimateGas refuses the rows of ``refuse`` (ref -> error), alone or in a batch."""

    def __init__(self, refuse=None, **kw):
        super().__init__(**kw)
        self.refuse = refuse or {}
        self.estimated: list[int] = []  # rows per estimated transaction

    def estimate_many(self, calls):
        out = []
        for _, data, _ in calls:
            if data[:4] == keccak(text=RETIRE_BATCH)[:4]:
                refs = [e[3][6] for e in decode([f"{REQUEST}[]"], data[4:])[0]]
            else:
                refs = [decode(["uint256[]", "uint256[]", INPUT], data[4:])[2][6]]
            self.estimated.append(len(refs))
            errors = [self.refuse[r] for r in refs if r in self.refuse]
            out.append(Reverted(b"", errors[0]) if errors else 100_000 * len(refs))
        return out


def batched_plan(n: int, size: int) -> Plan:
    plan = plan_of(n)
    plan.batches = group(plan.todo, size)
    return plan


def test_execute__batches__one_transaction_each_certificates_in_row_order():
    sender = BatchSender()
    summary = execute(batched_plan(10, 4), FakeView(), CONTRACTS, sender, window=2)
    assert [len(t) for t in sender.transactions] == [4, 4, 2]
    assert [c.certificate_id for c in summary.certified] == list(range(1, 11))
    assert [c.retirement.request.line for c in summary.certified] == list(range(2, 12))
    assert (summary.retired, summary.txs, summary.gas_used) == (10, 3, 1_000_000)
    assert summary.describe().startswith("retired 10 now (certificates #1..#10); 0 were already done before this run")


def test_execute__batch_fails_for_a_row_done_meanwhile__raced_and_the_rest_of_its_batch_sent_again():
    raced = keccak(b"R-5")
    sender = BatchSender(fail={raced})
    summary = execute(batched_plan(8, 4), FakeView(used={raced: 42}), CONTRACTS, sender, window=2)
    # [2..5] reverted for line 5 (done by another transaction as certificate #42); 2, 3, 4 go again, then [6..9].
    assert [[r.hex()[:6] for r in t] for t in sender.transactions] == [
        [keccak(f"R-{n}".encode()).hex()[:6] for n in line] for line in ([2, 3, 4, 5], [6, 7, 8, 9], [2, 3, 4])
    ]
    assert summary.raced == 1 and (request(5), 42) in summary.done
    assert sorted(c.retirement.request.line for c in summary.certified) == [2, 3, 4, 6, 7, 8, 9]
    assert summary.retired + summary.raced == 8  # every row exactly once


def test_execute__batch_fails_with_no_row_done__stops_naming_the_row_that_fails_alone():
    bad = keccak(b"R-4")
    sender = BatchSender(fail={bad})
    view = EstimatingView(refuse={bad: "ERC1155InsufficientBalance(...)"})
    with pytest.raises(RetirementError) as info:
        execute(batched_plan(8, 4), view, CONTRACTS, sender, window=1)
    message = str(info.value)
    assert message.startswith(
        "the retirement of line 4 (R-4) failed: the retirement contract refuses it: ERC1155InsufficientBalance(...)"
    )
    assert "(and 3 more after it). 0 retirement(s) of this run stand; fix the cause and run again" in message
    assert len(sender.transactions) == 1  # nothing sent after the failed batch


def test_simulate_batches__refused_batch__named_by_its_row_and_the_others_pass():
    todo = [Retirement(request(line), (A,)) for line in range(2, 8)]
    bad = keccak(b"R-6")
    view = EstimatingView(refuse={bad: "RetirementEmptyField(reason)"})

    def access_lists(requests):  # eth_createAccessList: one execution each; a revert is an error
        out = []
        for method, (tx, block) in requests:
            assert (method, block) == ("eth_createAccessList", "0x7")
            fails = bad.hex() in tx["data"]
            out.append(
                {"error": {"code": 3, "message": "execution reverted"}} if fails else {"result": {"gasUsed": "0x15f90"}}
            )
        return out

    view.rpc_many = access_lists
    view.block = 7
    problems, batches = simulate_batches(group(todo, 3), view, CONTRACTS, SENDER, "r.csv")
    assert [str(p) for p in problems] == [
        "r.csv:6: reference: the retirement contract would refuse it: RetirementEmptyField(reason)"
    ]
    assert [b.gas for b in batches] == [int(90_000 * ACCESS_LIST_MARGIN), None]
    assert view.estimated == [3, 1, 1, 1]  # estimated only the refused batch, then its rows alone


def test_certificate_mismatch__jurisdiction_country_and_period__compared_when_given():
    own = own_certificate()
    assert certificate_mismatch(own, SENDER, ZERO_ADDRESS, [A], [1_000], jurisdiction="DE", period=Y2025) is None
    assert certificate_mismatch(own, SENDER, ZERO_ADDRESS, [A], [1_000], jurisdiction="de-by", period=Y2025) is None
    assert certificate_mismatch(own, SENDER, ZERO_ADDRESS, [A], [1_000], jurisdiction="FR") == (
        "jurisdiction country DE (this row: FR)"
    )
    other = (Y2025[0], Y2025[1] - 1)
    assert certificate_mismatch(own, SENDER, ZERO_ADDRESS, [A], [1_000], period=other) == (
        f"period {Y2025[0]}..{Y2025[1]} (this row: {other[0]}..{other[1]})"
    )
