"""Fault injection on the chain journeys, with real processes: one marketplace run as `make run` runs it,
with OSM's NBI stand-in (tests/osm_nbi.py, checked against OSM's OpenAPI document) as its orchestrator. A
test arms a kill point (config.faults), drives a user's journey over HTTP until the server or the worker
SIGKILLs itself there, starts `make run` again where the journey killed it, and checks the invariants by
name, with no manual step in between:

- seats in use (this node's counters and the chain) equal the running units;
- nothing runs at the orchestrator that no running instance accounts for (no duplicate, no orphan);
- the provenance hash chain is intact and every entry is anchored exactly once;
- no user action was silently lost: it took effect, or the user sees it failed and retries it.
"""

from __future__ import annotations

import json
import time
import urllib.error
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import pytest
from eth_account import Account
from hexbytes import HexBytes

from config import embedded
from ledger.client import ChainClient
from ledger.licensing import LicenseManager
from ledger.offline.merkle import MerkleTree
from ledger.provenance_anchor import ProvenanceAnchor
from ledger.provenance_verify import GENESIS_PREV_HASH, entry_hash
from marketplace.contract_manager.provenance import iso_millis
from marketplace.licensing.instances import INTERRUPTED
from tests import osm_nbi
from tests.config.test_faults import (
    DEVELOPER,
    Node,
    assert_projections_equal_a_clean_reindex,
    eventually,
    mine,
    new_version,
    oid,
    register,
    registered,
)
from tests.processes import free_port

pytestmark = pytest.mark.slow

OPERATOR = Account.from_key(embedded.ANVIL_DEV_KEYS[0])
DEMO = ("nfvm_demo_amf_vnf", "nfvm_demo_upf_vnf", "nfvm_demo_core_ns")
LIVE = ("instantiating", "running", "terminating")
DROPPED = (urllib.error.URLError, ConnectionError)


