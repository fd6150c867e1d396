"""Reading the CSV files of the bulk tools (issue, retire): the file, its header, its records, and the fields the
tools share (project, batch, address, tonnes), each checked with a message that names what is wrong.

A tool describes its columns and how to parse one row; ``read_table`` does the rest: UTF-8 decoding (a BOM is
accepted), blank lines skipped, the header checked (columns in any order, names stripped and case-folded), every
record's field count checked, a column whose values must be unique within the file, and every problem collected as
``file:line: field: message`` rather than stopping at the first.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from eth_utils import to_checksum_address

from tonne.chain.errors import Problem, ToolError, problem_summary
from tonne.core.units import UNITS_PER_TONNE, TooManyDecimalsError, UnitError, parse_amount

MAX_ROW_TONNES = 10**12  # the registry's MAX_BATCH_TONNES: no single row can be larger than a whole batch

_UINT64_MAX = (1 << 64) - 1
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
# Unicode categories never part of an identifier (reference, project id, batch reference): control (NUL, line
# break, tab, ESC, ...), format (zero-width space U+200B, joiners, bidi overrides U+202E, soft hyphen, BOM, ...),
# line and paragraph separators. With any whitespace but the plain space (no-break, em, ideographic space, ...):
# two identifiers that print the same must be the same bytes, since the chain keys them by their bytes.
_INVISIBLE = {
    "Cc": "a control character",
    "Cf": "an invisible format character",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
NFC_MESSAGE = (
    'not in Unicode normal form NFC (the registry compares exact bytes); write it composed, e.g. "\u00c9" not '
    '"E"+U+0301'
)

T = TypeVar("T")


class FieldError(ValueError):
    """A value that cannot be used; the message says why (the caller adds file, line and column)."""


# ---------------------------------------------------------------------------------------------------- fields


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


def identifier_problem(text: str) -> str | None:
    """Why ``text`` cannot be an identifier the chain keys by its bytes (a reference, a project's standard or
    external id, a batch reference), or None: not in NFC, or a character from ``_INVISIBLE`` or a whitespace other
    than the plain space, named with its code point and its position (1 = first character)."""
    if text.isascii() and text.isprintable():  # fast path: printable ASCII is NFC, with no control or other space
        return None
    if not unicodedata.is_normalized("NFC", text):
        return NFC_MESSAGE
    for position, char in enumerate(text, 1):
        category = unicodedata.category(char)
        if category in _INVISIBLE or (char != " " and (char.isspace() or category == "Zs")):
            what = _INVISIBLE.get(category, "a whitespace other than the plain space")
            code = f"U+{ord(char):04X}"
            label = unicodedata.name(char, "")
            if category == "Cc":
                return f"contains the control character {code} at character {position}; not allowed"
            return f"contains {code} {label} ({what}) at character {position}; not allowed"
    return None


def check_identifier(text: str) -> str:
    """``text`` if ``identifier_problem`` finds nothing, else a ``FieldError`` saying what."""
    problem = identifier_problem(text)
    if problem:
        raise FieldError(problem)
    return text


def parse_project(text: str) -> ProjectRef:
    """``STANDARD:EXTERNAL_ID`` (split on the first colon) or a numeric project id."""
    if _DIGITS.fullmatch(text):
        project_id = int(text)
        if not 0 < project_id <= _UINT64_MAX:
            raise FieldError(f"project id {text} is out of range (1..2^64-1)")
        return ProjectRef(project_id=project_id)
    standard, colon, external_id = text.partition(":")
    standard, external_id = standard.strip(), external_id.strip()
    if not colon or not standard or not external_id:
        what = repr(text) if text else "empty"
        raise FieldError(f"{what}: expected STANDARD:EXTERNAL_ID (e.g. VCS:VCS-1234) or a numeric project id")
    return ProjectRef(standard=check_identifier(standard), external_id=check_identifier(external_id))


def parse_batch(text: str) -> BatchRef:
    """An issuance reference, or (digits only) a batch number within the project."""
    if not text:
        raise FieldError("empty: expected the batch's issuance reference or its batch number")
    if _DIGITS.fullmatch(text):
        number = int(text)
        if not 0 < number <= _UINT64_MAX:
            raise FieldError(f"batch number {text} is out of range (1..2^64-1)")
        return BatchRef(number=number)
    return BatchRef(reference=check_identifier(text))


def parse_address(text: str) -> str:
    """A 0x address; mixed case must be a valid EIP-55 checksum. Returns the checksummed form (zero included)."""
    if not _ADDRESS.fullmatch(text):
        what = repr(text) if text else "empty"
        odd = next((i for i, c in enumerate(text) if not c.isascii()), None)
        hint = (
            f"; character {odd + 1} is the non-ASCII {text[odd]!r} (U+{ord(text[odd]):04X}), a look-alike: retype it"
            if odd is not None
            else ""
        )
        raise FieldError(f"{what} is not an address (0x followed by 40 hex digits){hint}")
    body = text[2:]
    checksummed = checksummed_address(text)
    if body != body.lower() and body != body.upper() and checksummed != text:
        raise FieldError(f"{text} fails its EIP-55 checksum: a character is probably mistyped")
    return checksummed


@functools.lru_cache(maxsize=65536)
def checksummed_address(address: str) -> str:
    return to_checksum_address(address)


def is_zero_address(address: str) -> bool:
    return int(address[2:], 16) == 0


def decimal_tonnes(text: str) -> int | None:
    """Units (kg) of a plain decimal of tonnes >= 0 with at most 3 decimals; None when ``text`` is not a plain
    decimal (the caller says so in its own words); ``FieldError`` for a 4th decimal or an amount out of range."""
    if not _DECIMAL.fullmatch(text):
        return None
    try:
        return parse_amount(text, 3, "t", allow_zero=True)  # exact: never rounded at Decimal's 28 digits
    except TooManyDecimalsError as exc:
        raise FieldError(f"{text} has more than 3 decimals (the smallest unit is 0.001 t = 1 kg)") from exc
    except UnitError as exc:
        raise FieldError(str(exc)) from exc


def parse_tonnes(text: str) -> int:
    """A plain decimal > 0 with at most 3 decimals; returns units (kg)."""
    units = decimal_tonnes(text)
    if units is None:
        what = repr(text) if text else "empty"
        raise FieldError(f"{what} is not a decimal number of tonnes (e.g. 12.5)")
    if units == 0:
        raise FieldError(f"{text}: must be more than 0")
    if units > MAX_ROW_TONNES * UNITS_PER_TONNE:
        raise FieldError(f"{text} t is more than any batch can hold ({MAX_ROW_TONNES:,} t)")
    return units


# ---------------------------------------------------------------------------------------------------- the file


def read_text(path: Path | str, error: type[ToolError] = ToolError) -> str:
    """The file's text, decoded as UTF-8 (a BOM is dropped); raises ``error`` naming the line of a bad byte."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = Problem(name, line, "file", f"not UTF-8 text (byte {exc.start}); save the CSV as UTF-8")
        raise error(problem_summary(name, [problem]), [problem]) from exc


