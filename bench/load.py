"""Load: 50 users for 60 s against gunicorn on loopback, mixing what a marketplace's users do, then the seat
invariant.

Each user signs in with their own wallet key (SIWE), holds a trial licence of the demo 5G core NS and loops
over: search, the catalogue page, a package page, a download, a licence decision, and instantiating or
terminating their instance (an instantiate signs the SeatOpening the server asks for, as the portal's wallet
does). Any answer other than the expected one is an error; the run wants none. Afterwards, for every licence,
the seats taken in the database, the seats this node holds on chain and the running units must agree.

The server is started as a deployment starts it (`gunicorn config.wsgi:application`, sync workers, 2 x cores
+ 1 as gunicorn's documentation suggests), with the indexer worker beside it as `make run` runs it. The users
are threads of one client process on the same two cores, so the figures include the client's own cost.
Figures: `load_<operation>_p95_ms` and `_count`, `load_errors`, `load_requests_per_s`, `load_seat_invariant_ok`.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.entitlement import (  # noqa: E402
    GUNICORN_WORKERS,
    _command,
    _index,
    _tx_value,
    _wait_for,
    demo_ns_registered,
    percentile,
    progress,
)
from bench.services import run_worker  # noqa: E402
from tests.processes import free_port  # noqa: E402

# The load; NFVM_LOAD_USERS / NFVM_LOAD_SECONDS change it for a look (one user: each operation's own cost).
USERS = int(os.environ.get("NFVM_LOAD_USERS", "50"))
DURATION_S = float(os.environ.get("NFVM_LOAD_SECONDS", "60"))
WORKER_TIMEOUT_S = 600
# How often each operation comes up in a user's loop (weights).
MIX = {
    "search": 20,
    "catalogue_page": 15,
    "package_page": 15,
    "download": 10,
    "licence_decision": 25,
    "instance": 15,  # instantiate when the user has no instance running, else terminate it
}


def bench_load() -> dict[str, float]:
    return run_worker("bench.load", db_on_disk=True, timeout_s=WORKER_TIMEOUT_S)


def _setup(tmp: Path) -> tuple[Any, list[Any]]:
    """The demo NS with a trial offer (one instance each), activated by USERS fresh wallets. Returns the NS
    and the users' accounts."""
    ns, chain, developer = demo_ns_registered(tmp)  # sets Django up first

    from eth_account import Account

    from ledger.models import LicenceOffer
    from marketplace.licensing.offers import agreement_prepare, agreement_submit, offer_prepare

    prepared = offer_prepare(package=ns.package, provider=developer.address, kind="trial", seats=1, duration_days=30)
    chain.transact(developer, _tx_value(prepared["transaction"]))  # type: ignore[arg-type]
    _index(chain)
    offer = LicenceOffer.objects.filter(digest="0x" + ns.package.digest).order_by("-offer_id").first()
    if offer is None:
        raise RuntimeError("the trial offer was not indexed")
    users = [Account.create() for _ in range(USERS)]
    for user in users:
        typed = agreement_prepare(offer_id=offer.offer_id, licensee=user.address)["typed_data"]
        signature = user.sign_typed_data(full_message=typed).signature.to_0x_hex()
        agreement_submit(offer_id=offer.offer_id, licensee=user.address, typed_data=typed, signature=signature)
    _index(chain)
    progress(f"load: {USERS} users hold a trial of offer #{offer.offer_id}")
    return ns, users


