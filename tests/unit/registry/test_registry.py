"""CarbonRegistry: every custom-error path with its arguments, the serial-sorted batch list, and the events."""

from __future__ import annotations

from enum import IntEnum

import pytest

from support import (
    ZERO_REF,
    batch_input,
    events,
    plain,
    project_input,
    project_struct,
    reverts,
)
from tonne.core.ids import encode_id

# Session fixtures first, before any module state: ape rebases (re-runs) module fixtures otherwise.
pytestmark = pytest.mark.usefixtures("admin", "credit", "other_holder", "stranger")

ZERO_ADDRESS = "0x" + "00" * 20
MAX_BATCH_TONNES = 10**12
UINT64_MAX = 2**64 - 1


class Status(IntEnum):
    NONE = 0
    PENDING = 1
    APPROVED = 2
    SUSPENDED = 3
    TERMINATED = 4


ALLOWED_TRANSITIONS = {
    (Status.PENDING, Status.APPROVED),
    (Status.PENDING, Status.TERMINATED),
    (Status.APPROVED, Status.SUSPENDED),
    (Status.APPROVED, Status.TERMINATED),
    (Status.SUSPENDED, Status.APPROVED),
    (Status.SUSPENDED, Status.TERMINATED),
}
FROM_STATUSES = (Status.PENDING, Status.APPROVED, Status.SUSPENDED, Status.TERMINATED)
INVALID_TRANSITIONS = [(f, t) for f in FROM_STATUSES for t in Status if (f, t) not in ALLOWED_TRANSITIONS]


def register(registry, registrar, owner, **overrides) -> int:
    return registry.registerProject(project_input(owner=owner, **overrides), sender=registrar).return_value


def move_to(registry, registrar, project_id: int, status: Status) -> None:
    """Walks a Pending project to `status` along allowed transitions."""
    path = {
        Status.PENDING: [],
        Status.APPROVED: [Status.APPROVED],
        Status.SUSPENDED: [Status.APPROVED, Status.SUSPENDED],
        Status.TERMINATED: [Status.TERMINATED],
    }[status]
    for step in path:
        registry.setProjectStatus(project_id, step, "setup", sender=registrar)


def batch_list(registry, project_id: int) -> list[int]:
    """The project's batch numbers in list order, walking firstBatchNumber -> nextBatchNumber."""
    numbers = []
    number = registry.firstBatchNumber(project_id)
    while number != 0:
        numbers.append(number)
        number = registry.batch(encode_id(project_id, number)).nextBatchNumber
    return numbers


def serial_ranges(registry, project_id: int) -> list[tuple[int, int]]:
    ranges = []
    for number in batch_list(registry, project_id):
        view = registry.batch(encode_id(project_id, number))
        ranges.append((view.serialFirst, view.serialLast))
    return ranges


@pytest.fixture(scope="module")
def by_status(registry, registrar, holder) -> dict[Status, int]:
    """One project in each lifecycle status, built once for the module."""
    projects = {}
    for status in FROM_STATUSES:
        projects[status] = register(registry, registrar, holder)
        move_to(registry, registrar, projects[status], status)
    return projects


@pytest.fixture(scope="module")
def approved(registry, registrar, holder) -> int:
    """An Approved project with no batch."""
    project_id = register(registry, registrar, holder, country=b"BR")
    registry.setProjectStatus(project_id, Status.APPROVED, "validated", sender=registrar)
    return project_id


@pytest.fixture(scope="module")
def listed(registry, registrar, holder) -> tuple[int, list[int]]:
    """An Approved project with batches 1: [1, 100] and 2: [201, 300] (not verified)."""
    project_id = register(registry, registrar, holder)
    registry.setProjectStatus(project_id, Status.APPROVED, "validated", sender=registrar)
    ids = [
        registry.addBatch(project_id, batch_input(1, 100), 0, sender=registrar).return_value,
        registry.addBatch(project_id, batch_input(201, 300), 1, sender=registrar).return_value,
    ]
    return project_id, ids


@pytest.fixture(scope="module")
def unbound_registry(project, admin, registrar, verifier):
    """A registry with no credit token bound."""
    fresh = project.CarbonRegistry.deploy(0, admin, sender=admin)
    fresh.grantRole(fresh.REGISTRAR_ROLE(), registrar, sender=admin)
    fresh.grantRole(fresh.VERIFIER_ROLE(), verifier, sender=admin)
    return fresh


