"""Gas of CarbonMRV: pinned within 2 %, and the same at the Nth report as at the first.

The constancy run sends N real reports of one device, each approved into its own 9-tonne batch (so every approval
adds and verifies a registry batch after the previous one). The first report's submission and the second's approval
(the first on the steady path: the first approval adds the project's first batch, with no previous batch to read)
are compared with the Nth's; they may differ only by calldata bytes and by what the report id's extra decimal digits
cost in the batch's issuance reference and metadata URI. N is 100 by default (some 8 s, through ape); beyond 100 the
transactions go through support.FastSender (raw JSON-RPC). 10,000 (`TONNE_MRV_CONSTANCY_REPORTS=10000`, 20,000
transactions, several minutes of a shared 2-core machine) is too long for every run; its figures are in
docs/mrv.md.

A change that moves a figure past the tolerance must update the pin here and docs/mrv.md together.
"""

from __future__ import annotations

import os

import pytest
from mrv_support import FACTOR_CODE, T0, build_mrv, readings_for, registration, root_of

from support import FastSender
from tonne.registry.suite import deploy_suite

HOUR = 3600
TOTAL = 20_000_000  # Wh an hour: x 450 mg/Wh = 9 t exactly, so the carry stays 0 and every approval makes a batch
CONSTANCY_REPORTS = int(os.environ.get("TONNE_MRV_CONSTANCY_REPORTS", "100"))
FAST_FROM = 100
# Measured 2026-12-04 on anvil (tests/gas).
PINNED: dict[str, int] = {
    "registerDevice": 159_375,
    "approveDevice": 38_719,
    "publishFactor": 123_430,
    "submitReport (first of a device)": 136_583,
    "submitReport (second)": 136_583,
    "approveReport, first batch of the project": 403_397,
    "approveReport, batch after a batch": 435_092,
    "approveReport, under a tonne (no batch)": 52_455,
    "rejectReport": 41_010,
    "challenge": 170_577,
    "resolveDispute, reinstate": 48_540,
}
TOLERANCE = 0.02
DIGIT_ALLOWANCE = 400  # gas per extra decimal digit of the report id, in two strings and their hashes


@pytest.fixture(scope="module")
def mrv_gas_env(project, chain, accounts):
    # Its own suite and accounts: no session fixture is first created inside this module's state, and no
    # transaction here is byte-identical to one another module sends after this module's state is reverted (ape
    # caches receipts by transaction hash, so an identical replay would read this module's receipt).
    admin, registrar, verifier, issuer, methodologist, owner, stranger = (
        accounts.generate_test_account() for _ in range(7)
    )
    for a in (admin, registrar, verifier, issuer, methodologist, owner, stranger):
        chain.set_balance(a, 10**21)
    roles = {"REGISTRAR_ROLE": [registrar], "VERIFIER_ROLE": [verifier], "ISSUER_ROLE": [issuer]}
    suite = deploy_suite(project, admin, roles=roles)
    built = build_mrv(project, chain, suite, admin, registrar, verifier, methodologist, owner)
    built.stranger = stranger
    return built


