"""Scaling through the orchestrator drivers: OSM's NBI scale operation (ScaleNsRequest, one step per call)
against the stand-in that checks every call against OSM's OpenAPI document, and the tracking driver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from marketplace.errors import ConflictError
from marketplace.licensing.orchestrators import OsmDriver, TrackingDriver
from marketplace.repository.packages.build import build
from tests import osm_nbi
from tests.factories import instantiate, register_package, scale_as

DEMO = Path(__file__).resolve().parent.parent.parent / "demo" / "packages" / "osm"
VIM = "4a4425f7-3e72-4d45-a4ec-4241186f3547"


@pytest.fixture
def nbi() -> Iterator[osm_nbi.OsmNbi]:
    if not osm_nbi.SPEC.is_file():
        pytest.skip(f"OSM's NBI OpenAPI document is absent ({osm_nbi.SPEC})")
    with osm_nbi.serve(osm_nbi.Spec()) as server:
        yield server
    if server.failures:
        pytest.fail("calls the NBI document does not allow:\n" + "\n".join(server.failures))


def _running(driver: OsmDriver, tmp_path: Path) -> str:
    nsd = driver.onboard_nsd(
        archive=build(DEMO / "nfvm_demo_core_ns", "osm", tmp_path / "ns.tar.gz"), content_type="application/gzip"
    )
    ns_id = driver.create_ns(nsd_id=nsd.id, name="core-1", description="demo core", vim_account=VIM)
    assert driver.wait(driver.instantiate_ns(ns_id, nsd_id=nsd.id, vim_account=VIM).id, poll_s=0.01).final
    return ns_id


def test_it_scales_an_osm_instance_out_and_in_as_the_nbi_document_says(nbi: osm_nbi.OsmNbi, tmp_path: Path) -> None:
    driver = OsmDriver(nbi.url, "admin", "admin", timeout_s=5)
    ns_id = _running(driver, tmp_path)
    for scale_out in (True, True, False):
        step = driver.scale_ns(ns_id, scale_out=scale_out, aspect="amf-scale", member_vnf_index="amf")
        assert driver.wait(step.id, poll_s=0.01).state == "COMPLETED"
    assert nbi.operation_ids().count("scaleNSinstance") == 3
    assert nbi.instances[ns_id]["scaled"] == {"amf/amf-scale": 1}
    assert nbi.instances[ns_id]["nsState"] == "INSTANTIATED"


def test_it_reports_a_scale_in_with_nothing_scaled_out_as_failed(nbi: osm_nbi.OsmNbi, tmp_path: Path) -> None:
    driver = OsmDriver(nbi.url, "admin", "admin", timeout_s=5)
    ns_id = _running(driver, tmp_path)
    step = driver.scale_ns(ns_id, scale_out=False, aspect="amf-scale", member_vnf_index="amf")
    assert driver.wait(step.id, poll_s=0.01).state == "FAILED"


def test_it_refuses_to_scale_without_an_aspect(nbi: osm_nbi.OsmNbi) -> None:
    from marketplace.licensing.orchestrators import OrchestratorError

    driver = OsmDriver(nbi.url, "admin", "admin", timeout_s=5)
    with pytest.raises(OrchestratorError, match="scaling aspect"):
        driver.scale_ns("some-ns", scale_out=True, aspect="", member_vnf_index="")


def test_the_tracking_driver_records_each_step() -> None:
    driver = TrackingDriver()
    assert driver.wait(driver.scale_ns("ns-1", scale_out=True, aspect="", member_vnf_index="").id).state == (
        "COMPLETED"
    )
    assert driver.scaled == [("ns-1", True, "", "")]


# --- through the decision point, with OSM as the orchestrator ---

SCALING_ASPECT = """    scaling-aspect:
    - id: amf-scale
      name: amf-scale
      max-scale-level: 2
      aspect-delta-details:
        deltas:
        - id: amf-delta
          vdu-delta:
          - id: nfvm-demo-amf-vm
            number-of-instances: 1
