"""The chain side of the MRV commands (``scripts/mrv.py``): the CarbonMRV of the deployment record, and each step of
a device's life as a step that is safe to run again.

- ``register_devices`` / ``approve_devices``: devices from a devices file (``mrv simulate`` writes one), skipping
  those already on the chain as the file says (a device registered with another key or project is refused).
- ``publish_factor``: a factor's next version, unless the latest version already says the same.
- ``submit_report``: a device's next period, from the reading store (``tonne.mrv.aggregate``); when the device's
  open report is that very period (a run that crashed after sending), nothing is sent again.
- ``verify_report``: the verifier re-derives the total and root from the store, re-checks every signature, and
  approves (the registry batch's hint from the project's logs) or rejects with the reasons; a decided report is
  reported as it stands.
- ``prove_reading``: one reading's inclusion proof, checked against the root on the chain (``readingIncluded``).
Every function checks what it can before sending and dry-runs the transaction: a refusal sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tonne.chain.errors import ToolError
from tonne.mrv import aggregate
from tonne.mrv.ingest import load_devices
from tonne.mrv.readings import Domain, SignatureError, recover
from tonne.mrv.readings import device_id as device_id_of
from tonne.mrv.store import ReadingStore

MRV = "CarbonMRV"
DEVICE_STATUS = ("none", "registered", "approved", "suspended", "decommissioned")
REPORT_STATUS = ("none", "submitted", "approved", "rejected")
TONNE_MG = 10**9


class MrvError(ToolError):
    """An MRV command cannot go on; the message names the value at fault. Nothing was sent."""


@dataclass
class Mrv:
    """The recorded CarbonMRV of the connected chain, with the registry it issues into."""

    record: dict[str, Any]
    chain_id: int
    contract: Any
    registry: Any

    @property
    def domain(self) -> Domain:
        return Domain(self.chain_id, str(self.contract.address))

    @property
    def start_block(self) -> int:
        return int(self.record["contracts"][MRV]["blockNumber"])


def connect_mrv(provider: Any) -> Mrv:
    """The MRV module of the chain behind ``provider`` (deployed with `ape run deploy --mrv`)."""
    from tonne.core.deployments import DeploymentError, connect, load_contracts

    deployed = connect(provider)
    record = deployed.record
    if MRV not in record["contracts"]:
        raise DeploymentError(
            f"the deployment record of chain {provider.chain_id} has no {MRV}; deploy with `ape run deploy --mrv`"
        )
    return Mrv(record, int(provider.chain_id), load_contracts(record)[MRV], deployed.registry)


@dataclass(frozen=True)
class Device:
    """A device as the chain has it (``CarbonMRV.device``), with its status named."""

    device_id: bytes
    key: str
    project_id: int
    status: str
    capacity_w: int
    reported_until: int
    next_sequence: int
    carry_mg: int
    open_report: int

    @classmethod
    def read(cls, m: Mrv, device_id: bytes) -> Device:
        """The device, or one of status "none" when ``device_id`` was never registered (the view reverts then)."""
        from ape.exceptions import ContractLogicError

        try:
            v = m.contract.device(device_id)
        except ContractLogicError:  # the view's only refusal: MrvUnknownDevice
            return cls(device_id, "0x" + "00" * 20, 0, "none", 0, 0, 0, 0, 0)
        return cls(device_id, str(v.key), int(v.projectId), DEVICE_STATUS[int(v.status)], int(v.capacityWatts),
                   int(v.reportedUntil), int(v.nextSequence), int(v.carryMilligrams), int(v.openReport))  # fmt: skip


def device_of(m: Mrv, meter_id: str) -> Device:
    """The registered device of ``meter_id`` (compared in Unicode NFC, as the tools hash it); MrvError if none."""
    device = Device.read(m, device_id_of(meter_id))
    if device.status == "none":
        raise MrvError(f"METER_ID {meter_id!r}: no device of that meter id is registered on {m.contract.address}")
    return device


def _send(function: Any, *args: Any, sender: Any) -> Any:
    """Dry-run (a gas estimate: its revert data decodes into the custom error, an eth_call's through ape does not),
    then send: a refusal raises before anything is sent."""
    function.estimate_gas_cost(*args, sender=sender)
    return function(*args, sender=sender)


# ---------------------------------------------------------------------------------------------------- devices


@dataclass(frozen=True)
class DeviceDone:
    meter_id: str
    device_id: bytes
    done: str  # "registered", "approved", "already registered", "already approved"
    receipt: Any = None


def register_devices(m: Mrv, account: Any, path: str, active_from: int, project_id: int | None = None) -> list:
    """Register every device of the devices file at ``path`` (as generation meters, from ``active_from``) for its
    project, or for ``project_id`` when given; one already registered with the same key and project is skipped."""
    devices, _ = load_devices(path)
    entries = _raw_entries(path)
    problems = []
    plan = []
    for dev, info in devices.items():
        project = project_id or info.project_id
        signature = _key_signature(m, entries.get(dev, {}), dev, info.key_address, project)
        on_chain = Device.read(m, dev)
        if on_chain.status != "none":
            if on_chain.key.lower() != info.key_address.lower() or on_chain.project_id != project:
                problems.append(f"{info.meter_id}: registered already with key {on_chain.key} for project "
                                f"{on_chain.project_id}, not key {info.key_address} for project {project}")  # fmt: skip
            plan.append((info, dev, project, None))
            continue
        owner = m.contract.deviceOfKey(info.key_address)
        if int.from_bytes(bytes(owner), "big"):
            problems.append(f"{info.meter_id}: key {info.key_address} is the key of device 0x{bytes(owner).hex()}")
        if isinstance(signature, str):
            problems.append(f"{info.meter_id}: {signature}")
        plan.append((info, dev, project, signature))
    if problems:
        raise MrvError(f"{path}: {len(problems)} device(s) cannot be registered ({'; '.join(problems)}); nothing "
                       "was sent")  # fmt: skip
    done = []
    for info, dev, project, signature in plan:
        if signature is None:
            done.append(DeviceDone(info.meter_id, dev, "already registered"))
            continue
        receipt = _send(m.contract.registerDevice, info.meter_id, info.key_address, project, 0, info.capacity_w,
                        active_from, signature, sender=account)  # fmt: skip
        done.append(DeviceDone(info.meter_id, dev, "registered", receipt))
    return done


def _raw_entries(path: str) -> dict[bytes, dict]:
    """The devices file's entries by device id, with the fields ``load_devices`` leaves out (the key's binding
    signature, a demo key)."""
    import json
    from pathlib import Path

    out = {}
    for entry in json.loads(Path(path).read_text(encoding="utf-8-sig"))["devices"]:
        out[device_id_of(entry["meterId"])] = entry
    return out


def _key_signature(m: Mrv, entry: dict, device: bytes, key: str, project_id: int) -> bytes | str:
    """The key's EIP-712 ``DeviceBinding(device, projectId)`` signature, which registerDevice requires (proof that
    the registrant's meter holds the key, MRV-AUDIT-1): the file's ``keySignature`` when it recovers to the key, or
    one made with a local demo's ``privateKeyDemoOnly``; else what is missing, as text."""
    from tonne.mrv.readings import private_key, sign_digest

    digest = m.domain.binding_digest(device, project_id)
    given = entry.get("keySignature")
    if isinstance(given, str) and given.startswith("0x"):
        try:
            signature = bytes.fromhex(given[2:])
            if recover(digest, signature).lower() == key.lower():
                return signature
        except (ValueError, SignatureError):
            pass
    demo = entry.get("privateKeyDemoOnly")
    if isinstance(demo, str):
        return sign_digest(digest, private_key(demo))
    return (f"no keySignature by its key {key} binding it to project {project_id} (EIP-712 DeviceBinding(bytes32 "
            f"device,uint64 projectId) of {m.contract.address}): the meter signs it at commissioning")  # fmt: skip