# ------------------------------------------------------------------ unknown ids


@pytest.mark.parametrize("which", ["zero", "next-unused"])
def test_project__unknown_id__reverts(registry, stranger, which):
    project_id = 0 if which == "zero" else registry.projectCount() + 1
    with reverts(registry.RegistryUnknownProject, projectId=project_id):
        registry.project.transact(project_id, sender=stranger)
    with reverts(registry.RegistryUnknownProject, projectId=project_id):
        registry.projectStandard.transact(project_id, sender=stranger)
    assert registry.projectStatus(project_id) == Status.NONE
    assert registry.firstBatchNumber(project_id) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda r, p, a: r.updateProject(p, project_input(owner=a), sender=a),
        lambda r, p, a: r.setProjectStatus(p, Status.APPROVED, "why", sender=a),
        lambda r, p, a: r.updateProjectDocuments(p, "ipfs://new", b"\x01" * 32, sender=a),
        lambda r, p, a: r.setProjectIssuer(p, a, True, sender=a),
        lambda r, p, a: r.addBatch(p, batch_input(1, 10), 0, sender=a),
    ],
    ids=["updateProject", "setProjectStatus", "updateProjectDocuments", "setProjectIssuer", "addBatch"],
)
def test_project_action__unknown_project__reverts(registry, registrar, call):
    unknown = registry.projectCount() + 1
    with reverts(registry.RegistryUnknownProject, projectId=unknown):
        call(registry, unknown, registrar)


@pytest.mark.parametrize("unknown_part", ["project", "batch-number"])
def test_batch__unknown_id__reverts(registry, verifier, listed, unknown_part):
    # Batch 1 of a project id not registered yet, or batch 3 of `listed` (which has batches 1 and 2).
    project_id = listed[0]
    unknown = encode_id(registry.projectCount() + 1, 1) if unknown_part == "project" else encode_id(project_id, 3)
    with reverts(registry.RegistryUnknownBatch, id=unknown):
        registry.batch.transact(unknown, sender=verifier)
    with reverts(registry.RegistryUnknownBatch, id=unknown):
        registry.batchPeriod.transact(unknown, sender=verifier)
    with reverts(registry.RegistryUnknownBatch, id=unknown):
        registry.verifyBatch(unknown, sender=verifier)
    assert registry.batchURI(unknown) == ""


def test_cheap_views__known_ids__match_the_full_views(registry, registrar, holder, listed):
    # batchPeriod and projectStandard serve contracts that check vintages and standards (CompliancePeriods).
    project_id, ids = listed
    for token_id in ids:
        full = registry.batch(token_id)
        assert tuple(registry.batchPeriod(token_id)) == (full.periodStart, full.periodEnd)
    other = register(registry, registrar, holder, standard="GS")
    for pid, standard in ((project_id, "VCS"), (other, "GS")):
        assert registry.projectStandard(pid) == registry.project(pid).standard == standard


# ------------------------------------------------------------------ registration


def test_register_project__valid__stores_pending_project_and_emits(registry, registrar, holder):
    fields = project_input(owner=holder)
    count = registry.projectCount()

    receipt = registry.registerProject(fields, sender=registrar)

    project_id = count + 1
    assert receipt.return_value == project_id
    assert registry.projectCount() == project_id
    assert events(receipt, registry, "ProjectRegistered") == [
        plain(
            projectId=project_id,
            standard=fields["standard"],
            externalId=fields["externalId"],
            owner=holder,
            input=project_struct(fields),
        )
    ]
    view = registry.project(project_id)
    assert plain(list(view)) == project_struct(fields) + [Status.PENDING, 1, 0]
    assert registry.projectIdOf(fields["standard"], fields["externalId"]) == project_id


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("standard", ""),
        ("externalId", ""),
        ("name", ""),
        ("methodology", ""),
        ("country", b"br"),
        ("country", b"B1"),
        ("country", b"@A"),
        ("country", b"A["),
        ("owner", ZERO_ADDRESS),
        ("metadataURI", ""),
        ("metadataHash", ZERO_REF),
    ],
)
def test_register_project__invalid_field__reverts(registry, registrar, holder, field, value):
    with reverts(registry.RegistryInvalidProjectField, field=field):
        registry.registerProject(project_input(**{"owner": holder, field: value}), sender=registrar)


