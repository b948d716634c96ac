"""OSM packages (SOL006 YAML): the schema against real descriptors and ETSI's example, and the syntax,
integrity and topology checks against broken variants of a package of our own."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from marketplace.repository.packages import sol006
from marketplace.repository.packages.problems import Problem, Severity, errors
from marketplace.repository.packages.sol006 import validate_osm
from marketplace.repository.packages.sol006_schema import schema_problems
from marketplace.repository.packages.types import FormatResult, Kind, ParsedDescriptor, VnfRef
from tests.memory_view import MemoryView, folder_view, tar_view

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
OSM = TESTDATA / "packages" / "osm"
SOL006 = TESTDATA / "specs" / "sol006"
needs_testdata = pytest.mark.skipif(not OSM.is_dir(), reason=f"the shared test data is not checked out at {OSM}")
needs_example = pytest.mark.skipif(
    not (SOL006 / "nfv-vnfd.xml").is_file(), reason=f"the SOL006 example VNFD is not checked out at {SOL006}"
)


def osm_view(folder: Path) -> MemoryView:
    """The folder as OSM packs it: every file under one top folder named after it."""
    return folder_view(folder, top=folder.name)


def package(top: str, document: Any, extra: dict[str, bytes] | None = None) -> MemoryView:
    """An OSM package holding `document` as top/descriptor.yaml, and `extra` files under top/."""
    text = document if isinstance(document, bytes) else yaml.safe_dump(document, sort_keys=False).encode()
    return MemoryView({f"{top}/descriptor.yaml": text, **{f"{top}/{k}": v for k, v in (extra or {}).items()}})


def nowhere(ref: VnfRef) -> ParsedDescriptor | None:
    return None


def repository(*published: FormatResult) -> Callable[[VnfRef], ParsedDescriptor | None]:
    by_id = {d.summary.descriptor_id: d for result in published for d in result.descriptors}
    return lambda ref: by_id.get(ref.descriptor_id or "")


def rules(result: FormatResult) -> set[str]:
    return {p.rule for p in result.problems}


def only(result: FormatResult, rule: str) -> Problem:
    found = [p for p in result.problems if p.rule == rule]
    assert len(found) == 1, result.problems
    return found[0]


# --- a package of our own: a two-VDU VNF and an NS chaining two of them behind a SAP ----------------------------

VNFD: dict[str, Any] = {
    "vnfd": {
        "id": "probe-vnf",
        "provider": "Example Labs",
        "product-name": "probe",
        "software-version": "2.1",
        "version": "2.1.0",
        "description": "A traffic probe with a collector.",
        "mgmt-cp": "mgmt-ext",
        "vdu": [
            {
                "id": "probe",
                "name": "probe",
                "virtual-compute-desc": "small",
                "virtual-storage-desc": ["root-disk"],
                "sw-image-desc": "probe-image",
                "int-cpd": [{"id": "probe-mgmt", "layer-protocol": ["ipv4"]}, {"id": "probe-data"}],
            },
            {
                "id": "collector",
                "name": "collector",
                "virtual-compute-desc": "large",
                "virtual-storage-desc": ["root-disk", "data-disk"],
                "sw-image-desc": "collector-image",
                "int-cpd": [{"id": "collector-data", "int-virtual-link-desc": "internal"}],
            },
        ],
        "virtual-compute-desc": [
            {"id": "small", "virtual-cpu": {"num-virtual-cpu": 1}, "virtual-memory": {"size": 0.5}},
            {"id": "large", "virtual-cpu": {"num-virtual-cpu": 4}, "virtual-memory": {"size": 8}},
        ],
        "virtual-storage-desc": [
            {"id": "root-disk", "size-of-storage": 10},
            {"id": "data-disk", "size-of-storage": 100},
        ],
        "sw-image-desc": [
            {"id": "probe-image", "name": "probe-1.0", "image": "probe-1.0.qcow2"},
            {"id": "collector-image", "name": "collector-3.2"},
        ],
        "int-virtual-link-desc": [{"id": "internal"}],
        "ext-cpd": [
            {"id": "mgmt-ext", "int-cpd": {"vdu-id": "probe", "cpd": "probe-mgmt"}},
            {"id": "data-ext", "int-cpd": {"vdu-id": "probe", "cpd": "probe-data"}},
        ],
        "df": [
            {
                "id": "default",
                "vdu-profile": [{"id": "probe", "max-number-of-instances": 3}, {"id": "collector"}],
                "instantiation-level": [
                    {"id": "single", "vdu-level": [{"vdu-id": "probe"}, {"vdu-id": "collector"}]},
                ],
            }
        ],
    }
}

NSD: dict[str, Any] = {
    "nsd": {
        "nsd": [
            {
                "id": "probe-chain-ns",
                "designer": "Example Labs",
                "name": "probe chain",
                "version": "1.0",
                "vnfd-id": ["probe-vnf"],
                "sapd": [{"id": "ingress", "virtual-link-desc": "data"}],
                "virtual-link-desc": [{"id": "mgmt", "mgmt-network": True}, {"id": "data"}],
                "df": [
                    {
                        "id": "default",
                        "vnf-profile": [
                            {
                                "id": "first",
                                "vnfd-id": "probe-vnf",
                                "virtual-link-connectivity": [
                                    {
                                        "virtual-link-profile-id": "mgmt",
                                        "constituent-cpd-id": [
                                            {"constituent-base-element-id": "first", "constituent-cpd-id": "mgmt-ext"}
                                        ],
                                    },
                                    {
                                        "virtual-link-profile-id": "data",
                                        "constituent-cpd-id": [
                                            {"constituent-base-element-id": "first", "constituent-cpd-id": "data-ext"}
                                        ],
                                    },
                                ],
                            },
                            {
                                "id": "second",
                                "vnfd-id": "probe-vnf",
                                "virtual-link-connectivity": [
                                    {
                                        "virtual-link-profile-id": "data",
                                        "constituent-cpd-id": [
                                            {"constituent-base-element-id": "second", "constituent-cpd-id": "data-ext"}
                                        ],
                                    }
                                ],
                            },
                        ],
                    }
                ],
            }
        ]
    }
}


def vnfd_variant(change: Callable[[dict[str, Any]], object]) -> FormatResult:
    document = copy.deepcopy(VNFD)
    change(document["vnfd"])
    return validate_osm(package("probe_vnf", document), nowhere)


def nsd_variant(change: Callable[[dict[str, Any]], object], lookup: Any = None) -> FormatResult:
    document = copy.deepcopy(NSD)
    change(document["nsd"]["nsd"][0])
    return validate_osm(package("probe_ns", document), lookup or repository(published_vnf()))


def published_vnf() -> FormatResult:
    return validate_osm(package("probe_vnf", VNFD), nowhere)


def test_it_accepts_our_vnf_and_totals_its_resources():
    result = published_vnf()
    assert result.problems == []
    assert result.info is not None
    assert (result.info.vendor, result.info.name, result.info.version, result.info.kind) == (
        "Example Labs",
        "probe",
        "2.1.0",
        "vnf",
    )
    assert result.info.main_descriptor == "probe_vnf/descriptor.yaml"
    summary = result.descriptors[0].summary
    assert (summary.vcpus, summary.memory_mb, summary.storage_gb) == (5, 512 + 8192, 120.0)
    assert summary.images == ["probe-1.0.qcow2", "collector-3.2"]
    assert summary.connection_points == ["mgmt-ext", "data-ext"]
    assert summary.virtual_links == ["internal"]


def test_it_accepts_our_ns_once_its_vnf_is_published():
    result = validate_osm(package("probe_ns", NSD), repository(published_vnf()))
    assert result.problems == []
    assert result.info is not None
    assert (result.info.vendor, result.info.name, result.info.kind) == ("Example Labs", "probe chain", "ns")
    summary = result.descriptors[0].summary
    assert summary.constituent_vnfs == [VnfRef(descriptor_id="probe-vnf")]
    assert summary.connection_points == ["ingress"]
    assert summary.virtual_links == ["mgmt", "data"]
    assert summary.vcpus == 10  # two profiles of the VNF, one instance each


def test_it_accepts_the_namespaced_top_level_keys():
    vnfd = {"etsi-nfv-vnfd:vnfd": VNFD["vnfd"]}
    assert validate_osm(package("probe_vnf", vnfd), nowhere).problems == []
    nsd = {"etsi-nfv-nsd:nsd": NSD["nsd"]}
    assert validate_osm(package("probe_ns", nsd), repository(published_vnf())).problems == []


# --- real packages ------------------------------------------------------------------------------------------------


@needs_testdata
def test_it_accepts_the_hackfest_vnf_with_its_name_version_and_resources():
    result = validate_osm(osm_view(OSM / "hackfest_basic_vnf"), nowhere)
    assert errors(result.problems) == []
    assert result.info is not None
    # The hackfest VNFD has no provider (SOL006 makes it mandatory; OSM does not): no vendor, and a warning.
    assert (result.info.vendor, result.info.name, result.info.version, result.info.kind) == (
        "",
        "hackfest_basic-vnf",
        "1.0",
        "vnf",
    )
    assert result.info.main_descriptor == "hackfest_basic_vnf/hackfest_basic_vnfd.yaml"
    assert {(p.rule, p.severity) for p in result.problems} == {("sol006.missing-identity", Severity.WARNING)}
    summary = result.descriptors[0].summary
    assert summary.descriptor_id == "hackfest_basic-vnf"
    assert (summary.vcpus, summary.memory_mb, summary.storage_gb) == (1, 1024, 10.0)
    assert summary.images[0] == "ubuntu18.04"
    assert summary.connection_points == ["vnf-cp0-ext"]


@needs_testdata
def test_it_names_the_vnfd_an_nsd_needs():
    result = validate_osm(osm_view(OSM / "hackfest_basic_ns"), nowhere)
    problem = only(result, "integrity.unresolved-vnf")
    assert errors(result.problems) == [problem]
    assert problem.file == "hackfest_basic_ns/hackfest_basic_nsd.yaml"
    assert problem.location == "/nsd/nsd/0/vnfd-id/0"
    assert "'hackfest_basic-vnf'" in problem.message


@needs_testdata
def test_it_accepts_the_hackfest_ns_once_the_hackfest_vnf_is_published():
    vnf = validate_osm(osm_view(OSM / "hackfest_basic_vnf"), nowhere)
    asked: list[VnfRef] = []

    def lookup(ref: VnfRef) -> ParsedDescriptor | None:
        asked.append(ref)
        return repository(vnf)(ref)

    result = validate_osm(osm_view(OSM / "hackfest_basic_ns"), lookup)
    assert result.problems == []
    assert asked == [VnfRef(descriptor_id="hackfest_basic-vnf")]  # once, though the NSD names it twice
    assert result.info is not None
    assert (result.info.name, result.info.version, result.info.kind) == ("hackfest_basic-ns", "1.0", "ns")
    assert result.descriptors[0].summary.constituent_vnfs == [VnfRef(descriptor_id="hackfest_basic-vnf")]


def hackfest_vnf_as(descriptor_id: str, cpd: str = "vnf-cp0-ext") -> FormatResult:
    document = yaml.safe_load((OSM / "hackfest_basic_vnf" / "hackfest_basic_vnfd.yaml").read_text())
    document["vnfd"]["id"] = descriptor_id
    document["vnfd"]["ext-cpd"][0]["id"] = cpd
    document["vnfd"]["mgmt-cp"] = cpd
    return validate_osm(package("published", document), nowhere)


@needs_testdata
def test_monitoring_ns_is_rejected_naming_its_missing_vnfd_and_accepted_once_it_exists():
    view = tar_view(OSM / "monitoring-ns.tar.gz")
    rejected = validate_osm(view, nowhere)
    problem = only(rejected, "integrity.unresolved-vnf")
    assert errors(rejected.problems) == [problem]
    assert (problem.file, problem.location) == ("monitoring-ns/monitoring-nsd.yaml", "/nsd/nsd/0/vnfd-id/0")
    assert "'monitoring-vnf'" in problem.message

    accepted = validate_osm(view, repository(hackfest_vnf_as("monitoring-vnf")))
    assert accepted.problems == []
    assert accepted.info is not None
    assert (accepted.info.name, accepted.info.version, accepted.info.kind) == ("monitoring-ns", "1.0", "ns")


@needs_testdata
def test_it_checks_the_ns_connection_points_against_the_published_vnfd():
    result = validate_osm(tar_view(OSM / "monitoring-ns.tar.gz"), repository(hackfest_vnf_as("monitoring-vnf", "eth0")))
    problem = only(result, "integrity.unresolved-ref")
    assert (
        problem.location
        == "/nsd/nsd/0/df/0/vnf-profile/0/virtual-link-connectivity/0/constituent-cpd-id/0/constituent-cpd-id"
    )
    assert "'vnf-cp0-ext'" in problem.message


# --- the schema ---------------------------------------------------------------------------------------------------

# Which XML elements of the example are YANG lists or leaf-lists, by (parent, element).
EXAMPLE_LISTS = {
    ("vnfd", "vnfm-info"),
    ("vnfd", "vdu"),
    ("vdu", "int-cpd"),
    ("int-cpd", "layer-protocol"),
    ("vdu", "virtual-storage-desc"),
    ("vnfd", "virtual-compute-desc"),
    ("vnfd", "virtual-storage-desc"),
    ("vnfd", "sw-image-desc"),
    ("vnfd", "ext-cpd"),
    ("ext-cpd", "layer-protocol"),
    ("vnfd", "df"),
    ("df", "vdu-profile"),
    ("df", "instantiation-level"),
    ("instantiation-level", "vdu-level"),
    ("create-snapshot-vnf-op-config", "parameter"),
    ("revert-to-snapshot-vnf-op-config", "parameter"),
}


def xml_to_json(element: ET.Element) -> Any:
    """RFC 7951-style JSON from the example's XML; leaf values stay strings, which the schema accepts."""
    name = element.tag.rsplit("}", 1)[-1]
    if len(element) == 0:
        return (element.text or "").strip()
    out: dict[str, Any] = {}
    for child in element:
        child_name = child.tag.rsplit("}", 1)[-1]
        value = xml_to_json(child)
        if (name, child_name) in EXAMPLE_LISTS:
            out.setdefault(child_name, []).append(value)
        else:
            assert child_name not in out, f"{name}/{child_name} repeats but is not listed as a list"
            out[child_name] = value
    return out


