"""A lying operator edits its own database behind the pages (findings 5, 7 and 8 of the trust-model
review): every badge comes from chain evidence the page checks, so an edit makes a package read "not
verifiable" or "not registered", never "registered" or "verified"; and a package whose licences were
sold directly on chain cannot be deleted from under its licensees."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.indexer import Indexer
from ledger.licensing import LicenseManager, OfferKind
from ledger.models import PackageAnchor
from ledger.projections import projections
from marketplace.repository.models import Package, VerificationRecord
from marketplace.repository.packages.build import build
from marketplace.repository.services import package_ingest
from tests.factories import register_package, signed_in_token

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "demo" / "packages"


def ingest(tmp_path: Path, developer, folder: str = "osm/nfvm_demo_amf_vnf") -> Package:
    archive = build(DEMO / folder, "osm", tmp_path / f"{Path(folder).name}.tar.gz")
    with archive.open("rb") as source:
        return package_ingest(source=source, uploader=developer.address).package


def badge(html: str) -> str:
    marker = 'data-fact="chain-state">'
    start = html.index(marker) + len(marker)
    return html[start : html.index("<", start)]


def test_attack_an_edited_registration_record_reads_not_verifiable(
    client, deployed, chain, snapshot, developer, stranger, tmp_path
):
    package = ingest(tmp_path, developer)
    register_package(package, developer, chain)
    page = client.get(f"/packages/{package.pk}/").content.decode()
    assert "Registered on chain" in page
    assert badge(page) == "published"

    # The operator names another publisher for the registration in its database.
    PackageAnchor.objects.filter(digest="0x" + package.digest).update(publisher=stranger.address)

    page = client.get(f"/packages/{package.pk}/").content.decode()
    assert "Registered on chain" not in page
    assert "Not verifiable" in page
    assert badge(page) == "not verifiable"
    proof = client.get(f"/api/v1/packages/{package.pk}/proof").json()
    assert proof["state"] == "unverifiable"
    assert "does not match the chain" in proof["warning"]


def test_attack_a_made_up_registration_record_reads_not_verifiable(
    client, deployed, chain, snapshot, developer, tmp_path
):
    registered = ingest(tmp_path, developer)
    register_package(registered, developer, chain)
    other = ingest(tmp_path, developer, "osm/nfvm_demo_upf_vnf")
    Package.objects.filter(pk=other.pk).update(listed=True, state="published")
    # A row copied from a real registration, pointed at the unregistered package.
    real = PackageAnchor.objects.get(digest="0x" + registered.digest)
    PackageAnchor.objects.create(
        chain_id=real.chain_id,
        registry=real.registry,
        digest="0x" + other.digest,
        publisher=real.publisher,
        name_hash=other.line_hash,
        version_number=real.version_number,
        descriptor_digest="0x" + other.descriptor_digest,
        tx_hash=real.tx_hash,
        block_number=real.block_number,
    )
    VerificationRecord.objects.create(package=other, result="verified", checks=[], digests={})

    page = client.get(f"/packages/{other.pk}/").content.decode()

    assert "Registered on chain" not in page
    assert badge(page) == "not verifiable"
    assert "the chain evidence above does not back it" in page  # the stored "verified" record
    card = client.get("/packages/", {"q": "upf"}).content.decode()
    assert ">registered</span>" not in card
    assert "not verifiable" in card
    assert client.get(f"/api/v1/packages/{other.pk}/proof").json()["state"] == "unverifiable"


def test_attack_a_database_state_alone_makes_no_package_published(
    client, deployed, chain, snapshot, developer, tmp_path
):
    package = ingest(tmp_path, developer)
    Package.objects.filter(pk=package.pk).update(listed=True, state="published")

    page = client.get(f"/packages/{package.pk}/").content.decode()

    assert badge(page) == "not registered"
    assert 'title="Registered on chain"' not in client.get("/packages/", {"q": "amf"}).content.decode()


def test_attack_a_package_with_offers_made_directly_on_chain_cannot_be_deleted(
    client, deployed, chain, snapshot, developer, tmp_path
):
    """Finding 7: the offers (and the licences under them) exist only on chain, not in this node's tables."""
    package = ingest(tmp_path, developer)
    register_package(package, developer, chain)
    manager = LicenseManager(chain, deployed["LicenseManager"])
    tx = manager.create_offer(
        developer.address,
        digest="0x" + package.digest,
        name_hash=package.line_hash,
        kind=OfferKind.PUBLIC,
        terms_hash=b"\x01" * 32,
    )
    chain.transact(developer, tx, abi=manager.abi)
    Indexer(chain, projections, confirmations=0).step()

    response = client.delete(
        f"/api/v1/packages/{package.pk}", headers={"Authorization": f"Bearer {signed_in_token(client, developer)}"}
    )

    assert response.status_code == 409
    assert "1 licence offer on chain (#1)" in response.json()["error"]
    assert Package.objects.filter(pk=package.pk).exists()


def test_attack_a_revocation_undone_in_the_database_or_an_owner_renamed_there_shows_nothing_false(
    client, deployed, chain, snapshot, developer, stranger, tmp_path
):
    from ledger.models import LineOwnership
    from ledger.registry import PackageRegistry

    package = ingest(tmp_path, developer)
    register_package(package, developer, chain)
    registry = PackageRegistry(chain, deployed["PackageRegistry"])
    chain.transact(
        developer, registry.revoke(developer.address, "0x" + package.digest, package.line_hash), abi=registry.abi
    )
    Indexer(chain, projections, confirmations=0).step()
    assert badge(client.get(f"/packages/{package.pk}/").content.decode()) == "revoked"

    PackageAnchor.objects.filter(digest="0x" + package.digest).update(status="active")
    LineOwnership.objects.filter(name_hash=package.line_hash).update(owner=stranger.address, key=stranger.address)

    page = client.get(f"/packages/{package.pk}/").content.decode()
    assert badge(page) == "not verifiable"
    assert stranger.address not in page
    proof = client.get(f"/api/v1/packages/{package.pk}/proof").json()
    assert proof["state"] == "unverifiable"
    assert (proof["line"]["owner"], proof["line"]["key"]) == (developer.address, developer.address)
