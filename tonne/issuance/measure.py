"""Run one issuance of a CSV file in a process of its own and print what it cost, for ``make bench``.

    python -m tonne.issuance.measure --rpc URL --key HEX --credit ADDR --registry ADDR --csv FILE
                                     [--chunk-size N] [--window N] [--dry-run] [--profile OUT]

It runs the issue script's own pipeline (``run_file``: the static pass, the chain pass, the plan, the sends) with a
plain web3 sender, so the process holds only the tool and web3, not ape. Its peak memory is the high-water mark of
its resident set, ``VmHWM`` in /proc/self/status: that belongs to this process's own address space, whereas
``ru_maxrss`` carries the parent's peak over ``fork``/``exec`` (a child of the ~170 MB bench process reports at
least 170 MB whatever it does). It prints one JSON line: the summary, the time to the plan (every check done:
``check_seconds``), the chunk size used (``--chunk-size``, else sized from the block gas limit), the blocks mined
meanwhile, the peak resident memory after the imports (``baseline_kb``) and at the end (``peak_kb``);
``--profile`` writes a cProfile.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def peak_kb() -> int:
    """This process's peak resident set in KB: ``VmHWM`` (Linux), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rpc", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--credit", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--window", type=int, default=None)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--profile", default=None)
    args = parser.parse_args(argv)

    from eth_account import Account
    from web3 import Web3

    from tonne.chain.send import Web3Sender
    from tonne.chain.view import ChainView
    from tonne.issuance import Contracts, run_file

    w3 = Web3(Web3.HTTPProvider(args.rpc, request_kwargs={"timeout": 120}))
    view = ChainView(w3)
    contracts = Contracts(credit=args.credit, registry=args.registry)
    sender = Web3Sender(w3, Account.from_key(args.key))
    baseline = peak_kb()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    planned: list[float] = []
    chunk_sizes: list[int] = []
    first_block = w3.eth.block_number
    summary = run_file(
        args.csv,
        view,
        contracts,
        sender,
        chunk_size=args.chunk_size,
        **({"window": args.window} if args.window else {}),
        dry_run=args.dry_run,
        on_plan=lambda plan: (planned.append(time.perf_counter()), chunk_sizes.append(plan.chunk_size)),
    )
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    out = {
        "rows": summary.rows,
        "issued": summary.issued,
        "already_done": summary.already_done,
        "txs": summary.txs,
        "blocks": w3.eth.block_number - first_block,
        "chunk_size": chunk_sizes[0] if chunk_sizes else None,
        "gas_used": summary.gas_used,
        "seconds": seconds,
        "check_seconds": (planned[0] if planned else time.perf_counter()) - started,
        "baseline_kb": baseline,
        "peak_kb": peak_kb(),
    }
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
