"""The CSV format of an issuance file, its rows, and the static pass that checks every row without the chain.

CSV format (UTF-8, an optional BOM, comma-separated, one header line; see also docs/issuance.md)::

    project,batch,recipient,tonnes,reference
    VCS:VCS-1234,VCS-ISS-2021-001,0x70997970C51812dc3A010C7d01b50e0d17dc79C8,12.5,INV-2024-0001
    7,2,0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc,0.001,INV-2024-0002

- ``project``: ``STANDARD:EXTERNAL_ID`` (split on the first colon, e.g. ``VCS:VCS-1234``) or a numeric project id.
- ``batch``: the batch's issuance reference at the standard (as given to ``addBatch``), or its batch number within
  the project. A value made only of digits is read as a batch number.
- ``recipient``: a 0x address; mixed-case addresses must carry a valid EIP-55 checksum.
- ``tonnes``: a plain decimal number > 0 with at most 3 decimals (1 unit = 1 kg).
- ``reference``: the row's issuance reference, non-empty and unique within the file. The on-chain idempotency key
  is ``orderRef = keccak256(utf-8 bytes of reference)``: the contract accepts each orderRef once, ever.

Columns may come in any order; header names and every value are stripped of surrounding whitespace; blank lines
(and rows whose fields are all empty) are skipped.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from tonne.issuance.errors import IssuanceError, Problem, problem_summary
from tonne.units import UNITS_PER_TONNE, UnitError, tonnes_to_units

HEADER = ("project", "batch", "recipient", "tonnes", "reference")
MAX_ROW_TONNES = 10**12  # the registry's MAX_BATCH_TONNES: no single row can be larger than a whole batch

_UINT64_MAX = (1 << 64) - 1
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


@dataclass(frozen=True)
class ProjectRef:
    """A project as named in the file: by ``standard`` and ``external_id``, or by ``project_id``."""

    standard: str | None = None
    external_id: str | None = None
    project_id: int | None = None

    def __str__(self) -> str:
        return str(self.project_id) if self.project_id is not None else f"{self.standard}:{self.external_id}"


@dataclass(frozen=True)
class BatchRef:
    """A batch as named in the file: by its issuance ``reference`` or its batch ``number`` within the project."""

    reference: str | None = None
    number: int | None = None

    def __str__(self) -> str:
        return f"batch number {self.number}" if self.number is not None else f"issuance reference {self.reference!r}"


@dataclass(frozen=True)
class Row:
    """One checked data row of the file."""

    line: int
    project: ProjectRef
    batch: BatchRef
    recipient: str  # EIP-55 form
    units: int
    reference: str
    order_ref: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "order_ref", order_ref(self.reference))


def order_ref(reference: str) -> bytes:
    """The on-chain idempotency key of a row: keccak256 of the reference's UTF-8 bytes."""
    return keccak(reference.encode("utf-8"))


class _FieldError(ValueError):
    pass


def parse_project(text: str) -> ProjectRef:
    """``STANDARD:EXTERNAL_ID`` (split on the first colon) or a numeric project id."""
    if _DIGITS.fullmatch(text):
        project_id = int(text)
        if not 0 < project_id <= _UINT64_MAX:
            raise _FieldError(f"project id {text} is out of range (1..2^64-1)")
        return ProjectRef(project_id=project_id)
    standard, colon, external_id = text.partition(":")
    standard, external_id = standard.strip(), external_id.strip()
    if not colon or not standard or not external_id:
        what = repr(text) if text else "empty"
        raise _FieldError(f"{what}: expected STANDARD:EXTERNAL_ID (e.g. VCS:VCS-1234) or a numeric project id")
    return ProjectRef(standard=standard, external_id=external_id)


def parse_batch(text: str) -> BatchRef:
    """An issuance reference, or (digits only) a batch number within the project."""
    if not text:
        raise _FieldError("empty: expected the batch's issuance reference or its batch number")
    if _DIGITS.fullmatch(text):
        number = int(text)
        if not 0 < number <= _UINT64_MAX:
            raise _FieldError(f"batch number {text} is out of range (1..2^64-1)")
        return BatchRef(number=number)
    return BatchRef(reference=text)


def parse_recipient(text: str) -> str:
    """A 0x address; mixed case must be a valid EIP-55 checksum. Returns the checksummed form."""
    if not _ADDRESS.fullmatch(text):
        what = repr(text) if text else "empty"
        raise _FieldError(f"{what} is not an address (0x followed by 40 hex digits)")
    body = text[2:]
    checksummed = _checksummed(text)
    if body != body.lower() and body != body.upper() and checksummed != text:
        raise _FieldError(f"{text} fails its EIP-55 checksum: a character is probably mistyped")
    if int(body, 16) == 0:
        raise _FieldError("the zero address cannot receive credits")
    return checksummed


