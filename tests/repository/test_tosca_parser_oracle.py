"""OpenStack's tosca-parser (the parser Tacker onboards SOL004 packages with) as a test oracle beside our
validator: on each SOL004 package the tests build, and on those in ../shared/testdata. Where tosca-parser
accepts, we do not refuse but for an integrity failure (a wrong or missing hash, a declared file that is
missing, a hostile archive); where it refuses, we refuse too. A case where we know better names why. The
agreement table is written to test-artifacts/tosca-parser-agreement.md and printed."""

from __future__ import annotations

import copy
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from marketplace.repository.packages.inspect import Inspection, inspect_package
from marketplace.repository.packages.problems import PackageRejected, Severity
from marketplace.repository.packages.types import ParsedDescriptor, VnfRef
from tests.conftest import ARTIFACTS
from tests.factories import demo_csar as demo
from tests.factories import drop_manifest, rewritten, zip_folder
from tests.repository import test_sol001

toscaparser = pytest.importorskip("toscaparser.tosca_template", reason="tosca-parser is a dev dependency")

ROOT = Path(__file__).resolve().parents[2]
SOL004 = ROOT.parent / "shared" / "testdata" / "packages" / "etsi-sol004"
VNFD = "Definitions/nfvm_demo_smf.vnfd.yaml"

# Our rules that are integrity failures: tosca-parser checks no hash and no declared file list.
INTEGRITY = {
    "integrity.hash-mismatch",
    "integrity.malformed-hash",
    "integrity.missing-file",
    "integrity.missing-image-file",
    "integrity.missing-artifact",
    "integrity.conflicting-declarations",
    "integrity.unknown-algorithm",
    "tosca-meta.missing-entry",
}


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    detail: str


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], Path]
    # Why we refuse a package tosca-parser accepts, beyond an integrity failure, and the rules we refuse it
    # with ("" and none when we must not).
    we_know_better: str = ""
    our_rules: frozenset[str] = frozenset()


def tosca_parser(path: Path) -> Verdict:
    logging.getLogger("tosca").setLevel(logging.CRITICAL)
    try:
        toscaparser.ToscaTemplate(str(path), a_file=True)
    except Exception as exc:  # tosca-parser raises its own ValidationError and others alike
        kinds = sorted({line.strip().split(":")[0] for line in str(exc).splitlines() if "Error:" in line})
        return Verdict(False, ", ".join(kinds) or type(exc).__name__)
    return Verdict(True, "")


def ours(path: Path, vnfds: dict[str, ParsedDescriptor]) -> tuple[Verdict, set[str], Inspection | None]:
    def lookup(ref: VnfRef) -> ParsedDescriptor | None:
        return vnfds.get(ref.descriptor_id or "")

    try:
        inspection = inspect_package(path, lookup=lookup)
    except PackageRejected as exc:
        refused = {p.rule for p in exc.problems if p.severity == Severity.ERROR}
        return Verdict(False, ", ".join(sorted(refused))), refused, None
    warned = sorted({p.rule for p in inspection.problems})
    return Verdict(True, ", ".join(warned)), set(), inspection


# --- the packages -----------------------------------------------------------------------------------------


def edit_vnfd(change: Callable[[dict[str, object]], None]) -> Callable[[dict[str, bytes]], None]:
    def apply(members: dict[str, bytes]) -> None:
        document = yaml.safe_load(members[VNFD])
        change(document["topology_template"])
        members[VNFD] = yaml.safe_dump(document, sort_keys=False).encode()
        drop_manifest(members)  # the edited file's hash would no longer match: this case is about topology

    return apply


def _loose_mapping(topology: dict[str, object]) -> None:
    mappings = topology["substitution_mappings"]
    assert isinstance(mappings, dict)
    mappings["requirements"] = {"virtual_link_external": ["smf_n4_cp", "external_virtual_link"]}


def _undefined_target(topology: dict[str, object]) -> None:
    mappings = topology["substitution_mappings"]
    assert isinstance(mappings, dict)
    mappings["requirements"] = {"virtual_link": ["smf_n9_cp", "virtual_link"]}


