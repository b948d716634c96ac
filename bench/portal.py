"""Portal benchmark: the catalogue page over 10,000 entries and the package, VNF and NS pages, as
served by a real `manage.py runserver` on a throwaway SecantusDB and anvil (the entries of
bench/search.py plus the demo packages, ingested for real; contracts deployed, so the pages' proof
lookups run). Times are per request at the client, on localhost."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest import progress  # noqa: E402
from bench.search import ENTRIES, _wait_until_listening, percentile  # noqa: E402
from bench.services import run_worker  # noqa: E402
from tests.processes import free_port  # noqa: E402

ROUNDS = 20  # every URL of a mix, this many times
WORKER_TIMEOUT_S = 1200
# What a visitor does on the catalogue: browse, page, type words, filter, sort; htmx swaps too.
CATALOGUE = [
    ("/packages/", False),
    ("/packages/?page=2", True),
    ("/packages/?q=firewall", True),
    ("/packages/?q=fire&kind=vnf", True),
    ("/packages/?q=5g+core&kind=ns", False),
    ("/packages/?kind=ns&format=osm&sort=name", True),
    ("/packages/?registered=yes&sort=-vcpus", False),
    ("/packages/?deprecated=hide&sort=memory&page=5", True),
    ("/packages/?vendor=Aurora+Networks&min_vcpus=8", False),
    ("/packages/?q=user+plane&all_versions=on&page=2", True),
]


def _fetch(url: str, htmx: bool = False) -> float:
    """Milliseconds to GET `url` and read the whole answer, which must be a 200."""
    request = urllib.request.Request(url, headers={"HX-Request": "true"} if htmx else {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"GET {url} answered {exc.code}: {exc.read()[:500]!r}") from None
    return (time.perf_counter() - started) * 1000


def _measure(base: str, urls: list[tuple[str, bool]]) -> list[float]:
    for path, htmx in urls:  # warm-up: imports, connections, the catalogue index
        _fetch(base + path, htmx)
    return [_fetch(base + path, htmx) for _ in range(ROUNDS) for path, htmx in urls]


def _summary(prefix: str, samples: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": round(statistics.median(samples), 2),
        f"{prefix}_p95_ms": round(percentile(samples, 95), 2),
        f"{prefix}_requests": len(samples),
    }


def bench_portal() -> dict[str, float]:
    progress("portal: starting a throwaway SecantusDB and anvil")
    results = run_worker("bench.portal", db_on_disk=True, timeout_s=WORKER_TIMEOUT_S)
    progress(
        f"portal: catalogue p50 {results['catalogue_page_10k_p50_ms']} ms, p95 {results['catalogue_page_10k_p95_ms']} "
        f"ms (cold {results['catalogue_page_10k_cold_ms']} ms); package page p95 "
        f"{results['package_detail_page_p95_ms']} ms; VNF/NS page p95 {results['descriptor_page_p95_ms']} ms"
    )
    return results


def _pages() -> dict[str, list[str]]:
    """The pages measured: every demo package and three seeded ones; every demo VNF and NS."""
    from marketplace.repository.models import NetworkService, Package, Vnf

    demo = list(
        Package.objects.filter(vendor__in=["NFV Marketplace Demo", "eu.nfvm.demo"]).values_list("pk", flat=True)
    )
    seeded = list(Package.objects.filter(vendor="Aurora Networks").values_list("pk", flat=True)[:3])
    return {
        "packages": [f"/packages/{pk}/" for pk in [*demo, *seeded]],
        "descriptors": [f"/vnfs/{pk}/" for pk in Vnf.objects.values_list("pk", flat=True)]
        + [f"/nss/{pk}/" for pk in NetworkService.objects.values_list("pk", flat=True)],
    }


def _serve_and_measure() -> dict[str, float]:
    """In the worker, against the services bench.services started: the catalogue, the demo
    packages ingested for real, contracts deployed; then a runserver and the requests."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from ledger.client import get_chain_client
    from ledger.services import contracts_deploy
    from ledger.signer import operator_account
    from marketplace.repository import services
    from marketplace.repository.models import Package

    contracts_deploy(client=get_chain_client(), deployer=operator_account())
    progress(f"portal: inserting {ENTRIES} catalogue entries and ingesting the demo packages")
    # Its own process: the seeding turns off created_at's auto_now_add, which the ingest needs.
    subprocess.run(
        [sys.executable, "-m", "bench.search", "seed", str(ENTRIES)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )
    call_command("seed_demo", "--force", verbosity=0)
    pages = _pages()
    results: dict[str, float] = {}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = Path(os.environ["NFVM_BENCH_TMP"]) / "runserver.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            _wait_until_listening(port, server, log_path)
            _fetch(base + "/healthz")  # imports and connections, not the catalogue
            # The first catalogue request of a process builds its index of the 10,000 entries.
            results["catalogue_page_10k_cold_ms"] = round(_fetch(base + "/packages/"), 2)
            progress(f"portal: {ROUNDS} rounds of {len(CATALOGUE)} catalogue requests")
            results.update(_summary("catalogue_page_10k", _measure(base, CATALOGUE)))
            # A developer edits a package (in another process): the server's next request
            # refetches that package into its index.
            package = Package.objects.filter(vendor="NFV Marketplace Demo").first()
            assert package is not None
            services.package_metadata_update(
                package=package, actor=package.uploader, changes={"description": "Edited while the bench ran."}
            )
            results["catalogue_page_10k_after_write_ms"] = round(_fetch(base + "/packages/"), 2)
            progress(f"portal: {ROUNDS} rounds of {len(pages['packages'])} package pages")
            results.update(_summary("package_detail_page", _measure(base, [(p, False) for p in pages["packages"]])))
            progress(f"portal: {ROUNDS} rounds of {len(pages['descriptors'])} VNF and NS pages")
            results.update(_summary("descriptor_page", _measure(base, [(p, False) for p in pages["descriptors"]])))
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return results


if __name__ == "__main__":
    print(json.dumps(_serve_and_measure()))