def etsi_example() -> dict[str, Any]:
    return {"etsi-nfv-vnfd:vnfd": xml_to_json(ET.parse(SOL006 / "nfv-vnfd.xml").getroot())}  # noqa: S314


@pytest.mark.parametrize("name", ["vnfd.json", "nsd.json"])
def test_our_schemas_are_valid_json_schemas_that_name_every_list_key(name):
    document = json.loads((Path(sol006.__file__).parent / "schemas" / "sol006" / name).read_text())
    Draft202012Validator.check_schema(document)

    def lists(node: Any) -> list[dict[str, Any]]:
        found = []
        if isinstance(node, dict):
            if node.get("type") == "array" and isinstance(node.get("items"), dict) and "$ref" not in node["items"]:
                found.append(node)
            for value in node.values():
                found.extend(lists(value))
        elif isinstance(node, list):
            for value in node:
                found.extend(lists(value))
        return found

    # Every list of entries (not a leaf-list) carries the key of its YANG list.
    entries = [n for n in lists(document) if n["items"].get("type") == "object" or "allOf" in n["items"]]
    assert entries
    assert all(n.get("x-yang-key") for n in entries)


@needs_testdata
@needs_example
def test_the_schema_accepts_the_real_descriptors_and_etsis_example():
    descriptors: list[tuple[Kind, Path]] = [
        ("vnf", OSM / "hackfest_basic_vnf" / "hackfest_basic_vnfd.yaml"),
        ("ns", OSM / "hackfest_basic_ns" / "hackfest_basic_nsd.yaml"),
    ]
    for kind, path in descriptors:
        assert schema_problems(kind, yaml.safe_load(path.read_text()), path.name) == []
    monitoring = tar_view(OSM / "monitoring-ns.tar.gz").files["monitoring-ns/monitoring-nsd.yaml"]
    assert schema_problems("ns", yaml.safe_load(monitoring), "monitoring-nsd.yaml") == []
    assert schema_problems("vnf", etsi_example(), "nfv-vnfd.xml") == []


