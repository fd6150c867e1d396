"""MRV (issue 14): signed meter readings become a verified registry batch (see docs/mrv.md).

    ape run mrv simulate --contract 0x5FbDB2315678afecb367f032d93F642f64180aa3 --meters 5 --days 7 --out week.csv
    ape run mrv simulate --contract 0x5FbDB2315678afecb367f032d93F642f64180aa3 --fault tamper@40 --out faulty.csv
    ape run mrv simulate --contract 0x5FbDB2315678afecb367f032d93F642f64180aa3 --fault gap:0.01 --out day.jsonl
    ape run mrv register-devices week.devices.json --active-from 2026-11-02 --account owner   # owner or registrar
    ape run mrv approve-devices --file week.devices.json --account verifier                  # or METER_ID ...
    ape run mrv export-devices --out chain.devices.json                                      # the chain's keys
    ape run mrv publish-factor GRID-FR-2026 --country FR --valid-from 2026-01-01 --valid-until 2026-12-31 --g-per-kwh 56
    ape run mrv ingest week.csv --devices chain.devices.json      # deployments/mrv-readings-<chainId>.sqlite
    ape run mrv ingest readings/ --devices week.devices.json --db postgresql+psycopg://mrv@db/mrv
    ape run mrv report WF1-T01 --factor GRID-FR-2026 --until 2026-11-09 --account owner
    ape run mrv verify 1 --account verifier                       # approve: the registry batch; or --reject REASON
    ape run mrv prove 1 42 --out proof.json                       # reading 42 against report 1's root on the chain

Units: readings are in watt-hours (Wh) over [start, end) in unix seconds; capacities in watts (W); factors in
grams CO2e per kWh (= milligrams per Wh); one tonne is 1e9 mg, and what a report leaves below a tonne is carried to
the device's next report. Numbers are plain decimal integers of the digits 0-9: `1,5`, `1e3`, `1_000` and other
scripts' digits are refused, never reinterpreted. simulate and ingest are off-chain (ingest takes the devices from a
devices file: export-devices writes the chain's); the others use the deployment record (`ape run deploy --mrv`)
with ape's --network and --account. Every command is safe to run again: ingest stores nothing twice, and a device,
factor, report or decision already on the chain is reported as it stands, with nothing sent.
Exit status of ingest: 0 every reading stored or already stored; 1 nothing read (a missing file, a bad header or
devices file); 2 done, but some readings were refused or conflict with stored ones (each printed as
file:line: field: message). prove exits 1 when the chain does not accept the proof.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, account_option

from tonne.core.clihelp import UtcTime, WholeNumber, fail_with_report, note, whole_number_option

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)


def _address(ctx, param, value):
    if value is not None and not _ADDRESS.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not an address (0x and 40 hex digits)", ctx, param)
    return value


def _start_time(ctx, param, value):
    return None if value is None else UtcTime().convert(value, param, ctx)


@click.group()
def cli():
    """MRV: simulate, ingest, register-devices, approve-devices, export-devices, publish-factor, report, verify,
    prove."""


@cli.command()
@whole_number_option("--meters", help="Wind turbines (one generation meter each).", min=1, max=100_000, default=5)
@whole_number_option("--days", help="Days of readings (or --steps).", min=1, max=3650, default=None)
@whole_number_option("--steps", help="Readings per meter (instead of --days).", min=1, max=10_000_000, default=None)
@whole_number_option("--interval", help="Seconds per reading.", min=1, max=86_400, default=300)
@click.option("--start", callback=_start_time, default=None, help="First interval's start: unix seconds or a UTC "
              "date YYYY-MM-DD [default: 2026-11-02].")  # fmt: skip
@whole_number_option("--capacity", help="Nameplate capacity per turbine, in watts (W).", min=1, default=3_000_000)
@whole_number_option("--seed", help="Seed of the profile, the faults and the demo keys.", default=1)
@click.option("--fault", "faults", multiple=True, metavar="KIND@INDEX|KIND:RATE",
              help="Inject a fault (repeatable): gap, repeat, over-capacity, clock-back, tamper, unknown-key; at an "
              "index of the fault-free stream (tamper@40) or a rate per reading (gap:0.01).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="Output format [default: from --out's suffix, .jsonl or .csv].")  # fmt: skip
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The readings file to write.")
@click.option("--devices", "devices_out", type=click.Path(dir_okay=False), default=None,
              help="Devices file to write [default: <out>.devices.json]; it holds DEMO-ONLY private keys.")  # fmt: skip
@whole_number_option("--chain-id", help="EIP-712 domain chain id.", min=1, default=31337)
@click.option("--contract", required=True, callback=_address, help="The CarbonMRV address (EIP-712 domain).")
@whole_number_option("--project-id", help="The project the meters belong to.", min=1, default=1)
def simulate(meters, days, steps, interval, start, capacity, seed, faults, fmt, out, devices_out, chain_id, contract,
             project_id):  # fmt: skip
    """Write a simulated wind farm's signed readings (Wh per interval) and its devices file."""
    from tonne.mrv.readings import Domain
    from tonne.mrv.simulate import DEFAULT_START, SimulationError, parse_fault
    from tonne.mrv.simulate import simulate as run

    if days is not None and steps is not None:
        raise click.UsageError("give --days or --steps, not both")
    if steps is None:
        steps = (days or 1) * 86_400 // interval
    out_path = Path(out)
    fmt = fmt or ("jsonl" if out_path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv")
    devices_path = Path(devices_out) if devices_out else out_path.with_name(out_path.stem + ".devices.json")
    try:
        parsed = [parse_fault(f) for f in faults]
        sim = run(out_path, devices_path, Domain(chain_id, contract), meters=meters, steps=steps,
                  start=DEFAULT_START if start is None else start, interval_s=interval, capacity_w=capacity,
                  seed=seed, faults=parsed, fmt=fmt, project_id=project_id)  # fmt: skip
    except SimulationError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"{exc.filename}: {exc.strerror}") from exc
    for f in sim.faults:
        where = f"line {f.line}, sequence {f.sequence}" if f.line else "no line written"
        note(f"fault {f.kind} at index {f.index}: {f.meter_id}, {where}")
    click.echo(f"{out_path}: {sim.rows} readings of {meters} meter(s); devices in {devices_path} (DEMO-ONLY keys)")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--devices",
    "devices_path",
    required=True,
    type=click.Path(),
    help="Devices file (meterId, keyAddress, projectId, capacityW in W, status), as simulate writes it.",
)
@click.option("--db", default=None, metavar="URL", help="Store: sqlite:///FILE or postgresql+psycopg://user@host/db "
              "[default: sqlite:///deployments/mrv-readings-<chainId>.sqlite].")  # fmt: skip
