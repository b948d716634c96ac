"""The licensing journey on anvil and the embedded store: publish, offer (an ODRL policy), buy or
activate a trial with a wallet signature, instantiate under the licence, terminate."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from django.db import connections

from ledger.indexer import Indexer
from ledger.licensing import LicenseManager
from ledger.projections import projections
from ledger.registry import PackageRegistry
from marketplace.contract_manager.decisions import LicenceDenied
from marketplace.licensing.instances import instances_flag_expired
from marketplace.licensing.models import NsInstance
from marketplace.repository.models import NetworkService
from marketplace.repository.packages.build import build
from marketplace.repository.services import package_ingest
from tests.factories import api_instantiate, instantiate, register_package, signed_in_token, wallet_sends

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "demo" / "packages" / "osm"
DAY = 86400


def index(chain):
    Indexer(chain, projections, confirmations=0).step()


def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def network_service(deployed, chain, snapshot, developer, tmp_path) -> NetworkService:
    """The demo 5G core NS and its two VNFs, ingested and registered on chain by the developer."""
    packages = []
    for name in ("nfvm_demo_amf_vnf", "nfvm_demo_upf_vnf", "nfvm_demo_core_ns"):
        archive = build(DEMO / name, "osm", tmp_path / f"{name}.tar.gz")
        with archive.open("rb") as source:
            packages.append(package_ingest(source=source, uploader=developer.address).package)
    for package in packages:
        register_package(package, developer, chain, index=False)
    index(chain)
    return NetworkService.objects.get(package=packages[-1])


def offer(client, chain, developer, ns, **terms) -> int:
    token = signed_in_token(client, developer)
    response = client.post(
        f"/api/v1/packages/{ns.package.pk}/offers", terms, content_type="application/json", headers=auth(token)
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["policy"]["@context"]
    tx = body["transaction"]
    tx["value"] = int(tx.get("value", "0x0"), 16) if isinstance(tx.get("value"), str) else tx.get("value", 0)
    chain.transact(developer, tx)
    index(chain)
    offers = client.get(f"/api/v1/packages/{ns.package.pk}/offers").json()["items"]
    return int(offers[-1]["offer_id"])


def agreement(client, token, offer_id):
    """The typed data of the agreement the signed-in user must sign for an offer."""
    return client.get(f"/api/v1/offers/{offer_id}/agreement", headers=auth(token)).json()["typed_data"]


def sign_and_post(client, token, account, offer_id, typed):
    """POST `typed`, signed by `account`, as the signed-in user's agreement to an offer."""
    return client.post(
        f"/api/v1/offers/{offer_id}/agreement",
        {"typed_data": typed, "signature": account.sign_typed_data(full_message=typed).signature.to_0x_hex()},
        content_type="application/json",
        headers=auth(token),
    )


def buy(client, chain, account, offer_id):
    token = signed_in_token(client, account)
    response = sign_and_post(client, token, account, offer_id, agreement(client, token, offer_id))
    assert response.status_code in (200, 201), response.content
    body = response.json()
    if "transaction" in body:  # a private offer: the licensee's own wallet pays
        wallet_sends(chain, account, body["transaction"])
    index(chain)
    return token


def test_the_private_licence_journey(client, chain, developer, stranger, network_service):
    buyer = stranger
    offer_id = offer(client, chain, developer, network_service, kind="private", price=10**15, seats=2, duration_days=30)
    status = client.get("/api/v1/licences/status", {"ns": network_service.pk, "user": buyer.address}).json()
    assert status["allowed_to_instantiate"] is False
    assert f"buy offer #{offer_id}" in status["reason"]
    assert client.get(f"/api/v1/offers/{offer_id}/policy").json()["@context"]

    token = buy(client, chain, buyer, offer_id)
    status = client.get("/api/v1/licences/status", {"ns": network_service.pk, "user": buyer.address}).json()
    assert status["allowed_to_instantiate"] is True

    # The seat is opened on chain under the licensee's signature: asked without one, the answer is the
    # SeatOpening to sign, for this node, with its nonce and deadline.
    unsigned = client.post(
        "/api/v1/instances", {"ns_id": str(network_service.pk)}, content_type="application/json", headers=auth(token)
    )
    assert unsigned.status_code == 428
    assert unsigned.json()["typed_data"]["primaryType"] == "SeatOpening"
    assert unsigned.json()["typed_data"]["message"]["count"] == 1
    assert not NsInstance.objects.exists()

    created = api_instantiate(client, token, buyer, str(network_service.pk))
    assert created.status_code == 201, created.content
    instance = created.json()
    assert instance["state"] == "running"
    assert instance["deploys"] is False  # the tracking-only driver deploys nothing
    assert instance["integrity"] == "verified"

    done = client.post(f"/api/v1/instances/{instance['id']}/terminate", headers=auth(token)).json()
    assert done["state"] == "terminated"


def test_a_user_without_a_licence_is_denied_with_the_reason(client, chain, developer, operator, network_service):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=10**15, seats=1)
    outsider = signed_in_token(client, operator)
    denied = client.post(
        "/api/v1/instances", {"ns_id": str(network_service.pk)}, content_type="application/json", headers=auth(outsider)
    )
    assert denied.status_code == 403
    assert f"buy offer #{offer_id}" in denied.json()["error"]


