"""Run one issuance of a CSV file in a process of its own and print what it cost, for ``make bench``.

    python -m tonne.issuance.measure --rpc URL --key HEX --credit ADDR --registry ADDR --csv FILE [--profile OUT]

It runs the issue script's own pipeline (``run_file``: the static pass, the chain pass, the plan, the sends) with a
plain web3 sender, so the process holds only the tool and web3, not ape: its peak resident memory (``ru_maxrss``,
read by the parent with ``os.wait4``) is the tool's, undiluted by ape's ~200 MB of imports. It prints one JSON line:
the summary, the process's resident memory before reading the file (``baseline_kb``, after the imports) and at the
end (``maxrss_kb``), and with ``--profile`` writes a cProfile of the run.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rpc", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--credit", required=True)
    parser.add_argument("--registry", required=True)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--profile", default=None)
    args = parser.parse_args(argv)

    from eth_account import Account
    from web3 import Web3

    from tonne.chain.send import Web3Sender
    from tonne.chain.view import ChainView
    from tonne.issuance import DEFAULT_CHUNK_SIZE, Contracts, run_file

    w3 = Web3(Web3.HTTPProvider(args.rpc, request_kwargs={"timeout": 120}))
    view = ChainView(w3)
    contracts = Contracts(credit=args.credit, registry=args.registry)
    sender = Web3Sender(w3, Account.from_key(args.key))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    summary = run_file(
        args.csv, view, contracts, sender, chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE, dry_run=args.dry_run
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
        "gas_used": summary.gas_used,
        "seconds": seconds,
        "baseline_kb": baseline,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