@pytest.mark.parametrize("country", [b"AA", b"ZZ"])
def test_register_project__country_at_alphabet_edges__accepted(registry, registrar, holder, country):
    project_id = register(registry, registrar, holder, country=country)
    assert registry.project(project_id).country == country


def test_register_project__duplicate_standard_and_external_id__reverts(registry, registrar, holder, approved):
    existing = registry.project(approved)
    with reverts(
        registry.RegistryDuplicateProject,
        standard=existing.standard,
        externalId=existing.externalId,
        existingProjectId=approved,
    ):
        registry.registerProject(
            project_input(owner=holder, standard=existing.standard, externalId=existing.externalId),
            sender=registrar,
        )


def test_register_project__same_external_id_other_standard__accepted(registry, registrar, holder):
    first = register(registry, registrar, holder, standard="VCS", externalId="1234")
    second = register(registry, registrar, holder, standard="GS", externalId="1234")
    # The key must not be a plain concatenation: "VC" + "S1234" is another project than "VCS" + "1234".
    third = register(registry, registrar, holder, standard="VC", externalId="S1234")

    assert len({first, second, third}) == 3
    assert registry.projectIdOf("VCS", "1234") == first
    assert registry.projectIdOf("GS", "1234") == second
    assert registry.projectIdOf("VC", "S1234") == third


# ------------------------------------------------------------------ updateProject


def test_update_project__pending__rewrites_fields_and_key(registry, registrar, holder, other_holder):
    old = project_input(owner=holder)
    project_id = registry.registerProject(old, sender=registrar).return_value
    new = project_input(owner=other_holder, name="Renamed", country=b"KE")

    receipt = registry.updateProject(project_id, new, sender=registrar)

    assert events(receipt, registry, "ProjectUpdated") == [plain(projectId=project_id, input=project_struct(new))]
    assert plain(list(registry.project(project_id))) == project_struct(new) + [Status.PENDING, 1, 0]
    assert registry.projectIdOf(old["standard"], old["externalId"]) == 0
    assert registry.projectIdOf(new["standard"], new["externalId"]) == project_id
    # The old key is free again.
    reused = register(registry, registrar, holder, externalId=old["externalId"])
    assert registry.projectIdOf(old["standard"], old["externalId"]) == reused


def test_update_project__same_key__keeps_lookup(registry, registrar, holder):
    fields = project_input(owner=holder)
    project_id = registry.registerProject(fields, sender=registrar).return_value

    registry.updateProject(project_id, dict(fields, name="Same key"), sender=registrar)

    assert registry.projectIdOf(fields["standard"], fields["externalId"]) == project_id
    assert registry.project(project_id).name == "Same key"


def test_update_project__key_of_another_project__reverts(registry, registrar, holder, approved):
    project_id = register(registry, registrar, holder)
    taken = registry.project(approved)
    with reverts(
        registry.RegistryDuplicateProject,
        standard=taken.standard,
        externalId=taken.externalId,
        existingProjectId=approved,
    ):
        registry.updateProject(
            project_id,
            project_input(owner=holder, standard=taken.standard, externalId=taken.externalId),
            sender=registrar,
        )


def test_update_project__invalid_field__reverts(registry, registrar, holder):
    project_id = register(registry, registrar, holder)
    with reverts(registry.RegistryInvalidProjectField, field="country"):
        registry.updateProject(project_id, project_input(owner=holder, country=b"b1"), sender=registrar)


@pytest.mark.parametrize("status", [Status.APPROVED, Status.SUSPENDED, Status.TERMINATED])
def test_update_project__not_pending__reverts(registry, registrar, holder, by_status, status):
    project_id = by_status[status]
    with reverts(registry.RegistryProjectImmutable, projectId=project_id, status=status):
        registry.updateProject(project_id, project_input(owner=holder), sender=registrar)


# ------------------------------------------------------------------ status


@pytest.mark.parametrize(
    ("start", "target"), INVALID_TRANSITIONS, ids=[f"{f.name}->{t.name}" for f, t in INVALID_TRANSITIONS]
)
def test_set_project_status__invalid_transition__reverts(registry, registrar, by_status, start, target):
    project_id = by_status[start]
    with reverts(registry.RegistryInvalidStatusTransition, projectId=project_id, **{"from": start, "to": target}):
        registry.setProjectStatus(project_id, target, "because", sender=registrar)
    assert registry.projectStatus(project_id) == start


