"""Entitlement benchmark: `GET /api/v1/licences/status` under 16 concurrent clients, on a throwaway anvil and
SecantusDB holding the demo 5G core NS and one private licence, against the same server's floor: a trivial
JSON view (`/livez`) under the same clients (`entitlement_vs_trivial_view_ratio`, goal >= 0.7;
`entitlement_alone_p50_ms`, goal <= 3).

Measured three times, back to back on the same data: against gunicorn started as a deployment starts it
(`gunicorn config.wsgi:application`; the `entitlement_*` figures, where an answer is remembered for
ENTITLEMENT_MAX_AGE_S), against the same gunicorn deciding every answer afresh (`entitlement_afresh_*`: the
decision's own cost), and against the dev server `make run` uses (`entitlement_runserver_*`), whose single
process holds one GIL for every request. Each server's `*_alone_p50_ms` is one status request alone, and its
`*_trivial_alone_p50_ms` one `/livez` request alone, the two taken in turns by one http.client client."""

from __future__ import annotations

import cProfile
import http.client
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.services import run_worker  # noqa: E402
from config import embedded  # noqa: E402
from tests.processes import free_port  # noqa: E402

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from ledger.client import ChainClient
    from marketplace.repository.models import NetworkService

DEMO = ROOT / "demo" / "packages" / "osm"
DEMO_PACKAGES = ("nfvm_demo_amf_vnf", "nfvm_demo_upf_vnf", "nfvm_demo_core_ns")
CLIENTS = 16
REQUESTS_PER_CLIENT = 60  # 960 in all, half for the licensee and half for a user without a licence
WARM_UP = 64
TARGET_P95_MS = 20.0
PROFILE_CALLS = 50
SERIAL_REQUESTS = 200
WORKER_TIMEOUT_S = 300
# Sync workers, one request at a time each, as many as gunicorn's documentation suggests to start with:
# 2 x cores + 1, so the cores stay busy while some workers wait on the store or the chain node.
GUNICORN_WORKERS = 2 * (os.cpu_count() or 1) + 1


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def bench_entitlement() -> dict[str, float]:
    """Start a throwaway anvil and SecantusDB, set up and measure in a fresh Django process, stop both."""
    return run_worker("bench.entitlement", db_on_disk=True, timeout_s=WORKER_TIMEOUT_S)


# --- the worker: runs with Django pointed at the throwaway services ---


def _index(chain: Any) -> None:
    from ledger.indexer import Indexer
    from ledger.projections import projections

    Indexer(chain, projections, confirmations=0).step()


def _tx_value(tx: dict[str, Any]) -> dict[str, Any]:
    """The services hand out `value` as hex for wallets; the chain client wants an int."""
    value = tx.get("value", 0)
    tx["value"] = int(value, 16) if isinstance(value, str) else value
    return tx


