"""What to retire: one ``Request`` per certificate, read from a CSV file (one row, one certificate) or built from
the options of ``ape run retire one``, and the static checks that need no chain.

CSV format (UTF-8, an optional BOM, comma-separated, one header line; see also docs/retirement.md)::

    project,batch,tonnes,beneficiary,beneficiary_name,reason,jurisdiction,period,reference
    VCS:VCS-1748,VCS-VCU-1748-2021,12.5,0x7099..79C8,Acme GmbH,Scope 1 emissions FY2025,DE,2025,RET-2026-0001

- ``project``, ``batch``, ``tonnes``: as in the issuance file (``STANDARD:EXTERNAL_ID`` or id; issuance reference or
  batch number; a decimal > 0 with at most 3 decimals).
- ``beneficiary`` (optional column, may be empty): the account the certificate goes to; empty: the retiring account.
- ``beneficiary_name``, ``reason``: the texts on the certificate; non-empty, at most ``MAX_NAME`` / ``MAX_REASON``
  characters, no control or bidirectional-override characters.
- ``jurisdiction``: where the emissions were consumed, ISO 3166-1 alpha-2 (``DE``) or ISO 3166-2 (``US-CA``).
- ``period``: the consumption period, ``YYYY`` (that calendar year, UTC) or ``YYYY-MM-DD:YYYY-MM-DD`` (inclusive).
- ``reference``: the row's retirement reference, non-empty and unique within the file. The on-chain idempotency key
  is ``retirementRef = keccak256(utf-8 bytes of reference)``; the contract accepts each one once, ever, per
  retiring account.
- ``holder`` (optional column, may be empty): whose credits are retired; empty: the sending account. Another
  holder must have approved the sending account on the credit token (``retireFrom``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eth_utils import keccak

from tonne.bulk.rows import parse_account, read_file, row_parser
from tonne.bulk.rows import parse_reference as parse_row_reference
from tonne.chain.errors import Problem, ToolError, problem_summary
from tonne.core.csvinput import (
    NFC_MESSAGE,
    BatchRef,
    FieldError,
    ProjectRef,
    parse_address,
    parse_batch,
    parse_project,
    parse_tonnes,
    read_table,
)
from tonne.core.ids import batch_number_of, project_of
from tonne.registry.ops import InputError
from tonne.registry.ops import parse_period as parse_date_range

REQUIRED = ("project", "batch", "tonnes", "beneficiary_name", "reason", "jurisdiction", "period", "reference")
OPTIONAL = ("beneficiary", "holder")
HEADER = REQUIRED + OPTIONAL  # canonical column order, for messages
MAX_NAME = 200
MAX_REASON = 500
MAX_IDS = 100  # CarbonRetirement.MAX_IDS_PER_CERTIFICATE
ZERO_ADDRESS = "0x" + "00" * 20

_JURISDICTION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")
_YEAR = re.compile(r"[0-9]{4}")
# Bidirectional embedding, override and isolate controls: they can make a name read differently from what it is.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class RetirementError(ToolError):
    """The input cannot be retired as it is; ``problems`` lists every problem found. Nothing was sent."""


@dataclass(frozen=True)
class Credit:
    """An amount of one batch to retire, as the input names it."""

    project: ProjectRef
    batch: BatchRef
    units: int


@dataclass(frozen=True)
class Request:
    """One retirement, and so one certificate: one CSV row, or one ``retire one`` command."""

    line: int | None  # the CSV line; None on the command line
    credits: tuple[Credit, ...]
    beneficiary: str  # EIP-55; the zero address: the certificate goes to the retiring account
    beneficiary_name: str
    reason: str
    jurisdiction: str
    period: tuple[int, int]
    reference: str
    holder: str | None = None  # None: the sending account
    issue: bool = False  # issue and retire at once (issueAndRetire): the sender must be an issuer of the project
    retirement_ref: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "retirement_ref", retirement_ref(self.reference))

    @property
    def units(self) -> int:
        return sum(c.units for c in self.credits)

    def holder_or(self, sender: str) -> str:
        return self.holder or sender


def retirement_ref(reference: str) -> bytes:
    """The on-chain idempotency key of a retirement: keccak256 of the reference's UTF-8 bytes."""
    return keccak(reference.encode("utf-8"))