@needs_example
def test_etsis_example_passes_every_level_as_an_osm_package():
    result = validate_osm(package("asa", etsi_example()), nowhere)
    assert result.problems == []
    summary = result.descriptors[0].summary
    assert (summary.vendor, summary.name, summary.version) == ("My Company", "My Company ASAv", "9.8")
    assert (summary.vcpus, summary.memory_mb, summary.storage_gb) == (2, 4096, 0.0)
    assert summary.connection_points == ["inside", "management", "outside"]


def drop(key: str) -> Callable[[dict[str, Any]], object]:
    return lambda node: node.pop(key)


@pytest.mark.parametrize(
    ("change", "location", "says"),
    [
        (drop("id"), "/vnfd", "'id' is a required property"),
        (lambda v: v["vdu"][0].pop("name"), "/vnfd/vdu/0", "'name' is a required property"),
        (lambda v: v["vdu"][1].pop("int-cpd"), "/vnfd/vdu/1", "'int-cpd' is a required property"),
        (
            lambda v: v["virtual-compute-desc"][0]["virtual-cpu"].update({"num-virtual-cpu": 0}),
            "/vnfd/virtual-compute-desc/0/virtual-cpu/num-virtual-cpu",
            "less than the minimum of 1",
        ),
        (
            lambda v: v["virtual-compute-desc"][1]["virtual-memory"].update({"size": "lots"}),
            "/vnfd/virtual-compute-desc/1/virtual-memory/size",
            "does not match",
        ),
        (
            lambda v: v["sw-image-desc"][0].update({"container-format": "zip"}),
            "/vnfd/sw-image-desc/0/container-format",
            "is not one of",
        ),
        (
            lambda v: v["vdu"][0]["int-cpd"][0].update({"layer-protocol": ["ethernet2"]}),
            "/vnfd/vdu/0/int-cpd/0/layer-protocol/0",
            "does not match",
        ),
        (
            lambda v: v["ext-cpd"][0].update({"int-virtual-link-desc": "internal"}),
            "/vnfd/ext-cpd/0",
            "int-cpd and int-virtual-link-desc are alternatives",
        ),
        (lambda v: v.update({"vdu": {"id": "probe"}}), "/vnfd/vdu", "is not of type 'array'"),
        (
            lambda v: v["vdu"][0].update({"virtual-storage-desc": "root-disk"}),
            "/vnfd/vdu/0/virtual-storage-desc",
            "array",
        ),
        (
            lambda v: v["df"][0]["instantiation-level"][0].update({"vdu-level": []}),
            "/vnfd/df/0/instantiation-level/0/vdu-level",
            "should be non-empty",
        ),
        (
            lambda v: v["vdu"][1].update({"virtual-storage-desc": ["root-disk", "root-disk"]}),
            "/vnfd/vdu/1/virtual-storage-desc",
            "non-unique",
        ),
    ],
)
def test_the_schema_rejects_a_broken_vnfd_at_the_right_pointer(change, location, says):
    result = vnfd_variant(change)
    problem = only(result, "syntax.schema")
    assert problem.file == "probe_vnf/descriptor.yaml"
    assert problem.location == location
    assert says in problem.message
    assert errors(result.problems) == [problem]  # integrity waits for a well-formed descriptor


