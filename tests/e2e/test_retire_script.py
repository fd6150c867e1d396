"""`ape run retire one|csv` run as a user runs them, against our own Anvil: happy paths, refusals (nothing sent),
re-runs, dry runs, approvals, issue-and-retire, and SIGKILL mid-run followed by a resume that retires each row
exactly once."""

from __future__ import annotations

import dataclasses
import random
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address

from e2e_support import CuttableProxy, recorded, stocked
from tonne.core.units import tonnes_to_units

HEADER = "project,batch,tonnes,beneficiary_name,reason,jurisdiction,period,reference,beneficiary,holder"
# Anvil's second dev account (public, from the test mnemonic): a holder that approves TEST::0 in some tests.
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def fresh_address() -> str:
    return to_checksum_address(keccak(random.randbytes(32))[:20])


@dataclass
class Book:
    """Rows of a retirement CSV file, with the token id and holder each must retire from."""

    rows: list[tuple[str, ...]] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)

    def add(self, project: str, batch: str, tonnes: str, token_id: int, *, holder: str = "", beneficiary: str = "",
            name: str = "Acme GmbH", reason: str = "Scope 1 FY2025", jurisdiction: str = "DE", period: str = "2025",
            reference: str = "", sender: str = "") -> None:  # fmt: skip
        reference = reference or f"RET-{time.time_ns()}-{len(self.rows)}"
        self.rows.append((project, batch, tonnes, name, reason, jurisdiction, period, reference, beneficiary, holder))
        self.tokens.append(token_id)
        self.holders.append(holder or sender)

    def write(self, path: Path) -> Path:
        lines = [HEADER, *(",".join(_quote(v) for v in row) for row in self.rows)]
        path.write_text("\n".join(lines) + "\n")
        return path

    def retired(self) -> dict[tuple[str, int], int]:
        """(holder, token id) -> units to retire."""
        totals: Counter = Counter()
        for row, token_id, holder in zip(self.rows, self.tokens, self.holders, strict=True):
            totals[(to_checksum_address(holder), token_id)] += tonnes_to_units(row[2])
        return dict(totals)


def _quote(value: str) -> str:
    return f'"{value}"' if "," in value else value


def build(deployment: Any, rows: int) -> Book:
    """``rows`` rows over two batches of a fresh project, naming projects and batches every way."""
    targets = stocked(deployment)
    book = Book()
    for i in range(rows):
        project_id, name, token_id, reference = targets[i % 2]
        book.add(
            name if i % 2 else str(project_id),
            reference if i % 3 else str(token_id & ((1 << 64) - 1)),
            f"{1 + i % 5}.{i % 1000:03d}",
            token_id,
            beneficiary=fresh_address() if i % 4 == 0 else "",
            jurisdiction=("DE", "US-CA", "GB-ENG")[i % 3],
            sender=deployment.admin,
        )
    return book


def assert_retired_exactly_once(deployment: Any, book: Book, balances_before: dict[tuple[str, int], int]) -> None:
    """One RetirementRecorded per row, with its reference and content; balances fell by exactly the rows' sums."""
    refs = {keccak(text=row[7]): row for row in book.rows}
    events = [e for e in recorded(deployment) if e["ref"] in refs]
    assert sorted(e["ref"] for e in events) == sorted(refs)  # each reference exactly once
    for event in events:
        row = refs[event["ref"]]
        assert event["amounts"] == [tonnes_to_units(row[2])]
        assert (event["name"], event["reason"], event["jurisdiction"]) == (row[3], row[4], row[5])
        holder = to_checksum_address(row[9]) if row[9] else deployment.admin
        assert event["retiring"] == holder
        assert event["beneficiary"] == (to_checksum_address(row[8]) if row[8] else holder)
        ref_id = deployment.retirement.functions.certificateOfReference(holder, event["ref"]).call()
        assert ref_id == event["certificate"]
    for (holder, token_id), units in book.retired().items():
        now = deployment.credit.functions.balanceOf(holder, token_id).call()
        assert now == balances_before[(holder, token_id)] - units


def balances(deployment: Any, book: Book) -> dict[tuple[str, int], int]:
    return {
        key: deployment.credit.functions.balanceOf(*key).call()
        for key in {(to_checksum_address(h), t) for h, t in zip(book.holders, book.tokens, strict=True)}
    }


def chain_mark(deployment: Any) -> tuple[int, int, int, int]:
    latest, pending = deployment.anvil.nonces(deployment.admin)
    count = deployment.retirement.functions.certificateCount().call()
    return deployment.w3.eth.block_number, latest, pending, count


