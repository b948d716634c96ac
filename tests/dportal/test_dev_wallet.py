"""The development wallet of embedded mode: offered on anvil's development chain only, with
anvil's public test accounts (never the operator's), and a relay that passes on reads and signed
transactions and refuses everything else."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from eth_account import Account

from config import embedded
from config.embedded import ANVIL_DEV_KEYS
from ledger.client import ChainClient
from ledger.devwallet import DevWalletUnavailable, dev_rpc, dev_wallet_config
from tests.processes import free_port

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def rpc(client: Client, method: object, params: object = None) -> tuple[int, dict[str, Any]]:
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": [] if params is None else params}
    response = client.post("/dev-wallet/rpc", json.dumps(body), content_type="application/json")
    return response.status_code, dict(response.json())


def wallet_config(html: str) -> dict[str, Any] | None:
    marker = '<script id="dev-wallet" type="application/json">'
    if marker not in html:
        return None
    return dict(json.loads(html.split(marker, 1)[1].split("</script>", 1)[0]))


def test_it_offers_anvils_test_accounts_but_not_the_operators_when_enabled(client, settings, chain):
    settings.DEV_WALLET = True

    config = wallet_config(client.get("/").content.decode())

    assert config is not None
    assert config["chainId"] == 31337
    assert config["rpcUrl"] == "/dev-wallet/rpc"
    assert [a["address"] for a in config["accounts"]] == [Account.from_key(k).address for k in ANVIL_DEV_KEYS[1:]]
    assert ANVIL_DEV_KEYS[0] not in json.dumps(config)


def test_it_offers_no_development_wallet_when_disabled(client, settings, chain):
    settings.DEV_WALLET = False

    assert wallet_config(client.get("/signin").content.decode()) is None
    status, answer = rpc(client, "eth_chainId")
    assert status == 404
    assert "only offered on the embedded development chain" in answer["error"]["message"]


def test_it_never_offers_it_on_a_chain_other_than_anvils_development_chain(tmp_path):
    other = embedded.chain_service(
        port=free_port(), chain_id=4242, state_path=None, log_path=tmp_path / "chain.log", pid_path=None
    )
    embedded.start(other)
    try:
        client = ChainClient(f"http://127.0.0.1:{other.port}")
        assert client.chain_id() == 4242
        assert dev_wallet_config(client, enabled=True) is None
        with pytest.raises(DevWalletUnavailable):
            dev_rpc(client, enabled=True, method="eth_chainId", params=[])
    finally:
        embedded.stop(other)


def test_it_relays_reads_to_the_node(client, settings, chain):
    settings.DEV_WALLET = True

    status, answer = rpc(client, "eth_chainId")

    assert status == 200
    assert answer == {"jsonrpc": "2.0", "id": 7, "result": "0x7a69"}


def test_it_relays_a_transaction_signed_in_the_browser(client, settings, chain):
    settings.DEV_WALLET = True
    sender = Account.from_key(ANVIL_DEV_KEYS[4])
    recipient = Account.create().address
    tx = {
        "to": recipient,
        "value": 12345,
        "gas": 21000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
        "nonce": chain.w3.eth.get_transaction_count(sender.address),
        "chainId": 31337,
        "type": 2,
    }
    raw = sender.sign_transaction(tx).raw_transaction.to_0x_hex()

    status, answer = rpc(client, "eth_sendRawTransaction", [raw])

    assert status == 200, answer
    receipt = chain.w3.eth.wait_for_transaction_receipt(answer["result"])
    assert receipt["status"] == 1
    assert chain.w3.eth.get_balance(recipient) == 12345


def test_it_passes_on_the_nodes_error_for_a_bad_transaction(client, settings, chain):
    settings.DEV_WALLET = True

    status, answer = rpc(client, "eth_sendRawTransaction", ["0x1234"])

    assert status == 200
    assert answer["error"]["message"]


@pytest.mark.parametrize(
    "method",
    ["eth_sendTransaction", "eth_sign", "eth_accounts", "anvil_setBalance", "evm_increaseTime", "personal_sign", 42],
)
def test_it_refuses_methods_that_would_use_the_nodes_keys_or_change_its_state(client, settings, chain, method):
    settings.DEV_WALLET = True

    status, answer = rpc(client, method)

    assert status == 403
    assert "is not relayed" in answer["error"]["message"]


def test_it_refuses_malformed_calls(client, settings, chain):
    settings.DEV_WALLET = True

    response = client.post("/dev-wallet/rpc", "not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700
    status, answer = rpc(client, "eth_chainId", {"not": "a list"})
    assert status == 403
    assert "params must be a JSON array" in answer["error"]["message"]
    assert client.get("/dev-wallet/rpc").status_code == 405


def test_it_needs_the_pages_csrf_token(settings, chain):
    settings.DEV_WALLET = True
    guarded = Client(enforce_csrf_checks=True)

    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})

    response = guarded.post("/dev-wallet/rpc", body, content_type="application/json")

    assert response.status_code == 403


def test_the_committed_wallet_bundle_is_built_from_its_source(tmp_path):
    esbuild = ROOT / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists() or shutil.which("node") is None:
        pytest.skip("node_modules is missing; `make install` installs the bundler")
    script = json.loads((ROOT / "package.json").read_text())["scripts"]["build:wallet"]
    args = script.split()[1:]
    out = tmp_path / "nfvm-wallet.js"
    args = [f"--outfile={out}" if a.startswith("--outfile=") else a for a in args]

    subprocess.run([str(esbuild), *args], cwd=ROOT, check=True, capture_output=True)

    committed = ROOT / "static" / "vendor" / "nfvm-wallet.js"
    assert out.read_bytes() == committed.read_bytes(), "static/vendor/nfvm-wallet.js is stale: run `make assets`"
