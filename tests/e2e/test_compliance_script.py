"""`ape run compliance ...` run as a user runs it, against the session's own Anvil: opening a period, obligations
from CSV (refusals, re-runs, changes), surrenders (eligibility, idempotent references, operators), the deadline,
and the report as a table and as CSV, checked against the chain."""

from __future__ import annotations

import csv
import random
import re
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from e2e_support import ROOT, Deployment, script_env
from tonne.core.ids import describe

ZERO_REF = b"\x00" * 32
DEV_1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # Anvil's second dev account (unlocked on Anvil)
HEADER = "entity,name,tonnes"


def fresh_address() -> str:
    return to_checksum_address(keccak(random.randbytes(32))[:20])


def run(deployment: Deployment, *args: str) -> subprocess.CompletedProcess:
    return deployment.run("compliance", *args)


def chain_mark(deployment: Deployment) -> tuple[int, int, int]:
    latest, pending = deployment.anvil.nonces(deployment.admin)
    return deployment.w3.eth.block_number, latest, pending


def now(deployment: Deployment) -> int:
    return int(deployment.w3.eth.get_block("latest")["timestamp"])


def open_period(deployment: Deployment, *, deadline: int | None = None, vintages=(0, 0), standards=()) -> int:
    """A period opened directly (setup, not under test): emissions year 2025, jurisdiction DE."""
    due = deadline or now(deployment) + 365 * 86_400
    terms = ("Test period", "DE", 1_735_689_600, min(1_767_225_599, due), due, *vintages, list(standards))
    deployment.transact(deployment.compliance.functions.openPeriod(terms))
    return deployment.compliance.functions.periodCount().call()


def credits_of_2021(deployment: Deployment, tonnes: int, holder: str | None = None) -> tuple[int, str, str]:
    """A fresh project and 2021 batch, with ``tonnes`` issued to ``holder`` (the admin by default); returns
    (token id, 'STANDARD:EXTERNAL_ID', the batch's issuance reference)."""
    project_id, name = deployment.project()
    token_id, reference = deployment.batch(project_id, 10 * tonnes)
    deployment.transact(
        deployment.credit.functions.issue(token_id, holder or deployment.admin, tonnes * 1000, ZERO_REF)
    )
    return token_id, name, reference


def set_directly(deployment: Deployment, period_id: int, obligations: dict[str, tuple[str, int]]) -> None:
    entities = list(obligations)
    names = [obligations[e][0] for e in entities]
    units = [obligations[e][1] for e in entities]
    deployment.transact(deployment.compliance.functions.setObligations(period_id, entities, names, units))


def status(deployment: Deployment, period_id: int, entity: str) -> tuple[int, int, bool, bool, int]:
    return tuple(deployment.compliance.functions.status(period_id, entity).call())


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def events(deployment: Deployment, name: str, block: int | str = "latest") -> list[dict[str, Any]]:
    event = getattr(deployment.compliance.events, name)()
    return [dict(log["args"]) for log in event.get_logs(from_block=block, to_block=block)]


# ---------------------------------------------------------------------------------------------- open-period


