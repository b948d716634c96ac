"""The ingest service on real packages and hostile ones: accepted with the right identity,
or rejected naming the file, and never half-stored."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile

import pytest

from marketplace.repository import blobs
from marketplace.repository.models import MetadataChange, NetworkService, Package, VerificationRecord, Vnf
from marketplace.repository.packages.problems import PackageRejected
from marketplace.repository.services import package_ingest
from tests.factories import blob_digests, osm_package, shared_package, zip_bytes, zip_folder

pytestmark = pytest.mark.django_db
DEVELOPER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def ingest(path, uploader=DEVELOPER):
    with open(path, "rb") as source:
        return package_ingest(source=source, uploader=uploader, filename=path.name)


def assert_nothing_stored():
    assert Package.objects.count() == 0
    assert Vnf.objects.count() == 0
    assert NetworkService.objects.count() == 0
    assert VerificationRecord.objects.count() == 0
    assert blob_digests() == []


def rejected(path_or_bytes, tmp_path=None) -> PackageRejected:
    if isinstance(path_or_bytes, bytes):
        source = io.BytesIO(path_or_bytes)
        with pytest.raises(PackageRejected) as info:
            package_ingest(source=source, uploader=DEVELOPER)
    else:
        with pytest.raises(PackageRejected) as info:
            ingest(path_or_bytes)
    return info.value


def test_it_accepts_the_5gtango_ns_example_with_its_identity():
    result = ingest(shared_package("5gtango/5gtango-ns-package-example.tgo"))

    package = result.package
    assert result.created
    assert (package.format, package.kind) == ("5gtango", "ns")
    assert (package.vendor, package.name, package.version) == ("eu.5gtango", "5gtango-project-sample", "0.1")
    assert Vnf.objects.filter(package=package).count() == 1
    ns = NetworkService.objects.get(package=package)
    assert len(ns.vnf_ids) == 1
    assert package.is_latest
    assert len(package.digest) == 64
    assert blob_digests() == [package.digest]
    record = VerificationRecord.objects.get(package=package)
    assert record.result == "accepted"
    assert record.digests["package_sha256"] == package.digest


def test_it_accepts_the_5gtango_vnf_example():
    package = ingest(shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo")).package
    assert (package.format, package.kind) == ("5gtango", "vnf")
    assert Vnf.objects.filter(package=package).count() == 1


def test_it_rejects_the_bad_checksum_package_naming_the_file():
    error = rejected(shared_package("5gtango/5gtango-ns-package-example-bad-checksum.tgo"))

    # The file's hash is declared twice, differently, and the file matches one: one finding names both.
    (conflict,) = [p for p in error.problems if p.rule.startswith("integrity.")]
    assert conflict.rule == "integrity.conflicting-declarations"
    assert "Definitions/myvnfd.yaml" in conflict.message
    assert "TOSCA-Metadata/NAPD.yaml" in conflict.message
    assert_nothing_stored()


def test_an_osm_ns_needs_its_vnf_first(tmp_path):
    ns_path = osm_package("hackfest_basic_ns", tmp_path)
    error = rejected(ns_path)
    assert any(p.rule == "integrity.unresolved-vnf" for p in error.problems)
    assert_nothing_stored()

    vnf = ingest(osm_package("hackfest_basic_vnf", tmp_path)).package
    ns = ingest(ns_path).package

    assert (vnf.format, vnf.kind, ns.kind) == ("osm", "vnf", "ns")
    service = NetworkService.objects.get(package=ns)
    assert service.vnf_ids == [Vnf.objects.get(package=vnf).pk]
    assert vnf.vcpus > 0
    assert ns.vcpus == vnf.vcpus


def test_the_monitoring_ns_names_the_vnfds_it_misses():
    error = rejected(shared_package("osm/monitoring-ns.tar.gz"))
    unresolved = [p for p in error.problems if p.rule == "integrity.unresolved-vnf"]
    assert unresolved
    assert all(p.file.endswith("monitoring-nsd.yaml") for p in unresolved)
    assert_nothing_stored()


def test_the_etsi_helloworld_csar_is_rejected_naming_the_missing_image(tmp_path):
    error = rejected(zip_folder(shared_package("etsi-sol004/helloworld3"), tmp_path / "helloworld3.csar"))
    assert any("Files/images/cirros-0.5.2-x86_64-disk.img" in p.message for p in error.problems)
    assert_nothing_stored()


def test_the_false_hash_csar_is_rejected_naming_the_script(tmp_path):
    error = rejected(zip_folder(shared_package("etsi-sol004/false-hash"), tmp_path / "false-hash.csar"))
    assert any(p.file == "Scripts/install.sh" or "Scripts/install.sh" in p.message for p in error.problems)
    assert_nothing_stored()


def test_identical_content_is_stored_once():
    path = shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo")
    first = ingest(path)
    again = ingest(path)

    assert first.created
    assert not again.created
    assert again.package.pk == first.package.pk
    assert Package.objects.count() == 1
    assert len(blob_digests()) == 1


def test_the_same_version_with_other_content_is_refused(tmp_path):
    original = shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo")
    ingest(original)
    changed = tmp_path / "changed.tgo"
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(changed, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr("extra-notes.txt", b"same version, other bytes")

    error = rejected(changed)

    assert any(p.rule == "repository.duplicate-version" for p in error.problems) or any(
        "extra-notes.txt" in p.message or p.file == "extra-notes.txt" for p in error.problems
    )
    assert Package.objects.count() == 1


def test_an_unknown_format_gets_a_clear_message():
    error = rejected(b"just some text, not an archive")
    assert error.problems[0].rule in ("archive.unknown-format", "package.unknown-format")
    assert "SOL004" in error.problems[0].message


def test_a_zip_that_is_no_package_format_is_named_as_such():
    error = rejected(zip_bytes({"readme.txt": b"hello"}))
    assert error.problems[0].rule == "package.unknown-format"
    assert_nothing_stored()


def test_a_zip_slip_entry_is_rejected_and_nothing_is_stored():
    error = rejected(zip_bytes({"TOSCA-Metadata/TOSCA.meta": b"x", "../../evil.sh": b"rm -rf /"}))
    assert any(p.rule == "archive.path-traversal" for p in error.problems)
    assert_nothing_stored()


def test_a_tar_with_a_symlink_is_rejected():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("pkg/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    error = rejected(buffer.getvalue())
    assert any(p.rule == "archive.link" for p in error.problems)
    assert_nothing_stored()


def test_an_interrupted_upload_leaves_nothing_behind(settings, tmp_path):
    settings.UPLOAD_TMP_DIR = tmp_path / "uploads"
    data = shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo").read_bytes()

    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > len(data) // 2:
                raise ConnectionResetError("client went away")
            return super().read(min(n, 512) if n and n > 0 else 512)

    with pytest.raises(ConnectionResetError):
        package_ingest(source=Broken(data), uploader=DEVELOPER)

    assert_nothing_stored()
    assert list((tmp_path / "uploads").iterdir()) == []


def test_an_upload_over_the_size_limit_is_refused_while_streaming(settings):
    settings.PACKAGE_MAX_BYTES = 1024
    error = rejected(b"x" * 5000)
    assert error.problems[0].rule == "upload.too-large"
    assert_nothing_stored()


def test_the_uploader_must_be_an_address():
    with pytest.raises(PackageRejected, match="not an Ethereum address"):
        package_ingest(source=io.BytesIO(b"x"), uploader="alice")
    assert MetadataChange.objects.count() == 0


def test_the_sweep_removes_blobs_no_package_refers_to(settings):
    from datetime import timedelta

    from marketplace.repository.services import blobs_sweep

    kept = ingest(shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo")).package
    blobs.blob_put(digest=hashlib.sha256(b"orphan").hexdigest(), source=io.BytesIO(b"orphan"))

    if settings.BLOB_STORE == "gridfs":
        assert blobs_sweep(older_than=timedelta(hours=1)) == []  # too young: an ingest may still be committing
    # The file store knows: no live ingest holds the blob (tests/repository/test_blob_stores.py).
    swept = blobs_sweep(older_than=timedelta(hours=1 if settings.BLOB_STORE == "files" else -1))

    assert len(swept) == 1
    assert blob_digests() == [kept.digest]


def test_a_blob_whose_bytes_do_not_hash_to_its_id_is_refused():
    with pytest.raises(blobs.BlobIntegrityError):
        blobs.blob_put(digest="0" * 64, source=io.BytesIO(b"not zeros"))
    assert blob_digests() == []


def test_a_5gtango_vnfd_at_two_paths_is_stored_once_with_a_warning(tmp_path):
    """tng-pkg accepts the same descriptor declared at several paths; so do we: one VNF, one warning."""
    import yaml

    source = shared_package("5gtango/5gtango-ns-package-example.tgo")
    with zipfile.ZipFile(source) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    vnfd = "Definitions/sources/vnfd/vnfd-sample.yml"
    napd = yaml.safe_load(members["TOSCA-Metadata/NAPD.yaml"])
    (listed,) = [entry for entry in napd["package_content"] if entry["source"] == vnfd]
    napd["package_content"].append({**listed, "source": "Definitions/copies/vnfd-sample.yml"})
    members["TOSCA-Metadata/NAPD.yaml"] = yaml.safe_dump(napd, sort_keys=False).encode()
    members["Definitions/copies/vnfd-sample.yml"] = members[vnfd]
    path = tmp_path / "copies.tgo"
    path.write_bytes(zip_bytes(members))

    package = ingest(path).package
    assert Vnf.objects.filter(package=package).count() == 1
    assert len(NetworkService.objects.get(package=package).vnf_ids) == 1
    (warning,) = [
        p
        for p in VerificationRecord.objects.get(package=package).problems
        if p["rule"].endswith("identical-descriptors")
    ]
    assert vnfd in warning["message"]
    assert "Definitions/copies/vnfd-sample.yml" in warning["message"]
