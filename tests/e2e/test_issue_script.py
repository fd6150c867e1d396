"""`ape run issue` run as a user runs it, against our own Anvil: happy path, refusals, re-runs, dry runs, and
SIGKILL at several points followed by a resume. A few in-process checks of the same code close the file."""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from tonne.core.ids import project_of
from tonne.core.units import tonnes_to_units
from tonne.issuance import (
    Call,
    ChainView,
    Contracts,
    IssuanceError,
    PendingTransactionsError,
    Web3Sender,
    chunk,
    execute,
    group_by_project,
    plan_file,
    read_rows,
    run_file,
    scan,
)
from tonne.issuance.plan import auto_chunk_size
from tonne.issuance.send import DEFAULT_WINDOW

HEADER = "project,batch,recipient,tonnes,reference"
# Anvil's first dev key (public, from the test mnemonic): the TEST::0 account the scripts use.
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def fresh_address() -> str:
    return to_checksum_address(keccak(random.randbytes(32))[:20])


@dataclass
class Scenario:
    """Rows of a CSV file, each with the token id it must land on."""

    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)

    def add(self, project: str, batch: str, recipient: str, tonnes: str, token_id: int, reference: str = "") -> None:
        reference = reference or f"INV-{time.time_ns()}-{len(self.rows)}"
        self.rows.append((project, batch, recipient, tonnes, reference))
        self.tokens.append(token_id)

    def write(self, path: Path) -> Path:
        path.write_text("\n".join([HEADER, *(",".join(row) for row in self.rows)]) + "\n")
        return path

    def expected(self) -> dict[tuple[int, str], int]:
        """(token id, recipient) -> units."""
        totals: Counter = Counter()
        for (_, _, recipient, tonnes, _), token_id in zip(self.rows, self.tokens, strict=True):
            totals[(token_id, to_checksum_address(recipient))] += tonnes_to_units(tonnes)
        return dict(totals)


def build(deployment: Any, rows: int, *, projects: int = 2, recipients: int = 5) -> Scenario:
    """``rows`` rows over ``projects`` fresh projects of two verified batches each, mixing every way of naming."""
    holders = [fresh_address() for _ in range(recipients)]
    targets = []
    for _ in range(projects):
        project_id, name = deployment.project()
        for _ in range(2):
            token_id, reference = deployment.batch(project_id, 1_000_000)
            targets.append((project_id, name, token_id, reference))
    scenario = Scenario()
    for i in range(rows):
        project_id, name, token_id, reference = targets[i % len(targets)]
        project = name if i % 2 else str(project_id)
        batch = reference if i % 3 else str(token_id & ((1 << 64) - 1))
        recipient = holders[i % recipients]
        recipient = recipient.lower() if i % 4 == 0 else recipient
        scenario.add(project, batch, recipient, f"{1 + i % 7}.{i % 1000:03d}", token_id)
    return scenario


def assert_issued_exactly_once(deployment: Any, scenario: Scenario) -> None:
    """Every row issued once: one Issued event per row with its orderRef, balances and supplies equal the sums."""
    tokens = sorted(set(scenario.tokens))
    logs = deployment.issued_logs(tokens)
    refs = [bytes.fromhex(log["data"][2 + 64 :]) for log in logs]
    assert len(logs) == len(scenario.rows)
    assert sorted(refs) == sorted(keccak(text=row[4]) for row in scenario.rows)
    view = ChainView(deployment.w3)
    credit = deployment.credit.address
    ids = [int(t if isinstance(t, str) else t.hex(), 16) for t in (log["topics"][1] for log in logs)]
    used = view.call_many(
        [
            Call(credit, "isOrderReferenceUsed(uint64,bytes32)", (project_of(i), r), ("bool",))
            for i, r in zip(ids, refs, strict=True)
        ]
    )
    assert all(used)
    expected = scenario.expected()
    balances = view.call_many(
        [Call(credit, "balanceOf(address,uint256)", (holder, token), ("uint256",)) for token, holder in expected]
    )
    assert dict(zip(expected, balances, strict=True)) == expected
    for token in tokens:
        issued = sum(units for (t, _), units in expected.items() if t == token)
        assert deployment.credit.functions.totalIssued(token).call() == issued


def chain_mark(deployment: Any) -> tuple[int, int, int]:
    latest, pending = deployment.anvil.nonces(deployment.admin)
    return deployment.w3.eth.block_number, latest, pending


def issue(deployment: Any, csv: Path, *args: str) -> subprocess.CompletedProcess:
    return deployment.run("issue", "--csv", str(csv), *args)


