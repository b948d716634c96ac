"""Registering a package on chain: the uploader's wallet signs EIP-712 typed data, the operator
relays it or anchors it in a batch, and the proof comes from the indexer."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.client import get_chain_client
from ledger.indexer import Indexer
from ledger.projections import projections
from ledger.registry import PackageRegistry, registration_from_typed_data
from marketplace.repository.models import LineClaimRequest, Package
from marketplace.repository.packages.build import build
from marketplace.repository.registration import line_claims_due, registration_batches_anchor
from marketplace.repository.services import package_ingest
from tests.factories import claim_line, sign_registration, signed_in_token, warp

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "demo" / "packages"


@pytest.fixture
def token(client, developer):
    return signed_in_token(client, developer)


def demo_package(tmp_path, developer, folder="osm/nfvm_demo_amf_vnf", *, claimed: bool = True) -> Package:
    """A demo package uploaded by `developer`, whose line it has already claimed on chain (unless not
    `claimed`: then the registration claims it through the marketplace)."""
    fmt = folder.split("/")[0]
    archive = build(DEMO / folder, fmt, tmp_path / f"{Path(folder).name}.pkg")
    with archive.open("rb") as source:
        package = package_ingest(source=source, uploader=developer.address).package
    if claimed:
        chain = get_chain_client()
        claim_line(chain, PackageRegistry.deployed(chain), developer, package.line_hash)
        index(chain)  # the line's owner indexed: the package is listed
        package.refresh_from_db()
    return package


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def sign_and_submit(client, token, account, package, mode="relay"):
    prepared = client.get(f"/api/v1/packages/{package.pk}/registration", headers=auth(token)).json()
    return client.post(
        f"/api/v1/packages/{package.pk}/registration",
        sign_registration(prepared, account, mode),
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
    record = PackageRegistry(chain, deployed["PackageRegistry"]).registration_of(
        "0x" + package.digest, package.line_hash
    )
    assert record is not None
    assert record.publisher == developer.address


def test_a_batched_registration_carries_its_inclusion_proof(
    client, deployed, chain, snapshot, developer, token, tmp_path
):
    first = demo_package(tmp_path, developer, "osm/nfvm_demo_amf_vnf")
    second = demo_package(tmp_path, developer, "osm/nfvm_demo_upf_vnf")
    for package in (first, second):
        assert sign_and_submit(client, token, developer, package, mode="batch").json()["state"] == "signed"

    # Anchored, then each leaf proven on chain: a batched registration counts only once proven.
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


def test_a_batch_whose_root_a_crash_left_on_chain_is_proved_under_it_not_anchored_again(
    client, deployed, chain, snapshot, developer, token, tmp_path
):
    from ledger.models import RegistryBatch
    from ledger.registry import batch_tree
    from ledger.signer import operator_account
    from marketplace.repository.models import RegistrationRequest
    from marketplace.repository.registration import registry_typed

    package = demo_package(tmp_path, developer)
    assert sign_and_submit(client, token, developer, package, mode="batch").json()["state"] == "signed"
    # What a tick cut short after its anchoring transaction left: the queue's root on chain, nothing recorded.
    queued = list(RegistrationRequest.objects.filter(package=package))
    tree = batch_tree([(registration_from_typed_data(registry_typed(r)), r.signature) for r in queued])
    registry, operator = PackageRegistry(chain, deployed["PackageRegistry"]), operator_account()
    chain.transact(operator, registry.anchor_batch(operator.address, tree.root, 1), abi=registry.abi)
    index(chain)
    assert RegistryBatch.objects.count() == 1

    assert registration_batches_anchor() == 1
    index(chain)

    assert RegistryBatch.objects.count() == 1  # no second root
    proof = client.get(f"/api/v1/packages/{package.pk}/proof").json()
    assert proof["state"] == "anchored"
    assert proof["batch"]["batch_id"] == RegistryBatch.objects.get().batch_id


def test_attack_an_edited_batch_record_does_not_make_the_node_adopt_a_root_the_chain_lacks(
    client, deployed, chain, snapshot, developer, token, tmp_path
):
    """The database claims the queue's root was anchored as batch 1; on chain batch 1 is another root. The node
    checks the chain, anchors its own root, and the registration is proved under it."""
    from ledger.models import RegistryBatch
    from ledger.registry import batch_tree
    from ledger.signer import operator_account
    from marketplace.repository.models import RegistrationRequest
    from marketplace.repository.registration import registry_typed

    package = demo_package(tmp_path, developer)
    assert sign_and_submit(client, token, developer, package, mode="batch").json()["state"] == "signed"
    registry, operator = PackageRegistry(chain, deployed["PackageRegistry"]), operator_account()
    chain.transact(operator, registry.anchor_batch(operator.address, b"\x11" * 32, 1), abi=registry.abi)
    index(chain)
    (request,) = RegistrationRequest.objects.filter(package=package)
    tree = batch_tree([(registration_from_typed_data(registry_typed(request)), request.signature)])
    RegistryBatch.objects.filter(batch_id=1).update(root="0x" + tree.root.hex())  # the lie

    assert registration_batches_anchor() == 1
    index(chain)

    proof = client.get(f"/api/v1/packages/{package.pk}/proof").json()
    assert proof["state"] == "anchored"
    assert proof["batch"]["batch_id"] == 2
    anchored = registry.batch(2)
    assert anchored is not None
    assert anchored.root == "0x" + tree.root.hex()


def test_a_batch_cut_between_its_root_and_its_proofs_is_proved_by_the_worker(
    client, deployed, chain, snapshot, developer, token, tmp_path
):
    from datetime import timedelta

    from django.utils import timezone

    from ledger.models import RegistryBatch
    from ledger.registry import batch_tree
    from ledger.signer import operator_account
    from marketplace.repository.models import RegistrationRequest
    from marketplace.repository.registration import registration_batch_proofs_due, registry_typed

    package = demo_package(tmp_path, developer)
    assert sign_and_submit(client, token, developer, package, mode="batch").json()["state"] == "signed"
    # What a worker killed after the root and before the proof left: the request submitted in an anchored
    # batch, its proof never sent.
    (request,) = RegistrationRequest.objects.filter(package=package)
    tree = batch_tree([(registration_from_typed_data(registry_typed(request)), request.signature)])
    registry, operator = PackageRegistry(chain, deployed["PackageRegistry"]), operator_account()
    chain.transact(operator, registry.anchor_batch(operator.address, tree.root, 1), abi=registry.abi)
    index(chain)
    RegistrationRequest.objects.filter(pk=request.pk).update(
        state="submitted",
        batch_id=RegistryBatch.objects.get().batch_id,
        leaf_index=0,
        inclusion_proof=["0x" + node.hex() for node in tree.proof(0)],
        created_at=timezone.now() - timedelta(minutes=5),
    )
    assert client.get(f"/api/v1/packages/{package.pk}/proof").json()["state"] != "anchored"

    assert registration_batch_proofs_due() == 1
    index(chain)

    assert client.get(f"/api/v1/packages/{package.pk}/proof").json()["state"] == "anchored"
    assert registration_batch_proofs_due() == 0  # recorded: nothing is sent again


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
    tx = registry.revoke(developer.address, "0x" + package.digest, package.line_hash)
    chain.transact(developer, tx, abi=registry.abi)
    index(chain)
    package.refresh_from_db()
    assert package.state == "revoked"
    assert client.get(f"/api/v1/packages/{package.pk}/proof").json()["status"] == "revoked"


def test_an_unregistered_package_says_so(client, deployed, chain, snapshot, developer, token, tmp_path):
    package = demo_package(tmp_path, developer)
    proof = client.get(f"/api/v1/packages/{package.pk}/proof", headers=auth(token)).json()
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


# ---------------------------------------------------------------- the line, claimed by commit-reveal


def test_an_unclaimed_line_is_claimed_through_the_marketplace_then_the_registration_goes_out(
    client, deployed, chain, snapshot, developer, token, tmp_path
):
    package = demo_package(tmp_path, developer, claimed=False)
    registry = PackageRegistry(chain, deployed["PackageRegistry"])
    prepared = client.get(f"/api/v1/packages/{package.pk}/registration", headers=auth(token)).json()
    assert prepared["line"] == {
        "name": f"{package.vendor}/{package.name}",
        "name_hash": package.line_hash,
        "state": "unclaimed",
    }
    assert prepared["claim"]["primaryType"] == "LineClaim"
    assert prepared["claim"]["message"]["claimant"] == developer.address

    # The registration alone is refused while the line has no owner: it must come with the claim.
    body = sign_registration(prepared, developer)
    alone = {k: v for k, v in body.items() if not k.startswith("claim")}
    refused = client.post(
        f"/api/v1/packages/{package.pk}/registration", alone, content_type="application/json", headers=auth(token)
    )
    assert refused.status_code == 400
    assert "sign its claim" in refused.json()["fields"]["claim"]

    accepted = client.post(
        f"/api/v1/packages/{package.pk}/registration", body, content_type="application/json", headers=auth(token)
    )
    assert accepted.status_code == 202, accepted.content
    assert accepted.json()["state"] == "signed"  # waits for the line's reveal
    (claim,) = LineClaimRequest.objects.filter(name_hash=package.line_hash)
    assert (claim.state, claim.claimant) == ("committed", developer.address)
    assert registry.commitment_time(claim.commitment) == claim.committed_at
    assert registry.line_owner(package.line_hash) is None  # nothing about the line is public yet
    again = client.get(f"/api/v1/packages/{package.pk}/registration", headers=auth(token)).json()
    assert (again["claim"], again["line"]["state"]) == (None, "claiming")

    # Before the commitment's minimum age nothing is revealed; after it, the claim and then the registration.
    line_claims_due()
    assert registry.line_owner(package.line_hash) is None
    warp(chain, registry.min_commitment_age())
    assert line_claims_due() == 1
    assert registry.line_owner(package.line_hash) == developer.address
    index(chain)
    proof = client.get(f"/api/v1/packages/{package.pk}/proof").json()
    assert (proof["state"], proof["publisher"]) == ("anchored", developer.address)
    assert proof["line"]["owner"] == proof["line"]["key"] == developer.address


def test_a_line_another_key_owns_takes_no_registration_from_the_uploader(
    client, deployed, chain, snapshot, developer, stranger, token, tmp_path
):
    package = demo_package(tmp_path, developer, claimed=False)
    claim_line(chain, PackageRegistry(chain, deployed["PackageRegistry"]), stranger, package.line_hash)

    response = client.get(f"/api/v1/packages/{package.pk}/registration", headers=auth(token))

    assert response.status_code == 409
    assert f"belongs to {stranger.address}" in response.json()["error"]


def test_attack_copies_of_the_relayed_commitment_reveal_and_registration_sent_first_change_nothing(
    client, deployed, chain, snapshot, developer, stranger, token, tmp_path
):
    """Whoever watches the pending transactions can send copies of them first: the same commitment, the
    same reveal, the same signed registration. Each only does what the developer signed, and the
    marketplace's own copies reverting do not fail the developer's registration."""
    from ledger.registry import LineClaim, line_claim_from_typed_data, registration_from_typed_data

    package = demo_package(tmp_path, developer, claimed=False)
    registry = PackageRegistry(chain, deployed["PackageRegistry"])
    prepared = client.get(f"/api/v1/packages/{package.pk}/registration", headers=auth(token)).json()
    body = sign_registration(prepared, developer)
    claim: LineClaim = line_claim_from_typed_data(body["claim_typed_data"])
    secret = body["claim_signature"]
    chain.transact(stranger, registry.commit_line(stranger.address, claim.commitment(secret)), abi=registry.abi)

    accepted = client.post(
        f"/api/v1/packages/{package.pk}/registration", body, content_type="application/json", headers=auth(token)
    )
    assert accepted.status_code == 202, accepted.content
    warp(chain, registry.min_commitment_age())
    chain.transact(stranger, registry.claim_line(stranger.address, claim, secret), abi=registry.abi)
    signed = registration_from_typed_data(body["typed_data"])
    chain.transact(
        stranger, registry.register_with_signature(stranger.address, signed, body["signature"]), abi=registry.abi
    )

    line_claims_due()  # its reveal and its relay both revert: the copies went first

    (request,) = LineClaimRequest.objects.filter(name_hash=package.line_hash)
    assert request.state == "claimed"
    index(chain)
    proof = client.get(f"/api/v1/packages/{package.pk}/proof").json()
    assert (proof["state"], proof["publisher"], proof["line"]["owner"]) == (
        "anchored",
        developer.address,
        developer.address,
    )