def approve_devices(m: Mrv, account: Any, meter_ids: list[str]) -> list[DeviceDone]:
    """Approve each Registered device of ``meter_ids`` (a verifier); Approved ones are skipped."""
    found = [(meter, device_of(m, meter)) for meter in meter_ids]
    bad = [f"{meter} is {d.status}" for meter, d in found if d.status not in ("registered", "approved")]
    if bad:
        raise MrvError("only registered devices can be approved: " + "; ".join(bad) + "; nothing was sent")
    done = []
    for meter, d in found:
        if d.status == "approved":
            done.append(DeviceDone(meter, d.device_id, "already approved"))
        else:
            done.append(DeviceDone(meter, d.device_id, "approved", _send(m.contract.approveDevice, d.device_id,
                                                                         sender=account)))  # fmt: skip
    return done


def devices_file(m: Mrv) -> dict[str, Any]:
    """The chain's devices as a devices file (``mrv ingest --devices``): every registered device, its key,
    project, capacity and status as the chain has them now, and the EIP-712 domain; no private keys."""
    from ape import chain

    logs = m.contract.DeviceRegistered.range(m.start_block, chain.blocks.height + 1)
    devices = []
    for log in logs:
        d = Device.read(m, bytes(log.deviceId))
        devices.append({"meterId": str(log.meterId), "device": "0x" + d.device_id.hex(), "keyAddress": d.key,
                        "projectId": d.project_id, "capacityW": d.capacity_w, "status": d.status})  # fmt: skip
    return {"chainId": m.chain_id, "verifyingContract": str(m.contract.address), "devices": devices}