# ---------------------------------------------------------------------------------------------- (a) happy path


def test_issue__valid_file__balances_and_supplies_match_the_csv(deployment, tmp_path):
    scenario = build(deployment, 25)
    result = issue(deployment, scenario.write(tmp_path / "ok.csv"), "--chunk-size", "7")
    assert result.returncode == 0, result.stderr
    assert "issued 25 rows now; 0 were already done before this run; 4 transaction(s)" in result.stdout
    assert_issued_exactly_once(deployment, scenario)


# ---------------------------------------------------------------------------------------------- (b) static errors


def test_issue__bad_rows__reports_each_with_file_line_field_and_sends_nothing(deployment, tmp_path):
    good = build(deployment, 2)
    path = tmp_path / "bad.csv"
    project, batch, recipient, _, _ = good.rows[0]
    lines = [
        HEADER,
        ",".join(good.rows[0]),  # line 2: good
        f"{project},{batch},{recipient[:-1]}G,1,R-3",  # line 3: recipient
        f"{project},{batch},{recipient},1.0001,R-4",  # line 4: tonnes
        ",".join(good.rows[1]),  # line 5: good
        f"VCS,{batch},{recipient},0,{good.rows[0][4]}",  # line 6: project, tonnes, duplicate reference
    ]
    path.write_text("\n".join(lines) + "\n")
    before = chain_mark(deployment)
    result = issue(deployment, path)
    assert result.returncode == 1
    for where in ("3: recipient:", "4: tonnes:", "6: project:", "6: tonnes:", "6: reference:"):
        assert f"{path}:{where}" in result.stderr
    assert f"{path}: 5 problems found, nothing was sent" in result.stderr
    assert chain_mark(deployment) == before
    assert deployment.issued_logs(sorted(set(good.tokens))) == []


def test_issue__project_named_in_nfd_with_an_nfc_twin_on_chain__refused_and_nothing_sent(deployment, tmp_path):
    # Two projects whose external ids differ only in Unicode form ("E"+U+0301 and U+00C9) are two projects on
    # chain; the file's NFD name was once rewritten to NFC and issued from the twin (audit PoC
    # test_poc_csv_nfc_twin_project).
    serial = time.time_ns()
    nfd_id, nfd = deployment.project(external_id=f"CAFE\u0301-{serial}")
    nfc_id, _ = deployment.project(external_id=f"CAF\u00c9-{serial}")
    assert nfd_id != nfc_id
    nfd_token, _ = deployment.batch(nfd_id, 1_000)
    nfc_token, _ = deployment.batch(nfc_id, 1_000)
    path = tmp_path / "nfd.csv"
    path.write_text(f"{HEADER}\n{nfd},1,{fresh_address()},1,NFD-{serial}\n", encoding="utf-8")
    before = chain_mark(deployment)
    result = issue(deployment, path)
    assert result.returncode == 1
    assert f"{path}:2: project: not in Unicode normal form NFC (the registry compares exact bytes)" in result.stderr
    assert chain_mark(deployment) == before
    assert deployment.issued_logs([nfd_token, nfc_token]) == []


# ---------------------------------------------------------------------------------------------- (c) chain errors


def test_issue__rows_the_chain_refuses__all_reported_and_nothing_sent(deployment, tmp_path):
    project_id, name = deployment.project()
    token_id, reference = deployment.batch(project_id, 10)
    unverified_id, unverified_ref = deployment.batch(project_id, 10, verify=False)
    _, pending_name = deployment.project(approve=False, authorize=False)
    other_id, other_name = deployment.project(authorize=False)
    other_token, other_ref = deployment.batch(other_id, 10)
    frozen = fresh_address()
    deployment.transact(deployment.credit.functions.setFrozen(frozen, True, "court order"))
    holder = fresh_address()
    scenario = Scenario()
    scenario.add(name, reference, holder, "6", token_id)  # line 2: good on its own
    scenario.add(name, unverified_ref, holder, "1", unverified_id)  # line 3: unverified batch
    scenario.add(name, reference, holder, "4.001", token_id)  # line 4: passes the cap (10 t)
    scenario.add("VCS:NO-SUCH-PROJECT", "ISS-X", holder, "1", 0)  # line 5: unknown project
    scenario.add(pending_name, "1", holder, "1", 0)  # line 6: project not approved
    scenario.add(other_name, other_ref, holder, "1", other_token)  # line 7: sender not an issuer of it
    scenario.add(name, reference, frozen, "1", token_id)  # line 8: frozen recipient (and past the cap)
    scenario.add(name, "1", deployment.registry.address, "1", token_id)  # line 9: contract without 1155 hook
    scenario.add(name, other_ref, holder, "1", other_token)  # line 10: batch of another project
    path = scenario.write(tmp_path / "refused.csv")
    before = chain_mark(deployment)
    result = issue(deployment, path)
    assert result.returncode == 1
    expected = {
        3: "batch: issuance reference",
        4: "tonnes: batch",
        5: "project: no project 'NO-SUCH-PROJECT' of standard 'VCS' is registered",
        6: "project: project",
        7: "project: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 is not an authorised issuer",
        8: f"recipient: {frozen} is frozen by the regulator",
        9: f"recipient: contract {deployment.registry.address} rejects the credits: ERC1155InvalidReceiver",
        10: f"batch: issuance reference {other_ref!r} is batch",
    }
    for line, text in expected.items():
        assert f"{path}:{line}: {text}" in result.stderr, (line, result.stderr)
    assert "is not verified yet" in result.stderr
    assert "is Pending; credits can be issued only while it is Approved" in result.stderr
    assert "has 10 t left to issue (cap 10 t, 0 t issued), but its 4 row(s) still to issue need 12.001 t" in (
        result.stderr
    )
    assert chain_mark(deployment) == before
    assert deployment.issued_logs([token_id, unverified_id, other_token]) == []