def demo_ns_registered(tmp: Path) -> tuple[NetworkService, ChainClient, LocalAccount]:
    """The demo 5G core NS and its VNFs ingested and registered on chain by the developer, on freshly
    migrated services with the contracts deployed. Returns (the NS, the chain client, the developer)."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)

    from eth_account import Account

    from ledger.client import get_chain_client
    from ledger.registry import PackageRegistry
    from ledger.services import contracts_deploy
    from ledger.signer import operator_account
    from marketplace.repository.models import NetworkService
    from marketplace.repository.packages.build import build
    from marketplace.repository.registration import line_claims_due, registration_prepare, registration_submit
    from marketplace.repository.services import package_ingest

    chain = get_chain_client()
    contracts_deploy(client=chain, deployer=operator_account())
    developer = Account.from_key(embedded.ANVIL_DEV_KEYS[1])
    packages = []
    for name in DEMO_PACKAGES:
        archive = build(DEMO / name, "osm", tmp / f"{name}.tar.gz")
        with archive.open("rb") as source:
            packages.append(package_ingest(source=source, uploader=developer.address).package)
    for package in packages:
        prepared = registration_prepare(package=package, actor=developer.address)
        claim = prepared["claim"]
        registration_submit(
            package=package,
            actor=developer.address,
            typed_data=prepared["typed_data"],
            signature=developer.sign_typed_data(full_message=prepared["typed_data"]).signature.to_0x_hex(),
            mode="relay",
            claim_typed_data=claim,
            claim_signature=developer.sign_typed_data(full_message=claim).signature.to_0x_hex() if claim else None,
        )
    # The lines' commitments wait their minimum age (the chain's clock moves on), then the worker reveals
    # the claims and relays the registrations.
    chain.w3.provider.make_request("evm_increaseTime", [PackageRegistry.deployed(chain).min_commitment_age()])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    line_claims_due()
    _index(chain)
    progress(f"ingested and registered {len(packages)} demo packages")
    return NetworkService.objects.get(package=packages[-1]), chain, developer


def _setup(tmp: Path) -> tuple[str, str, str]:
    """The demo NS registered by the developer, a private offer for it and the buyer's licence.

    Returns the NS id, the licensee and a user without a licence."""
    ns, chain, developer = demo_ns_registered(tmp)  # sets Django up first

    from eth_account import Account

    from ledger.models import LicenceOffer
    from marketplace.licensing.offers import agreement_prepare, offer_prepare, purchase_prepare

    buyer = Account.from_key(embedded.ANVIL_DEV_KEYS[2])
    outsider = Account.create()  # never bought anything

    prepared = offer_prepare(
        package=ns.package, provider=developer.address, kind="private", price=10**15, seats=2, duration_days=30
    )
    chain.transact(developer, _tx_value(prepared["transaction"]))  # type: ignore[arg-type]
    _index(chain)
    offer = LicenceOffer.objects.filter(digest="0x" + ns.package.digest).order_by("-offer_id").first()
    if offer is None:
        raise RuntimeError("the private offer was not indexed")
    typed = agreement_prepare(offer_id=offer.offer_id, licensee=buyer.address)["typed_data"]
    signature = buyer.sign_typed_data(full_message=typed).signature.to_0x_hex()
    purchase = purchase_prepare(offer_id=offer.offer_id, licensee=buyer.address, typed_data=typed, signature=signature)
    chain.transact(buyer, _tx_value(purchase["transaction"]))  # type: ignore[arg-type]
    _index(chain)
    progress(f"entitlement: offer #{offer.offer_id} bought by {buyer.address}")
    return str(ns.pk), buyer.address, outsider.address


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as response:
        body: dict[str, Any] = json.loads(response.read())
        return body


def _wait_for(url: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def _measure(base: str, ns: str, allowed: str, denied: str, prefix: str) -> dict[str, float]:
    """Figures named `{prefix}_p50_ms`, `{prefix}_p95_ms`, `{prefix}_decisions_per_s`, `{prefix}_alone_p50_ms`."""
    urls = {True: f"{base}/api/v1/licences/status?ns={ns}&user={allowed}"}
    urls[False] = f"{base}/api/v1/licences/status?ns={ns}&user={denied}"
    for i in range(WARM_UP):  # connections, caches and the first queries out of the numbers
        _get(urls[i % 2 == 0])
    for permit, url in urls.items():
        decision = _get(url)
        if decision["allowed_to_instantiate"] is not permit:
            raise RuntimeError(f"unexpected decision for {url}: {decision}")

    samples: list[float] = []
    wrong: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(number: int) -> None:
        mine: list[float] = []
        start.wait()
        for i in range(REQUESTS_PER_CLIENT):
            permit = (number + i) % 2 == 0
            began = time.perf_counter()
            decision = _get(urls[permit])
            mine.append((time.perf_counter() - began) * 1000)
            if decision["allowed_to_instantiate"] is not permit:
                with lock:
                    wrong.append(decision["reason"])
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if wrong or len(samples) != CLIENTS * REQUESTS_PER_CLIENT:
        raise RuntimeError(f"{len(wrong)} wrong decisions, {len(samples)} answers: {wrong[:3]}")
    progress(f"{prefix}: {len(samples)} decisions by {CLIENTS} clients in {elapsed:.1f} s")
    # One client alone tells the cost of a request apart from the queueing behind the others. Its requests alternate
    # with the trivial view's, so both meet the same moment of the machine; each is one connection, as urllib's, but
    # made with http.client, whose own cost is a fraction of urllib's (the client's cost is not the server's).
    alone: list[float] = []
    trivial: list[float] = []
    for i in range(WARM_UP):  # its own warm-up: the moments right after the clients above are not "alone"
        _alone(base, urls[i % 2 == 0].removeprefix(base))
        _alone(base, "/livez")
    for i in range(SERIAL_REQUESTS):
        alone.append(_alone(base, urls[i % 2 == 0].removeprefix(base)))
        trivial.append(_alone(base, "/livez"))
    floor = statistics.median(trivial)
    progress(f"{prefix}: one client alone, p50 {statistics.median(alone):.2f} ms (trivial view {floor:.2f} ms)")
    return {
        f"{prefix}_p50_ms": round(statistics.median(samples), 3),
        f"{prefix}_p95_ms": round(percentile(samples, 95), 3),
        f"{prefix}_decisions_per_s": round(len(samples) / elapsed, 1),
        f"{prefix}_alone_p50_ms": round(statistics.median(alone), 3),
        f"{prefix}_trivial_alone_p50_ms": round(statistics.median(trivial), 3),
    }


def _alone(base: str, path: str) -> float:
    """Milliseconds for one GET of `path` on a connection of its own, answered 200 and read."""
    host, port = base.removeprefix("http://").split(":")
    began = time.perf_counter()
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}")
    return (time.perf_counter() - began) * 1000


def _trivial(base: str) -> float:
    """Requests per second on /livez (a JSON view that reads nothing) by the same CLIENTS x REQUESTS_PER_CLIENT
    as the decisions: the floor the decisions are measured against."""
    url = f"{base}/livez"
    for _ in range(WARM_UP):
        _get(url)
    start = threading.Barrier(CLIENTS)
    failures: list[str] = []

    def client() -> None:
        start.wait()
        for _ in range(REQUESTS_PER_CLIENT):
            if _get(url).get("status") != "alive":
                failures.append(url)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} failed trivial requests")
    return CLIENTS * REQUESTS_PER_CLIENT / elapsed


def _profile(ns_id: str, allowed: str, denied: str) -> None:
    """Print where one decision's time goes, in this process: the target is a p95 of 20 ms."""
    from marketplace.contract_manager.decisions import licence_decide
    from marketplace.repository.models import NetworkService

    ns = NetworkService.objects.select_related("package").get(pk=ns_id)
    for user in (allowed, denied):
        licence_decide(ns=ns, user=user)
    began = time.perf_counter()
    for i in range(PROFILE_CALLS):
        licence_decide(ns=ns, user=allowed if i % 2 == 0 else denied)
    per_call = (time.perf_counter() - began) * 1000 / PROFILE_CALLS
    progress(f"entitlement: licence_decide in-process, {per_call:.2f} ms per call")

    # The whole request in-process as well: the view, its NS lookup and the middleware.
    from django.test import Client

    http = Client(HTTP_HOST="127.0.0.1")  # a host the settings allow, as runserver's clients send
    paths = [f"/api/v1/licences/status?ns={ns_id}&user={user}" for user in (allowed, denied)]
    began = time.perf_counter()
    for i in range(PROFILE_CALLS):
        if http.get(paths[i % 2]).status_code != 200:
            raise RuntimeError(f"{paths[i % 2]} failed in-process")
    per_request = (time.perf_counter() - began) * 1000 / PROFILE_CALLS
    progress(f"entitlement: the status request in-process (test client), {per_request:.2f} ms per request")
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(PROFILE_CALLS):
        http.get(paths[i % 2])
    profiler.disable()
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(20)
        print(out.getvalue(), file=sys.stderr, flush=True)


