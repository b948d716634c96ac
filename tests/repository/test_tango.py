"""5GTANGO descriptors: our schemas against the official ones, and the syntax, integrity and topology checks."""

from __future__ import annotations

import copy
import functools
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from marketplace.repository.packages import tango, tango_schema
from marketplace.repository.packages.problems import Problem, Severity, errors
from marketplace.repository.packages.types import FormatResult, ParsedDescriptor, VnfRef
from tests.memory_view import MemoryView, zip_view

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
PACKAGES = TESTDATA / "packages" / "5gtango"
OFFICIAL_SCHEMAS = TESTDATA / "schemas" / "5gtango"
needs_testdata = pytest.mark.skipif(
    not PACKAGES.is_dir(), reason=f"the shared test data is not checked out at {PACKAGES}"
)
needs_official_schemas = pytest.mark.skipif(
    not OFFICIAL_SCHEMAS.is_dir(), reason=f"the official 5GTANGO schemas are not checked out at {OFFICIAL_SCHEMAS}"
)


def nowhere(ref: VnfRef) -> ParsedDescriptor | None:
    return None


def rules(result: FormatResult) -> set[str]:
    return {p.rule for p in result.problems}


def only(result: FormatResult, rule: str) -> Problem:
    found = [p for p in result.problems if p.rule == rule]
    assert len(found) == 1, result.problems
    return found[0]


# --- a small NS package of our own: two instances of one VNF, chained -------------------------------------------

VNFD_PATH = "Definitions/probe-vnfd.yaml"
NSD_PATH = "Definitions/probe-chain-nsd.yaml"
HELPER_IMAGE = "Images/probe-helper.qcow2"

VNFD: dict[str, Any] = {
    "descriptor_schema": "https://raw.githubusercontent.com/sonata-nfv/tng-schema/master/function-descriptor/vnfd-schema.yml",
    "vendor": "eu.example",
    "name": "probe",
    "version": "1.0",
    "description": "A traffic probe with a helper.",
    "virtual_deployment_units": [
        {
            "id": "vdu01",
            "vm_image": "probe-image-1.0",
            "vm_image_format": "qcow2",
            "resource_requirements": {
                "cpu": {"vcpus": 2},
                "memory": {"size": 512, "size_unit": "MiB"},
                "storage": {"size": 512, "size_unit": "MB"},
            },
            "connection_points": [
                {"id": "eth0", "interface": "ipv4", "type": "internal"},
                {"id": "eth1", "interface": "ipv4", "type": "internal"},
                {"id": "eth2", "interface": "ipv4", "type": "internal"},
            ],
        },
        {
            "id": "vdu02",
            "vm_image": HELPER_IMAGE,
            "vm_image_format": "qcow2",
            "resource_requirements": {
                "cpu": {"vcpus": 1},
                "memory": {"size": 1, "size_unit": "GB"},
                "storage": {"size": 2, "size_unit": "GB"},
            },
            "connection_points": [{"id": "eth0", "interface": "ipv4", "type": "internal"}],
        },
    ],
    "connection_points": [
        {"id": "mgmt", "interface": "ipv4", "type": "management"},
        {"id": "input", "interface": "ipv4", "type": "external"},
        {"id": "output", "interface": "ipv4", "type": "external"},
    ],
    "virtual_links": [
        {
            "id": "mgmt",
            "connectivity_type": "E-LAN",
            "connection_points_reference": ["vdu01:eth0", "vdu02:eth0", "mgmt"],
        },
        {"id": "input", "connectivity_type": "E-Line", "connection_points_reference": ["vdu01:eth1", "input"]},
        {"id": "output", "connectivity_type": "E-Line", "connection_points_reference": ["vdu01:eth2", "output"]},
    ],
}

NSD: dict[str, Any] = {
    "descriptor_schema": "https://raw.githubusercontent.com/sonata-nfv/tng-schema/master/service-descriptor/nsd-schema.yml",
    "vendor": "eu.example",
    "name": "probe-chain",
    "version": "1.0",
    "description": "Two probes in a row.",
    "network_functions": [
        {"vnf_id": "probe_a", "vnf_vendor": "eu.example", "vnf_name": "probe", "vnf_version": "1.0"},
        {"vnf_id": "probe_b", "vnf_vendor": "eu.example", "vnf_name": "probe", "vnf_version": "1.0"},
    ],
    "connection_points": [
        {"id": "mgmt", "interface": "ipv4", "type": "management"},
        {"id": "input", "interface": "ipv4", "type": "external"},
        {"id": "output", "interface": "ipv4", "type": "external"},
    ],
    "virtual_links": [
        {
            "id": "mgmt",
            "connectivity_type": "E-LAN",
            "connection_points_reference": ["probe_a:mgmt", "probe_b:mgmt", "mgmt"],
        },
        {"id": "input-2-a", "connectivity_type": "E-Line", "connection_points_reference": ["input", "probe_a:input"]},
        {
            "id": "a-2-b",
            "connectivity_type": "E-Line",
            "connection_points_reference": ["probe_a:output", "probe_b:input"],
        },
        {
            "id": "b-2-output",
            "connectivity_type": "E-Line",
            "connection_points_reference": ["probe_b:output", "output"],
        },
    ],
    "forwarding_graphs": [
        {
            "fg_id": "fg01",
            "number_of_endpoints": 2,
            "constituent_virtual_links": ["input-2-a", "a-2-b", "b-2-output"],
            "constituent_vnfs": ["probe_a", "probe_b"],
            "network_forwarding_paths": [
                {
                    "fp_id": "fg01:fp01",
                    "policy": "none",
                    "connection_points": [
                        {"connection_point_ref": ref, "position": i}
                        for i, ref in enumerate(
                            ["input", "probe_a:input", "probe_a:output", "probe_b:input", "probe_b:output", "output"],
                            start=1,
                        )
                    ],
                }
            ],
        }
    ],
}


def napd(*descriptors: tuple[str, str], **fields: Any) -> dict[str, Any]:
    return {
        "descriptor_schema": "https://raw.githubusercontent.com/sonata-nfv/tng-schema/master/package-specification/napd-schema.yml",
        "vendor": "eu.example",
        "name": "probe-chain-package",
        "version": "1.0",
        "package_type": "application/vnd.5gtango.package.nsp",
        "description": "Probes, chained.",
        "package_content": [
            {"source": source, "algorithm": "SHA-256", "hash": "0" * 64, "content-type": content_type}
            for source, content_type in descriptors
        ],
        **fields,
    }