@click.option("--chain-id", type=WholeNumber(min=1), default=None, help="EIP-712 chain id [default: the devices "
              "file's chainId].")  # fmt: skip
@click.option("--contract", callback=_address, default=None, help="CarbonMRV address [default: the devices file's "
              "verifyingContract].")  # fmt: skip
@whole_number_option("--workers", help="Signature-checking processes (0: none, in this process).", max=64, default=2)
@whole_number_option("--max-problems", help="Refused readings printed (all are counted).", default=200)
def ingest(paths, devices_path, db, chain_id, contract, workers, max_problems):
    """Check every reading (fields, device, signature, sequence, interval, Wh <= W x s / 3600) and store the good
    ones; print each refused one as file:line: field: message."""
    from tonne.chain.errors import ToolError
    from tonne.mrv.ingest import ingest as run
    from tonne.mrv.ingest import load_devices, summary
    from tonne.mrv.readings import Domain

    try:
        devices, domain = load_devices(devices_path)
    except ToolError as exc:
        fail_with_report(exc)
    if chain_id is not None or contract is not None:
        if (chain_id or (domain and domain.chain_id)) is None or (
            contract or (domain and domain.verifying_contract)
        ) is None:
            raise click.UsageError("the EIP-712 domain needs both --chain-id and --contract")
        domain = Domain(chain_id or domain.chain_id, contract or domain.verifying_contract)
    if domain is None:
        raise click.UsageError(f"{devices_path} names no chainId/verifyingContract: give --chain-id and --contract")
    store = _store(db, domain.chain_id)
    shown = [0]

    def show(problem):
        shown[0] += 1
        if shown[0] <= max_problems:
            click.echo(str(problem), err=True)

    try:
        result = run(paths, store, devices, domain, workers=workers, on_problem=show)
    except ToolError as exc:
        fail_with_report(exc)
    finally:
        store.close()
    if result.problems > max_problems:
        note(f"... and {result.problems - max_problems} more refused reading(s) (--max-problems)")
    for gap in result.gaps[:20]:
        note(f"gap: {gap}")
    if result.gap_count > 20:
        note(f"... and {result.gap_count - 20} more gap(s)")
    click.echo(summary(result))
    if result.problems:
        raise SystemExit(2)


