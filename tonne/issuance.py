"""Bulk issuance of credits from a CSV file: validate everything, then issue with ``issueMany``, resumably.

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

A run goes: parse and check every row (static pass), wait until the sending account has no pending transaction,
read the chain (batched JSON-RPC calls, pinned to one block), drop the rows whose orderRef is already used (the
chain, not a local file, says what is done), check the remaining rows against the chain (chain pass), then send
them with ``issueMany`` in chunks, projects kept contiguous. Any problem in either pass stops the run before
anything is sent, with a report naming ``file:line: field: message`` for every problem found.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from tonne.ids import describe, encode_id, project_of
from tonne.units import UNITS_PER_TONNE, UnitError, format_tonnes, tonnes_to_units

HEADER = ("project", "batch", "recipient", "tonnes", "reference")
DEFAULT_CHUNK_SIZE = 200
# Measured on CarbonCredit.issueMany (anvil, cancun): 56.4k gas per order to a fresh recipient (new balance slot,
# new orderRef slot, two events), ~37k per transaction. The constants round up so estimates stay on the safe side.
GAS_PER_ORDER = 60_000
GAS_PER_TX = 40_000
# A chunk may use at most this share of the block gas limit, so it still fits when blocks are busy.
MAX_BLOCK_SHARE = 0.5
MAX_ROW_TONNES = 10**12  # the registry's MAX_BATCH_TONNES: no single row can be larger than a whole batch
RPC_BATCH_SIZE = 1000

_UINT64_MAX = (1 << 64) - 1
_STATUS_NAMES = ("None", "Pending", "Approved", "Suspended", "Terminated")
_APPROVED = 2
_DIGITS = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_ISSUE_MANY = "issueMany((uint256,address,uint256,bytes32)[])"
_ORDER_TUPLE = "(uint256,address,uint256,bytes32)[]"
_BATCH_VIEW = "(uint64,uint64,uint64,uint40,uint40,bool,address,uint64,string,string)"


# ---------------------------------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: ``file:line: field: message`` (no line for file-wide problems)."""

    path: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.field}: {self.message}"


class IssuanceError(RuntimeError):
    """The input cannot be issued as it is; ``problems`` lists every problem found."""

    def __init__(self, summary: str, problems: Sequence[Problem] = ()) -> None:
        self.summary = summary
        self.problems = list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        return "\n".join([self.summary, *(str(p) for p in self.problems)])


class PendingTransactionsError(IssuanceError):
    """The sending account still has transactions in the mempool after the timeout."""


class SendFailed(RuntimeError):
    """A transaction could not be sent, was not mined in time, or reverted."""


# ---------------------------------------------------------------------------------------------------- rows


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
        raise IssuanceError(_problem_summary(name, [problem]), [problem]) from exc
    rows, problems = parse_text(text, name)
    if problems:
        raise IssuanceError(_problem_summary(name, problems), problems)
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


def _problem_summary(name: str, problems: Sequence[Problem]) -> str:
    count = len(problems)
    return f"{name}: {count} problem{'s' * (count != 1)} found, nothing was sent"


# ---------------------------------------------------------------------------------------------------- chain reads


@functools.cache
def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _word_bytes32(value: bytes) -> bytes:
    if len(value) != 32:
        raise ValueError(f"bytes32 argument has {len(value)} bytes")
    return bytes(value)


_STATIC_WORDS: dict[str, Callable[[Any], bytes]] = {
    "bytes32": _word_bytes32,
    "uint256": lambda v: int(v).to_bytes(32, "big"),
    "uint64": lambda v: int(v).to_bytes(32, "big"),
    "address": lambda v: bytes.fromhex(str(v)[2:]).rjust(32, b"\x00"),
}


@dataclass(frozen=True)
class Call:
    """One ``eth_call``: ``to``, a function signature, its arguments and the output types to decode."""

    to: str
    signature: str
    args: tuple[Any, ...] = ()
    outputs: tuple[str, ...] = ()
    sender: str | None = None

    def data(self) -> bytes:
        types = _split_types(self.signature[self.signature.index("(") + 1 : -1])
        if all(t in _STATIC_WORDS for t in types):  # fast path: one 32-byte word per argument
            return _selector(self.signature) + b"".join(
                _STATIC_WORDS[t](a) for t, a in zip(types, self.args, strict=True)
            )
        return _selector(self.signature) + abi_encode(types, list(self.args))


@dataclass(frozen=True)
class Reverted:
    """A call that reverted; ``data`` is the revert data, ``error`` its decoded name when known."""

    data: bytes
    error: str

    def __bool__(self) -> bool:
        return False