@functools.lru_cache(maxsize=65536)
def _checksummed(address: str) -> str:
    return to_checksum_address(address)


def parse_tonnes(text: str) -> int:
    """A plain decimal > 0 with at most 3 decimals; returns units (kg)."""
    if not _DECIMAL.fullmatch(text):
        what = repr(text) if text else "empty"
        raise _FieldError(f"{what} is not a decimal number of tonnes (e.g. 12.5)")
    try:
        units = tonnes_to_units(text)
    except UnitError as exc:
        raise _FieldError(f"{text} has more than 3 decimals (the smallest unit is 0.001 t = 1 kg)") from exc
    if units == 0:
        raise _FieldError(f"{text}: must be more than 0")
    if units > MAX_ROW_TONNES * UNITS_PER_TONNE:
        raise _FieldError(f"{text} t is more than any batch can hold ({MAX_ROW_TONNES:,} t)")
    return units


def parse_reference(text: str) -> str:
    if not text:
        raise _FieldError("empty: every row needs its own issuance reference")
    return text


_PARSERS: dict[str, Callable[[str], Any]] = {
    "project": parse_project,
    "batch": parse_batch,
    "recipient": parse_recipient,
    "tonnes": parse_tonnes,
    "reference": parse_reference,
}


def read_rows(path: Path | str) -> list[Row]:
    """Read and statically check a CSV file; raise ``IssuanceError`` listing every problem found."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise IssuanceError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = Problem(name, line, "file", f"not UTF-8 text (byte {exc.start}); save the CSV as UTF-8")
        raise IssuanceError(problem_summary(name, [problem]), [problem]) from exc
    rows, problems = parse_text(text, name)
    if problems:
        raise IssuanceError(problem_summary(name, problems), problems)
    return rows


def parse_text(text: str, name: str = "<csv>") -> tuple[list[Row], list[Problem]]:
    """Parse CSV text; returns the good rows and every problem (static checks and duplicate references)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    problems: list[Problem] = []
    columns: dict[str, int] | None = None
    rows: list[Row] = []
    first_line_of: dict[str, int] = {}
    end = 0
    try:
        for record in reader:
            start, end = end + 1, reader.line_num
            if not any(value.strip() for value in record):
                continue
            if columns is None:
                columns = _read_header(record, name, start, problems)
                if columns is None:
                    return [], problems
                continue
            row = _read_row(record, columns, name, start, problems)
            reference = record[columns["reference"]].strip() if len(record) == len(HEADER) else ""
            first = first_line_of.setdefault(reference, start) if reference else start
            if first != start:
                problems.append(Problem(name, start, "reference", f"{reference!r} is already used on line {first}"))
            elif row is not None:
                rows.append(row)
    except csv.Error as exc:
        problems.append(Problem(name, reader.line_num, "file", f"malformed CSV: {exc}"))
        return rows, problems
    if columns is None:
        problems.append(Problem(name, 1, "header", f"the file is empty; expected the header {','.join(HEADER)}"))
    elif not rows and not problems:
        problems.append(Problem(name, end or 1, "file", "the file has a header but no data rows"))
    return rows, problems


def _read_header(record: list[str], name: str, line: int, problems: list[Problem]) -> dict[str, int] | None:
    names = [value.strip().lower() for value in record]
    columns = {column: index for index, column in reversed(list(enumerate(names)))}
    missing = [column for column in HEADER if column not in columns]
    unknown = [column or "(empty)" for column in names if column not in HEADER]
    repeated = sorted({column for column in names if names.count(column) > 1 and column in HEADER})
    for what, values in (("missing column", missing), ("unknown column", unknown), ("repeated column", repeated)):
        if values:
            problems.append(Problem(name, line, "header", f"{what}{'s' * (len(values) > 1)} {', '.join(values)}"))
    if missing or unknown or repeated:
        problems.append(Problem(name, line, "header", f"expected exactly: {','.join(HEADER)} (any order)"))
        return None
    return columns


def _read_row(record: list[str], columns: dict[str, int], name: str, line: int, problems: list[Problem]) -> Row | None:
    if len(record) != len(HEADER):
        problems.append(
            Problem(name, line, "row", f"{len(record)} fields, expected {len(HEADER)} ({','.join(HEADER)})")
        )
        return None
    values: dict[str, Any] = {}
    for column, parse in _PARSERS.items():
        try:
            values[column] = parse(record[columns[column]].strip())
        except _FieldError as exc:
            problems.append(Problem(name, line, column, str(exc)))
    if len(values) != len(_PARSERS):
        return None
    return Row(
        line=line,
        project=values["project"],
        batch=values["batch"],
        recipient=values["recipient"],
        units=values["tonnes"],
        reference=values["reference"],
    )