def package(
    vnfd: dict[str, Any] | bytes | None = None,
    nsd: dict[str, Any] | bytes | None = None,
    extra: dict[str, bytes] | None = None,
) -> MemoryView:
    """An NS package from our example; pass a changed VNFD/NSD (a dict, or raw bytes) to break it,
    or None to leave the file out of the archive (the NAPD still lists it)."""
    listed = [(NSD_PATH, tango.NSD_TYPE), (VNFD_PATH, tango.VNFD_TYPE)]
    files = {tango.NAPD_PATH: yaml.safe_dump(napd(*listed)).encode()}
    for path, document in ((NSD_PATH, nsd), (VNFD_PATH, vnfd)):
        if document is not None:
            files[path] = document if isinstance(document, bytes) else yaml.safe_dump(document).encode()
    files[HELPER_IMAGE] = b"QFI\xfb image bytes"
    files.update(extra or {})
    return MemoryView(files)


def changed(document: dict[str, Any], change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    copied = copy.deepcopy(document)
    change(copied)
    return copied


def test_it_accepts_our_example_ns_package_and_sums_its_resources():
    result = tango.validate_5gtango(package(VNFD, NSD), nowhere)

    assert result.problems == []
    assert result.info is not None
    assert (result.info.vendor, result.info.name, result.info.version) == ("eu.example", "probe-chain-package", "1.0")
    assert (result.info.kind, result.info.main_descriptor) == ("ns", NSD_PATH)
    ns, vnf = result.descriptors
    assert (ns.file, vnf.file) == (NSD_PATH, VNFD_PATH)
    assert (vnf.summary.kind, vnf.summary.descriptor_id) == ("vnf", "eu.example/probe/1.0")
    # 512 MiB + 1 GB, and 512 MB + 2 GB of storage, over both VDUs
    assert (vnf.summary.vcpus, vnf.summary.memory_mb, vnf.summary.storage_gb) == (3, 1536, 2.5)
    assert vnf.summary.images == ["probe-image-1.0", HELPER_IMAGE]
    assert vnf.summary.connection_points == ["mgmt", "input", "output"]
    assert vnf.summary.virtual_links == ["mgmt", "input", "output"]
    # the NS runs two instances of the VNF
    assert (ns.summary.kind, ns.summary.vcpus, ns.summary.memory_mb, ns.summary.storage_gb) == ("ns", 6, 3072, 5.0)
    assert ns.summary.constituent_vnfs == [
        VnfRef(descriptor_id="probe_a", vendor="eu.example", name="probe", version="1.0"),
        VnfRef(descriptor_id="probe_b", vendor="eu.example", name="probe", version="1.0"),
    ]
    assert ns.summary.virtual_links == ["mgmt", "input-2-a", "a-2-b", "b-2-output"]
    assert ns.document["name"] == "probe-chain"


def test_a_vnf_package_names_its_vnfd_as_main_descriptor():
    files = {
        tango.NAPD_PATH: yaml.safe_dump(napd((VNFD_PATH, tango.VNFD_TYPE))).encode(),
        VNFD_PATH: yaml.safe_dump(VNFD).encode(),
        HELPER_IMAGE: b"image",
    }
    result = tango.validate_5gtango(MemoryView(files), nowhere)

    assert result.problems == []
    assert result.info is not None
    assert (result.info.kind, result.info.main_descriptor) == ("vnf", VNFD_PATH)


# --- syntax --------------------------------------------------------------------------------------------------


def test_it_points_at_the_schema_field_that_fails():
    def break_it(d: dict[str, Any]) -> None:
        d["virtual_deployment_units"][0]["resource_requirements"]["cpu"]["vcpus"] = "two"
        del d["virtual_deployment_units"][1]["resource_requirements"]
        d["virtual_links"][0]["connectivity_type"] = "E-Star"

    result = tango.validate_5gtango(package(changed(VNFD, break_it), NSD), nowhere)

    schema = [(p.rule, p.location, p.file) for p in result.problems if p.rule.startswith("schema.")]
    assert schema == [
        ("schema.type", "/virtual_deployment_units/0/resource_requirements/cpu/vcpus", VNFD_PATH),
        ("schema.required", "/virtual_deployment_units/1/resource_requirements", VNFD_PATH),
        ("schema.enum", "/virtual_links/0/connectivity_type", VNFD_PATH),
    ]
    assert "expected integer, found string" in result.problems[0].message
    assert all(p.severity == Severity.ERROR for p in result.problems)


def test_it_rejects_unknown_fields_and_bad_names_in_the_napd():
    files = package(VNFD, NSD).files
    files[tango.NAPD_PATH] = yaml.safe_dump(
        napd((NSD_PATH, tango.NSD_TYPE), (VNFD_PATH, tango.VNFD_TYPE), vendor="EU Example", signature="abc")
    ).encode()

    result = tango.validate_5gtango(MemoryView(files), nowhere)

    assert [(p.rule, p.file, p.location) for p in result.problems] == [
        ("schema.additionalProperties", tango.NAPD_PATH, "/signature"),
        ("schema.pattern", tango.NAPD_PATH, "/vendor"),
    ]


def test_it_rejects_a_float_where_the_schema_wants_an_integer():
    vnfd = changed(VNFD, lambda d: d["virtual_deployment_units"][0]["resource_requirements"]["cpu"].update(vcpus=2.0))

    result = tango.validate_5gtango(package(vnfd, NSD), nowhere)

    assert only(result, "schema.type").location == "/virtual_deployment_units/0/resource_requirements/cpu/vcpus"


def test_it_reports_malformed_yaml_with_its_file_and_line():
    broken = b"vendor: eu.example\nname: probe\nvirtual_deployment_units: [\n  {id: vdu01\n"

    result = tango.validate_5gtango(package(broken, NSD), nowhere)

    problem = only(result, "yaml.syntax")
    assert problem.file == VNFD_PATH
    assert problem.location.startswith("line ")
    # the NSD is still checked; its VNF is then nowhere to be found
    unresolved = [(p.file, p.location) for p in result.problems if p.rule == "integrity.unresolved-vnf"]
    assert unresolved == [(NSD_PATH, "/network_functions/0"), (NSD_PATH, "/network_functions/1")]


def test_it_turns_unsafe_yaml_into_a_problem():
    laughs = b'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n' + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n".encode()
        for i in range(10)
    )

    result = tango.validate_5gtango(package(VNFD, laughs), nowhere)

    assert [(p.rule, p.file) for p in result.problems] == [("yaml.unsafe", NSD_PATH)]


