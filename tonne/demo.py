"""The main job: the whole credit lifecycle so far, on whatever chain ape is connected to (local Anvil by default).

Deploys the suite in permissioned mode, registers and approves projects at three standards, adds batches
(one out of serial order, one refused by the on-chain overlap guard), verifies them, puts buyers on the KYC
allowlist, issues credits from a CSV file with the resumable issuance tool, moves credits between KYC'd
accounts, shows the refusals a regulated deployment must make, retires credits (one batch, two batches in one
certificate, and an issue-and-retire), prints each certificate's data, writes one rendered certificate, and prints a
summary.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ape.exceptions import ContractLogicError

from tonne.bridge.demo import run_bridge_demo
from tonne.certificate import DEFAULT_OUT, CertificateData, load_deployed, write_documents
from tonne.core.deployments import Deployed
from tonne.core.ids import describe
from tonne.core.report import table
from tonne.core.units import format_tonnes, tonnes_to_units
from tonne.deploy import deploy_and_record
from tonne.issuance import issue_from_csv
from tonne.pledge.demo_steps import demo_pledge_options, run_pledge_steps
from tonne.registry.ops import ProjectStatus, add_batch, parse_period
from tonne.registry.suite import REGISTRY_ROLES, TOKEN_ROLES
from tonne.retirement import command_request, retire_request

PROJECTS = [
    dict(
        standard="VCS",
        externalId="VCS-1748",
        name="Kasigau Corridor REDD+",
        methodology="VM0009",
        projectType="REDD+",
        country=b"KE",
        region="Taita-Taveta",
    ),
    dict(
        standard="GS",
        externalId="GS-5678",
        name="Efficient Cookstoves Ashanti",
        methodology="GS-TPDDTEC",
        projectType="Cookstoves",
        country=b"GH",
        region="Ashanti",
    ),
    dict(
        standard="CCER",
        externalId="CCER-0231",
        name="Inner Mongolia Wind",
        methodology="CM-001-V02",
        projectType="Wind",
        country=b"CN",
        region="Inner Mongolia",
    ),
]

# (project index, serial range, period, issuance reference): the 2021 vintage comes before 2020 (it goes to
# the head of the serial list) and 2022 after both (appended after 2021), to show the position hints.
BATCHES = [
    (0, (50_001, 120_000), "2021-01-01:2021-12-31", "VCS-VCU-1748-2021"),
    (0, (1, 50_000), "2020-01-01:2020-12-31", "VCS-VCU-1748-2020"),
    (1, (1, 20_000), "2022-01-01:2022-12-31", "GS-VER-5678-2022"),
    (2, (1, 80_000), "2023-01-01:2023-12-31", "CCER-0231-2023"),
    (0, (120_001, 160_000), "2022-01-01:2022-12-31", "VCS-VCU-1748-2022"),
]


@dataclass
class Ledger:
    """Gas spent per step of the demo."""

    steps: dict[str, list[int]] = field(default_factory=dict)

    def add(self, step: str, receipt: Any) -> Any:
        self.steps.setdefault(step, []).append(int(receipt.gas_used))
        return receipt


@dataclass
class Actors:
    admin: Any
    registrar: Any
    verifier: Any
    issuer: Any
    compliance: Any
    regulator: Any
    buyers: list[Any]
    outsider: Any

    @classmethod
    def from_accounts(cls, accounts: list[Any]) -> Actors:
        return cls(*accounts[:6], buyers=list(accounts[6:9]), outsider=accounts[9])


def run_demo(
    project: Any,
    provider: Any,
    accounts: list[Any],
    echo: Callable[[str], None] = print,
    *,
    out: Path | str = DEFAULT_OUT,
) -> dict[str, Any]:
    """Run the whole demo and return its summary (also printed through ``echo``); one rendered certificate is
    written under ``out``."""
    actors = Actors.from_accounts(accounts)
    gas = Ledger()

    echo("[1/8] Deploying the suite (permissioned mode)")
    roles = {
        "REGISTRAR_ROLE": [actors.registrar],
        "VERIFIER_ROLE": [actors.verifier],
        "ISSUER_ROLE": [actors.issuer],
        "COMPLIANCE_ROLE": [actors.compliance],
        "REGULATOR_ROLE": [actors.regulator],
    }
    assert set(roles) == set(REGISTRY_ROLES + TOKEN_ROLES)
    network = f"{provider.network.ecosystem.name}:{provider.network.name}:{provider.name}"
    deployed = deploy_and_record(
        project,
        provider,
        network,
        actors.admin,
        permissioned=True,
        roles=roles,
        pledge=demo_pledge_options(actors.admin),
    )
    registry, credit = deployed.suite.registry, deployed.suite.credit
    for receipt in deployed.suite.receipts.values():
        gas.add("deploy", receipt)
    for name, entry in deployed.record["contracts"].items():
        echo(f"      {name:15} {entry['address']}")
    echo(f"      record: {deployed.path}" + (f" ({deployed.replaced})" if deployed.replaced else ""))
    start_block = min(e["blockNumber"] for e in deployed.record["contracts"].values())

    echo("[2/8] Registering and approving projects")
    project_ids = []
    for spec in PROJECTS:
        receipt = gas.add(
            "register project",
            registry.registerProject(
                dict(
                    spec,
                    owner=actors.buyers[0],
                    metadataURI=f"ipfs://tonne-demo/{spec['externalId']}",
                    metadataHash=bytes.fromhex("ab" * 32),
                ),
                sender=actors.registrar,
            ),
        )
        project_id = receipt.return_value
        gas.add(
            "approve project",
            registry.setProjectStatus(
                project_id, ProjectStatus.APPROVED, "validation report accepted", sender=actors.registrar
            ),
        )
        gas.add("authorise issuer", registry.setProjectIssuer(project_id, actors.issuer, True, sender=actors.registrar))
        project_ids.append(project_id)
        echo(f"      project {project_id}: {spec['standard']}:{spec['externalId']} {spec['name']} (Approved)")

    echo("[3/8] Adding batches (vintages) and verifying them")
    token_ids = []
    for index, (first, last), period, reference in BATCHES:
        project_id = project_ids[index]
        receipt, hint = add_batch(
            registry,
            project_id,
            (first, last),
            parse_period(period),
            reference,
            f"ipfs://tonne-demo/batch/{reference}.json",
            sender=actors.registrar,
            start_block=start_block,
        )
        gas.add("add batch", receipt)
        token_id = receipt.return_value
        gas.add("verify batch", registry.verifyBatch(token_id, sender=actors.verifier))
        token_ids.append(token_id)
        echo(f"      {describe(token_id)} {reference}: serials {first}-{last}, hint {hint}, verified")
    overlap_error = _expect_refusal(
        lambda: registry.addBatch(
            project_ids[0],
            dict(
                serialFirst=49_990,
                serialLast=50_010,
                periodStart=1,
                periodEnd=2,
                issuanceReference="VCS-DUPLICATE",
                metadataURI="",
            ),
            token_ids[1] & 0xFFFFFFFFFFFFFFFF,
            sender=actors.registrar,
        )
    )
    echo(f"      refused on-chain, serials 49990-50010 of project {project_ids[0]}: {overlap_error}")

    echo("[4/8] KYC: the compliance officer allowlists the buyers")
    gas.add("allowlist", credit.setAllowed([b.address for b in actors.buyers], True, sender=actors.compliance))
    for buyer in actors.buyers:
        echo(f"      allowed {buyer.address}")

    echo("[5/8] Issuing credits from a CSV file")
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "issuance.csv"
        rows = _issuance_rows(actors.buyers)
        _write_csv(csv_path, rows)
        summary = issue_from_csv(csv_path, credit, registry, actors.issuer)
    gas.steps.setdefault("issue (CSV)", []).append(summary.gas_used)
    echo(f"      {summary.issued} rows issued in {summary.txs} transaction(s), {summary.gas_used:,} gas")

    echo("[6/8] Trading between KYC'd accounts, and what a regulated deployment refuses")
    a, b, c = actors.buyers
    vcs_2021 = token_ids[0]
    gas.add("transfer", credit.safeTransferFrom(a, b, vcs_2021, tonnes_to_units(250), b"", sender=a))
    echo(f"      {_short(a)} -> {_short(b)}: 250 t of {describe(vcs_2021)}")
    gas.add(
        "batch transfer",
        credit.safeBatchTransferFrom(
            b, c, [token_ids[2], vcs_2021], [tonnes_to_units("100.5"), tonnes_to_units(40)], b"", sender=b
        ),
    )
    echo(f"      {_short(b)} -> {_short(c)}: 100.5 t of {describe(token_ids[2])} and 40 t of {describe(vcs_2021)}")
    refusal = _expect_refusal(lambda: credit.safeTransferFrom(a, actors.outsider, vcs_2021, 1000, b"", sender=a))
    echo(f"      refused, to an account not on the allowlist: {refusal}")
    gas.add("freeze", credit.setFrozen(c, True, "court order 2026/17", sender=actors.regulator))
    refusal = _expect_refusal(lambda: credit.safeTransferFrom(c, a, token_ids[3], 1000, b"", sender=c))
    echo(f"      refused, from a frozen account: {refusal}")
    gas.add("unfreeze", credit.setFrozen(c, False, "order lifted", sender=actors.regulator))
    gas.add(
        "suspend project",
        registry.setProjectStatus(
            project_ids[2], ProjectStatus.SUSPENDED, "reversal under investigation", sender=actors.registrar
        ),
    )
    refusal = _expect_refusal(lambda: credit.safeTransferFrom(c, a, token_ids[3], 1000, b"", sender=c))
    echo(f"      refused, credits of a suspended project: {refusal}")
    gas.add(
        "approve project",
        registry.setProjectStatus(
            project_ids[2], ProjectStatus.APPROVED, "investigation closed", sender=actors.registrar
        ),
    )
    gas.add("transfer", credit.safeTransferFrom(c, a, token_ids[3], tonnes_to_units(10), b"", sender=c))
    echo(f"      after reinstatement: {_short(c)} -> {_short(a)}: 10 t of {describe(token_ids[3])}")

    echo("[7/8] Retiring credits, each retirement with its certificate")
    record = Deployed(record=deployed.record, registry=registry, credit=credit, retirement=deployed.suite.retirement)
    certificates = _retire(record, token_ids, actors, gas, echo, out=out)

    echo("[8/8] Summary")
    result = _summary(registry, credit, project_ids, token_ids, actors, gas, certificates)
    for block in result["tables"]:
        echo("")
        echo(block)
    result["pledge"] = run_pledge_steps(provider, actors, vcs_2021, echo, _expect_refusal)  # see docs/pledge.md

    echo("")
    result["bridge"] = run_bridge_demo(
        provider.uri,
        credit.address,
        vcs_2021,
        admin=actors.admin.address,
        compliance=actors.compliance.address,
        holders=[buyer.address for buyer in actors.buyers],
        echo=echo,
    )
    return result


# (who retires, credits as (token index, tonnes), beneficiary name, reason, jurisdiction, period; issue-and-retire)
RETIREMENTS = [
    ("buyer 0", [(0, "100")], "Acme Logistics GmbH", "Scope 1 emissions FY2025 (fleet)", "DE", "2025", False),
    ("buyer 2", [(0, "40"), (3, "500")], "Outsider Shipping Ltd", "Scope 3 freight, H1", "GB-ENG", "2025-H1", False),
    ("issuer", [(2, "250")], "Kumasi Metropolitan Assembly", "Municipal operations 2025", "GH-AH", "2025", True),
]


def _retire(
    deployed: Deployed,
    token_ids: list[int],
    actors: Actors,
    gas: Ledger,
    echo: Callable[[str], None],
    *,
    out: Path | str,
) -> list[CertificateData]:
    """The three retirements through the retire tool; returns their certificates, read back from the chain."""
    certificates = []
    for who, credits, name, reason, jurisdiction, period, issue in RETIREMENTS:
        account = actors.issuer if who == "issuer" else actors.buyers[int(who.split()[1])]
        beneficiary = actors.outsider.address if name.startswith("Outsider") else None
        request = command_request(
            project=None,
            batches=[],
            ids=[token_ids[i] for i, _ in credits],
            amounts=[tonnes for _, tonnes in credits],
            beneficiary=str(beneficiary) if beneficiary else None,
            name=name,
            reason=reason,
            jurisdiction=jurisdiction,
            period="2025-01-01:2025-06-30" if period == "2025-H1" else period,
            reference=f"DEMO-RETIRE-{len(certificates) + 1:04d}",
            issue=issue,
            sender=str(account.address),
        )
        summary = retire_request(request, deployed, account)
        step = "issue and retire" if issue else f"retire ({len(credits)} id{'s' * (len(credits) > 1)})"
        gas.steps.setdefault(step, []).append(summary.gas_used)
        (made,) = summary.certified
        (data,) = load_deployed(deployed, certificate_id=made.certificate_id)
        certificates.append(data)
        echo(f"      {_short(account)} {step}: certificate #{made.certificate_id}, {summary.gas_used:,} gas")
        for line in data.describe().splitlines():
            echo(f"        {line}")
    paths = write_documents(certificates[1], out)
    echo(f"      certificate #{certificates[1].certificate_id} rendered: {paths['svg']} and {paths['html']}")
    return certificates


def _issuance_rows(buyers: list[Any]) -> list[dict[str, str]]:
    refs = [b[3] for b in BATCHES]
    plan = [
        ("VCS:VCS-1748", refs[0], buyers[0], "12000"),
        ("VCS:VCS-1748", refs[0], buyers[1], "8000.250"),
        ("VCS:VCS-1748", refs[1], buyers[0], "5000"),
        ("GS:GS-5678", refs[2], buyers[1], "3500"),
        ("GS:GS-5678", refs[2], buyers[2], "1200.5"),
        ("CCER:CCER-0231", refs[3], buyers[2], "20000"),
    ]
    return [
        dict(project=p, batch=b, recipient=str(acct.address), tonnes=t, reference=f"DEMO-ORDER-{i:04d}")
        for i, (p, b, acct, t) in enumerate(plan, start=1)
    ]


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["project", "batch", "recipient", "tonnes", "reference"])
        writer.writeheader()
        writer.writerows(rows)


def _expect_refusal(action: Callable[[], Any]) -> str:
    """Send a transaction the contracts must refuse; return the custom error it reverted with.

    ape-foundry prints the full call trace of every failed transaction; for these deliberate refusals the
    error line is what matters, so the trace is captured and dropped.
    """
    try:
        with _stdout_silenced():
            action()
    except ContractLogicError as exc:
        return _error_text(exc)
    raise AssertionError("the contract accepted an action the demo expected it to refuse")


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    """Drop what is written to file descriptor 1 (the trace printer holds its own reference to stdout)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _error_text(exc: ContractLogicError) -> str:
    name = type(exc).__name__
    inputs = getattr(exc, "inputs", None)
    if inputs:
        args = ", ".join(f"{k}={_short_value(v)}" for k, v in inputs.items())
        return f"{name}({args})"
    return str(exc) or name