# ---------------------------------------------------------------------------------------------- on the chain


def _mrv(provider):
    from tonne.core.clihelp import connect_deployment
    from tonne.mrv.chain import connect_mrv

    return connect_deployment(provider, connect_mrv)


def _act(action):
    from tonne.chain.errors import ToolError
    from tonne.core.clihelp import run_action

    return run_action(action, known=(ToolError,))


def _store(db, chain_id):
    from tonne.mrv.store import ReadingStore, StoreError

    if db is None:
        Path("deployments").mkdir(exist_ok=True)
        db = f"sqlite:///deployments/mrv-readings-{chain_id}.sqlite"
    try:
        return ReadingStore(db)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def _end_of_day(ctx, param, value):
    """unix seconds as given, or the last second of a UTC date YYYY-MM-DD."""
    start = _start_time(ctx, param, value)
    if value is None or re.fullmatch(r"[0-9]+", value, re.ASCII):
        return start
    return start + 86_399


def db_option(func):
    return click.option("--db", default=None, metavar="URL", help="The reading store, as for ingest [default: "
                        "sqlite:///deployments/mrv-readings-<chainId>.sqlite].")(func)  # fmt: skip


@cli.command("register-devices", cls=ConnectedProviderCommand)
@account_option()
@click.argument("devices_path", metavar="DEVICES_FILE", type=click.Path())
@click.option("--active-from", required=True, callback=_start_time,
              help="Where each device's first report starts: unix seconds or a UTC date YYYY-MM-DD.")  # fmt: skip
@whole_number_option("--project", help="Register them for this project [default: each device's projectId].", min=1)
def register_devices(provider, account, devices_path, active_from, project):
    """Register the devices of DEVICES_FILE (meterId, keyAddress, projectId, capacityW in W) as generation meters:
    --account is the project's owner or an MRV registrar. A device already registered with the same key and
    project is skipped, so running it twice registers each once."""
    from tonne.mrv.chain import register_devices as run

    m = _mrv(provider)
    for done in _act(lambda: run(m, account, devices_path, active_from, project)):
        click.echo(f"{done.meter_id}: {done.done} (device 0x{done.device_id.hex()})")


