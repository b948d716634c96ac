"""ETSI SOL004 packages (SOL001 TOSCA): the helloworld3 CSAR, and the import, syntax, integrity and topology
checks against broken variants of a CSAR of our own."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from marketplace.repository.packages.problems import Problem, Severity, errors
from marketplace.repository.packages.sol001 import validate_etsi
from marketplace.repository.packages.types import FormatResult, ParsedDescriptor, VnfRef
from tests.memory_view import MemoryView, folder_view

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"
HELLOWORLD3 = TESTDATA / "packages" / "etsi-sol004" / "helloworld3"
HELLOWORLD3_ENTRY = "Definitions/helloworld3_top.vnfd.yaml"
MISSING_IMAGE = "Files/images/cirros-0.5.2-x86_64-disk.img"
needs_testdata = pytest.mark.skipif(
    not HELLOWORLD3.is_dir(), reason=f"the shared test data is not checked out at {HELLOWORLD3}"
)


def nowhere(ref: VnfRef) -> ParsedDescriptor | None:
    return None


def rules(result: FormatResult) -> set[str]:
    return {p.rule for p in result.problems}


def only(result: FormatResult, rule: str) -> Problem:
    found = [p for p in result.problems if p.rule == rule]
    assert len(found) == 1, result.problems
    return found[0]


# --- a CSAR of our own: the SOL001 types it needs, a VNF type, and a two-VDU deployment flavour ------------------

TYPES: dict[str, Any] = {
    "tosca_definitions_version": "tosca_simple_yaml_1_3",
    "description": "The parts of the SOL001 types this CSAR uses, with their requirement and property rules.",
    "data_types": {
        "tosca.datatypes.nfv.VduProfile": {
            "derived_from": "tosca.datatypes.Root",
            "properties": {
                "min_number_of_instances": {"type": "integer"},
                "max_number_of_instances": {"type": "integer"},
            },
        },
        "tosca.datatypes.nfv.VirtualMemory": {
            "derived_from": "tosca.datatypes.Root",
            "properties": {"virtual_mem_size": {"type": "scalar-unit.size"}},
        },
        "tosca.datatypes.nfv.VirtualCpu": {
            "derived_from": "tosca.datatypes.Root",
            "properties": {"num_virtual_cpu": {"type": "integer"}},
        },
        "tosca.datatypes.nfv.VirtualBlockStorageData": {
            "derived_from": "tosca.datatypes.Root",
            "properties": {"size_of_storage": {"type": "scalar-unit.size"}},
        },
        "tosca.datatypes.nfv.SwImageData": {
            "derived_from": "tosca.datatypes.Root",
            "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
        },
    },
    "capability_types": {
        "tosca.capabilities.nfv.VirtualLinkable": {"derived_from": "tosca.capabilities.Node"},
        "tosca.capabilities.nfv.VirtualBindable": {"derived_from": "tosca.capabilities.Node"},
        "tosca.capabilities.nfv.VirtualStorage": {"derived_from": "tosca.capabilities.Root"},
        "tosca.capabilities.nfv.VirtualCompute": {
            "derived_from": "tosca.capabilities.Node",
            "properties": {
                "virtual_memory": {"type": "tosca.datatypes.nfv.VirtualMemory"},
                "virtual_cpu": {"type": "tosca.datatypes.nfv.VirtualCpu"},
                "virtual_local_storage": {
                    "type": "list",
                    "required": False,
                    "entry_schema": {"type": "tosca.datatypes.nfv.VirtualBlockStorageData"},
                },
            },
        },
    },
    "artifact_types": {"tosca.artifacts.nfv.SwImage": {"derived_from": "tosca.artifacts.Deployment.Image"}},
    "node_types": {
        "tosca.nodes.nfv.VNF": {
            "derived_from": "tosca.nodes.Root",
            "properties": {
                name: {"type": "string"}
                for name in (
                    "descriptor_id",
                    "descriptor_version",
                    "provider",
                    "product_name",
                    "software_version",
                    "flavour_id",
                    "flavour_description",
                )
            },
            "requirements": [
                {
                    "virtual_link": {
                        "capability": "tosca.capabilities.nfv.VirtualLinkable",
                        "occurrences": [0, "UNBOUNDED"],
                    }
                }
            ],
        },
        "tosca.nodes.nfv.Vdu.Compute": {
            "derived_from": "tosca.nodes.Root",
            "properties": {
                "name": {"type": "string"},
                "description": {"type": "string", "required": False},
                "vdu_profile": {"type": "tosca.datatypes.nfv.VduProfile"},
                "sw_image_data": {"type": "tosca.datatypes.nfv.SwImageData", "required": False},
            },
            "capabilities": {
                "virtual_compute": {"type": "tosca.capabilities.nfv.VirtualCompute"},
                "virtual_binding": {"type": "tosca.capabilities.nfv.VirtualBindable"},
            },
            "requirements": [
                {
                    "virtual_storage": {
                        "capability": "tosca.capabilities.nfv.VirtualStorage",
                        "occurrences": [0, "UNBOUNDED"],
                    }
                }
            ],
        },
        "tosca.nodes.nfv.Vdu.VirtualBlockStorage": {
            "derived_from": "tosca.nodes.Root",
            "properties": {"virtual_block_storage_data": {"type": "tosca.datatypes.nfv.VirtualBlockStorageData"}},
            "capabilities": {"virtual_storage": {"type": "tosca.capabilities.nfv.VirtualStorage"}},
        },
        "tosca.nodes.nfv.VduCp": {
            "derived_from": "tosca.nodes.Root",
            "properties": {"layer_protocols": {"type": "list", "entry_schema": {"type": "string"}}},
            "requirements": [
                {"virtual_link": {"capability": "tosca.capabilities.nfv.VirtualLinkable", "occurrences": [0, 1]}},
                {
                    "virtual_binding": {
                        "capability": "tosca.capabilities.nfv.VirtualBindable",
                        "node": "tosca.nodes.nfv.Vdu.Compute",
                    }
                },
            ],
        },
        "tosca.nodes.nfv.VnfVirtualLink": {
            "derived_from": "tosca.nodes.Root",
            "properties": {"description": {"type": "string", "required": False}},
            "capabilities": {"virtual_linkable": {"type": "tosca.capabilities.nfv.VirtualLinkable"}},
        },
        "tosca.nodes.nfv.NS": {
            "derived_from": "tosca.nodes.Root",
            "properties": {name: {"type": "string"} for name in ("descriptor_id", "designer", "version", "name")},
        },
        "example.Probe": {
            "derived_from": "tosca.nodes.nfv.VNF",
            "properties": {
                "descriptor_id": {"type": "string", "default": "b1e0c9a2-probe"},
                "provider": {"type": "string", "default": "Example Labs"},
                "product_name": {"type": "string", "default": "Probe"},
                "software_version": {"type": "string", "default": "2.1"},
                "descriptor_version": {"type": "string", "default": "1.0"},
                "flavour_id": {"type": "string", "default": "small"},
                "flavour_description": {"type": "string", "default": ""},
            },
            "requirements": [
                {
                    "virtual_link_external": {
                        "capability": "tosca.capabilities.nfv.VirtualLinkable",
                        "occurrences": [0, 1],
                    }
                }
            ],
        },
    },
}

TOP: dict[str, Any] = {
    "tosca_definitions_version": "tosca_simple_yaml_1_3",
    "description": "Probe VNF",
    "imports": ["probe_types.yaml", "probe_df_small.yaml"],
    "topology_template": {
        "inputs": {"selected_flavour": {"type": "string"}},
        "node_templates": {
            "VNF": {"type": "example.Probe", "properties": {"flavour_id": {"get_input": "selected_flavour"}}}
        },
    },
}


def compute(cpus: int, memory: str, disk: str) -> dict[str, Any]:
    return {
        "virtual_compute": {
            "properties": {
                "virtual_cpu": {"num_virtual_cpu": cpus},
                "virtual_memory": {"virtual_mem_size": memory},
                "virtual_local_storage": [{"size_of_storage": disk}],
            }
        }
    }


DF: dict[str, Any] = {
    "tosca_definitions_version": "tosca_simple_yaml_1_3",
    "imports": ["probe_types.yaml"],
    "topology_template": {
        # The substituted VNF node's properties are the flavour's inputs (TOSCA 1.3 3.8.1, as tosca-parser checks).
        "inputs": {
            name: {"type": "string"}
            for name in (
                "descriptor_id",
                "descriptor_version",
                "provider",
                "product_name",
                "software_version",
                "flavour_id",
                "flavour_description",
            )
        },
        "substitution_mappings": {
            "node_type": "example.Probe",
            "requirements": {"virtual_link_external": ["CP1", "virtual_link"]},
        },
        "node_templates": {
            "VNF": {"type": "example.Probe", "properties": {"flavour_description": "small"}},
            "VDU1": {
                "type": "tosca.nodes.nfv.Vdu.Compute",
                "properties": {
                    "name": "probe",
                    "vdu_profile": {"min_number_of_instances": 1, "max_number_of_instances": 2},
                    "sw_image_data": {"name": "probe-1.0", "version": "1.0"},
                },
                "capabilities": compute(2, "2 GB", "10 GB"),
                "artifacts": {
                    "sw_image": {"type": "tosca.artifacts.nfv.SwImage", "file": "../Files/images/probe.qcow2"}
                },
                "requirements": [{"virtual_storage": "Data"}],
            },
            "VDU2": {
                "type": "tosca.nodes.nfv.Vdu.Compute",
                "properties": {
                    "name": "collector",
                    "vdu_profile": {"min_number_of_instances": 1, "max_number_of_instances": 1},
                },
                "capabilities": compute(1, "512 MB", "1 GB"),
            },
            "Data": {
                "type": "tosca.nodes.nfv.Vdu.VirtualBlockStorage",
                "properties": {"virtual_block_storage_data": {"size_of_storage": "20 GB"}},
            },
            "CP1": {
                "type": "tosca.nodes.nfv.VduCp",
                "properties": {"layer_protocols": ["ipv4"]},
                "requirements": [{"virtual_binding": "VDU1"}],
            },
            "CP2": {
                "type": "tosca.nodes.nfv.VduCp",
                "properties": {"layer_protocols": ["ipv4"]},
                "requirements": [{"virtual_binding": "VDU1"}, {"virtual_link": "internal"}],
            },
            "CP3": {
                "type": "tosca.nodes.nfv.VduCp",
                "properties": {"layer_protocols": ["ipv4"]},
                "requirements": [{"virtual_binding": {"node": "VDU2"}}, {"virtual_link": "internal"}],
            },
            "internal": {"type": "tosca.nodes.nfv.VnfVirtualLink"},
        },
        "policies": [{"probe_levels": {"type": "tosca.policies.Scaling", "targets": ["VDU1"]}}],
    },
}

ENTRY = "Definitions/probe_top.yaml"


def csar(top: Any = TOP, df: Any = DF, types: Any = TYPES, **extra: bytes) -> MemoryView:
    def dump(document: Any) -> bytes:
        return document if isinstance(document, bytes) else yaml.safe_dump(document, sort_keys=False).encode()

    return MemoryView(
        {
            "TOSCA-Metadata/TOSCA.meta": b"TOSCA-Meta-File-Version: 1.0\nEntry-Definitions: " + ENTRY.encode() + b"\n",
            ENTRY: dump(top),
            "Definitions/probe_df_small.yaml": dump(df),
            "Definitions/probe_types.yaml": dump(types),
            "Files/images/probe.qcow2": b"an image",
            **extra,
        }
    )


def df_variant(change: Callable[[dict[str, Any]], object]) -> FormatResult:
    document = copy.deepcopy(DF)
    change(document["topology_template"]["node_templates"])
    return validate_etsi(csar(df=document), nowhere, ENTRY)


def top_variant(change: Callable[[dict[str, Any]], object], **extra: bytes) -> FormatResult:
    document = copy.deepcopy(TOP)
    change(document)
    return validate_etsi(csar(top=document, **extra), nowhere, ENTRY)


NODES = "/topology_template/node_templates"
DF_FILE = "Definitions/probe_df_small.yaml"


def test_it_accepts_our_csar_and_summarises_the_vnf():
    result = validate_etsi(csar(), nowhere, ENTRY)
    assert result.problems == []
    assert result.info is not None
    assert (result.info.vendor, result.info.name, result.info.version, result.info.kind) == (
        "Example Labs",
        "Probe",
        "2.1",
        "vnf",
    )
    assert (result.info.main_descriptor, result.info.description) == (ENTRY, "Probe VNF")
    summary = result.descriptors[0].summary
    assert summary.descriptor_id == "b1e0c9a2-probe"
    assert (summary.vcpus, summary.memory_mb, summary.storage_gb) == (3, 2048 + 512, 10 + 1 + 20)
    assert summary.images == ["probe-1.0"]
    assert summary.connection_points == ["virtual_link_external"]
    assert summary.virtual_links == ["internal"]
    assert result.descriptors[0].file == ENTRY


# --- helloworld3 --------------------------------------------------------------------------------------------------


@needs_testdata
def test_helloworld3_passes_syntax_and_reports_exactly_the_missing_image():
    started = time.perf_counter()
    result = validate_etsi(folder_view(HELLOWORLD3), nowhere, HELLOWORLD3_ENTRY)
    elapsed = time.perf_counter() - started
    assert rules(result) == {"integrity.missing-artifact"}
    assert {p.message.split(" names ")[1].split(",")[0] for p in result.problems} == {MISSING_IMAGE}
    assert {(p.file, p.location) for p in result.problems} == {
        ("Definitions/helloworld3_df_simple.yaml", f"{NODES}/VDU1/artifacts/sw_image/file"),
        ("Definitions/helloworld3_df_simple.yaml", f"{NODES}/VirtualStorage/artifacts/sw_image/file"),
    }
    assert result.info is not None
    assert (result.info.vendor, result.info.name, result.info.version, result.info.kind) == (
        "DemoLabs",
        "Demo VNF",
        "1.0",
        "vnf",
    )
    summary = result.descriptors[0].summary
    assert summary.descriptor_id == "5189df9e-7018-11ea-b97a-000c292ec2ea"
    # Two VDUs of 1 vCPU and 512 MB, each with a 1 GB local disk; VDU2 also has 30 GB of block storage attached.
    assert (summary.vcpus, summary.memory_mb, summary.storage_gb) == (2, 1024, 32.0)
    assert summary.images == ["Demo software of VDU1", "DemoVirtualStorage"]
    assert summary.virtual_links == ["internalVL2"]
    assert elapsed < 2  # parsing the 67 kB SOL001 type file dominates


@needs_testdata
def test_helloworld3_with_its_image_has_nothing_to_report():
    view = folder_view(HELLOWORLD3)
    view.files[MISSING_IMAGE] = b"a stand-in image"
    assert validate_etsi(view, nowhere, HELLOWORLD3_ENTRY).problems == []


@needs_testdata
def test_helloworld3_importing_from_outside_the_package_is_rejected():
    view = folder_view(HELLOWORLD3)
    top = yaml.safe_load(view.files[HELLOWORLD3_ENTRY])
    top["imports"][0] = "../../etsi_nfv_sol001_common_types.yaml"
    view.files[HELLOWORLD3_ENTRY] = yaml.safe_dump(top).encode()
    view.files[MISSING_IMAGE] = b"a stand-in image"
    result = validate_etsi(view, nowhere, HELLOWORLD3_ENTRY)
    problem = only(result, "sol001.import-outside-package")
    assert (problem.file, problem.location) == (HELLOWORLD3_ENTRY, "/imports/0")
    assert "../../etsi_nfv_sol001_common_types.yaml" in problem.message
    assert errors(result.problems) == [problem]  # the other files still import the common types


# --- imports ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("imported", "rule"),
    [
        ("../../outside.yaml", "sol001.import-outside-package"),
        ("/etc/tosca/types.yaml", "sol001.import-outside-package"),
        ("https://forge.etsi.org/sol001/etsi_nfv_sol001_vnfd_types.yaml", "sol001.import-outside-package"),
        ({"file": "types.yaml", "repository": "etsi"}, "sol001.import-outside-package"),
        ("probe_extra_types.yaml", "sol001.import-missing"),
    ],
)
def test_an_import_must_be_a_file_in_the_package(imported, rule):
    result = top_variant(lambda top: top["imports"].append(imported))
    problem = only(result, rule)
    assert (problem.file, problem.location) == (ENTRY, "/imports/2")
    name = imported["file"] if isinstance(imported, dict) else imported
    assert repr(name) in problem.message
    assert errors(result.problems) == [problem]


def test_imports_are_followed_once_even_in_a_cycle():
    types = copy.deepcopy(TYPES)
    types["imports"] = ["probe_df_small.yaml", "./probe_types.yaml"]  # back to the flavour, and to itself
    assert validate_etsi(csar(types=types), nowhere, ENTRY).problems == []


def test_the_entry_definitions_must_exist():
    problem = only(validate_etsi(csar(), nowhere, "Definitions/nothing.yaml"), "sol001.entry-missing")
    assert problem.file == "TOSCA-Metadata/TOSCA.meta"


# --- syntax -------------------------------------------------------------------------------------------------------


def test_malformed_yaml_names_the_file_and_line():
    result = validate_etsi(csar(df=b"tosca_definitions_version: tosca_simple_yaml_1_3\nimports: [a\n"), nowhere, ENTRY)
    problem = only(result, "yaml.syntax")
    assert problem.file == DF_FILE
    assert problem.location.startswith("line ")


@pytest.mark.parametrize("version", [None, "tosca_simple_yaml_1_0", "tosca_simple_profile_for_nfv_1_0_0"])
def test_the_tosca_version_must_be_1_2_or_1_3(version):
    def change(top: dict[str, Any]) -> None:
        if version is None:
            del top["tosca_definitions_version"]
        else:
            top["tosca_definitions_version"] = version

    problem = only(top_variant(change), "syntax.tosca-version")
    assert problem.file == ENTRY


def test_it_rejects_an_undefined_node_type():
    result = df_variant(lambda nodes: nodes["internal"].update({"type": "tosca.nodes.nfv.VnfVirtualLnk"}))
    problem = only(result, "syntax.undefined-type")
    assert (problem.file, problem.location) == (DF_FILE, f"{NODES}/internal/type")
    assert "tosca.nodes.nfv.VnfVirtualLnk" in problem.message


def test_normative_tosca_types_need_no_definition():
    result = df_variant(
        lambda nodes: nodes.update({"Helper": {"type": "Compute"}, "Net": {"type": "tosca.nodes.network.Network"}})
    )
    assert result.problems == []


@pytest.mark.parametrize(
    ("change", "location", "names"),
    [
        (lambda n: n["VDU2"]["properties"].pop("vdu_profile"), f"{NODES}/VDU2/properties", "vdu_profile"),
        (lambda n: n["VDU2"]["properties"].pop("name"), f"{NODES}/VDU2/properties", "name"),
        (
            lambda n: n["VDU1"]["properties"]["vdu_profile"].pop("max_number_of_instances"),
            f"{NODES}/VDU1/properties/vdu_profile",
            "max_number_of_instances",
        ),
        (
            lambda n: n["VDU2"]["capabilities"]["virtual_compute"]["properties"]["virtual_memory"].clear(),
            f"{NODES}/VDU2/capabilities/virtual_compute/properties/virtual_memory",
            "virtual_mem_size",
        ),
        (
            lambda n: n["VDU2"]["capabilities"]["virtual_compute"]["properties"]["virtual_local_storage"][0].clear(),
            f"{NODES}/VDU2/capabilities/virtual_compute/properties/virtual_local_storage/0",
            "size_of_storage",
        ),
        (lambda n: n["VDU2"].pop("capabilities"), f"{NODES}/VDU2/capabilities", "virtual_compute"),
        (lambda n: n["CP1"].pop("properties"), f"{NODES}/CP1/properties", "layer_protocols"),
    ],
)
def test_it_rejects_a_node_template_without_a_required_property(change, location, names):
    problem = only(df_variant(change), "syntax.required-property")
    assert (problem.file, problem.location) == (DF_FILE, location)
    assert names in problem.message


def test_a_vnf_needs_its_identity_unless_its_type_gives_a_default():
    types = copy.deepcopy(TYPES)
    del types["node_types"]["example.Probe"]["properties"]["provider"]
    result = validate_etsi(csar(types=types), nowhere, ENTRY)
    found = [p for p in result.problems if p.rule == "syntax.required-property"]
    assert {(p.file, p.location) for p in found} == {
        (ENTRY, f"{NODES}/VNF/properties"),
        (DF_FILE, f"{NODES}/VNF/properties"),
    }
    assert all("provider" in p.message for p in found)


def test_it_rejects_an_undefined_requirement_name():
    result = df_variant(lambda n: n["CP2"]["requirements"].append({"virtual_bindings": "VDU2"}))
    assert only(result, "syntax.undefined-requirement").location == f"{NODES}/CP2/requirements/2/virtual_bindings"


def test_it_rejects_a_memory_size_it_cannot_read():
    result = df_variant(
        lambda n: n["VDU1"]["capabilities"]["virtual_compute"]["properties"]["virtual_memory"].update(
            {"virtual_mem_size": "lots"}
        )
    )
    problem = only(result, "syntax.scalar-unit")
    assert problem.location == f"{NODES}/VDU1/capabilities/virtual_compute/properties/virtual_memory/virtual_mem_size"


# --- integrity ----------------------------------------------------------------------------------------------------


def test_a_requirement_must_name_an_existing_node_template():
    result = df_variant(lambda n: n["CP2"]["requirements"][1].update({"virtual_link": "external"}))
    problem = only(result, "integrity.unresolved-requirement")
    assert (problem.file, problem.location) == (DF_FILE, f"{NODES}/CP2/requirements/1/virtual_link")
    result = df_variant(lambda n: n["VDU1"]["requirements"][0].update({"virtual_storage": "Scratch"}))
    assert only(result, "integrity.unresolved-requirement").location == f"{NODES}/VDU1/requirements/0/virtual_storage"


def test_a_requirement_must_target_a_node_with_the_right_capability():
    result = df_variant(lambda n: n["CP2"]["requirements"][1].update({"virtual_link": "VDU2"}))
    problem = only(result, "integrity.requirement-target-type")
    assert problem.location == f"{NODES}/CP2/requirements/1/virtual_link"
    assert "tosca.capabilities.nfv.VirtualLinkable" in problem.message


def test_substitution_mappings_must_name_existing_nodes_and_requirements():
    def remap(target: list[str]) -> FormatResult:
        document = copy.deepcopy(DF)
        document["topology_template"]["substitution_mappings"]["requirements"]["virtual_link_external"] = target
        return validate_etsi(csar(df=document), nowhere, ENTRY)

    location = "/topology_template/substitution_mappings/requirements/virtual_link_external"
    # A node template that does not exist leaves the substitution undeployable: an error.
    undefined = only(remap(["CP9", "virtual_link"]), "integrity.substitution-mapping")
    assert (undefined.location, undefined.severity) == (location, Severity.ERROR)
    # A requirement the mapped node's type does not declare: tosca-parser accepts it, so a warning naming it.
    loose = only(remap(["CP1", "virtual_lnk"]), "integrity.substitution-mapping")
    assert loose.severity == Severity.WARNING
    assert "virtual_lnk" in loose.message
    assert "tosca-parser accepts it" in loose.message


def test_a_mapping_name_the_substituted_type_does_not_declare_is_a_warning():
    """Tacker's samples map a VnfExtCp requirement name, or names the VNF type does not declare; tosca-parser
    accepts those templates, so the package is accepted with the precise finding as a warning."""
    document = copy.deepcopy(DF)
    mappings = document["topology_template"]["substitution_mappings"]["requirements"]
    mappings["virtual_link_internal"] = ["CP1", "virtual_link"]
    result = validate_etsi(csar(df=document), nowhere, ENTRY)
    assert errors(result.problems) == []
    warning = only(result, "integrity.substitution-mapping")
    assert warning.severity == Severity.WARNING
    assert "example.Probe has no requirement virtual_link_internal" in warning.message


def test_a_substituted_nodes_properties_must_be_inputs_of_its_flavour_as_tosca_parser_requires():
    """The top-level VNF node gets software_version from its type's default; the flavour that substitutes it
    must take it as an input (TOSCA 1.3 3.8.1). tosca-parser refuses the template otherwise; so do we."""
    document = copy.deepcopy(DF)
    del document["topology_template"]["inputs"]["software_version"]
    problem = only(validate_etsi(csar(df=document), nowhere, ENTRY), "integrity.substitution-inputs")
    assert (problem.file, problem.severity) == (DF_FILE, Severity.ERROR)
    assert "software_version" in problem.message
    assert "MissingRequiredInputError" in problem.message


def as_main(df: dict[str, Any], types: Any = TYPES) -> FormatResult:
    """The flavour file validated as the package's main template (tosca-parser counts requirement occurrences
    on the main template's node templates only)."""
    return validate_etsi(csar(df=df, types=types), nowhere, DF_FILE)


