"""Registry operations shared by the admin commands, the demo and the tests.

The one piece of real logic here is the position hint of ``addBatch``: the contract checks a new serial range
only against its two neighbours in the project's sorted list, so the caller names the predecessor. We compute
it from the project's ``BatchAdded`` logs (one query, whatever the number of batches) rather than walking the
list with one call per batch.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from enum import IntEnum
from pathlib import Path
from typing import Any

from tonne.core.ids import batch_number_of, encode_id


class ProjectStatus(IntEnum):
    """Mirror of ICarbonRegistry.ProjectStatus."""

    NONE = 0
    PENDING = 1
    APPROVED = 2
    SUSPENDED = 3
    TERMINATED = 4


class InputError(ValueError):
    """A command-line or file value that cannot be used; the message names it."""


_PROJECT_REF = re.compile(r"^(?P<standard>[^:]+):(?P<external>.+)$")


def resolve_project(registry: Any, ref: str) -> int:
    """A project id from ``"42"`` or ``"STANDARD:EXTERNAL_ID"`` (split on the first colon)."""
    ref = ref.strip()
    if ref.isdigit():
        project_id = int(ref)
        if registry.projectStatus(project_id) == ProjectStatus.NONE:
            raise InputError(f"project {project_id} does not exist")
        return project_id
    match = _PROJECT_REF.match(ref)
    if not match:
        raise InputError(f"project {ref!r}: expected a numeric id or STANDARD:EXTERNAL_ID")
    project_id = registry.projectIdOf(match["standard"], match["external"])
    if project_id == 0:
        raise InputError(f"project {ref!r} is not registered")
    return int(project_id)


def resolve_batch(registry: Any, project_id: int, ref: str) -> int:
    """A token id from a batch number within ``project_id`` or from the batch's issuance reference."""
    ref = ref.strip()
    if ref.isdigit():
        token_id = encode_id(project_id, int(ref))
        if int(ref) == 0 or int(ref) > registry.project(project_id).batchCount:
            raise InputError(f"batch {ref} of project {project_id} does not exist")
        return token_id
    token_id = int(registry.batchOfIssuanceReference(ref))
    if token_id == 0:
        raise InputError(f"no batch has issuance reference {ref!r}")
    if token_id >> 64 != project_id:
        raise InputError(f"batch {ref!r} belongs to project {token_id >> 64}, not {project_id}")
    return token_id


def parse_serials(text: str) -> tuple[int, int]:
    """``"1001-2000"`` -> ``(1001, 2000)``."""
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    if not match:
        raise InputError(f"serial range {text!r}: expected FIRST-LAST, e.g. 1001-2000")
    first, last = int(match[1]), int(match[2])
    if first > last:
        raise InputError(f"serial range {text!r}: first serial is after the last")
    if last >= 1 << 64:
        raise InputError(f"serial range {text!r}: serials must be below 2^64")
    return first, last


def parse_period(text: str) -> tuple[int, int]:
    """``"2021-01-01:2021-12-31"`` -> unix seconds from the start of the first day to the end of the last."""
    parts = text.split(":")
    if len(parts) != 2:
        raise InputError(f"period {text!r}: expected START:END dates, e.g. 2021-01-01:2021-12-31")
    try:
        start, end = (date.fromisoformat(p.strip()) for p in parts)
    except ValueError as exc:
        raise InputError(f"period {text!r}: {exc}") from exc
    if end < start:
        raise InputError(f"period {text!r}: ends before it starts")
    if start.year < 1970:
        raise InputError(f"period {text!r}: starts before 1970-01-01, the earliest time the contracts record")
    start_ts = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp())
    end_ts = int(datetime(end.year, end.month, end.day, 23, 59, 59, tzinfo=timezone.utc).timestamp())
    return start_ts, end_ts


def document_hash(path: Path) -> bytes:
    """SHA-256 of a document file, the content hash stored next to its URI."""
    if not path.is_file():
        raise InputError(f"document {path} does not exist")
    return hashlib.sha256(path.read_bytes()).digest()


@dataclass(frozen=True)
class SerialRange:
    batch_number: int
    first: int
    last: int


def project_ranges(registry: Any, project_id: int, start_block: int = 0) -> list[SerialRange]:
    """Every batch range of ``project_id``, sorted by first serial, from the registry's logs."""
    from ape import chain

    stop = chain.blocks.height + 1
    logs = registry.BatchAdded.range(start_block, stop, search_topics={"projectId": project_id})
    ranges = [SerialRange(batch_number_of(int(log.id)), int(log.serialFirst), int(log.serialLast)) for log in logs]
    return sorted(ranges, key=lambda r: r.first)


def prev_batch_hint(ranges: list[SerialRange], first: int, last: int) -> int:
    """The batch number right before ``[first, last]`` in ``ranges`` (0: it comes first).

    Raises ``InputError`` naming the conflicting batch when the range overlaps one already there, so the
    user hears of it before any transaction is sent.
    """
    firsts = [r.first for r in ranges]
    pos = bisect.bisect_right(firsts, first)
    prev = ranges[pos - 1] if pos else None
    nxt = ranges[pos] if pos < len(ranges) else None
    for neighbour in (prev, nxt):
        if neighbour and neighbour.first <= last and first <= neighbour.last:
            raise InputError(
                f"serials {first}-{last} overlap batch {neighbour.batch_number} "
                f"({neighbour.first}-{neighbour.last}) of this project"
            )
    return prev.batch_number if prev else 0


def add_batch(
    registry: Any,
    project_id: int,
    serials: tuple[int, int],
    period: tuple[int, int],
    issuance_reference: str,
    metadata_uri: str,
    *,
    sender: Any,
    start_block: int = 0,
) -> tuple[Any, int]:
    """Append a batch at its place in the project's serial order; returns (receipt, hint used).

    The hint comes from the project's logs, so an overlap is reported (``InputError``) before anything is sent.
    """
    first, last = serials
    hint = prev_batch_hint(project_ranges(registry, project_id, start_block), first, last)
    batch = dict(
        serialFirst=first,
        serialLast=last,
        periodStart=period[0],
        periodEnd=period[1],
        issuanceReference=issuance_reference,
        metadataURI=metadata_uri,
    )
    return registry.addBatch(project_id, batch, hint, sender=sender), hint