def retire_csv(deployment: Any, path: Path, *args: str) -> subprocess.CompletedProcess:
    return deployment.run("retire", "csv", "--csv", str(path), *args)


# ---------------------------------------------------------------------------------------------- csv: happy path


def test_retire_csv__valid_file__one_certificate_per_row_balances_match(deployment, tmp_path):
    book = build(deployment, 12)
    before = balances(deployment, book)
    result = retire_csv(deployment, book.write(tmp_path / "ok.csv"))
    assert result.returncode == 0, result.stderr
    assert "retired 12 now (certificates #" in result.stdout
    assert "0 were already done before this run" in result.stdout
    assert result.stdout.count("certificate #") >= 12
    assert_retired_exactly_once(deployment, book, before)


def test_retire_csv__holder_column__retires_an_approving_holders_credits(deployment, tmp_path):
    project_id, name, token_id, reference = stocked(deployment, batches=1)[0]
    deployment.transact(deployment.credit.functions.safeTransferFrom(deployment.admin, OTHER, token_id, 5_000, b""))
    receipt = deployment.w3.eth.wait_for_transaction_receipt(
        deployment.credit.functions.setApprovalForAll(deployment.admin, True).transact({"from": OTHER})
    )
    assert receipt["status"] == 1
    book = Book()
    book.add(name, reference, "2.5", token_id, holder=OTHER, sender=deployment.admin)
    book.add(name, reference, "1", token_id, sender=deployment.admin)
    before = balances(deployment, book)
    result = retire_csv(deployment, book.write(tmp_path / "holder.csv"))
    assert result.returncode == 0, result.stderr
    assert_retired_exactly_once(deployment, book, before)
    # Leave the shared session chain as found: other e2e files use OTHER's approvals.
    revoke = deployment.credit.functions.setApprovalForAll(deployment.admin, False).transact({"from": OTHER})
    assert deployment.w3.eth.wait_for_transaction_receipt(revoke)["status"] == 1


# ---------------------------------------------------------------------------------------------- csv: refusals


def test_retire_csv__bad_rows__each_reported_with_file_line_field_and_nothing_sent(deployment, tmp_path):
    book = build(deployment, 2)
    path = tmp_path / "bad.csv"
    good = ",".join(book.rows[0])
    project, batch = book.rows[0][0], book.rows[0][1]
    path.write_text(
        "\n".join(
            [
                HEADER,
                good,  # line 2
                f"{project},{batch},1,Acme,why,de,2025,R-{time.time_ns()},,",  # line 3: jurisdiction
                f"{project},{batch},0,,why,DE,2025,R-{time.time_ns()}x,,",  # line 4: tonnes, beneficiary_name
                f"{project},{batch},1,Acme,why,DE,2025-13-01:2025-12-31,{book.rows[0][7]},,",  # 5: period, duplicate
            ]
        )
        + "\n"
    )
    before = chain_mark(deployment)
    result = retire_csv(deployment, path)
    assert result.returncode == 1
    for where in ("3: jurisdiction:", "4: tonnes:", "4: beneficiary_name:", "5: period:", "5: reference:"):
        assert f"{path}:{where}" in result.stderr, (where, result.stderr)
    assert f"{path}: 5 problems found, nothing was sent" in result.stderr
    assert chain_mark(deployment) == before


def test_retire_csv__rows_the_chain_refuses__all_reported_and_nothing_sent(deployment, tmp_path):
    (_, name, token_id, reference), (_, _, other_id, other_ref) = stocked(deployment, batches=2, tonnes=10)
    suspended_pid, suspended_name, suspended_id, suspended_ref = stocked(deployment, batches=1, tonnes=10)[0]
    deployment.transact(deployment.registry.functions.setProjectStatus(suspended_pid, 3, "reversal check"))
    stranger = fresh_address()
    book = Book()
    book.add(name, reference, "6", token_id, sender=deployment.admin)  # line 2: fine on its own
    book.add(name, reference, "4.001", token_id, sender=deployment.admin)  # line 3: passes the 10 t held
    book.add(suspended_name, suspended_ref, "1", suspended_id, sender=deployment.admin)  # line 4: suspended
    book.add(name, other_ref, "1", other_id, holder=stranger, sender=deployment.admin)  # line 5: not approved
    book.add("VCS:NO-SUCH", "X", "1", 0, sender=deployment.admin)  # line 6: unknown project
    book.add(name, "ISS-NOPE", "1", 0, sender=deployment.admin)  # line 7: unknown batch
    path = book.write(tmp_path / "refused.csv")
    before = chain_mark(deployment)
    try:
        result = retire_csv(deployment, path)
        after = chain_mark(deployment)
    finally:
        deployment.transact(deployment.registry.functions.setProjectStatus(suspended_pid, 2, "cleared"))
    assert result.returncode == 1
    expected = {
        3: f"tonnes: {deployment.admin} holds 10 t of batch",
        4: "project: project",
        5: f"holder: {deployment.admin} may not retire credits of {stranger}",
        6: "project: no project 'NO-SUCH' of standard 'VCS' is registered",
        7: "batch: no batch has the issuance reference 'ISS-NOPE'",
    }
    for line, text in expected.items():
        assert f"{path}:{line}: {text}" in result.stderr, (line, result.stderr)
    assert "is Suspended: its credits cannot be retired" in result.stderr
    assert after == before