def test_a_requirement_assigned_more_often_than_its_occurrences_allow_is_refused():
    document = copy.deepcopy(DF)
    document["topology_template"]["node_templates"]["CP2"]["requirements"].append({"virtual_link": "internal"})
    problem = only(as_main(document), "integrity.requirement-occurrences")
    assert (problem.file, problem.location, problem.severity) == (DF_FILE, f"{NODES}/CP2/requirements", Severity.ERROR)
    assert "virtual_link 2 times" in problem.message
    assert "[0, 1]" in problem.message


def test_a_requirement_without_occurrences_must_be_assigned_once_at_least():
    """TOSCA's default occurrences are [1, UNBOUNDED]: a type that names none makes the requirement needed."""
    types = copy.deepcopy(TYPES)
    link = types["node_types"]["tosca.nodes.nfv.VduCp"]["requirements"][0]["virtual_link"]
    del link["occurrences"]
    problem = only(as_main(DF, types), "integrity.requirement-occurrences")
    assert problem.location == f"{NODES}/CP1/requirements"
    assert "[1, UNBOUNDED]" in problem.message


def test_occurrences_are_counted_on_the_main_template_only_as_tosca_parser_does():
    """The same CP in an imported flavour is not counted by tosca-parser, which accepts the package: so do we."""
    document = copy.deepcopy(DF)
    document["topology_template"]["node_templates"]["CP2"]["requirements"].append({"virtual_link": "internal"})
    assert "integrity.requirement-occurrences" not in rules(validate_etsi(csar(df=document), nowhere, ENTRY))


