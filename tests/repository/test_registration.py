"""Registering a package on chain: the uploader's wallet signs EIP-712 typed data, the operator
relays it or anchors it in a batch, and the proof comes from the indexer."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.indexer import Indexer
from ledger.projections import projections
from ledger.registry import PackageRegistry, registration_from_typed_data
from marketplace.repository.models import Package
from marketplace.repository.packages.build import build
from marketplace.repository.registration import registration_batches_anchor
from marketplace.repository.services import package_ingest
from tests.factories import signed_in_token

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "demo" / "packages"


@pytest.fixture
def token(client, developer):
    return signed_in_token(client, developer)


def demo_package(tmp_path, developer, folder="osm/nfvm_demo_amf_vnf") -> Package:
    fmt = folder.split("/")[0]
    archive = build(DEMO / folder, fmt, tmp_path / f"{Path(folder).name}.pkg")
    with archive.open("rb") as source:
        return package_ingest(source=source, uploader=developer.address).package


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def sign_and_submit(client, token, account, package, mode="relay"):
    typed = client.get(f"/api/v1/packages/{package.pk}/registration", headers=auth(token)).json()["typed_data"]
    signature = account.sign_typed_data(full_message=typed).signature.to_0x_hex()
    return client.post(
        f"/api/v1/packages/{package.pk}/registration",
        {"typed_data": typed, "signature": signature, "mode": mode},
        content_type="application/json",
        headers=auth(token),
    )


def index(chain):
    Indexer(chain, projections, confirmations=0).step()


def test_a_relayed_registration_is_published_once_indexed(
    client, deployed, chain, snapshot, developer, token, tmp_path
):
    package = demo_package(tmp_path, developer)

    response = sign_and_submit(client, token, developer, package)

    assert response.status_code == 202, response.content
    assert response.json()["state"] == "submitted"
    assert client.get(f"/api/v1/packages/{package.pk}/proof").json()["state"] == "submitted"
    index(chain)
    proof = client.get(f"/api/v1/packages/{package.pk}/proof").json()
    assert proof["state"] == "anchored"
    assert proof["mode"] == "direct"
    assert proof["publisher"] == developer.address  # the signer, not the relaying operator
    assert proof["registry"] == deployed["PackageRegistry"]
    assert proof["tx_hash"].startswith("0x")
    assert proof["block_number"] > 0
    package.refresh_from_db()
    assert package.state == "published"
    record = PackageRegistry(chain, deployed["PackageRegistry"]).registration_of("0x" + package.digest)
    assert record is not None
    assert record.publisher == developer.address


def test_a_batched_registration_carries_its_inclusion_proof(
    client, deployed, chain, snapshot, developer, token, tmp_path
):
    first = demo_package(tmp_path, developer, "osm/nfvm_demo_amf_vnf")
    second = demo_package(tmp_path, developer, "osm/nfvm_demo_upf_vnf")
    for package in (first, second):
        assert sign_and_submit(client, token, developer, package, mode="batch").json()["state"] == "signed"

    assert registration_batches_anchor() == 2
    index(chain)

    registry = PackageRegistry(chain, deployed["PackageRegistry"])
    for package in (first, second):
        proof = client.get(f"/api/v1/packages/{package.pk}/proof").json()
        assert proof["state"] == "anchored"
        assert proof["mode"] == "batch"
        batch = proof["batch"]
        assert batch["size"] == 2
        registration = registration_from_typed_data({"primaryType": "Registration", "message": proof["registration"]})
        assert registry.verify_batched(
            batch["batch_id"], registration, proof["signature"], batch["proof"], batch["index"]
        )
        package.refresh_from_db()
        assert package.state == "published"


def test_only_the_uploader_prepares_or_submits(client, deployed, chain, snapshot, developer, stranger, tmp_path):
    package = demo_package(tmp_path, developer)
    developer_token = signed_in_token(client, developer)
    stranger_token = signed_in_token(client, stranger)
    assert client.get(f"/api/v1/packages/{package.pk}/registration").status_code == 401
    assert client.get(f"/api/v1/packages/{package.pk}/registration", headers=auth(stranger_token)).status_code == 403
    typed = client.get(f"/api/v1/packages/{package.pk}/registration", headers=auth(developer_token)).json()
    body = {"typed_data": typed["typed_data"], "signature": "0x" + "00" * 65}
    for headers, expected in ((auth(stranger_token), 403), ({}, 401)):
        response = client.post(
            f"/api/v1/packages/{package.pk}/registration", body, content_type="application/json", headers=headers
        )
        assert response.status_code == expected


def test_a_signature_by_another_key_is_refused(client, deployed, chain, snapshot, developer, stranger, token, tmp_path):
    package = demo_package(tmp_path, developer)
    typed = client.get(f"/api/v1/packages/{package.pk}/registration", headers=auth(token)).json()["typed_data"]
    forged = stranger.sign_typed_data(full_message=typed).signature.to_0x_hex()
    response = client.post(
        f"/api/v1/packages/{package.pk}/registration",
        {"typed_data": typed, "signature": forged},
        content_type="application/json",
        headers=auth(token),
    )
    assert response.status_code == 401
    assert "not by the uploader" in response.json()["error"]


def test_typed_data_for_another_package_is_refused(client, deployed, chain, snapshot, developer, token, tmp_path):
    package = demo_package(tmp_path, developer)
    typed = client.get(f"/api/v1/packages/{package.pk}/registration", headers=auth(token)).json()["typed_data"]
    typed["message"]["digest"] = "0x" + "11" * 32
    signature = developer.sign_typed_data(full_message=typed).signature.to_0x_hex()
    response = client.post(
        f"/api/v1/packages/{package.pk}/registration",
        {"typed_data": typed, "signature": signature},
        content_type="application/json",
        headers=auth(token),
    )
    assert response.status_code == 400
    assert "typed_data" in response.json()["fields"]


def test_a_package_registers_once(client, deployed, chain, snapshot, developer, token, tmp_path):
    package = demo_package(tmp_path, developer)
    assert sign_and_submit(client, token, developer, package).status_code == 202
    again = sign_and_submit(client, token, developer, package)
    assert again.status_code == 409
    assert "already registered" in again.json()["error"]


def test_revocation_on_chain_reaches_the_repository(client, deployed, chain, snapshot, developer, token, tmp_path):
    package = demo_package(tmp_path, developer)
    sign_and_submit(client, token, developer, package)
    registry = PackageRegistry(chain, deployed["PackageRegistry"])
    chain.transact(developer, registry.revoke(developer.address, "0x" + package.digest), abi=registry.abi)
    index(chain)
    package.refresh_from_db()
    assert package.state == "revoked"
    assert client.get(f"/api/v1/packages/{package.pk}/proof").json()["status"] == "revoked"


def test_an_unregistered_package_says_so(client, deployed, developer, tmp_path):
    package = demo_package(tmp_path, developer)
    proof = client.get(f"/api/v1/packages/{package.pk}/proof").json()
    assert proof["state"] == "none"
    assert proof["registry"] == deployed["PackageRegistry"]


def test_a_chain_reset_turns_the_proof_into_a_warning(client, deployed, chain, snapshot, developer, token, tmp_path):
    from ledger.models import IndexerState

    package = demo_package(tmp_path, developer)
    sign_and_submit(client, token, developer, package)
    index(chain)
    IndexerState.objects.update(genesis_hash="0x" + "ab" * 32)
    index(chain)

    proof = client.get(f"/api/v1/packages/{package.pk}/proof").json()
    assert proof["state"] == "chain-reset"
    assert "reset" in proof["warning"]
    assert "Not verifiable" in client.get(f"/packages/{package.pk}/").content.decode()