@pytest.mark.parametrize(
    ("change", "location", "says"),
    [
        (drop("df"), "/nsd/nsd/0", "'df' is a required property"),
        (lambda n: n["df"][0]["vnf-profile"][0].pop("vnfd-id"), "/nsd/nsd/0/df/0/vnf-profile/0", "'vnfd-id'"),
        (
            lambda n: n["df"][0]["vnf-profile"][0]["virtual-link-connectivity"][0].pop("virtual-link-profile-id"),
            "/nsd/nsd/0/df/0/vnf-profile/0/virtual-link-connectivity/0",
            "'virtual-link-profile-id' is a required property",
        ),
        (
            lambda n: n["virtual-link-desc"][1].update({"test-access": "always"}),
            "/nsd/nsd/0/virtual-link-desc/1/test-access",
            "is not one of",
        ),
    ],
)
def test_the_schema_rejects_a_broken_nsd_at_the_right_pointer(change, location, says):
    result = nsd_variant(change)
    problem = only(result, "syntax.schema")
    assert problem.location == location
    assert says in problem.message


def test_an_nsd_holds_exactly_one_ns():
    document = copy.deepcopy(NSD)
    document["nsd"]["nsd"].append(copy.deepcopy(document["nsd"]["nsd"][0]) | {"id": "another"})
    problem = only(validate_osm(package("probe_ns", document), repository(published_vnf())), "syntax.schema")
    assert problem.location == "/nsd/nsd"


