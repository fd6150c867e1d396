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
  is ``orderRef = keccak256(utf-8 bytes of reference)``: the contract accepts each orderRef once, ever, within the
  id's project.

Columns may come in any order; header names and every value are stripped of surrounding whitespace; blank lines
(and rows whose fields are all empty) are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eth_utils import keccak

from tonne.bulk.rows import fields_to, parse_account, read_file, row_parser
from tonne.bulk.rows import parse_reference as parse_row_reference
from tonne.core.csvinput import (
    BatchRef,
    ProjectRef,
    parse_batch,
    parse_project,
    parse_tonnes,
    read_table,
)
from tonne.issuance.errors import IssuanceError, Problem

HEADER = ("project", "batch", "recipient", "tonnes", "reference")


@dataclass(frozen=True)
class Row:
    """One checked data row of the file."""

    line: int
    project: ProjectRef
    batch: BatchRef
    recipient: str  # EIP-55 form
    units: int
    reference: str
    # keccak256 of the reference, computed here unless given: a row read back from a spool (``tonne.issuance.stream``)
    # carries the key hashed when it was first read, rather than hashing it again on every pass.
    order_ref: bytes = field(default=b"", repr=False, compare=False, kw_only=True)

    def __post_init__(self) -> None:
        if not self.order_ref:
            object.__setattr__(self, "order_ref", order_ref(self.reference))


def order_ref(reference: str) -> bytes:
    """The on-chain idempotency key of a row: keccak256 of the reference's UTF-8 bytes."""
    return _keccak256(reference.encode("utf-8"))


try:  # the backend eth_utils' keccak uses here, called directly: its wrappers cost as much as the hash
    from Crypto.Hash import keccak as _keccak

    def _keccak256(data: bytes) -> bytes:
        return _keccak.new(digest_bits=256, data=data).digest()

except ImportError:  # pragma: no cover - another eth_hash backend
    _keccak256 = keccak


def parse_recipient(text: str) -> str:
    """A 0x address; mixed case must be a valid EIP-55 checksum. Returns the checksummed form."""
    return parse_account(text, "the zero address cannot receive credits")


def parse_reference(text: str) -> str:
    return parse_row_reference(text, "issuance")


_PARSERS = {
    "project": parse_project,
    "batch": parse_batch,
    "recipient": parse_recipient,
    "tonnes": parse_tonnes,
    "reference": parse_reference,
}


def read_rows(path: Path | str) -> list[Row]:
    """Read and statically check a CSV file; raise ``IssuanceError`` listing every problem found."""
    return read_file(path, parse_text, IssuanceError)


def parse_text(text: str, name: str = "<csv>") -> tuple[list[Row], list[Problem]]:
    """Parse CSV text; returns the good rows and every problem (static checks and duplicate references)."""
    return read_table(text, name, required=HEADER, unique="reference", parse_row=_parse_row(name))


def _parse_row(name: str):
    return row_parser(name, _PARSERS, fields_to(Row, {"tonnes": "units"}))