# ---------------------------------------------------------------------------------------------------- factors


@dataclass(frozen=True)
class Factor:
    factor_id: int
    version: int
    new: bool
    receipt: Any = None


def factor_code(code: str) -> bytes:
    """A factor code as the contract keys it: ASCII letters, digits, '-', '_' or '.', at most 32, right-padded."""
    if not code or len(code) > 32 or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in code):
        raise MrvError(f"--code {code!r}: 1 to 32 ASCII letters, digits, '-', '_' or '.', e.g. GRID-FR-2026")
    return code.encode("ascii").ljust(32, b"\0")


def publish_factor(m: Mrv, account: Any, code: str, country: str, valid: tuple[int, int], mg_per_unit: int) -> Factor:
    """Publish the next version of factor ``code``, unless its latest version already has these values."""
    key = factor_code(code)
    latest = int(m.contract.latestFactorVersion(key))
    if latest:
        factor_id = int(m.contract.factorIdOf(key, latest))
        f = m.contract.factor(factor_id)
        same = (bytes(f.country).decode("ascii", "replace"), int(f.validFrom), int(f.validUntil),
                int(f.milligramsPerUnit)) == (country, valid[0], valid[1], mg_per_unit)  # fmt: skip
        if same:
            return Factor(factor_id, latest, False)
    receipt = _send(m.contract.publishFactor, key, country.encode("ascii"), valid[0], valid[1], mg_per_unit,
                    sender=account)  # fmt: skip
    factor_id, version = receipt.return_value
    return Factor(int(factor_id), int(version), True, receipt)


def factor_id_of(m: Mrv, text: str) -> int:
    """``--factor``: a factor id (digits), or CODE (its latest version) or CODE@VERSION."""
    if text.isascii() and text.isdigit():
        factor_id = int(text)
        if not 1 <= factor_id <= int(m.contract.factorCount()):
            raise MrvError(f"--factor {text}: no factor {factor_id} (factors 1..{int(m.contract.factorCount())})")
        return factor_id
    code, _, version_text = text.partition("@")
    key = factor_code(code)
    if version_text and not (version_text.isascii() and version_text.isdigit()):
        raise MrvError(f"--factor {text!r}: the version after '@' is a whole number, e.g. {code}@2")
    version = int(version_text) if version_text else int(m.contract.latestFactorVersion(key))
    factor_id = int(m.contract.factorIdOf(key, version)) if version else 0
    if not factor_id:
        raise MrvError(f"--factor {text!r}: no such factor is published on {m.contract.address}")
    return factor_id


# ---------------------------------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class Submitted:
    report_id: int
    period: aggregate.Period
    new: bool
    receipt: Any = None


def _report(m: Mrv, report_id: int) -> Any:
    """``CarbonMRV.report(report_id)``; MrvError naming the ids there are when it was never submitted."""
    count = int(m.contract.reportCount())
    if not 1 <= report_id <= count:
        raise MrvError(f"REPORT_ID {report_id}: no such report (reports 1..{count})")
    return m.contract.report(report_id)


def _period_of(store: ReadingStore, device: bytes, fields: aggregate.ReportFields) -> aggregate.Period:
    """The stored readings of a report already on the chain, as a period (gaps allowed: the report has them)."""
    return aggregate.build_period(store, device, fields.start, fields.end, reported_until=fields.start,
                                  next_sequence=fields.first_sequence, allow_gaps=True)  # fmt: skip