def test_it_needs_a_napd():
    files = package(VNFD, NSD).files
    del files[tango.NAPD_PATH]

    result = tango.validate_5gtango(MemoryView(files), nowhere)

    assert result.info is None
    assert [(p.rule, p.file) for p in result.problems] == [("5gtango.missing-napd", tango.NAPD_PATH)]


def test_it_names_a_listed_descriptor_that_is_not_in_the_package():
    result = tango.validate_5gtango(package(None, NSD), nowhere)

    assert only(result, "5gtango.missing-file").file == VNFD_PATH
    assert {p.file for p in result.problems if p.rule == "integrity.unresolved-vnf"} == {NSD_PATH}


def test_it_needs_at_least_one_descriptor():
    files = {tango.NAPD_PATH: yaml.safe_dump(napd(("Icons/logo.png", "image/png"))).encode()}

    result = tango.validate_5gtango(MemoryView(files), nowhere)

    assert rules(result) == {"5gtango.no-descriptors"}
    assert result.info is not None
    assert result.info.kind == "vnf"


# --- integrity -----------------------------------------------------------------------------------------------


def test_it_rejects_a_duplicate_vdu_id():
    vnfd = changed(VNFD, lambda d: d["virtual_deployment_units"][1].update(id="vdu01"))

    result = tango.validate_5gtango(package(vnfd, NSD), nowhere)

    problem = only(result, "integrity.duplicate-id")
    assert (problem.file, problem.location) == (VNFD_PATH, "/virtual_deployment_units/1/id")
    assert "'vdu01'" in problem.message


def test_it_rejects_duplicate_connection_point_and_link_ids():
    def break_it(d: dict[str, Any]) -> None:
        d["virtual_deployment_units"][0]["connection_points"][2]["id"] = "eth1"
        d["virtual_links"][2]["id"] = "input"

    result = tango.validate_5gtango(package(changed(VNFD, break_it), NSD), nowhere)

    duplicates = [p.location for p in result.problems if p.rule == "integrity.duplicate-id"]
    assert duplicates == ["/virtual_deployment_units/0/connection_points/2/id", "/virtual_links/2/id"]


def test_it_rejects_a_virtual_link_naming_an_unknown_cp():
    vnfd = changed(VNFD, lambda d: d["virtual_links"][1]["connection_points_reference"].__setitem__(0, "vdu01:eth9"))

    result = tango.validate_5gtango(package(vnfd, NSD), nowhere)

    problem = only(result, "integrity.unknown-cp")
    assert (problem.file, problem.location) == (VNFD_PATH, "/virtual_links/1/connection_points_reference/0")
    assert "'eth9'" in problem.message
    assert problem.severity == Severity.ERROR


def test_it_rejects_an_nsd_link_to_a_cp_the_vnf_does_not_have():
    nsd = changed(NSD, lambda d: d["virtual_links"][2]["connection_points_reference"].__setitem__(1, "probe_b:in"))

    result = tango.validate_5gtango(package(VNFD, nsd), nowhere)

    problem = only(result, "integrity.unknown-cp")
    assert (problem.file, problem.location) == (NSD_PATH, "/virtual_links/2/connection_points_reference/1")


def test_it_rejects_an_nsd_whose_vnf_is_nowhere():
    nsd = changed(NSD, lambda d: d["network_functions"][1].update(vnf_name="classifier"))

    result = tango.validate_5gtango(package(VNFD, nsd), nowhere)

    problem = only(result, "integrity.unresolved-vnf")
    assert (problem.file, problem.location, problem.severity) == (NSD_PATH, "/network_functions/1", Severity.ERROR)
    assert "eu.example/classifier/1.0" in problem.message


def test_it_accepts_that_nsd_when_the_repository_has_the_vnfd():
    classifier = changed(VNFD, lambda d: d.update(name="classifier"))
    asked: list[VnfRef] = []

    def repository(ref: VnfRef) -> ParsedDescriptor | None:
        asked.append(ref)
        if (ref.vendor, ref.name, ref.version) == ("eu.example", "classifier", "1.0"):
            return ParsedDescriptor("elsewhere.yaml", classifier, tango.summarize_vnfd(classifier))
        return None

    nsd = changed(NSD, lambda d: d["network_functions"][1].update(vnf_name="classifier"))
    result = tango.validate_5gtango(package(VNFD, nsd), repository)

    assert result.problems == []
    assert asked == [VnfRef(vendor="eu.example", name="classifier", version="1.0")]  # the local VNF is not asked for
    ns = result.descriptors[0].summary
    assert (ns.vcpus, ns.memory_mb) == (6, 3072)


def test_an_nsd_may_ask_for_a_version_range():
    nsd = changed(NSD, lambda d: [f.update(vnf_version=">= 0.9") for f in d["network_functions"]])

    assert tango.validate_5gtango(package(VNFD, nsd), nowhere).problems == []


def test_it_rejects_a_missing_image_file_but_not_an_image_name():
    vnfd = changed(VNFD, lambda d: d["virtual_deployment_units"][1].update(vm_image="Images/probe-helper-2.qcow2"))
    result = tango.validate_5gtango(package(vnfd, NSD), nowhere)
    problem = only(result, "integrity.missing-image-file")
    assert (problem.file, problem.location) == (VNFD_PATH, "/virtual_deployment_units/1/vm_image")

    for external in ("registry.example.org/probe:1.0", "http://images.example.org/probe.qcow2", "probe.img"):
        vnfd = copy.deepcopy(VNFD)
        vnfd["virtual_deployment_units"][1]["vm_image"] = external
        assert tango.validate_5gtango(package(vnfd, NSD), nowhere).problems == [], external


def test_it_rejects_a_vdu_without_an_image():
    vnfd = changed(VNFD, lambda d: d["virtual_deployment_units"][1].pop("vm_image"))

    result = tango.validate_5gtango(package(vnfd, NSD), nowhere)

    assert only(result, "integrity.missing-image").location == "/virtual_deployment_units/1"


def copies(*extra: tuple[str, bytes], kind: str = tango.VNFD_TYPE) -> MemoryView:
    """The package with more descriptor files (of `kind`) listed in its NAPD."""
    files = package(VNFD, NSD).files
    listed = [(path, kind) for path, _ in extra]
    files[tango.NAPD_PATH] = yaml.safe_dump(
        napd((NSD_PATH, tango.NSD_TYPE), (VNFD_PATH, tango.VNFD_TYPE), *listed)
    ).encode()
    files.update(dict(extra))
    return MemoryView(files)


