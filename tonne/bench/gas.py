"""Gas of every core operation, next to OpenZeppelin ERC1155 / ERC1155Supply baselines measured in the same run.

``measure_gas`` is used both by ``make bench`` and by the gas-pinning tests, so the figures in the README and
the figures the tests hold are produced by the same code. Each comparison puts both sides in the same
condition: a *fresh* holder had no balance of the id before, a *warm* one had; a *new id* had no supply before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tonne.registry.suite import deploy_suite

ZERO_REF = b"\x00" * 32
TARGETS = {
    # name: (numerator operation, denominator operation, maximum ratio)
    "open transfer, fresh holder vs ERC1155": ("transfer open fresh", "oz transfer fresh", 1.10),
    "open transfer, warm holder vs ERC1155": ("transfer open warm", "oz transfer warm", 1.10),
    "permissioned transfer, fresh holder vs ERC1155": ("transfer permissioned fresh", "oz transfer fresh", 1.25),
    "permissioned transfer, warm holder vs ERC1155": ("transfer permissioned warm", "oz transfer warm", 1.25),
    "issue to a new id vs ERC1155Supply mint": ("issue new id", "oz-supply mint new id", 1.00),
    # issue 11: a retirement in a many-retirement transaction costs at most 0.8x a single retire.
    "retirement in a batch of 50 vs a single retire": ("retire batch of 50, per retirement", "retire 1 id", 0.80),
}
COMPARISONS = {
    "issue to an existing id vs ERC1155Supply mint": ("issue existing id", "oz-supply mint existing id"),
    "10-id batch transfer vs ERC1155": ("batch transfer 10 ids open", "oz batch transfer 10 ids"),
    "issue new id with order reference vs ERC1155Supply mint": ("issue new id with order ref", "oz-supply mint new id"),
    # Context, not like for like: a retirement burns, mints a locked ERC-721 certificate and stores two slots.
    "retire 1 id with certificate vs ERC1155Supply mint": ("retire 1 id", "oz-supply mint new id"),
    "retire 10 ids with one certificate vs ERC1155 10-id batch transfer": ("retire 10 ids", "oz batch transfer 10 ids"),
    "issue and retire vs ERC1155Supply mint": ("issue and retire", "oz-supply mint new id"),
    "compliance surrender vs voluntary retire, 1 id": ("compliance surrender 1 id", "retire 1 id (compliance bench)"),
}


@dataclass
class GasReport:
    gas: dict[str, int] = field(default_factory=dict)

    def record(self, name: str, receipt: Any) -> Any:
        self.gas[name] = int(receipt.gas_used)
        return receipt

    def ratios(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, (num, den, limit) in TARGETS.items():
            ratio = self.gas[num] / self.gas[den]
            out[name] = {"ratio": round(ratio, 4), "target": limit, "met": ratio <= limit}
        for name, (num, den) in COMPARISONS.items():
            out[name] = {"ratio": round(self.gas[num] / self.gas[den], 4), "target": None, "met": None}
        return out


def _deploy_gas(contract: Any) -> int:
    return int(contract.creation_metadata.receipt.gas_used)


def measure_gas(project: Any, accounts: list[Any]) -> GasReport:
    """Deploy fresh contracts and measure each operation once (10 accounts; roles are taken from them)."""
    admin, registrar, verifier, issuer, compliance, regulator, alice, bob, carol, dave = accounts[:10]
    report = GasReport()
    roles = {
        "REGISTRAR_ROLE": [registrar],
        "VERIFIER_ROLE": [verifier],
        "ISSUER_ROLE": [issuer],
        "COMPLIANCE_ROLE": [compliance],
        "REGULATOR_ROLE": [regulator],
    }

    # --- OpenZeppelin baselines -------------------------------------------------------------------------------
    oz = project.BaselineERC1155.deploy(sender=admin)
    ozs = project.BaselineERC1155Supply.deploy(sender=admin)
    report.gas["oz deploy ERC1155"] = _deploy_gas(oz)
    report.gas["oz-supply deploy ERC1155Supply"] = _deploy_gas(ozs)
    ozs.mint(dave, 999, 1, sender=admin)  # the contract already has supply, as a live token would
    report.record("oz-supply mint new id", ozs.mint(alice, 1, 1_000_000, sender=admin))
    report.record("oz-supply mint existing id", ozs.mint(alice, 1, 1_000, sender=admin))
    oz.mint(dave, 999, 1, sender=admin)
    report.record("oz mint new id", oz.mint(alice, 1, 1_000_000, sender=admin))
    report.record("oz transfer fresh", oz.safeTransferFrom(alice, bob, 1, 1_000, b"", sender=alice))
    report.record("oz transfer warm", oz.safeTransferFrom(alice, bob, 1, 1_000, b"", sender=alice))
    ids = list(range(100, 110))
    for token_id in ids:
        oz.mint(alice, token_id, 1_000_000, sender=admin)
    report.record(
        "oz batch transfer 10 ids", oz.safeBatchTransferFrom(alice, carol, ids, [1_000] * 10, b"", sender=alice)
    )

    # --- Tonne, open mode ------------------------------------------------------------------------------------
    suite = deploy_suite(project, admin, permissioned=False, roles=roles)
    registry, credit = suite.registry, suite.credit
    report.gas["deploy CarbonRegistry"] = _deploy_gas(registry)
    report.gas["deploy CarbonCredit"] = _deploy_gas(credit)
    project_id = _register(report, registry, registrar, issuer, alice, "open")
    first = report.record(
        "add batch (first of project)", registry.addBatch(project_id, _batch(1, 10_000, "B-1"), 0, sender=registrar)
    ).return_value
    report.record("verify batch", registry.verifyBatch(first, sender=verifier))
    credit.issue(first, dave, 1, ZERO_REF, sender=issuer)  # the token already has supply, as for the baseline
    second = report.record(
        "add batch (append)", registry.addBatch(project_id, _batch(10_001, 20_000, "B-2"), 1, sender=registrar)
    ).return_value
    registry.verifyBatch(second, sender=verifier)
    report.record("issue new id", credit.issue(second, alice, 1_000_000, ZERO_REF, sender=issuer))
    report.record("issue existing id", credit.issue(second, alice, 1_000, ZERO_REF, sender=issuer))
    third = registry.addBatch(project_id, _batch(20_001, 30_000, "B-3"), 2, sender=registrar).return_value
    registry.verifyBatch(third, sender=verifier)
    report.record("issue new id with order ref", credit.issue(third, alice, 1_000_000, b"\x01" * 32, sender=issuer))
    report.record("transfer open fresh", credit.safeTransferFrom(alice, bob, second, 1_000, b"", sender=alice))
    report.record("transfer open warm", credit.safeTransferFrom(alice, bob, second, 1_000, b"", sender=alice))
    batch_ids = _ten_batches(registry, credit, project_id, registrar, verifier, issuer, alice, start=3)
    report.record(
        "batch transfer 10 ids open",
        credit.safeBatchTransferFrom(alice, carol, batch_ids, [1_000] * 10, b"", sender=alice),
    )
    orders = [(batch_ids[i], bob, 1_000, ZERO_REF) for i in range(10)]
    report.record("issueMany 10 orders, 10 ids", credit.issueMany(orders, sender=issuer))

    # --- retirement: as the retire tool sends it (a retirement reference, a certificate to the beneficiary) -----
    retirement = suite.retirement
    report.gas["deploy CarbonRetirement"] = _deploy_gas(retirement)
    retirement.retire([second], [1_000], retirement_input(0), sender=alice)  # the certificate counter is warm now
    report.record("retire 1 id", retirement.retire([second], [1_000], retirement_input(1), sender=alice))
    no_ref = dict(retirement_input(4), retirementRef=ZERO_REF)
    report.record("retire 1 id, no reference", retirement.retire([second], [1_000], no_ref, sender=alice))
    report.record("retire 10 ids", retirement.retire(batch_ids, [1_000] * 10, retirement_input(2), sender=alice))
    report.record(
        "issue and retire",
        retirement.issueAndRetire(third, 1_000, b"\x03" * 32, retirement_input(3), sender=issuer),
    )
    # An approved operator (bob) retires alice's credits: the operator is held to freeze and allowlist too.
    credit.setApprovalForAll(bob, True, sender=alice)
    report.record(
        "retire from 1 id (approved operator)",
        retirement.retireFrom(alice, [second], [1_000], retirement_input(5), sender=bob),
    )
    # Many retirements in one transaction (retireBatch), each as "retire 1 id" above: its own reference and
    # certificate. "per retirement" is the transaction's gas over its retirements (docs/retirement.md).
    next_ref = 100
    for size in BATCH_SIZES:
        requests = [
            dict(holder=ZERO_ADDRESS, ids=[second], amounts=[1_000], input=retirement_input(next_ref + i))
            for i in range(size)
        ]
        next_ref += size
        gas = report.record(f"retire batch of {size}", retirement.retireBatch(requests, sender=alice)).gas_used
        report.gas[f"retire batch of {size}, per retirement"] = gas // size

    # --- Tonne, permissioned mode ----------------------------------------------------------------------------
    psuite = deploy_suite(project, admin, permissioned=True, roles=roles)
    preg, pcredit = psuite.registry, psuite.credit
    report.gas["deploy CarbonCredit (permissioned)"] = _deploy_gas(pcredit)
    report.record("allowlist 1 account", pcredit.setAllowed([alice], True, sender=compliance))
    pcredit.setAllowed([bob, carol, dave], True, sender=compliance)
    pid = _register(None, preg, registrar, issuer, alice, "perm")
    pfirst = preg.addBatch(pid, _batch(1, 10_000, "P-1"), 0, sender=registrar).return_value
    preg.verifyBatch(pfirst, sender=verifier)
    report.record("issue new id (permissioned)", pcredit.issue(pfirst, alice, 1_000_000, ZERO_REF, sender=issuer))
    report.record("transfer permissioned fresh", pcredit.safeTransferFrom(alice, bob, pfirst, 1_000, b"", sender=alice))
    report.record("transfer permissioned warm", pcredit.safeTransferFrom(alice, bob, pfirst, 1_000, b"", sender=alice))

    # --- the slow paths, once something is frozen or restricted somewhere --------------------------------------
    credit.setFrozen(dave, True, "bench", sender=regulator)
    report.record(
        "transfer open warm, some account frozen",
        credit.safeTransferFrom(alice, bob, second, 1_000, b"", sender=alice),
    )
    other = _register(None, registry, registrar, issuer, alice, "other")
    registry.setProjectStatus(other, 3, "bench", sender=registrar)
    report.record(
        "transfer open warm, some account frozen and some project suspended",
        credit.safeTransferFrom(alice, bob, second, 1_000, b"", sender=alice),
    )
    report.record("freeze account", credit.setFrozen(carol, True, "bench", sender=regulator))
    report.record("pause", credit.pause(sender=regulator))

    _measure_compliance(report, project, admin, registrar, verifier, issuer, regulator, alice)
    return report


BATCH_SIZES = (1, 10, 50)  # retireBatch sizes measured
ZERO_ADDRESS = "0x" + "00" * 20


def retirement_input(n: int, *, beneficiary: str = "0x" + "00" * 20) -> dict[str, Any]:
    """A RetirementInput as the retire tool sends it: texts of a typical length and reference number ``n``; the
    fixed-width texts keep the calldata (and so the gas) the same for every ``n`` of the same width."""
    return dict(
        beneficiary=beneficiary,
        beneficiaryName=f"Bench Holdings {n:06d}",
        reason="Scope 1 emissions FY2025",
        jurisdiction="DE",
        periodStart=1_735_689_600,
        periodEnd=1_767_225_599,
        retirementRef=(n + 1).to_bytes(32, "big"),
    )


def _measure_compliance(
    report: GasReport, project: Any, admin: Any, registrar: Any, verifier: Any, issuer: Any, regulator: Any, entity: Any
) -> None:
    """CompliancePeriods on a suite of its own: opening periods, setting obligations, and surrenders next to a
    voluntary retirement of the same id by the same holder (a warm holder, a warm id, certificates already minted).
    """
    roles = {
        "REGISTRAR_ROLE": [registrar],
        "VERIFIER_ROLE": [verifier],
        "ISSUER_ROLE": [issuer],
        "PERIOD_REGULATOR_ROLE": [regulator],
    }
    suite = deploy_suite(project, admin, roles=roles)
    periods, retirement = suite.compliance, suite.retirement
    report.gas["deploy CompliancePeriods"] = _deploy_gas(periods)
    project_id = _register(None, suite.registry, registrar, issuer, entity, "compliance")
    ids = _ten_batches(suite.registry, suite.credit, project_id, registrar, verifier, issuer, entity, start=0)
    token_id = ids[0]
    voluntary = dict(retirement_input(0), retirementRef=ZERO_REF)  # no reference, as the surrenders below
    retirement.retire([token_id], [1_000], voluntary, sender=entity)  # warm: the id has retired units already

    terms = dict(
        name="EU ETS 2025 surrender",
        jurisdiction="DE",
        periodStart=1_735_689_600,
        periodEnd=1_767_225_599,
        deadline=4_102_444_799,
        vintageFrom=0,
        vintageTo=0,
        eligibleStandards=[],
    )
    plain = report.record("open compliance period", periods.openPeriod(terms, sender=regulator)).return_value
    limited = report.record(
        "open compliance period (vintages, 2 standards)",
        periods.openPeriod(
            dict(terms, vintageFrom=2016, vintageTo=2025, eligibleStandards=["VCS", "GS"]), sender=regulator
        ),
    ).return_value
    many = periods.openPeriod(terms, sender=regulator).return_value
    report.record(
        "set obligations, 1 entity",
        periods.setObligations(plain, [entity], ["Acme Steel AG"], [10**9], sender=regulator),
    )
    others = [f"0x{n:040x}" for n in range(1, 11)]
    report.record(
        "set obligations, 10 entities",
        periods.setObligations(limited, others, [f"Entity {n}" for n in range(10)], [10**9] * 10, sender=regulator),
    )
    periods.setObligations(limited, [entity], ["Acme Steel AG"], [10**9], sender=regulator)
    periods.setObligations(many, [entity], ["Acme Steel AG"], [10**9], sender=regulator)

    report.record("retire 1 id (compliance bench)", retirement.retire([token_id], [1_000], voluntary, sender=entity))
    report.record("compliance surrender 1 id", periods.surrender(plain, [token_id], [1_000], ZERO_REF, sender=entity))
    report.record(
        "compliance surrender 1 id, entity's 2nd in the period",
        periods.surrender(plain, [token_id], [1_000], ZERO_REF, sender=entity),
    )
    report.record(
        "compliance surrender 1 id, vintage and standard limits",
        periods.surrender(limited, [token_id], [1_000], ZERO_REF, sender=entity),
    )
    report.record(
        "compliance surrender 10 ids", periods.surrender(many, ids, [1_000] * len(ids), ZERO_REF, sender=entity)
    )


def _register(report: GasReport | None, registry: Any, registrar: Any, issuer: Any, owner: Any, tag: str) -> int:
    receipt = registry.registerProject(
        dict(
            standard="VCS",
            externalId=f"BENCH-{tag}",
            name="Bench Forest Conservation",
            methodology="VM0007",
            projectType="REDD+",
            country=b"BR",
            region="Para",
            owner=owner,
            metadataURI="ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
            metadataHash=b"\x42" * 32,
        ),
        sender=registrar,
    )
    approve = registry.setProjectStatus(receipt.return_value, 2, "validated", sender=registrar)
    authorise = registry.setProjectIssuer(receipt.return_value, issuer, True, sender=registrar)
    if report is not None:
        report.record("register project", receipt)
        report.record("approve project", approve)
        report.record("authorise issuer", authorise)
    return int(receipt.return_value)


def _batch(first: int, last: int, ref: str) -> dict[str, Any]:
    return dict(
        serialFirst=first,
        serialLast=last,
        periodStart=1_609_459_200,
        periodEnd=1_640_995_199,
        issuanceReference=ref,
        metadataURI=f"ipfs://bafy-batch/{ref}.json",
    )


def _ten_batches(registry, credit, project_id, registrar, verifier, issuer, holder, *, start: int) -> list[int]:
    ids = []
    for n in range(10):
        number = start + n
        first = number * 10_000 + 1
        token_id = registry.addBatch(
            project_id, _batch(first, first + 9_999, f"T-{number}"), number, sender=registrar
        ).return_value
        registry.verifyBatch(token_id, sender=verifier)
        credit.issue(token_id, holder, 1_000_000, ZERO_REF, sender=issuer)
        ids.append(int(token_id))
    return ids