def _fields_of(report: Any) -> aggregate.ReportFields:
    return aggregate.ReportFields(int(report.start), int(report.end), int(report.firstSequence),
                                  int(report.lastSequence), int(report.total), bytes(report.readingsRoot))  # fmt: skip


def submit_report(
    m: Mrv,
    account: Any,
    store: ReadingStore,
    meter_id: str,
    factor_id: int,
    until: int | None = None,
    allow_gaps: bool = False,
) -> Submitted:
    """Submit device ``meter_id``'s next report: from where its last accepted report ended to ``until`` (default:
    the end of its last stored reading), built from ``store``. If the device's open report is exactly this period
    (the same fields and root), it is returned and nothing is sent."""
    d = device_of(m, meter_id)
    if d.status != "approved":
        raise MrvError(f"METER_ID {meter_id!r}: the device is {d.status}, not approved; nothing was sent")
    if until is None:
        last = store.readings_of(d.device_id, d.reported_until, None)
        if not last:
            raise MrvError(f"METER_ID {meter_id!r}: no stored reading after {d.reported_until} (the device's "
                           "reportedUntil); ingest its readings first")  # fmt: skip
        until = last[-1].end
    if d.open_report:
        open_report = m.contract.report(d.open_report)
        fields = _fields_of(open_report)
        try:
            period = _period_of(store, d.device_id, fields)
        except aggregate.PeriodError:
            period = None
        if period is not None and period.fields == fields and fields.end == until:
            return Submitted(d.open_report, period, False)
        raise MrvError(f"METER_ID {meter_id!r}: report #{d.open_report} of the device is open ([{fields.start}, "
                       f"{fields.end})); a verifier approves or rejects it first; nothing was sent")  # fmt: skip
    try:
        period = aggregate.build_period(store, d.device_id, d.reported_until, until, reported_until=d.reported_until,
                                        next_sequence=d.next_sequence, allow_gaps=allow_gaps)  # fmt: skip
    except aggregate.PeriodError as exc:
        raise MrvError(f"METER_ID {meter_id!r}: {exc}; nothing was sent") from exc
    f = period.fields
    receipt = _send(m.contract.submitReport, d.device_id, f.start, f.end, f.first_sequence, f.last_sequence, f.total,
                    factor_id, f.root, sender=account)  # fmt: skip
    return Submitted(int(receipt.return_value), period, True, receipt)


@dataclass(frozen=True)
class Verified:
    report_id: int
    status: str  # what the report is now: "approved" or "rejected"
    new: bool  # decided by this run
    verification: aggregate.Verification | None
    reasons: tuple[str, ...]
    batch_id: int = 0
    tonnes: int = 0
    carry_mg: int = 0
    receipt: Any = None


def _signature_reasons(m: Mrv, device: Device, readings: list) -> list[str]:
    """Every stored reading's signature checked again against the device's key as the chain has it now."""
    reasons = []
    for r in readings:
        try:
            signer = recover(m.domain.digest(r.reading), r.signature)
        except SignatureError as exc:
            reasons.append(f"reading sequence {r.sequence}: {exc}")
            continue
        if signer.lower() != device.key.lower():
            reasons.append(f"reading sequence {r.sequence} is signed by {signer}, not the device key {device.key}")
    return reasons


def factor_text(m: Mrv, factor_id: int) -> str:
    """``GRID-CN-2026 v1 (#1): 581 g CO2e/kWh`` for factor ``factor_id``."""
    f = m.contract.factor(factor_id)
    code = bytes(f.code).rstrip(b"\0").decode("ascii", "replace")
    return f"{code} v{int(f.version)} (#{factor_id}): {int(f.milligramsPerUnit)} g CO2e/kWh"


def _factor_reasons(m: Mrv, factor_id: int) -> list[str]:
    """A report computed with a superseded version of its factor's code is refused (MRV-AUDIT-3): the verifier
    approves only the latest published value."""
    f = m.contract.factor(factor_id)
    latest = int(m.contract.latestFactorVersion(f.code))
    if int(f.version) != latest:
        return [f"factor: {factor_text(m, factor_id)} is superseded by version {latest} of its code"]
    return []


