"""`nfvm verify FILE` reads the chain with ledger.offline.rpc: it starts without web3, eth-account, eth-abi or a
configured Django, whichever way the package was registered (its speed is measured in bench/ledger.py),
and the light client reads what web3 reads."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from eth_account import Account

from ledger.exceptions import ChainUnavailable
from ledger.offline.rpc import NodeError, RpcClient
from ledger.registry import PackageRegistry
from marketplace.repository.packages.build import build
from tests.factories import claim_line, package_facts
from tests.processes import free_port

if TYPE_CHECKING:
    from ledger.client import ChainClient

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("web3", "eth_account", "eth_abi", "eth_utils", "eth_keys", "requests", "django.conf", "django.apps")

pytestmark = pytest.mark.django_db


@pytest.fixture
def reg(snapshot, deployed, chain) -> PackageRegistry:
    return PackageRegistry(chain, deployed["PackageRegistry"])


DEMO = ROOT / "demo" / "packages" / "osm" / "nfvm_demo_amf_vnf"


def package(tmp_path: Path, label: str) -> tuple[Path, str]:
    """A real package (the verifier reads the line it names); `label` only names the file."""
    path = build(DEMO, "osm", tmp_path / f"{label}.tar.gz")
    return path, "0x" + hashlib.sha256(path.read_bytes()).hexdigest()


def register_directly(chain, reg: PackageRegistry, developer, path: Path):
    facts = package_facts(path)
    claim_line(chain, reg, developer, facts.line)
    tx = reg.register(developer.address, facts.digest, facts.line, facts.version, facts.descriptor_digest)
    return chain.transact(developer, tx, abi=reg.abi), facts


def verify_importing(path: Path, chain, reg: PackageRegistry) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `nfvm verify` as a user does; the modules it imported, from `python -X importtime`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "MONGODB", "ETH_", "OPERATOR"))}
    command = [sys.executable, "-X", "importtime", "-m", "marketplace.cli", "verify", str(path)]
    done = subprocess.run(
        [*command, "--rpc", chain.rpc_url, "--registry", reg.address],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env=env,
    )
    modules = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return done, modules


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)}


def test_it_verifies_a_direct_registration_without_web3(tmp_path, chain, reg, developer):
    path, _ = package(tmp_path, "direct")
    register_directly(chain, reg, developer, path)

    done, modules = verify_importing(path, chain, reg)

    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("VERIFIED: ")
    assert "ledger.offline.rpc" in modules
    assert heavy(modules) == set()


def test_it_recovers_a_relayed_signer_without_eth_account(tmp_path, chain, reg, developer, operator):
    path, _ = package(tmp_path, "relayed")
    facts = package_facts(path)
    claim_line(chain, reg, developer, facts.line)
    deadline = int(chain.w3.eth.get_block("latest")["timestamp"]) + 3600
    registration = reg.registration(
        developer.address,
        digest=facts.digest,
        name_hash=facts.line,
        version=facts.version,
        descriptor_digest=facts.descriptor_digest,
        deadline=deadline,
    )
    signature = Account.sign_typed_data(developer.key, full_message=reg.typed_data(registration)).signature
    chain.transact(operator, reg.register_with_signature(operator.address, registration, signature), abi=reg.abi)

    done, modules = verify_importing(path, chain, reg)

    assert done.returncode == 0, done.stdout
    assert f"signer       {developer.address}" in done.stdout
    assert heavy(modules) == set()


def test_an_unknown_file_is_unknown_without_web3(tmp_path, chain, reg):
    path, _ = package(tmp_path, "never registered")

    done, modules = verify_importing(path, chain, reg)

    assert done.returncode == 10
    assert heavy(modules) == set()


def test_the_light_client_reads_what_web3_reads(tmp_path, chain, reg, developer):
    path, digest = package(tmp_path, "same reads")
    receipt, facts = register_directly(chain, reg, developer, path)
    line = facts.line
    light = PackageRegistry(cast("ChainClient", RpcClient(chain.rpc_url)), reg.address)

    assert light.registration_of(digest, line) == reg.registration_of(digest, line)
    assert light.registrations_of_digest(digest) == reg.registrations_of_digest(digest)
    assert light.latest_version(line) == reg.latest_version(line)
    assert light.line_key(line) == reg.line_key(line) == developer.address
    tx_hash = receipt["transactionHash"]
    light_tx, web3_tx = light.client.w3.eth.get_transaction(tx_hash), chain.w3.eth.get_transaction(tx_hash)
    assert (light_tx["from"], light_tx["to"], bytes(light_tx["input"])) == (
        web3_tx["from"],
        web3_tx["to"],
        bytes(web3_tx["input"]),
    )
    assert light.contract.decode_function_input(light_tx["input"])[0].fn_name == "register"


def test_the_light_client_names_the_node_when_it_refuses_or_is_away(chain):
    with pytest.raises(NodeError, match="eth_noSuchMethod"):
        RpcClient(chain.rpc_url).request("eth_noSuchMethod", [])
    away = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ChainUnavailable, match=re.escape(away)):
        RpcClient(away).chain_id()