def _split_types(inputs: str) -> list[str]:
    types, depth, current = [], 0, ""
    for char in inputs:
        if char == "," and depth == 0:
            types.append(current)
            current = ""
            continue
        depth += (char == "(") - (char == ")")
        current += char
    if current:
        types.append(current)
    return types


class ChainView:
    """Reads the chain through one web3 instance with batched JSON-RPC, pinned to one block when asked.

    ``errors`` maps 4-byte error selectors to readable signatures (see ``error_names``), for revert messages.
    """

    def __init__(self, w3: Any, *, errors: dict[bytes, str] | None = None, batch_size: int = RPC_BATCH_SIZE):
        self.w3 = w3
        self.errors = errors or {}
        self.batch_size = batch_size
        self.block: int | str = "latest"

    def pin(self) -> int:
        """Pin later reads to the current block; returns it."""
        self.block = int(self.w3.eth.block_number)
        return self.block

    def unpin(self) -> None:
        self.block = "latest"

    def rpc_many(self, requests: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Raw JSON-RPC responses, in order, sent in batches of ``batch_size``."""
        out: list[dict[str, Any]] = []
        provider = self.w3.provider
        for start in range(0, len(requests), self.batch_size):
            part = list(requests[start : start + self.batch_size])
            try:
                responses = provider.make_batch_request(part)
            except NotImplementedError:
                responses = [provider.make_request(method, params) for method, params in part]
            if not isinstance(responses, list):
                raise RuntimeError(f"the node refused a batch of {len(part)} JSON-RPC calls: {responses}")
            out.extend(dict(response) for response in responses)
        return out

    def call_many(self, calls: Sequence[Call]) -> list[Any]:
        """Results of ``calls`` (a single output is unwrapped); a reverted call gives a falsy ``Reverted``."""
        block = hex(self.block) if isinstance(self.block, int) else self.block
        requests = []
        for call in calls:
            tx: dict[str, Any] = {"to": call.to, "data": "0x" + call.data().hex()}
            if call.sender:
                tx["from"] = call.sender
            requests.append(("eth_call", [tx, block]))
        return [self._decode(call, response) for call, response in zip(calls, self.rpc_many(requests), strict=True)]

    def call(self, call: Call) -> Any:
        return self.call_many([call])[0]

    def _decode(self, call: Call, response: dict[str, Any]) -> Any:
        if "error" in response:
            error = response["error"] or {}
            data = _hex_bytes(error.get("data"))
            if not data and "revert" not in str(error.get("message", "")).lower():
                raise RuntimeError(f"eth_call {call.signature} failed: {error}")
            return Reverted(data, self.error_name(data) or str(error.get("message", "reverted")))
        result = _hex_bytes(response.get("result"))
        if call.outputs in (("bool",), ("uint8",), ("uint64",), ("uint256",)) and len(result) == 32:
            value = int.from_bytes(result, "big")
            return bool(value) if call.outputs == ("bool",) else value
        values = abi_decode(list(call.outputs), result)
        return values[0] if len(values) == 1 else values

    def error_name(self, data: bytes) -> str:
        """Readable form of revert data, e.g. ``CreditOrderReferenceUsed(0x12..)``."""
        if len(data) < 4:
            return ""
        signature = self.errors.get(data[:4])
        if signature is None:
            return "0x" + data.hex()
        inputs = _split_types(signature[signature.index("(") + 1 : -1])
        try:
            values = abi_decode(inputs, data[4:]) if inputs else ()
        except Exception:  # noqa: BLE001 - malformed revert data: show the name alone
            return signature
        shown = ", ".join(_show(v) for v in values)
        return f"{signature.split('(')[0]}({shown})"

    def nonces(self, address: str) -> tuple[int, int]:
        """(latest, pending) nonce of ``address``."""
        latest, pending = self.rpc_many(
            [("eth_getTransactionCount", [address, "latest"]), ("eth_getTransactionCount", [address, "pending"])]
        )
        return int(latest["result"], 16), int(pending["result"], 16)

    def wait_settled(self, address: str, timeout: float, log: Callable[[str], None], poll: float = 0.5) -> None:
        """Wait until ``address`` has no pending transaction, so nothing it sent earlier can still land."""
        deadline = time.monotonic() + timeout
        latest, pending = self.nonces(address)
        if pending > latest:
            log(f"waiting for {pending - latest} pending transaction(s) of {address} (nonces {latest}..{pending - 1})")
        while pending > latest:
            if time.monotonic() > deadline:
                raise PendingTransactionsError(
                    f"{address} still has {pending - latest} pending transaction(s) (nonces {latest}..{pending - 1}) "
                    f"after {timeout:.0f} s. Wait for them to be mined, or replace them (same nonce, higher fee), "
                    "then run again: nothing was sent."
                )
            time.sleep(poll)
            latest, pending = self.nonces(address)

    def block_gas_limit(self) -> int:
        return int(self.w3.eth.get_block("latest")["gasLimit"])


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and _ADDRESS.fullmatch(value):
        return to_checksum_address(value)
    return str(value)


def error_names(*abis: Iterable[dict[str, Any]]) -> dict[bytes, str]:
    """4-byte selector -> signature of every custom error in the given JSON ABIs."""
    names: dict[bytes, str] = {}
    for abi in abis:
        for item in abi:
            if item.get("type") == "error":
                signature = f"{item['name']}({','.join(_abi_type(i) for i in item.get('inputs', []))})"
                names[_selector(signature)] = signature
    return names


def _abi_type(item: dict[str, Any]) -> str:
    kind = item["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item.get("components", [])) + ")" + kind[len("tuple") :]
    return kind


def _hex_bytes(value: Any) -> bytes:
    if not value:
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    text = str(value)
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


# ---------------------------------------------------------------------------------------------------- chain state


@dataclass(frozen=True)
class ProjectInfo:
    status: int
    issuer_ok: bool
    restricted: bool


@dataclass(frozen=True)
class BatchInfo:
    project_id: int
    verified: bool
    cap: int
    issued: int

    @property
    def available(self) -> int:
        return self.cap - self.issued


@dataclass
class ChainState:
    """What the chain says about the rows of a file, read at one block. Pure data: validation is testable."""

    project_ids: dict[ProjectRef, int] = field(default_factory=dict)  # 0: unknown
    projects: dict[int, ProjectInfo] = field(default_factory=dict)
    batch_ids: dict[tuple[int, BatchRef], int] = field(default_factory=dict)  # 0: unknown
    batches: dict[int, BatchInfo] = field(default_factory=dict)
    used: set[bytes] = field(default_factory=set)
    permissioned: bool = False
    paused: bool = False
    allowed: dict[str, bool] = field(default_factory=dict)
    frozen: dict[str, bool] = field(default_factory=dict)
    rejections: dict[str, str] = field(default_factory=dict)  # contract recipient -> revert of a test issuance
    block: int | None = None

    def token_id(self, row: Row) -> int:
        """The row's token id, or 0 when its project or batch is unknown."""
        project_id = self.project_ids.get(row.project, 0)
        return self.batch_ids.get((project_id, row.batch), 0) if project_id else 0


@dataclass(frozen=True)
class Contracts:
    """Addresses of the deployment the rows are issued on."""

    credit: str
    registry: str


def read_state(rows: Sequence[Row], view: ChainView, contracts: Contracts, sender: str) -> ChainState:
    """Everything the chain pass needs about ``rows``, in two rounds of batched calls at the pinned block."""
    credit, registry = contracts.credit, contracts.registry
    state = ChainState(block=view.block if isinstance(view.block, int) else None)

    named = sorted({r.project for r in rows if r.project.project_id is None}, key=str)
    by_number = sorted({r.project for r in rows if r.project.project_id is not None}, key=str)
    batch_refs = sorted({r.batch.reference for r in rows if r.batch.reference is not None})
    recipients = sorted({r.recipient for r in rows})
    first_round = [
        *(Call(registry, "projectIdOf(string,string)", (p.standard, p.external_id), ("uint64",)) for p in named),
        *(Call(registry, "batchOfIssuanceReference(string)", (ref,), ("uint256",)) for ref in batch_refs),
        Call(credit, "permissioned()", (), ("bool",)),
        Call(credit, "paused()", (), ("bool",)),
        *(Call(credit, "isOrderReferenceUsed(bytes32)", (r.order_ref,), ("bool",)) for r in rows),
    ]
    results = iter(view.call_many(first_round))
    for project in named:
        state.project_ids[project] = _ok(next(results), "projectIdOf")
    for project in by_number:
        state.project_ids[project] = project.project_id or 0
    id_of_reference = {ref: _ok(next(results), "batchOfIssuanceReference") for ref in batch_refs}
    state.permissioned = _ok(next(results), "permissioned")
    state.paused = _ok(next(results), "paused")
    state.used = {r.order_ref for r in rows if _ok(next(results), "isOrderReferenceUsed")}

    for r in rows:
        project_id = state.project_ids[r.project]
        if project_id and r.batch.number is not None:
            state.batch_ids[(project_id, r.batch)] = encode_id(project_id, r.batch.number)
        elif project_id:
            state.batch_ids[(project_id, r.batch)] = id_of_reference[r.batch.reference or ""]
    project_ids = sorted({pid for pid in state.project_ids.values() if pid})
    token_ids = sorted({tid for tid in state.batch_ids.values() if tid})
    second_round = [
        *(
            call
            for pid in project_ids
            for call in (
                Call(registry, "projectStatus(uint64)", (pid,), ("uint8",)),
                Call(registry, "isProjectIssuer(uint64,address)", (pid, sender), ("bool",)),
                Call(credit, "isProjectRestricted(uint64)", (pid,), ("bool",)),
            )
        ),
        *(
            call
            for tid in token_ids
            for call in (
                Call(registry, "batch(uint256)", (tid,), (_BATCH_VIEW,)),
                Call(credit, "issuanceCap(uint256)", (tid,), ("uint256",)),
                Call(credit, "totalIssued(uint256)", (tid,), ("uint256",)),
            )
        ),
        *(Call(credit, "isFrozen(address)", (a,), ("bool",)) for a in recipients),
        *(Call(credit, "isAllowed(address)", (a,), ("bool",)) for a in recipients if state.permissioned),
    ]
    results = iter(view.call_many(second_round))
    for pid in project_ids:
        status, issuer_ok, restricted = (_ok(next(results), "project") for _ in range(3))
        state.projects[pid] = ProjectInfo(status=status, issuer_ok=issuer_ok, restricted=restricted)
    for tid in token_ids:
        view_, cap, issued = next(results), _ok(next(results), "issuanceCap"), _ok(next(results), "totalIssued")
        if isinstance(view_, Reverted):  # registry.batch reverts for unknown ids
            continue
        state.batches[tid] = BatchInfo(project_id=view_[0], verified=view_[5], cap=cap, issued=issued)
    state.frozen = {a: _ok(next(results), "isFrozen") for a in recipients}
    if state.permissioned:
        state.allowed = {a: _ok(next(results), "isAllowed") for a in recipients}
    return state


def check_receivers(rows: Sequence[Row], state: ChainState, view: ChainView, contracts: Contracts, sender: str) -> None:
    """For recipients that are contracts, simulate issuing them 1 unit: a contract may reject ERC-1155 credits.

    Reverts with the token's or registry's own errors are left out: the other checks report those causes."""
    candidates: dict[str, tuple[Row, int]] = {}
    for row in rows:
        token_id = state.token_id(row)
        if token_id and row.recipient not in candidates:
            candidates[row.recipient] = (row, token_id)
    if not candidates:
        return
    addresses = list(candidates)
    codes = view.rpc_many(
        [("eth_getCode", [a, hex(view.block) if isinstance(view.block, int) else view.block]) for a in addresses]
    )
    contracts_to_try = [a for a, code in zip(addresses, codes, strict=True) if _hex_bytes(code.get("result"))]
    calls = [
        Call(
            contracts.credit,
            _ISSUE_MANY,
            ([(candidates[a][1], a, 1, b"\x00" * 32)],),
            (),
            sender=sender,
        )
        for a in contracts_to_try
    ]
    for address, result in zip(contracts_to_try, view.call_many(calls), strict=True):
        if isinstance(result, Reverted) and not result.error.startswith(("Credit", "Registry")):
            state.rejections[address] = result.error


def _ok(result: Any, what: str) -> Any:
    if isinstance(result, Reverted):
        raise RuntimeError(f"the view call {what} reverted unexpectedly ({result.error}); is this a Tonne deployment?")
    return result


# ---------------------------------------------------------------------------------------------------- chain pass


def check_against_chain(rows: Sequence[Row], state: ChainState, sender: str, path: str) -> list[Problem]:
    """Problems of the rows still to issue, given the chain state. Each problem of a project, batch or recipient
    is reported once, on the first line it affects, with the other lines it affects."""
    problems: list[Problem] = []
    if state.paused:
        problems.append(
            Problem(path, None, "token", "the credit token is paused by the regulator: nothing can be issued")
        )
    grouped: dict[tuple[str, str], list[int]] = {}

    def add(row: Row, column: str, message: str) -> None:
        grouped.setdefault((column, message), []).append(row.line)

    for row in rows:
        _check_row(row, state, sender, add)
    for (column, message), lines in grouped.items():
        problems.append(Problem(path, lines[0], column, message + _other_lines(lines)))
    problems.extend(_cap_problems(rows, state, path))
    problems.sort(key=lambda p: (p.line or 0, list(_PARSERS).index(p.field) if p.field in _PARSERS else -1))
    return problems


def _check_row(row: Row, state: ChainState, sender: str, add: Callable[[Row, str, str], None]) -> None:
    project_id = state.project_ids.get(row.project, 0)
    info = state.projects.get(project_id) if project_id else None
    if info is None or info.status == 0:
        add(row, "project", _unknown_project(row.project))
    else:
        label = f"project {row.project}" + (f" (id {project_id})" if row.project.project_id is None else "")
        if info.status != _APPROVED:
            status = _STATUS_NAMES[info.status] if info.status < len(_STATUS_NAMES) else str(info.status)
            add(row, "project", f"{label} is {status}; credits can be issued only while it is Approved")
        elif info.restricted:
            add(row, "project", f"credits of {label} are restricted in the token")
        if not info.issuer_ok:
            add(row, "project", f"{sender} is not an authorised issuer of {label} (ISSUER_ROLE + setProjectIssuer)")
        _check_batch(row, project_id, state, add)
    if state.frozen.get(row.recipient):
        add(row, "recipient", f"{row.recipient} is frozen by the regulator")
    if state.permissioned and not state.allowed.get(row.recipient, False):
        add(row, "recipient", f"{row.recipient} is not on the allowlist (the token is permissioned)")
    if row.recipient in state.rejections:
        add(row, "recipient", f"contract {row.recipient} rejects the credits: {state.rejections[row.recipient]}")


def _check_batch(row: Row, project_id: int, state: ChainState, add: Callable[[Row, str, str], None]) -> None:
    token_id = state.batch_ids.get((project_id, row.batch), 0)
    batch = state.batches.get(token_id) if token_id else None
    if batch is None:
        if row.batch.number is not None:
            add(row, "batch", f"project {row.project} has no batch number {row.batch.number}")
        else:
            add(row, "batch", f"no batch has the issuance reference {row.batch.reference!r}")
    elif batch.project_id != project_id:
        add(
            row,
            "batch",
            f"{row.batch} is batch {describe(token_id)} of project {batch.project_id}, not of project {row.project}",
        )
    elif not batch.verified:
        add(row, "batch", f"{row.batch} ({describe(token_id)}) is not verified yet")


def _cap_problems(rows: Sequence[Row], state: ChainState, path: str) -> list[Problem]:
    by_batch: dict[int, list[Row]] = {}
    for row in rows:
        token_id = state.token_id(row)
        batch = state.batches.get(token_id)
        if batch is not None and batch.verified and batch.project_id == state.project_ids.get(row.project):
            by_batch.setdefault(token_id, []).append(row)
    problems = []
    for token_id, batch_rows in by_batch.items():
        batch = state.batches[token_id]
        total = sum(r.units for r in batch_rows)
        if total <= batch.available:
            continue
        running, crossing = 0, batch_rows[-1]
        for r in batch_rows:
            running += r.units
            if running > batch.available:
                crossing = r
                break
        message = (
            f"batch {describe(token_id)} ({batch_rows[0].batch}) has {format_tonnes(batch.available)} left to issue "
            f"(cap {format_tonnes(batch.cap)}, {format_tonnes(batch.issued)} issued), but its {len(batch_rows)} "
            f"row(s) still to issue need {format_tonnes(total)}; the cap is passed on this line"
        )
        problems.append(Problem(path, crossing.line, "tonnes", message + _other_lines([r.line for r in batch_rows])))
    return problems


def _unknown_project(project: ProjectRef) -> str:
    if project.project_id is not None:
        return f"project {project.project_id} does not exist"
    return f"no project {project.external_id!r} of standard {project.standard!r} is registered"


def _other_lines(lines: Sequence[int], shown: int = 10) -> str:
    if len(lines) < 2:
        return ""
    listed = ", ".join(str(n) for n in lines[:shown]) + (", ..." if len(lines) > shown else "")
    return f" [{len(lines)} rows: lines {listed}]"


# ---------------------------------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Order:
    """A row resolved to its token id: one ``IssueOrder`` of ``issueMany``."""

    row: Row
    token_id: int

    def as_tuple(self) -> tuple[int, str, int, bytes]:
        return (self.token_id, self.row.recipient, self.row.units, self.row.order_ref)


@dataclass
class Plan:
    """What a run will send: the rows already done and the chunks of orders still to issue."""

    path: str
    rows: list[Row]
    done: list[Row]
    chunks: list[list[Order]]
    state: ChainState

    @property
    def orders(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    def describe(self) -> str:
        return format_plan(self)


def group_by_project(orders: Sequence[Order]) -> list[Order]:
    """Orders with each project's orders contiguous: projects in order of first appearance, rows in file order."""
    first_seen: dict[int, int] = {}
    for order in orders:
        first_seen.setdefault(project_of(order.token_id), len(first_seen))
    return sorted(orders, key=lambda o: first_seen[project_of(o.token_id)])  # stable: file order within a project


def chunk(orders: Sequence[Order], size: int) -> list[list[Order]]:
    """Consecutive slices of at most ``size`` orders."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [list(orders[i : i + size]) for i in range(0, len(orders), size)]


def max_chunk_size(block_gas_limit: int, share: float = MAX_BLOCK_SHARE) -> int:
    """The most orders one ``issueMany`` may carry so its worst-case gas stays within ``share`` of a block."""
    return max(1, int((block_gas_limit * share - GAS_PER_TX) // GAS_PER_ORDER))


def estimated_gas(orders: int) -> int:
    """Worst-case gas of one ``issueMany`` of ``orders`` orders (every recipient new to the id)."""
    return GAS_PER_TX + GAS_PER_ORDER * orders


def encode_issue_many(orders: Sequence[Order]) -> bytes:
    """Calldata of ``issueMany(orders)``."""
    return _selector(_ISSUE_MANY) + abi_encode([_ORDER_TUPLE], [[o.as_tuple() for o in orders]])


def format_plan(plan: Plan) -> str:
    """Readable plan: per batch rows and tonnes against what is left, then the chunks."""
    lines = [
        f"{plan.path}: {len(plan.rows)} rows; {len(plan.done)} already issued on-chain; "
        f"{plan.orders} to issue in {len(plan.chunks)} transaction(s)"
        + (f" (read at block {plan.state.block})" if plan.state.block is not None else "")
    ]
    per_batch: dict[int, list[Order]] = {}
    for chunk_ in plan.chunks:
        for order in chunk_:
            per_batch.setdefault(order.token_id, []).append(order)
    for token_id, orders in per_batch.items():
        batch = plan.state.batches.get(token_id)
        units = sum(o.row.units for o in orders)
        left = f", {format_tonnes(batch.available)} left of {format_tonnes(batch.cap)}" if batch else ""
        lines.append(
            f"  {describe(token_id):>12}  {orders[0].row.batch}: {len(orders)} rows, {format_tonnes(units)}{left}"
        )
    for index, chunk_ in enumerate(plan.chunks, 1):
        projects = sorted({project_of(o.token_id) for o in chunk_})
        lines.append(
            f"  tx {index}: {len(chunk_)} orders of project{'s' * (len(projects) > 1)} "
            f"{', '.join(map(str, projects))}, at most ~{estimated_gas(len(chunk_)):,} gas"
        )
    return "\n".join(lines)


def prepare(
    path: str,
    rows: Sequence[Row],
    view: ChainView,
    contracts: Contracts,
    sender: str,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
) -> Plan:
    """Wait for the sender's pending transactions, read the chain, drop done rows, check the rest, and chunk them.

    Raises ``IssuanceError`` with every chain problem; nothing is sent here.
    """
    limit = max_chunk_size(view.block_gas_limit())
    if chunk_size > limit:
        raise IssuanceError(
            f"--chunk-size {chunk_size} is too large: up to ~{estimated_gas(chunk_size):,} gas per transaction; "
            f"at most {limit} orders fit in {MAX_BLOCK_SHARE:.0%} of this chain's block gas limit"
        )
    view.wait_settled(sender, pending_timeout, log)
    view.pin()
    try:
        state = read_state(rows, view, contracts, sender)
        done = [r for r in rows if r.order_ref in state.used]
        todo = [r for r in rows if r.order_ref not in state.used]
        if todo:
            check_receivers(todo, state, view, contracts, sender)
    finally:
        view.unpin()
    problems = check_against_chain(todo, state, sender, path)
    if problems:
        raise IssuanceError(_problem_summary(path, problems), problems)
    orders = group_by_project([Order(r, state.token_id(r)) for r in todo])
    return Plan(path=path, rows=list(rows), done=done, chunks=chunk(orders, chunk_size), state=state)


# ---------------------------------------------------------------------------------------------------- send


@dataclass(frozen=True)
class Sent:
    """A mined, successful transaction."""

    tx_hash: str
    gas_used: int


class Sender(Protocol):
    """Signs and sends a transaction, waits until it is mined; raises ``SendFailed`` unless it succeeded."""

    address: str

    def send(self, to: str, data: bytes) -> Sent: ...


class ApeSender:
    """Sends through an ape account (any kind: test, keyfile, hardware wallet): ape fills nonce, gas and fees and
    signs; the signed transaction goes out raw and its receipt is polled quickly and read unformatted (ape's own
    send path polls every 0.1 s and formats every log of a 200-order receipt, about half the run time)."""

    def __init__(self, account: Any, provider: Any, *, timeout: float | None = None) -> None:
        self.account = account
        self.provider = provider
        self.address = str(account.address)
        self.timeout = timeout if timeout is not None else float(provider.network.transaction_acceptance_timeout)

    def send(self, to: str, data: bytes) -> Sent:
        try:
            txn = self.provider.network.ecosystem.create_transaction(receiver=to, data=data, sender=self.address)
            txn = self.account.prepare_transaction(txn)
            signed = self.account.sign_transaction(txn)
            if not signed:
                raise SendFailed(f"{self.address} did not sign the transaction")
            tx_hash = _hash_text(self.provider.web3.eth.send_raw_transaction(signed.serialize_transaction()))
        except SendFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure is re-checked against the chain by the caller
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc
        return wait_for_receipt(self.provider.web3, tx_hash, self.timeout)


def wait_for_receipt(w3: Any, tx_hash: str, timeout: float) -> Sent:
    """Poll for the raw receipt (5 ms at first, backing off to 1 s); raise ``SendFailed`` if reverted or late."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        response = w3.provider.make_request("eth_getTransactionReceipt", [tx_hash])
        receipt = response.get("result")
        if receipt:
            if int(receipt["status"], 16) != 1:
                raise SendFailed(f"transaction {tx_hash} reverted")
            return Sent(tx_hash=tx_hash, gas_used=int(receipt["gasUsed"], 16))
        if time.monotonic() > deadline:
            raise SendFailed(f"transaction {tx_hash} was not mined within {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


class Web3Sender:
    """Sends with plain web3.py and a local key (``eth_account`` account): for tests and benchmarks."""

    def __init__(self, w3: Any, account: Any, *, timeout: float = 120.0, gas_margin: float = 1.2) -> None:
        self.w3 = w3
        self.account = account
        self.address = str(account.address)
        self.timeout = timeout
        self.gas_margin = gas_margin
        self.chain_id = int(w3.eth.chain_id)

    def send(self, to: str, data: bytes) -> Sent:
        eth = self.w3.eth
        tx: dict[str, Any] = {"from": self.address, "to": to, "data": data, "chainId": self.chain_id}
        try:
            tx["gas"] = int(eth.estimate_gas(tx) * self.gas_margin)
            tx["nonce"] = eth.get_transaction_count(self.address, "pending")
            base = eth.get_block("latest").get("baseFeePerGas", 0)
            tx["maxPriorityFeePerGas"] = 1
            tx["maxFeePerGas"] = 2 * base + 1
            signed = self.account.sign_transaction(tx)
            tx_hash = _hash_text(eth.send_raw_transaction(signed.raw_transaction))
        except Exception as exc:  # noqa: BLE001 - any failure is re-checked against the chain by the caller
            raise SendFailed(f"{type(exc).__name__}: {exc}") from exc
        return wait_for_receipt(self.w3, tx_hash, self.timeout)


def _hash_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


@dataclass
class IssueSummary:
    """What a run did."""

    rows: int = 0
    issued: int = 0  # rows issued by this run
    already_done: int = 0  # rows whose orderRef was used before this run planned
    raced: int = 0  # rows found issued by another transaction while this run was sending
    txs: int = 0
    gas_used: int = 0
    elapsed: float = 0.0
    tx_hashes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.issued / self.elapsed if self.elapsed > 0 else 0.0

    def describe(self) -> str:
        if self.dry_run:
            return f"dry run: {self.rows - self.already_done} rows would be issued; nothing was sent"
        if self.issued == 0 and self.raced == 0:
            return f"nothing to issue: all {self.rows} rows were already issued on-chain ({self.elapsed:.1f} s)"
        gas_per_row = self.gas_used // self.issued if self.issued else 0
        return (
            f"issued {self.issued} rows now; {self.already_done} were already done before this run"
            + (f"; {self.raced} were issued meanwhile by another transaction" if self.raced else "")
            + f"; {self.txs} transaction(s), {self.gas_used:,} gas ({gas_per_row:,}/row); "
            f"{self.elapsed:.1f} s, {self.rows_per_second:.0f} rows/s"
        )


class Progress(Protocol):
    def update(self, n: int) -> Any: ...


def execute(
    plan: Plan,
    view: ChainView,
    contracts: Contracts,
    sender: Sender,
    *,
    progress: Progress | None = None,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    started: float | None = None,
) -> IssueSummary:
    """Send the plan's chunks in order. A chunk that fails is re-checked against the chain: rows whose orderRef
    got used meanwhile are dropped and the rest is sent again; a failure with no such row stops the run."""
    summary = IssueSummary(rows=len(plan.rows), already_done=len(plan.done))
    start = time.monotonic() if started is None else started
    for index, orders in enumerate(plan.chunks, 1):
        remaining = list(orders)
        while remaining:
            try:
                sent = sender.send(contracts.credit, encode_issue_many(remaining))
            except SendFailed as exc:
                still = _drop_raced(
                    remaining, exc, index, len(plan.chunks), view, contracts, sender.address, pending_timeout, log
                )
                summary.raced += len(remaining) - len(still)
                if progress is not None:
                    progress.update(len(remaining) - len(still))
                remaining = still
                continue
            summary.txs += 1
            summary.gas_used += sent.gas_used
            summary.issued += len(remaining)
            summary.tx_hashes.append(sent.tx_hash)
            if progress is not None:
                progress.update(len(remaining))
            remaining = []
    summary.elapsed = time.monotonic() - start
    return summary


def _drop_raced(
    remaining: list[Order],
    exc: SendFailed,
    index: int,
    total: int,
    view: ChainView,
    contracts: Contracts,
    address: str,
    pending_timeout: float,
    log: Callable[[str], None],
) -> list[Order]:
    """The orders of a failed chunk whose orderRef is still unused; raises when none got used meanwhile."""
    view.wait_settled(address, pending_timeout, log)
    calls = [Call(contracts.credit, "isOrderReferenceUsed(bytes32)", (o.row.order_ref,), ("bool",)) for o in remaining]
    used = [bool(_ok(result, "isOrderReferenceUsed")) for result in view.call_many(calls)]
    still = [order for order, is_used in zip(remaining, used, strict=True) if not is_used]
    if len(still) == len(remaining):
        lines = f"lines {remaining[0].row.line}..{remaining[-1].row.line}"
        raise IssuanceError(
            f"transaction {index}/{total} ({len(remaining)} orders, {lines}) failed: {exc}. "
            "The transactions before it stand; fix the cause and run again to issue the rest."
        ) from exc
    raced = [o.row.line for o in remaining if o not in still]
    log(
        f"transaction {index}/{total}: {len(raced)} row(s) were issued meanwhile by another transaction "
        f"(lines {', '.join(map(str, raced[:10]))}{', ...' if len(raced) > 10 else ''}); "
        f"sending the other {len(still)}"
    )
    return still


# ---------------------------------------------------------------------------------------------------- entry points


def run_file(
    path: Path | str,
    view: ChainView,
    contracts: Contracts,
    sender: Sender,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dry_run: bool = False,
    progress: bool = False,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    on_plan: Callable[[Plan], None] | None = None,
) -> IssueSummary:
    """Check ``path`` statically and against the chain, then issue what is not done yet (unless ``dry_run``).

    Raises ``IssuanceError`` (nothing sent) for any problem found before sending.
    """
    started = time.monotonic()
    name = str(path)
    rows = read_rows(path)
    plan = prepare(
        name, rows, view, contracts, sender.address, chunk_size=chunk_size, pending_timeout=pending_timeout, log=log
    )
    if on_plan is not None:
        on_plan(plan)
    if dry_run or not plan.chunks:
        summary = IssueSummary(rows=len(rows), already_done=len(plan.done), dry_run=dry_run)
        summary.elapsed = time.monotonic() - started
        return summary
    from tqdm import tqdm

    with tqdm(
        total=len(rows), initial=len(plan.done), unit="row", desc="issuing", disable=not progress, dynamic_ncols=True
    ) as bar:
        return execute(
            plan, view, contracts, sender, progress=bar, pending_timeout=pending_timeout, log=log, started=started
        )


def ape_abi(contract: Any) -> list[dict[str, Any]]:
    """The JSON ABI of an ape contract instance."""
    return [item.model_dump(mode="json", by_alias=True) for item in contract.contract_type.abi]


def issue_from_csv(
    path: Path | str,
    credit: Any,
    registry: Any,
    sender: Any,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dry_run: bool = False,
    progress: bool = False,
    pending_timeout: float = 180.0,
    log: Callable[[str], None] = lambda _: None,
    on_plan: Callable[[Plan], None] | None = None,
) -> IssueSummary:
    """Issue the rows of ``path`` with ape objects: ``credit``/``registry`` contract instances, ``sender`` an ape
    account (or any ``Sender``). Safe to run again on the same file: rows already issued are skipped."""
    provider = credit.provider
    view = ChainView(provider.web3, errors=error_names(ape_abi(credit), ape_abi(registry)))
    contracts = Contracts(credit=str(credit.address), registry=str(registry.address))
    if not isinstance(sender, ApeSender | Web3Sender):
        sender = ApeSender(sender, provider)
    return run_file(
        path,
        view,
        contracts,
        sender,
        chunk_size=chunk_size,
        dry_run=dry_run,
        progress=progress,
        pending_timeout=pending_timeout,
        log=log,
        on_plan=on_plan,
    )