# --- integrity ----------------------------------------------------------------------------------------------------


def test_it_rejects_a_duplicate_vdu_id():
    result = vnfd_variant(lambda v: v["vdu"][1].update({"id": "probe"}))
    problem = only(result, "integrity.duplicate-id")
    assert problem.location == "/vnfd/vdu/1/id"
    assert "'probe'" in problem.message
    assert "/vnfd/vdu/0" in problem.message


def test_it_rejects_duplicate_keys_in_nested_and_composite_key_lists():
    result = vnfd_variant(lambda v: v["vdu"][0]["int-cpd"][1].update({"id": "probe-mgmt"}))
    assert only(result, "integrity.duplicate-id").location == "/vnfd/vdu/0/int-cpd/1/id"
    result = nsd_variant(lambda n: n["df"][0]["vnf-profile"][1].update({"id": "first"}))
    assert "/nsd/nsd/0/df/0/vnf-profile/1/id" in {p.location for p in result.problems}


@pytest.mark.parametrize(
    ("change", "location", "names"),
    [
        (
            lambda v: v["vdu"][0].update({"virtual-compute-desc": "medium"}),
            "/vnfd/vdu/0/virtual-compute-desc",
            "'medium'",
        ),
        (
            lambda v: v["vdu"][1]["virtual-storage-desc"].append("scratch"),
            "/vnfd/vdu/1/virtual-storage-desc/2",
            "'scratch'",
        ),
        (lambda v: v["vdu"][0].update({"sw-image-desc": "ubuntu"}), "/vnfd/vdu/0/sw-image-desc", "'ubuntu'"),
        (
            lambda v: v["vdu"][1]["int-cpd"][0].update({"int-virtual-link-desc": "external"}),
            "/vnfd/vdu/1/int-cpd/0/int-virtual-link-desc",
            "'external'",
        ),
        (
            lambda v: v["ext-cpd"][1]["int-cpd"].update({"cpd": "probe-eth9"}),
            "/vnfd/ext-cpd/1/int-cpd/cpd",
            "'probe-eth9'",
        ),
        (lambda v: v["ext-cpd"][1]["int-cpd"].update({"vdu-id": "ghost"}), "/vnfd/ext-cpd/1/int-cpd/vdu-id", "'ghost'"),
        (lambda v: v["df"][0]["vdu-profile"][1].update({"id": "ghost"}), "/vnfd/df/0/vdu-profile/1/id", "'ghost'"),
        (
            lambda v: v["df"][0]["instantiation-level"][0]["vdu-level"][0].update({"vdu-id": "ghost"}),
            "/vnfd/df/0/instantiation-level/0/vdu-level/0/vdu-id",
            "'ghost'",
        ),
        (lambda v: v.update({"mgmt-cp": "ghost"}), "/vnfd/mgmt-cp", "'ghost'"),
    ],
)
def test_it_rejects_a_vnfd_reference_to_nothing(change, location, names):
    problem = only(vnfd_variant(change), "integrity.unresolved-ref")
    assert problem.location == location
    assert names in problem.message