@dataclass
class Market:
    """The node, its orchestrator and the demo 5G core NS registered with a trial offer (one instance each)."""

    node: Node
    nbi: Any
    chain: ChainClient
    ns_id: str
    offer_id: int
    ns_package_id: str

    def licensee(self) -> tuple[Any, str]:
        """A fresh user who activated the trial: (account, API token)."""
        user = Account.create()
        token = self.node.sign_in(user)
        status, answer = self.node.json("GET", f"/api/v1/offers/{self.offer_id}/agreement", token=token)
        assert status == 200, answer
        typed = answer["typed_data"]
        signature = user.sign_typed_data(full_message=typed).signature.to_0x_hex()
        body = {"typed_data": typed, "signature": signature}
        status, answer = self.node.json("POST", f"/api/v1/offers/{self.offer_id}/agreement", body, token)
        assert status == 201, answer
        eventually(lambda: self.decision(user)["allowed_to_instantiate"], "the trial indexed")
        return user, token

    def decision(self, user: Any) -> dict[str, Any]:
        status, answer = self.node.json("GET", f"/api/v1/licences/status?ns={self.ns_id}&user={user.address}")
        assert status == 200, answer
        return dict(answer)

    def instantiate(self, user: Any, token: str) -> tuple[int, Any]:
        body: dict[str, Any] = {"ns_id": self.ns_id}
        status, asked = self.node.json("POST", "/api/v1/instances", body, token)
        assert status == 428, asked
        typed = asked["typed_data"]
        signature = user.sign_typed_data(full_message=typed).signature.to_0x_hex()
        body["seat_opening"] = {"typed_data": typed, "signature": signature}
        return self.node.json("POST", "/api/v1/instances", body, token)

    def instances(self, token: str) -> list[dict[str, Any]]:
        status, answer = self.node.json("GET", "/api/v1/instances", token=token)
        assert status == 200, answer
        return list(answer["items"])

    def restart_after_kill(self) -> None:
        assert self.node.killed() == -9
        self.node.disarm()
        self.node.start()

    def address_of(self, name: str) -> str:
        found = self.node.database()["ledger_contractdeployment"].find_one({"name": name})
        assert found is not None, f"{name} is not deployed"
        return str(found["address"])


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    if not osm_nbi.SPEC.is_file():
        pytest.skip(f"OSM's NBI document is absent ({osm_nbi.SPEC})")
    folder = tmp_path_factory.mktemp("market")
    # The chain node runs apart from the marketplace, as in a deployment: killing `make run` (its web server
    # and worker) leaves the chain alone. The operator key comes from a keystore, as there.
    chain_node = embedded.chain_service(
        port=free_port(), chain_id=31337, state_path=None, log_path=folder / "chain.log", pid_path=None
    )
    embedded.start(chain_node)
    key = bytes.fromhex(embedded.ANVIL_DEV_KEYS[0][2:])
    keystore = Account.encrypt(key, "fault-tests", kdf="pbkdf2", iterations=1024)
    (folder / "operator.json").write_text(json.dumps(keystore))
    with osm_nbi.serve(osm_nbi.Spec()) as nbi:
        node = Node(folder)
        node.env.update(
            ETH_RPC_URL=f"http://127.0.0.1:{chain_node.port}",
            OPERATOR_KEYSTORE=str(folder / "operator.json"),
            OPERATOR_KEYSTORE_PASSWORD="fault-tests",
            INDEXER_CONFIRMATIONS="0",
            DJANGO_SECRET_KEY="fault-tests-secret-key-not-for-production-0123456789",
            OSM_NBI_URL=nbi.url,
            OSM_USERNAME="admin",
            OSM_PASSWORD="admin",
            OSM_VIM_ACCOUNT="5f2b6f0e-6a39-4b43-9d55-6c3c1a3b8e02",
            LINE_CLAIM_MIN_AGE_S="1",
            PROVENANCE_ANCHOR_WINDOW_S="1",
            REGISTRATION_BATCH_WINDOW_S="1",
        )
        node.start()
        try:
            chain = ChainClient(f"http://127.0.0.1:{chain_node.port}")
            token = node.sign_in(DEVELOPER)
            db = node.database()
            ids = {}
            for name in DEMO:
                row = db["marketplace_package"].find_one({"format": "osm", "name": {"$regex": name.split("_")[2]}})
                assert row is not None, f"the demo seed holds no {name}"
                ids[name] = str(row["_id"])
            for package_id in ids.values():
                assert register(node, token, package_id) == 202
            eventually(lambda: all(registered(node, chain, p) for p in ids.values()), "the demo registered")
            ns = db["marketplace_networkservice"].find_one({"package_id": oid(ids["nfvm_demo_core_ns"])})
            assert ns is not None
            terms = {"kind": "trial", "seats": 1, "duration_days": 7}
            status, offered = node.json("POST", f"/api/v1/packages/{ids['nfvm_demo_core_ns']}/offers", terms, token)
            assert status == 201, offered
            tx = offered["transaction"]
            tx["value"] = int(tx.get("value", "0x0"), 16) if isinstance(tx.get("value"), str) else tx.get("value", 0)
            chain.transact(DEVELOPER, tx)
            path = f"/api/v1/packages/{ids['nfvm_demo_core_ns']}/offers"
            offers = eventually(lambda: node.json("GET", path)[1]["items"], "the offer indexed")
            yield Market(node, nbi, chain, str(ns["_id"]), int(offers[-1]["offer_id"]), ids["nfvm_demo_core_ns"])
        finally:
            node.stop()
            embedded.stop(chain_node)


# --- the invariants, each by name ---


def settled(check: Callable[[Market], None]) -> Callable[[Market], None]:
    """An invariant that holds once the node has settled: checked until it holds, for at most 30 s (a step's
    last writes, such as closing a seat on chain, land just after the state a user reads)."""

    def within(market: Market) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                return check(market)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    return within


