"""A resumed run after the chain changed under it: `ape run issue` / `ape run retire csv` killed mid-run, then,
before the rerun, someone else issues or retires some of the same rows (exactly, or differently), the project is
suspended, credits are cancelled, or the chain is reset and deployed again. The rerun either finishes, counting a
row as done only when what the chain holds under its reference is exactly the row's own, or stops before sending
with ``file:line: field: message``; never a traceback, never a second issuance or retirement of a row."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from test_issue_script import Scenario, assert_issued_exactly_once, build
from test_retire_script import Book, assert_retired_exactly_once, balances
from test_retire_script import build as build_book
from web3 import Web3

from e2e_support import Anvil, deploy, recorded
from tonne.core.localchain import plain_anvil
from tonne.core.units import tonnes_to_units

CHUNK = 5


def _wait_for(predicate, what: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, f"the script exited (code {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _settle(deployment: Any) -> None:
    """Wait until the killed run's transactions in flight are mined (automine)."""
    deadline = time.monotonic() + 30
    while len(set(deployment.anvil.nonces(deployment.admin))) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)


def _kill_issue_midway(deployment: Any, scenario: Scenario, path: Path, out: Path, at: int = 20) -> int:
    """Start `issue`, SIGKILL it once ``at`` rows are on-chain; returns the rows on-chain after it settled."""
    tokens = sorted(set(scenario.tokens))
    process, _ = deployment.start("issue", "--csv", str(path), "--chunk-size", str(CHUNK), out=out)
    _wait_for(lambda: len(deployment.issued_logs(tokens)) >= at, f"{at} rows on-chain", process)
    process.kill()
    process.wait(timeout=10)
    _settle(deployment)
    on_chain = len(deployment.issued_logs(tokens))
    assert 0 < on_chain < len(scenario.rows)
    return on_chain


def _issued_refs(deployment: Any, scenario: Scenario) -> set[bytes]:
    return {bytes.fromhex(log["data"][2 + 64 :]) for log in deployment.issued_logs(sorted(set(scenario.tokens)))}


def _remaining(deployment: Any, scenario: Scenario) -> list[int]:
    """Indexes of the scenario's rows not issued yet."""
    done = _issued_refs(deployment, scenario)
    return [i for i, row in enumerate(scenario.rows) if keccak(text=row[4]) not in done]


def _issue_directly(deployment: Any, scenario: Scenario, i: int, units: int | None = None) -> None:
    """Row ``i`` issued straight to the contract by someone else (not the script), optionally with other units."""
    _, _, recipient, tonnes, reference = scenario.rows[i]
    amount = tonnes_to_units(tonnes) if units is None else units
    deployment.transact(
        deployment.credit.functions.issue(
            scenario.tokens[i], Web3.to_checksum_address(recipient), amount, keccak(text=reference)
        )
    )


def _mark(deployment: Any) -> tuple[int, int, int]:
    latest, pending = deployment.anvil.nonces(deployment.admin)
    return deployment.w3.eth.block_number, latest, pending


def _no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]


# ---------------------------------------------------------------------------------------------- issue


def test_issue_resumed__some_rows_issued_exactly_by_someone_else__counted_done_rest_issued(deployment, tmp_path):
    scenario = build(deployment, 60, projects=2, recipients=12)
    path = scenario.write(tmp_path / "stale.csv")
    on_chain = _kill_issue_midway(deployment, scenario, path, tmp_path / "first.out")
    others = _remaining(deployment, scenario)[::7][:4]
    for i in others:
        _issue_directly(deployment, scenario, i)
    result = deployment.run("issue", "--csv", str(path), "--chunk-size", str(CHUNK))
    _no_traceback(result)
    assert result.returncode == 0, result.stderr
    done = on_chain + len(others)
    assert f"issued {len(scenario.rows) - done} rows now; {done} were already done before this run" in result.stdout
    assert_issued_exactly_once(deployment, scenario)


def test_issue_resumed__a_reference_used_by_a_different_issuance__refused_on_its_line_nothing_sent(
    deployment, tmp_path
):
    scenario = build(deployment, 40, projects=1, recipients=8)
    path = scenario.write(tmp_path / "stale.csv")
    _kill_issue_midway(deployment, scenario, path, tmp_path / "first.out")
    i = _remaining(deployment, scenario)[3]
    _issue_directly(deployment, scenario, i, units=tonnes_to_units(scenario.rows[i][3]) + 1)
    before = _mark(deployment)
    result = deployment.run("issue", "--csv", str(path), "--chunk-size", str(CHUNK))
    _no_traceback(result)
    assert result.returncode == 1
    assert f"{path}:{i + 2}: reference: " in result.stderr and "by a different issuance" in result.stderr
    assert _mark(deployment) == before