def retire_directly(
    deployment: Any, token_id: int, units: int, reference: str, sender: str, beneficiary: str = ""
) -> None:
    """A retirement sent straight to the contract (not by the script), with the CSV rule's retirementRef."""
    zero = "0x" + "00" * 20
    inp = (
        beneficiary or zero,
        "Other GmbH",
        "Other reason",
        "DE",
        1_735_689_600,
        1_767_225_599,
        keccak(text=reference),
    )
    tx = deployment.retirement.functions.retire([token_id], [units], inp).transact({"from": sender})
    assert deployment.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1


def test_retire_csv__reference_used_for_another_retirement__conflict_on_its_line_and_nothing_sent(deployment, tmp_path):
    (_, name, token_id, reference), (_, _, other_id, other_ref) = stocked(deployment, batches=2, tonnes=10)
    admin = deployment.admin
    book = Book()
    book.add(name, reference, "2", token_id, sender=admin)  # line 2: admin used its reference for 1 t
    book.add(name, other_ref, "1", other_id, sender=admin)  # line 3: a stranger squatted its reference
    book.add(name, reference, "1", token_id, sender=admin)  # line 4: admin used it for this very retirement
    retire_directly(deployment, token_id, 1_000, book.rows[0][7], admin)
    deployment.transact(deployment.credit.functions.safeTransferFrom(admin, OTHER, other_id, 1, b""))
    retire_directly(deployment, other_id, 1, book.rows[1][7], OTHER)
    retire_directly(deployment, token_id, 1_000, book.rows[2][7], admin)
    own = deployment.retirement.functions.certificateOfReference(admin, keccak(text=book.rows[2][7])).call()
    path = book.write(tmp_path / "conflict.csv")
    before = chain_mark(deployment)
    result = retire_csv(deployment, path)
    assert result.returncode == 1
    assert f"{path}:2: reference: conflict: {admin} already used the reference" in result.stderr, result.stderr
    assert "total 1000 (this row: 2000)" in result.stderr
    assert f"{path}:3:" not in result.stderr and f"{path}:4:" not in result.stderr
    assert chain_mark(deployment) == before

    # Without the conflicting row: the squatted reference is retired by its own account, the used one is done.
    path.write_text("\n".join(path.read_text().splitlines()[:1] + path.read_text().splitlines()[2:]) + "\n")
    again = retire_csv(deployment, path)
    assert again.returncode == 0, again.stderr
    assert "already done: line 3" in again.stdout and f"certificate #{own}" in again.stdout
    mine = deployment.retirement.functions.certificateOfReference(admin, keccak(text=book.rows[1][7])).call()
    squat = deployment.retirement.functions.certificateOfReference(OTHER, keccak(text=book.rows[1][7])).call()
    assert 0 < squat < mine and deployment.retirement.functions.certificate(mine).call()[1] == admin
    assert deployment.credit.functions.balanceOf(admin, other_id).call() == 10_000 - 1 - 1_000


# ---------------------------------------------------------------------------------------------- csv: re-run, dry run


def test_retire_csv__finished_file_run_again__retires_nothing_and_names_the_certificates(deployment, tmp_path):
    book = build(deployment, 4)
    before = balances(deployment, book)
    path = book.write(tmp_path / "twice.csv")
    assert retire_csv(deployment, path).returncode == 0
    mark = chain_mark(deployment)
    again = retire_csv(deployment, path)
    assert again.returncode == 0, again.stderr
    assert "nothing to retire: all 4 retirement(s) were already done on-chain" in again.stdout
    assert again.stdout.count("already done: line") == 4
    assert chain_mark(deployment) == mark
    assert_retired_exactly_once(deployment, book, before)