@cli.command("approve-devices", cls=ConnectedProviderCommand)
@account_option()
@click.argument("meter_ids", nargs=-1)
@click.option("--file", "devices_path", type=click.Path(), default=None, help="Every device of a devices file.")
def approve_devices(provider, account, meter_ids, devices_path):
    """Approve registered devices (by METER_ID, or every device of --file), so that their readings count: --account
    is an MRV verifier. Approved ones are skipped."""
    from tonne.chain.errors import ToolError
    from tonne.mrv.chain import approve_devices as run
    from tonne.mrv.ingest import load_devices

    if devices_path:
        try:
            devices, _ = load_devices(devices_path)
        except ToolError as exc:
            fail_with_report(exc)
        meter_ids = (*meter_ids, *(d.meter_id for d in devices.values()))
    if not meter_ids:
        raise click.UsageError("name the devices: METER_ID ... or --file DEVICES_FILE")
    m = _mrv(provider)
    for done in _act(lambda: run(m, account, list(meter_ids))):
        click.echo(f"{done.meter_id}: {done.done}")


@cli.command("export-devices", cls=ConnectedProviderCommand)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The devices file to write (JSON).")
def export_devices(provider, out):
    """Write the chain's devices (key, project, capacity in W, status as now) as a devices file for ingest: the
    verifier's view of which keys count, with no private keys."""
    import json

    from tonne.mrv.chain import devices_file

    m = _mrv(provider)
    data = _act(lambda: devices_file(m))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    click.echo(f"{out}: {len(data['devices'])} device(s) of {m.contract.address}")


@cli.command("publish-factor", cls=ConnectedProviderCommand)
@account_option()
@click.argument("code")
@click.option("--country", required=True, help="ISO 3166-1 alpha-2 country of the devices it is for, e.g. FR.")
@click.option("--valid-from", required=True, callback=_start_time, help="Unix seconds or a UTC date YYYY-MM-DD.")
@click.option("--valid-until", required=True, callback=_end_of_day,
              help="Unix seconds, or a UTC date YYYY-MM-DD (its last second).")  # fmt: skip
@whole_number_option("--g-per-kwh", "mg_per_unit", required=True, min=1,
                     help="Grams CO2e per kWh (= milligrams per Wh, the readings' unit), e.g. 450.")  # fmt: skip
