"""Meter readings for MRV (issue 14): simulate a wind farm's signed readings, and ingest readings into a store.

    ape run mrv simulate --contract 0x5FbDB2315678afecb367f032d93F642f64180aa3 --meters 5 --days 7 --out week.csv
    ape run mrv simulate --contract 0x5FbDB2315678afecb367f032d93F642f64180aa3 --fault tamper@40 --out faulty.csv
    ape run mrv simulate --contract 0x5FbDB2315678afecb367f032d93F642f64180aa3 --fault gap:0.01 --out day.jsonl
    ape run mrv ingest week.csv --devices week.devices.json       # deployments/mrv-readings-<chainId>.sqlite
    ape run mrv ingest readings/ --devices week.devices.json --db postgresql+psycopg://mrv@db/mrv

Units: readings are in watt-hours (Wh) over [start, end) in unix seconds; capacities in watts (W); the interval in
seconds. Numbers are plain decimal integers of the digits 0-9: `1,5`, `1e3`, `1_000` and other scripts' digits are
refused, never reinterpreted. Both commands are off-chain: the devices (key, project, capacity, status) come from
a devices file until the chain commands (report, verify, prove) are wired to CarbonMRV. Ingest is idempotent and
resumable: run it again after a crash, or on the same files, and nothing is stored twice.
Exit status of ingest: 0 every reading stored or already stored; 1 nothing read (a missing file, a bad header or
devices file); 2 done, but some readings were refused or conflict with stored ones (each printed as
file:line: field: message).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import click

from tonne.core.clihelp import WholeNumber, fail_with_report, note, whole_number_option

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)


def _address(ctx, param, value):
    if value is not None and not _ADDRESS.fullmatch(value):
        raise click.BadParameter(f"{value!r} is not an address (0x and 40 hex digits)", ctx, param)
    return value


def _start_time(ctx, param, value):
    if value is None:
        return None
    if re.fullmatch(r"[0-9]+", value, re.ASCII):
        return int(value)
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        message = f"{value!r}: unix seconds (e.g. 1793577600) or a UTC date YYYY-MM-DD"
        raise click.BadParameter(message, ctx, param) from None
    return int(day.timestamp())


@click.group()
def cli():
    """MRV meter readings: simulate, ingest (off-chain)."""


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
    from tonne.mrv.store import ReadingStore, StoreError

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
    if db is None:
        Path("deployments").mkdir(exist_ok=True)
        db = f"sqlite:///deployments/mrv-readings-{domain.chain_id}.sqlite"
    try:
        store = ReadingStore(db)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
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


from tonne.core.clihelp import add_examples  # noqa: E402 - after the commands it describes

add_examples(cli, __doc__, "mrv")