def test_it_checks_instance_counts_against_the_vdu_profile():
    result = vnfd_variant(
        lambda v: v["df"][0]["instantiation-level"][0]["vdu-level"][0].update({"number-of-instances": 4})
    )
    problem = only(result, "integrity.constraint")
    assert problem.location == "/vnfd/df/0/instantiation-level/0/vdu-level/0/number-of-instances"


def test_it_names_an_unresolved_vnfd_id_and_asks_the_repository_once():
    asked: list[VnfRef] = []

    def lookup(ref: VnfRef) -> ParsedDescriptor | None:
        asked.append(ref)
        return None

    def rename(nsd: dict[str, Any]) -> None:
        nsd["vnfd-id"] = ["probe-vnf-2"]
        for profile in nsd["df"][0]["vnf-profile"]:
            profile["vnfd-id"] = "probe-vnf-2"

    result = nsd_variant(rename, lookup)
    problem = only(result, "integrity.unresolved-vnf")
    assert (problem.file, problem.location) == ("probe_ns/descriptor.yaml", "/nsd/nsd/0/vnfd-id/0")
    assert "'probe-vnf-2'" in problem.message
    assert asked == [VnfRef(descriptor_id="probe-vnf-2")]


def test_a_vnf_profile_must_use_a_listed_vnfd():
    result = nsd_variant(lambda n: n["df"][0]["vnf-profile"][1].update({"vnfd-id": "other-vnf"}))
    assert only(result, "integrity.unlisted-vnfd").location == "/nsd/nsd/0/df/0/vnf-profile/1/vnfd-id"
    assert only(result, "integrity.unresolved-vnf").location == "/nsd/nsd/0/df/0/vnf-profile/1/vnfd-id"