def test_two_flavours_mapping_the_same_requirement_count_it_once():
    """Two imported flavours substitute the VNF node; tosca-parser takes the last one, so the VNF's
    virtual_link_external ([0, 1]) is assigned once, not twice."""
    top = copy.deepcopy(TOP)
    top["imports"].append("probe_df_big.yaml")
    big = copy.deepcopy(DF)
    view = csar(top=top, **{"Definitions/probe_df_big.yaml": yaml.safe_dump(big).encode()})
    assert "integrity.requirement-occurrences" not in rules(validate_etsi(view, nowhere, ENTRY))


def test_substitution_inputs_are_not_checked_for_a_main_node_with_interfaces():
    """tosca-parser substitutes only a main-template node without interfaces (TOSCATemplate._is_sub_mapped_node):
    with interfaces, the flavour's inputs are not checked."""
    top = copy.deepcopy(TOP)
    top["topology_template"]["node_templates"]["VNF"]["interfaces"] = {"Vnflcm": {"instantiate": []}}
    document = copy.deepcopy(DF)
    del document["topology_template"]["inputs"]["software_version"]
    assert "integrity.substitution-inputs" not in rules(validate_etsi(csar(top=top, df=document), nowhere, ENTRY))


def test_substitution_inputs_follow_the_main_node_not_a_sibling_flavours():
    """A property another flavour's VNF node sets is not the substituted node's: no input is asked for it."""
    types = copy.deepcopy(TYPES)
    types["node_types"]["example.Probe"]["properties"]["localization_languages"] = {"type": "string", "required": False}
    document = copy.deepcopy(DF)
    document["topology_template"]["node_templates"]["VNF"]["properties"]["localization_languages"] = "en"
    result = validate_etsi(csar(df=document, types=types), nowhere, ENTRY)
    assert "integrity.substitution-inputs" not in rules(result)


