"""`nfvm provenance show|verify` against a live marketplace and anvil: an anchored entry verifies, an
unanchored one and a tampered one are told apart by their exit codes."""

from __future__ import annotations

import json
import subprocess

import pytest

from marketplace.contract_manager.models import ProvenanceEntry
from marketplace.contract_manager.provenance import provenance_anchor_pending, provenance_append
from tests.factories import nfvm as run_nfvm
from tests.licensing.test_licensing_journey import index

pytestmark = pytest.mark.django_db(transaction=True)


def nfvm(*args: str) -> subprocess.CompletedProcess[str]:
    return run_nfvm("provenance", *args)


@pytest.fixture
def log(deployed, chain, snapshot) -> dict[str, str]:
    """Entries 1-3 anchored on chain and indexed; entry 4 not anchored yet."""
    for n in range(3):
        provenance_append(kind="decision", actor="0xabc", subject="ns:1", payload={"permit": True, "n": n})
    assert provenance_anchor_pending() == 3
    index(chain)
    provenance_append(kind="decision", actor="0xabc", subject="ns:1", payload={"permit": False})
    return {str(name): str(address) for name, address in deployed.items()}


def verify(live_server, chain, anchor: str, seq: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return nfvm("verify", str(seq), "--url", live_server.url, "--rpc", chain.rpc_url, "--anchor", anchor, *extra)


def test_it_verifies_an_anchored_entry_against_the_chain(live_server, chain, log):
    result = verify(live_server, chain, log["ProvenanceAnchor"], 2)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("VERIFIED: entry 2 is in the log as anchored in range 1-3")
    as_json = json.loads(verify(live_server, chain, log["ProvenanceAnchor"], 2, "--json").stdout)
    assert as_json["outcome"] == "verified"
    assert as_json["exit"] == 0


def test_it_tells_an_entry_not_anchored_yet(live_server, chain, log):
    result = verify(live_server, chain, log["ProvenanceAnchor"], 4)
    assert result.returncode == 20
    assert "not anchored on chain yet" in result.stdout


def test_it_tells_an_unknown_entry(live_server, chain, log):
    assert verify(live_server, chain, log["ProvenanceAnchor"], 99).returncode == 22
    assert nfvm("show", "99", "--url", live_server.url).returncode == 22


def test_it_catches_an_entry_edited_after_it_was_anchored(live_server, chain, log):
    ProvenanceEntry.objects.filter(seq=2).update(payload={"permit": False, "n": 1})
    result = verify(live_server, chain, log["ProvenanceAnchor"], 2)
    assert result.returncode == 21
    assert "entry 2 hashes to" in result.stdout


def test_it_catches_a_broken_link_to_the_next_entry(live_server, chain, log):
    ProvenanceEntry.objects.filter(seq=3).update(prev_hash="0x" + "11" * 32)
    result = verify(live_server, chain, log["ProvenanceAnchor"], 2)
    assert result.returncode == 21
    assert "entry 3 links to 0x1111" in result.stdout


def test_it_refuses_a_proof_for_another_anchor_contract(live_server, chain, log):
    result = verify(live_server, chain, log["PackageRegistry"], 2)
    assert result.returncode == 21
    assert "names the contract" in result.stdout


def test_it_shows_an_entry_and_its_proof(live_server, chain, log):
    result = nfvm("show", "2", "--url", live_server.url)
    assert result.returncode == 0, result.stderr
    assert "entry 2: decision by 0xabc on ns:1" in result.stdout
    assert "anchored     range 1-3" in result.stdout
    shown = json.loads(nfvm("show", "2", "--url", live_server.url, "--json").stdout)
    assert shown["state"] == "anchored"


def test_it_answers_usage_and_network_errors_apart(live_server, chain, log):
    assert nfvm("verify", "1", "--url", live_server.url, "--rpc", "ftp://x", "--anchor", "0x1").returncode == 2
    assert nfvm("show", "0", "--url", live_server.url).returncode == 2
    assert nfvm("show", "1", "--url", "http://127.0.0.1:9").returncode == 3


def test_attack_the_marketplace_names_its_own_anchor_contract(live_server, chain, log, tmp_path):
    """The anchor contract the marketplace names in its proof is a claim: unpinned, nothing is verified."""
    unpinned = nfvm("verify", "2", "--url", live_server.url, "--rpc", chain.rpc_url)
    assert unpinned.returncode == 4
    assert "anchor not pinned for chain 31337" in unpinned.stderr
    assert f"the marketplace names {log['ProvenanceAnchor']}: check it out of band" in unpinned.stderr
    trust = tmp_path / "trust.json"
    pin = run_nfvm(
        "trust", "pin", "--chain-id", "31337", "--anchor", log["ProvenanceAnchor"], "--trust-file", str(trust)
    )
    assert pin.returncode == 0, pin.stderr
    pinned = nfvm("verify", "2", "--url", live_server.url, "--rpc", chain.rpc_url, "--trust-file", str(trust))
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