def test_it_rejects_nsd_references_to_nothing():
    result = nsd_variant(lambda n: n["sapd"][0].update({"virtual-link-desc": "ghost"}))
    assert only(result, "integrity.unresolved-ref").location == "/nsd/nsd/0/sapd/0/virtual-link-desc"
    connectivity = "/nsd/nsd/0/df/0/vnf-profile/1/virtual-link-connectivity/0"
    result = nsd_variant(
        lambda n: n["df"][0]["vnf-profile"][1]["virtual-link-connectivity"][0].update(
            {"virtual-link-profile-id": "ghost"}
        )
    )
    assert only(result, "integrity.unresolved-ref").location == f"{connectivity}/virtual-link-profile-id"
    result = nsd_variant(
        lambda n: n["df"][0]["vnf-profile"][1]["virtual-link-connectivity"][0]["constituent-cpd-id"][0].update(
            {"constituent-cpd-id": "eth7"}
        )
    )
    problem = only(result, "integrity.unresolved-ref")
    assert problem.location == f"{connectivity}/constituent-cpd-id/0/constituent-cpd-id"
    assert "'eth7'" in problem.message
    assert "'probe-vnf'" in problem.message


# --- topology -----------------------------------------------------------------------------------------------------


def test_it_rejects_a_disconnected_ns():
    def split(nsd: dict[str, Any]) -> None:
        # The second profile moves to a network of its own, reached from outside (so it is no dangling link).
        nsd["virtual-link-desc"].append({"id": "isolated", "vim-network-name": "lab"})
        nsd["df"][0]["vnf-profile"][1]["virtual-link-connectivity"][0]["virtual-link-profile-id"] = "isolated"

    result = nsd_variant(split)
    problem = only(result, "topology.disconnected")
    assert problem.location == "/nsd/nsd/0/df/0"
    assert "vnf 'second'" in problem.message
    assert "sap 'ingress'" in problem.message
    assert errors(result.problems) == [problem]


