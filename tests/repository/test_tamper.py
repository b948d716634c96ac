"""Tamper evidence: each way of altering a package after ingest is caught by re-verification in
the app and by the independent verifier."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dportal.access import SESSION_ADDRESS
from ledger.registry import PackageRegistry
from marketplace.errors import AuthenticationError, ConflictError
from marketplace.repository import blobs
from marketplace.repository.models import Vnf
from marketplace.repository.packages.build import build
from marketplace.repository.registration import package_reverify, registration_prepare, registration_submit
from marketplace.repository.services import package_ingest
from tests.factories import claim_line, nfvm_verify, overwrite_blob, register_package, signed_in_token

DEMO = Path(__file__).resolve().parents[2] / "demo" / "packages" / "osm" / "nfvm_demo_amf_vnf"


def ingest_version(tmp_path, developer, version="1.0"):
    folder = tmp_path / f"v{version}" / "nfvm_demo_amf_vnf"
    shutil.copytree(DEMO, folder)
    descriptor = folder / "nfvm_demo_amf_vnfd.yaml"
    descriptor.write_text(descriptor.read_text().replace("version: '1.0'", f"version: '{version}'"))
    archive = build(folder, "osm", tmp_path / f"amf-{version}.tar.gz")
    with archive.open("rb") as source:
        return package_ingest(source=source, uploader=developer.address).package, archive


def register(package, developer, chain):
    register_package(package, developer, chain)


def corrupt_blob(digest: str) -> None:
    def flip(stored: bytes) -> bytes:
        data = bytearray(stored)
        data[len(data) // 2] ^= 0x01
        return bytes(data)

    overwrite_blob(digest, flip)


def failed(record) -> set[str]:
    return {c["check"] for c in record.checks if c["result"] == "fail"}


@pytest.mark.django_db
def test_an_untouched_registered_package_verifies(deployed, chain, snapshot, developer, tmp_path):
    package, _ = ingest_version(tmp_path, developer)
    register(package, developer, chain)
    record = package_reverify(package=package)
    assert record.result == "verified", record.checks


@pytest.mark.django_db
def test_one_byte_changed_in_the_stored_blob_is_caught(deployed, chain, snapshot, developer, tmp_path):
    package, _ = ingest_version(tmp_path, developer)
    register(package, developer, chain)
    corrupt_blob(package.digest)

    record = package_reverify(package=package)

    assert record.result == "tampered"
    assert failed(record) == {"blob"}


@pytest.mark.django_db
def test_a_descriptor_document_edited_in_the_database_is_caught(deployed, chain, snapshot, developer, tmp_path):
    package, _ = ingest_version(tmp_path, developer)
    vnf = Vnf.objects.get(package=package)
    vnf.document["vnfd"]["virtual-compute-desc"][0]["virtual-cpu"]["num-virtual-cpu"] = 64
    vnf.save()

    record = package_reverify(package=package)

    assert record.result == "tampered"
    assert failed(record) == {"descriptor-documents"}


@pytest.mark.django_db
def test_files_mixed_from_another_version_are_caught(deployed, chain, snapshot, developer, tmp_path):
    old, _ = ingest_version(tmp_path, developer, "1.0")
    new, _ = ingest_version(tmp_path, developer, "1.1")
    with blobs.blob_open(new.digest) as blob:
        newer = blob.read()
    # The other version's bytes, cut or padded to this blob's length (the two archives compress to
    # sizes a byte apart), so the blob still reads and only its digest tells.
    overwrite_blob(old.digest, lambda older: newer[: len(older)].ljust(len(older), b"\0"))

    record = package_reverify(package=old)

    assert record.result == "tampered"
    assert "blob" in failed(record)


@pytest.mark.django_db
def test_an_older_version_is_reported_as_superseded(deployed, chain, snapshot, developer, tmp_path):
    old, old_archive = ingest_version(tmp_path, developer, "1.0")
    new, _ = ingest_version(tmp_path, developer, "1.1")
    register(old, developer, chain)
    register(new, developer, chain)

    assert package_reverify(package=old).result == "superseded"
    assert package_reverify(package=new).result == "verified"
    result = nfvm_verify(str(old_archive), "--rpc", chain.rpc_url, "--registry", deployed["PackageRegistry"])
    assert result.returncode == 12, result.stdout + result.stderr


@pytest.mark.django_db
def test_revoke_then_verify(deployed, chain, snapshot, developer, tmp_path):
    package, archive = ingest_version(tmp_path, developer)
    register(package, developer, chain)
    registry = PackageRegistry(chain, deployed["PackageRegistry"])
    chain.transact(
        developer, registry.revoke(developer.address, "0x" + package.digest, package.line_hash), abi=registry.abi
    )

    assert package_reverify(package=package).result == "revoked"
    result = nfvm_verify(str(archive), "--rpc", chain.rpc_url, "--registry", deployed["PackageRegistry"])
    assert result.returncode == 11, result.stdout + result.stderr


@pytest.mark.django_db
def test_an_other_chain_or_replayed_signature_is_refused(deployed, chain, snapshot, developer, tmp_path):
    package, _ = ingest_version(tmp_path, developer)
    claim_line(chain, PackageRegistry(chain, deployed["PackageRegistry"]), developer, package.line_hash)
    typed = registration_prepare(package=package, actor=developer.address)["typed_data"]
    other_chain = {**typed, "domain": {**typed["domain"], "chainId": 1}}
    foreign = developer.sign_typed_data(full_message=other_chain).signature.to_0x_hex()
    with pytest.raises(AuthenticationError):
        registration_submit(
            package=package, actor=developer.address, typed_data=other_chain, signature=foreign, mode="relay"
        )

    signature = developer.sign_typed_data(full_message=typed).signature.to_0x_hex()
    registration_submit(package=package, actor=developer.address, typed_data=typed, signature=signature, mode="relay")
    with pytest.raises(ConflictError):
        registration_submit(
            package=package, actor=developer.address, typed_data=typed, signature=signature, mode="relay"
        )


@pytest.mark.django_db(transaction=True)
def test_the_verifier_catches_a_marketplace_serving_other_bytes(live_server, deployed, chain, developer, tmp_path):
    package, _ = ingest_version(tmp_path, developer)
    register(package, developer, chain)
    args = [
        "--package-id",
        str(package.pk),
        "--url",
        live_server.url,
        "--rpc",
        chain.rpc_url,
        "--registry",
        deployed["PackageRegistry"],
    ]
    assert nfvm_verify(*args).returncode == 0

    corrupt_blob(package.digest)

    result = nfvm_verify(*args)
    assert result.returncode == 13, result.stdout + result.stderr
    assert "TAMPERED" in result.stdout


@pytest.mark.django_db
def test_the_package_page_shows_the_last_verification(client, deployed, chain, snapshot, developer, tmp_path):
    package, _ = ingest_version(tmp_path, developer)
    corrupt_blob(package.digest)

    session = client.session
    session[SESSION_ADDRESS] = developer.address  # the uploader: only it or the publisher may re-verify
    session.save()
    page = client.post(f"/packages/{package.pk}/verify", follow=True).content.decode()

    assert "Verification: tampered." in page
    assert "verdict-tampered" in page
    token = signed_in_token(client, developer)
    api = client.post(f"/api/v1/packages/{package.pk}/verify", headers={"Authorization": f"Bearer {token}"}).json()
    assert api["result"] == "tampered"
