"""Findings 1 and 3 of the trust-model review, performed through the real API, contracts and indexer: a
third party racing a developer for the origin of its upload gains nothing.

1. Origin theft: the digest was public before registration, a squatter registered it under its own line
   first, the author's registration reverted, and the indexer showed the squatter as publisher and sold
   the squatter's offer.
3. Griefing: registering the digest under another line, or claiming the author's line first, made the
   package read as TAMPERED and blocked its registration.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.exceptions import TransactionFailed
from ledger.indexer import Indexer
from ledger.licensing import LicenseManager, OfferKind
from ledger.projections import projections
from ledger.registry import PackageRegistry, name_hash, version_number
from marketplace.repository.models import Package
from marketplace.repository.packages.build import build
from tests.factories import claim_line, register_package, signed_in_token

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "demo" / "packages"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def index(chain) -> None:
    Indexer(chain, projections, confirmations=0).step()


@pytest.fixture
def upload(client, deployed, chain, snapshot, developer, tmp_path):
    """The developer's upload of the demo AMF, through the API: its line has no owner yet."""
    token = signed_in_token(client, developer)
    archive = build(DEMO / "osm/nfvm_demo_amf_vnf", "osm", tmp_path / "amf.tar.gz")
    with archive.open("rb") as handle:
        response = client.post("/api/v1/packages", {"package": handle}, headers=auth(token))
    assert response.status_code == 201, response.content
    return Package.objects.get(pk=response.json()["id"]), token


def test_attack_an_unclaimed_upload_shows_its_digest_to_nobody_but_its_uploader(client, upload, stranger):
    package, token = upload
    stranger_token = signed_in_token(client, stranger)
    pk = package.pk
    reads = [
        f"/api/v1/packages/{pk}",
        f"/api/v1/packages/{pk}/proof",
        f"/api/v1/packages/{pk}/files",
        f"/api/v1/packages/{pk}/content",
        f"/api/v1/packages/{pk}/versions",
        f"/vnfpkgm/v1/vnf_packages/{pk}",
        f"/packages/{pk}/",
    ]
    for headers in ({}, auth(stranger_token)):
        for path in reads:
            assert client.get(path, headers=headers).status_code == 404, path
        found = client.get("/api/v1/packages", {"q": "nfvm-demo-amf"}, headers=headers).json()
        assert found["total"] == 0
        listing = client.get("/vnfpkgm/v1/vnf_packages", headers=headers).json()
        assert str(pk) not in {p["id"] for p in listing}
        assert package.digest not in client.get("/packages/", {"q": "amf"}, headers=headers).content.decode()
    # Its uploader sees it everywhere.
    for path in reads[:5]:
        assert client.get(path, headers=auth(token)).status_code == 200, path
    assert client.get("/api/v1/packages", {"q": "nfvm-demo-amf"}, headers=auth(token)).json()["total"] == 1


def test_attack_a_squatters_registration_and_offer_of_the_same_bytes_count_for_nothing(
    client, upload, chain, deployed, developer, stranger
):
    package, _ = upload
    registry = PackageRegistry(chain, deployed["PackageRegistry"])
    manager = LicenseManager(chain, deployed["LicenseManager"])
    digest = "0x" + package.digest
    # The squatter has the bytes anyway (say, from elsewhere): it registers them under a line of its own
    # and offers them for sale, before the author does anything.
    squat = name_hash("Mallory Networks", package.name)
    claim_line(chain, registry, stranger, squat)
    tx = registry.register(stranger.address, digest, squat, version_number("1.0"), "0x" + package.descriptor_digest)
    chain.transact(stranger, tx, abi=registry.abi)
    offer = manager.create_offer(
        stranger.address,
        digest=digest,
        name_hash=squat,
        kind=OfferKind.PRIVATE,
        price=10**18,
        seats=1,
        terms_hash=b"\x01" * 32,
    )
    chain.transact(stranger, offer, abi=manager.abi)
    index(chain)
    package.refresh_from_db()
    assert package.state == "validated"  # the squatter's registration publishes nothing here

    # The author's registration goes through the marketplace as if nobody had raced it.
    register_package(package, developer, chain)

    proof = client.get(f"/api/v1/packages/{package.pk}/proof").json()
    assert (proof["state"], proof["publisher"]) == ("anchored", developer.address)
    assert proof["line"]["owner"] == developer.address
    assert client.get(f"/api/v1/packages/{package.pk}/offers").json()["items"] == []
    package.refresh_from_db()
    assert package.state == "published"
    # The squatter cannot offer the package under the author's line either.
    with pytest.raises(TransactionFailed, match="NotProvider"):
        chain.transact(
            stranger,
            manager.create_offer(
                stranger.address,
                digest=digest,
                name_hash=package.line_hash,
                kind=OfferKind.PRIVATE,
                price=1,
                seats=1,
                terms_hash=b"\x02" * 32,
            ),
            abi=manager.abi,
        )
    # Nor deprecate or revoke it.
    with pytest.raises(TransactionFailed, match="NotPublisher"):
        chain.transact(stranger, registry.revoke(stranger.address, digest, package.line_hash), abi=registry.abi)