def test_it_rejects_a_dangling_link():
    result = nsd_variant(lambda n: n["virtual-link-desc"].append({"id": "unused"}))
    problem = only(result, "topology.dangling-link")
    assert problem.location == "/nsd/nsd/0/virtual-link-desc/2"
    assert problem.severity == Severity.ERROR
    assert "0 endpoints" in problem.message


def test_a_link_with_one_endpoint_is_dangling_unless_it_leads_outside():
    def one_endpoint(nsd: dict[str, Any]) -> None:
        nsd["sapd"] = []
        nsd["df"][0]["vnf-profile"][1]["virtual-link-connectivity"] = [
            {
                "virtual-link-profile-id": "mgmt",
                "constituent-cpd-id": [{"constituent-base-element-id": "second", "constituent-cpd-id": "mgmt-ext"}],
            }
        ]

    problem = only(nsd_variant(one_endpoint), "topology.dangling-link")
    assert problem.location == "/nsd/nsd/0/virtual-link-desc/1"  # "data": only the first profile is on it
    assert "1 endpoint;" in problem.message
    # "mgmt" is a management network: the VIM's side counts as an endpoint, so one VNF on it is enough.


# --- package level ------------------------------------------------------------------------------------------------


def test_malformed_yaml_is_reported_with_file_and_line():
    result = validate_osm(package("probe_vnf", b"vnfd:\n  id: probe\n  vdu: [unclosed\n"), nowhere)
    problem = only(result, "yaml.syntax")
    assert problem.file == "probe_vnf/descriptor.yaml"
    assert problem.location.startswith("line ")
    assert result.info is None


def test_it_needs_one_top_folder_and_one_descriptor():
    two_tops = MemoryView({"a/x.yaml": b"vnfd: {}", "b/y.yaml": b"nsd: {}"})
    assert only(validate_osm(two_tops, nowhere), "sol006.layout").message.endswith("found 2 (a, b)")
    loose = MemoryView({"vnfd.yaml": b"vnfd: {}"})
    assert rules(validate_osm(loose, nowhere)) == {"sol006.layout"}

    empty = validate_osm(package("probe_vnf", {"readme": "hello"}), nowhere)
    assert rules(empty) == {"sol006.no-descriptor"}
    assert "probe_vnf/descriptor.yaml" in empty.problems[0].message

    several = validate_osm(package("probe", VNFD, {"other.yaml": yaml.safe_dump(NSD).encode()}), nowhere)
    assert "sol006.several-descriptors" in rules(several)
    assert several.info is None

    # Descriptors in subfolders (charms, helm charts) are not the package's descriptor.
    nested = package("probe_vnf", VNFD, {"charms/x/metadata.yaml": b"nsd: {nsd: []}"})
    assert validate_osm(nested, nowhere).problems == []


def test_it_recognises_osms_pre_sol006_format():
    legacy = {"vnfd:vnfd-catalog": {"vnfd": [{"id": "old"}]}}
    problem = only(validate_osm(package("old_vnf", legacy), nowhere), "sol006.legacy-format")
    assert problem.location == "/vnfd:vnfd-catalog"


def test_a_yaml_timestamp_leaf_does_not_break_the_json_document():
    document = copy.deepcopy(VNFD)
    document["vnfd"]["version"] = "2024-01-31"
    text = yaml.safe_dump(document).replace("'2024-01-31'", "2024-01-31").encode()
    result = validate_osm(package("probe_vnf", text), nowhere)
    assert result.problems == []
    assert result.descriptors[0].summary.version == "2024-01-31"
