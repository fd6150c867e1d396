"""A device's period of readings as a report (``mrv report``), checked again by a verifier (``mrv verify``), and
one reading's inclusion proof (``mrv prove``), all from the store; the chain calls come later.

A period [start, end) must start where the device's last accepted report ended (``reported_until``) and its first
sequence must be the device's ``next_sequence`` (both read from the contract by the caller); its readings are the
stored readings inside it, in sequence order. A reading that straddles ``end`` is refused (a period ends at a
reading's end). A gap (a stretch of [start, end) with no reading, or missing sequence numbers) is counted as zero
and refused unless ``allow_gaps``: the verifier sees each gap and decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tonne.mrv import merkle
from tonne.mrv.readings import Reading
from tonne.mrv.store import ReadingStore, StoredReading


class PeriodError(ValueError):
    """A period that cannot become a report; the message names the value at fault."""


@dataclass(frozen=True)
class PeriodGap:
    """No reading for [start, end); ``sequences``: the sequence numbers missing there (first, last), if any."""

    start: int
    end: int
    sequences: tuple[int, int] | None

    def __str__(self) -> str:
        seqs = f", sequence {self.sequences[0]}..{self.sequences[1]} missing" if self.sequences else ""
        return f"no reading for [{self.start}, {self.end}) ({self.end - self.start} s{seqs})"


@dataclass(frozen=True)
class ReportFields:
    """What ``submitReport`` takes (besides the device and the factor)."""

    start: int
    end: int
    first_sequence: int
    last_sequence: int
    total: int
    root: bytes

    def as_dict(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "firstSequence": self.first_sequence,
            "lastSequence": self.last_sequence,
            "total": self.total,
            "root": "0x" + self.root.hex(),
        }


@dataclass(frozen=True)
class Period:
    device: bytes
    readings: tuple[StoredReading, ...]
    gaps: tuple[PeriodGap, ...]
    fields: ReportFields
    tree: merkle.MerkleTree

    @property
    def total(self) -> int:
        return self.fields.total

    @property
    def root(self) -> bytes:
        return self.fields.root

    def proof(self, sequence: int) -> tuple[Reading, bytes, list[bytes]]:
        """(reading, leaf, proof) of the reading with ``sequence``; PeriodError if it is not in the period."""
        for stored in self.readings:
            if stored.sequence == sequence:
                leaf = merkle.leaf_hash(stored.reading)
                return stored.reading, leaf, self.tree.proof(leaf)
        raise PeriodError(f"sequence {sequence} is not among the period's readings")


def gaps_of(readings: Sequence[Reading], start: int, end: int, first_sequence: int) -> list[PeriodGap]:
    """The stretches of [start, end) not covered by ``readings`` (in sequence order), with missing sequences."""
    gaps = []
    at, expected = start, first_sequence
    for r in readings:
        missing = (expected, r.sequence - 1) if r.sequence > expected else None
        if r.start > at or missing:
            gaps.append(PeriodGap(at, r.start, missing))
        at, expected = max(at, r.end), r.sequence + 1
    if at < end:
        gaps.append(PeriodGap(at, end, None))
    return gaps


def build_period(
    store: ReadingStore,
    device: bytes,
    start: int,
    end: int,
    *,
    reported_until: int,
    next_sequence: int,
    allow_gaps: bool = False,
) -> Period:
    """The report of ``device`` for [start, end), from the store."""
    if start != reported_until:
        raise PeriodError(
            f"start {start} is not where the device's last report ended (reportedUntil {reported_until}): reports "
            "are contiguous"
        )
    if end <= start:
        raise PeriodError(f"end {end} is not after start {start}")
    if next_sequence < 1:
        raise PeriodError(f"next_sequence {next_sequence}: sequences start at 1")
    stored = store.readings_of(device, start, end)
    for r in stored:
        if r.start < start:
            raise PeriodError(
                f"reading sequence {r.sequence} [{r.start}, {r.end}) starts before the period's start {start}"
            )
        if r.end > end:
            raise PeriodError(
                f"reading sequence {r.sequence} [{r.start}, {r.end}) runs past the period's end {end}: end the "
                f"period at {r.start} or {r.end}"
            )
        if r.sequence < next_sequence:
            raise PeriodError(
                f"reading sequence {r.sequence} is below the device's next sequence {next_sequence} (already reported)"
            )
    if not stored:
        raise PeriodError(f"no stored readings for the device in [{start}, {end})")
    gaps = gaps_of([r.reading for r in stored], start, end, next_sequence)
    if gaps and not allow_gaps:
        shown = "; ".join(str(g) for g in gaps[:5]) + (f"; and {len(gaps) - 5} more" if len(gaps) > 5 else "")
        raise PeriodError(f"{len(gaps)} gap(s) in the period ({shown}): refused unless gaps are allowed (--allow-gaps)")
    tree = merkle.tree_of([r.reading for r in stored])
    fields = ReportFields(start, end, next_sequence, stored[-1].sequence, sum(r.value for r in stored), tree.root)
    return Period(device, tuple(stored), tuple(gaps), fields, tree)


@dataclass(frozen=True)
class Verification:
    ok: bool
    reasons: tuple[str, ...]
    gaps: tuple[PeriodGap, ...]
    total: int
    root: bytes


def verify_report(readings: Sequence[Reading], report: ReportFields) -> Verification:
    """Re-derive the total and the root from ``readings`` and compare them with ``report``; every mismatch is a
    reason (the gaps are listed for the verifier, not reasons: the verifier decides)."""
    reasons = []
    ordered = sorted(readings, key=lambda r: r.sequence)
    if not ordered:
        return Verification(False, ("no readings to verify the report against",), (), 0, b"")
    total = sum(r.value for r in ordered)
    root = merkle.tree_of(ordered).root
    if total != report.total:
        reasons.append(f"total: the readings sum to {total}, the report says {report.total}")
    if root != report.root:
        reasons.append(f"root: the readings' root is 0x{root.hex()}, the report's 0x{report.root.hex()}")
    if ordered[0].sequence < report.first_sequence:
        reasons.append(f"firstSequence: reading sequence {ordered[0].sequence} is below {report.first_sequence}")
    if ordered[-1].sequence != report.last_sequence:
        reasons.append(f"lastSequence: the last reading is sequence {ordered[-1].sequence}, the report says "
                       f"{report.last_sequence}")  # fmt: skip
    seen = set()
    for r in ordered:
        if r.sequence in seen:
            reasons.append(f"sequence {r.sequence} appears twice among the readings")
        seen.add(r.sequence)
        if r.start < report.start or r.end > report.end:
            reasons.append(f"reading sequence {r.sequence} [{r.start}, {r.end}) is outside the report's "
                           f"[{report.start}, {report.end})")  # fmt: skip
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.start < a.end:
            reasons.append(f"readings {a.sequence} and {b.sequence} overlap ([{a.start}, {a.end}) and [{b.start}, "
                           f"{b.end}))")  # fmt: skip
    gaps = gaps_of(ordered, report.start, report.end, report.first_sequence)
    return Verification(not reasons, tuple(reasons), tuple(gaps), total, root)
