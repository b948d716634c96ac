"""Orchestrator drivers: OSM's NBI driver against a stand-in that checks every call against OSM's OpenAPI
document, and the tracking driver that deploys nothing."""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketplace.licensing.orchestrators import Driver, OrchestratorError, OsmDriver, TrackingDriver
from marketplace.repository.packages.build import build
from tests import osm_nbi

DEMO = Path(__file__).resolve().parent.parent.parent / "demo" / "packages" / "osm"
VIM = "4a4425f7-3e72-4d45-a4ec-4241186f3547"
needs_spec = pytest.mark.skipif(
    not osm_nbi.SPEC.is_file(), reason=f"OSM's NBI OpenAPI document is absent ({osm_nbi.SPEC})"
)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("osm-archives")
    return {
        "vnf": build(DEMO / "nfvm_demo_amf_vnf", "osm", out / "nfvm_demo_amf_vnf.tar.gz"),
        "ns": build(DEMO / "nfvm_demo_core_ns", "osm", out / "nfvm_demo_core_ns.tar.gz"),
    }


@pytest.fixture(scope="module")
def spec() -> osm_nbi.Spec:
    if not osm_nbi.SPEC.is_file():
        pytest.skip(f"OSM's NBI OpenAPI document is absent ({osm_nbi.SPEC})")
    return osm_nbi.Spec()


def _serve(spec: osm_nbi.Spec, **options: object) -> Iterator[osm_nbi.OsmNbi]:
    with osm_nbi.serve(spec, **options) as nbi:
        yield nbi
    if nbi.failures:
        pytest.fail("calls the NBI document does not allow:\n" + "\n".join(nbi.failures))


@pytest.fixture
def nbi(spec: osm_nbi.Spec) -> Iterator[osm_nbi.OsmNbi]:
    yield from _serve(spec)


@pytest.fixture
def osm(nbi: osm_nbi.OsmNbi) -> OsmDriver:
    return OsmDriver(nbi.url, "admin", "admin", project="admin", timeout_s=5)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _journey(driver: Driver, archives: dict[str, Path]) -> None:
    vnf = driver.onboard_vnf_package(archive=archives["vnf"], content_type="application/gzip")
    assert vnf.checksum is not None
    assert vnf.checksum[1] == _sha256(archives["vnf"])
    assert driver.vnf_package_checksum(vnf.id) == vnf.checksum
    nsd = driver.onboard_nsd(archive=archives["ns"], content_type="application/gzip")
    assert nsd.checksum is not None
    assert nsd.checksum[1] == _sha256(archives["ns"])

    ns_id = driver.create_ns(nsd_id=nsd.id, name="core-1", description="demo core", vim_account=VIM)
    started = driver.instantiate_ns(ns_id, nsd_id=nsd.id, vim_account=VIM)
    assert driver.wait(started.id, timeout_s=5, poll_s=0.01).state == "COMPLETED"
    stopping = driver.terminate_ns(ns_id)
    assert driver.wait(stopping.id, timeout_s=5, poll_s=0.01).state == "COMPLETED"
    driver.delete_ns(ns_id)


# --- OSM ---------------------------------------------------------------------------------------------------------


@needs_spec
def test_osm_journey_follows_the_nbi_document(osm: OsmDriver, nbi: osm_nbi.OsmNbi, archives: dict[str, Path]) -> None:
    assert osm.deploys is True
    assert osm.name == "osm"
    _journey(osm, archives)
    assert nbi.operation_ids() == [
        "createToken",
        "uploadVnfPkgsContent", "getVnfPkg", "getVnfPkg",
        "uploadNsPkgsContent", "getNSD",
        "addNSinstance",
        "getNSinstance", "instantiateNSinstance", "getNSLCMOpOcc", "getNSLCMOpOcc",
        "terminateNSinstance", "getNSLCMOpOcc", "getNSLCMOpOcc",
        "deleteNSinstance",
    ]  # fmt: skip
    assert nbi.instances == {}
    # The only calls beyond the document are the two .tar.gz uploads (see osm_nbi.GZIP_UPLOADS).
    assert len(nbi.deviations) == 2