def test_identical_vnfds_at_several_paths_count_once_with_one_warning_naming_them():
    """tng-pkg accepts the same descriptor at several paths of one package: one VNFD, one warning."""
    original = package(VNFD, NSD).files[VNFD_PATH]
    result = tango.validate_5gtango(
        copies(("Definitions/copy.yaml", original), ("Definitions/again/copy.yaml", original)), nowhere
    )

    assert errors(result.problems) == []
    warning = only(result, "5gtango.identical-descriptors")
    assert warning.severity == Severity.WARNING
    for path in (VNFD_PATH, "Definitions/copy.yaml", "Definitions/again/copy.yaml"):
        assert path in warning.message
    assert "tng-pkg accepts this" in warning.message
    assert [d.file for d in result.descriptors if d.summary.kind == "vnf"] == [VNFD_PATH]


def test_descriptors_equal_once_parsed_but_not_byte_for_byte_are_not_identical():
    """A comment (or 2 against 2.0) leaves the parsed document equal; the files differ, so the copy is a second
    VNFD under the same identity, with other content."""
    original = package(VNFD, NSD).files[VNFD_PATH]
    retyped = original + b"# the same VNFD, written otherwise\n"
    result = tango.validate_5gtango(copies(("Definitions/copy.yaml", retyped)), nowhere)
    assert only(result, "integrity.duplicate-descriptor").severity == Severity.ERROR


def test_an_identical_nsd_at_two_paths_counts_once():
    original = package(VNFD, NSD).files[NSD_PATH]
    result = tango.validate_5gtango(copies(("Definitions/nsd-copy.yaml", original), kind=tango.NSD_TYPE), nowhere)
    assert errors(result.problems) == []
    warning = only(result, "5gtango.identical-descriptors")
    assert warning.message.startswith("the NSD ")
    assert [d.file for d in result.descriptors if d.summary.kind == "ns"] == [NSD_PATH]


def test_it_rejects_two_vnfds_with_the_same_name_and_version_and_other_content():
    other = changed(VNFD, lambda d: d.update(description="another VNF under the same identity"))
    result = tango.validate_5gtango(copies(("Definitions/copy.yaml", yaml.safe_dump(other).encode())), nowhere)

    problem = only(result, "integrity.duplicate-descriptor")
    assert (problem.file, problem.severity) == ("Definitions/copy.yaml", Severity.ERROR)
    assert "with other content" in problem.message


# --- topology ------------------------------------------------------------------------------------------------


def test_it_rejects_a_disconnected_ns():
    def cut(d: dict[str, Any]) -> None:
        d["virtual_links"][0]["connection_points_reference"].remove("probe_b:mgmt")
        del d["virtual_links"][2]  # a-2-b
        d["forwarding_graphs"][0]["constituent_virtual_links"].remove("a-2-b")

    result = tango.validate_5gtango(package(VNFD, changed(NSD, cut)), nowhere)

    problem = only(result, "topology.disconnected")
    assert (problem.file, problem.location) == (NSD_PATH, "/network_functions/1")
    assert "'probe_b'" in problem.message
    assert "'probe_a'" not in problem.message
    # the output CP now only reaches probe_b: shown, but not a reason to reject
    assert only(result, "topology.unconnected-cp").severity == Severity.WARNING
    assert len(errors(result.problems)) == 1


def test_it_rejects_a_dangling_link():
    nsd = changed(NSD, lambda d: d["virtual_links"][1].update(connection_points_reference=["input"]))

    result = tango.validate_5gtango(package(VNFD, nsd), nowhere)

    problem = only(result, "topology.dangling-link")
    assert (problem.file, problem.location) == (NSD_PATH, "/virtual_links/1/connection_points_reference")


def test_a_link_to_an_unknown_vnf_id_is_a_warning_and_the_link_may_dangle_then():
    nsd = changed(NSD, lambda d: d["virtual_links"][0]["connection_points_reference"].append("probe_c:mgmt"))
    result = tango.validate_5gtango(package(VNFD, nsd), nowhere)
    assert [(p.rule, p.severity, p.location) for p in result.problems] == [
        ("integrity.unknown-vnf-id", Severity.WARNING, "/virtual_links/0/connection_points_reference/3")
    ]

    nsd = changed(NSD, lambda d: d["virtual_links"][1].update(connection_points_reference=["input", "probe_c:input"]))
    result = tango.validate_5gtango(package(VNFD, nsd), nowhere)
    assert {p.rule for p in errors(result.problems)} == {"topology.dangling-link"}


def test_it_rejects_a_forwarding_path_through_unknown_cps():
    def break_it(d: dict[str, Any]) -> None:
        points = d["forwarding_graphs"][0]["network_forwarding_paths"][0]["connection_points"]
        points[2]["connection_point_ref"] = "probe_c:output"
        points[5]["connection_point_ref"] = "exit"
        d["forwarding_graphs"][0]["constituent_vnfs"].append("probe_c")

    result = tango.validate_5gtango(package(VNFD, changed(NSD, break_it)), nowhere)

    path = "/forwarding_graphs/0/network_forwarding_paths/0/connection_points"
    assert sorted((p.rule, p.location) for p in result.problems) == [
        ("integrity.unknown-cp", f"{path}/5/connection_point_ref"),
        ("topology.fg-unknown-reference", "/forwarding_graphs/0/constituent_vnfs/2"),
        ("topology.fg-unknown-reference", f"{path}/2/connection_point_ref"),
    ]


# --- the real 5GTANGO packages -------------------------------------------------------------------------------


@needs_testdata
def test_it_accepts_the_5gtango_ns_example():
    result = tango.validate_5gtango(zip_view(PACKAGES / "5gtango-ns-package-example.tgo"), nowhere)

    assert errors(result.problems) == []
    assert result.info is not None
    assert (result.info.vendor, result.info.name, result.info.version, result.info.kind) == (
        "eu.5gtango",
        "5gtango-project-sample",
        "0.1",
        "ns",
    )
    assert result.info.main_descriptor == "Definitions/sources/nsd/nsd-sample.yml"
    kinds = sorted(d.summary.kind for d in result.descriptors)
    assert kinds == ["ns", "vnf"]
    vnf = next(d.summary for d in result.descriptors if d.summary.kind == "vnf")
    ns = next(d.summary for d in result.descriptors if d.summary.kind == "ns")
    assert (vnf.vendor, vnf.name, vnf.version) == ("eu.5gtango", "sample-vnf", "0.9")
    assert (vnf.vcpus, vnf.memory_mb, vnf.storage_gb, vnf.images) == (1, 2048, 10.0, ["sample_docker"])
    assert (ns.vcpus, ns.memory_mb, ns.storage_gb) == (1, 2048, 10.0)
    assert ns.constituent_vnfs == [VnfRef("vnf1", "eu.5gtango", "sample-vnf", "0.9")]
    # The example's management link also names "vnf2:mgmt", a VNF the NSD does not have.
    assert [(p.rule, p.severity) for p in result.problems] == [("integrity.unknown-vnf-id", Severity.WARNING)]


