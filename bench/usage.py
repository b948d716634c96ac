"""Usage-event benchmark: the decision point on downloads, scaling and transfers, in-process, on a
throwaway anvil and SecantusDB holding the demo 5G core NS under a private offer (5 seats) and a licence."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.entitlement import _setup, percentile, progress  # noqa: E402
from bench.services import run_worker  # noqa: E402

SAMPLES = 200
SCALE_CYCLES = 50
WORKER_TIMEOUT_S = 240


def bench_usage() -> dict[str, float]:
    """Start a throwaway anvil and SecantusDB, set up and measure in a fresh Django process, stop both."""
    return run_worker("bench.usage", db_on_disk=True, timeout_s=WORKER_TIMEOUT_S)


def _timed(fn: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def worker() -> int:
    ns_id, licensee, outsider = _setup(Path(os.environ["NFVM_BENCH_TMP"]))  # runs django.setup()
    from ledger.models import AcquiredLicence
    from marketplace.contract_manager import decisions
    from marketplace.licensing import instances as ns_instances
    from marketplace.licensing import offers as licence_offers
    from marketplace.repository.models import NetworkService

    ns = NetworkService.objects.select_related("package").get(pk=ns_id)
    package = ns.package
    licence = AcquiredLicence.objects.get(licensee=licensee)

    def download(user: str) -> None:
        with contextlib.suppress(decisions.LicenceDenied):
            decisions.package_download_authorise(package=package, user=user, what="archive")

    for user in (licensee, outsider):  # first queries and caches out of the numbers
        download(user)
    permit = _timed(lambda: download(licensee), SAMPLES)
    deny = _timed(lambda: download(outsider), SAMPLES)
    decide_only = _timed(lambda: decisions.download_decide(package=package, user=licensee), SAMPLES)
    progress(
        f"usage: download decisions, permit p50 {statistics.median(permit):.2f} ms with its two log entries, "
        f"{statistics.median(decide_only):.2f} ms without"
    )

    instance = ns_instances.instance_create(ns=ns, user=licensee)

    def cycle() -> None:
        ns_instances.instance_scale(instance=instance, actor=licensee, change=1)
        ns_instances.instance_scale(instance=instance, actor=licensee, change=-1)

    cycle()
    scale = [ms / 2 for ms in _timed(cycle, SCALE_CYCLES)]
    progress(f"usage: scale steps (tracking driver), p50 {statistics.median(scale):.2f} ms")

    def transfer() -> None:
        # The bench offer is not transferable: the decision and its log entry are what is timed.
        with contextlib.suppress(decisions.LicenceDenied):
            licence_offers.licence_transfer_prepare(licence=licence, holder=licensee, recipient=outsider)

    transfers = _timed(transfer, SAMPLES)
    results = {
        "usage_download_decision_permit_p50_ms": round(statistics.median(permit), 3),
        "usage_download_decision_permit_p95_ms": round(percentile(permit, 95), 3),
        "usage_download_decision_deny_p50_ms": round(statistics.median(deny), 3),
        "usage_download_decide_only_p50_ms": round(statistics.median(decide_only), 3),
        "usage_scale_step_p50_ms": round(statistics.median(scale), 3),
        "usage_scale_step_p95_ms": round(percentile(scale, 95), 3),
        "usage_transfer_decision_p50_ms": round(statistics.median(transfers), 3),
    }
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(worker())
