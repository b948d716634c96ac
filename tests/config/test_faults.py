"""Fault injection with real processes: the marketplace runs as `make run` runs it (`manage.py run`, with its
embedded SecantusDB, anvil and indexer worker), and a test kills one of them with SIGKILL at a step of a user's
journey, restarts it, and checks the invariants by name. A process reaches an exact step and kills itself there
through config.faults (NFVM_FAULT_FILE); the database and the indexer are killed from outside."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymongo
import pytest
from eth_account import Account

from config import embedded
from ledger.client import ChainClient
from ledger.provenance_anchor import ProvenanceAnchor
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


def register(node: Node, token: str, package_id: str, mode: str = "relay") -> int:
    status, prepared = node.json("GET", f"/api/v1/packages/{package_id}/registration", token=token)
    assert status == 200, prepared
    body: dict[str, Any] = {
        "typed_data": prepared["typed_data"],
        "signature": DEVELOPER.sign_typed_data(full_message=prepared["typed_data"]).signature.to_0x_hex(),
        "mode": mode,
    }
    if prepared.get("claim"):
        body["claim_typed_data"] = prepared["claim"]
        body["claim_signature"] = DEVELOPER.sign_typed_data(full_message=prepared["claim"]).signature.to_0x_hex()
    return node.json("POST", f"/api/v1/packages/{package_id}/registration", body, token)[0]


def mine(chain: ChainClient, seconds: int = 2) -> None:
    chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def registered(node: Node, chain: ChainClient, package_id: str) -> bool:
    """The package's registration went on chain and the indexer recorded it (the package is listed)."""
    mine(chain, 0)
    found = node.database()["marketplace_package"].find_one({"_id": oid(package_id)}, {"listed": 1})
    return bool(found and found.get("listed"))


def oid(text: str) -> Any:
    from bson import ObjectId

    return ObjectId(text)


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


# What the indexer builds from the chain alone: its log of our contracts' events and the projections of them.
PROJECTIONS = (
    "ledger_chainevent",
    "ledger_packageanchor",
    "ledger_lineownership",
    "ledger_registrybatch",
    "ledger_licenceoffer",
    "ledger_acquiredlicence",
    "ledger_provenancerange",
)


def assert_projections_equal_a_clean_reindex(node: Node) -> None:
    """A second indexer, started from block 0 into a scratch database of its own over the same chain and the same
    contracts, builds exactly the projections the running indexer holds: a kill lost, doubled or left nothing."""
    live = node.database()
    scratch = live.client[f"reindex_{secrets.token_hex(4)}"]
    env = node.env | {"MONGODB_NAME": scratch.name}
    try:
        _same_collections_and_indexes(live, scratch)
        scratch["ledger_contractdeployment"].insert_many(list(live["ledger_contractdeployment"].find({})))
        for _ in range(10):  # until both stand at the same block, read while the running indexer holds still
            done = node.checkout.manage("index_chain", "--once", **env)
            assert done.returncode == 0, done.stderr
            target = _indexed_to(scratch)
            deadline = time.monotonic() + 60
            while _indexed_to(live) < target and time.monotonic() < deadline:
                time.sleep(0.3)
            with worker_paused(node.var):
                if _indexed_to(live) == _indexed_to(scratch):
                    live_rows = {name: _rows(live[name]) for name in PROJECTIONS}
                    break
        else:
            raise AssertionError("the chain kept moving; the comparison never settled")
        for name in PROJECTIONS:
            assert live_rows[name] == _rows(scratch[name]), f"{name} differs from a clean re-index from block 0"
    finally:
        live.client.drop_database(scratch.name)


def _same_collections_and_indexes(live: Any, scratch: Any) -> None:
    """Give the scratch database the collections and indexes `migrate` made in the live one (unique constraints
    included): what migrating it again would make, in a fraction of the 7 s that takes."""
    for name in live.list_collection_names():
        scratch.create_collection(name)
        for index in live[name].list_indexes():
            if index["name"] != "_id_":
                options = {k: v for k, v in index.items() if k not in ("key", "v", "ns")}
                scratch[name].create_index(list(index["key"].items()), **options)


def _indexed_to(db: Any) -> int:
    state = db["ledger_indexerstate"].find_one({})
    return -1 if state is None else int(state["last_block"])


def _rows(collection: Any) -> list[str]:
    """A collection's documents, without the database's own id and times, in a stable order."""
    rows = []
    for document in collection.find({}, {"_id": 0, "indexed_at": 0}):
        rows.append(json.dumps(document, sort_keys=True, default=str))
    return sorted(rows)


# --- the journeys ---