def _short_value(value: Any) -> str:
    text = str(value)
    return _short(value) if text.startswith("0x") and len(text) == 42 else text


def _short(account: Any) -> str:
    address = str(getattr(account, "address", account))
    return f"{address[:6]}..{address[-4:]}"


def _summary(registry, credit, project_ids, token_ids, actors, gas: Ledger, certificates=()) -> dict[str, Any]:
    projects = []
    for project_id in project_ids:
        p = registry.project(project_id)
        projects.append(
            [
                project_id,
                f"{p.standard}:{p.externalId}",
                p.name,
                bytes(p.country).decode(),
                ProjectStatus(p.status).name.title(),
                p.batchCount,
            ]
        )
    batches, holders = [], []
    holder_accounts = actors.buyers + [actors.outsider]
    for token_id in token_ids:
        b = registry.batch(token_id)
        supply = credit.totalSupply(token_id)
        balances = [credit.balanceOf(h, token_id) for h in holder_accounts]
        assert sum(balances) == supply, f"balances of {describe(token_id)} do not add up to its supply"
        batches.append(
            [
                describe(token_id),
                b.issuanceReference,
                f"{b.serialFirst}-{b.serialLast}",
                format_tonnes(credit.issuanceCap(token_id)),
                format_tonnes(credit.totalIssued(token_id)),
                format_tonnes(credit.totalRetired(token_id)),
                format_tonnes(supply),
            ]
        )
        for h, bal in zip(holder_accounts, balances, strict=True):
            if bal:
                holders.append([_short(h), describe(token_id), format_tonnes(bal)])
    gas_rows = [[step, len(v), f"{sum(v):,}", f"{sum(v) // len(v):,}"] for step, v in gas.steps.items()]
    total_gas = sum(sum(v) for v in gas.steps.values())
    tables = [
        table(["id", "project", "name", "country", "status", "batches"], projects, title="Projects"),
        table(
            ["batch", "issuance ref", "serials", "quantity", "issued", "retired", "supply"], batches, title="Batches"
        ),
        table(["holder", "batch", "balance"], holders, title="Holders"),
        table(
            ["certificate", "amount", "beneficiary", "batches", "jurisdiction"],
            [
                [f"#{c.certificate_id}", format_tonnes(c.total_units), c.beneficiary_name, len(c.lines), c.jurisdiction]
                for c in certificates
            ],
            title="Retirement certificates",
        ),
        table(["step", "txs", "gas", "gas/tx"], gas_rows, title=f"Gas used: {total_gas:,} in all"),
    ]
    return {
        "projects": projects,
        "batches": batches,
        "holders": holders,
        "certificates": [c.as_dict() for c in certificates],
        "gas": gas.steps,
        "total_gas": total_gas,
        "tables": tables,
    }