@needs_testdata
def test_it_accepts_the_5gtango_vnf_example():
    result = tango.validate_5gtango(zip_view(PACKAGES / "eu.5gtango.vnf-package-example.0.1.tgo"), nowhere)

    assert result.problems == []
    assert result.info is not None
    assert (result.info.name, result.info.kind) == ("vnf-package-example", "vnf")
    assert result.info.main_descriptor == "Definitions/Definitions/myvnfd.yaml"
    (vnf,) = result.descriptors
    assert (vnf.summary.vcpus, vnf.summary.memory_mb, vnf.summary.storage_gb) == (1, 2048, 10.0)
    assert vnf.summary.images == ["eu.5gtango.mycloudimage.16.04"]


@needs_testdata
def test_the_descriptors_of_the_bad_checksum_example_are_fine():
    result = tango.validate_5gtango(zip_view(PACKAGES / "5gtango-ns-package-example-bad-checksum.tgo"), nowhere)

    assert result.problems == []
    assert [d.summary.kind for d in result.descriptors] == ["ns", "vnf"]


@needs_testdata
def test_it_validates_the_ns_example_quickly():
    view = zip_view(PACKAGES / "5gtango-ns-package-example.tgo")
    tango.validate_5gtango(view, nowhere)  # compiles the schemas

    started = time.perf_counter()
    for _ in range(10):
        tango.validate_5gtango(view, nowhere)
    assert (time.perf_counter() - started) / 10 < 0.05


# --- our schemas against the official ones ------------------------------------------------------------------

RICH_VNFD: dict[str, Any] = {
    "descriptor_schema": "https://example.org/vnfd-schema.yml",
    "vendor": "eu.example",
    "name": "edge-cache",
    "version": "2.1-3",
    "author": "Example Lab",
    "description": "Every part of the VNFD schema, once.",
    "logo": "Icons/cache.png",
    "licenses": [{"type": "public"}, {"type": "private", "url": "https://example.org/licence"}],
    "function_specific_managers": [
        {
            "id": "fsm1",
            "description": "placement",
            "image": "example/cache-fsm",
            "image_md5": "0123456789abcdef0123456789ABCDEF",
            "resource_requirements": {"docker_version": ">= 1.13"},
            "options": [{"key": "mode", "value": "warm"}],
        }
    ],
    "virtual_deployment_units": [
        {
            "id": "vdu01",
            "description": "cache",
            "vm_image": "http://images.example.org/cache.qcow2",
            "vm_image_format": "qcow2",
            "vm_image_md5": "0123456789abcdef0123456789abcdef",
            "vm_flavor": "m1.small",
            "alternative_images": [{"vm_image": "cache-arm", "vm_image_format": "raw", "vm_image_arch": "aarch64"}],
            "snmp_parameters": {
                "version": "v2",
                "auth_protocol": "none",
                "security_level": "low",
                "username": "probe",
                "port": 161,
                "interval": 10,
                "oids": [
                    {"oid": "1.3.6.1", "metric_name": "hits", "metric_type": "gauge", "unit": "n", "mib_name": "CACHE"}
                ],
            },
            "resource_requirements": {
                "hypervisor_parameters": {"type": "kvm", "version": ">= 2.0"},
                "vswitch_capabilities": {"type": "ovs", "version": "2.9", "overlay_tunnel": "vxlan"},
                "cpu": {"vcpus": 4, "cpu_support_accelerator": "aes"},
                "memory": {"size": 4, "size_unit": "GiB", "large_pages_required": False, "numa_allocation_policy": "x"},
                "storage": {"size": 20, "size_unit": "GB", "persistence": True},
                "network": {
                    "network_interface_bandwidth": 10,
                    "network_interface_bandwidth_unit": "Gbps",
                    "network_interface_card_capabilities": {"SR-IOV": True, "mirroring": False},
                    "data_processing_acceleration_library": "dpdk",
                },
                "pcie": {"SR-IOV": True, "device_pass_through": False},
            },
            "connection_points": [
                {
                    "id": "eth0",
                    "interface": "ethernet",
                    "type": "internal",
                    "mac": "02:00:00:00:00:01",
                    "ip": "10.0.0.2",
                    "virtual_link_reference": "mgmt",
                    "security_groups": ["default"],
                    "qos": "gold",
                    "qos_requirements": {
                        "bandwidth_limit": {"bandwidth": 100, "bandwidth_unit": "Mbps"},
                        "minimum_bandwidth": {"bandwidth": 10, "bandwidth_unit": "Mbps"},
                        "dscp_marking": "AF41",
                    },
                }
            ],
            "monitoring_parameters": [
                {"name": "cpu", "unit": "Percentage", "frequency": 1, "frequency_unit": "Hz", "command": "top"},
                {"name": "rx", "unit": "MB"},
            ],
            "scale_in_out": {"minimum": 1, "maximum": 3},
            "user_data": "#cloud-config",
        }
    ],
    "cloudnative_deployment_units": [
        {
            "id": "cdu01",
            "description": "api",
            "image": "example/cache-api:2.1",
            "resource_requirements": {
                "cpu": {"vcpus": 1},
                "gpu": {"nvidia": 1, "amd": 1},
                "memory": {"size": 256, "size_unit": "MB", "large_pages_required": False},
                "storage": {"size": 1, "size_unit": "GB"},
                "network": {"network_interface_bandwidth": 1, "network_interface_bandwidth_unit": "Gbps"},
                "pcie": {"SR-IOV": False},
            },
            "connection_points": [{"id": "http", "port": 8080, "ports": [8080], "publish": {"8080": 80}}],
            "monitoring_parameters": [{"name": "requests", "unit": "Other"}],
            "parameters": {"env": {"MODE": "edge"}, "k8s_deployment": {}, "k8s_service": {}, "replicas": 2},
        }
    ],
    "physical_deployment_units": [
        {
            "id": "pdu01",
            "vendor": "acme",
            "version": "1",
            "description": "uplink switch",
            "address": "192.0.2.10",
            "port": 22,
            "geo_location": "lab",
            "performance": [{"throughput": {"value": 10, "unit": "Gbps"}}],
            "connection_points": [{"id": "p1", "type": "external"}],
        }
    ],
    "connection_points": [
        {"id": "mgmt", "type": "management"},
        {"id": "api", "type": "serviceendpoint"},
        {"id": "uplink", "type": "external", "interface": "ipv6"},
    ],
    "virtual_links": [
        {
            "id": "mgmt",
            "connectivity_type": "E-LAN",
            "connection_points_reference": ["vdu01:eth0", "mgmt"],
            "access": True,
            "external_access": False,
            "root_requirement": "1Gbps",
            "leaf_requirement": "100Mbps",
            "dhcp": True,
            "cidr": "10.0.0.0/24",
            "qos": "silver",
            "qos_requirements": {"dscp_marking": "AF11"},
        },
        {"id": "api", "connectivity_type": "E-Line", "connection_points_reference": ["cdu01:http", "api"]},
        {"id": "uplink", "connectivity_type": "E-Tree", "connection_points_reference": ["pdu01:p1", "uplink"]},
    ],
    "deployment_flavours": [{"flavour": "small", "connection_points": [{"id": "mgmt"}]}],
    "lifecycle_events": [
        {
            "authentication_username": "ops",
            "driver": "ansible",
            "authentication_type": "key",
            "authentication": "id_rsa",
            "vnf_container": "cache",
            "flavor_id_ref": "small",
            "events": {
                "start": {"command": "start.sh", "template_file": "start.json", "template_file_format": "json"},
                "stop": {"command": "stop.sh"},
                "restart": {"command": "restart.sh"},
                "scale-in": {"command": "shrink.sh"},
                "scale-out": {"command": "grow.sh"},
            },
        }
    ],
    "monitoring_rules": [
        {
            "name": "busy",
            "description": "CPU over 90 % for 10 s",
            "duration": 10,
            "duration_unit": "s",
            "condition": "vdu01:cpu > 90",
            "notification": [{"name": "busy", "type": "rabbitmq_message"}],
        }
    ],
}