def test_it_names_a_missing_artifact_file():
    result = df_variant(lambda n: n["VDU1"]["artifacts"]["sw_image"].update({"file": "../Files/images/probe-2.qcow2"}))
    problem = only(result, "integrity.missing-artifact")
    assert (problem.file, problem.location) == (DF_FILE, f"{NODES}/VDU1/artifacts/sw_image/file")
    assert "Files/images/probe-2.qcow2" in problem.message


def test_artifacts_may_be_named_from_the_package_root_but_not_outside_it():
    result = df_variant(lambda n: n["VDU1"]["artifacts"]["sw_image"].update({"file": "Files/images/probe.qcow2"}))
    assert result.problems == []
    result = df_variant(lambda n: n["VDU1"]["artifacts"]["sw_image"].update({"file": "../../probe.qcow2"}))
    assert only(result, "integrity.artifact-outside-package").location == f"{NODES}/VDU1/artifacts/sw_image/file"


def test_policy_targets_and_inputs_must_exist():
    document = copy.deepcopy(DF)
    document["topology_template"]["policies"][0]["probe_levels"]["targets"] = ["VDU9"]
    result = validate_etsi(csar(df=document), nowhere, ENTRY)
    assert only(result, "integrity.unresolved-policy-target").location == (
        "/topology_template/policies/0/probe_levels/targets/0"
    )
    result = top_variant(lambda top: top["topology_template"].pop("inputs"))
    assert only(result, "integrity.unresolved-input").location == f"{NODES}/VNF/properties/flavour_id/get_input"