# ---------------------------------------------------------------------------------------------- (d) re-run


def test_issue__finished_file_run_again__issues_nothing_and_says_so(deployment, tmp_path):
    scenario = build(deployment, 6, projects=1)
    path = scenario.write(tmp_path / "twice.csv")
    assert issue(deployment, path).returncode == 0
    before = chain_mark(deployment)
    again = issue(deployment, path)
    assert again.returncode == 0, again.stderr
    assert "nothing to issue: all 6 rows were already issued on-chain" in again.stdout
    assert chain_mark(deployment) == before
    assert_issued_exactly_once(deployment, scenario)


# ---------------------------------------------------------------------------------------------- (f) dry run


def test_issue__dry_run__prints_the_plan_and_sends_nothing(deployment, tmp_path):
    scenario = build(deployment, 12, projects=2)
    path = scenario.write(tmp_path / "dry.csv")
    before = chain_mark(deployment)
    result = issue(deployment, path, "--dry-run", "--chunk-size", "5")
    assert result.returncode == 0, result.stderr
    assert f"{path}: 12 rows; 0 already issued on-chain; 12 to issue in 3 transaction(s)" in result.stdout
    assert "tx 3: 2 orders of project" in result.stdout
    assert "dry run: 12 rows would be issued; nothing was sent" in result.stdout
    assert chain_mark(deployment) == before
    assert deployment.issued_logs(sorted(set(scenario.tokens))) == []


def test_issue__no_chunk_size__chunks_sized_from_the_block_gas_limit(deployment, tmp_path):
    scenario = build(deployment, 300, projects=2, recipients=40)  # four token ids
    path = scenario.write(tmp_path / "auto.csv")
    result = issue(deployment, path, "--dry-run")
    assert result.returncode == 0, result.stderr
    # 30M block: 40k + 60k per order + 50k per id within 15M gives 246 orders with four ids.
    assert auto_chunk_size(deployment.w3.eth.get_block("latest")["gasLimit"], ids=4) == 246
    assert f"{path}: 300 rows; 0 already issued on-chain; 300 to issue in 2 transaction(s)" in result.stdout
    assert "tx 1: 246 orders" in result.stdout and "tx 2: 54 orders" in result.stdout


# ---------------------------------------------------------------------------------------------- (e) crash + resume


def _start(deployment: Any, csv: Path, chunk: int, out: Path) -> tuple[subprocess.Popen, Path]:
    return deployment.start("issue", "--csv", str(csv), "--chunk-size", str(chunk), out=out)