RICH_NSD: dict[str, Any] = {
    "descriptor_schema": "https://example.org/nsd-schema.yml",
    "vendor": "eu.example",
    "name": "edge-service",
    "version": "2.1",
    "author": "Example Lab",
    "description": "Every part of the NSD schema, once.",
    "logo": "Icons/service.png",
    "licences": [{"type": "public"}],
    "service_specific_managers": [{"id": "ssm1", "image": "example/ssm", "options": [{"key": "k", "value": "v"}]}],
    "network_functions": [
        {
            "vnf_id": "cache",
            "vnf_vendor": "eu.example",
            "vnf_name": "edge-cache",
            "vnf_version": ">= 2.0",
            "vnf_flavour": "small",
            "description": "the cache",
        }
    ],
    "network_services": [{"ns_id": "core", "ns_vendor": "eu.example", "ns_name": "core", "ns_version": "== 1.0"}],
    "connection_points": [
        {"id": "mgmt", "interface": "ipv4", "type": "management"},
        {"id": "users", "interface": "ipv4", "type": "external", "qos": "gold"},
    ],
    "virtual_links": [
        {
            "id": "mgmt",
            "connectivity_type": "E-LAN",
            "connection_points_reference": ["cache:mgmt", "core:mgmt", "mgmt"],
            "dhcp": True,
        },
        {
            "id": "users",
            "connectivity_type": "E-Line",
            "connection_points_reference": ["users", "cache:api"],
            "qos_requirements": {"bandwidth_limit": {"bandwidth": 1, "bandwidth_unit": "Gbps"}},
        },
        {"vl_group": "eu.example", "vl_name": "backbone", "vl_version": "1.0", "vl_description": "shared"},
    ],
    "forwarding_graphs": [
        {
            "fg_id": "fg01",
            "number_of_endpoints": 2,
            "number_of_virtual_links": 1,
            "constituent_virtual_links": ["users"],
            "constituent_vnfs": ["cache"],
            "constituent_services": ["core"],
            "network_forwarding_paths": [
                {
                    "fp_id": "fg01:fp01",
                    "policy": "none",
                    "connection_points": [
                        {"connection_point_ref": "users", "position": 1},
                        {"connection_point_ref": "cache:api", "position": 2},
                    ],
                }
            ],
        },
        {"fg_group": "eu.example", "fg_name": "backup-path", "fg_version": "1.0", "fg_description": "spare"},
    ],
    "lifecycle_events": {"start": [{"vnf_id": "cache", "vnf_event": "start"}], "stop": [], "scale_out": []},
    "vnf_depedency": ["cache"],
    "services_depedency": ["core"],
    "monitoring_parameters": [{"desc": "latency", "metric": "rtt", "unit": "ms"}],
    "auto_scale_policy": {"criteria": [{"end-to-end bandwidth": "10Gbps"}], "action": "scale-out"},
    "service_platforms": ["SONATA", "OSM"],
    "testing_tags": ["latency"],
    "soft_constraints": [{"objective": "proximity", "involved_actors": ["cache", "core"]}],
    "deployment_flavours": [
        {
            "flavour": "small",
            "network_functions": [
                {"vnf_id": "cache", "vnf_vendor": "eu.example", "vnf_name": "edge-cache", "vnf_version": "2.1-3"}
            ],
        }
    ],
}

RICH_NAPD = napd(
    ("Definitions/edge-service.yaml", tango.NSD_TYPE),
    ("Definitions/edge-cache.yaml", tango.VNFD_TYPE),
    maintainer="Example Lab",
    release_date_time="2024-05-01T10:00:00Z",
    logo="Icons/cache.png",
)
RICH_NAPD["package_content"][0].update(tags=["eu.example"], testing_tags=["latency"])


def test_every_part_of_our_schemas_is_used_by_a_package_we_accept():
    files = {
        tango.NAPD_PATH: yaml.safe_dump(RICH_NAPD).encode(),
        "Definitions/edge-service.yaml": yaml.safe_dump(RICH_NSD).encode(),
        "Definitions/edge-cache.yaml": yaml.safe_dump(RICH_VNFD).encode(),
    }

    result = tango.validate_5gtango(MemoryView(files), nowhere)

    assert result.problems == []
    ns, vnf = (d.summary for d in result.descriptors)
    # VDU 4 vCPUs, 4 GiB, 20 GB; CDU 1 vCPU, 256 MB, 1 GB
    assert (vnf.vcpus, vnf.memory_mb, vnf.storage_gb) == (5, 4352, 21.0)
    assert vnf.images == ["http://images.example.org/cache.qcow2", "cache-arm", "example/cache-api:2.1"]
    assert (ns.vcpus, ns.memory_mb, ns.images) == (5, 4352, vnf.images)