@needs_spec
def test_osm_zip_upload_is_within_the_document(spec: osm_nbi.Spec, archives: dict[str, Path], tmp_path: Path) -> None:
    # The same files as a zip: the one media type the document lists for package uploads.
    archive = tmp_path / "nfvm_demo_amf_vnf.zip"
    with tarfile.open(archives["vnf"]) as tar, zipfile.ZipFile(archive, "w") as out:
        for member in tar.getmembers():
            if member.isfile() and (data := tar.extractfile(member)) is not None:
                out.writestr(member.name, data.read())
    for nbi in _serve(spec, strict=True):
        driver = OsmDriver(nbi.url, "admin", "admin", timeout_s=5)
        package = driver.onboard_vnf_package(archive=archive, content_type="application/zip")
        assert package.checksum == ("SHA-256", _sha256(archive))
        assert nbi.deviations == []


@needs_spec
def test_osm_strict_document_refuses_gzip(spec: osm_nbi.Spec, archives: dict[str, Path]) -> None:
    with osm_nbi.serve(spec, strict=True) as nbi:
        driver = OsmDriver(nbi.url, "admin", "admin", timeout_s=5)
        with pytest.raises(OrchestratorError, match=r"POST /vnfpkgm/v1/vnf_packages_content failed: HTTP 500: .*gzip"):
            driver.onboard_vnf_package(archive=archives["vnf"], content_type="application/gzip")
    assert len(nbi.failures) == 1
    assert "is not one of application/zip" in nbi.failures[0]


@needs_spec
def test_osm_failed_instantiation_surfaces_as_failed(
    osm: OsmDriver, nbi: osm_nbi.OsmNbi, archives: dict[str, Path]
) -> None:
    nsd = osm.onboard_nsd(archive=archives["ns"], content_type="application/gzip")
    ns_id = osm.create_ns(nsd_id=nsd.id, name="core-2", description="", vim_account=VIM)
    nbi.fail_next_operation("instantiate")
    started = osm.instantiate_ns(ns_id, nsd_id=nsd.id, vim_account=VIM)
    assert started.state == "PROCESSING"
    assert osm.wait(started.id, timeout_s=5, poll_s=0.01).state == "FAILED"
    assert osm.operation(started.id).state == "FAILED"


@needs_spec
def test_osm_expired_token_is_renewed(osm: OsmDriver, nbi: osm_nbi.OsmNbi, archives: dict[str, Path]) -> None:
    first = osm.onboard_vnf_package(archive=archives["vnf"], content_type="application/gzip")
    nbi.expire_tokens()
    assert osm.vnf_package_checksum(first.id) == first.checksum
    assert nbi.operation_ids().count("createToken") == 2
    assert [c[2] for c in nbi.calls if c[0] == "getVnfPkg"] == [200, 401, 200]


@needs_spec
def test_osm_wrong_credentials(nbi: osm_nbi.OsmNbi) -> None:
    driver = OsmDriver(nbi.url, "admin", "wrong", timeout_s=5)
    with pytest.raises(
        OrchestratorError, match=r"POST /admin/v1/tokens failed: HTTP 401: invalid username or password"
    ):
        driver.operation("0e6f3c2a-0000-4000-8000-000000000000")


@needs_spec
def test_osm_http_error_names_the_call(osm: OsmDriver, nbi: osm_nbi.OsmNbi, archives: dict[str, Path]) -> None:
    nsd = osm.onboard_nsd(archive=archives["ns"], content_type="application/gzip")
    nbi.fail_next("addNSinstance", 422, "vimAccountId not found")
    with pytest.raises(OrchestratorError) as caught:
        osm.create_ns(nsd_id=nsd.id, name="core-3", description="", vim_account=VIM)
    assert str(caught.value) == "POST /nslcm/v1/ns_instances failed: HTTP 422: vimAccountId not found"
    assert (caught.value.call, caught.value.status) == ("POST /nslcm/v1/ns_instances", 422)
    with pytest.raises(OrchestratorError, match=r"GET /nslcm/v1/ns_lcm_op_occs/nope failed: HTTP 404: "):
        osm.operation("nope")


@needs_spec
def test_osm_conflict_on_delete_of_a_running_instance(
    osm: OsmDriver, nbi: osm_nbi.OsmNbi, archives: dict[str, Path]
) -> None:
    nsd = osm.onboard_nsd(archive=archives["ns"], content_type="application/gzip")
    ns_id = osm.create_ns(nsd_id=nsd.id, name="core-4", description="", vim_account=VIM)
    osm.wait(osm.instantiate_ns(ns_id, nsd_id=nsd.id, vim_account=VIM).id, timeout_s=5, poll_s=0.01)
    with pytest.raises(OrchestratorError, match=rf"DELETE /nslcm/v1/ns_instances/{ns_id} failed: HTTP 409: "):
        osm.delete_ns(ns_id)