def publish_factor(provider, account, code, country, valid_from, valid_until, mg_per_unit):
    """Publish the next version of emission factor CODE (e.g. GRID-FR-2026): --account holds the MRV methodology
    role. If its latest version already says the same, nothing is sent."""
    from tonne.mrv.chain import publish_factor as run

    if not re.fullmatch(r"[A-Z]{2}", country, re.ASCII):
        raise click.BadParameter(f"{country!r}: two upper-case letters, e.g. FR", param_hint="--country")
    if valid_until < valid_from:
        raise click.BadParameter(f"ends ({valid_until}) before --valid-from ({valid_from})", param_hint="--valid-until")
    m = _mrv(provider)
    f = _act(lambda: run(m, account, code, country, (valid_from, valid_until), mg_per_unit))
    state = "published" if f.new else "already published (nothing sent)"
    click.echo(f"factor {code} version {f.version}: #{f.factor_id}, {mg_per_unit} g CO2e/kWh, {state}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("meter_id")
@click.option("--factor", "factor_text", required=True, metavar="ID|CODE[@VERSION]",
              help="The emission factor: its id, or its code (latest version), e.g. GRID-FR-2026@1.")  # fmt: skip
@click.option("--until", callback=_start_time, default=None, help="End of the period: unix seconds or a UTC date "
              "YYYY-MM-DD (its start) [default: the end of the device's last stored reading].")  # fmt: skip
@click.option("--allow-gaps", is_flag=True, help="Submit a period with gaps (counted as zero; the verifier decides).")
@db_option
def report(provider, account, meter_id, factor_text, until, allow_gaps, db):
    """Submit device METER_ID's next monitoring report: from where its last accepted report ended (the chain's
    reportedUntil) to --until, its total (Wh) and the Merkle root of its stored readings. --account is the
    project's owner or an MRV registrar. If the device's open report is this period already, nothing is sent."""
    from tonne.mrv.chain import factor_id_of, submit_report

    m = _mrv(provider)
    store = _store(db, m.chain_id)
    try:
        done = _act(lambda: submit_report(m, account, store, meter_id, factor_id_of(m, factor_text), until,
                                          allow_gaps))  # fmt: skip
    finally:
        store.close()
    f = done.period.fields
    state = f"submitted (tx {done.receipt.txn_hash})" if done.new else "already submitted (nothing sent)"
    click.echo(f"report #{done.report_id} of {meter_id}: [{f.start}, {f.end}), sequences {f.first_sequence}.."
               f"{f.last_sequence}, {f.total} Wh, root 0x{f.root.hex()}: {state}")  # fmt: skip
    for gap in done.period.gaps[:20]:
        note(f"gap: {gap}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@click.argument("report_id", type=WholeNumber(min=1))
@click.option("--accept-gaps", is_flag=True, help="Approve a report whose readings have gaps (counted as zero).")
@click.option("--reject", "reject_reason", default=None, metavar="REASON", help="Reject it, saying why.")
@db_option
def verify(provider, account, report_id, accept_gaps, reject_reason, db):
    """Verify report REPORT_ID as its verifier: re-derive the total and root from the stored readings, check every
    signature against the device's key, and approve it (the registry batch, tonnes = (carry + Wh x g/kWh) / 1e9) or
    reject it naming every mismatch. --account is an MRV verifier. A decided report is shown as it is."""
    from tonne.mrv.chain import verify_report

    if reject_reason is not None and not reject_reason.strip():
        raise click.BadParameter("say why", param_hint="--reject")
    m = _mrv(provider)
    store = _store(db, m.chain_id)
    try:
        v = _act(lambda: verify_report(m, account, store, report_id, accept_gaps=accept_gaps,
                                       reject_reason=reject_reason))  # fmt: skip
    finally:
        store.close()
    if v.verification is not None:
        for gap in v.verification.gaps[:20]:
            note(f"gap: {gap}")
    if v.verification is not None:
        from tonne.mrv.chain import factor_text

        note(f"factor: {factor_text(m, int(m.contract.report(report_id).factorId))}")
    if v.status == "approved":
        batch = f"batch {v.batch_id}" if v.batch_id else "no batch (under a tonne: carried)"
        what = "approved" if v.new else "approved already (nothing sent)"
        click.echo(f"report #{report_id} {what}: {v.tonnes} t CO2e, {batch}"
                   + (f", {v.carry_mg} mg carried to the device's next report" if v.new else ""))  # fmt: skip
    else:
        what = "rejected" if v.new else "rejected already (nothing sent)"
        click.echo(f"report #{report_id} {what}" + (": " + "; ".join(v.reasons) if v.reasons else ""))


@cli.command(cls=ConnectedProviderCommand)
@click.argument("report_id", type=WholeNumber(min=1))
@click.argument("sequence", type=WholeNumber(min=1))
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Also write the proof as JSON here.")
@db_option
def prove(provider, report_id, sequence, out, db):
    """The inclusion proof of reading SEQUENCE of report REPORT_ID's device, from the stored readings, checked
    against the report's root on the chain (readingIncluded): what an auditor keeps to show one reading counted."""
    import json

    from tonne.mrv.chain import prove_reading

    m = _mrv(provider)
    store = _store(db, m.chain_id)
    try:
        p = _act(lambda: prove_reading(m, store, report_id, sequence))
    finally:
        store.close()
    r = p.reading
    click.echo(f"reading {r.sequence} [{r.start}, {r.end}) {r.value} Wh, leaf 0x{p.leaf.hex()}, {len(p.proof)} "
               f"proof hashes: {'included in' if p.included else 'NOT included in'} report #{report_id}'s root "
               f"0x{p.root.hex()} on {m.contract.address}")  # fmt: skip
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(p.as_json(), indent=2) + "\n", encoding="utf-8")
    if not p.included:
        raise SystemExit(1)


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "mrv")