def test_issue_resumed__project_suspended__refused_on_its_lines_then_reinstated__finishes_once(deployment, tmp_path):
    scenario = build(deployment, 40, projects=1, recipients=8)
    path = scenario.write(tmp_path / "stale.csv")
    on_chain = _kill_issue_midway(deployment, scenario, path, tmp_path / "first.out")
    project_id = scenario.tokens[0] >> 64
    deployment.transact(deployment.registry.functions.setProjectStatus(project_id, 3, "audit"))
    first_left = _remaining(deployment, scenario)[0]
    before = _mark(deployment)
    result = deployment.run("issue", "--csv", str(path), "--chunk-size", str(CHUNK))
    _no_traceback(result)
    assert result.returncode == 1
    assert f"{path}:{first_left + 2}: project: " in result.stderr and "Suspended" in result.stderr
    assert _mark(deployment) == before
    deployment.transact(deployment.registry.functions.setProjectStatus(project_id, 2, "audit passed"))
    again = deployment.run("issue", "--csv", str(path), "--chunk-size", str(CHUNK))
    assert again.returncode == 0, again.stderr
    assert f"{on_chain} were already done before this run" in again.stdout
    assert_issued_exactly_once(deployment, scenario)


def test_issue_resumed__issued_credits_cancelled_meanwhile__done_rows_stay_done_rest_issued(deployment, tmp_path):
    scenario = build(deployment, 40, projects=1, recipients=8)
    path = scenario.write(tmp_path / "stale.csv")
    on_chain = _kill_issue_midway(deployment, scenario, path, tmp_path / "first.out")
    done = next(i for i in range(len(scenario.rows)) if i not in _remaining(deployment, scenario))
    _, _, recipient, tonnes, _ = scenario.rows[done]
    holder = Web3.to_checksum_address(recipient)
    deployment.transact(
        deployment.registry.functions.cancelCredits(
            scenario.tokens[done], [holder], [tonnes_to_units(tonnes)], tonnes_to_units(tonnes), "invalidated"
        )
    )
    result = deployment.run("issue", "--csv", str(path), "--chunk-size", str(CHUNK))
    _no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert f"issued {len(scenario.rows) - on_chain} rows now; {on_chain} were already done" in result.stdout
    refs = [bytes.fromhex(log["data"][2 + 64 :]) for log in deployment.issued_logs(sorted(set(scenario.tokens)))]
    assert sorted(refs) == sorted(keccak(text=row[4]) for row in scenario.rows)  # each row issued exactly once


@pytest.fixture
def own_anvil(tmp_path: Path):
    """An Anvil of this test's own (the session's one is shared and must not be reset)."""
    with plain_anvil() as (url, process):
        yield Anvil(process, url, Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30})))


def test_issue_resumed__chain_reset_and_redeployed__old_record_refused_then_new_chain_issued_once(own_anvil, tmp_path):
    deployment = deploy(own_anvil, tmp_path / "deployments")
    scenario = build(deployment, 40, projects=1, recipients=8)
    path = scenario.write(tmp_path / "stale.csv")
    _kill_issue_midway(deployment, scenario, path, tmp_path / "first.out")
    own_anvil.rpc("anvil_reset", [])
    assert own_anvil.w3.eth.block_number == 0

    # The record still names the old deployment: refused in one line, nothing sent.
    stale = deployment.run("issue", "--csv", str(path), "--chunk-size", str(CHUNK))
    _no_traceback(stale)
    assert stale.returncode == 1 and "does not match chain" in stale.stderr, stale.stderr
    assert own_anvil.w3.eth.block_number == 0

    # Deployed again (the same deployer and nonces: the same addresses), the file's project is not on this chain.
    fresh = deploy(own_anvil, tmp_path / "deployments")
    assert fresh.credit.address == deployment.credit.address
    mark = _mark(fresh)
    unknown = fresh.run("issue", "--csv", str(path), "--chunk-size", str(CHUNK))
    _no_traceback(unknown)
    assert unknown.returncode == 1
    assert f"{path}:2: project: " in unknown.stderr, unknown.stderr
    assert _mark(fresh) == mark

    # The same project and batches built again: nothing of the old chain counts, every row is issued once here.
    project_id, name = fresh.project(external_id=scenario.rows[1][0].split(":", 1)[1])
    assert project_id == scenario.tokens[0] >> 64
    for _ in range(2):
        fresh.batch(project_id, 1_000_000)
    rebuilt = Scenario()
    for (project, _, recipient, tonnes, reference), token_id in zip(scenario.rows, scenario.tokens, strict=True):
        number = str(token_id & ((1 << 64) - 1))  # batch references differ per chain: name batches by number
        rebuilt.add(project, number, recipient, tonnes, token_id, reference)
    again = fresh.run("issue", "--csv", str(rebuilt.write(tmp_path / "rebuilt.csv")), "--chunk-size", str(CHUNK))
    assert again.returncode == 0, again.stderr
    assert f"issued {len(rebuilt.rows)} rows now; 0 were already done" in again.stdout
    assert_issued_exactly_once(fresh, rebuilt)