# --- topology -----------------------------------------------------------------------------------------------------


def test_a_connection_point_must_be_bound_to_a_vdu():
    result = df_variant(lambda n: n["CP1"].pop("requirements"))
    problem = only(result, "topology.unbound-cp")
    assert (problem.file, problem.location) == (DF_FILE, f"{NODES}/CP1")
    result = df_variant(lambda n: n["CP3"]["requirements"][0].update({"virtual_binding": "Data"}))
    problem = only(result, "topology.unbound-cp")
    assert problem.location == f"{NODES}/CP3/requirements/0/virtual_binding"
    assert "tosca.nodes.nfv.Vdu.VirtualBlockStorage" in problem.message


def test_an_unused_virtual_link_is_a_warning():
    result = df_variant(lambda n: n.update({"spare": {"type": "tosca.nodes.nfv.VnfVirtualLink"}}))
    problem = only(result, "topology.dangling-link")
    assert (problem.location, problem.severity) == (f"{NODES}/spare", Severity.WARNING)
    assert errors(result.problems) == []


def test_it_needs_a_vnf_node():
    df = copy.deepcopy(DF)
    del df["topology_template"]["node_templates"]["VNF"]
    result = validate_etsi(csar(top=copy.deepcopy(TOP) | {"topology_template": {}}, df=df), nowhere, ENTRY)
    assert "sol001.no-vnf" in rules(result)
    assert result.info is None


