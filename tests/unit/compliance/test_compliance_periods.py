"""CompliancePeriods: opening periods, setting obligations, surrendering against them until the deadline, the
status after it, eligibility by vintage and standard, operators, every refusal, and re-entrancy through the
ERC-1155 and ERC-721 receiver hooks. Strangers and holders of other roles are refused in test_access.py."""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import keccak

from support import (
    ZERO_ADDRESS,
    ZERO_REF,
    Factory,
    batch_input,
    compliance_period,
    decode_error,
    events,
    order_ref,
    plain,
    project_input,
    retirement_input,
    reverts,
)

# Session fixtures first, before any module state: ape rebases (re-runs) module fixtures otherwise.
pytestmark = pytest.mark.usefixtures(
    "chain",
    "project",
    "accounts",
    "admin",
    "regulator",
    "compliance",
    "period_regulator",
    "permissioned_suite",
    "other_holder",
    "stranger",
)

COMPLIANCE_PURPOSE = 1
SUSPENDED = 3
ACME, BOREALIS = "Acme Steel AG", "Borealis Cement SA"
MAX_IDS = 100


def ts(year: int, month: int = 1, day: int = 1, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return calendar.timegm((year, month, day, hour, minute, second))


def year_period(first_year: int, last_year: int | None = None) -> tuple[int, int]:
    """A monitoring period from 1 January of `first_year` to the last second of `last_year`."""
    return ts(first_year), ts((last_year or first_year) + 1) - 1


@dataclass
class Batches:
    """Module state. VCS project `vcs` with batches v2019, v2021, v2023 (calendar years) and straddle
    (2020-07-01 to 2021-06-30); GS project `gs` with batch gs2021. `holder` holds 100,000 units of each id;
    `other_holder` holds 50,000 units of v2021. The `issuer` fixture is authorised for both projects."""

    vcs: int
    gs: int
    v2019: int
    v2021: int
    v2023: int
    straddle: int
    gs2021: int

    @property
    def all_ids(self) -> list[int]:
        return [self.v2019, self.v2021, self.v2023, self.straddle, self.gs2021]


def add_batch(registry, registrar, verifier, project_id: int, first: int, period: tuple[int, int], prev: int) -> int:
    inp = batch_input(first, first + 999, ref=f"ISS-{project_id}-{first}", period=period)
    token_id = registry.addBatch(project_id, inp, prev, sender=registrar).return_value
    registry.verifyBatch(token_id, sender=verifier)
    return token_id


@pytest.fixture(scope="module")
def batches(registry, credit, registrar, verifier, issuer, holder, other_holder) -> Batches:
    ids = {}
    projects = {}
    for standard in ("VCS", "GS"):
        project_id = registry.registerProject(project_input(standard=standard, owner=holder), sender=registrar)
        project_id = project_id.return_value
        registry.setProjectStatus(project_id, 2, "validated", sender=registrar)
        registry.setProjectIssuer(project_id, issuer, True, sender=registrar)
        projects[standard] = project_id
    vcs, gs = projects["VCS"], projects["GS"]
    ids["v2019"] = add_batch(registry, registrar, verifier, vcs, 1, year_period(2019), 0)
    ids["v2021"] = add_batch(registry, registrar, verifier, vcs, 1001, year_period(2021), 1)
    ids["v2023"] = add_batch(registry, registrar, verifier, vcs, 2001, year_period(2023), 2)
    ids["straddle"] = add_batch(registry, registrar, verifier, vcs, 3001, (ts(2020, 7), ts(2021, 7) - 1), 3)
    ids["gs2021"] = add_batch(registry, registrar, verifier, gs, 1, year_period(2021), 0)
    orders = [dict(id=token_id, to=holder, amount=100_000, orderRef=ZERO_REF) for token_id in ids.values()]
    orders.append(dict(id=ids["v2021"], to=other_holder, amount=50_000, orderRef=ZERO_REF))
    credit.issueMany(orders, sender=issuer)
    return Batches(vcs=vcs, gs=gs, **ids)


def open_period(periods, period_regulator, **overrides) -> int:
    return periods.openPeriod(compliance_period(**overrides), sender=period_regulator).return_value


def with_obligations(periods, period_regulator, obligations: dict[Any, int], **overrides) -> int:
    """A new period with `obligations` (entity -> units); the entities are named "Entity 0", "Entity 1", ..."""
    period_id = open_period(periods, period_regulator, **overrides)
    entities = list(obligations)
    names = [f"Entity {i}" for i in range(len(entities))]
    periods.setObligations(period_id, entities, names, list(obligations.values()), sender=period_regulator)
    return period_id


def status(periods, period_id: int, entity) -> dict:
    s = periods.status(period_id, entity)
    return dict(
        obligation=s.obligation,
        surrendered=s.surrendered,
        deadlinePassed=s.deadlinePassed,
        compliant=s.compliant,
        shortfall=s.shortfall,
    )


def standing(obligation: int, surrendered: int, passed: bool = False) -> dict:
    return dict(
        obligation=obligation,
        surrendered=surrendered,
        deadlinePassed=passed,
        compliant=surrendered >= obligation,
        shortfall=obligation - surrendered,
    )


def soon(chain, seconds: int = 1_000) -> int:
    """A deadline `seconds` after the next block's timestamp."""
    return chain.pending_timestamp + seconds


# ------------------------------------------------------------------ wiring


def test_deployed__bound_to_the_suite_and_empty(credit, retirement, periods):
    assert periods.retirement() == retirement.address
    assert periods.periodCount() == 0
    assert periods.MAX_IDS_PER_SURRENDER() == retirement.MAX_IDS_PER_CERTIFICATE() == MAX_IDS
    assert periods.PERIOD_REGULATOR_ROLE() != credit.REGULATOR_ROLE()


@pytest.mark.parametrize(
    ("interface", "supported"),
    [
        ("01ffc9a7", True),  # ERC-165
        ("7965db0b", True),  # IAccessControl
        ("31498786", True),  # IAccessControlDefaultAdminRules
        ("ICompliancePeriods", True),
        ("ICarbonRetirement", False),
        ("ffffffff", False),  # ERC-165 requires false for this id
    ],
)
def test_supports_interface__known_ids__as_declared(project, periods, interface, supported):
    if interface.startswith("I"):
        value = 0
        for abi in getattr(project, interface).contract_type.methods:
            value ^= int.from_bytes(keccak(text=abi.selector)[:4], "big")
        interface_id = value.to_bytes(4, "big")
    else:
        interface_id = bytes.fromhex(interface)
    assert periods.supportsInterface(interface_id) is supported


# ------------------------------------------------------------------ openPeriod


def test_open_period__valid__stores_terms_and_emits(periods, period_regulator):
    inp = compliance_period(jurisdiction="US-CA", vintageFrom=2016, vintageTo=2030, eligibleStandards=["VCS", "GS"])

    receipt = periods.openPeriod(inp, sender=period_regulator)

    assert receipt.return_value == 1 and periods.periodCount() == 1
    view = periods.period(1)
    assert plain(list(view)) == plain(
        [inp["name"], "US-CA", inp["periodStart"], inp["periodEnd"], inp["deadline"], 2016, 2030, 2]
    )
    assert events(receipt, periods, "PeriodOpened") == [
        plain(periodId=1, by=period_regulator, **{k: v for k, v in inp.items()})
    ]
    assert [periods.isEligibleStandard(1, s) for s in ("VCS", "GS", "CCER", "vcs", "")] == [
        True,
        True,
        False,
        False,
        False,
    ]
    second = periods.openPeriod(compliance_period(), sender=period_regulator)
    assert second.return_value == 2
    # No standard listed: every standard is eligible.
    assert periods.period(2).standardCount == 0
    assert periods.isEligibleStandard(2, "CCER") and periods.isEligibleStandard(2, "anything")


def test_open_period__empty_name__reverts(periods, period_regulator):
    with reverts(periods.ComplianceEmptyField, field="name"):
        periods.openPeriod(compliance_period(name=""), sender=period_regulator)
    assert periods.periodCount() == 0


@pytest.mark.parametrize("jurisdiction", ["", "D", "de", "DEU", "D1", "US-", "US-CALI", "US_CA", "US-ca", "U-SCA"])
def test_open_period__invalid_jurisdiction__reverts(periods, period_regulator, jurisdiction):
    with reverts(periods.ComplianceInvalidJurisdiction, jurisdiction=jurisdiction):
        periods.openPeriod(compliance_period(jurisdiction=jurisdiction), sender=period_regulator)


@pytest.mark.parametrize("jurisdiction", ["DE", "US-CA", "GB-ENG", "FR-75", "CN-A1B"])
def test_open_period__valid_jurisdiction__accepted(periods, period_regulator, jurisdiction):
    period_id = open_period(periods, period_regulator, jurisdiction=jurisdiction)
    assert periods.period(period_id).jurisdiction == jurisdiction


@pytest.mark.parametrize(
    ("start", "end", "deadline"),
    [
        (ts(2026), ts(2025), ts(2090)),  # period ends before it starts
        (ts(2025), ts(2090, 6), ts(2090)),  # deadline before the period ends
    ],
    ids=["end-before-start", "deadline-before-end"],
)
def test_open_period__times_out_of_order__reverts(periods, period_regulator, start, end, deadline):
    with reverts(periods.ComplianceInvalidTimes, periodStart=start, periodEnd=end, deadline=deadline):
        periods.openPeriod(
            compliance_period(periodStart=start, periodEnd=end, deadline=deadline), sender=period_regulator
        )


def test_open_period__single_instant_period_with_deadline_at_its_end__accepted(chain, periods, period_regulator):
    moment = soon(chain)
    period_id = open_period(periods, period_regulator, periodStart=moment, periodEnd=moment, deadline=moment)
    assert periods.period(period_id).deadline == moment


def test_open_period__deadline_in_the_past__reverts(chain, periods, period_regulator):
    now = chain.pending_timestamp
    chain.pending_timestamp = now
    with reverts(periods.ComplianceDeadlineInPast, deadline=now - 1, timestamp=now):
        periods.openPeriod(compliance_period(periodEnd=now - 2, deadline=now - 1), sender=period_regulator)


def test_open_period__deadline_now__accepted_and_open_for_that_second(chain, periods, period_regulator):
    now = chain.pending_timestamp
    chain.pending_timestamp = now
    period_id = open_period(periods, period_regulator, periodEnd=now - 2, deadline=now)
    assert periods.period(period_id).deadline == now


@pytest.mark.parametrize(("vfrom", "vto"), [(2022, 2021), (2030, 2016)])
def test_open_period__vintages_inverted__reverts(periods, period_regulator, vfrom, vto):
    with reverts(periods.ComplianceInvalidVintageRange, vintageFrom=vfrom, vintageTo=vto):
        periods.openPeriod(compliance_period(vintageFrom=vfrom, vintageTo=vto), sender=period_regulator)


@pytest.mark.parametrize(("vfrom", "vto"), [(2021, 2021), (2021, 0), (0, 2021), (0, 0)])
def test_open_period__vintage_bounds_single_year_or_one_sided__accepted(periods, period_regulator, vfrom, vto):
    period_id = open_period(periods, period_regulator, vintageFrom=vfrom, vintageTo=vto)
    view = periods.period(period_id)
    assert (view.vintageFrom, view.vintageTo) == (vfrom, vto)


@pytest.mark.parametrize(
    ("standards", "index", "bad"),
    [(["VCS", ""], 1, ""), (["VCS", "GS", "VCS"], 2, "VCS"), ([""], 0, "")],
    ids=["empty", "repeated", "only-empty"],
)
def test_open_period__bad_standard__reverts(periods, period_regulator, standards, index, bad):
    with reverts(periods.ComplianceInvalidStandard, index=index, standard=bad):
        periods.openPeriod(compliance_period(eligibleStandards=standards), sender=period_regulator)
    assert periods.periodCount() == 0


def test_open_period__too_many_standards__reverts(periods, period_regulator):
    max_standards = periods.MAX_STANDARDS()
    many = [f"S{i}" for i in range(max_standards + 1)]
    with reverts(periods.ComplianceTooManyStandards, count=max_standards + 1, max=max_standards):
        periods.openPeriod(compliance_period(eligibleStandards=many), sender=period_regulator)
    period_id = open_period(periods, period_regulator, eligibleStandards=many[:max_standards])
    assert periods.period(period_id).standardCount == max_standards
    assert periods.isEligibleStandard(period_id, many[max_standards - 1])


@pytest.mark.parametrize("which", ["zero", "next"])
def test_period_views__unknown_period__revert(periods, period_regulator, stranger, batches, which):
    open_period(periods, period_regulator)
    period_id = 0 if which == "zero" else 2
    for view, args in (
        (periods.period, []),
        (periods.isEligibleStandard, ["VCS"]),
        (periods.status, [stranger]),
        (periods.requireEligible, [batches.v2021]),
    ):
        with reverts(periods.ComplianceUnknownPeriod, periodId=period_id):
            view.transact(period_id, *args, sender=stranger)


# ------------------------------------------------------------------ setObligations


def test_set_obligations__new__stored_and_emitted(periods, period_regulator, holder, other_holder):
    period_id = open_period(periods, period_regulator)

    receipt = periods.setObligations(
        period_id, [holder, other_holder], [ACME, BOREALIS], [120_000, 7_500], sender=period_regulator
    )

    assert events(receipt, periods, "ObligationSet") == [
        plain(periodId=period_id, entity=holder, name=ACME, previous=0, obligation=120_000, by=period_regulator),
        plain(
            periodId=period_id, entity=other_holder, name=BOREALIS, previous=0, obligation=7_500, by=period_regulator
        ),
    ]
    assert status(periods, period_id, holder) == standing(120_000, 0)
    assert status(periods, period_id, other_holder) == standing(7_500, 0)
    assert periods.entityName(period_id, holder) == ACME
    assert periods.entityName(period_id, other_holder) == BOREALIS


def test_set_obligations__raise_lower_rename_and_unchanged__only_changes_written_and_emitted(
    periods, period_regulator, holder, other_holder, stranger
):
    period_id = open_period(periods, period_regulator)
    periods.setObligations(
        period_id, [holder, other_holder, stranger], [ACME, BOREALIS, "Corvid Ltd"], [100, 200, 300],
        sender=period_regulator,
    )  # fmt: skip

    receipt = periods.setObligations(
        period_id,
        [holder, other_holder, stranger],
        [ACME, "Borealis Cement SE", "Corvid Ltd"],  # renamed; unchanged
        [150, 200, 300],  # raised; unchanged; unchanged
        sender=period_regulator,
    )

    assert events(receipt, periods, "ObligationSet") == [
        plain(periodId=period_id, entity=holder, name=ACME, previous=100, obligation=150, by=period_regulator),
        plain(
            periodId=period_id,
            entity=other_holder,
            name="Borealis Cement SE",
            previous=200,
            obligation=200,
            by=period_regulator,
        ),
    ]
    lowered = periods.setObligations(period_id, [stranger], ["Corvid Ltd"], [40], sender=period_regulator)
    assert events(lowered, periods, "ObligationSet") == [
        plain(periodId=period_id, entity=stranger, name="Corvid Ltd", previous=300, obligation=40, by=period_regulator)
    ]
    assert [periods.status(period_id, e).obligation for e in (holder, other_holder, stranger)] == [150, 200, 40]
    assert periods.entityName(period_id, other_holder) == "Borealis Cement SE"


def test_set_obligations__zero__removes_an_obligation_nothing_surrendered_against(
    periods, period_regulator, holder, batches
):
    period_id = with_obligations(periods, period_regulator, {holder: 500})
    periods.setObligations(period_id, [holder], [ACME], [0], sender=period_regulator)
    assert status(periods, period_id, holder) == standing(0, 0)
    with reverts(periods.ComplianceNoObligation, periodId=period_id, entity=holder):
        periods.surrender(period_id, [batches.v2021], [1], ZERO_REF, sender=holder)


def test_set_obligations__same_entity_twice_in_one_call__last_wins_each_emitted(periods, period_regulator, holder):
    period_id = open_period(periods, period_regulator)
    receipt = periods.setObligations(period_id, [holder, holder], [ACME, ACME], [10, 20], sender=period_regulator)
    assert [(e["previous"], e["obligation"]) for e in events(receipt, periods, "ObligationSet")] == [(0, 10), (10, 20)]
    assert periods.status(period_id, holder).obligation == 20


def test_set_obligations__below_surrendered__reverts_and_down_to_it__compliant(
    periods, period_regulator, holder, batches
):
    period_id = with_obligations(periods, period_regulator, {holder: 5_000})
    periods.surrender(period_id, [batches.v2021], [3_000], ZERO_REF, sender=holder)

    with reverts(
        periods.ComplianceObligationBelowSurrendered, periodId=period_id, entity=holder, obligation=2_999,
        surrendered=3_000,
    ):  # fmt: skip
        periods.setObligations(period_id, [holder], [ACME], [2_999], sender=period_regulator)
    with reverts(
        periods.ComplianceObligationBelowSurrendered, periodId=period_id, entity=holder, obligation=0,
        surrendered=3_000,
    ):  # fmt: skip
        periods.setObligations(period_id, [holder], [ACME], [0], sender=period_regulator)

    periods.setObligations(period_id, [holder], [ACME], [3_000], sender=period_regulator)
    assert status(periods, period_id, holder) == standing(3_000, 3_000)


@pytest.mark.parametrize(
    ("entities", "names", "amounts"),
    [(0, 0, 0), (2, 1, 2), (2, 2, 1), (1, 2, 2), (201, 201, 201)],
    ids=["empty", "names-short", "amounts-short", "entities-short", "too-many"],
)
def test_set_obligations__lists_invalid__reverts(periods, period_regulator, accounts, entities, names, amounts):
    period_id = open_period(periods, period_regulator)
    max_entries = periods.MAX_OBLIGATIONS_PER_CALL()
    assert max_entries == 200
    who = [accounts[i % len(accounts)] for i in range(entities)]
    with reverts(
        periods.ComplianceInvalidObligationLists, entities=entities, names=names, amounts=amounts, max=max_entries
    ):
        periods.setObligations(period_id, who, ["N"] * names, [1] * amounts, sender=period_regulator)


def test_set_obligations__max_entries__accepted(periods, period_regulator, accounts):
    period_id = open_period(periods, period_regulator)
    entities = [f"0x{i + 1:040x}" for i in range(200)]
    receipt = periods.setObligations(
        period_id, entities, [f"E{i}" for i in range(200)], list(range(1, 201)), sender=period_regulator
    )
    assert len(events(receipt, periods, "ObligationSet")) == 200
    assert periods.status(period_id, entities[199]).obligation == 200


@pytest.mark.parametrize("field", ["entity", "name", "amount"])
def test_set_obligations__invalid_entry__reverts_whole_call(periods, period_regulator, holder, other_holder, field):
    period_id = open_period(periods, period_regulator)
    entities, names, amounts = [holder, other_holder], [ACME, BOREALIS], [10, 20]
    if field == "entity":
        entities[1] = ZERO_ADDRESS
    elif field == "name":
        names[1] = ""
    else:
        amounts[1] = 2**128
    with reverts(periods.ComplianceInvalidObligation, index=1, entity=entities[1], field=field):
        periods.setObligations(period_id, entities, names, amounts, sender=period_regulator)
    assert periods.status(period_id, holder).obligation == 0


def test_set_obligations__max_uint128__accepted(periods, period_regulator, holder):
    period_id = open_period(periods, period_regulator)
    periods.setObligations(period_id, [holder], [ACME], [2**128 - 1], sender=period_regulator)
    assert periods.status(period_id, holder).shortfall == 2**128 - 1


def test_set_obligations__unknown_period__reverts(periods, period_regulator, holder):
    with reverts(periods.ComplianceUnknownPeriod, periodId=1):
        periods.setObligations(1, [holder], [ACME], [1], sender=period_regulator)


def test_set_obligations__deadline_second__accepted_then_refused(chain, periods, period_regulator, holder):
    deadline = soon(chain)
    period_id = open_period(periods, period_regulator, periodEnd=deadline - 10, deadline=deadline)
    chain.pending_timestamp = deadline
    periods.setObligations(period_id, [holder], [ACME], [10], sender=period_regulator)

    chain.pending_timestamp = deadline + 1
    with reverts(periods.ComplianceDeadlinePassed, periodId=period_id, deadline=deadline, timestamp=deadline + 1):
        periods.setObligations(period_id, [holder], [ACME], [20], sender=period_regulator)
    assert periods.status(period_id, holder).obligation == 10


# ------------------------------------------------------------------ surrender


def test_surrender__one_id__burns_certifies_books_and_emits(chain, credit, retirement, periods, period_regulator,
                                                            holder, batches):  # fmt: skip
    period_id = open_period(periods, period_regulator, jurisdiction="DE-BY")
    periods.setObligations(period_id, [holder], [ACME], [10_000], sender=period_regulator)
    terms = periods.period(period_id)
    supply = credit.totalSupply(batches.v2021)

    receipt = periods.surrender(period_id, [batches.v2021], [4_000], order_ref(7), sender=holder)

    certificate_id = receipt.return_value
    assert certificate_id == retirement.certificateCount() == 1
    assert credit.balanceOf(holder, batches.v2021) == 100_000 - 4_000
    assert credit.totalSupply(batches.v2021) == supply - 4_000
    assert credit.totalRetired(batches.v2021) == 4_000
    assert status(periods, period_id, holder) == standing(10_000, 4_000)
    view = retirement.certificate(certificate_id)
    assert plain(list(view)) == plain(
        [
            holder,  # beneficiary: the entity
            holder,  # retiring account: the entity
            batches.v2021,
            4_000,
            1,
            COMPLIANCE_PURPOSE,
            chain.blocks[receipt.block_number].timestamp,
            terms.periodStart,
            terms.periodEnd,
            b"DE",
        ]
    )
    assert retirement.ownerOf(certificate_id) == holder.address
    assert events(receipt, retirement, "RetirementRecorded") == [
        plain(
            certificateId=certificate_id,
            beneficiary=holder,
            retiringAccount=holder,
            ids=[batches.v2021],
            amounts=[4_000],
            beneficiaryName=ACME,
            reason=terms.name,
            jurisdiction="DE-BY",
            periodStart=terms.periodStart,
            periodEnd=terms.periodEnd,
            purpose=COMPLIANCE_PURPOSE,
            retirementRef=order_ref(7),
        )
    ]
    assert events(receipt, periods, "Surrendered") == [
        plain(
            periodId=period_id, entity=holder, certificateId=certificate_id, by=holder, amount=4_000, surrendered=4_000
        )
    ]
    assert retirement.certificateOfReference(holder, order_ref(7)) == certificate_id


def test_surrender__several_ids_of_two_standards__one_certificate_and_total_booked(
    credit, retirement, periods, period_regulator, holder, batches
):
    period_id = with_obligations(periods, period_regulator, {holder: 50_000})
    ids, amounts = [batches.v2019, batches.gs2021, batches.v2019], [1_000, 2_500, 500]

    receipt = periods.surrender(period_id, ids, amounts, ZERO_REF, sender=holder)

    assert periods.status(period_id, holder).surrendered == 4_000
    view = retirement.certificate(receipt.return_value)
    assert (view.totalAmount, view.idCount, view.firstId, view.purpose) == (4_000, 3, batches.v2019, 1)
    assert credit.balanceOfBatch([holder] * 2, [batches.v2019, batches.gs2021]) == [100_000 - 1_500, 100_000 - 2_500]
    assert events(receipt, periods, "Surrendered")[0]["amount"] == 4_000


def test_surrender__in_parts_up_to_obligation__compliant_then_refuses_more(periods, period_regulator, holder, batches):
    period_id = with_obligations(periods, period_regulator, {holder: 10_000})
    periods.surrender(period_id, [batches.v2021], [6_000], ZERO_REF, sender=holder)
    second = periods.surrender(period_id, [batches.v2023], [4_000], ZERO_REF, sender=holder)

    assert events(second, periods, "Surrendered")[0]["surrendered"] == 10_000
    assert status(periods, period_id, holder) == standing(10_000, 10_000)
    with reverts(periods.ComplianceExceedsObligation, periodId=period_id, entity=holder, amount=1, remaining=0):
        periods.surrender(period_id, [batches.v2021], [1], ZERO_REF, sender=holder)


def test_surrender__more_than_remaining__reverts_nothing_burned(credit, periods, period_regulator, holder, batches):
    period_id = with_obligations(periods, period_regulator, {holder: 10_000})
    periods.surrender(period_id, [batches.v2021], [9_000], ZERO_REF, sender=holder)

    with reverts(periods.ComplianceExceedsObligation, periodId=period_id, entity=holder, amount=1_001, remaining=1_000):
        periods.surrender(period_id, [batches.v2021, batches.v2023], [1_000, 1], ZERO_REF, sender=holder)
    assert periods.status(period_id, holder).surrendered == 9_000
    assert credit.balanceOf(holder, batches.v2023) == 100_000


def test_surrender__no_obligation__reverts(periods, period_regulator, holder, other_holder, batches):
    period_id = with_obligations(periods, period_regulator, {holder: 10})
    with reverts(periods.ComplianceNoObligation, periodId=period_id, entity=other_holder):
        periods.surrender(period_id, [batches.v2021], [1], ZERO_REF, sender=other_holder)


def test_surrender__obligation_in_another_period_only__reverts(periods, period_regulator, holder, batches):
    first = with_obligations(periods, period_regulator, {holder: 10})
    second = open_period(periods, period_regulator)
    with reverts(periods.ComplianceNoObligation, periodId=second, entity=holder):
        periods.surrender(second, [batches.v2021], [1], ZERO_REF, sender=holder)
    assert periods.status(first, holder).surrendered == 0


@pytest.mark.parametrize("period_id", [0, 1])
def test_surrender__unknown_period__reverts(periods, holder, batches, period_id):
    with reverts(periods.ComplianceUnknownPeriod, periodId=period_id):
        periods.surrender(period_id, [batches.v2021], [1], ZERO_REF, sender=holder)


@pytest.mark.parametrize(("n_ids", "n_amounts"), [(0, 0), (1, 0), (1, 2), (2, 1)])
def test_surrender__lists_invalid__reverts(periods, period_regulator, holder, batches, n_ids, n_amounts):
    period_id = with_obligations(periods, period_regulator, {holder: 10_000})
    with reverts(periods.ComplianceInvalidLists, ids=n_ids, amounts=n_amounts):
        periods.surrender(period_id, [batches.v2021] * n_ids, [1] * n_amounts, ZERO_REF, sender=holder)


def test_surrender__more_than_max_ids__reverts_and_max__accepted(
    retirement, periods, period_regulator, holder, batches
):
    period_id = with_obligations(periods, period_regulator, {holder: 10_000})
    with reverts(periods.ComplianceTooManyIds, count=MAX_IDS + 1, max=MAX_IDS):
        periods.surrender(period_id, [batches.v2021] * (MAX_IDS + 1), [1] * (MAX_IDS + 1), ZERO_REF, sender=holder)
    receipt = periods.surrender(period_id, [batches.v2021] * MAX_IDS, [1] * MAX_IDS, ZERO_REF, sender=holder)
    assert retirement.certificate(receipt.return_value).idCount == MAX_IDS
    assert periods.status(period_id, holder).surrendered == MAX_IDS


# ------------------------------------------------------------------ the deadline


def test_surrender__at_the_deadline_second__accepted(chain, periods, period_regulator, holder, batches):
    deadline = soon(chain)
    period_id = with_obligations(periods, period_regulator, {holder: 10_000}, periodEnd=deadline - 5, deadline=deadline)
    chain.pending_timestamp = deadline
    receipt = periods.surrender(period_id, [batches.v2021], [2_000], ZERO_REF, sender=holder)
    assert chain.blocks[receipt.block_number].timestamp == deadline
    assert periods.status(period_id, holder).surrendered == 2_000


@pytest.mark.parametrize("late", [1, 86_400 * 365])
def test_surrender__after_the_deadline__reverts_nothing_burned(
    chain, credit, retirement, periods, period_regulator, holder, batches, late
):
    deadline = soon(chain)
    period_id = with_obligations(periods, period_regulator, {holder: 10_000}, periodEnd=deadline - 5, deadline=deadline)
    periods.surrender(period_id, [batches.v2021], [2_000], ZERO_REF, sender=holder)

    chain.pending_timestamp = deadline + late
    with reverts(periods.ComplianceDeadlinePassed, periodId=period_id, deadline=deadline, timestamp=deadline + late):
        periods.surrender(period_id, [batches.v2021], [1_000], ZERO_REF, sender=holder)
    assert periods.status(period_id, holder).surrendered == 2_000
    assert credit.balanceOf(holder, batches.v2021) == 100_000 - 2_000
    assert retirement.certificateCount() == 1


def test_surrender_from__after_the_deadline__reverts(
    chain, credit, periods, period_regulator, holder, stranger, batches
):
    deadline = soon(chain)
    period_id = with_obligations(periods, period_regulator, {holder: 10_000}, periodEnd=deadline - 5, deadline=deadline)
    credit.setApprovalForAll(stranger, True, sender=holder)
    chain.pending_timestamp = deadline + 1
    with reverts(periods.ComplianceDeadlinePassed, periodId=period_id, deadline=deadline, timestamp=deadline + 1):
        periods.surrenderFrom(holder, period_id, [batches.v2021], [1], ZERO_REF, sender=stranger)


def test_status__before_and_after_the_deadline__final_after(chain, periods, period_regulator, holder, other_holder,
                                                            batches):  # fmt: skip
    deadline = soon(chain)
    period_id = with_obligations(
        periods, period_regulator, {holder: 10_000, other_holder: 8_000}, periodEnd=deadline - 5, deadline=deadline
    )
    periods.surrender(period_id, [batches.v2021], [10_000], ZERO_REF, sender=holder)
    periods.surrender(period_id, [batches.v2021], [4_500], ZERO_REF, sender=other_holder)
    chain.mine(timestamp=deadline)
    assert status(periods, period_id, holder) == standing(10_000, 10_000, passed=False)
    assert status(periods, period_id, other_holder) == standing(8_000, 4_500, passed=False)

    chain.mine(timestamp=deadline + 1)

    assert status(periods, period_id, holder) == dict(
        obligation=10_000, surrendered=10_000, deadlinePassed=True, compliant=True, shortfall=0
    )
    assert status(periods, period_id, other_holder) == dict(
        obligation=8_000, surrendered=4_500, deadlinePassed=True, compliant=False, shortfall=3_500
    )
    # Final: neither the obligation nor the surrendered total can move any more.
    chain.pending_timestamp = deadline + 2
    with reverts(periods.ComplianceDeadlinePassed, periodId=period_id, deadline=deadline, timestamp=deadline + 2):
        periods.setObligations(period_id, [other_holder], [BOREALIS], [4_500], sender=period_regulator)
    chain.pending_timestamp = deadline + 3
    with reverts(periods.ComplianceDeadlinePassed, periodId=period_id, deadline=deadline, timestamp=deadline + 3):
        periods.surrender(period_id, [batches.v2021], [3_500], ZERO_REF, sender=other_holder)
    assert status(periods, period_id, other_holder)["shortfall"] == 3_500


def test_status__account_without_obligation__zero_and_trivially_compliant(periods, period_regulator, stranger):
    period_id = open_period(periods, period_regulator)
    assert status(periods, period_id, stranger) == standing(0, 0)
    assert periods.entityName(period_id, stranger) == ""


# ------------------------------------------------------------------ eligibility


@pytest.mark.parametrize(
    ("batch", "years"),
    [("v2019", (2019, 2019)), ("v2021", (2021, 2021)), ("straddle", (2020, 2021)), ("gs2021", (2021, 2021))],
)
def test_vintage_of__batches__years_of_monitoring_start_and_end(periods, batches, batch, years):
    assert tuple(periods.vintageOf(getattr(batches, batch))) == years


def test_vintage_of__unknown_id__registry_error(registry, periods, stranger, batches):
    unknown = batches.v2021 + 100
    with reverts(registry.RegistryUnknownBatch, id=unknown):
        periods.vintageOf.transact(unknown, sender=stranger)


@pytest.mark.parametrize(
    ("vfrom", "vto", "batch", "years"),
    [
        (2020, 0, "v2019", (2019, 2019)),  # older than the lower bound
        (0, 2022, "v2023", (2023, 2023)),  # newer than the upper bound
        (2021, 2025, "straddle", (2020, 2021)),  # starts in a year before the lower bound
        (2016, 2020, "straddle", (2020, 2021)),  # ends in a year after the upper bound
        (2022, 2022, "v2021", (2021, 2021)),
    ],
)
def test_surrender__ineligible_vintage__reverts_nothing_burned(
    credit, periods, period_regulator, holder, batches, vfrom, vto, batch, years
):
    period_id = with_obligations(periods, period_regulator, {holder: 10_000}, vintageFrom=vfrom, vintageTo=vto)
    token_id = getattr(batches, batch)
    error = dict(
        periodId=period_id, id=token_id, firstYear=years[0], lastYear=years[1], vintageFrom=vfrom, vintageTo=vto
    )
    with reverts(periods.ComplianceIneligibleVintage, **error):
        periods.surrender(period_id, [token_id], [1_000], ZERO_REF, sender=holder)
    with reverts(periods.ComplianceIneligibleVintage, **error):
        periods.requireEligible.transact(period_id, token_id, sender=holder)
    assert credit.balanceOf(holder, token_id) == 100_000
    assert periods.status(period_id, holder).surrendered == 0


@pytest.mark.parametrize(
    ("vfrom", "vto", "batch"),
    [(2019, 2019, "v2019"), (2020, 2021, "straddle"), (2021, 0, "v2023"), (0, 2021, "v2019"), (0, 0, "straddle")],
)
def test_surrender__eligible_vintage_at_bounds__accepted(periods, period_regulator, holder, batches, vfrom, vto, batch):
    period_id = with_obligations(periods, period_regulator, {holder: 10_000}, vintageFrom=vfrom, vintageTo=vto)
    token_id = getattr(batches, batch)
    periods.requireEligible(period_id, token_id)
    periods.surrender(period_id, [token_id], [1_000], ZERO_REF, sender=holder)
    assert periods.status(period_id, holder).surrendered == 1_000


def test_surrender__ineligible_standard__reverts_naming_it(credit, periods, period_regulator, holder, batches):
    period_id = with_obligations(periods, period_regulator, {holder: 10_000}, eligibleStandards=["VCS", "CCER"])
    with reverts(periods.ComplianceIneligibleStandard, periodId=period_id, id=batches.gs2021, standard="GS"):
        periods.surrender(period_id, [batches.gs2021], [1_000], ZERO_REF, sender=holder)
    with reverts(periods.ComplianceIneligibleStandard, periodId=period_id, id=batches.gs2021, standard="GS"):
        periods.requireEligible.transact(period_id, batches.gs2021, sender=holder)
    periods.surrender(period_id, [batches.v2021], [1_000], ZERO_REF, sender=holder)
    assert credit.balanceOf(holder, batches.gs2021) == 100_000
    assert periods.status(period_id, holder).surrendered == 1_000


def test_surrender__one_ineligible_id_among_eligible__whole_surrender_reverts(
    credit, retirement, periods, period_regulator, holder, batches
):
    period_id = with_obligations(
        periods, period_regulator, {holder: 10_000}, vintageFrom=2021, eligibleStandards=["VCS", "GS"]
    )
    ids = [batches.v2021, batches.gs2021, batches.v2019, batches.v2023]
    with reverts(
        periods.ComplianceIneligibleVintage, periodId=period_id, id=batches.v2019, firstYear=2019, lastYear=2019,
        vintageFrom=2021, vintageTo=0,
    ):  # fmt: skip
        periods.surrender(period_id, ids, [100] * 4, ZERO_REF, sender=holder)
    assert credit.balanceOfBatch([holder] * 4, ids) == [100_000] * 4
    assert retirement.certificateCount() == 0


def test_surrender__both_restrictions_met__accepted(periods, period_regulator, holder, batches):
    period_id = with_obligations(
        periods, period_regulator, {holder: 10_000}, vintageFrom=2021, vintageTo=2023, eligibleStandards=["GS", "VCS"]
    )
    periods.surrender(period_id, [batches.v2021, batches.gs2021, batches.v2023], [1, 2, 3], ZERO_REF, sender=holder)
    assert periods.status(period_id, holder).surrendered == 6


def test_calendar__years_of_timestamps__match_python(project, admin):
    harness = project.CalendarHarness.deploy(sender=admin)
    stamps = []
    for year in range(1970, 2401):
        start = ts(year)
        stamps += [start, start + 86_399, ts(year, 2, 28, 23, 59, 59), ts(year, 3, 1), ts(year + 1) - 1]
        if calendar.isleap(year):
            stamps.append(ts(year, 2, 29, 12))
    rng = random.Random(2025)
    stamps += [rng.randrange(0, 2**40) for _ in range(500)] + [0, 2**40 - 1]
    expected = [_year_of(t) for t in stamps]
    assert list(harness.yearsOf(stamps)) == expected


def _year_of(timestamp: int) -> int:
    # time.gmtime covers the whole uint40 range on 64-bit platforms (years up to ~36812).
    import time

    return time.gmtime(timestamp).tm_year


# ------------------------------------------------------------------ token rules apply to a surrender


def test_surrender__more_than_balance__token_refuses_nothing_booked(credit, periods, period_regulator, other_holder,
                                                                   batches):  # fmt: skip
    period_id = with_obligations(periods, period_regulator, {other_holder: 100_000})
    with reverts(
        credit.ERC1155InsufficientBalance, sender=other_holder, balance=50_000, needed=50_001, tokenId=batches.v2021
    ):
        periods.surrender(period_id, [batches.v2021], [50_001], ZERO_REF, sender=other_holder)
    assert periods.status(period_id, other_holder).surrendered == 0


def test_surrender__zero_amount__token_refuses(credit, periods, period_regulator, holder, batches):
    period_id = with_obligations(periods, period_regulator, {holder: 100})
    with reverts(credit.CreditZeroAmount, id=batches.v2023):
        periods.surrender(period_id, [batches.v2021, batches.v2023], [5, 0], ZERO_REF, sender=holder)
    assert periods.status(period_id, holder).surrendered == 0


def test_surrender__suspended_project__token_refuses(credit, registry, periods, period_regulator, registrar, holder,
                                                    batches):  # fmt: skip
    period_id = with_obligations(periods, period_regulator, {holder: 100})
    registry.setProjectStatus(batches.gs, SUSPENDED, "reversal under investigation", sender=registrar)
    with reverts(credit.CreditProjectRestricted, id=batches.gs2021, projectId=batches.gs):
        periods.surrender(period_id, [batches.gs2021], [5], ZERO_REF, sender=holder)
    assert periods.status(period_id, holder).surrendered == 0


def test_surrender__frozen_entity__token_refuses(credit, periods, period_regulator, regulator, holder, batches):
    period_id = with_obligations(periods, period_regulator, {holder: 100})
    credit.setFrozen(holder, True, "court order", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=holder):
        periods.surrender(period_id, [batches.v2021], [5], ZERO_REF, sender=holder)
    assert periods.status(period_id, holder).surrendered == 0


def test_surrender__token_paused__token_refuses(credit, periods, period_regulator, regulator, holder, batches):
    period_id = with_obligations(periods, period_regulator, {holder: 100})
    credit.pause(sender=regulator)
    with reverts(credit.CreditPaused):
        periods.surrender(period_id, [batches.v2021], [5], ZERO_REF, sender=holder)
    assert periods.status(period_id, holder).surrendered == 0


def test_surrender__retirement_reference_used__refused_nothing_booked(retirement, periods, period_regulator, holder,
                                                                     batches):  # fmt: skip
    period_id = with_obligations(periods, period_regulator, {holder: 100})
    first = periods.surrender(period_id, [batches.v2021], [5], order_ref(3), sender=holder).return_value
    with reverts(
        retirement.RetirementReferenceUsed, retiringAccount=holder, retirementRef=order_ref(3), certificateId=first
    ):
        periods.surrender(period_id, [batches.v2021], [5], order_ref(3), sender=holder)
    assert periods.status(period_id, holder).surrendered == 5


def test_surrender__permissioned_mode__entity_must_be_on_the_allowlist(
    permissioned_suite, registrar, verifier, issuer, compliance, period_regulator, holder
):
    suite = permissioned_suite
    project_id = suite.registry.registerProject(project_input(owner=holder), sender=registrar).return_value
    suite.registry.setProjectStatus(project_id, 2, "validated", sender=registrar)
    suite.registry.setProjectIssuer(project_id, issuer, True, sender=registrar)
    token_id = suite.registry.addBatch(project_id, batch_input(1, 1000), 0, sender=registrar).return_value
    suite.registry.verifyBatch(token_id, sender=verifier)
    suite.credit.setAllowed([holder], True, sender=compliance)
    suite.credit.issue(token_id, holder, 1_000, ZERO_REF, sender=issuer)
    period_id = with_obligations(suite.compliance, period_regulator, {holder: 1_000})
    suite.credit.setAllowed([holder], False, sender=compliance)

    with reverts(suite.credit.CreditAccountNotAllowed, account=holder):
        suite.compliance.surrender(period_id, [token_id], [400], ZERO_REF, sender=holder)
    suite.credit.setAllowed([holder], True, sender=compliance)
    suite.compliance.surrender(period_id, [token_id], [400], ZERO_REF, sender=holder)
    assert suite.compliance.status(period_id, holder).surrendered == 400


# ------------------------------------------------------------------ operators


def test_surrender_from__approved_operator__entity_surrenders_operator_recorded(
    credit, retirement, periods, period_regulator, holder, stranger, batches
):
    period_id = with_obligations(periods, period_regulator, {holder: 10_000})
    credit.setApprovalForAll(stranger, True, sender=holder)

    receipt = periods.surrenderFrom(holder, period_id, [batches.v2021], [2_500], ZERO_REF, sender=stranger)

    certificate_id = receipt.return_value
    assert retirement.ownerOf(certificate_id) == holder.address
    assert retirement.certificate(certificate_id).retiringAccount == holder.address
    assert credit.balanceOf(holder, batches.v2021) == 100_000 - 2_500
    assert credit.balanceOf(stranger, batches.v2021) == 0
    assert events(receipt, periods, "Surrendered") == [
        plain(
            periodId=period_id,
            entity=holder,
            certificateId=certificate_id,
            by=stranger,
            amount=2_500,
            surrendered=2_500,
        )
    ]


def test_surrender_from__entity_itself__accepted_without_approval(periods, period_regulator, holder, batches):
    period_id = with_obligations(periods, period_regulator, {holder: 10_000})
    periods.surrenderFrom(holder, period_id, [batches.v2021], [10], ZERO_REF, sender=holder)
    assert periods.status(period_id, holder).surrendered == 10


def test_surrender_from__approval_revoked__refused(credit, periods, period_regulator, holder, stranger, batches):
    period_id = with_obligations(periods, period_regulator, {holder: 10_000})
    credit.setApprovalForAll(stranger, True, sender=holder)
    credit.setApprovalForAll(stranger, False, sender=holder)
    with reverts(periods.ComplianceOperatorNotApproved, entity=holder, operator=stranger):
        periods.surrenderFrom(holder, period_id, [batches.v2021], [10], ZERO_REF, sender=stranger)
    assert periods.status(period_id, holder).surrendered == 0


def test_surrender_from__operator_with_its_own_obligation__books_the_entity_not_itself(
    credit, periods, period_regulator, holder, other_holder, batches
):
    period_id = with_obligations(periods, period_regulator, {holder: 1_000, other_holder: 1_000})
    credit.setApprovalForAll(other_holder, True, sender=holder)
    periods.surrenderFrom(holder, period_id, [batches.v2021], [300], ZERO_REF, sender=other_holder)
    assert periods.status(period_id, holder).surrendered == 300
    assert periods.status(period_id, other_holder).surrendered == 0
    assert credit.balanceOf(other_holder, batches.v2021) == 50_000


# ------------------------------------------------------------------ invariant over a scenario


def test_surrendered_per_period__equals_compliance_certificate_totals_for_that_period(
    chain, credit, retirement, periods, period_regulator, holder, other_holder, batches
):
    deadline = soon(chain, 10_000)
    p1 = with_obligations(periods, period_regulator, {holder: 20_000, other_holder: 9_000}, deadline=deadline)
    p2 = with_obligations(
        periods, period_regulator, {holder: 7_000}, periodStart=ts(2026), periodEnd=ts(2027) - 1, deadline=ts(2090)
    )
    receipts = [
        periods.surrender(p1, [batches.v2021, batches.v2019], [3_000, 1_000], ZERO_REF, sender=holder),
        periods.surrender(p2, [batches.gs2021], [7_000], ZERO_REF, sender=holder),
        periods.surrender(p1, [batches.v2021], [9_000], ZERO_REF, sender=other_holder),
        periods.surrender(p1, [batches.straddle], [500], ZERO_REF, sender=holder),
    ]
    # A voluntary retirement in between must not count for any period.
    retirement.retire([batches.v2023], [777], retirement_input(), sender=holder)

    totals: dict[int, int] = {p1: 0, p2: 0}
    for receipt in receipts:
        (surrendered,) = events(receipt, periods, "Surrendered")
        view = retirement.certificate(surrendered["certificateId"])
        terms = periods.period(surrendered["periodId"])
        assert view.purpose == COMPLIANCE_PURPOSE
        assert (view.periodStart, view.periodEnd) == (terms.periodStart, terms.periodEnd)
        assert view.totalAmount == surrendered["amount"]
        totals[surrendered["periodId"]] += view.totalAmount
    assert totals[p1] == sum(periods.status(p1, e).surrendered for e in (holder, other_holder)) == 13_500
    assert totals[p2] == periods.status(p2, holder).surrendered == 7_000
    compliance_certificates = [retirement.certificate(i) for i in range(1, retirement.certificateCount() + 1)]
    assert sum(c.totalAmount for c in compliance_certificates if c.purpose == COMPLIANCE_PURPOSE) == 20_500
    retired = sum(credit.totalRetired(i) for i in batches.all_ids)
    assert retired == 20_500 + 777


# ------------------------------------------------------------------ re-entrancy through the receiver hooks

INCOMING = 300


@pytest.fixture
def contract_entity(project, credit, admin, issuer, periods, period_regulator, batches):
    """A ReentrantCertificateReceiver (ERC-1155 and ERC-721 hooks, both replaying an armed call) as a regulated
    entity: it holds 5,000 units of v2021 and owes 2,000 units in period 1."""
    entity = project.ReentrantCertificateReceiver.deploy(sender=admin)
    credit.issue(batches.v2021, entity, 5_000, ZERO_REF, sender=issuer)  # unarmed: the hook replays nothing
    period_id = open_period(periods, period_regulator)
    periods.setObligations(period_id, [entity], ["Contract Entity BV"], [2_000], sender=period_regulator)
    return entity


def surrender_call(periods, period_id: int, token_id: int, amount: int, ref: bytes = ZERO_REF) -> bytes:
    return periods.surrender.encode_input(period_id, [token_id], [amount], ref)


def test_surrender__armed_contract_entity__no_receiver_hook_runs(
    credit, retirement, periods, other_holder, batches, contract_entity
):
    entity = contract_entity
    # Armed with a second surrender: any hook during the surrender (ERC-1155 or the certificate's ERC-721) would
    # replay it, and could book a second surrender in the middle of the first.
    entity.arm(periods, surrender_call(periods, 1, batches.v2021, 1_000), sender=other_holder)

    receipt = entity.execute(periods, surrender_call(periods, 1, batches.v2021, 1_000), sender=other_holder)

    assert entity.attempts() == 0 and entity.armed() is True
    assert retirement.ownerOf(1) == entity.address and retirement.certificateCount() == 1
    assert periods.status(1, entity).surrendered == 1_000
    assert credit.balanceOf(entity, batches.v2021) == 4_000
    assert [e["amount"] for e in events(receipt, periods, "Surrendered")] == [1_000]


@pytest.mark.parametrize("how", ["safeTransferFrom", "safeBatchTransferFrom"])
def test_incoming_transfer_hook__surrenders_what_arrives__allowed_and_counted_once(
    credit, retirement, periods, holder, other_holder, batches, contract_entity, how
):
    entity = contract_entity
    entity.arm(periods, surrender_call(periods, 1, batches.v2021, 1_800), sender=other_holder)

    if how == "safeTransferFrom":
        credit.safeTransferFrom(holder, entity, batches.v2021, INCOMING, b"", sender=holder)
    else:
        credit.safeBatchTransferFrom(holder, entity, [batches.v2021], [INCOMING], b"", sender=holder)

    assert entity.attempts() == 1 and entity.lastSucceeded() is True
    assert periods.status(1, entity).surrendered == 1_800
    assert retirement.certificate(1).totalAmount == 1_800
    assert credit.balanceOf(entity, batches.v2021) == 5_000 + INCOMING - 1_800
    assert credit.totalRetired(batches.v2021) == 1_800


def test_incoming_transfer_hook__surrenders_past_its_obligation__refused_transfer_still_lands(
    credit, retirement, periods, holder, other_holder, batches, contract_entity
):
    entity = contract_entity
    entity.arm(periods, surrender_call(periods, 1, batches.v2021, 2_001), sender=other_holder)

    credit.safeTransferFrom(holder, entity, batches.v2021, INCOMING, b"", sender=holder)

    assert entity.attempts() == 1 and entity.lastSucceeded() is False
    assert decode_error(periods, entity.lastRevertData()) == (
        "ComplianceExceedsObligation",
        dict(periodId=1, entity=entity.address.lower(), amount=2_001, remaining=2_000),
    )
    assert periods.status(1, entity).surrendered == 0 and retirement.certificateCount() == 0
    assert credit.balanceOf(entity, batches.v2021) == 5_000 + INCOMING


def test_issuance_hook__surrenders_from_inside__token_guard_refuses(
    credit, retirement, periods, issuer, other_holder, batches, contract_entity
):
    entity = contract_entity
    entity.arm(periods, surrender_call(periods, 1, batches.v2021, 1_000), sender=other_holder)

    credit.issue(batches.v2021, entity, INCOMING, ZERO_REF, sender=issuer)

    assert entity.attempts() == 1 and entity.lastSucceeded() is False
    # Every surrender burns through the token, whose guard is held for the whole issuance.
    assert decode_error(credit, entity.lastRevertData()) == ("ReentrancyGuardReentrantCall", {})
    assert periods.status(1, entity).surrendered == 0
    assert retirement.certificateCount() == 0
    assert credit.balanceOf(entity, batches.v2021) == 5_000 + INCOMING


def test_operator_hook__surrenders_for_the_entity_twice_over__second_refused_books_balance(
    project, credit, retirement, periods, admin, period_regulator, holder, other_holder, batches
):
    # A contract operator of `holder`, armed to surrender for it from inside its own ERC-1155 hook, while it is
    # itself surrendering for `holder` the whole remaining obligation: the hook is never reached, because a
    # surrender runs no hook; then, armed again, from a transfer's hook it finds nothing left to surrender.
    operator = project.ReentrantCertificateReceiver.deploy(sender=admin)
    credit.setApprovalForAll(operator, True, sender=holder)
    period_id = with_obligations(periods, period_regulator, {holder: 1_000})
    again = periods.surrenderFrom.encode_input(holder, period_id, [batches.v2021], [1_000], ZERO_REF)
    operator.arm(periods, again, sender=other_holder)

    operator.execute(periods, again, sender=other_holder)
    assert operator.attempts() == 0
    credit.safeTransferFrom(holder, operator, batches.v2021, INCOMING, b"", sender=holder)

    assert operator.attempts() == 1 and operator.lastSucceeded() is False
    assert decode_error(periods, operator.lastRevertData()) == (
        "ComplianceExceedsObligation",
        dict(periodId=period_id, entity=holder.address.lower(), amount=1_000, remaining=0),
    )
    assert periods.status(period_id, holder).surrendered == 1_000
    assert retirement.certificateCount() == 1
    assert credit.totalRetired(batches.v2021) == 1_000
    assert credit.balanceOf(holder, batches.v2021) == 100_000 - 1_000 - INCOMING


# ------------------------------------------------------------------ the operator is held to freeze and allowlist


def test_surrender_from__frozen_operator__reverts_nothing_booked(
    credit, retirement, periods, period_regulator, regulator, holder, stranger, batches
):
    period_id = with_obligations(periods, period_regulator, {holder: 100})
    credit.setApprovalForAll(stranger, True, sender=holder)
    credit.setFrozen(stranger, True, "sanctions", sender=regulator)
    with reverts(credit.CreditAccountFrozen, account=stranger):
        periods.surrenderFrom(holder, period_id, [batches.v2021], [5], ZERO_REF, sender=stranger)
    assert periods.status(period_id, holder).surrendered == 0
    assert credit.balanceOf(holder, batches.v2021) == 100_000
    assert retirement.certificateCount() == 0


def test_permissioned__operator_not_allowlisted__surrender_from_reverts(
    permissioned_suite, registrar, verifier, issuer, compliance, period_regulator, holder, stranger
):
    s = permissioned_suite
    make = Factory(s.registry, s.credit, registrar, verifier, issuer, holder)
    token_id = make.batch(make.project())
    s.credit.setAllowed([holder], True, sender=compliance)
    s.credit.issue(token_id, holder, 1_000, ZERO_REF, sender=issuer)
    period_id = with_obligations(s.compliance, period_regulator, {holder: 100})
    s.credit.setApprovalForAll(stranger, True, sender=holder)
    with reverts(s.credit.CreditAccountNotAllowed, account=stranger):
        s.compliance.surrenderFrom(holder, period_id, [token_id], [5], ZERO_REF, sender=stranger)
    assert s.compliance.status(period_id, holder).surrendered == 0
    # Allowlisted, the same operator surrenders for the entity.
    s.credit.setAllowed([stranger], True, sender=compliance)
    s.compliance.surrenderFrom(holder, period_id, [token_id], [5], ZERO_REF, sender=stranger)
    assert s.compliance.status(period_id, holder).surrendered == 5


def test_surrender__reference_squatted_by_another_account__entity_still_surrenders(
    credit, retirement, periods, period_regulator, holder, other_holder, batches
):
    period_id = with_obligations(periods, period_regulator, {holder: 100})
    ref = order_ref(9)
    # Another account retires first with the entity's (predictable) surrender reference.
    squat = retirement.retire([batches.v2021], [1], retirement_input(retirementRef=ref), sender=other_holder)
    assert retirement.certificateOfReference(other_holder, ref) == squat.return_value
    certificate_id = periods.surrender(period_id, [batches.v2021], [5], ref, sender=holder).return_value
    assert retirement.certificateOfReference(holder, ref) == certificate_id != squat.return_value
    assert periods.status(period_id, holder).surrendered == 5