def test_set_project_status__empty_reason__reverts(registry, registrar, by_status):
    project_id = by_status[Status.PENDING]
    with reverts(registry.RegistryEmptyReason):
        registry.setProjectStatus(project_id, Status.APPROVED, "", sender=registrar)
    assert registry.projectStatus(project_id) == Status.PENDING


@pytest.mark.parametrize(
    ("start", "target", "restricted_after", "token_told"),
    [
        (Status.PENDING, Status.APPROVED, False, False),
        (Status.PENDING, Status.TERMINATED, False, False),
        (Status.APPROVED, Status.SUSPENDED, True, True),
        (Status.APPROVED, Status.TERMINATED, True, True),
        (Status.SUSPENDED, Status.APPROVED, False, True),
        (Status.SUSPENDED, Status.TERMINATED, True, False),
    ],
    ids=lambda v: v.name if isinstance(v, Status) else str(v),
)
def test_set_project_status__allowed_transition__moves_emits_and_restricts(
    registry, credit, registrar, by_status, start, target, restricted_after, token_told
):
    project_id = by_status[start]

    receipt = registry.setProjectStatus(project_id, target, "audit finding 7", sender=registrar)

    assert registry.projectStatus(project_id) == target
    assert registry.project(project_id).status == target
    assert events(receipt, registry, "ProjectStatusChanged") == [
        plain(
            **{"projectId": project_id, "from": start, "to": target},
            reason="audit finding 7",
            by=registrar,
        )
    ]
    assert credit.isProjectRestricted(project_id) is restricted_after
    expected_token_events = [plain(projectId=project_id, restricted=restricted_after)] if token_told else []
    assert events(receipt, credit, "ProjectRestrictionSet") == expected_token_events


def test_set_project_status__leaving_approved_without_token__reverts(unbound_registry, registrar, holder):
    project_id = register(unbound_registry, registrar, holder)
    unbound_registry.setProjectStatus(project_id, Status.APPROVED, "validated", sender=registrar)
    with reverts(unbound_registry.RegistryCreditTokenNotBound):
        unbound_registry.setProjectStatus(project_id, Status.SUSPENDED, "audit", sender=registrar)
    assert unbound_registry.projectStatus(project_id) == Status.APPROVED


# ------------------------------------------------------------------ documents


def test_update_project_documents__owner_then_registrar__versions_and_emits(registry, registrar, holder, approved):
    first = registry.updateProjectDocuments(approved, "ipfs://docs-v2", b"\x02" * 32, sender=holder)
    second = registry.updateProjectDocuments(approved, "ipfs://docs-v3", b"\x03" * 32, sender=registrar)

    assert events(first, registry, "ProjectDocumentsUpdated") == [
        plain(projectId=approved, version=2, metadataURI="ipfs://docs-v2", metadataHash=b"\x02" * 32)
    ]
    assert events(second, registry, "ProjectDocumentsUpdated") == [
        plain(projectId=approved, version=3, metadataURI="ipfs://docs-v3", metadataHash=b"\x03" * 32)
    ]
    view = registry.project(approved)
    assert (view.documentVersion, view.metadataURI, view.metadataHash) == (3, "ipfs://docs-v3", b"\x03" * 32)


def test_update_project_documents__stranger__reverts(registry, stranger, approved):
    with reverts(registry.RegistryNotProjectOwnerOrRegistrar, projectId=approved, account=stranger):
        registry.updateProjectDocuments(approved, "ipfs://forged", b"\x09" * 32, sender=stranger)
    assert registry.project(approved).documentVersion == 1


def test_update_project_documents__former_owner__reverts(registry, registrar, holder, other_holder):
    project_id = register(registry, registrar, holder)
    registry.updateProject(project_id, project_input(owner=other_holder), sender=registrar)

    with reverts(registry.RegistryNotProjectOwnerOrRegistrar, projectId=project_id, account=holder):
        registry.updateProjectDocuments(project_id, "ipfs://old-owner", b"\x04" * 32, sender=holder)
    registry.updateProjectDocuments(project_id, "ipfs://new-owner", b"\x04" * 32, sender=other_holder)
    assert registry.project(project_id).documentVersion == 2


@pytest.mark.parametrize("who", ["owner", "registrar"])
def test_update_project_documents__terminated__reverts(registry, registrar, holder, by_status, who):
    project_id = by_status[Status.TERMINATED]
    sender = holder if who == "owner" else registrar
    with reverts(registry.RegistryProjectImmutable, projectId=project_id, status=Status.TERMINATED):
        registry.updateProjectDocuments(project_id, "ipfs://late", b"\x05" * 32, sender=sender)