@pytest.fixture(scope="module")
def mrv_gas(mrv_gas_env) -> dict[str, int]:
    stranger = mrv_gas_env.stranger
    mrv, g = mrv_gas_env.mrv, {}

    def record(name, receipt):
        g[name] = int(receipt.gas_used)
        return receipt

    key_device = mrv_gas_env.register(approve=False, capacity=2**40)
    record("registerDevice", _register(mrv_gas_env))
    record("approveDevice", mrv.approveDevice(key_device, sender=mrv_gas_env.verifier))
    record("publishFactor", mrv.publishFactor(b"X" * 32, b"ID", T0, T0 + 10**8, 1, sender=mrv_gas_env.methodologist))
    rs = readings_for(key_device, 1, T0, 12, value=TOTAL // 12)
    first = record("submitReport (first of a device)", _submit(mrv_gas_env, key_device, T0, 1, TOTAL, root_of(rs)))
    record(
        "approveReport, first batch of the project",
        mrv.approveReport(first.return_value, 0, sender=mrv_gas_env.verifier),
    )
    second = record("submitReport (second)", _submit(mrv_gas_env, key_device, T0 + HOUR, 13, TOTAL, b"\x33" * 32))
    record("approveReport, batch after a batch", mrv.approveReport(second.return_value, 1, sender=mrv_gas_env.verifier))
    small = _submit(mrv_gas_env, key_device, T0 + 2 * HOUR, 25, 1000, b"\x44" * 32)
    record(
        "approveReport, under a tonne (no batch)", mrv.approveReport(small.return_value, 2, sender=mrv_gas_env.verifier)
    )
    rejected = _submit(mrv_gas_env, key_device, T0 + 3 * HOUR, 37, 1000, b"\x55" * 32)
    record("rejectReport", mrv.rejectReport(rejected.return_value, "wrong total", sender=mrv_gas_env.verifier))
    a = rs[0]
    b = dict(a, value=a["value"] + 1)
    record("challenge", mrv.challenge(a, mrv_gas_env.sign(a), b, mrv_gas_env.sign(b), sender=stranger))
    record("resolveDispute, reinstate", mrv.resolveDispute(1, True, sender=mrv_gas_env.registrar))
    return g


def _register(mrv_gas_env):
    return mrv_gas_env.mrv.registerDevice(
        *registration(mrv_gas_env.mrv, "GAS-METER", mrv_gas_env.project_id, 0, 2**40, T0), sender=mrv_gas_env.owner
    )


def _submit(mrv_gas_env, did, start, first, total, root):
    return mrv_gas_env.mrv.submitReport(
        did, start, start + HOUR, first, first + 11, total, mrv_gas_env.factor_id, root, sender=mrv_gas_env.owner
    )


def _gas_used(receipt) -> int:
    raw = getattr(receipt, "raw", None)
    return int(raw["gasUsed"], 16) if raw is not None else int(receipt.gas_used)


def test_mrv_gas__report(mrv_gas):
    print()
    for name, value in mrv_gas.items():
        print(f"{value:>10,}  {name}")


@pytest.mark.parametrize(("operation", "pinned"), sorted(PINNED.items()))
def test_mrv_gas__operation__stays_within_tolerance_of_pin(mrv_gas, operation, pinned):
    measured = mrv_gas[operation]
    assert abs(measured - pinned) <= pinned * TOLERANCE, f"{operation}: {measured} gas, pinned {pinned}"


def test_mrv_gas__every_operation_is_pinned(mrv_gas):
    assert sorted(mrv_gas) == sorted(PINNED)


# ------------------------------------------------------------------ constancy


@pytest.mark.slow
def test_mrv_gas__nth_report__same_as_first(mrv_gas_env):
    mrv = mrv_gas_env.mrv
    did = mrv_gas_env.register(capacity=2**40)
    # the fixture's factor ends with 2025; 10,000 hourly reports run into February 2026
    factor_id = mrv.publishFactor(
        FACTOR_CODE, b"ID", T0, T0 + 10**8, 450, sender=mrv_gas_env.methodologist
    ).return_value[0]
    base, batches = mrv.reportCount(), mrv_gas_env.last_batch_number()
    # Up to FAST_FROM reports through ape; more through support.FastSender (raw JSON-RPC, some 25 ms a report
    # instead of 70), which must run alone: its blocks, mined behind ape's back, leave ape's caches stale for the
    # modules that follow once this module's state is reverted (seen as reverts against an older state).
    fast = (
        FastSender(mrv_gas_env.chain.provider.web3, mrv, mrv_gas_env.registry).wrap(mrv)
        if CONSTANCY_REPORTS > FAST_FROM
        else mrv
    )
    measured = {}
    for i in range(CONSTANCY_REPORTS):
        start = T0 + i * HOUR
        root = (i + 1).to_bytes(32, "big")
        args = (did, start, start + HOUR, 12 * i + 1, 12 * i + 12, TOTAL, factor_id, root)
        submitted = fast.submitReport(*args, sender=mrv_gas_env.owner)
        approved = fast.approveReport(base + i + 1, batches + i, sender=mrv_gas_env.verifier)
        if i in (0, 1, CONSTANCY_REPORTS - 1):
            measured[i] = (_gas_used(submitted), _gas_used(approved))
    d = mrv.device(did)
    assert (d.reportedUntil, d.nextSequence, d.carryMilligrams) == (
        T0 + CONSTANCY_REPORTS * HOUR,
        12 * CONSTANCY_REPORTS + 1,
        0,
    )
    assert mrv.report(base + CONSTANCY_REPORTS).tonnes == 9
    assert mrv_gas_env.last_batch_number() == batches + CONSTANCY_REPORTS
    # The first approval adds the project's first batch (no previous batch to read); the second is the first of
    # the steady path every later one takes, so approvals are compared from the second.
    first = (measured[0][0], measured[1][1])
    last = measured[CONSTANCY_REPORTS - 1]
    digits = len(str(base + CONSTANCY_REPORTS)) - len(str(base + 2))
    print(f"\nreport {base + 1}: submit {first[0]:,}; report {base + 2}: approve {first[1]:,}; "
          f"report {base + CONSTANCY_REPORTS}: submit {last[0]:,}, approve {last[1]:,}")  # fmt: skip
    # the submissions' calldata differs only by a few non-zero bytes (the root, the interval, the sequences)
    assert abs(last[0] - first[0]) <= 200, (first, last)
    assert abs(last[1] - first[1]) <= 200 + DIGIT_ALLOWANCE * digits, (first, last)