def _shape(node: Any) -> object:
    return tuple(sorted(node)) if isinstance(node, dict) else type(node).__name__


def _walk(node: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], Any]]:
    """Every node; of a list's items only the first of each shape (what more would break the same way)."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, [*path, key])
    elif isinstance(node, list):
        shapes: set[object] = set()
        for index, value in enumerate(node):
            if _shape(value) not in shapes:
                shapes.add(_shape(value))
                yield from _walk(value, [*path, index])


def _replace(document: Any, path: list[str | int], change: Callable[[Any], Any]) -> Any:
    """`document` with the node at `path` changed; only the nodes on the path are copied."""
    if not path:
        return change(document)
    copied = copy.copy(document)
    copied[path[0]] = _replace(document[path[0]], path[1:], change)
    return copied


def _without(key: str) -> Callable[[Any], Any]:
    return lambda node: {k: v for k, v in node.items() if k != key}


def _constant(value: object) -> Callable[[Any], Any]:
    return lambda node: value


def broken_variants(document: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Each field removed, wrongly typed or out of range; unknown fields; lists duplicated, emptied or replaced."""
    for path, node in list(_walk(document, [])):
        where = "/" + "/".join(map(str, path))
        replacements: list[object] = []
        if isinstance(node, dict):
            for key in node:
                yield f"{where} without {key}", _replace(document, path, _without(key))
            yield f"{where} with an unknown field", _replace(document, path, lambda n: {**n, "x_unknown": 1})
        elif isinstance(node, list):
            yield f"{where} as an object", _replace(document, path, lambda n: {"items": n})
            yield f"{where} empty", _replace(document, path, _constant([]))
            if node:
                yield f"{where} with a duplicate", _replace(document, path, lambda n: [*n, n[0]])
        elif isinstance(node, bool):
            replacements = ["yes"]
        elif isinstance(node, int | float):
            replacements = ["7", 0, 2.0]  # 2.0: the official draft-04 schemas do not take it as an integer
        elif isinstance(node, str):
            # ">= 1.0" tells a version (digits only) from a version constraint
            replacements = [7, "Not Valid!", *([">= 1.0"] if re.fullmatch(r"[0-9\-_.]+", node) else [])]
        for replacement in replacements:
            yield f"{where} = {replacement!r}", _replace(document, path, _constant(replacement))
    wholes: list[object] = [None, [], "text", {}]
    for whole in wholes:
        yield f"the document as {whole!r}", whole


KIND_OF_TYPE: dict[str, tango_schema.SchemaName] = {tango.VNFD_TYPE: "vnfd", tango.NSD_TYPE: "nsd"}


def _real_documents() -> Iterator[tuple[tango_schema.SchemaName, str, dict[str, Any]]]:
    for archive in sorted(PACKAGES.glob("*.tgo")):
        view = zip_view(archive)
        listed = yaml.safe_load(view.read(tango.NAPD_PATH))
        yield "napd", f"{archive.name}:{tango.NAPD_PATH}", listed
        for entry in listed["package_content"]:
            if kind := KIND_OF_TYPE.get(entry["content-type"]):
                yield kind, f"{archive.name}:{entry['source']}", yaml.safe_load(view.read(entry["source"]))