def _command(kind: str, port: int) -> list[str]:
    if kind == "runserver":
        return [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={GUNICORN_WORKERS}",
        "--worker-class=sync",
        "--log-level=warning",
    ]


def _serve_and_measure(
    kind: str, tmp: Path, ns: str, allowed: str, denied: str, prefix: str, **env: str
) -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp / f"{prefix}.log").open("wb") as log:
        server = subprocess.Popen(
            _command(kind, port), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log, env=os.environ | env
        )
    try:
        _wait_for(base + "/healthz", server)
        progress(f"{prefix}: {kind} up on {base}")
        # The floor before and after the decisions, on the same server by the same clients: their mean.
        before = _trivial(base)
        results = _measure(base, ns, allowed, denied, prefix)
        floor = (before + _trivial(base)) / 2
        results[f"{prefix}_trivial_view_per_s"] = round(floor, 1)
        results[f"{prefix}_vs_trivial_view_ratio"] = round(results[f"{prefix}_decisions_per_s"] / floor, 3)
        progress(f"{prefix}: trivial view {floor:.0f} requests/s; ratio {results[f'{prefix}_vs_trivial_view_ratio']}")
        return results
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def worker() -> int:
    tmp = Path(os.environ["NFVM_BENCH_TMP"])
    ns, allowed, denied = _setup(tmp)
    results = _serve_and_measure("gunicorn", tmp, ns, allowed, denied, "entitlement")
    results["entitlement_gunicorn_workers"] = GUNICORN_WORKERS
    # The same clients again with every answer decided afresh (no remembered answers): the decision's own cost.
    results.update(
        _serve_and_measure("gunicorn", tmp, ns, allowed, denied, "entitlement_afresh", ENTITLEMENT_MAX_AGE_S="0")
    )
    results.update(_serve_and_measure("runserver", tmp, ns, allowed, denied, "entitlement_runserver"))
    if results["entitlement_p95_ms"] > TARGET_P95_MS:
        _profile(ns, allowed, denied)
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(worker())