@pytest.mark.parametrize(("options", "transactions"), [(("--batch-size", "1"), 5), ((), 1), (("--batch-size", "2"), 3)])
def test_retire_csv__dry_run__prints_the_plan_and_sends_nothing(deployment, tmp_path, options, transactions):
    book = build(deployment, 5)
    path = book.write(tmp_path / "dry.csv")
    before = chain_mark(deployment)
    result = retire_csv(deployment, path, "--dry-run", *options)
    assert result.returncode == 0, result.stderr
    assert (
        f"{path}: 5 retirement(s); 0 already done on-chain; 5 to retire in {transactions} transaction(s), "
        "one certificate each"
    ) in result.stdout
    assert "dry run: 5 retirement(s) would be made; nothing was sent" in result.stdout
    assert chain_mark(deployment) == before


# ---------------------------------------------------------------------------------------------- csv: crash + resume


def _wait_for(predicate, what: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, f"the script exited (code {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("batch_size", "kill"),
    [
        ("1", "automine-midway"),
        ("1", "pending-txs-land-later"),
        ("1", "pending-txs-dropped"),
        # Killed with retireBatch transactions of 4 rows in the mempool: each lands whole or not at all.
        ("4", "pending-txs-land-later"),
        ("4", "pending-txs-dropped"),
    ],
)
def test_retire_csv__killed_mid_run__rerun_retires_every_row_exactly_once(deployment, tmp_path, batch_size, kill):
    anvil, admin = deployment.anvil, deployment.admin
    size = ("--batch-size", batch_size)
    book = build(deployment, 150)
    before = balances(deployment, book)
    path = book.write(tmp_path / "crash.csv")
    start = deployment.w3.eth.block_number
    try:
        if kill == "automine-midway":
            first = deployment.start("retire", "csv", "--csv", str(path), *size, out=tmp_path / "first.out")[0]
            _wait_for(lambda: len(recorded(deployment, start)) >= 40, "40 retirements on-chain", first)
        else:
            anvil.rpc("evm_setAutomine", [False])
            args = ("retire", "csv", "--csv", str(path), "--window", "8", *size)
            first = deployment.start(*args, out=tmp_path / "first.out")[0]
            for _ in range(3):  # mine the first transactions in three blocks, then kill with some in the mempool
                _wait_for(lambda: anvil.nonces(admin)[1] - anvil.nonces(admin)[0] >= 8, "8 pending", first)
                anvil.rpc("evm_mine")
            _wait_for(lambda: anvil.nonces(admin)[1] - anvil.nonces(admin)[0] >= 8, "8 pending", first)
        first.kill()
        first.wait(timeout=10)
        if kill == "automine-midway":
            # Anvil mines what the killed run had in flight (up to --window transactions) just after the kill.
            time.sleep(0.5)
            deadline = time.monotonic() + 30
            while len(set(anvil.nonces(admin))) != 1 and time.monotonic() < deadline:
                time.sleep(0.05)
        on_chain = len(recorded(deployment, start))
        assert 0 < on_chain < len(book.rows)
        if kill == "pending-txs-dropped":
            anvil.rpc("anvil_dropAllTransactions")
            anvil.rpc("evm_setAutomine", [True])
        second, stderr = deployment.start("retire", "csv", "--csv", str(path), *size, out=tmp_path / "second.out")
        if kill == "pending-txs-land-later":
            # The rerun must wait for the killed run's transactions before planning; let them land only then.
            _wait_for(lambda: "pending transaction(s) of" in stderr.read_text(), "the rerun to wait", second)
            anvil.rpc("evm_mine")
            anvil.rpc("evm_setAutomine", [True])
            on_chain = len(recorded(deployment, start))
        assert second.wait(timeout=180) == 0, stderr.read_text()
    finally:
        anvil.rpc("evm_setAutomine", [True])
    summary = (tmp_path / "second.out").read_text()
    assert f"retired {len(book.rows) - on_chain} now" in summary
    assert f"{on_chain} were already done before this run" in summary
    assert_retired_exactly_once(deployment, book, before)