def _no_inputs(topology: dict[str, object]) -> None:
    topology.pop("inputs")


def _tampered(members: dict[str, bytes]) -> None:
    members[VNFD] = members[VNFD].replace(b"SMF virtual machine", b"SMF virtual machine, changed")


def sol001(name: str, view: Callable[[], object], entry: str = test_sol001.ENTRY) -> Callable[[Path], Path]:
    """A CSAR of test_sol001's (its types, a two-VDU flavour, and the variant `view` makes), zipped with a
    complete TOSCA.meta naming `entry`."""

    def make(tmp: Path) -> Path:
        files = view()
        out = tmp / f"{name}.csar"
        with zipfile.ZipFile(out, "w") as archive:
            for path in files.paths:  # type: ignore[attr-defined]
                data = files.read(path)  # type: ignore[attr-defined]
                if path == "TOSCA-Metadata/TOSCA.meta":  # the validator's tests give only Entry-Definitions
                    meta = "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-By: tests\n"
                    data = (meta + f"Entry-Definitions: {entry}\n").encode()
                archive.writestr(path, data)
        return out

    return make


def _flavour(change: Callable[[dict[str, object]], None]) -> dict[str, object]:
    document = copy.deepcopy(test_sol001.DF)
    change(document["topology_template"])
    return document


def _two_links(topology: dict[str, object]) -> None:
    topology["node_templates"]["CP2"]["requirements"].append({"virtual_link": "internal"})  # type: ignore[index]


def _without_input(topology: dict[str, object]) -> None:
    del topology["inputs"]["software_version"]  # type: ignore[attr-defined]


def _two_flavours() -> object:
    top = copy.deepcopy(test_sol001.TOP)
    top["imports"].append("probe_df_big.yaml")
    return test_sol001.csar(top=top, **{"Definitions/probe_df_big.yaml": yaml.safe_dump(test_sol001.DF).encode()})


def shared(name: str, image: bytes | None = None) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        folder = SOL004 / name
        if not folder.is_dir():
            pytest.skip(f"{folder} is absent: the shared test data is not beside this checkout")
        out = zip_folder(folder, tmp / f"{name}.csar")
        if image is not None:
            with zipfile.ZipFile(out, "a") as archive:
                archive.writestr("Files/images/cirros-0.5.2-x86_64-disk.img", image)
        return out

    return make


CASES = [
    Case("demo VNF CSAR (nfvm-demo-smf-vnf)", demo("nfvm-demo-smf-vnf")),
    Case("demo NS CSAR (nfvm-demo-slice-ns)", demo("nfvm-demo-slice-ns")),
    Case("test_sol001's probe CSAR", sol001("probe", test_sol001.csar)),
    Case(
        "probe, its flavour as the main template, a CP linked twice",
        sol001("probe-cp", lambda: test_sol001.csar(df=_flavour(_two_links)), test_sol001.DF_FILE),
    ),
    Case(
        "probe, a CP linked twice in the imported flavour",
        sol001("probe-cp2", lambda: test_sol001.csar(df=_flavour(_two_links))),
    ),
    Case(
        "probe, a substituted property missing from the flavour's inputs",
        sol001("probe-in", lambda: test_sol001.csar(df=_flavour(_without_input))),
    ),
    Case("probe, two flavours substituting the VNF", sol001("probe-2df", _two_flavours)),
    Case("demo VNF without a manifest", rewritten("nfvm-demo-smf-vnf", drop_manifest)),
    Case(
        "demo VNF, mapping names the VNF type does not declare",
        rewritten("nfvm-demo-smf-vnf", edit_vnfd(_loose_mapping)),
    ),
    Case("demo VNF without the substitution's inputs", rewritten("nfvm-demo-smf-vnf", edit_vnfd(_no_inputs))),
    Case(
        "demo VNF, a mapping to a node template that does not exist",
        rewritten("nfvm-demo-smf-vnf", edit_vnfd(_undefined_target)),
        we_know_better="the substitution maps a requirement to no node template: nothing can be deployed to "
        "bind it (tosca-parser does not check mapping targets)",
        our_rules=frozenset({"integrity.substitution-mapping"}),
    ),
    Case("demo VNF, a file changed after its manifest", rewritten("nfvm-demo-smf-vnf", _tampered)),
    Case("helloworld3 (Tacker), as published: the image is absent", shared("helloworld3")),
    Case("helloworld3 with a stand-in image", shared("helloworld3", image=b"not the cirros image")),
    Case("false-hash (Tacker)", shared("false-hash")),
]