@needs_testdata
@needs_official_schemas
def test_our_schemas_and_the_official_ones_agree():
    from jsonschema import Draft4Validator

    official = {
        name: Draft4Validator(yaml.safe_load((OFFICIAL_SCHEMAS / f"{name}-schema.yml").read_text()))
        for name in ("napd", "vnfd", "nsd")
    }
    documents = [
        *_real_documents(),
        ("vnfd", "RICH_VNFD", RICH_VNFD),
        ("nsd", "RICH_NSD", RICH_NSD),
        ("napd", "RICH_NAPD", RICH_NAPD),
        ("vnfd", "VNFD", VNFD),
        ("nsd", "NSD", NSD),
    ]
    assert len(documents) == 13
    disagreements: list[str] = []
    rejected = 0
    variants_of: set[str] = set()  # the same document twice (the NS examples share their VNFD) is broken once
    for kind, name, document in documents:
        ours = tango_schema.schema_validator(kind)
        assert official[kind].is_valid(document), f"the official {kind} schema rejects {name}"
        assert ours.is_valid(document), f"our {kind} schema rejects {name}"
        if json.dumps(document, sort_keys=True) in variants_of or name in ("VNFD", "NSD"):
            continue
        variants_of.add(json.dumps(document, sort_keys=True))
        for label, variant in broken_variants(document):
            verdict = official[kind].is_valid(variant)
            rejected += not verdict
            if ours.is_valid(variant) != verdict:
                disagreements.append(f"{name} {label}: official {'accepts' if verdict else 'rejects'}, ours does not")
    assert disagreements[:20] == []
    assert rejected > 1000  # the variants do break things, and both schemas reject the same ones


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Sets the field at a slash-separated path ("a/0/b"), or deletes it when `value` is ...."""

    def change(document: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split("/")]
        node: Any = document
        for part in parents:
            node = node[part]
        if value is ...:
            del node[last]
        else:
            node[last] = value

    return change


VDU0 = "virtual_deployment_units/0"
UNIT_KEYS = ("virtual_deployment_units", "cloudnative_deployment_units", "physical_deployment_units")
ACCEPTED, REJECTED = True, False
ODD_CORNERS: list[tuple[tango_schema.SchemaName, dict[str, Any], str, Callable[[dict[str, Any]], object], bool]] = [
    ("vnfd", RICH_VNFD, "a public licence with a url", _set("licenses/0/url", "https://example.org"), REJECTED),
    ("vnfd", RICH_VNFD, "a private licence without a url", _set("licenses/1/url", ...), REJECTED),
    ("vnfd", RICH_VNFD, "a licence of another type", _set("licenses/0/type", "shareware"), REJECTED),
    ("vnfd", RICH_VNFD, "a monitoring unit in Mbps", _set(f"{VDU0}/monitoring_parameters/1/unit", "Mbps"), ACCEPTED),
    ("vnfd", RICH_VNFD, "a monitoring unit in GHz", _set(f"{VDU0}/monitoring_parameters/1/unit", "GHz"), ACCEPTED),
    ("vnfd", RICH_VNFD, "a monitoring unit in parsecs", _set(f"{VDU0}/monitoring_parameters/1/unit", "pc"), REJECTED),
    ("vnfd", RICH_VNFD, "a monitoring frequency of 0", _set(f"{VDU0}/monitoring_parameters/0/frequency", 0), REJECTED),
    ("vnfd", RICH_VNFD, "memory in PiT", _set(f"{VDU0}/resource_requirements/memory/size_unit", "PiT"), ACCEPTED),
    ("vnfd", RICH_VNFD, "memory in PB", _set(f"{VDU0}/resource_requirements/memory/size_unit", "PB"), REJECTED),
    ("vnfd", RICH_VNFD, "a CPU field of its own", _set(f"{VDU0}/resource_requirements/cpu/threads", 2), ACCEPTED),
    ("vnfd", RICH_VNFD, "a memory field of its own", _set(f"{VDU0}/resource_requirements/memory/ecc", True), REJECTED),
    ("vnfd", RICH_VNFD, "scaling from 0", _set(f"{VDU0}/scale_in_out/minimum", 0), ACCEPTED),
    ("vnfd", RICH_VNFD, "scaling from -1", _set(f"{VDU0}/scale_in_out/minimum", -1), REJECTED),
    ("vnfd", RICH_VNFD, "any duration unit", _set("monitoring_rules/0/duration_unit", 42), ACCEPTED),
    (
        "vnfd",
        RICH_VNFD,
        "a link with one endpoint",
        _set("virtual_links/1/connection_points_reference", ["api"]),
        ACCEPTED,
    ),
    (
        "vnfd",
        RICH_VNFD,
        "a link with a repeated endpoint",
        _set("virtual_links/1/connection_points_reference", ["api", "api"]),
        ACCEPTED,
    ),
    (
        "vnfd",
        RICH_VNFD,
        "a hypervisor version range",
        _set(f"{VDU0}/resource_requirements/hypervisor_parameters/version", "<= 4"),
        ACCEPTED,
    ),
    ("vnfd", RICH_VNFD, "no VDU, CDU or PDU", lambda d: [d.pop(k) for k in UNIT_KEYS], REJECTED),
    (
        "vnfd",
        RICH_VNFD,
        "only cloud-native units",
        lambda d: [d.pop(k) for k in UNIT_KEYS if k != "cloudnative_deployment_units"],
        ACCEPTED,
    ),
    ("nsd", RICH_NSD, "a link both a reference and a full link", _set("virtual_links/2/id", "backbone"), REJECTED),
    ("nsd", RICH_NSD, "a link reference without a name", _set("virtual_links/2/vl_name", ...), REJECTED),
    ("nsd", RICH_NSD, "a full link with a reference field", _set("virtual_links/0/vl_name", "backbone"), REJECTED),
    (
        "nsd",
        RICH_NSD,
        "a graph reference with an fg_id (a full graph)",
        _set("forwarding_graphs/1/fg_id", "fg2"),
        ACCEPTED,
    ),
    ("nsd", RICH_NSD, "a graph reference with a field of its own", _set("forwarding_graphs/1/owner", "ops"), REJECTED),
    ("nsd", RICH_NSD, "a full graph with a field of its own", _set("forwarding_graphs/0/owner", "ops"), ACCEPTED),
    ("nsd", RICH_NSD, "a full graph without fg_id", _set("forwarding_graphs/0/fg_id", ...), REJECTED),
    (
        "nsd",
        RICH_NSD,
        "a number after the first VNF of a graph",
        _set("forwarding_graphs/0/constituent_vnfs", ["cache", 5]),
        ACCEPTED,
    ),
    (
        "nsd",
        RICH_NSD,
        "a number as the first VNF of a graph",
        _set("forwarding_graphs/0/constituent_vnfs", [5]),
        REJECTED,
    ),
    (
        "nsd",
        RICH_NSD,
        "a second monitoring parameter of any kind",
        lambda d: d["monitoring_parameters"].append(7),
        ACCEPTED,
    ),
    ("nsd", RICH_NSD, "a first monitoring parameter that is a number", _set("monitoring_parameters/0", 7), REJECTED),
    (
        "nsd",
        RICH_NSD,
        "an objective merely mentioning proximity",
        _set("soft_constraints/0/objective", "no-proximity"),
        ACCEPTED,
    ),
    ("nsd", RICH_NSD, "an objective of another kind", _set("soft_constraints/0/objective", "distance"), REJECTED),
    ("nsd", RICH_NSD, "three involved actors", _set("soft_constraints/0/involved_actors", ["a", "b", "c"]), REJECTED),
    ("nsd", RICH_NSD, "a VNF version that excludes one", _set("network_functions/0/vnf_version", "!= 2.0"), ACCEPTED),
    (
        "nsd",
        RICH_NSD,
        "a VNF version with another operator",
        _set("network_functions/0/vnf_version", "~> 2.0"),
        REJECTED,
    ),
    ("nsd", RICH_NSD, "an NS version range", _set("version", ">= 2.0"), REJECTED),
    (
        "nsd",
        RICH_NSD,
        "a service endpoint CP (VNFD only)",
        _set("connection_points/0/type", "serviceendpoint"),
        REJECTED,
    ),
    ("nsd", RICH_NSD, "an unknown platform", _set("service_platforms/1", "Kubernetes"), REJECTED),
    (
        "napd",
        RICH_NAPD,
        "the same artifact twice",
        lambda d: d["package_content"].append(d["package_content"][0]),
        REJECTED,
    ),
    ("napd", RICH_NAPD, "a tag with a space", _set("package_content/0/tags/0", "eu example"), REJECTED),
    ("napd", RICH_NAPD, "a release time in lower case", _set("release_date_time", "2024-05-01t10:00:00z"), REJECTED),
]


@functools.cache
def official_validator(kind: tango_schema.SchemaName) -> Any:
    from jsonschema import Draft4Validator

    return Draft4Validator(yaml.safe_load((OFFICIAL_SCHEMAS / f"{kind}-schema.yml").read_text()))


@needs_official_schemas
@pytest.mark.parametrize(("kind", "document", "label", "change", "valid"), ODD_CORNERS, ids=[c[2] for c in ODD_CORNERS])
def test_our_schemas_and_the_official_ones_agree_on_odd_corners(kind, document, label, change, valid):
    variant = changed(document, change)

    assert official_validator(kind).is_valid(variant) is valid
    assert tango_schema.schema_validator(kind).is_valid(variant) is valid
