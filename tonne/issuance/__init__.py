"""Bulk issuance of credits from a CSV file: validate everything, then issue with ``issueMany``, resumably.

The CSV format (``project,batch,recipient,tonnes,reference``) is described in ``rows`` and in docs/issuance.md.

A run is a pipeline, one module a stage:

1. parse (``rows``): read the file and check every row statically; duplicate references are problems too.
2. chain checks (``checks``, reading through the generic ``tonne.chain.view``): wait until the sending account has no
   pending transaction, read the chain (batched JSON-RPC calls, pinned to one block), drop the rows whose orderRef
   is already used (the chain, not a local file, says what is done), and check the remaining rows against the chain.
3. plan (``plan``): resolve rows to orders, keep each project's orders contiguous, and cut them into ``issueMany``
   chunks that fit the block gas limit.
4. send (``send``): send the chunks in order; a failed chunk is re-checked against the chain so rows issued
   meanwhile by another transaction are dropped and the rest is sent again.

``run`` holds the entry points (``run_file``, ``issue_from_csv``), on the shared bulk pipeline (``tonne.bulk``: the
report format, pending wait and block pin, progress, dry run, the send loop); they run the stages streamed
(``stream``: ``scan`` spools the checked rows, ``plan_file`` checks them against the chain window by window, and
``FilePlan`` reads the chunks back), so a file of 100,000 rows is never all in memory. Any problem in the static
or chain pass stops the run before anything is sent, with a report naming ``file:line: field: message`` for every
problem found (``IssuanceError``, ``Problem`` in ``errors``).
"""

from tonne.chain.view import RPC_BATCH_SIZE, Call, ChainView, Reverted, error_names
from tonne.core.csvinput import MAX_ROW_TONNES
from tonne.issuance.checks import (
    BatchInfo,
    ChainState,
    Contracts,
    ProjectInfo,
    check_receivers,
    read_state,
)
from tonne.issuance.errors import IssuanceError, PendingTransactionsError, Problem, SendFailed
from tonne.issuance.plan import (
    DEFAULT_CHUNK_SIZE,
    GAS_PER_ORDER,
    GAS_PER_TX,
    MAX_BLOCK_SHARE,
    Order,
    Plan,
    chunk,
    encode_issue_many,
    estimated_gas,
    format_plan,
    group_by_project,
    max_chunk_size,
)
from tonne.issuance.rows import (
    HEADER,
    BatchRef,
    ProjectRef,
    Row,
    order_ref,
    parse_batch,
    parse_project,
    parse_recipient,
    parse_reference,
    parse_text,
    parse_tonnes,
    read_rows,
)
from tonne.issuance.run import ape_abi, issue_from_csv, run_file
from tonne.issuance.send import (
    ApeSender,
    IssueSummary,
    Progress,
    Sender,
    Sent,
    Web3Sender,
    execute,
    wait_for_receipt,
)
from tonne.issuance.stream import FilePlan, Scan, plan_file, scan

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "GAS_PER_ORDER",
    "GAS_PER_TX",
    "HEADER",
    "MAX_BLOCK_SHARE",
    "MAX_ROW_TONNES",
    "RPC_BATCH_SIZE",
    "ApeSender",
    "BatchInfo",
    "BatchRef",
    "Call",
    "ChainState",
    "ChainView",
    "Contracts",
    "FilePlan",
    "IssuanceError",
    "IssueSummary",
    "Order",
    "PendingTransactionsError",
    "Plan",
    "Problem",
    "Progress",
    "ProjectInfo",
    "ProjectRef",
    "Reverted",
    "Row",
    "Scan",
    "SendFailed",
    "Sender",
    "Sent",
    "Web3Sender",
    "ape_abi",
    "check_receivers",
    "chunk",
    "encode_issue_many",
    "error_names",
    "estimated_gas",
    "execute",
    "format_plan",
    "group_by_project",
    "issue_from_csv",
    "max_chunk_size",
    "order_ref",
    "parse_batch",
    "parse_project",
    "parse_recipient",
    "parse_reference",
    "parse_text",
    "parse_tonnes",
    "plan_file",
    "read_rows",
    "read_state",
    "run_file",
    "scan",
    "wait_for_receipt",
]