def test_our_verdicts_agree_with_tosca_parser(tmp_path: Path) -> None:
    vnfd_of_demo = _demo_vnfds(tmp_path)
    rows = ["| package | tosca-parser | ours | agreement |", "|---|---|---|---|"]
    disagreements: list[str] = []
    for case in CASES:
        folder = tmp_path / f"case-{len(rows)}"
        folder.mkdir()
        try:
            path = case.make(folder)
        except pytest.skip.Exception as skipped:
            rows.append(f"| {case.name} | skipped | skipped | {skipped} |")
            continue
        reference = tosca_parser(path)
        verdict, refused, _ = ours(path, vnfd_of_demo)
        if reference.accepted and not verdict.accepted:
            beyond = refused - INTEGRITY
            agreement = "we refuse: integrity" if not beyond else f"we know better: {case.we_know_better}"
            if beyond and beyond != case.our_rules:
                disagreements.append(f"{case.name}: tosca-parser accepts; we refuse with {sorted(beyond)}")
        elif not reference.accepted and verdict.accepted:
            agreement = "DISAGREE"
            disagreements.append(f"{case.name}: tosca-parser refuses ({reference.detail}); we accept")
        else:
            agreement = "agree"
        rows.append(
            f"| {case.name} | {'accept' if reference.accepted else 'refuse: ' + reference.detail} "
            f"| {'accept' if verdict.accepted else 'refuse'}{': ' + verdict.detail if verdict.detail else ''} "
            f"| {agreement} |"
        )
    table = "\n".join(rows)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "tosca-parser-agreement.md").write_text(table + "\n")
    print("\n" + table)
    assert disagreements == []


def test_the_demo_packages_pass_tosca_parser(tmp_path: Path) -> None:
    for name in ("nfvm-demo-smf-vnf", "nfvm-demo-slice-ns"):
        assert tosca_parser(demo(name)(tmp_path)) == Verdict(True, ""), name


def test_a_missing_substitution_input_is_what_both_refuse(tmp_path: Path) -> None:
    path = rewritten("nfvm-demo-smf-vnf", edit_vnfd(_no_inputs))(tmp_path)
    assert "MissingRequiredInputError" in tosca_parser(path).detail
    verdict, refused, _ = ours(path, _demo_vnfds(tmp_path))
    assert refused == {"integrity.substitution-inputs"}, verdict


def test_a_csar_without_a_manifest_is_accepted_with_a_warning_naming_its_integrity(tmp_path: Path) -> None:
    path = rewritten("nfvm-demo-smf-vnf", drop_manifest)(tmp_path)
    verdict, _, inspection = ours(path, {})
    assert verdict.accepted
    assert inspection is not None
    (warning,) = [p for p in inspection.problems if p.rule == "etsi.missing-manifest"]
    assert warning.severity == Severity.WARNING
    assert "integrity rests on the archive's own SHA-256" in warning.message
    assert "tosca-parser" in warning.message


def _demo_vnfds(tmp_path: Path) -> dict[str, ParsedDescriptor]:
    """The demo VNF's descriptor, for the demo NS to resolve (as the repository would after ingesting it)."""
    folder = tmp_path / "demo-vnf"
    folder.mkdir(exist_ok=True)
    _, _, inspection = ours(demo("nfvm-demo-smf-vnf")(folder), {})
    assert inspection is not None
    return {d.summary.descriptor_id: d for d in inspection.descriptors if d.summary.descriptor_id}