@pytest.mark.parametrize("point", ["ingest:spooling", "ingest:blob-written"])
def test_the_web_server_killed_during_an_upload_loses_nothing(node, tmp_path, point):
    node.start()
    token = node.sign_in(DEVELOPER)
    archive = new_version(tmp_path, "9.1")

    deployed = {d["name"]: d["address"] for d in node.database()["ledger_contractdeployment"].find({})}

    node.arm(point)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        node.upload(token, archive)  # the user sees the upload fail: the connection drops
    assert node.killed() == -signal.SIGKILL
    node.disarm()
    node.start()  # the restart sweeps what the dead process left, with no manual step

    # The embedded chain node went down with the killed command and came back from its saved state: the same
    # contracts, not a new deployment on an empty chain.
    assert {d["name"]: d["address"] for d in node.database()["ledger_contractdeployment"].find({})} == deployed

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

    def restarted() -> bool:  # a worker's restart may still be settling: the new record comes with its database
        try:
            return bool(json.loads((node.var / "run" / "db.json").read_text())["pid"] != record["pid"])
        except (OSError, ValueError):
            return False

    eventually(restarted, "the database started again and recorded")
    assert node.call("GET", "/healthz")[0] == 200

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


def test_the_chain_node_killed_comes_back_from_its_saved_state_and_everything_resumes(node, tmp_path):
    node.env.update(LINE_CLAIM_MIN_AGE_S="1", REGISTRATION_BATCH_WINDOW_S="1", PROVENANCE_ANCHOR_WINDOW_S="1")
    node.start()
    token = node.sign_in(DEVELOPER)
    db = node.database()
    status, uploaded = node.upload(token, new_version(tmp_path, "9.3"))
    assert status == 201, uploaded
    deployed = {d["name"]: d["address"] for d in db["ledger_contractdeployment"].find({})}
    chain = ChainClient(f"http://127.0.0.1:{node.checkout.chain_port}")
    record = json.loads((node.var / "run" / "chain.json").read_text())

    # The worker's restart of the node is what ends the outage: held while the outage is read, and with it the
    # registration queued just before the kill, so that it is pending through the outage.
    with worker_paused(node.var):
        assert register(node, token, uploaded["id"], mode="batch") == 202  # its line's claim is committed now
        head = chain.w3.eth.block_number
        eventually(lambda: saved_block(node.var / "chain" / "state.json") >= head, "the node's state saved")
        os.kill(record["pid"], signal.SIGKILL)
        eventually(lambda: not pid_alive(record["pid"]), "the chain node gone")
        status, health = node.call("GET", "/healthz")
        assert status == 503, health  # read as an outage, naming what is down and how to fix it
        assert health["chain"]["ok"] is False
        with urllib.request.urlopen(f"{node.base}/packages/", timeout=60) as response:
            assert response.status == 200  # the catalogue answers from the database,
            assert "The chain is down" in response.read().decode()  # under a banner
        path = f"/api/v1/packages/{uploaded['id']}/registration"
        status, answer = node.json("GET", path, token=token)
        assert status == 503, answer  # a step that needs the chain says so
        assert "does not answer" in answer["error"]

    # No manual step: the worker starts the node again from its saved state, and everything resumes.
    eventually(lambda: node.call("GET", "/healthz")[0] == 200, "the chain node back")
    assert json.loads((node.var / "run" / "chain.json").read_text())["pid"] != record["pid"]
    assert chain.w3.eth.block_number >= head, "the node came back without the blocks it had saved"
    for name, address in deployed.items():
        assert chain.w3.eth.get_code(chain.w3.to_checksum_address(address)) != b"", f"{name} was lost"
    assert {d["name"]: d["address"] for d in db["ledger_contractdeployment"].find({})} == deployed
    # The pending registration goes on chain (claim revealed, batch anchored) and the indexer records it.
    eventually(lambda: registered(node, chain, uploaded["id"]), "the pending registration on chain and indexed")
    entries = db["marketplace_provenanceentry"].count_documents({})
    assert entries >= 1
    anchor = ProvenanceAnchor(chain, deployed["ProvenanceAnchor"])
    eventually(lambda: anchor.latest_seq() >= entries, "the registration's provenance anchored")
    assert_no_half_stored_package(node)
    assert_no_orphan_blob(node)
    assert_projections_equal_a_clean_reindex(node)


def saved_block(state: Path) -> int:
    """The head block of the chain node's last state dump (-1: none yet, or caught mid-write)."""
    try:
        return int(json.loads(state.read_bytes())["block"]["number"], 16)
    except (OSError, ValueError, KeyError):
        return -1


def eventually(check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout} s: {what}")