def _wait_for(predicate, what: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, f"the script exited (code {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _kill_with_a_transaction_pending(deployment: Any, process: subprocess.Popen, mine: int) -> int:
    """Manual mining: mine the script's first ``mine`` blocks one at a time, each as soon as a transaction is
    pending, then SIGKILL it while at least one transaction sits unmined in the mempool. Returns how many are
    pending after the kill (up to the tool's window)."""
    anvil, admin = deployment.anvil, deployment.admin
    for _ in range(mine):
        _wait_for(lambda: anvil.nonces(admin)[1] > anvil.nonces(admin)[0], "a pending transaction", process)
        anvil.rpc("evm_mine")
    _wait_for(lambda: anvil.nonces(admin)[1] > anvil.nonces(admin)[0], "a pending transaction", process)
    process.kill()
    process.wait(timeout=10)
    latest, pending = anvil.nonces(admin)
    return pending - latest


@pytest.mark.parametrize("kill", ["pending-tx-lands-later", "pending-tx-dropped", "automine-midway"])
def test_issue__killed_mid_run__rerun_issues_every_row_exactly_once(deployment, tmp_path, kill):
    anvil = deployment.anvil
    chunk = 3 if kill == "automine-midway" else 10
    scenario = build(deployment, 300, projects=2, recipients=40)
    path = scenario.write(tmp_path / "crash.csv")
    tokens = sorted(set(scenario.tokens))
    try:
        if kill == "automine-midway":
            process, _ = _start(deployment, path, chunk, tmp_path / "first.out")
            _wait_for(lambda: len(deployment.issued_logs(tokens)) >= 90, "90 rows on-chain", process)
            process.kill()
            process.wait(timeout=10)
        else:
            anvil.rpc("evm_setAutomine", [False])
            process, _ = _start(deployment, path, chunk, tmp_path / "first.out")
            pending = _kill_with_a_transaction_pending(
                deployment, process, mine=4 if kill == "pending-tx-lands-later" else 12
            )
            assert 1 <= pending <= DEFAULT_WINDOW
        on_chain = len(deployment.issued_logs(tokens))
        assert 0 < on_chain < len(scenario.rows)
        assert on_chain % chunk == 0  # issueMany is all-or-nothing: whole chunks only

        if kill == "pending-tx-dropped":
            anvil.rpc("anvil_dropAllTransactions")
            anvil.rpc("evm_setAutomine", [True])
        second, stderr = _start(deployment, path, chunk, tmp_path / "second.out")
        if kill == "pending-tx-lands-later":
            # The rerun must wait for the killed run's transaction before planning; let it land only then.
            waiting = f"waiting for {pending} pending transaction(s)"
            _wait_for(lambda: waiting in stderr.read_text(), "the rerun to wait", second)
            anvil.rpc("evm_mine")  # one block holds every pending chunk
            anvil.rpc("evm_setAutomine", [True])
            on_chain += chunk * pending
        assert second.wait(timeout=180) == 0, stderr.read_text()
    finally:
        anvil.rpc("evm_setAutomine", [True])
    summary = (tmp_path / "second.out").read_text()
    remaining = len(scenario.rows) - on_chain
    assert f"issued {remaining} rows now; {on_chain} were already done before this run" in summary
    assert_issued_exactly_once(deployment, scenario)


# ---------------------------------------------------------------------------------------------- in-process checks


def _in_process(deployment: Any) -> tuple[ChainView, Contracts, Web3Sender]:
    view = ChainView(deployment.w3)
    contracts = Contracts(credit=deployment.credit.address, registry=deployment.registry.address)
    return view, contracts, Web3Sender(deployment.w3, Account.from_key(DEV_KEY))


def test_execute__row_issued_by_another_transaction_after_planning__is_skipped_not_failed(deployment, tmp_path):
    scenario = build(deployment, 9, projects=1)
    path = scenario.write(tmp_path / "race.csv")
    view, contracts, sender = _in_process(deployment)
    plan = plan_file(scan(path), view, contracts, sender.address, chunk_size=4)
    _, _, recipient, tonnes, reference = scenario.rows[5]  # lands in the second chunk
    deployment.transact(
        deployment.credit.functions.issue(
            scenario.tokens[5], recipient, tonnes_to_units(tonnes), keccak(text=reference)
        )
    )
    notes: list[str] = []
    summary = execute(plan, view, contracts, sender, log=notes.append)
    assert (summary.issued, summary.raced, summary.txs) == (8, 1, 3)
    assert "1 row(s) were issued meanwhile by another transaction" in notes[0]
    assert_issued_exactly_once(deployment, scenario)
    plan.close()


def test_run_file__paused_token__refused_before_sending(deployment, tmp_path):
    scenario = build(deployment, 2, projects=1)
    path = scenario.write(tmp_path / "paused.csv")
    view, contracts, sender = _in_process(deployment)
    deployment.transact(deployment.credit.functions.pause())
    try:
        with pytest.raises(IssuanceError) as info:
            run_file(path, view, contracts, sender)
    finally:
        deployment.transact(deployment.credit.functions.unpause())
    assert f"{path}: token: the credit token is paused" in info.value.report()
    assert run_file(path, view, contracts, sender).issued == 2


def test_run_file__pending_transaction_never_mined__times_out_and_sends_nothing(deployment, tmp_path):
    scenario = build(deployment, 2, projects=1)
    path = scenario.write(tmp_path / "stuck.csv")
    view, contracts, sender = _in_process(deployment)
    anvil = deployment.anvil
    anvil.rpc("evm_setAutomine", [False])
    try:
        deployment.credit.functions.setFrozen(fresh_address(), True, "pending").transact({"from": deployment.admin})
        with pytest.raises(PendingTransactionsError, match="still has 1 pending transaction"):
            run_file(path, view, contracts, sender, pending_timeout=0.5)
    finally:
        anvil.rpc("evm_mine")
        anvil.rpc("evm_setAutomine", [True])
    assert deployment.issued_logs(sorted(set(scenario.tokens))) == []


def test_run_file__permissioned_token__recipients_off_the_allowlist_refused(permissioned_deployment, tmp_path):
    regulated = permissioned_deployment
    project_id, name = regulated.project()
    token_id, reference = regulated.batch(project_id, 100)
    kyc, stranger = fresh_address(), fresh_address()
    regulated.transact(regulated.credit.functions.setAllowed([kyc], True))
    scenario = Scenario()
    scenario.add(name, reference, kyc, "1", token_id)
    scenario.add(name, reference, stranger, "1", token_id)
    path = scenario.write(tmp_path / "kyc.csv")
    view, contracts, sender = _in_process(regulated)
    with pytest.raises(IssuanceError) as info:
        run_file(path, view, contracts, sender)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3: recipient: {stranger} is not on the allowlist (the token is permissioned)"
    ]
    path.write_text(path.read_text().replace(stranger, kyc))
    assert run_file(path, view, contracts, sender).issued == 2


