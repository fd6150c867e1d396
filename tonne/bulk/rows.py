"""Reading a bulk tool's rows: one row schema (the columns' parsers and the record a row becomes) over the shared
CSV reader (``tonne.core.csvinput``), so each tool writes only its parsers and its row type.

``row_parser`` turns ``parsers`` (column -> parse function raising ``FieldError``) and ``build`` (line, parsed
fields -> the tool's row) into the ``parse_row`` of ``read_table`` / ``iter_table``; ``read_file`` reads and checks
a whole file, raising the tool's ``ToolError`` with every ``file:line: field: message`` at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from tonne.bulk.report import Problem, ToolError, raise_problems
from tonne.core.csvinput import FieldError, check_identifier, is_zero_address, parse_address, parse_fields, read_text

T = TypeVar("T")

ParseRow = Callable[[dict[str, str], int, list[Problem]], Any]


def row_parser(
    name: str, parsers: Mapping[str, Callable[[str], Any]], build: Callable[[int, dict[str, Any]], T]
) -> Callable[[dict[str, str], int, list[Problem]], T | None]:
    """The ``parse_row`` of a file ``name``: every column of ``parsers`` parsed (each failure a problem of its
    line and column), then ``build(line, parsed)``; None when any column failed."""

    def parse(values: dict[str, str], line: int, problems: list[Problem]) -> T | None:
        parsed = parse_fields(values, parsers, name, line, problems)
        return None if parsed is None else build(line, parsed)

    return parse


def fields_to(row_type: Callable[..., T], rename: Mapping[str, str] = {}) -> Callable[[int, dict[str, Any]], T]:  # noqa: B006 - read only
    """The ``build`` of ``row_parser`` for a row type whose fields are the columns (``rename``: column -> field
    where they differ, e.g. ``tonnes`` -> ``units``), plus ``line``."""
    return lambda line, parsed: row_type(line=line, **{rename.get(k, k): v for k, v in parsed.items()})


def read_file(
    path: Path | str,
    parse_text: Callable[[str, str], tuple[list[T], list[Problem]]],
    error: type[ToolError],
) -> list[T]:
    """Read ``path`` (UTF-8, a BOM dropped) and check it with the tool's ``parse_text(text, name)``; raise
    ``error`` listing every problem, in line order, if there is any."""
    name = str(path)
    rows, problems = parse_text(read_text(path, error), name)
    raise_problems(name, problems, error)
    return rows


def parse_account(text: str, zero: str) -> str:
    """A 0x address (EIP-55 checksum when mixed case) that is not the zero address (``zero``: why it cannot be);
    returns the checksummed form."""
    address = parse_address(text)
    if is_zero_address(address):
        raise FieldError(zero)
    return address


def parse_reference(text: str, what: str) -> str:
    """A row's reference (its on-chain idempotency key once hashed): non-empty, an identifier (``check_identifier``:
    no invisible or separator characters); ``what``: which reference, for the message."""
    if not text:
        raise FieldError(f"empty: every row needs its own {what} reference")
    return check_identifier(text)