# ---------------------------------------------------------------------------------------------- retire csv


RETIRE = ("--batch-size", "2", "--window", "1")  # one small transaction in flight: the kill lands mid-run


def _kill_retire_midway(deployment: Any, book: Book, path: Path, out: Path, start: int, at: int = 10) -> int:
    process, _ = deployment.start("retire", "csv", "--csv", str(path), *RETIRE, out=out)
    _wait_for(lambda: len(recorded(deployment, start)) >= at, f"{at} retirements on-chain", process)
    process.kill()
    process.wait(timeout=10)
    _settle(deployment)
    on_chain = len(recorded(deployment, start))
    assert 0 < on_chain < len(book.rows)
    return on_chain


def _retired_refs(deployment: Any, start: int) -> set[bytes]:
    return {e["ref"] for e in recorded(deployment, start)}


def _retire_row_directly(deployment: Any, book: Book, i: int, **changes: Any) -> None:
    """Row ``i`` retired straight by the holder (not the script), with the row's own content unless changed."""
    _, _, tonnes, name, reason, jurisdiction, _, reference, beneficiary, _ = book.rows[i]
    zero = "0x" + "00" * 20
    inp = (
        Web3.to_checksum_address(beneficiary) if beneficiary else zero,
        changes.get("name", name),
        reason,
        changes.get("jurisdiction", jurisdiction),
        1_735_689_600,  # the rows' period, 2025
        changes.get("period_end", 1_767_225_599),
        keccak(text=reference),
    )
    units = changes.get("units", tonnes_to_units(tonnes))
    tx = deployment.retirement.functions.retire([book.tokens[i]], [units], inp).transact({"from": deployment.admin})
    assert deployment.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1


def test_retire_resumed__some_rows_retired_exactly_by_the_holder__counted_done_rest_retired(deployment, tmp_path):
    book = build_book(deployment, 60)
    before = balances(deployment, book)
    path = book.write(tmp_path / "stale.csv")
    start = deployment.w3.eth.block_number
    on_chain = _kill_retire_midway(deployment, book, path, tmp_path / "first.out", start)
    done = _retired_refs(deployment, start)
    others = [i for i, row in enumerate(book.rows) if keccak(text=row[7]) not in done][::7][:4]
    for i in others:
        _retire_row_directly(deployment, book, i)
    result = deployment.run("retire", "csv", "--csv", str(path), *RETIRE)
    _no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert f"{on_chain + len(others)} were already done before this run" in result.stdout
    assert_retired_exactly_once(deployment, book, before)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"units": 1}, "total"),
        ({"jurisdiction": "FR"}, "jurisdiction"),
        ({"period_end": 1_750_000_000}, "period"),
    ],
    ids=["amount", "jurisdiction", "period"],
)
def test_retire_resumed__reference_used_for_a_different_retirement__refused_on_its_line_nothing_sent(
    deployment, tmp_path, change, named
):
    book = build_book(deployment, 40)
    path = book.write(tmp_path / "stale.csv")
    start = deployment.w3.eth.block_number
    _kill_retire_midway(deployment, book, path, tmp_path / "first.out", start)
    done = _retired_refs(deployment, start)
    i = [i for i, row in enumerate(book.rows) if keccak(text=row[7]) not in done][2]
    if "jurisdiction" in change and book.rows[i][5].startswith("FR"):
        change = {"jurisdiction": "DE"}
    _retire_row_directly(deployment, book, i, **change)
    count = deployment.retirement.functions.certificateCount().call()
    before = _mark(deployment)
    result = deployment.run("retire", "csv", "--csv", str(path), *RETIRE)
    _no_traceback(result)
    assert result.returncode == 1, result.stdout
    assert f"{path}:{i + 2}: reference: conflict" in result.stderr, result.stderr
    assert named in result.stderr.split(f"{path}:{i + 2}: reference: conflict", 1)[1].splitlines()[0]
    assert _mark(deployment) == before
    assert deployment.retirement.functions.certificateCount().call() == count


def test_retire_resumed__project_suspended__refused_on_its_lines_nothing_sent(deployment, tmp_path):
    book = build_book(deployment, 40)
    path = book.write(tmp_path / "stale.csv")
    start = deployment.w3.eth.block_number
    _kill_retire_midway(deployment, book, path, tmp_path / "first.out", start)
    project_id = book.tokens[0] >> 64
    deployment.transact(deployment.registry.functions.setProjectStatus(project_id, 3, "audit"))
    before = _mark(deployment)
    result = deployment.run("retire", "csv", "--csv", str(path), *RETIRE)
    _no_traceback(result)
    assert result.returncode == 1
    assert f"{path}:" in result.stderr and ": project: " in result.stderr and "Suspended" in result.stderr
    assert _mark(deployment) == before