def test_update_project_documents__suspended__allowed(registry, holder, by_status):
    project_id = by_status[Status.SUSPENDED]
    registry.updateProjectDocuments(project_id, "ipfs://remediation", b"\x06" * 32, sender=holder)
    assert registry.project(project_id).documentVersion == 2


@pytest.mark.parametrize(
    ("uri", "digest", "field"), [("", b"\x07" * 32, "metadataURI"), ("ipfs://x", ZERO_REF, "metadataHash")]
)
def test_update_project_documents__empty_uri_or_hash__reverts(registry, holder, approved, uri, digest, field):
    with reverts(registry.RegistryInvalidProjectField, field=field):
        registry.updateProjectDocuments(approved, uri, digest, sender=holder)


# ------------------------------------------------------------------ issuers


def test_set_project_issuer__grant_and_revoke__emits_and_gates(registry, registrar, issuer, approved):
    granted = registry.setProjectIssuer(approved, issuer, True, sender=registrar)
    assert events(granted, registry, "ProjectIssuerSet") == [plain(projectId=approved, issuer=issuer, authorized=True)]
    assert registry.isProjectIssuer(approved, issuer)
    registry.requireProjectIssuer(approved, issuer)  # does not revert

    revoked = registry.setProjectIssuer(approved, issuer, False, sender=registrar)
    assert events(revoked, registry, "ProjectIssuerSet") == [plain(projectId=approved, issuer=issuer, authorized=False)]
    assert not registry.isProjectIssuer(approved, issuer)
    with reverts(registry.RegistryIssuerNotAuthorized, projectId=approved, account=issuer):
        registry.requireProjectIssuer.transact(approved, issuer, sender=issuer)


def test_set_project_issuer__authorised_without_issuer_role__not_an_issuer(registry, registrar, stranger, approved):
    registry.setProjectIssuer(approved, stranger, True, sender=registrar)
    assert not registry.isProjectIssuer(approved, stranger)
    with reverts(registry.RegistryIssuerNotAuthorized, projectId=approved, account=stranger):
        registry.requireProjectIssuer.transact(approved, stranger, sender=stranger)


def test_set_project_issuer__zero_address__reverts(registry, registrar, approved):
    with reverts(registry.RegistryIssuerNotAuthorized, projectId=approved, account=ZERO_ADDRESS):
        registry.setProjectIssuer(approved, ZERO_ADDRESS, True, sender=registrar)


# ------------------------------------------------------------------ addBatch: validation


@pytest.mark.parametrize("status", [Status.PENDING, Status.SUSPENDED, Status.TERMINATED])
def test_add_batch__project_not_approved__reverts(registry, registrar, by_status, status):
    project_id = by_status[status]
    with reverts(registry.RegistryProjectNotApproved, projectId=project_id, status=status):
        registry.addBatch(project_id, batch_input(1, 10), 0, sender=registrar)


def test_add_batch__first_after_last__reverts(registry, registrar, approved):
    with reverts(registry.RegistryInvalidSerialRange, serialFirst=11, serialLast=10):
        registry.addBatch(approved, batch_input(11, 10), 0, sender=registrar)


@pytest.mark.parametrize(
    ("first", "last", "tonnes"),
    [(1, MAX_BATCH_TONNES + 1, MAX_BATCH_TONNES + 1), (0, UINT64_MAX, 2**64)],
    ids=["one-over-max", "whole-uint64-range"],
)
def test_add_batch__too_large__reverts(registry, registrar, approved, first, last, tonnes):
    with reverts(registry.RegistryBatchTooLarge, quantityTonnes=tonnes, maxTonnes=MAX_BATCH_TONNES):
        registry.addBatch(approved, batch_input(first, last), 0, sender=registrar)


def test_add_batch__max_size_and_single_serial__accepted(registry, credit, registrar, verifier, approved):
    largest = registry.addBatch(approved, batch_input(1, MAX_BATCH_TONNES), 0, sender=registrar).return_value
    single = registry.addBatch(approved, batch_input(UINT64_MAX, UINT64_MAX), 1, sender=registrar).return_value

    registry.verifyBatch(largest, sender=verifier)
    registry.verifyBatch(single, sender=verifier)

    assert credit.issuanceCap(largest) == MAX_BATCH_TONNES * 1000
    assert credit.issuanceCap(single) == 1000
    assert serial_ranges(registry, approved) == [(1, MAX_BATCH_TONNES), (UINT64_MAX, UINT64_MAX)]


