"""Provenance pages benchmark: the overall, package and licence timelines with their SVG charts, served by
`runserver` on a throwaway anvil and SecantusDB holding the demo 5G core NS, one private licence and a
provenance log of ENTRIES decisions and usage events."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.entitlement import _setup, _wait_for, percentile, progress  # noqa: E402
from bench.services import run_worker  # noqa: E402
from tests.processes import free_port  # noqa: E402

ENTRIES = 2_001
REQUESTS = 20
WORKER_TIMEOUT_S = 300


def bench_portal_sections() -> dict[str, float]:
    """Start a throwaway anvil and SecantusDB, set up and measure in a fresh Django process, stop both."""
    return run_worker("bench.portal_sections", db_on_disk=True, timeout_s=WORKER_TIMEOUT_S)


# --- the worker: runs with Django pointed at the throwaway services ---


def _log(ns_id: str, licensee: str) -> tuple[str, int]:
    """ENTRIES hash-chained provenance entries for the NS in the shapes marketplace.licensing.licences writes,
    inserted in batches (appending them one by one would dominate the run); returns the package id and
    the licence id."""
    from django.utils import timezone

    from ledger.models import AcquiredLicence
    from ledger.provenance_verify import GENESIS_PREV_HASH, entry_hash
    from marketplace.contract_manager.models import ProvenanceEntry
    from marketplace.contract_manager.provenance import entry_fields
    from marketplace.repository.models import NetworkService

    ns = NetworkService.objects.select_related("package").get(pk=ns_id)
    licence = AcquiredLicence.objects.get(licensee=licensee)
    reason = f"private licence #{licence.licence_id}: 0 of 2 instances running"
    shapes = [
        ("decision", f"ns:{ns.pk}", {"permit": True, "reason": reason, "licence_id": licence.licence_id}),
        ("instantiate", "instance:{i}", {"ns": str(ns.pk), "state": "running", "licence_id": licence.licence_id}),
        ("terminate", "instance:{i}", {"ns": str(ns.pk)}),
    ]
    now = timezone.now().replace(microsecond=0)
    previous, entries = GENESIS_PREV_HASH, []
    for seq in range(1, ENTRIES + 1):
        kind, subject, payload = shapes[(seq - 1) % 3]
        entry = ProvenanceEntry(
            seq=seq,
            kind=kind,
            actor=licensee,
            subject=subject.format(i=(seq - 1) // 3),
            payload=payload,
            created_at=now,
            prev_hash=previous,
        )
        entry.entry_hash = previous = entry_hash(entry_fields(entry))
        entries.append(entry)
    ProvenanceEntry.objects.bulk_create(entries, batch_size=500)
    progress(f"portal sections: {ENTRIES} provenance entries")
    return str(ns.package.pk), int(licence.licence_id)


def _measure(base: str, paths: dict[str, str]) -> dict[str, float]:
    results: dict[str, float] = {"provenance_pages_entries": float(ENTRIES)}
    for name, path in paths.items():
        for _ in range(3):  # warm up
            urllib.request.urlopen(base + path, timeout=60).read()
        samples = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            with urllib.request.urlopen(base + path, timeout=60) as response:
                response.read()
            samples.append((time.perf_counter() - started) * 1000)
        results[f"{name}_p50_ms"] = round(statistics.median(samples), 1)
        results[f"{name}_p95_ms"] = round(percentile(samples, 95), 1)
        progress(f"portal sections: {name} p50 {results[f'{name}_p50_ms']} ms")
    return results


def worker() -> int:
    import json

    tmp = Path(os.environ["NFVM_BENCH_TMP"])
    ns, licensee, _ = _setup(tmp)
    package_id, licence_id = _log(ns, licensee)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp / "runserver.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        _wait_for(base + "/healthz", server)
        results = _measure(
            base,
            {
                "provenance_page": "/provenance/",
                "provenance_last_page": f"/provenance/?page={-(-ENTRIES // 50)}",
                "package_provenance_page": f"/packages/{package_id}/provenance",
                "licence_provenance_page": f"/licences/{licence_id}/provenance",
            },
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(worker())
