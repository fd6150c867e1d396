"""MRV ingest throughput: readings per second with every signature checked, and peak memory (issue 14's bench).

``ingest_throughput(n)`` simulates ``n`` signed readings once (cached under ``cache``), then ingests them into a
fresh SQLite store in a subprocess, which reports its wall time, its CPU time and its workers', and the peak
resident memory (``ru_maxrss``) of the ingesting process and of its largest worker. The CPU figures give a rate
that does not depend on what else runs on the machine: ``cpu_bound_per_s`` = readings / (CPU seconds / cores).

    python -m tonne.mrv.bench 100000 1000000
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tonne.mrv.readings import Domain

BENCH_DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
METERS = 100


def readings_file(n: int, cache: Path) -> tuple[Path, Path]:
    from tonne.mrv.simulate import simulate

    cache.mkdir(parents=True, exist_ok=True)
    out, devices = cache / f"readings-{n}.csv", cache / f"readings-{n}.devices.json"
    if not (out.exists() and devices.exists()):
        meters = min(METERS, n)
        steps = -(-n // meters)
        tmp = out.with_suffix(".tmp")
        simulate(tmp, devices, BENCH_DOMAIN, meters=meters, steps=steps)
        if steps * meters != n:  # cut to exactly n readings (header + n lines)
            with tmp.open("rb") as src, out.open("wb") as dst:
                for i, line in enumerate(src):
                    if i > n:
                        break
                    dst.write(line)
            tmp.unlink()
        else:
            tmp.rename(out)
    return out, devices


_CHILD = """
import json, resource, sys, time
from tonne.mrv.ingest import ingest, load_devices
from tonne.mrv.store import ReadingStore
path, devices_path, url, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
devices, domain = load_devices(devices_path)
store = ReadingStore(url)
t = time.perf_counter()
result = ingest([path], store, devices, domain, workers=workers)
seconds = time.perf_counter() - t
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"lines": result.lines, "stored": result.stored, "problems": result.problems, "seconds": seconds,
                  "cpu_self": me.ru_utime + me.ru_stime, "cpu_workers": kids.ru_utime + kids.ru_stime,
                  "rss_self_kb": me.ru_maxrss, "rss_worker_kb": kids.ru_maxrss}))
"""


def ingest_throughput(n: int = 100_000, *, workers: int = 2, cache: str | Path | None = None) -> dict:
    """Ingest ``n`` simulated readings into a fresh SQLite store; returns readings/s, peak RSS (MB) and more."""
    cache = Path(cache) if cache else Path(tempfile.gettempdir()) / "tonne-mrv-bench"
    path, devices = readings_file(n, cache)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get(
            "PYTHONPATH", "")])}  # fmt: skip
        done = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(devices), url, str(workers)],
                              capture_output=True, text=True, env=env, timeout=3600, check=False)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"bench ingest failed: {done.stderr.strip()[-2000:]}")
        data = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = data["cpu_self"] + data["cpu_workers"]
    cores = os.cpu_count() or 1
    return {
        "readings": data["lines"],
        "stored": data["stored"],
        "seconds": round(data["seconds"], 2),
        "readings_per_s": round(data["lines"] / data["seconds"]),
        "peak_rss_mb": round(data["rss_self_kb"] / 1024, 1),
        "worker_peak_rss_mb": round(data["rss_worker_kb"] / 1024, 1),
        "cpu_seconds": round(cpu, 2),
        "cpu_bound_per_s": round(data["lines"] / (cpu / min(cores, workers + 1))) if cpu else 0,
        "workers": workers,
        "load_before": os.getloadavg()[0],
    }


if __name__ == "__main__":  # pragma: no cover
    for arg in sys.argv[1:] or ["100000"]:
        print(json.dumps(ingest_throughput(int(arg))))