@pytest.mark.parametrize("period", [(1_700_000_000, 1_700_000_000), (1_700_000_001, 1_700_000_000)])
def test_add_batch__period_not_after_start__reverts(registry, registrar, approved, period):
    with reverts(registry.RegistryInvalidPeriod, periodStart=period[0], periodEnd=period[1]):
        registry.addBatch(approved, batch_input(1, 10, period=period), 0, sender=registrar)


def test_add_batch__empty_issuance_reference__reverts(registry, registrar, approved):
    with reverts(registry.RegistryEmptyIssuanceReference):
        registry.addBatch(approved, dict(batch_input(1, 10), issuanceReference=""), 0, sender=registrar)


@pytest.mark.parametrize("same_project", [True, False])
def test_add_batch__issuance_reference_used__reverts(registry, registrar, approved, listed, same_project):
    listed_project, listed_ids = listed
    # A free range at the right list position: only the reference is wrong.
    project_id, hint = (listed_project, 2) if same_project else (approved, 0)
    used = registry.batch(listed_ids[0]).issuanceReference
    with reverts(registry.RegistryIssuanceReferenceUsed, issuanceReference=used, existingId=listed_ids[0]):
        registry.addBatch(project_id, batch_input(501, 600, ref=used), hint, sender=registrar)


# ------------------------------------------------------------------ addBatch: serial list
# `listed` holds batch 1: [1, 100] and batch 2: [201, 300]; batch 1 -> batch 2 in the list.


@pytest.mark.parametrize(
    ("first", "last", "hint", "conflict"),
    [
        (100, 150, 1, 1),
        (50, 60, 1, 1),
        (1, 100, 1, 1),
        (150, 201, 1, 2),
        (101, 400, 1, 2),
        (0, 1, 0, 1),
        (0, 500, 0, 1),
    ],
    ids=[
        "predecessor-last-serial",
        "inside-predecessor",
        "equals-predecessor",
        "successor-first-serial",
        "encloses-successor",
        "new-head-touches-head",
        "new-head-encloses-all",
    ],
)
def test_add_batch__overlap__reverts(registry, registrar, listed, first, last, hint, conflict):
    project_id, _ = listed
    with reverts(
        registry.RegistrySerialOverlap,
        projectId=project_id,
        serialFirst=first,
        serialLast=last,
        conflictingId=encode_id(project_id, conflict),
    ):
        registry.addBatch(project_id, batch_input(first, last, ref="ISS-fresh"), hint, sender=registrar)
    assert registry.project(project_id).batchCount == 2


@pytest.mark.parametrize(
    ("first", "last", "hint"),
    [
        (401, 500, 0),  # belongs after batch 2, hinted as the head: too far left
        (401, 500, 1),  # belongs after batch 2, hinted after batch 1: too far left
        (101, 200, 2),  # belongs after batch 1, hinted after batch 2: too far right
        (0, 0, 1),  # belongs at the head, hinted after batch 1: too far right
        (401, 500, 3),  # 3 is the new batch's own number
        (401, 500, 99),  # no such batch
    ],
    ids=["head-too-left", "too-left", "too-right", "head-too-right", "own-number", "nonexistent"],
)
def test_add_batch__bad_position_hint__reverts(registry, registrar, listed, first, last, hint):
    project_id, _ = listed
    with reverts(registry.RegistryBadPositionHint, projectId=project_id, prevBatchNumberHint=hint, serialFirst=first):
        registry.addBatch(project_id, batch_input(first, last), hint, sender=registrar)
    assert batch_list(registry, project_id) == [1, 2]


