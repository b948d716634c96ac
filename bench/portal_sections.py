"""Provenance pages benchmark: the first and the last page of the overall, package and licence timelines with
their SVG charts, served by `runserver` on a throwaway anvil and SecantusDB holding the demo 5G core NS, one
private licence and a provenance log of ENTRIES decisions and usage events (goal: p95 <= 50 ms at 100,000)."""

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

ENTRIES = 100_000
BATCH = 5_000
REQUESTS = 20
WORKER_TIMEOUT_S = 1800


def bench_portal_sections() -> dict[str, float]:
    """Start a throwaway anvil and SecantusDB, set up and measure in a fresh Django process, stop both."""
    return run_worker("bench.portal_sections", db_on_disk=True, timeout_s=WORKER_TIMEOUT_S)


# --- the worker: runs with Django pointed at the throwaway services ---


def _log(ns_id: str, licensee: str) -> tuple[str, int]:
    """ENTRIES hash-chained provenance entries for the NS in the shapes marketplace.licensing.licences writes,
    inserted in batches (appending them one by one would dominate the run); returns the package id and
    the licence id."""
    from django.db import connection
    from django.utils import timezone

    from ledger.models import AcquiredLicence
    from ledger.provenance_verify import GENESIS_PREV_HASH, entry_hash
    from marketplace.contract_manager.models import ProvenanceEntry
    from marketplace.contract_manager.provenance import HEAD, entry_fields, provenance_head_seq
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
    # After what setting up logged (registrations, the offer): the log grows to ENTRIES.
    head = provenance_head_seq()
    last = ProvenanceEntry.objects.filter(seq=head).first()
    previous, entries = (last.entry_hash if last else GENESIS_PREV_HASH), []
    started = time.perf_counter()
    for seq in range(head + 1, ENTRIES + 1):
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
        if len(entries) == BATCH:
            ProvenanceEntry.objects.bulk_create(entries)
            entries = []
    ProvenanceEntry.objects.bulk_create(entries)
    # Appending one by one moves the head document along; a bulk insert does not. Without it, the head found is
    # stale and confirmed (its entry exists), so the overall timeline would list the first few entries only.
    heads = connection.database[HEAD]  # type: ignore[attr-defined]
    heads.replace_one({"_id": "head"}, {"_id": "head", "seq": ENTRIES, "hash": previous})
    assert provenance_head_seq() == ENTRIES, "the overall timeline does not count the whole log"
    progress(f"portal sections: {ENTRIES} provenance entries in {time.perf_counter() - started:.0f} s")
    return str(ns.package.pk), int(licence.licence_id)


def _place() -> float:
    """What the worker's tick does with entries it has not placed yet: their positions in the package's and the
    licence's timelines (here all at once, as after an upgrade or a long outage of the worker)."""
    from marketplace.contract_manager.provenance import provenance_positions_catch_up

    started = time.perf_counter()
    placed = provenance_positions_catch_up()
    elapsed = time.perf_counter() - started
    progress(f"portal sections: placed {placed} entries in their timelines in {elapsed:.0f} s")
    return elapsed


def _measure(base: str, paths: dict[str, str]) -> dict[str, float]:
    results: dict[str, float] = {}
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
    placing_s = _place()
    from marketplace.contract_manager.provenance import scope_count

    def last(count: int) -> int:
        return max(1, -(-count // 50))

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
        package, licence = f"/packages/{package_id}/provenance", f"/licences/{licence_id}/provenance"
        pages = {
            "overall_first": "/provenance/",
            "overall_last": f"/provenance/?page={last(ENTRIES)}",
            "package_first": package,
            "package_last": f"{package}?page={last(scope_count(f'package:{package_id}'))}",
            "licence_first": licence,
            "licence_last": f"{licence}?page={last(scope_count(f'licence:{licence_id}'))}",
        }
        measured = _measure(base, {f"provenance_page_100k_{name}": path for name, path in pages.items()})
        results = {
            **measured,
            "provenance_pages_entries": float(ENTRIES),
            "provenance_positions_100k_s": round(placing_s, 1),
            "provenance_page_100k_p95_ms": max(v for k, v in measured.items() if k.endswith("_p95_ms")),
        }
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
