"""Benchmarks: start the marketplace as `make run` does and time it; merge into bench/results.json.

Each run uses its own throwaway var/ and ports, so it never touches the checkout's data.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.entitlement import bench_entitlement  # noqa: E402
from bench.ingest import bench_ingest  # noqa: E402
from bench.ledger import bench_ledger  # noqa: E402
from bench.load import bench_load  # noqa: E402
from bench.portal import bench_portal  # noqa: E402
from bench.portal_sections import bench_portal_sections  # noqa: E402
from bench.search import bench_search  # noqa: E402
from bench.usage import bench_usage  # noqa: E402
from tests.processes import (  # noqa: E402
    Checkout,
    free_port,
    get,
    interrupt,
    wait_for_http,
)

RESULTS = ROOT / "bench" / "results.json"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def bench_run_and_health() -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="nfvm-bench-") as tmp:
        checkout = Checkout.fresh(Path(tmp))
        port = free_port()
        base = f"http://127.0.0.1:{port}"

        # A first run on a fresh var/: start both services, migrate, deploy, serve.
        started = time.monotonic()
        server = checkout.start("run", "--addr", f"127.0.0.1:{port}")
        try:
            wait_for_http(base + "/", server)
            results["first_page_after_run_s"] = round(time.monotonic() - started, 3)
            for _ in range(20):  # warm up connections and caches
                get(base + "/healthz")
            samples = timed(lambda: get(base + "/healthz"), 300)
            results["healthz_p50_ms"] = round(statistics.median(samples), 3)
            results["healthz_p95_ms"] = round(percentile(samples, 95), 3)
            home = timed(lambda: get(base + "/"), 100)
            results["home_page_p50_ms"] = round(statistics.median(home), 3)
        finally:
            interrupt(server)

        # A restart on the same var/: the data and contracts are reused.
        started = time.monotonic()
        server = checkout.start("run", "--addr", f"127.0.0.1:{port}")
        try:
            wait_for_http(base + "/", server)
            results["first_page_after_restart_s"] = round(time.monotonic() - started, 3)
        finally:
            interrupt(server)
    return results


BENCHES: dict[str, Callable[[], dict[str, Any]]] = {
    "run": bench_run_and_health,
    "ingest": bench_ingest,
    "search": bench_search,
    "portal": bench_portal,
    "ledger": bench_ledger,
    "entitlement": bench_entitlement,
    "portal_sections": bench_portal_sections,
    "usage": bench_usage,
    "load": bench_load,
}


def main(argv: list[str]) -> int:
    """Run every benchmark, or those named (`bench/run.py ledger portal`); keep earlier figures."""
    unknown = [name for name in argv if name not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    fresh: dict[str, Any] = {}
    for name in argv or BENCHES:
        fresh.update(BENCHES[name]())
    results.update(fresh)
    RESULTS.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    width = max(len(k) for k in results)
    print(f"{'metric':<{width}}  value")
    for key, value in sorted(results.items()):
        mark = "" if key in fresh else "  (earlier run)"
        print(f"{key:<{width}}  {value}{mark}")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