def parse_fields(
    values: Mapping[str, str],
    parsers: Mapping[str, Callable[[str], Any]],
    name: str,
    line: int,
    problems: list[Problem],
) -> dict[str, Any] | None:
    """Every column of ``parsers`` parsed from ``values``; each failure becomes a problem; None if any failed."""
    parsed: dict[str, Any] = {}
    for column, parse in parsers.items():
        try:
            parsed[column] = parse(values.get(column, ""))
        except FieldError as exc:
            problems.append(Problem(name, line, column, str(exc)))
    return parsed if len(parsed) == len(parsers) else None


def read_table(
    text: str,
    name: str,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    unique: str | None,
    parse_row: Callable[[dict[str, str], int, list[Problem]], T | None],
) -> tuple[list[T], list[Problem]]:
    """Parse CSV text: returns the good rows and every problem (header, field counts, ``parse_row``'s problems,
    and values of the ``unique`` column seen on an earlier line, reported on the later one; ``unique=None``: no
    column is unique, e.g. a price file).

    Every value must be in Unicode NFC already: it is refused, never rewritten (the chain keys projects, batches
    and references by their bytes, so a rewritten name could be another project's). The ``unique`` column is an
    identifier: ``identifier_problem`` (no control, format or separator character) applies.

    ``parse_row`` gets the row's stripped values by column name, its line and the problem list to add to."""
    problems: list[Problem] = []
    rows = list(
        iter_table(
            io.StringIO(text.removeprefix("\ufeff"), newline=""),
            name,
            problems,
            required=required,
            optional=optional,
            unique=unique,
            parse_row=parse_row,
        )
    )
    return rows, problems