def test_retire_csv__rpc_lost_mid_send__one_line_error_then_rerun_retires_every_row_exactly_once(deployment, tmp_path):
    # The script talks to the Anvil through a proxy that is cut mid-send: the chain lives on (it is the record), the
    # script loses its RPC. It must stop with one line naming the RPC and saying a rerun resumes, not a traceback;
    # the rerun (straight to the Anvil) retires the rest, each row exactly once.
    book = build(deployment, 150)
    before = balances(deployment, book)
    path = book.write(tmp_path / "lost.csv")
    start = deployment.w3.eth.block_number
    # 25 rows a transaction: the proxy lets two through and cuts on the third, so 50 of the 150 are mined.
    proxy = CuttableProxy(deployment.anvil.url, sends_allowed=2)
    through_proxy = dataclasses.replace(deployment, anvil=dataclasses.replace(deployment.anvil, url=proxy.url))
    try:
        first, stderr = through_proxy.start(
            "retire", "csv", "--csv", str(path), "--batch-size", "25", out=tmp_path / "first.out"
        )
        assert first.wait(timeout=120) == 1, stderr.read_text()
    finally:
        proxy.close()
    err = stderr.read_text()
    assert "Traceback" not in err, err
    (line,) = [x for x in err.splitlines() if "lost the connection" in x]
    assert line.startswith(f"lost the connection to the RPC {proxy.url} while sending (")
    assert line.endswith("what was mined stands: run the same command again to resume (rows done on-chain are skipped)")
    on_chain = len(recorded(deployment, start))
    assert on_chain == 50
    second = retire_csv(deployment, path)
    assert second.returncode == 0, second.stderr
    assert f"retired {len(book.rows) - on_chain} now" in second.stdout
    assert f"{on_chain} were already done before this run" in second.stdout
    assert_retired_exactly_once(deployment, book, before)


# ---------------------------------------------------------------------------------------------- retire one


def retire_one(deployment: Any, *args: str) -> subprocess.CompletedProcess:
    common = ("--name", "Acme GmbH", "--reason", "Scope 1 FY2025", "--jurisdiction", "US-CA", "--period", "2025")
    return deployment.run("retire", "one", *args, *common)


def test_retire_one__by_project_and_batch__certificate_then_same_command_is_not_retired_twice(deployment):
    _, name, token_id, reference = stocked(deployment, batches=1)[0]
    before = deployment.credit.functions.balanceOf(deployment.admin, token_id).call()
    args = ("--project", name, "--batch", reference, "--amount", "2.5")
    first = retire_one(deployment, *args)
    assert first.returncode == 0, first.stderr
    (event,) = [e for e in recorded(deployment) if token_id in e["ids"]]
    assert f"certificate #{event['certificate']} (auto:" in first.stdout
    assert (event["amounts"], event["jurisdiction"], event["retiring"]) == ([2_500], "US-CA", deployment.admin)
    mark = chain_mark(deployment)
    again = retire_one(deployment, *args)
    assert again.returncode == 0, again.stderr
    assert "already done: this retirement (auto:" in again.stdout and f"is certificate #{event['certificate']}" in (
        again.stdout
    )
    assert chain_mark(deployment) == mark
    assert deployment.credit.functions.balanceOf(deployment.admin, token_id).call() == before - 2_500


def test_retire_one__several_ids__one_certificate_listing_both(deployment):
    (_, _, a, _), (_, _, b, _) = stocked(deployment, batches=2)
    beneficiary = fresh_address()
    result = retire_one(
        deployment, "--id", str(a), "--amount", "1", "--id", str(b), "--amount", "0.25",
        "--beneficiary", beneficiary, "--reference", f"MULTI-{time.time_ns()}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (event,) = [e for e in recorded(deployment) if a in e["ids"]]
    assert (event["ids"], event["amounts"], event["beneficiary"]) == ([a, b], [1_000, 250], beneficiary)
    assert deployment.retirement.functions.ownerOf(event["certificate"]).call() == beneficiary


def test_retire_one__issue__issues_and_retires_at_once(deployment):
    project_id, _ = deployment.project()
    token_id, reference = deployment.batch(project_id, 100)
    result = retire_one(deployment, "--issue", "--project", str(project_id), "--batch", reference, "--amount", "7")
    assert result.returncode == 0, result.stderr
    assert deployment.credit.functions.totalIssued(token_id).call() == 7_000
    assert deployment.credit.functions.totalRetired(token_id).call() == 7_000
    assert deployment.credit.functions.totalSupply(token_id).call() == 0


def test_retire_one__more_than_held_or_unapproved_holder__refused_naming_the_option(deployment):
    _, name, token_id, reference = stocked(deployment, batches=1, tonnes=10)[0]
    before = chain_mark(deployment)
    result = retire_one(deployment, "--project", name, "--batch", reference, "--amount", "10.001")
    assert result.returncode == 1
    assert f"retire one: --amount: {deployment.admin} holds 10 t of batch" in result.stderr
    stranger = fresh_address()
    result = retire_one(deployment, "--id", str(token_id), "--amount", "1", "--holder", stranger)
    assert result.returncode == 1
    assert f"retire one: --holder: {deployment.admin} may not retire credits of {stranger}" in result.stderr
    assert chain_mark(deployment) == before
