"""``--help`` examples for the scripts: each command's epilog lists the ``ape run`` lines of its script's docstring
that run it (a group's subcommand gets its own lines), so the examples users read are the documented ones."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import NoReturn

import click

_ASCII_WHOLE = re.compile(r"[0-9]+")


class WholeNumber(click.IntRange):
    """A whole-number option written with the ASCII digits 0-9 only, within ``min``..``max``: no sign, digit
    separator (``1_000``, ``1,000``), exponent, hex or other script's digits (``٥٠``, ``５０``), which Python's
    ``int()`` would quietly accept while the CSV amounts refuse them."""

    name = "whole number"

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not _ASCII_WHOLE.fullmatch(value.strip()):
            self.fail(f"{value!r} is not a whole number written with the digits 0-9", param, ctx)
        return super().convert(value.strip() if isinstance(value, str) else value, param, ctx)


UTC_TIME_MAX = 253_402_300_799  # 9999-12-31T23:59:59Z: the last second a date (and Python's datetime) can name


class UtcTime(click.ParamType):
    """A moment given as unix seconds (the digits 0-9, at most ``UTC_TIME_MAX``) or a UTC date ``YYYY-MM-DD`` (its
    midnight); converted to unix seconds."""

    name = "time"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if _ASCII_WHOLE.fullmatch(text):
            if int(text) > UTC_TIME_MAX:
                self.fail(f"{value!r}: unix seconds after the year 9999 (at most {UTC_TIME_MAX})", param, ctx)
            return int(text)
        try:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        except ValueError:
            self.fail(f"{value!r}: unix seconds (e.g. 1793577600) or a UTC date YYYY-MM-DD", param, ctx)
        return int(day.timestamp())


_ASCII_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class FiniteNumber(click.FloatRange):
    """A number option (seconds, percent) within ``min``..``max``, written as a plain decimal with the ASCII digits
    (``12``, ``0.5``): ``nan`` and ``inf`` are refused (``nan`` passes every range comparison, and a wait of ``inf``
    never ends), and so are what Python's ``float()`` would quietly accept: ``1_000``, ``1e3``, other scripts'
    digits (``١٢٠``, ``１２０``)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not _ASCII_DECIMAL.fullmatch(value.strip()):
            self.fail(f"{value!r} is not a plain decimal number written with the digits 0-9 (e.g. 12.5)", param, ctx)
        result = super().convert(value, param, ctx)
        if not math.isfinite(result):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return result


def example_lines(doc: str | None, script: str, sub: str | None = None) -> list[str]:
    """The docstring's ``ape run <script> [<sub>] ...`` lines, stripped."""
    found = []
    for line in (doc or "").splitlines():
        words = line.strip().strip("`").split()
        if words[:3] != ["ape", "run", script]:
            continue
        if sub is not None and words[3:4] != [sub]:
            continue
        found.append(" ".join(words))
    return found


def epilog(lines: list[str]) -> str:
    """A click epilog that keeps the lines as they are (``\\b`` stops click from rewrapping the paragraph)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def add_examples(command: click.Command, doc: str | None, script: str) -> click.Command:
    """Give ``command`` (and, for a group, each subcommand) an epilog of examples, unless it has one already; and
    guard it (``tonne.chain.refusal.guard``): a contract refusal is one readable line, never a trace."""
    from tonne.chain.refusal import guard

    guard(command)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            lines = example_lines(doc, script, name) or [f"ape run {script} {name} --help"]
            if not sub.epilog:
                sub.epilog = epilog(lines)
    lines = example_lines(doc, script) or [f"ape run {script}"]
    if not command.epilog:
        command.epilog = epilog(lines)
    return command


def connect_deployment(provider, connect=None):
    """The deployment on ``provider`` (``connect``: ``tonne.core.deployments.connect`` unless given), with a missing or
    stale record as one CLI error; the refusal decoder is told its contracts (and its money, when it has one)."""
    from tonne.chain.refusal import remember
    from tonne.core.deployments import DeploymentError
    from tonne.core.deployments import connect as connect_suite

    try:
        deployed = (connect or connect_suite)(provider)
    except DeploymentError as exc:
        raise click.ClickException(str(exc)) from exc
    remember(deployed.record, getattr(deployed, "money", None))
    return deployed


def run_action(action, known: tuple[type[Exception], ...] = (), message=str):
    """Run a chain action (a no-argument callable) and return its result; a ``known`` error (its text from
    ``message``) or a contract refusal (``tonne.chain.refusal.refused``) becomes one CLI error line, exit 1."""
    from ape.exceptions import ContractLogicError

    from tonne.chain.refusal import refused

    try:
        return action()
    except known as exc:
        raise click.ClickException(message(exc)) from exc
    except ContractLogicError as exc:
        raise click.ClickException(refused(exc)) from exc


def note(message: str) -> None:
    """A progress or status line, on stderr (stdout keeps the plan or result)."""
    click.echo(message, err=True)


def fail_with_report(exc) -> NoReturn:
    """Print a file error's report (``file:line: field: message`` lines) on stderr and exit 1."""
    click.echo(exc.report(), err=True)
    raise SystemExit(1)


def csv_option(help: str):  # noqa: A002 - click's own name
    """The required ``--csv`` option (an existing file, passed as ``csv_path``)."""
    return click.option("--csv", "csv_path", required=True, type=click.Path(exists=True, dir_okay=False), help=help)


def pending_timeout_option():
    """``--pending-timeout``: seconds to wait for the account's pending transactions before planning."""
    return click.option(
        "--pending-timeout",
        type=FiniteNumber(min=0),
        default=180.0,
        show_default=True,
        help="Seconds to wait for the account's pending transactions before planning.",
    )


def quiet_option():
    """``--quiet``: no progress bar."""
    return click.option("--quiet", is_flag=True, help="No progress bar.")


def whole_number_option(*decls: str, help: str, min: int = 0, max: int | None = None, default=None, **kwargs):  # noqa: A002
    """A whole-number option (``WholeNumber(min, max)``) whose default, when it has one, ``--help`` shows."""
    kind = WholeNumber(min=min, max=max)
    return click.option(*decls, type=kind, default=default, show_default=default is not None, help=help, **kwargs)