def test_fifty_parallel_requests_against_five_seats_grant_exactly_five(
    client, chain, developer, stranger, network_service
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=5)
    buy(client, chain, stranger, offer_id)
    granted: list[str] = []
    denied: list[str] = []
    start = threading.Barrier(50)

    def request() -> None:
        try:
            start.wait()
            instance = instantiate(network_service, stranger)
            (granted if instance.state == "running" else denied).append(instance.state)
        except LicenceDenied as exc:
            denied.append(exc.decision.reason)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == 5
    assert len(denied) == 45
    assert all("5 of 5 instances running" in reason for reason in denied)
    assert NsInstance.objects.filter(state="running").count() == 5


def test_an_expired_licence_denies_new_instances_and_flags_running_ones(
    client, chain, developer, stranger, network_service
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=3, duration_days=1)
    buy(client, chain, stranger, offer_id)
    running = instantiate(network_service, stranger)
    assert running.state == "running"

    chain.w3.provider.make_request("evm_increaseTime", [2 * DAY])
    chain.w3.provider.make_request("evm_mine", [])

    with pytest.raises(LicenceDenied, match="ended on"):
        instantiate(network_service, stranger)
    assert instances_flag_expired() == 1
    running.refresh_from_db()
    assert running.licence_expired


def test_a_trial_is_offered_then_activated_once(client, chain, developer, stranger, network_service):
    offer_id = offer(client, chain, developer, network_service, kind="trial", seats=1, duration_days=7)
    status = client.get("/api/v1/licences/status", {"ns": network_service.pk, "user": stranger.address}).json()
    assert status["trial_available"] is True
    assert "free trial (7 days, 1 instance)" in status["reason"]

    token = buy(client, chain, stranger, offer_id)

    first = api_instantiate(client, token, stranger, str(network_service.pk))
    assert first.status_code == 201
    second = api_instantiate(client, token, stranger, str(network_service.pk))
    assert second.status_code == 403
    assert "1 of 1 instances running" in second.json()["error"]
    again = sign_and_post(client, token, stranger, offer_id, agreement(client, token, offer_id))
    assert again.status_code == 409


def test_the_marketplace_relays_no_trial_of_a_revoked_package(client, chain, developer, stranger, network_service):
    offer_id = offer(client, chain, developer, network_service, kind="trial", seats=1, duration_days=7)
    token = signed_in_token(client, stranger)
    typed = agreement(client, token, offer_id)
    registry = PackageRegistry.deployed(chain)
    chain.transact(
        developer,
        registry.revoke(developer.address, "0x" + network_service.package.digest, network_service.package.line_hash),
        abi=registry.abi,
    )

    response = sign_and_post(client, token, stranger, offer_id, typed)

    assert response.status_code == 409, response.content
    assert "revoked" in response.json()["error"]
    assert LicenseManager.deployed(chain).licence_for(offer_id, stranger.address) is None


def test_an_agreement_for_other_terms_is_refused_with_the_field(client, chain, developer, stranger, network_service):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=10**15, seats=2, duration_days=30)
    token = signed_in_token(client, stranger)
    typed = agreement(client, token, offer_id)
    typed["message"]["seats"] = 20

    response = sign_and_post(client, token, stranger, offer_id, typed)

    assert response.status_code == 400, response.content
    assert f"seats is 20, offer {offer_id} has 2" in json.dumps(response.json())


def test_a_public_offer_needs_no_purchase(client, chain, developer, stranger, network_service):
    offer(client, chain, developer, network_service, kind="public")
    status = client.get("/api/v1/licences/status", {"ns": network_service.pk, "user": stranger.address}).json()
    assert status["allowed_to_instantiate"] is True
    assert instantiate(network_service, stranger).state == "running"


def test_only_the_owner_terminates(client, chain, developer, stranger, operator, network_service):
    offer(client, chain, developer, network_service, kind="public")
    instance = instantiate(network_service, stranger)
    other = signed_in_token(client, operator)
    assert client.post(f"/api/v1/instances/{instance.pk}/terminate", headers=auth(other)).status_code == 403
    assert client.post(f"/api/v1/instances/{instance.pk}/terminate").status_code == 401


def test_only_the_publisher_or_an_authorised_provider_offers(client, chain, developer, stranger, network_service):
    token = signed_in_token(client, stranger)
    response = client.post(
        f"/api/v1/packages/{network_service.package.pk}/offers",
        {"kind": "public"},
        content_type="application/json",
        headers=auth(token),
    )
    assert response.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_nfvm_licence_buys_and_activates_with_a_keystore(
    live_server, client, chain, developer, stranger, network_service, tmp_path
):
    import json
    import os
    import subprocess
    import sys

    from eth_account import Account

    private = offer(client, chain, developer, network_service, kind="private", price=10**15, seats=2)
    trial = offer(client, chain, developer, network_service, kind="trial", seats=1, duration_days=7)
    keystore = tmp_path / "user.json"
    keystore.write_text(json.dumps(Account.encrypt(stranger.key, "pw", kdf="pbkdf2", iterations=1024)))
    env = {**os.environ, "NFVM_KEYSTORE_PASSWORD": "pw"}

    def nfvm(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "marketplace.cli",
                "licence",
                *args,
                "--url",
                live_server.url,
                "--keystore",
                str(keystore),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )

    wrong = nfvm("activate", "--offer", str(private))
    assert wrong.returncode == 2
    assert "not a trial" in wrong.stderr
    bought = nfvm("buy", "--offer", str(private), "--rpc", chain.rpc_url)
    assert bought.returncode == 0, bought.stderr
    activated = nfvm("activate", "--offer", str(trial))
    assert activated.returncode == 0, activated.stderr
    assert "trial licence #" in activated.stdout
    index(chain)
    status = client.get("/api/v1/licences/status", {"ns": network_service.pk, "user": stranger.address}).json()
    assert status["allowed_to_instantiate"] is True
