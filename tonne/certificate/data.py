"""A retirement certificate's data, read from the chain alone: the retirement contract's ``RetirementRecorded`` event
and ``certificate`` view, the registry's project and batch views, the block. Nothing comes from a local file.

Serials: the credit token does not assign serial numbers per unit (credits of one batch are fungible), so a
certificate states the batch's serial range and the share of the batch this retirement accounts for, never
particular serials; no deterministic allocation is claimed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address

from tonne.chain.errors import ToolError
from tonne.chain.view import Call, ChainView, Reverted, hex_bytes
from tonne.core.ids import describe, project_of
from tonne.core.units import UNITS_PER_TONNE, format_tonnes
from tonne.retirement.send import RETIREMENT_RECORDED_TOPIC

PURPOSES = ("Voluntary", "Compliance")
_EVENT_DATA = ["uint256[]", "uint256[]", "string", "string", "string", "uint40", "uint40", "uint8", "bytes32"]
_CERTIFICATE_VIEW = "(address,address,uint256,uint256,uint16,uint8,uint40,uint40,uint40,bytes2)"
_PROJECT_VIEW = "(string,string,string,string,string,bytes2,string,address,string,bytes32,uint8,uint32,uint32)"
_BATCH_VIEW = "(uint64,uint64,uint64,uint40,uint40,bool,address,uint64,string,string)"
LOG_CHUNK = 50_000  # blocks per eth_getLogs query when looking a certificate up by id


# Characters XML 1.0 cannot carry (C0 controls included: tab and newline are folded into spaces first), and the
# bidirectional controls that can make a text read differently from what it is.
_NOT_XML = re.compile("[^\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_SPACES = re.compile(r"\s+")


def clean(text: str) -> str:
    """``text`` fit to show: XML-illegal characters (terminal escapes among them) and bidirectional controls
    dropped, runs of white space folded into one space. Escaping for markup comes on top (``render.esc``)."""
    text = _SPACES.sub(" ", str(text))
    return _BIDI.sub("", _NOT_XML.sub("", text)).strip()


class CertificateError(ToolError):
    """The certificate cannot be read: unknown id, no retirement in the transaction, inconsistent chain data."""


@dataclass(frozen=True)
class ProjectFacts:
    project_id: int
    standard: str
    external_id: str
    name: str
    methodology: str
    project_type: str
    country: str
    region: str


@dataclass(frozen=True)
class CreditLine:
    """One batch of a retirement: the amount retired and what the registry says of the batch and its project."""

    token_id: int
    units: int
    project: ProjectFacts
    serial_first: int
    serial_last: int
    vintage_start: int
    vintage_end: int
    issuance_reference: str

    @property
    def batch_label(self) -> str:
        return describe(self.token_id)

    @property
    def batch_units(self) -> int:
        return (self.serial_last - self.serial_first + 1) * UNITS_PER_TONNE

    @property
    def share(self) -> Decimal:
        """The retired amount as a fraction of the batch's whole quantity."""
        return Decimal(self.units) / Decimal(self.batch_units)

    def share_text(self) -> str:
        """The share in percent: two decimals from 1 % up, three significant digits below, "< 0.001 %" under that."""
        percent = self.share * 100
        if percent < Decimal("0.001"):
            return f"< 0.001 % of {format_tonnes(self.batch_units)}"
        shown = f"{percent:.2f}" if percent >= 1 else format(Decimal(f"{percent:.3g}"), "f")
        return f"{shown} % of {format_tonnes(self.batch_units)}"


