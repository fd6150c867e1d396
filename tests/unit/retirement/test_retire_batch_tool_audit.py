"""Audit of the retire csv tool's batching (branch retire-batch), in-process against the test chain: a row done by
someone else between planning and sending, a batch that simulates but fails on-chain, rows of several holders in
one batch, and a run killed after some batches landed, then resumed. Each asserts the safe behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils import keccak

from support import ZERO_REF, Factory, retirement_input
from tonne.chain.send import ApeSender
from tonne.retirement import RetirementError, retire_from_csv, run_file
from tonne.retirement.run import ape_context

pytestmark = pytest.mark.usefixtures("chain", "project", "admin", "other_holder", "stranger")

HEADER = "project,batch,tonnes,beneficiary_name,reason,jurisdiction,period,reference,beneficiary,holder"


@pytest.fixture(scope="module")
def stock(open_suite, registrar, verifier, issuer, holder, other_holder):
    """A fresh project, batch 1: `holder` and `other_holder` hold 400 t each. Returns (project id, token id)."""
    make = Factory(open_suite.registry, open_suite.credit, registrar, verifier, issuer, holder)
    project_id = make.project()
    token_id = make.batch(project_id)
    for to in (holder, other_holder):
        open_suite.credit.issue(token_id, to, 400_000, ZERO_REF, sender=issuer)
    return project_id, token_id


def write(tmp_path: Path, project_id: int, rows: list[tuple[str, str]], tag: str) -> Path:
    """rows: (reference suffix, holder column); 1 t each, certificate to the holder."""
    path = tmp_path / f"{tag}.csv"
    lines = [HEADER] + [
        f"{project_id},1,1,Acme GmbH,Scope 1 FY2025,DE,2025,{tag}-{ref},,{holder}" for ref, holder in rows
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def references(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text().splitlines()[1:]:
        fields = line.split(",")
        out.append((fields[7], fields[9]))
    return out


def assert_each_row_once(open_suite, path: Path, sender, token_id: int, retired_before: int) -> None:
    retirement, credit = open_suite.retirement, open_suite.credit
    certificates = set()
    for reference, holder in references(path):
        cid = retirement.certificateOfReference(holder or sender.address, keccak(text=reference))
        assert cid, f"{reference} not retired"
        assert retirement.certificate(cid).retiringAccount == (holder or sender.address)
        certificates.add(cid)
    assert len(certificates) == len(references(path))
    assert credit.totalRetired(token_id) - retired_before == 1_000 * len(certificates)


def test_audit_tool__row_done_by_the_holder_meanwhile__batch_raced_rest_resent_each_row_once(
    open_suite, holder, other_holder, stranger, stock, tmp_path
):
    project_id, token_id = stock
    credit, retirement = open_suite.credit, open_suite.retirement
    credit.setApprovalForAll(stranger, True, sender=holder)
    credit.setApprovalForAll(stranger, True, sender=other_holder)
    # Rows of three holders mixed in each batch of 3: the holder, the other holder, the sender itself (blank).
    credit.safeTransferFrom(holder, stranger, token_id, 10_000, b"", sender=holder)
    rows = [(str(n), (holder.address, other_holder.address, "")[n % 3]) for n in range(7)]
    path = write(tmp_path, project_id, rows, "RACE")
    before = credit.totalRetired(token_id)

    def meanwhile(plan):  # between planning and sending, the holder retires row 5 (RACE-3) itself, same content
        assert len(plan.batches) == 3
        retirement.retire([token_id], [1_000], retirement_input(retirementRef=keccak(text="RACE-3"),
                          beneficiaryName="Acme GmbH", reason="Scope 1 FY2025"), sender=holder)  # fmt: skip

    summary = retire_from_csv(path, open_suite, stranger, batch_size=3, on_plan=meanwhile)
    assert (summary.retired, summary.raced) == (6, 1)
    assert_each_row_once(open_suite, path, stranger, token_id, before)


class KilledAfter(ApeSender):
    """An ApeSender that dies (KeyboardInterrupt, as from a kill) once ``landed`` receipts came back: the
    transactions still in flight stay in the node and are mined."""

    def __init__(self, account, provider, landed: int):
        super().__init__(account, provider)
        self.landed = landed

    def wait(self, tx_hash):
        sent = super().wait(tx_hash)
        self.landed -= 1
        if self.landed <= 0:
            raise KeyboardInterrupt
        return sent


def test_audit_tool__killed_after_a_batch_landed__resume_retires_every_row_exactly_once(
    open_suite, holder, other_holder, stranger, stock, tmp_path
):
    project_id, token_id = stock
    credit = open_suite.credit
    credit.setApprovalForAll(stranger, True, sender=holder)
    rows = [(str(n), holder.address if n % 2 else "") for n in range(11)]
    credit.safeTransferFrom(holder, stranger, token_id, 20_000, b"", sender=holder)
    path = write(tmp_path, project_id, rows, "KILL")
    before = credit.totalRetired(token_id)
    view, contracts, _ = ape_context(open_suite, stranger)
    killer = KilledAfter(stranger, credit.provider, landed=1)
    with pytest.raises(KeyboardInterrupt):
        run_file(path, view, contracts, killer, batch_size=3, window=2)
    landed = sum(
        1
        for reference, h in references(path)
        if open_suite.retirement.certificateOfReference(h or stranger.address, keccak(text=reference))
    )
    assert landed == 6  # both batches in flight landed; the run died after the first receipt

    summary = retire_from_csv(path, open_suite, stranger, batch_size=3)
    assert summary.already_done == landed and summary.retired == 11 - landed
    assert_each_row_once(open_suite, path, stranger, token_id, before)


def test_audit_tool__one_holder_of_a_mixed_batch_moves_credits_away__its_row_blamed_others_not_retired(
    open_suite, holder, other_holder, stranger, stock, tmp_path
):
    project_id, token_id = stock
    credit = open_suite.credit
    credit.setApprovalForAll(stranger, True, sender=holder)
    credit.setApprovalForAll(stranger, True, sender=other_holder)
    rows = [("0", holder.address), ("1", other_holder.address), ("2", holder.address)]
    path = write(tmp_path, project_id, rows, "MOVE")

    def move_away(plan):  # after the simulation, other_holder empties its balance
        credit.safeTransferFrom(other_holder, holder, token_id, 400_000, b"", sender=other_holder)

    with pytest.raises(RetirementError) as info:
        retire_from_csv(path, open_suite, stranger, batch_size=3, on_plan=move_away)
    # The row at fault (line 3, other_holder's) is named first, not the batch's first row.
    assert str(info.value).startswith("the retirement of line 3 (MOVE-1) failed: the retirement contract refuses it:")
    # Atomic: the holder's two good rows share the revert (Info: one holder's action blocks the others' rows).
    assert credit.totalRetired(token_id) == 0