def test_plan_file__streamed_pass__every_problem_reported_and_orders_grouped_by_project(deployment, tmp_path):
    from tonne.issuance import Order, format_plan

    view, contracts, sender = _in_process(deployment)
    project_id, name = deployment.project()
    token_id, reference = deployment.batch(project_id, 10)
    unverified_id, unverified_ref = deployment.batch(project_id, 10, verify=False)
    frozen = fresh_address()
    deployment.transact(deployment.credit.functions.setFrozen(frozen, True, "court order"))
    holder = fresh_address()
    refused = Scenario()
    refused.add(name, reference, holder, "6", token_id)
    refused.add(name, unverified_ref, holder, "1", unverified_id)
    refused.add(name, reference, holder, "4.001", token_id)  # passes the cap
    refused.add("VCS:NO-SUCH-PROJECT", "ISS-X", holder, "1", 0)
    refused.add(name, reference, frozen, "1", token_id)
    refused.add(name, "1", deployment.registry.address, "1", token_id)  # a contract without the 1155 hook
    refused.add(name, reference, deployment.registry.address, "1", token_id)
    path = refused.write(tmp_path / "refused.csv")
    with pytest.raises(IssuanceError) as caught:
        plan_file(scan(path), view, contracts, sender.address)
    report = [str(p) for p in caught.value.problems]
    where = [(p.path, p.line, p.field) for p in caught.value.problems]
    fields = ["batch", "tonnes", "project", "recipient", "recipient"]
    assert where == [(str(path), line, f) for line, f in zip([3, 4, 5, 6, 7], fields, strict=True)], report
    assert "the cap is passed on this line" in report[1]
    assert "rejects the credits" in report[4] and report[4].endswith("[2 rows: lines 7, 8]")

    good = build(deployment, 40, projects=3, recipients=7)
    path = good.write(tmp_path / "good.csv")
    for row, token in list(zip(good.rows, good.tokens, strict=True))[5:9]:  # four rows already on-chain
        _, _, recipient, tonnes, ref = row
        deployment.transact(
            deployment.credit.functions.issue(
                token, to_checksum_address(recipient), tonnes_to_units(tonnes), keccak(text=ref)
            )
        )
    streamed = plan_file(scan(path), view, contracts, sender.address, chunk_size=7)
    assert (streamed.row_count, streamed.done_count, streamed.chunk_count) == (40, 4, 6)
    todo = [
        Order(row, token)
        for n, (row, token) in enumerate(zip(read_rows(path), good.tokens, strict=True))
        if not 5 <= n < 9
    ]
    expected = chunk(group_by_project(todo), 7)
    as_tuples = [[o.as_tuple() for o in c] for c in streamed.iter_chunks()]
    assert as_tuples == [[o.as_tuple() for o in c] for c in expected]
    described = format_plan(streamed).split("\n")
    assert described[0].startswith(f"{path}: 40 rows; 4 already issued on-chain; 36 to issue in 6 transaction(s)")
    assert len(described) == 1 + len(streamed.batch_totals()) + 6
    streamed.close()