@settled
def assert_seats_equal_running_units(market: Market) -> None:
    """Per licence: this node's seat counter, the seats it holds on chain and the units of its running
    instances are one number; no instance is left half-way."""
    db = market.node.database()
    running: dict[str, int] = defaultdict(int)
    for instance in db["marketplace_nsinstance"].find({"seat_key": {"$ne": ""}}):
        assert instance["state"] not in ("instantiating", "terminating"), f"instance {instance['_id']} left half-way"
        if instance["state"] == "running":
            running[instance["seat_key"]] += int(instance.get("units") or 1)
    counters = {doc["_id"]: int(doc.get("used", 0)) for doc in db["licence_seats"].find({})}
    manager = LicenseManager(market.chain, market.address_of("LicenseManager"))
    for key in set(running) | set(counters):
        on_chain = manager.seat_holding(int(key.split(":")[1]), OPERATOR.address)[0]
        assert counters.get(key, 0) == running.get(key, 0) == on_chain, (
            f"licence {key}: counter {counters.get(key, 0)}, running units {running.get(key, 0)}, chain {on_chain}"
        )


@settled
def assert_no_instance_duplicated_at_the_orchestrator(market: Market) -> None:
    """What runs at the orchestrator is exactly what the running instances say runs there."""
    ours = {
        i["orchestrator_id"]
        for i in market.node.database()["marketplace_nsinstance"].find({"state": "running", "driver": "osm"})
    }
    with market.nbi.lock:
        there = {ns_id for ns_id, ns in market.nbi.instances.items() if ns["nsState"] == "INSTANTIATED"}
    assert there == ours, f"at the orchestrator only: {there - ours}; lost there: {ours - there}"


def assert_provenance_intact_and_anchored_once(market: Market) -> None:
    """The hash chain links every entry to the one before; the chain's anchored ranges cover every entry once,
    in order, and each range's root is the Merkle root of the entries it covers."""
    db = market.node.database()
    entries = list(db["marketplace_provenanceentry"].find({}).sort("seq", 1))
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1)), "a seq is missing"
    previous = GENESIS_PREV_HASH
    for e in entries:
        fields = {k: e[k] for k in ("seq", "kind", "actor", "subject", "payload", "prev_hash")}
        fields["created_at"] = iso_millis(e["created_at"].replace(tzinfo=UTC))
        assert entry_hash(fields) == e["entry_hash"], f"entry {e['seq']} does not hash to its stored hash"
        assert e["prev_hash"] == previous, f"entry {e['seq']} does not link to the entry before"
        previous = e["entry_hash"]
    anchor = ProvenanceAnchor(market.chain, market.address_of("ProvenanceAnchor"))
    mine(market.chain, 0)
    eventually(lambda: anchor.latest_seq() >= len(entries), "every entry anchored", timeout=60)
    logs = anchor.contract.events.RangeAnchored.get_logs(from_block=0)
    ranges = sorted((int(log["args"]["fromSeq"]), int(log["args"]["toSeq"]), log["args"]["root"]) for log in logs)
    covered = 0
    for first, last, root in ranges:
        assert first == covered + 1, f"range {first}-{last} does not follow {covered}: anchored twice or skipped"
        hashes = [bytes(HexBytes(e["entry_hash"])) for e in entries[first - 1 : last]]
        assert MerkleTree(hashes).root == bytes(root), f"range {first}-{last}'s root is not its entries' root"
        covered = last
    assert covered >= len(entries)


def assert_all(market: Market, *, reindex: bool = True) -> None:
    assert_seats_equal_running_units(market)
    assert_no_instance_duplicated_at_the_orchestrator(market)
    assert_provenance_intact_and_anchored_once(market)
    if reindex:  # a second indexer from block 0: the slowest check, so the stress loop runs it once, at its end
        assert_projections_equal_a_clean_reindex(market.node)


# --- the journeys ---


