"""VDUs and NS wiring read back from stored descriptors, in the three formats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from marketplace.repository.descriptor_facts import Connection, Vdu, ns_connections, size_mb, vnf_vdus

DEMO = Path(__file__).resolve().parents[2] / "demo" / "packages"


def load(relative: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEMO / relative).read_text())
    return document


@pytest.mark.parametrize(
    ("fmt", "path", "expected"),
    [
        (
            "etsi",
            "etsi/nfvm-demo-smf-vnf/Definitions/nfvm_demo_smf.vnfd.yaml",
            Vdu("smf", 2, 2048, 16.0, "debian-12-smf"),
        ),
        ("osm", "osm/nfvm_demo_amf_vnf/nfvm_demo_amf_vnfd.yaml", Vdu("nfvm-demo-amf-vm", 2, 4096, 20.0, "ubuntu22.04")),
        (
            "5gtango",
            "5gtango/nfvm-demo-firewall-vnf/Definitions/firewall-vnfd.yml",
            Vdu("fw-vdu", 2, 2048, 8.0, "debian-12-firewall"),
        ),
    ],
)
def test_it_reads_each_formats_vdus(fmt, path, expected):
    assert vnf_vdus(fmt, load(path)) == [expected]


def test_it_follows_sol001_types_the_document_derives_itself():
    document = {
        "node_types": {"acme.nodes.Big": {"derived_from": "tosca.nodes.nfv.Vdu.Compute"}},
        "topology_template": {
            "node_templates": {
                "big": {
                    "type": "acme.nodes.Big",
                    "capabilities": {"virtual_compute": {"properties": {"virtual_cpu": {"num_virtual_cpu": 8}}}},
                },
                "link": {"type": "tosca.nodes.nfv.VnfVirtualLink"},
            }
        },
    }
    assert vnf_vdus("etsi", document) == [Vdu("big", 8)]


def test_it_skips_what_it_cannot_read():
    assert vnf_vdus("osm", {"vnfd": "not a mapping"}) == []
    assert vnf_vdus("5gtango", {"virtual_deployment_units": ["odd", {"id": "u"}]}) == [Vdu("u")]
    assert vnf_vdus("etsi", []) == []
    assert ns_connections("osm", {"nsd": {"nsd": []}}) == []


@pytest.mark.parametrize(
    ("value", "unit", "mb"),
    [("8 GB", "", 8192.0), ("512 MiB", "", 512.0), (2, "GB", 2048.0), ("1.5 TB", "", 1572864.0), ("lots", "", None)],
)
def test_it_reads_sizes_with_units(value, unit, mb):
    assert size_mb(value, unit) == mb


def test_it_reads_an_osm_nsd_wiring_through_the_link_profiles():
    found = ns_connections("osm", load("osm/nfvm_demo_core_ns/nfvm_demo_core_nsd.yaml"), "nfvm-demo-core-ns")
    amf = (("descriptor_id", "nfvm-demo-amf"),)
    assert found[:2] == [
        Connection("mgmtnet", "nfvm-demo-amf-mgmt-ext", "amf", amf),
        Connection("datanet", "nfvm-demo-amf-data-ext", "amf", amf),
    ]
    assert len(found) == 4


def test_it_reads_an_osm_service_access_point():
    document = {
        "nsd": {
            "nsd": [
                {"id": "n", "virtual-link-desc": [{"id": "vl"}], "sapd": [{"id": "sap1", "virtual-link-desc": "vl"}]}
            ]
        }
    }
    assert ns_connections("osm", document, "n") == [Connection("vl", "sap1")]


def test_it_reads_a_5gtango_nsd_wiring_with_the_services_own_points():
    found = ns_connections("5gtango", load("5gtango/nfvm-demo-secure-edge-ns/Definitions/secure-edge-nsd.yml"))
    fw = (("vendor", "eu.nfvm.demo"), ("name", "nfvm-demo-firewall"), ("version", "1.0"))
    assert Connection("access-2-fw", "inside", "fw", fw) in found
    assert Connection("access-2-fw", "access") in found
    assert len(found) == 6


def test_it_reads_a_sol001_nsd_wiring_from_the_vnf_requirements():
    found = ns_connections("etsi", load("etsi/nfvm-demo-slice-ns/Definitions/nfvm_demo_slice.nsd.yaml"))
    assert found == [
        Connection("slice_vl", "virtual_link", "smf", (("descriptor_id", "6a1c4f0e-5d2b-4f7e-9c1a-nfvm-demo-smf"),))
    ]


def test_it_reads_a_sol001_sap():
    document = {
        "topology_template": {
            "node_templates": {
                "vl": {"type": "tosca.nodes.nfv.NsVirtualLink"},
                "ext": {"type": "tosca.nodes.nfv.Sap", "requirements": [{"external_virtual_link": {"node": "vl"}}]},
                "other": {"type": "tosca.nodes.nfv.Sap", "requirements": [{"external_virtual_link": "missing"}]},
            }
        }
    }
    assert ns_connections("etsi", document) == [Connection("vl", "ext")]
