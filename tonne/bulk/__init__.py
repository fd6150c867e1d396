"""The bulk pipeline of the file tools: issuance, retirement and compliance obligations run on it, and the price
feed for its pending wait, dry run and sending (its report and chain reads stay its own: docs/bulk.md).

A run: read the rows and check them statically (``tonne.bulk.rows`` over ``tonne.core.csvinput``: one ``file:line:
field: message`` per problem, every problem of the file at once); wait for the sender's pending transactions and
read the chain in batched calls pinned to one block (``pinned`` / ``settle_and_pin``); drop the rows already done
on-chain (the chain, not a local file, is the record, so a crashed run is resumed by running it again); check the
rest; plan; then, unless it is a dry run or nothing is left, send (``send_windowed``: up to a window of
transactions in flight, each failure handed back to the tool, in file order, to re-check against the chain at one
pinned block; one refused for its nonce, another run of the account having taken it, is sent again) under a
progress bar (``run``; a node lost while sending is one line, ``RpcLost``).

A tool supplies only what is its own: its row schema and static checks, the chain state it reads, its plan, the
transaction it sends and how it recognises a row as done on-chain. See docs/bulk.md.
"""

from tonne.bulk.chain import pinned, settle_and_pin
from tonne.bulk.pipeline import Summary, run
from tonne.bulk.report import (
    PendingTransactionsError,
    Problem,
    RpcLost,
    SendFailed,
    ToolError,
    line_ranges,
    problem_summary,
    raise_problems,
    rpc_lost,
    rpc_of,
)
from tonne.bulk.send import NONCE_RETRIES, Progress, ape_send, nonce_clash, send_windowed, waited

__all__ = [
    "NONCE_RETRIES",
    "PendingTransactionsError",
    "Problem",
    "Progress",
    "RpcLost",
    "SendFailed",
    "Summary",
    "ToolError",
    "ape_send",
    "line_ranges",
    "nonce_clash",
    "pinned",
    "problem_summary",
    "raise_problems",
    "rpc_lost",
    "rpc_of",
    "run",
    "send_windowed",
    "settle_and_pin",
    "waited",
]