def last_batch_hint(m: Mrv, project_id: int) -> int:
    """The batch number of project ``project_id``'s batch with the highest serials (0: none), from its logs: the
    registry batch of an approved report comes right after it."""
    from tonne.registry.ops import project_ranges

    ranges = project_ranges(m.registry, project_id, int(m.record["contracts"]["CarbonRegistry"]["blockNumber"]))
    return max(ranges, key=lambda r: r.last).batch_number if ranges else 0


def verify_report(
    m: Mrv,
    account: Any,
    store: ReadingStore,
    report_id: int,
    *,
    accept_gaps: bool = False,
    reject_reason: str | None = None,
) -> Verified:
    """Verify report ``report_id`` against the readings in ``store`` and decide: approve when the total, root,
    sequences and signatures all match (and, with gaps, only with ``accept_gaps``); reject, naming the reasons,
    when something does not match, or with ``reject_reason``. A report decided already is returned as it is."""
    r = _report(m, report_id)
    status = REPORT_STATUS[int(r.status)]
    if status != "submitted":
        return Verified(report_id, status, False, None, (), int(r.batchId), int(r.tonnes))
    d = Device.read(m, bytes(r.deviceId))
    fields = _fields_of(r)
    stored = store.readings_of(d.device_id, fields.start, fields.end)
    verification = aggregate.verify_report([s.reading for s in stored], fields)
    reasons = list(verification.reasons) + _signature_reasons(m, d, stored) + _factor_reasons(m, int(r.factorId))
    if reject_reason is not None:
        reasons = [reject_reason, *reasons]
    if reasons:
        text = "; ".join(reasons)
        receipt = _send(m.contract.rejectReport, report_id, text[:1000], sender=account)
        return Verified(report_id, "rejected", True, verification, tuple(reasons), receipt=receipt)
    if verification.gaps and not accept_gaps:
        shown = "; ".join(str(g) for g in verification.gaps[:5])
        raise MrvError(f"REPORT_ID {report_id}: {len(verification.gaps)} gap(s) in its readings ({shown}), "
                       "counted as zero: approve with --accept-gaps or reject with --reject REASON; nothing was "
                       "sent")  # fmt: skip
    hint = last_batch_hint(m, d.project_id)
    receipt = _send(m.contract.approveReport, report_id, hint, sender=account)
    after = m.contract.report(report_id)
    carry = Device.read(m, d.device_id).carry_mg
    return Verified(report_id, "approved", True, verification, (), int(after.batchId), int(after.tonnes), carry,
                    receipt)  # fmt: skip


@dataclass(frozen=True)
class Proof:
    report_id: int
    reading: Any
    leaf: bytes
    proof: list[bytes]
    root: bytes
    included: bool  # what the contract's readingIncluded says

    def as_json(self) -> dict[str, Any]:
        r = self.reading
        return {
            "report": self.report_id,
            "reading": {
                "device": "0x" + r.device.hex(),
                "sequence": r.sequence,
                "start": r.start,
                "end": r.end,
                "value": r.value,
            },  # fmt: skip
            "leaf": "0x" + self.leaf.hex(),
            "proof": ["0x" + p.hex() for p in self.proof],
            "root": "0x" + self.root.hex(),
            "includedOnChain": self.included,
        }


def prove_reading(m: Mrv, store: ReadingStore, report_id: int, sequence: int) -> Proof:
    """The inclusion proof of the device's reading ``sequence`` in report ``report_id``, from ``store``, and
    whether the contract accepts it against the report's root."""
    r = _report(m, report_id)
    fields = _fields_of(r)
    if not fields.first_sequence <= sequence <= fields.last_sequence:
        raise MrvError(f"SEQUENCE {sequence}: report #{report_id} holds sequences {fields.first_sequence}.."
                       f"{fields.last_sequence}")  # fmt: skip
    try:
        period = _period_of(store, bytes(r.deviceId), fields)
        reading, leaf, proof = period.proof(sequence)
    except aggregate.PeriodError as exc:
        raise MrvError(f"REPORT_ID {report_id}: {exc}") from exc
    if period.root != fields.root:
        raise MrvError(f"REPORT_ID {report_id}: the stored readings' root 0x{period.root.hex()} is not the "
                       f"report's 0x{fields.root.hex()}: this store does not hold the readings the report was built "
                       "from")  # fmt: skip
    included = bool(m.contract.readingIncluded(report_id, reading.as_tuple(), proof))
    return Proof(report_id, reading, leaf, proof, fields.root, included)