"""


def _ingest_ns(chain, developer, tmp_path: Path, *, scalable: bool):
    import shutil

    from marketplace.repository.models import NetworkService
    from marketplace.repository.services import package_ingest
    from tests.licensing.test_licensing_journey import index

    packages = []
    for name in ("nfvm_demo_amf_vnf", "nfvm_demo_upf_vnf", "nfvm_demo_core_ns"):
        folder = tmp_path / "src" / name
        shutil.copytree(DEMO / name, folder)
        if scalable and name == "nfvm_demo_amf_vnf":
            descriptor = folder / "nfvm_demo_amf_vnfd.yaml"
            text = descriptor.read_text()
            descriptor.write_text(text.replace("    vdu-profile:\n", SCALING_ASPECT + "    vdu-profile:\n", 1))
        archive = build(folder, "osm", tmp_path / f"{name}.tar.gz")
        with archive.open("rb") as source:
            packages.append(package_ingest(source=source, uploader=developer.address).package)
    for package in packages:
        register_package(package, developer, chain, index=False)
    index(chain)
    return NetworkService.objects.get(package=packages[-1])


@pytest.mark.django_db
def test_it_scales_an_instance_on_osm_one_step_per_unit(
    settings, nbi, client, deployed, chain, snapshot, developer, stranger, tmp_path
):
    from tests.licensing.test_licensing_journey import buy, offer

    settings.OSM_NBI_URL, settings.OSM_USERNAME, settings.OSM_PASSWORD = nbi.url, "admin", "admin"
    settings.OSM_VIM_ACCOUNT = VIM
    ns = _ingest_ns(chain, developer, tmp_path, scalable=True)
    offer_id = offer(client, chain, developer, ns, kind="private", price=1, seats=3)
    buy(client, chain, stranger, offer_id)
    instance = instantiate(ns, stranger)
    assert instance.state == "running", instance.error
    assert scale_as(instance, stranger, change=2).units == 3
    assert nbi.instances[instance.orchestrator_id]["scaled"] == {"amf/amf-scale": 2}
    assert scale_as(instance, stranger, target=2).units == 2
    assert nbi.instances[instance.orchestrator_id]["scaled"] == {"amf/amf-scale": 1}


@pytest.mark.django_db
def test_it_refuses_to_scale_on_osm_an_ns_without_a_scaling_aspect(
    settings, nbi, client, deployed, chain, snapshot, developer, stranger, tmp_path
):
    from tests.licensing.test_licensing_journey import offer

    settings.OSM_NBI_URL, settings.OSM_USERNAME, settings.OSM_PASSWORD = nbi.url, "admin", "admin"
    settings.OSM_VIM_ACCOUNT = VIM
    ns = _ingest_ns(chain, developer, tmp_path, scalable=False)
    offer(client, chain, developer, ns, kind="public")
    instance = instantiate(ns, stranger)
    with pytest.raises(ConflictError, match="defines no scaling aspect"):
        scale_as(instance, stranger, change=1)


@pytest.mark.django_db
def test_it_releases_the_seats_of_steps_the_orchestrator_failed(
    settings, nbi, client, deployed, chain, snapshot, developer, stranger, tmp_path
):
    from marketplace.contract_manager.models import ProvenanceEntry
    from marketplace.licensing.instances import ScaleFailed
    from tests.licensing.test_licensing_journey import buy, offer

    settings.OSM_NBI_URL, settings.OSM_USERNAME, settings.OSM_PASSWORD = nbi.url, "admin", "admin"
    settings.OSM_VIM_ACCOUNT = VIM
    ns = _ingest_ns(chain, developer, tmp_path, scalable=True)
    offer_id = offer(client, chain, developer, ns, kind="private", price=1, seats=3)
    buy(client, chain, stranger, offer_id)
    instance = instantiate(ns, stranger)
    nbi.fail_next_operation("scale")
    with pytest.raises(ScaleFailed, match="scaling step 1 of 2 ended FAILED") as failed:
        scale_as(instance, stranger, change=2)
    assert failed.value.instance.units == 1
    event = ProvenanceEntry.objects.get(kind="scale", subject=f"instance:{instance.pk}")
    assert event.payload["done"] == 0
    assert "ended FAILED" in event.payload["error"]
    assert scale_as(instance, stranger, change=2).units == 3  # the seats came back
    assert nbi.instances[instance.orchestrator_id]["scaled"] == {"amf/amf-scale": 2}