def test_open_period__as_typed__terms_on_chain_and_bad_terms_send_nothing(deployment):
    due = now(deployment) + 30 * 86_400
    result = run(
        deployment, "open-period", "--name", "EU ETS 2025 surrender", "--jurisdiction", "DE-BY",
        "--period", "2025-01-01:2025-12-31", "--deadline", str(due), "--vintages", "2016:2025",
        "--standard", "VCS", "--standard", "GS",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    period_id = int(re.search(r"opened period (\d+):", result.stdout)[1])
    view = deployment.compliance.functions.period(period_id).call()
    assert list(view) == ["EU ETS 2025 surrender", "DE-BY", 1_735_689_600, 1_767_225_599, due, 2016, 2025, 2]
    assert [deployment.compliance.functions.isEligibleStandard(period_id, s).call() for s in ("VCS", "GS", "CCER")] == [
        True,
        True,
        False,
    ]

    before = chain_mark(deployment)
    good = dict(jurisdiction="DE", deadline=str(due), vintages="2016:2025")
    for bad, message in (
        (dict(jurisdiction="Bavaria"), "--jurisdiction 'Bavaria'"),
        (dict(deadline="2025-06-30"), "--deadline '2025-06-30' is before the end of the period"),
        (dict(vintages="2025:2016"), "vintages '2025:2016': the last year is before the first"),
    ):
        options = [item for key, value in {**good, **bad}.items() for item in (f"--{key}", value)]
        refused = run(deployment, "open-period", "--name", "X", "--period", "2025-01-01:2025-12-31", *options)
        assert refused.returncode != 0
        assert message in refused.stderr, refused.stderr
    assert chain_mark(deployment) == before


# ---------------------------------------------------------------------------------------------- set-obligations


def test_set_obligations__bad_file__every_problem_reported_and_nothing_sent(deployment, tmp_path):
    period_id = open_period(deployment)
    a, b = fresh_address(), fresh_address()
    path = write(
        tmp_path / "bad.csv",
        HEADER,
        f"{a},Acme Steel AG,1200",  # line 2: good
        f"{b},,10",  # line 3: name
        f"{a.lower()},Acme again,5",  # line 4: entity repeated
        f"{fresh_address()},Corvid,1.0001",  # line 5: tonnes
        "0x1234,Short,1",  # line 6: entity
    )
    before = chain_mark(deployment)
    result = run(deployment, "set-obligations", "--period", str(period_id), "--csv", str(path))
    assert result.returncode == 1
    for where in ("3: name:", "4: entity:", "5: tonnes:", "6: entity:"):
        assert f"{path}:{where}" in result.stderr, result.stderr
    assert f"{path}: 4 problems found, nothing was sent" in result.stderr
    assert chain_mark(deployment) == before
    assert status(deployment, period_id, a)[0] == 0


def test_set_obligations__unknown_period__file_wide_problem_nothing_sent(deployment, tmp_path):
    unknown = deployment.compliance.functions.periodCount().call() + 1
    path = write(tmp_path / "o.csv", HEADER, f"{fresh_address()},Acme,1")
    before = chain_mark(deployment)
    result = run(deployment, "set-obligations", "--period", str(unknown), "--csv", str(path))
    assert result.returncode == 1
    assert f"{path}: period: period {unknown}: ComplianceUnknownPeriod({unknown})" in result.stderr
    assert chain_mark(deployment) == before


def test_set_obligations__valid_file__set_then_rerun_sends_nothing_then_sends_only_the_change(deployment, tmp_path):
    period_id = open_period(deployment)
    a, b, c = fresh_address(), fresh_address(), fresh_address()
    rows = [f"{a},Acme Steel AG,1200", f'{b},"Borealis Cement, SA",750.5', f"{c},Corvid Ltd,0.001"]
    path = write(tmp_path / "o.csv", HEADER, *rows)

    first = run(deployment, "set-obligations", "--period", str(period_id), "--csv", str(path))
    assert first.returncode == 0, first.stderr
    assert "set 3 obligation(s) in 1 transaction(s)" in first.stdout
    assert status(deployment, period_id, a)[0] == 1_200_000
    assert status(deployment, period_id, b)[0] == 750_500
    assert status(deployment, period_id, c)[0] == 1
    assert deployment.compliance.functions.entityName(period_id, b).call() == "Borealis Cement, SA"

    before = chain_mark(deployment)
    again = run(deployment, "set-obligations", "--period", str(period_id), "--csv", str(path))
    assert again.returncode == 0, again.stderr
    assert "nothing to change: all 3 obligation(s) are already on-chain" in again.stdout
    assert chain_mark(deployment) == before

    write(path, HEADER, rows[0], f'{b},"Borealis Cement, SA",800', rows[2])
    changed = run(deployment, "set-obligations", "--period", str(period_id), "--csv", str(path))
    assert changed.returncode == 0, changed.stderr
    assert "set 1 obligation(s) in 1 transaction(s)" in changed.stdout and "2 were already on-chain" in changed.stdout
    logged = events(deployment, "ObligationSet")
    assert [(e["entity"], e["previous"], e["obligation"]) for e in logged] == [(b, 750_500, 800_000)]


# ---------------------------------------------------------------------------------------------- surrender


def test_surrender__eligible_credits__certificate_and_status_then_refusals_send_nothing(deployment, tmp_path):
    admin = deployment.admin
    token_id, project, batch = credits_of_2021(deployment, 100)
    period_id = open_period(deployment, vintages=(2021, 2025))
    strict_id = open_period(deployment, vintages=(2022, 0))
    for pid in (period_id, strict_id):
        set_directly(deployment, pid, {admin: ("Acme Steel AG", 50_000)})
    by_name = ["--project", project, "--batch", batch]  # as `ape run retire one` names credits
    by_id = ["--id", str(token_id)]

    done = run(deployment, "surrender", "--period", str(period_id), *by_name, "--amount", "20.5", "--reference", "S-1")
    assert done.returncode == 0, done.stderr
    certificate_id = int(re.search(r"certificate (\d+)", done.stdout)[1])
    assert "now 20.5 t of 50 t (29.5 t still owed)" in done.stdout
    assert status(deployment, period_id, admin)[:2] == (50_000, 20_500)
    (surrendered,) = events(deployment, "Surrendered")
    assert (surrendered["certificateId"], surrendered["amount"], surrendered["entity"]) == (
        certificate_id,
        20_500,
        admin,
    )
    assert deployment.credit.functions.balanceOf(admin, token_id).call() == 100_000 - 20_500

    before = chain_mark(deployment)
    replay = run(deployment, "surrender", "--period", str(period_id), *by_id, "--amount", "20.5", "--reference", "S-1")
    assert replay.returncode == 0, replay.stderr
    assert f"already done: reference 'S-1' is certificate {certificate_id}; nothing was sent" in replay.stdout

    too_much = run(deployment, "surrender", "--period", str(period_id), *by_id, "--amount", "30")
    assert too_much.returncode == 1
    assert "30 t is more than the 29.5 t still owed (obligation 50 t, surrendered 20.5 t)" in too_much.stderr

    ineligible = run(deployment, "surrender", "--period", str(strict_id), *by_name, "--amount", "1")
    assert ineligible.returncode == 1
    assert (
        f"{describe(token_id)} (id {token_id}) is not eligible: "
        f"ComplianceIneligibleVintage({strict_id}, {token_id}, 2021, 2021, 2022, 0)"
    ) in ineligible.stderr
    assert chain_mark(deployment) == before
    assert status(deployment, period_id, admin)[1] == 20_500


def test_surrender__for_another_entity__only_as_its_approved_operator(deployment):
    admin = deployment.admin
    token_id, _, _ = credits_of_2021(deployment, 10, holder=DEV_1)
    period_id = open_period(deployment)
    set_directly(deployment, period_id, {DEV_1: ("Borealis Cement SA", 4_000)})
    credit = ["--id", str(token_id), "--amount", "4"]
    # The session's chain is shared by every e2e file: start from "not approved" whatever ran before.
    revoke = deployment.credit.functions.setApprovalForAll(admin, False).transact({"from": DEV_1})
    assert deployment.w3.eth.wait_for_transaction_receipt(revoke)["status"] == 1

    before = chain_mark(deployment)
    refused = run(deployment, "surrender", "--period", str(period_id), *credit, "--entity", DEV_1)
    assert refused.returncode == 1
    assert f"{admin} is not an approved operator of {DEV_1} on the credit token" in refused.stderr
    assert chain_mark(deployment) == before

    approve = deployment.credit.functions.setApprovalForAll(admin, True).transact({"from": DEV_1})
    assert deployment.w3.eth.wait_for_transaction_receipt(approve)["status"] == 1
    done = run(deployment, "surrender", "--period", str(period_id), *credit, "--entity", DEV_1)
    assert done.returncode == 0, done.stderr
    assert "(compliant)" in done.stdout
    assert status(deployment, period_id, DEV_1) == (4_000, 4_000, False, True, 0)
    (surrendered,) = events(deployment, "Surrendered")
    assert (surrendered["entity"], surrendered["by"]) == (DEV_1, admin)
    assert deployment.credit.functions.balanceOf(DEV_1, token_id).call() == 6_000
    revoke = deployment.credit.functions.setApprovalForAll(admin, False).transact({"from": DEV_1})
    assert deployment.w3.eth.wait_for_transaction_receipt(revoke)["status"] == 1


def retire_with_reference(deployment: Deployment, token_id: int, units: int, reference: str, sender: str) -> int:
    """A voluntary retirement sent straight to the contract, with the surrender rule's retirementRef."""
    inp = (sender, "Other GmbH", "Other reason", "DE", 1_735_689_600, 1_767_225_599, keccak(text=reference))
    tx = deployment.retirement.functions.retire([token_id], [units], inp).transact({"from": sender})
    assert deployment.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    return deployment.retirement.functions.certificateOfReference(sender, keccak(text=reference)).call()


def test_surrender__reference_used_for_another_retirement__conflict_not_done_and_nothing_sent(deployment):
    admin = deployment.admin
    token_id, _, _ = credits_of_2021(deployment, 100)
    period_id = open_period(deployment)
    set_directly(deployment, period_id, {admin: ("Acme Steel AG", 50_000)})
    credit = ["--id", str(token_id), "--amount", "2"]
    used, squatted = f"S-used-{time.time_ns()}", f"S-squat-{time.time_ns()}"
    # The entity used `used` for a voluntary retirement of the same 2 t: not this surrender.
    voluntary = retire_with_reference(deployment, token_id, 2_000, used, admin)

    before = chain_mark(deployment)
    refused = run(deployment, "surrender", "--period", str(period_id), *credit, "--reference", used)
    assert refused.returncode == 1
    assert f"conflict: {admin} already used this reference for certificate #{voluntary}" in refused.stderr
    assert "purpose voluntary (this surrender: compliance)" in refused.stderr
    assert "already done" not in refused.stdout
    assert chain_mark(deployment) == before
    assert status(deployment, period_id, admin)[1] == 0

    # A stranger retiring with the entity's reference first does not block the entity.
    deployment.transact(deployment.credit.functions.safeTransferFrom(admin, DEV_1, token_id, 1, b""))
    squat = retire_with_reference(deployment, token_id, 1, squatted, DEV_1)
    done = run(deployment, "surrender", "--period", str(period_id), *credit, "--reference", squatted)
    assert done.returncode == 0, done.stderr
    mine = deployment.retirement.functions.certificateOfReference(admin, keccak(text=squatted)).call()
    assert 0 < squat < mine and status(deployment, period_id, admin)[1] == 2_000
    replay = run(deployment, "surrender", "--period", str(period_id), *credit, "--reference", squatted)
    assert f"already done: reference {squatted!r} is certificate {mine}; nothing was sent" in replay.stdout


# ---------------------------------------------------------------------------------------------- deadline and report


def test_deadline_then_report__statuses_final_refusals_and_csv_matches_chain(deployment, tmp_path):
    admin = deployment.admin
    token_id, _, _ = credits_of_2021(deployment, 100)
    deadline = now(deployment) + 600
    period_id = open_period(deployment, deadline=deadline)
    late, lowered = fresh_address(), fresh_address()
    set_directly(deployment, period_id, {admin: ("Acme Steel AG", 3_000), late: ("Late GmbH", 2_500)})
    path = write(tmp_path / "o.csv", HEADER, f"{admin},Acme Steel AG,2.999", f"{lowered},Lowered,1")

    done = run(deployment, "surrender", "--period", str(period_id), "--id", str(token_id), "--amount", "3")
    assert done.returncode == 0, done.stderr
    reference = re.search(r"reference \(derived from the command\): (auto:[0-9a-f]{32})", done.stderr)[1]
    before = chain_mark(deployment)
    again = run(deployment, "surrender", "--period", str(period_id), "--id", str(token_id), "--amount", "3")
    assert again.returncode == 0, again.stderr
    assert f"already done: reference {reference!r} is certificate" in again.stdout
    assert chain_mark(deployment) == before
    below = run(deployment, "set-obligations", "--period", str(period_id), "--csv", str(path))
    assert below.returncode == 1
    assert f"{path}:2: tonnes: 2.999 t is below the 3 t {admin} already surrendered in this period" in below.stderr
    assert chain_mark(deployment) == before

    deployment.anvil.rpc("evm_mine", [deadline + 1])
    before = chain_mark(deployment)
    refused = run(deployment, "surrender", "--period", str(period_id), "--id", str(token_id), "--amount", "1")
    assert refused.returncode == 1
    assert f"the deadline of period {period_id} ('Test period') passed at" in refused.stderr
    closed = run(deployment, "set-obligations", "--period", str(period_id), "--csv", str(path))
    assert closed.returncode == 1
    assert f"period {period_id} ('Test period') closed at its deadline" in closed.stderr
    assert chain_mark(deployment) == before

    out = tmp_path / "report.csv"
    report = subprocess.run(  # a read-only command: no --account
        [str(ROOT / ".venv/bin/ape"), "run", "compliance", "report", "--period", str(period_id), "--csv", str(out),
         "--network", deployment.anvil.url],
        cwd=ROOT, env=script_env(deployment.directory), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert "(passed: statuses are final)" in report.stdout
    table = {line.split()[0]: line for line in report.stdout.splitlines() if line.startswith("0x")}
    assert table[admin].split()[-2:] == ["compliant", "1"]
    assert table[late].split()[-2:] == ["shortfall", "0"]
    rows = list(csv.DictReader(out.open()))
    assert [(r["entity"], r["name"], r["status"]) for r in rows] == [
        (admin, "Acme Steel AG", "compliant"),
        (late, "Late GmbH", "shortfall"),
    ]
    for row in rows:
        obligation, surrendered, passed, compliant, shortfall = status(deployment, period_id, row["entity"])
        in_units = [Decimal(row[f"{c}_tonnes"]) * 1000 for c in ("obligation", "surrendered", "shortfall")]
        assert in_units == [obligation, surrendered, shortfall]
        assert passed is True and row["deadline_passed"] == "true"
        assert (row["status"] == "compliant") is compliant
    logged = deployment.compliance.events.Surrendered().get_logs(
        from_block=deployment.start_block, argument_filters={"periodId": period_id}
    )
    assert [(log["args"]["entity"], str(log["args"]["certificateId"])) for log in logged] == [
        (admin, rows[0]["certificates"])
    ]


def test_set_obligations__account_without_the_role__refusal_names_role_contract_account_and_grant(deployment, tmp_path):
    period_id = open_period(deployment)
    entity = fresh_address()
    path = write(tmp_path / "o.csv", HEADER, f"{entity},Acme,10")
    block = deployment.w3.eth.block_number
    result = deployment.run(
        "compliance", "set-obligations", "--period", str(period_id), "--csv", str(path), account="TEST::1"
    )
    assert result.returncode == 1
    err = result.stderr
    assert "AccessControlUnauthorizedAccount" in err and "_ROLE" in err
    assert f"{DEV_1} does not hold" in err or f"{to_checksum_address(DEV_1)} does not hold" in err
    assert "on CompliancePeriods" in err and "ape run admin grant" in err
    assert "\\x" not in err and "b'" not in err and "Run again" not in err
    assert "tx.origin" not in result.stdout and len((result.stdout + err).splitlines()) < 8
    assert deployment.w3.eth.block_number == block
    assert status(deployment, period_id, entity)[0] == 0