def iter_table(
    source: Iterable[str],
    name: str,
    problems: list[Problem],
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    unique: str | None,
    parse_row: Callable[[dict[str, str], int, list[Problem]], T | None],
) -> Iterator[T]:
    """``read_table`` one row at a time: yields the good rows of ``source`` (lines of CSV text, e.g. a file opened
    with ``newline=""``) as they are read, and adds every problem to ``problems`` (the last ones, such as "no data
    rows", once the source is exhausted). Holds one record at a time, plus the ``unique`` column's values seen."""
    reader = csv.reader(source, strict=True)
    columns: dict[str, int] | None = None
    first_line_of: dict[str, int] = {}
    end = 0
    good = 0
    try:
        for record in reader:
            start, end = end + 1, reader.line_num
            if not any(value.strip() for value in record):
                continue
            if columns is None:
                columns = _read_header(record, name, start, problems, required, optional)
                if columns is None:
                    return
                continue
            if len(record) != len(columns):
                present = [c for c in (*required, *optional) if c in columns]
                problems.append(
                    Problem(name, start, "row", f"{len(record)} fields, expected {len(columns)} ({','.join(present)})")
                )
                key = ""
                row = None
            else:
                values = {column: record[index].strip() for column, index in columns.items()}
                key = values[unique] if unique else ""
                composed = sorted(
                    (index, column)
                    for column, index in columns.items()
                    if not unicodedata.is_normalized("NFC", values[column])
                )
                problem = identifier_problem(key) if key else None
                if composed:  # refused, never normalized: the NFD twin of a name is another name on chain
                    problems.extend(Problem(name, start, column, NFC_MESSAGE) for _, column in composed)
                    key, row = "", None
                elif problem:  # a NUL, line break, zero-width space, ... in a reference: never hashed into a key
                    problems.append(Problem(name, start, str(unique), problem))
                    key, row = "", None
                else:
                    row = parse_row(values, start, problems)
            first = first_line_of.setdefault(key, start) if key else start
            if first != start:
                problems.append(Problem(name, start, str(unique), f"{key!r} is already used on line {first}"))
            elif row is not None:
                good += 1
                yield row
    except csv.Error as exc:
        if "end of data" in str(exc):  # a quote opened in the record after `end` and never closed
            message = (
                "a quoted field is not closed: the quote opened on this line swallows every line after it; "
                "close the quote or remove it"
            )
            problems.append(Problem(name, end + 1, "row", message))
        else:
            problems.append(Problem(name, end + 1, "file", f"malformed CSV: {exc}"))
        return
    if columns is None:
        problems.append(Problem(name, 1, "header", f"the file is empty; expected the header {','.join(required)}"))
    elif not good and not problems:
        problems.append(Problem(name, end or 1, "file", "the file has a header but no data rows"))


def _read_header(
    record: list[str],
    name: str,
    line: int,
    problems: list[Problem],
    required: Sequence[str],
    optional: Sequence[str],
) -> dict[str, int] | None:
    known = (*required, *optional)
    names = [value.strip().lower() for value in record]
    columns = {column: index for index, column in reversed(list(enumerate(names)))}
    missing = [column for column in required if column not in columns]
    unknown = [column or "(empty)" for column in names if column not in known]
    repeated = sorted({column for column in names if names.count(column) > 1 and column in known})
    for what, values in (("missing column", missing), ("unknown column", unknown), ("repeated column", repeated)):
        if values:
            problems.append(Problem(name, line, "header", f"{what}{'s' * (len(values) > 1)} {', '.join(values)}"))
    if missing or unknown or repeated:
        also = f", optionally {','.join(optional)}" if optional else ""
        problems.append(Problem(name, line, "header", f"expected exactly: {','.join(required)}{also} (any order)"))
        return None
    return columns