@dataclass(frozen=True)
class CertificateData:
    """Everything a certificate document shows, all of it from the chain."""

    certificate_id: int
    chain_id: int
    retirement_contract: str
    registry_contract: str
    credit_contract: str
    tx_hash: str
    block_number: int
    timestamp: int
    beneficiary: str
    retiring_account: str
    beneficiary_name: str
    reason: str
    jurisdiction: str
    period_start: int
    period_end: int
    purpose: str
    retirement_ref: str  # 0x-hex; all zeros when none was given
    lines: tuple[CreditLine, ...]

    @property
    def total_units(self) -> int:
        return sum(line.units for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["total_units"] = self.total_units
        data["total_tonnes"] = format_tonnes(self.total_units).removesuffix(" t")
        for line, raw in zip(self.lines, data["lines"], strict=True):
            raw["token_id"] = str(line.token_id)  # beyond JSON's safe integers
            raw["share_of_batch"] = str(line.share)
        return data

    def describe(self) -> str:
        """Plain-text summary, for terminals."""
        out = [
            f"Certificate #{self.certificate_id}: {format_tonnes(self.total_units)} CO2e retired "
            f"({self.purpose.lower()}), {utc(self.timestamp)}",
            f"  beneficiary   {clean(self.beneficiary_name)} ({self.beneficiary})",
            f"  reason        {clean(self.reason)}",
            f"  jurisdiction  {clean(self.jurisdiction)}",
            f"  period        {day(self.period_start)} to {day(self.period_end)} (consumption)",
            f"  retired by    {self.retiring_account}",
        ]
        for line in self.lines:
            p = line.project
            project = clean(f"{p.name} ({p.standard} {p.external_id}, {p.country}, {p.methodology})")
            out.append(
                f"  {line.batch_label:>10}  {format_tonnes(line.units)} of {project}, vintage {day(line.vintage_start)}"
                f" to {day(line.vintage_end)}, serials {line.serial_first:,}-{line.serial_last:,}: {line.share_text()}"
            )
        out.append(
            f"  on-chain      chain {self.chain_id}, contract {self.retirement_contract}, "
            f"transaction {self.tx_hash}, block {self.block_number}"
        )
        return "\n".join(out)


def utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")


# ---------------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Addresses:
    retirement: str
    registry: str
    credit: str


def _topic_id(certificate_id: int) -> str:
    return f"0x{certificate_id:064x}"


def _logs(view: ChainView, params: dict[str, Any]) -> list[dict[str, Any]]:
    (response,) = view.rpc_many([("eth_getLogs", [params])])
    if "error" in response:
        raise CertificateError(f"the node refused eth_getLogs: {response['error']}")
    return list(response["result"])


def find_by_id(view: ChainView, addresses: Addresses, certificate_id: int, start_block: int) -> dict[str, Any]:
    """The ``RetirementRecorded`` log of ``certificate_id`` (queried in chunks of ``LOG_CHUNK`` blocks)."""
    count = view.call(Call(addresses.retirement, "certificateCount()", (), ("uint256",)))
    if isinstance(count, Reverted):
        raise CertificateError(f"{addresses.retirement} is not a Tonne retirement contract ({count.error})")
    if not 0 < certificate_id <= count:
        raise CertificateError(f"no certificate #{certificate_id}: this deployment has {count} (ids run from 1)")
    latest = int(view.w3.eth.block_number)
    for start in range(start_block, latest + 1, LOG_CHUNK):
        logs = _logs(
            view,
            {
                "address": addresses.retirement,
                "fromBlock": hex(start),
                "toBlock": hex(min(start + LOG_CHUNK - 1, latest)),
                "topics": [RETIREMENT_RECORDED_TOPIC, _topic_id(certificate_id)],
            },
        )
        if logs:
            return logs[0]
    raise CertificateError(f"certificate #{certificate_id} exists, but no RetirementRecorded log of it was found")


def find_by_tx(view: ChainView, addresses: Addresses, tx_hash: str) -> list[dict[str, Any]]:
    """Every ``RetirementRecorded`` log of this deployment's retirement contract in transaction ``tx_hash``."""
    (response,) = view.rpc_many([("eth_getTransactionReceipt", [tx_hash])])
    receipt = response.get("result")
    if not receipt:
        raise CertificateError(f"transaction {tx_hash} is not on this chain (or not mined yet)")
    logs = [
        log
        for log in receipt.get("logs") or ()
        if str(log.get("address", "")).lower() == addresses.retirement.lower()
        and log.get("topics")
        and str(log["topics"][0]).lower() == RETIREMENT_RECORDED_TOPIC
    ]
    if not logs:
        raise CertificateError(f"transaction {tx_hash} recorded no retirement on {addresses.retirement}")
    return logs


def read_certificate(view: ChainView, addresses: Addresses, log: dict[str, Any]) -> CertificateData:
    """The full certificate data of one ``RetirementRecorded`` log, cross-checked with the ``certificate`` view."""
    topics = log["topics"]
    certificate_id = int(topics[1], 16)
    beneficiary = to_checksum_address("0x" + str(topics[2])[-40:])
    retiring_account = to_checksum_address("0x" + str(topics[3])[-40:])
    ids, amounts, name, reason, jurisdiction, period_start, period_end, purpose, ref = abi_decode(
        _EVENT_DATA, hex_bytes(log["data"])
    )
    project_ids = sorted({project_of(i) for i in ids})
    token_ids = sorted(set(ids))
    results = view.call_many(
        [
            Call(addresses.retirement, "certificate(uint256)", (certificate_id,), (_CERTIFICATE_VIEW,)),
            *(Call(addresses.registry, "project(uint64)", (p,), (_PROJECT_VIEW,)) for p in project_ids),
            *(Call(addresses.registry, "batch(uint256)", (t,), (_BATCH_VIEW,)) for t in token_ids),
        ]
    )
    stored, projects, batches = results[0], results[1 : 1 + len(project_ids)], results[1 + len(project_ids) :]
    for what, result in (
        ("certificate", stored),
        *(("project", p) for p in projects),
        *(("batch", b) for b in batches),
    ):
        if isinstance(result, Reverted):
            raise CertificateError(f"certificate #{certificate_id}: the {what} view reverted ({result.error})")
    facts = {p: _project_facts(p, v) for p, v in zip(project_ids, projects, strict=True)}
    batch_of = dict(zip(token_ids, batches, strict=True))
    if stored[3] != sum(amounts) or stored[4] != len(ids) or to_checksum_address(stored[0]) != beneficiary:
        raise CertificateError(
            f"certificate #{certificate_id}: the stored certificate ({stored[3]} units, {stored[4]} ids) does not "
            f"match its RetirementRecorded event ({sum(amounts)} units, {len(ids)} ids)"
        )
    lines = tuple(
        CreditLine(
            token_id=token_id,
            units=units,
            project=facts[project_of(token_id)],
            serial_first=batch_of[token_id][1],
            serial_last=batch_of[token_id][2],
            vintage_start=batch_of[token_id][3],
            vintage_end=batch_of[token_id][4],
            issuance_reference=batch_of[token_id][8],
        )
        for token_id, units in zip(ids, amounts, strict=True)
    )
    return CertificateData(
        certificate_id=certificate_id,
        chain_id=int(view.w3.eth.chain_id),
        retirement_contract=to_checksum_address(addresses.retirement),
        registry_contract=to_checksum_address(addresses.registry),
        credit_contract=to_checksum_address(addresses.credit),
        tx_hash=str(log["transactionHash"]),
        block_number=int(log["blockNumber"], 16) if isinstance(log["blockNumber"], str) else int(log["blockNumber"]),
        timestamp=int(stored[6]),
        beneficiary=beneficiary,
        retiring_account=retiring_account,
        beneficiary_name=name,
        reason=reason,
        jurisdiction=jurisdiction,
        period_start=period_start,
        period_end=period_end,
        purpose=PURPOSES[purpose] if purpose < len(PURPOSES) else str(purpose),
        retirement_ref="0x" + bytes(ref).hex(),
        lines=lines,
    )


def _project_facts(project_id: int, view: tuple) -> ProjectFacts:
    return ProjectFacts(
        project_id=project_id,
        standard=view[0],
        external_id=view[1],
        name=view[2],
        methodology=view[3],
        project_type=view[4],
        country=bytes(view[5]).decode("ascii", "replace"),
        region=view[6],
    )


def load(
    view: ChainView,
    addresses: Addresses,
    *,
    certificate_id: int | None = None,
    tx_hash: str | None = None,
    start_block: int = 0,
) -> list[CertificateData]:
    """The certificate ``certificate_id``, or every certificate recorded in transaction ``tx_hash``."""
    if (certificate_id is None) == (tx_hash is None):
        raise CertificateError("give a certificate id or a transaction hash (one of them)")
    if certificate_id is not None:
        logs = [find_by_id(view, addresses, certificate_id, start_block)]
    else:
        logs = find_by_tx(view, addresses, str(tx_hash))
    return [read_certificate(view, addresses, log) for log in logs]
