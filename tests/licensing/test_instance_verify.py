"""Verifying an instance again on demand (licences.instance_verify): the packages must still be registered
and not revoked on chain, and the orchestrator must hold the anchored bytes: the checksums OSM's NBI reports
for the NS instance's packages, or for the tracking driver the stored archives it was given."""

from __future__ import annotations

import pytest

from ledger.client import get_chain_client
from ledger.registry import PackageRegistry
from marketplace.contract_manager.models import ProvenanceEntry
from marketplace.errors import PermissionDeniedError
from marketplace.licensing.instances import instance_verify
from marketplace.repository.models import Vnf
from tests.factories import instantiate
from tests.licensing.test_licensing_journey import network_service, offer  # noqa: F401
from tests.licensing.test_orchestrator_scale import VIM, _ingest_ns, nbi  # noqa: F401

pytestmark = pytest.mark.django_db


def test_it_reports_a_revoked_package_as_a_mismatch(client, chain, developer, stranger, network_service):  # noqa: F811
    offer(client, chain, developer, network_service, kind="public")
    instance = instantiate(network_service, stranger)
    assert instance.integrity == "verified"
    vnf = Vnf.objects.filter(pk__in=network_service.vnf_ids).select_related("package").first()
    assert vnf is not None
    registry = PackageRegistry.deployed(get_chain_client())
    chain.transact(
        developer,
        registry.revoke(developer.address, "0x" + vnf.package.digest, vnf.package.line_hash),
        abi=registry.abi,
    )

    checked = instance_verify(instance=instance, actor=stranger.address)
    assert checked.integrity == "mismatch"
    assert f"{vnf.package}: the line owner's key revoked the package on chain" in checked.integrity_detail
    assert checked.state == "running"  # verifying reports; it stops nothing


def test_it_refuses_anyone_but_the_owner(client, chain, developer, stranger, operator, network_service):  # noqa: F811
    offer(client, chain, developer, network_service, kind="public")
    instance = instantiate(network_service, stranger)
    with pytest.raises(PermissionDeniedError, match=f"only {stranger.address} may verify"):
        instance_verify(instance=instance, actor=operator.address)
    assert not ProvenanceEntry.objects.filter(subject=f"instance:{instance.pk}", kind="verify").exists()


def test_it_asks_osm_for_the_checksums_it_holds(
    settings,
    nbi,  # noqa: F811
    client,
    deployed,
    chain,
    snapshot,
    developer,
    stranger,
    tmp_path,
):
    settings.OSM_NBI_URL, settings.OSM_USERNAME, settings.OSM_PASSWORD = nbi.url, "admin", "admin"
    settings.OSM_VIM_ACCOUNT = VIM
    ns = _ingest_ns(chain, developer, tmp_path, scalable=False)
    offer(client, chain, developer, ns, kind="public")
    instance = instantiate(ns, stranger)
    assert (instance.state, instance.integrity) == ("running", "verified"), instance.error

    # The stand-in's NS record names its NSD only (OSM's also lists its VNF packages under vnfd-id), so the
    # NSD is matched and the VNF packages stay unknown.
    honest = instance_verify(instance=instance, actor=stranger.address)
    assert honest.integrity == "unknown"
    assert str(ns.package) not in honest.integrity_detail
    assert "getNSinstance" in nbi.operation_ids()

    nsd_id = nbi.instances[instance.orchestrator_id]["nsdId"]
    nbi.nsds[nsd_id]["sha256"] = "00" * 32  # the orchestrator now holds other bytes for the NSD
    swapped = instance_verify(instance=instance, actor=stranger.address)
    assert swapped.integrity == "mismatch"
    assert str(ns.package) in swapped.integrity_detail

    nbi.fail_next("getNSinstance", 500, "database unavailable")
    down = instance_verify(instance=instance, actor=stranger.address)
    assert down.integrity == "unknown"
    assert "the orchestrator cannot be asked" in down.integrity_detail
    assert "database unavailable" in down.integrity_detail
    logged = ProvenanceEntry.objects.filter(subject=f"instance:{instance.pk}", kind="verify").order_by("seq")
    assert [e.payload["integrity"] for e in logged] == ["unknown", "mismatch", "unknown"]