# --- a minimal NSD ------------------------------------------------------------------------------------------------

NSD_ENTRY = "Definitions/probe_ns.yaml"
NSD: dict[str, Any] = {
    "tosca_definitions_version": "tosca_simple_yaml_1_3",
    "imports": ["probe_types.yaml"],
    "topology_template": {
        "node_templates": {
            "NS": {
                "type": "tosca.nodes.nfv.NS",
                "properties": {
                    "descriptor_id": "probe-ns",
                    "designer": "Example Labs",
                    "version": "1.0",
                    "name": "Probe service",
                },
            },
            "probe": {"type": "example.Probe"},
        }
    },
}


def test_an_nsd_names_its_vnfds_and_resolves_them_in_the_repository():
    vnf = validate_etsi(csar(), nowhere, ENTRY)
    view = MemoryView(
        {NSD_ENTRY: yaml.safe_dump(NSD).encode(), "Definitions/probe_types.yaml": yaml.safe_dump(TYPES).encode()}
    )

    missing = validate_etsi(view, nowhere, NSD_ENTRY)
    problem = only(missing, "integrity.unresolved-vnf")
    assert (problem.file, problem.location) == (NSD_ENTRY, f"{NODES}/probe/properties/descriptor_id")
    assert "'b1e0c9a2-probe'" in problem.message

    asked: list[VnfRef] = []

    def lookup(ref: VnfRef) -> ParsedDescriptor | None:
        asked.append(ref)
        return vnf.descriptors[0] if ref.descriptor_id == "b1e0c9a2-probe" else None

    found = validate_etsi(view, lookup, NSD_ENTRY)
    assert found.problems == []
    assert asked == [VnfRef(descriptor_id="b1e0c9a2-probe")]
    assert found.info is not None
    assert (found.info.vendor, found.info.name, found.info.version, found.info.kind) == (
        "Example Labs",
        "Probe service",
        "1.0",
        "ns",
    )
    assert found.descriptors[0].summary.constituent_vnfs == [VnfRef(descriptor_id="b1e0c9a2-probe")]
    assert found.descriptors[0].summary.vcpus == 3