# ---------------------------------------------------------------------------------------------------- fields


def parse_beneficiary(text: str) -> str:
    """An address, or empty for the retiring account (returned as the zero address)."""
    if not text:
        return ZERO_ADDRESS
    return parse_address(text)


def parse_holder(text: str) -> str | None:
    if not text:
        return None
    return parse_account(
        text, "the zero address holds no credits; leave it empty to retire the sending account's credits"
    )


def _parse_text(text: str, what: str, limit: int) -> str:
    if not text:
        raise FieldError(f"empty: the certificate needs a {what}")
    if len(text) > limit:
        raise FieldError(f"{len(text)} characters; at most {limit}")
    for char in text:
        if unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS:
            raise FieldError(f"contains the control character U+{ord(char):04X}; certificates take plain text")
    return text


def parse_name(text: str) -> str:
    return _parse_text(text, "beneficiary name", MAX_NAME)


def parse_reason(text: str) -> str:
    return _parse_text(text, "reason", MAX_REASON)


def parse_jurisdiction(text: str) -> str:
    """ISO 3166-1 alpha-2 (``DE``) or ISO 3166-2 (``US-CA``), upper case, as the contract checks it."""
    if _JURISDICTION.fullmatch(text):
        return text
    what = repr(text) if text else "empty"
    hint = f" (upper case: {text.upper()})" if _JURISDICTION.fullmatch(text.upper()) else ""
    raise FieldError(f"{what} is not an ISO 3166 code such as DE or US-CA{hint}")


MAX_PERIOD_END = (1 << 32) - 1  # CarbonRetirement stores the period in uint32 seconds


def parse_period(text: str) -> tuple[int, int]:
    """``YYYY`` (that calendar year, UTC) or ``YYYY-MM-DD:YYYY-MM-DD``: unix seconds, first to last second."""
    if _YEAR.fullmatch(text):
        text = f"{text}-01-01:{text}-12-31"
    try:
        start, end = parse_date_range(text)
    except InputError as exc:
        raise FieldError(f"{exc}; or a year, e.g. 2025") from exc
    if end > MAX_PERIOD_END:
        raise FieldError(
            f"{text!r} ends after 2106-02-07 06:28:15 UTC, the latest period end a retirement records (uint32 seconds)"
        )
    return start, end


def parse_reference(text: str) -> str:
    return parse_row_reference(text, "retirement")


_PARSERS = {
    "project": parse_project,
    "batch": parse_batch,
    "tonnes": parse_tonnes,
    "beneficiary": parse_beneficiary,
    "beneficiary_name": parse_name,
    "reason": parse_reason,
    "jurisdiction": parse_jurisdiction,
    "period": parse_period,
    "reference": parse_reference,
    "holder": parse_holder,
}


# ---------------------------------------------------------------------------------------------------- CSV


def read_requests(path: Path | str) -> list[Request]:
    """Read and statically check a retirement CSV file; raise ``RetirementError`` listing every problem found."""
    return read_file(path, parse_text, RetirementError)


def _request(line: int, parsed: dict) -> Request:
    return Request(
        line=line,
        credits=(Credit(parsed["project"], parsed["batch"], parsed["tonnes"]),),
        beneficiary=parsed["beneficiary"],
        beneficiary_name=parsed["beneficiary_name"],
        reason=parsed["reason"],
        jurisdiction=parsed["jurisdiction"],
        period=parsed["period"],
        reference=parsed["reference"],
        holder=parsed["holder"],
    )


def parse_text(text: str, name: str = "<csv>") -> tuple[list[Request], list[Problem]]:
    """Parse CSV text; returns the good rows and every problem (static checks and duplicate references)."""
    parse_row = row_parser(name, _PARSERS, _request)
    return read_table(text, name, required=REQUIRED, optional=OPTIONAL, unique="reference", parse_row=parse_row)


# ---------------------------------------------------------------------------------------------------- command line

COMMAND = "retire one"