def test_add_batch__head_middle_tail__list_stays_sorted(registry, registrar, approved):
    def add(first, last, hint):
        return registry.addBatch(approved, batch_input(first, last), hint, sender=registrar)

    add(1001, 2000, 0)  # 1: first batch
    add(3001, 4000, 1)  # 2: tail
    add(1, 1000, 0)  # 3: new head
    receipt = add(2001, 3000, 1)  # 4: middle, adjacent on both sides

    assert batch_list(registry, approved) == [3, 1, 4, 2]
    assert serial_ranges(registry, approved) == [(1, 1000), (1001, 2000), (2001, 3000), (3001, 4000)]
    assert registry.project(approved).batchCount == 4
    middle = encode_id(approved, 4)
    assert receipt.return_value == middle
    assert events(receipt, registry, "BatchAdded") == [
        plain(
            id=middle,
            projectId=approved,
            serialFirst=2001,
            serialLast=3000,
            periodStart=1609459200,
            periodEnd=1640995199,
            issuanceReference="ISS-2001-3000",
            metadataURI="ipfs://bafy-batch",
        )
    ]
    view = registry.batch(middle)
    assert plain(list(view)) == plain(
        [approved, 2001, 3000, 1609459200, 1640995199, False, ZERO_ADDRESS, 2, "ISS-2001-3000", "ipfs://bafy-batch"]
    )
    assert registry.batchOfIssuanceReference("ISS-2001-3000") == middle
    assert registry.batchURI(middle) == "ipfs://bafy-batch"


def test_add_batch__no_metadata_uri__batch_uri_empty(registry, registrar, approved):
    token_id = registry.addBatch(approved, batch_input(1, 10, uri=""), 0, sender=registrar).return_value
    assert registry.batchURI(token_id) == ""
    assert registry.batch(token_id).metadataURI == ""


# ------------------------------------------------------------------ verifyBatch


def test_verify_batch__unverified__opens_token_cap_and_emits(registry, credit, verifier, listed):
    _, ids = listed
    receipt = registry.verifyBatch(ids[0], sender=verifier)

    assert events(receipt, registry, "BatchVerified") == [plain(id=ids[0], verifier=verifier, quantityTonnes=100)]
    assert events(receipt, credit, "BatchOpened") == [plain(id=ids[0], capUnits=100_000)]
    view = registry.batch(ids[0])
    assert view.verified and plain(view.verifier) == plain(verifier)
    assert credit.issuanceCap(ids[0]) == 100_000
    assert credit.issuanceCap(ids[1]) == 0


def test_verify_batch__twice__reverts(registry, verifier, listed):
    _, ids = listed
    registry.verifyBatch(ids[0], sender=verifier)
    with reverts(registry.RegistryBatchAlreadyVerified, id=ids[0]):
        registry.verifyBatch(ids[0], sender=verifier)


@pytest.mark.parametrize("status", [Status.SUSPENDED, Status.TERMINATED])
def test_verify_batch__project_not_approved__reverts(registry, credit, registrar, verifier, listed, status):
    project_id, ids = listed
    registry.setProjectStatus(project_id, status, "audit", sender=registrar)
    with reverts(registry.RegistryProjectNotApproved, projectId=project_id, status=status):
        registry.verifyBatch(ids[0], sender=verifier)
    assert credit.issuanceCap(ids[0]) == 0


def test_verify_batch__no_credit_token__reverts(unbound_registry, registrar, verifier, holder):
    project_id = register(unbound_registry, registrar, holder)
    unbound_registry.setProjectStatus(project_id, Status.APPROVED, "validated", sender=registrar)
    token_id = unbound_registry.addBatch(project_id, batch_input(1, 10), 0, sender=registrar).return_value
    with reverts(unbound_registry.RegistryCreditTokenNotBound):
        unbound_registry.verifyBatch(token_id, sender=verifier)
    assert not unbound_registry.batch(token_id).verified


# ------------------------------------------------------------------ bindCreditToken


def test_bind_credit_token__already_bound__reverts(registry, credit, admin, stranger):
    with reverts(registry.RegistryCreditTokenAlreadyBound, current=credit):
        registry.bindCreditToken(stranger, sender=admin)
    assert registry.creditToken() == credit.address


def test_bind_credit_token__zero_address__reverts(unbound_registry, admin):
    with reverts(unbound_registry.RegistryZeroCreditToken):
        unbound_registry.bindCreditToken(ZERO_ADDRESS, sender=admin)


def test_bind_credit_token__unbound__binds_once_and_emits(unbound_registry, credit, admin):
    receipt = unbound_registry.bindCreditToken(credit, sender=admin)
    assert events(receipt, unbound_registry, "CreditTokenBound") == [plain(creditToken=credit)]
    assert unbound_registry.creditToken() == credit.address
    with reverts(unbound_registry.RegistryCreditTokenAlreadyBound, current=credit):
        unbound_registry.bindCreditToken(credit, sender=admin)
