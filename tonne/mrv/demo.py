"""The demo's MRV steps (``demo_step``, after the market's): the wind project (CCER-0231 Inner Mongolia Wind) has five
turbine meters; a week of their signed readings, a reading every 5 minutes, is simulated; the project owner
registers the meters and a verifier approves them; a methodologist publishes the grid's emission factor; the
readings are ingested (every signature checked) into a local SQLite store; each meter's week is reported and
verified into a registry batch (the remainder below a tonne carried to its next report); the batches are issued
to the project owner; one reading is proven against the chain, and a tampered copy of it is not. Everything goes
through the code the `ape run mrv` commands run (tonne.mrv.chain, tonne.mrv.ingest). See docs/mrv.md, "The demo".
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from eth_utils import keccak

from tonne.core.demo import DemoContext, short
from tonne.core.ids import describe
from tonne.core.report import table
from tonne.core.units import format_tonnes
from tonne.mrv import chain as mrv_chain
from tonne.mrv import merkle
from tonne.mrv.deploy import MrvOptions
from tonne.mrv.ingest import ingest, load_devices
from tonne.mrv.simulate import DEFAULT_START, simulate
from tonne.mrv.store import ReadingStore

PROJECT_INDEX = 2  # the demo's third project: CCER-0231 Inner Mongolia Wind (CN)
METERS = 5
DAYS = 7
INTERVAL = 300  # seconds per reading
FACTOR = ("GRID-CN-2026", "CN", 1_767_225_600, 1_798_761_599, 581)  # code, country, 2026, g CO2e per kWh
PROVEN_SEQUENCE = 1_000
STEPS = 6


def demo_mrv_options(admin: Any) -> MrvOptions:
    """What the demo's deploy adds: the CarbonMRV; its roles are granted in the step (the demo's actors)."""
    return MrvOptions()


def demo_step(ctx: DemoContext) -> None:
    """The MRV steps (see the module's docstring); their summary goes to ``ctx.result["mrv"]``."""
    with tempfile.TemporaryDirectory(prefix="tonne-mrv-demo-") as directory:
        ctx.result["mrv"] = run_mrv_steps(ctx, Path(directory))


def run_mrv_steps(ctx: DemoContext, folder: Path) -> dict[str, Any]:
    echo, actors, gas = ctx.echo, ctx.actors, ctx.gas
    m = mrv_chain.connect_mrv(ctx.provider)
    admin, verifier, issuer = actors.admin, actors.verifier, actors.issuer
    methodologist = actors.regulator
    project_id = ctx.project_ids[PROJECT_INDEX]
    project = ctx.registry.project(project_id)
    owner = next(a for a in actors.buyers if a.address == project.owner)

    def step(n: int, title: str) -> None:
        echo(f"[mrv {n}/{STEPS}] {title}")

    echo("")
    step(1, f"A week of signed meter readings from {project.name}'s {METERS} turbines (a reading every 5 minutes)")
    for role, account in (("VERIFIER_ROLE", verifier), ("METHODOLOGY_ROLE", methodologist)):
        gas.add("grant MRV role", m.contract.grantRole(getattr(m.contract, role)(), account, sender=admin))
    readings, devices = folder / "week.csv", folder / "week.devices.json"
    sim = simulate(readings, devices, m.domain, meters=METERS, steps=DAYS * 86_400 // INTERVAL, start=DEFAULT_START,
                   interval_s=INTERVAL, project_id=project_id)  # fmt: skip
    meter_ids = [meter.meter_id for meter in sim.meters]
    echo(f"      {sim.rows:,} readings (Wh per 5 minutes, each signed by its meter's key, EIP-712) of "
         f"{', '.join(meter_ids)}, from {DEFAULT_START} (2026-11-02) for {DAYS} days")  # fmt: skip

    step(2, "The project owner registers the meters, a verifier approves them; the grid's emission factor")
    for done in mrv_chain.register_devices(m, owner, str(devices), DEFAULT_START):
        gas.add("registerDevice", done.receipt)
    for done in mrv_chain.approve_devices(m, verifier, meter_ids):
        gas.add("approveDevice", done.receipt)
    code, country, valid_from, valid_until, g_per_kwh = FACTOR
    factor = mrv_chain.publish_factor(m, methodologist, code, country, (valid_from, valid_until), g_per_kwh)
    gas.add("publishFactor", factor.receipt)
    echo(f"      {METERS} meters of project {project_id} registered by {short(owner)} (the owner) and approved by "
         f"{short(verifier)}; factor {code} v{factor.version} (#{factor.factor_id}): {g_per_kwh} g CO2e/kWh for "
         f"{country} in 2026, published by {short(methodologist)}")  # fmt: skip

    step(3, "The readings ingested: every signature checked against the keys on the chain")
    chain_devices = folder / "chain.devices.json"
    chain_devices.write_text(json.dumps(mrv_chain.devices_file(m)), encoding="utf-8")
    keys, _ = load_devices(chain_devices)
    store = ReadingStore(f"sqlite:///{folder / 'readings.sqlite'}")
    try:
        result = ingest([readings], store, keys, m.domain, workers=2)
        again = ingest([readings], store, keys, m.domain, workers=2)
        echo(f"      {result.stored:,} readings stored ({result.readings_per_second:,.0f} readings/s), "
             f"{result.refused} refused; ingested again: {again.stored} stored, {again.duplicates:,} already "
             "stored")  # fmt: skip

        step(4, "Each meter's week reported by the owner, re-derived and approved by the verifier: a registry batch")
        rows, batches = [], []
        for meter in meter_ids:
            submitted = mrv_chain.submit_report(m, owner, store, meter, factor.factor_id)
            gas.add("submitReport", submitted.receipt)
            verified = mrv_chain.verify_report(m, verifier, store, submitted.report_id)
            gas.add("approveReport", verified.receipt)
            f = submitted.period.fields
            batch = describe(verified.batch_id) if verified.batch_id else "-"
            rows.append([f"#{submitted.report_id}", meter, f"{f.first_sequence}..{f.last_sequence}",
                         f"{f.total / 1e6:,.1f}", str(verified.tonnes), f"{verified.carry_mg:,}", batch])  # fmt: skip
            batches.append((verified.batch_id, verified.tonnes, submitted.report_id))
        shown = table(["report", "meter", "readings", "MWh", "t CO2e", "carried mg", "batch"], rows)
        echo("\n".join("      " + line for line in shown.splitlines()))
        issued_tonnes = sum(t for _, t, _ in batches)
        echo(f"      {issued_tonnes:,} t CO2e in {sum(1 for b, _, _ in batches if b)} verified batches: floor(MWh "
             f"x {g_per_kwh} g/kWh); what is below a tonne stays on each meter for its next report")  # fmt: skip

        step(5, "The batches issued to the project owner")
        for batch_id, tonnes, report_id in batches:
            if batch_id:
                ref = keccak(text=f"MRV-DEMO-REPORT-{report_id}")  # the issuance's exactly-once reference
                gas.add("issue", ctx.credit.issue(batch_id, owner, tonnes * 1000, ref, sender=issuer))
        held = sum(int(ctx.credit.balanceOf(owner, b)) for b, _, _ in batches if b)
        echo(f"      {short(owner)} holds {format_tonnes(held)} of the {METERS} MRV batches")

        step(6, "An auditor proves one reading against the chain; a tampered copy of it fails")
        first_report = batches[0][2]
        proof = mrv_chain.prove_reading(m, store, first_report, PROVEN_SEQUENCE)
        tampered = replace(proof.reading, value=proof.reading.value + 1)
        tampered_ok = bool(m.contract.readingIncluded(first_report, tampered.as_tuple(), proof.proof))
        echo(f"      reading {PROVEN_SEQUENCE} of report #{first_report} ({proof.reading.value:,} Wh): leaf "
             f"0x{proof.leaf.hex()[:16]}.., {len(proof.proof)} proof hashes, readingIncluded = "
             f"{proof.included}")  # fmt: skip
        echo(f"      the same reading with 1 Wh more (leaf 0x{merkle.leaf_hash(tampered).hex()[:16]}..): "
             f"readingIncluded = {tampered_ok}")  # fmt: skip
    finally:
        store.close()
    return {
        "readings": result.stored,
        "reports": [r for _, _, r in batches],
        "batches": [b for b, _, _ in batches if b],
        "tonnes": issued_tonnes,
        "held": held,
        "proof_included": proof.included,
        "tampered_included": tampered_ok,
    }