@pytest.mark.parametrize("point", ["seats:signed", "seats:sent", "instantiate:seat-opened", "instantiate:orchestrated"])
def test_the_server_killed_while_instantiating_leaves_nothing_running_and_the_retry_lands(market, point):
    user, token = market.licensee()
    market.node.arm(point)
    with pytest.raises(DROPPED):
        market.instantiate(user, token)  # the user sees the request fail: the connection drops
    market.restart_after_kill()

    # With no manual step, the worker ends the step the dead server left: the user reads why.
    failed = eventually(lambda: [i for i in market.instances(token) if i["state"] == "failed"], "the step ended")
    assert failed[0]["error"] == INTERRUPTED
    assert_all(market)

    status, instance = market.instantiate(user, token)  # the retry
    assert status == 201, instance.get("error", instance)
    assert instance["state"] == "running"
    assert [i["state"] for i in market.instances(token)].count("running") == 1
    assert_all(market)


def test_the_server_killed_while_terminating_ends_the_instance(market):
    user, token = market.licensee()
    status, instance = market.instantiate(user, token)
    assert status == 201, instance
    market.node.arm("terminate:orchestrated")
    with pytest.raises(DROPPED):
        market.node.json("POST", f"/api/v1/instances/{instance['id']}/terminate", token=token)
    market.restart_after_kill()

    eventually(lambda: market.instances(token)[0]["state"] == "terminated", "the termination finished")
    assert_all(market)
    status, again = market.instantiate(user, token)  # the trial's one seat is free again
    assert status == 201, again


@pytest.mark.parametrize("point", ["registration:signed", "registration:sent"])
def test_the_server_killed_while_relaying_a_registration_records_it_once(market, point, tmp_path):
    token = market.node.sign_in(DEVELOPER)
    version = "9.3" if point.endswith("signed") else "9.4"
    status, uploaded = market.node.upload(token, new_version(tmp_path, version))
    assert status == 201, uploaded
    market.node.arm(point)
    with pytest.raises(DROPPED):
        register(market.node, token, uploaded["id"])  # the line is the developer's: the request relays it
    market.restart_after_kill()

    eventually(lambda: registered(market.node, market.chain, uploaded["id"]), "the registration recorded")
    table = market.node.database()["marketplace_registrationrequest"]

    def states() -> list[str]:
        return [r["state"] for r in table.find({"package_id": oid(uploaded["id"])})]

    # The worker relays the request the dead server left (a copy already mined is found, not sent twice).
    eventually(lambda: states() == ["submitted"], f"the request recorded as submitted (it is {states()})")
    # Signing again is refused as already done, not sent a second time.
    assert register(market.node, token, uploaded["id"]) == 409
    assert_provenance_intact_and_anchored_once(market)
    assert_projections_equal_a_clean_reindex(market.node)


@pytest.mark.parametrize("point", ["provenance:signed", "provenance:sent"])
def test_the_worker_killed_while_anchoring_provenance_anchors_every_entry_once(market, point):
    market.node.arm(point)
    user, token = market.licensee()  # the trial and the decisions below append entries; the worker anchors them
    market.decision(user)
    status, _instance = market.instantiate(user, token)
    assert status == 201
    eventually(market.node.fired, "the worker reached the kill point", timeout=60)
    # `make run` starts the worker again; it anchors what the dead one left, once.
    assert_provenance_intact_and_anchored_once(market)
    assert_projections_equal_a_clean_reindex(market.node)
    assert_seats_equal_running_units(market)


def test_the_worker_killed_while_anchoring_a_batch_registers_each_package_once(market, tmp_path):
    token = market.node.sign_in(DEVELOPER)
    status, uploaded = market.node.upload(token, new_version(tmp_path, "9.5"))
    assert status == 201, uploaded
    batches = market.node.database()["ledger_registrybatch"]
    anchored_before = batches.count_documents({})
    market.node.arm("batch:sent")  # the batch's root is on chain; the worker dies before it records it
    assert register(market.node, token, uploaded["id"], mode="batch") == 202
    eventually(market.node.fired, "the worker reached the kill point", timeout=60)

    # `make run` starts the worker again: it finds the root it sent (indexed) and proves the registration under
    # it, once, without paying for a second root.
    eventually(lambda: registered(market.node, market.chain, uploaded["id"]), "the registration recorded")
    table = market.node.database()["marketplace_registrationrequest"]
    eventually(
        lambda: [r["state"] for r in table.find({"package_id": oid(uploaded["id"])})] == ["submitted"],
        "the request recorded as submitted",
    )
    eventually(lambda: batches.count_documents({}) > anchored_before, "the batch's root indexed")
    assert_projections_equal_a_clean_reindex(market.node)  # the indexer has caught up with the chain
    assert batches.count_documents({}) == anchored_before + 1, "the batch was anchored twice"
    assert register(market.node, token, uploaded["id"], mode="batch") == 409  # not queued a second time