class Http:
    """One user's HTTP calls: JSON in and out, the bearer token once signed in."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token = ""

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


class User:
    """One user's loop; every call is timed under its operation's name and any unexpected answer counted."""

    def __init__(self, base: str, account: Any, ns_id: str, package_id: str, seed: int) -> None:
        self.http = Http(base)
        self.account = account
        self.ns_id = ns_id
        self.package_id = package_id
        self.random = random.Random(seed)
        self.instance: str | None = None
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    def timed(self, name: str, method: str, path: str, body: dict[str, Any] | None = None, ok: int = 200) -> Any:
        began = time.perf_counter()
        try:
            status, payload = self.http.call(method, path, body)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            self.errors.append(f"{name}: {exc}")
            return None
        self.samples[name].append((time.perf_counter() - began) * 1000)
        if status != ok:
            self.errors.append(f"{name}: {method} {path} answered {status}: {payload[:200]!r}")
            return None
        return payload

    def sign_in(self) -> None:
        from tests.factories import signed_sign_in

        start = self.timed("sign_in", "POST", "/api/v1/auth/nonce", ok=201)
        message, signature = signed_sign_in(json.loads(start), self.account)
        answer = self.timed("sign_in", "POST", "/api/v1/auth/token", {"message": message, "signature": signature}, 201)
        self.http.token = json.loads(answer)["token"]

    def instantiate(self) -> None:
        body: dict[str, Any] = {"ns_id": self.ns_id}
        asked = self.timed("instantiate", "POST", "/api/v1/instances", body, ok=428)
        if asked is None:
            return
        typed = json.loads(asked)["typed_data"]
        signature = self.account.sign_typed_data(full_message=typed).signature.to_0x_hex()
        body["seat_opening"] = {"typed_data": typed, "signature": signature}
        created = self.timed("instantiate", "POST", "/api/v1/instances", body, ok=201)
        if created is not None:
            self.instance = json.loads(created)["id"]

    def terminate(self) -> None:
        if self.timed("terminate", "POST", f"/api/v1/instances/{self.instance}/terminate") is not None:
            self.instance = None

    def step(self) -> None:
        operation = self.random.choices(list(MIX), weights=list(MIX.values()))[0]
        if operation == "search":
            words = self.random.choice(["amf", "upf", "core", "5g", "demo"])
            self.timed("search", "GET", f"/api/v1/packages?q={words}")
        elif operation == "catalogue_page":
            self.timed("catalogue_page", "GET", "/packages/")
        elif operation == "package_page":
            self.timed("package_page", "GET", f"/packages/{self.package_id}/")
        elif operation == "download":
            self.timed("download", "GET", f"/api/v1/packages/{self.package_id}/content")
        elif operation == "licence_decision":
            user = self.account.address if self.random.random() < 0.5 else "0x" + "00" * 19 + "01"
            self.timed("licence_decision", "GET", f"/api/v1/licences/status?ns={self.ns_id}&user={user}")
        elif self.instance is None:
            self.instantiate()
        else:
            self.terminate()

    def run(self, start: threading.Barrier, until: list[float]) -> None:
        start.wait()
        try:
            self.sign_in()
        except Exception as exc:  # counted as an error of the run, never raised
            self.errors.append(f"sign_in: {exc}")
            return
        while time.monotonic() < until[0]:
            self.step()


def _seat_invariant() -> list[str]:
    """Per licence: the seats taken here, the seats this node holds on chain and the running units agree."""
    from django.db import connection

    from marketplace.licensing.models import NsInstance
    from marketplace.licensing.seats import LIVE_STATES, SEATS, seats_held_on_chain, seats_in_use

    broken = []
    counters = {doc["_id"]: int(doc.get("used", 0)) for doc in connection.database[SEATS].find({})}  # type: ignore[attr-defined]
    keys = set(counters) | set(NsInstance.objects.exclude(seat_key="").values_list("seat_key", flat=True))
    for key in sorted(keys):
        running = seats_in_use(key)
        live = NsInstance.objects.filter(seat_key=key, state__in=LIVE_STATES)
        licence_id = int(key.split(":")[1])
        on_chain = seats_held_on_chain(licence_id=licence_id)
        states = sorted(set(live.values_list("state", flat=True)))
        if not counters.get(key, 0) == running == on_chain or any(s != "running" for s in states):
            broken.append(f"licence {key}: taken {counters.get(key, 0)}, units {running} {states}, chain {on_chain}")
    return broken


def _load(base: str, ns: Any, users: list[Any]) -> dict[str, float]:
    package_id = str(ns.package.pk)
    people = [User(base, account, str(ns.pk), package_id, seed) for seed, account in enumerate(users)]
    start = threading.Barrier(len(people) + 1)
    until = [float("inf")]
    threads = [threading.Thread(target=user.run, args=(start, until)) for user in people]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    until[0] = began + DURATION_S
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began

    samples: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    for user in people:
        for name, values in user.samples.items():
            samples[name].extend(values)
        errors.extend(user.errors)
    total = sum(len(v) for v in samples.values())
    progress(f"load: {total} requests by {len(people)} users in {elapsed:.1f} s, {len(errors)} errors")
    for error in errors[:10]:
        progress(f"load: error {error}")
    results: dict[str, float] = {
        "load_users": len(people),
        "load_duration_s": round(elapsed, 1),
        "load_requests": total,
        "load_requests_per_s": round(total / elapsed, 1),
        "load_errors": len(errors),
    }
    for name, values in sorted(samples.items()):
        results[f"load_{name}_p95_ms"] = round(percentile(values, 95), 1)
        results[f"load_{name}_p50_ms"] = round(statistics.median(values), 1)
        results[f"load_{name}_count"] = len(values)
        p50, p95 = statistics.median(values), percentile(values, 95)
        progress(f"load: {name:<17} n={len(values):>5}  p50 {p50:7.1f}  p95 {p95:7.1f} ms")
    return results


def worker() -> int:
    tmp = Path(os.environ["NFVM_BENCH_TMP"])
    ns, users = _setup(tmp)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp / "gunicorn.log").open("wb") as log, (tmp / "indexer.log").open("wb") as indexer_log:
        server = subprocess.Popen(_command("gunicorn", port), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
        indexer = subprocess.Popen(
            [sys.executable, "manage.py", "index_chain"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=indexer_log
        )
    try:
        _wait_for(base + "/healthz", server)
        progress(f"load: gunicorn ({GUNICORN_WORKERS} workers) up on {base}; {USERS} users for {DURATION_S:.0f} s")
        results = _load(base, ns, users)
    finally:
        for process in (server, indexer):
            process.terminate()
        for process in (server, indexer):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    broken = _seat_invariant()
    for line in broken:
        progress(f"load: seat invariant broken: {line}")
    results["load_seat_invariant_ok"] = 0 if broken else 1
    results["load_gunicorn_workers"] = GUNICORN_WORKERS
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(worker())