@needs_spec
def test_osm_wait_times_out(osm: OsmDriver, nbi: osm_nbi.OsmNbi, archives: dict[str, Path]) -> None:
    nsd = osm.onboard_nsd(archive=archives["ns"], content_type="application/gzip")
    ns_id = osm.create_ns(nsd_id=nsd.id, name="core-5", description="", vim_account=VIM)
    nbi.hold_operations = True
    started = osm.instantiate_ns(ns_id, nsd_id=nsd.id, vim_account=VIM)
    with pytest.raises(OrchestratorError, match=rf"waiting for operation {started.id} failed: still PROCESSING"):
        osm.wait(started.id, timeout_s=0.2, poll_s=0.05)


@needs_spec
def test_osm_unreachable_names_the_call(archives: dict[str, Path]) -> None:
    driver = OsmDriver("http://127.0.0.1:9", "admin", "admin", timeout_s=1)
    with pytest.raises(OrchestratorError, match=r"^POST /admin/v1/tokens failed: "):
        driver.onboard_vnf_package(archive=archives["vnf"], content_type="application/gzip")


def test_osm_refuses_other_archive_types(tmp_path: Path) -> None:
    archive = tmp_path / "p.csar"
    archive.write_bytes(b"x")
    with pytest.raises(ValueError, match="not a package archive type"):
        OsmDriver("http://127.0.0.1:9", "a", "b").onboard_vnf_package(archive=archive, content_type="text/plain")


def test_osm_base_url_gets_the_nbi_root_once() -> None:
    assert OsmDriver("https://osm.example:9999/", "a", "b").base_url == "https://osm.example:9999/osm"
    assert OsmDriver("https://osm.example:9999/osm", "a", "b").base_url == "https://osm.example:9999/osm"


@needs_spec
def test_stand_in_flags_calls_outside_the_document(spec: osm_nbi.Spec) -> None:
    nbi = osm_nbi.OsmNbi(spec)
    status, _, _, _ = nbi.handle(
        "POST",
        "/osm/nslcm/v1/ns_instances",
        {"content-type": "application/json"},
        b'{"nsName": "x", "nsdId": "not-a-uuid", "vimAccountId": "' + VIM.encode() + b'"}',
    )
    assert status == 500
    assert "nsdId" in nbi.failures[-1]
    assert "uuid" in nbi.failures[-1]
    status, _, _, _ = nbi.handle("GET", "/osm/nslcm/v1/nowhere", {}, b"")
    assert status == 500
    assert "not in the NBI document" in nbi.failures[-1]
    status, _, _, _ = nbi.handle("DELETE", "/osm/nslcm/v1/ns_lcm_op_occs/x", {}, b"")
    assert status == 500
    assert len(nbi.failures) == 3
    # A nullable field (OpenAPI 3.0) accepts null once translated to JSON Schema.
    assert (
        spec.schema_errors(
            {"$ref": "#/components/schemas/InstantiateNsRequest"},
            {"nsName": "x", "nsdId": VIM, "vimAccountId": VIM, "nsDescription": None},
        )
        == []
    )
    assert spec.response_errors(spec.operation("get", "/nslcm/v1/ns_lcm_op_occs/x")[1], 201, "", b"") != []  # type: ignore[index]


# --- tracking ----------------------------------------------------------------------------------------------------


def test_tracking_journey(archives: dict[str, Path]) -> None:
    driver = TrackingDriver()
    assert driver.deploys is False
    assert driver.name == "tracking"
    _journey(driver, archives)
    package = driver.onboard_vnf_package(archive=archives["vnf"], content_type="application/gzip")
    assert package.checksum == ("SHA-256", _sha256(archives["vnf"]))
    assert driver.vnf_package_checksum("unknown") is None
    assert driver.instantiate_ns("x", nsd_id="y", vim_account=VIM).state == "COMPLETED"


def test_tracking_reads_the_archive_it_is_given(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("x", "y")
    assert TrackingDriver().onboard_nsd(archive=archive, content_type="application/zip").checksum == (
        "SHA-256", hashlib.sha256(archive.read_bytes()).hexdigest()
    )  # fmt: skip