def command_request(
    *,
    project: str | None,
    batches: Sequence[str],
    ids: Sequence[int],
    amounts: Sequence[str],
    beneficiary: str | None,
    name: str,
    reason: str,
    jurisdiction: str,
    period: str,
    reference: str | None,
    holder: str | None = None,
    issue: bool = False,
    sender: str,
) -> Request:
    """A request from the options of ``retire one``; raises ``RetirementError`` naming every bad option.

    Credits are named either by ``project`` and one or more ``batches``, or by token ``ids``; ``amounts`` (tonnes)
    pair with them in order. Without ``reference``, one is derived from the sending account and the request's
    content (``auto:`` + a hash), so running the same command twice retires once: give distinct references to retire
    the same thing twice."""
    problems: list[Problem] = []

    def field_value(option: str, parse, text: str):
        if not unicodedata.is_normalized("NFC", text):  # as the CSV reader: refused, never normalized
            problems.append(Problem(COMMAND, None, option, NFC_MESSAGE))
            return None
        try:
            return parse(text)
        except FieldError as exc:
            problems.append(Problem(COMMAND, None, option, str(exc)))
            return None

    credits: list[Credit] = []
    refs: list = []
    if ids and (project or batches):
        problems.append(Problem(COMMAND, None, "--id", "name credits by --id, or by --project and --batch, not both"))
    elif ids:
        for token_id in ids:
            if not (project_of(token_id) and batch_number_of(token_id)) or token_id >> 128:
                problems.append(Problem(COMMAND, None, "--id", f"{token_id} is not a credit token id"))
        refs = [(ProjectRef(project_id=project_of(i)), BatchRef(number=batch_number_of(i))) for i in ids]
    elif project and batches:
        project_ref = field_value("--project", parse_project, project.strip())
        refs = [(project_ref, field_value("--batch", parse_batch, b.strip())) for b in batches]
    else:
        problems.append(Problem(COMMAND, None, "--id", "name the credits: --id TOKEN_ID, or --project and --batch"))
    if refs and len(amounts) != len(refs):
        problems.append(
            Problem(COMMAND, None, "--amount", f"{len(amounts)} amount(s) for {len(refs)} batch(es): give one each")
        )
    units = [field_value("--amount", parse_tonnes, a) for a in amounts]
    if len(refs) > MAX_IDS:
        problems.append(Problem(COMMAND, None, "--id", f"{len(refs)} batches; one certificate lists at most {MAX_IDS}"))
    if issue and len(refs) > 1:
        problems.append(Problem(COMMAND, None, "--issue", "issue-and-retire takes one batch"))
    if issue and holder:
        problems.append(Problem(COMMAND, None, "--holder", "issue-and-retire retires new credits: no holder"))
    for (p, b), u in zip(refs, units, strict=False):
        if p is not None and b is not None and u is not None:
            credits.append(Credit(p, b, u))
    values = dict(
        beneficiary=field_value("--beneficiary", parse_beneficiary, (beneficiary or "").strip()),
        beneficiary_name=field_value("--name", parse_name, name.strip()),
        reason=field_value("--reason", parse_reason, reason.strip()),
        jurisdiction=field_value("--jurisdiction", parse_jurisdiction, jurisdiction.strip()),
        period=field_value("--period", parse_period, period.strip()),
        holder=field_value("--holder", parse_holder, (holder or "").strip()),
    )
    if reference is not None:
        reference = field_value("--reference", parse_reference, reference.strip())
    if problems:
        raise RetirementError(problem_summary(COMMAND, problems), problems)
    request = Request(line=None, credits=tuple(credits), reference=reference or "", issue=issue, **values)
    if reference is None:
        request = Request(
            line=None, credits=tuple(credits), reference=auto_reference(request, sender), issue=issue, **values
        )
    return request


def auto_reference(request: Request, sender: str) -> str:
    """A reference derived from the sending account and everything the request says (whose credits, what, for whom,
    why, where, when), so that the same command run twice by the same account is one retirement."""
    parts = [
        sender.lower(),
        "issue" if request.issue else (request.holder or sender).lower(),
        *(f"{c.project}/{c.batch.reference or c.batch.number}={c.units}" for c in request.credits),
        request.beneficiary.lower(),
        request.beneficiary_name,
        request.reason,
        request.jurisdiction,
        f"{request.period[0]}-{request.period[1]}",
    ]
    return "auto:" + keccak("\x1f".join(parts).encode("utf-8")).hex()[:32]
