"""Retirement of credits from the command line and from CSV files: validate everything, then retire, resumably.

One request is one retirement and one certificate: a CSV row (``project,batch,tonnes,beneficiary_name,reason,
jurisdiction,period,reference`` plus optional ``beneficiary`` and ``holder``; see ``rows`` and docs/retirement.md),
or one ``ape run retire one`` command, which may name several batches. A run is a pipeline, one module a stage:

1. parse (``rows``): read the file, or the command's options, and check every value statically.
2. chain checks (``checks``, reading through ``tonne.chain.view``): wait until the sending account has no pending
   transaction, read the chain at one block, set aside the requests whose retiring account already used their
   ``retirementRef`` (done when that certificate is the request's own retirement, a conflict otherwise), check the
   rest against the chain, then simulate each one.
3. plan (``plan``): one certificate per request, in file order; one ``retireBatch`` transaction per ``batch_size``
   consecutive requests (``retire`` / ``retireFrom`` for a batch of one; ``issueAndRetire`` always alone), each
   transaction simulated at the planning block.
4. send (``send``): up to ``window`` transactions in flight; a failure is re-checked against the chain, so a request
   done meanwhile by another transaction is counted as such (and the rest of its batch sent again), and anything
   else stops the run, naming the row.

Idempotency: ``retirementRef = keccak256(utf8(reference))``, usable once, ever, by each retiring account
(``certificateOfReference(account, ref)``), so a killed run re-run on the same file retires each row exactly
once. ``run`` holds the entry points.
"""

from tonne.retirement.checks import (
    BatchInfo,
    ChainState,
    Contracts,
    ProjectInfo,
    check_against_chain,
    read_state,
)
from tonne.retirement.plan import (
    DEFAULT_BATCH_SIZE,
    ISSUE_AND_RETIRE,
    RETIRE,
    RETIRE_BATCH,
    RETIRE_FROM,
    Batch,
    Plan,
    Retirement,
    format_plan,
    group,
    prepare,
    simulate,
    simulate_batches,
)
from tonne.retirement.rows import (
    HEADER,
    MAX_IDS,
    MAX_NAME,
    MAX_REASON,
    OPTIONAL,
    REQUIRED,
    ZERO_ADDRESS,
    Credit,
    Request,
    RetirementError,
    auto_reference,
    command_request,
    parse_jurisdiction,
    parse_period,
    parse_text,
    read_requests,
    retirement_ref,
)
from tonne.retirement.run import ape_context, retire_from_csv, retire_request, run_file, run_requests
from tonne.retirement.send import (
    DEFAULT_WINDOW,
    RETIREMENT_RECORDED,
    RETIREMENT_RECORDED_TOPIC,
    Certified,
    RetireSummary,
    certificate_ids,
    execute,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_WINDOW",
    "HEADER",
    "ISSUE_AND_RETIRE",
    "MAX_IDS",
    "MAX_NAME",
    "MAX_REASON",
    "OPTIONAL",
    "REQUIRED",
    "RETIRE",
    "RETIRE_BATCH",
    "RETIREMENT_RECORDED",
    "RETIREMENT_RECORDED_TOPIC",
    "RETIRE_FROM",
    "ZERO_ADDRESS",
    "Batch",
    "BatchInfo",
    "Certified",
    "ChainState",
    "Contracts",
    "Credit",
    "Plan",
    "ProjectInfo",
    "Request",
    "RetireSummary",
    "Retirement",
    "RetirementError",
    "ape_context",
    "auto_reference",
    "certificate_ids",
    "check_against_chain",
    "command_request",
    "execute",
    "format_plan",
    "group",
    "parse_jurisdiction",
    "parse_period",
    "parse_text",
    "prepare",
    "read_requests",
    "read_state",
    "retire_from_csv",
    "retire_request",
    "retirement_ref",
    "run_file",
    "run_requests",
    "simulate",
    "simulate_batches",
]