def test_attack_claiming_the_authors_line_after_it_committed_fails(
    client, upload, chain, deployed, developer, stranger
):
    """The squatter learns the line from the author's reveal (or guesses it) and races the claim."""
    from marketplace.repository.registration import line_claims_due, registration_prepare, registration_submit
    from tests.factories import sign_registration, warp

    package, _ = upload
    registry = PackageRegistry(chain, deployed["PackageRegistry"])
    body = sign_registration(registration_prepare(package=package, actor=developer.address), developer)
    registration_submit(package=package, actor=developer.address, **body)  # the author's claim is committed
    # The squatter commits to the same line now and tries to reveal first, once its own commitment is old.
    with pytest.raises(TransactionFailed, match="CommitmentTooNew"):
        claim_line_at_once(chain, registry, stranger, package.line_hash)
    warp(chain, registry.min_commitment_age())
    line_claims_due()  # the author's older commitment is revealed first
    assert registry.line_owner(package.line_hash) == developer.address
    index(chain)
    assert client.get(f"/api/v1/packages/{package.pk}/proof").json()["publisher"] == developer.address


def claim_line_at_once(chain, registry: PackageRegistry, account, line: str) -> None:
    """A commitment and its reveal in the next block: what a front-runner who just saw the line can do."""
    import os

    from ledger.registry import LineClaim

    claim = LineClaim(name_hash=line, claimant=account.address, deadline=chain.now() + 3600)
    secret = os.urandom(32)
    chain.transact(account, registry.commit_line(account.address, claim.commitment(secret)), abi=registry.abi)
    chain.transact(account, registry.claim_line(account.address, claim, secret), abi=registry.abi)


def test_attack_uploading_into_a_line_another_key_owns_is_refused(
    client, deployed, chain, snapshot, developer, stranger, tmp_path
):
    registry = PackageRegistry(chain, deployed["PackageRegistry"])
    claim_line(chain, registry, developer, name_hash("NFV Marketplace Demo", "nfvm-demo-amf"))
    index(chain)
    archive = build(DEMO / "osm/nfvm_demo_amf_vnf", "osm", tmp_path / "amf.tar.gz")
    with archive.open("rb") as handle:
        response = client.post("/api/v1/packages", {"package": handle}, headers=auth(signed_in_token(client, stranger)))
    assert response.status_code == 422, response.content
    problem = response.json()["problems"][0]
    assert problem["rule"] == "repository.line-owned"
    assert developer.address in problem["message"]
    assert not Package.objects.exists()


def test_attack_an_unlisted_upload_neither_resolves_for_nor_answers_another_uploader(
    client, upload, stranger, tmp_path
):
    """Finding 6 and 7 of the review of this change: probing by reference or by re-upload."""
    from marketplace.repository.packages.problems import PackageRejected
    from marketplace.repository.services import package_ingest

    package, _ = upload
    # The same bytes, uploaded again by someone else: refused without naming the package, its id or uploader.
    with (tmp_path / "amf.tar.gz").open("rb") as handle, pytest.raises(PackageRejected) as refused:
        package_ingest(source=handle, uploader=stranger.address)
    (problem,) = refused.value.problems
    assert problem.rule == "repository.duplicate-content"
    assert str(package.pk) not in problem.message
    assert package.uploader not in problem.message
    # A network service of the stranger's naming the unlisted VNF does not resolve it.
    from marketplace.repository.packages.types import VnfRef
    from marketplace.repository.selectors import vnf_for_ref

    ref = VnfRef(vendor=package.vendor, name=package.name, version=package.version)
    assert vnf_for_ref(ref, viewer=stranger.address) is None
    assert vnf_for_ref(ref, viewer=package.uploader) is not None
    # Other bytes claiming the same vendor/name/version: accepted as the stranger's own, so that no refusal
    # tells it the line exists; it stays the stranger's, unlisted, and never the line's.
    import shutil

    other = shutil.copytree(DEMO / "osm/nfvm_demo_amf_vnf", tmp_path / "other")
    vnfd = other / "nfvm_demo_amf_vnfd.yaml"
    vnfd.write_text(vnfd.read_text().replace("one VM", "one VM, repacked"))
    with build(other, "osm", tmp_path / "other.tar.gz").open("rb") as handle:
        theirs = package_ingest(source=handle, uploader=stranger.address).package
    assert (theirs.uploader, theirs.listed) == (stranger.address, False)
    package.refresh_from_db()
    assert package.is_latest  # the stranger's upload does not push the uploader's out of its own line