def test_a_purchase_mined_while_the_marketplace_is_down_is_found_when_it_returns(market):
    """The buyer's wallet sends its purchase straight to the chain while the web server and the worker are
    down; the licence is there when they return, with no step by anyone."""
    developer_token = market.node.sign_in(DEVELOPER)
    terms = {"kind": "private", "price": 10**15, "seats": 1, "duration_days": 30}
    path = f"/api/v1/packages/{market.ns_package_id}/offers"
    status, offered = market.node.json("POST", path, terms, developer_token)
    assert status == 201, offered
    market.chain.transact(DEVELOPER, _tx(offered["transaction"]))

    def private_offers() -> list[int]:
        return [int(o["offer_id"]) for o in market.node.json("GET", path)[1]["items"] if o["kind"] == "private"]

    offer_id = eventually(private_offers, "the private offer indexed")[-1]
    buyer = Account.from_key(embedded.ANVIL_DEV_KEYS[3])
    token = market.node.sign_in(buyer)
    typed = market.node.json("GET", f"/api/v1/offers/{offer_id}/agreement", token=token)[1]["typed_data"]
    body = {"typed_data": typed, "signature": buyer.sign_typed_data(full_message=typed).signature.to_0x_hex()}
    status, answer = market.node.json("POST", f"/api/v1/offers/{offer_id}/agreement", body, token)
    assert status == 200, answer

    assert market.node.server is not None
    market.node.server.kill()  # the marketplace goes down hard, as a power cut would
    market.node.killed()
    market.chain.transact(buyer, _tx(answer["transaction"]))  # mined while nobody serves
    market.node.start()

    eventually(lambda: market.decision(buyer)["allowed_to_instantiate"], "the licence indexed after the restart")
    status, mine = market.node.json("GET", "/api/v1/licences", token=token)
    assert status == 200
    assert [lic["offer_id"] for lic in mine["items"]] == [offer_id]
    assert_provenance_intact_and_anchored_once(market)
    assert_projections_equal_a_clean_reindex(market.node)


def _tx(tx: dict[str, Any]) -> dict[str, Any]:
    """A transaction as the API hands it to wallets (value as hex), for the chain client."""
    value = tx.get("value", 0)
    return {**tx, "value": int(value, 16) if isinstance(value, str) else value}


def test_stress_kills_at_several_points_in_a_row_leave_every_invariant(market):
    """A bounded loop over the instance journeys' kill points: each round arms one, runs the journey until the
    server dies, restarts it, and checks every invariant; the round's user then retries and terminates."""
    points = ["seats:sent", "instantiate:orchestrated", "terminate:orchestrated"] * 2
    for point in points:
        user, token = market.licensee()
        if point.startswith("terminate"):
            status, instance = market.instantiate(user, token)
            assert status == 201, instance
            market.node.arm(point)
            with pytest.raises(DROPPED):
                market.node.json("POST", f"/api/v1/instances/{instance['id']}/terminate", token=token)
        else:
            market.node.arm(point)
            with pytest.raises(DROPPED):
                market.instantiate(user, token)
        market.restart_after_kill()

        def ended(token: str = token) -> bool:
            return all(i["state"] in ("failed", "terminated") for i in market.instances(token))

        eventually(ended, f"the step cut at {point} ended")
        assert_all(market, reindex=False)
        status, again = market.instantiate(user, token)
        assert status == 201, again
        assert market.node.json("POST", f"/api/v1/instances/{again['id']}/terminate", token=token)[0] == 200
    assert_all(market)
