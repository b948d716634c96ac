"""Fault injection with real processes: the marketplace runs as `make run` runs it (`manage.py run`, with its
embedded SecantusDB, anvil and indexer worker), and a test kills one of them with SIGKILL at a step of a user's
journey, restarts it, and checks the invariants by name. A process reaches an exact step and kills itself there
through config.faults (NFVM_FAULT_FILE); the database and the indexer are killed from outside."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pymongo
import pytest
from eth_account import Account

from config import embedded
from marketplace.repository.packages.build import build
from marketplace.repository.services import DEMO_DIR
from tests.factories import signed_sign_in
from tests.processes import Checkout, free_port, pid_alive, wait_for_http, worker_paused, worker_pids

pytestmark = pytest.mark.slow

DEVELOPER = Account.from_key(embedded.ANVIL_DEV_KEYS[1])


class Node:
    """One marketplace as `make run` starts it, in its own var/ and ports, with an armable kill point."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.checkout = Checkout.fresh(tmp_path)
        self.fault = tmp_path / "fault"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen[str] | None = None
        self.env: dict[str, str] = {}  # settings of this node beyond the embedded defaults

    def start(self) -> None:
        self.server = self.checkout.start(
            "run",
            "--addr",
            f"127.0.0.1:{self.port}",
            NFVM_FAULT_FILE=str(self.fault),
            INDEXER_POLL_S="0.2",
            **self.env,
        )
        wait_for_http(f"{self.base}/healthz", self.server, timeout=240)

    def killed(self, timeout: float = 60) -> int:
        """Wait for the server to die at its kill point; its exit status."""
        assert self.server is not None
        return self.server.wait(timeout=timeout)

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGINT)
            try:
                self.server.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                self.server.kill()
        for pid in self.checkout.recorded_pids():  # services a killed command left (they stop with it anyway)
            if pid_alive(pid):
                os.kill(pid, signal.SIGTERM)

    def arm(self, point: str) -> None:
        self.fault.write_text(point)

    def disarm(self) -> None:
        self.fault.unlink(missing_ok=True)

    @property
    def var(self) -> Path:
        return self.checkout.var_dir

    def database(self) -> Any:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            f"mongodb://127.0.0.1:{self.checkout.db_port}/?directConnection=true", serverSelectionTimeoutMS=5000
        )
        return client["nfvm"]

    def call(self, method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, Any]:
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def json(self, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.call(method, path, None if body is None else json.dumps(body).encode(), **headers)

    def fired(self) -> bool:
        """The armed kill point was reached (a point removes its file as it fires)."""
        return not self.fault.exists()

    def sign_in(self, account: Any) -> str:
        _, start = self.call("POST", "/api/v1/auth/nonce")
        message, signature = signed_sign_in(start, account)
        body = json.dumps({"message": message, "signature": signature}).encode()
        status, answer = self.call("POST", "/api/v1/auth/token", body, **{"Content-Type": "application/json"})
        assert status == 201, answer
        return str(answer["token"])

    def upload(self, token: str, archive: Path) -> tuple[int, Any]:
        return self.call(
            "POST",
            "/api/v1/packages",
            archive.read_bytes(),
            **{"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream", "X-Filename": "p.tgz"},
        )


@pytest.fixture
def node(tmp_path):
    started = Node(tmp_path)
    try:
        yield started
    finally:
        started.stop()


def new_version(tmp_path: Path, version: str) -> Path:
    """The demo AMF package at a version the demo seed does not hold."""
    import shutil

    folder = tmp_path / f"amf-{version}" / "nfvm_demo_amf_vnf"
    shutil.copytree(DEMO_DIR / "osm" / "nfvm_demo_amf_vnf", folder)
    descriptor = folder / "nfvm_demo_amf_vnfd.yaml"
    descriptor.write_text(descriptor.read_text().replace("version: '1.0'", f"version: '{version}'"))
    return build(folder, "osm", tmp_path / f"amf-{version}.tar.gz")


# --- the invariants, each by name ---


def assert_no_half_stored_package(node: Node) -> None:
    """Every package document has its blob and its descriptor documents; no upload is left half-written."""
    db = node.database()
    blobs = node.var / "blobs" / "sha256"
    for package in db["marketplace_package"].find({}, {"digest": 1, "kind": 1}):
        assert (blobs / package["digest"][:2] / package["digest"]).is_file(), f"package {package['_id']} lost its blob"
        table = "marketplace_vnf" if package["kind"] == "vnf" else "marketplace_networkservice"
        assert db[table].count_documents({"package_id": package["_id"]}) >= 1, (
            f"package {package['_id']} is half-stored"
        )
    assert list((node.var / "tmp").glob("upload-*")) == [], "a spooled upload was left behind"
    assert list((node.var / "blobs" / "incoming").glob("*")) == [], "a half-written blob was left behind"


def assert_no_orphan_blob(node: Node) -> None:
    """Every stored blob belongs to a package."""
    digests = {p["digest"] for p in node.database()["marketplace_package"].find({}, {"digest": 1})}
    stored = {path.name for path in (node.var / "blobs" / "sha256").glob("*/*")}
    assert stored <= digests, f"orphan blobs: {stored - digests}"


def assert_no_action_silently_lost(node: Node, token: str, archive: Path, version: str) -> None:
    """The upload the kill interrupted either took effect or failed visibly; retried, it lands once."""
    db = node.database()
    before = db["marketplace_package"].count_documents({"version": version})
    status, answer = node.upload(token, archive)
    assert status in (200, 201), answer
    assert (status == 200) == bool(before), "an upload that took effect must be found again, not stored twice"
    assert db["marketplace_package"].count_documents({"version": version}) == 1


# --- the journeys ---


@pytest.mark.parametrize("point", ["ingest:spooling", "ingest:blob-written"])
def test_the_web_server_killed_during_an_upload_loses_nothing(node, tmp_path, point):
    node.start()
    token = node.sign_in(DEVELOPER)
    archive = new_version(tmp_path, "9.1")

    node.arm(point)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        node.upload(token, archive)  # the user sees the upload fail: the connection drops
    assert node.killed() == -signal.SIGKILL
    node.disarm()
    node.start()  # the restart sweeps what the dead process left, with no manual step

    assert_no_half_stored_package(node)
    assert_no_orphan_blob(node)
    assert node.database()["marketplace_package"].count_documents({"version": "9.1"}) == 0
    assert_no_action_silently_lost(node, token, archive, "9.1")
    assert_no_half_stored_package(node)
    assert_no_orphan_blob(node)


def test_the_database_killed_under_a_running_marketplace_comes_back_losing_nothing(node, tmp_path):
    node.start()
    token = node.sign_in(DEVELOPER)  # a write acknowledged a moment before the kill
    archive = new_version(tmp_path, "9.2")
    record = json.loads((node.var / "run" / "db.json").read_text())

    # The worker's restart brings the database back, within the probe's own timeout at times: held while the
    # outage is read, so the test sees it.
    with worker_paused(node.var):
        os.kill(record["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while pid_alive(record["pid"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        status, health = node.call("GET", "/healthz")
        assert status == 503, health  # read as an outage, naming what is down and how to fix it
        assert health["database"]["ok"] is False
        assert "make run" in health["database"]["fix"]
    # No manual step: the supervised worker's restart starts the embedded database again on the same data
    # (in a deployment, MongoDB's own supervisor does), and the web server reconnects by itself.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and node.call("GET", "/healthz")[0] != 200:
        time.sleep(0.5)
    assert node.call("GET", "/healthz")[0] == 200
    assert json.loads((node.var / "run" / "db.json").read_text())["pid"] != record["pid"]

    assert_no_action_silently_lost(node, token, archive, "9.2")  # the sign-in survived the kill
    assert_no_half_stored_package(node)
    assert_no_orphan_blob(node)


def test_the_indexer_killed_is_started_again_and_catches_up(node):
    node.start()
    db = node.database()

    def indexer_pids() -> set[int]:
        return worker_pids(node.var)

    deadline = time.monotonic() + 30
    while not indexer_pids() and time.monotonic() < deadline:
        time.sleep(0.2)
    (first,) = indexer_pids()
    os.kill(first, signal.SIGKILL)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (indexer_pids() - {first}):
        time.sleep(0.2)
    assert indexer_pids() - {first}, "the indexer was not started again"
    # It indexes blocks mined while it was down: the chain moves on, and so does the indexer.
    from web3 import Web3

    chain = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{node.checkout.chain_port}"))
    chain.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    head = chain.eth.block_number
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = db["ledger_indexerstate"].find_one({})
        if state and state["last_block"] >= head:
            break
        time.sleep(0.2)
    assert state is not None
    assert state["last_block"] >= head
