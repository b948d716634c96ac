"""Validates a 5GTANGO package: its NAPD, then each VNFD and NSD it lists, for syntax (our JSON Schemas),
integrity (every reference resolves) and topology (an NS is one connected graph)."""

from __future__ import annotations

import functools
import json
import math
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator, TypeChecker, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from marketplace.repository.packages import yamlsafe
from marketplace.repository.packages.problems import PackageRejected, Problem, Severity
from marketplace.repository.packages.types import (
    DescriptorSummary,
    FormatResult,
    Kind,
    PackageInfo,
    PackageView,
    ParsedDescriptor,
    VnfdLookup,
    VnfRef,
)

__all__ = [
    "NAPD_PATH",
    "NSD_TYPE",
    "VNFD_TYPE",
    "SchemaName",
    "schema_problems",
    "schema_validator",
    "summarize_vnfd",
    "validate_5gtango",
]

NAPD_PATH = "TOSCA-Metadata/NAPD.yaml"
VNFD_TYPE = "application/vnd.5gtango.vnfd"
NSD_TYPE = "application/vnd.5gtango.nsd"
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas" / "5gtango"

SchemaName = Literal["napd", "vnfd", "nsd"]
_KIND_OF_TYPE: dict[str, Kind] = {VNFD_TYPE: "vnf", NSD_TYPE: "ns"}

# Decimal and binary prefixes count alike (1 GB = 1024 MB): descriptors use them interchangeably,
# and the flavours a VDU lands on are sized in binary units.
_MB_PER_UNIT: dict[str, float] = {
    "B": 1 / 1024**2,
    "kB": 1 / 1024,
    "KiB": 1 / 1024,
    "MB": 1,
    "MiB": 1,
    "GB": 1024,
    "GiB": 1024,
    "TB": 1024**2,
    "TiB": 1024**2,
    "PT": 1024**3,  # sic: the 5GTANGO schema spells petabytes "PT" and pebibytes "PiT"
    "PiT": 1024**3,
}
_DEFAULT_SIZE_UNIT = "MB"  # the schema's default for memory and storage
_VERSION_CONSTRAINT = re.compile(r"^(==|>=|<=|!=) (.+)$")


# --- syntax ----------------------------------------------------------------------------------------------------


def _is_integer(checker: TypeChecker, instance: object) -> bool:
    # The official schemas are draft-04, where 2.0 is not an integer; keep that so both agree.
    return isinstance(instance, int) and not isinstance(instance, bool)


_TangoValidator = extend(  # type: ignore[no-untyped-call]  # the jsonschema stubs leave extend() untyped
    Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
)


@functools.cache
def schema_validator(name: SchemaName) -> Validator:
    """The compiled validator for our NAPD, VNFD or NSD schema (built once per process)."""
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    validator: Validator = _TangoValidator(schema)
    return validator


def _pointer(parts: Iterable[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(value: object, limit: int = 60) -> str:
    return _clip(repr(value), limit)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _explain(error: ValidationError) -> Iterator[tuple[str, str]]:
    """(location, message) pairs for one schema error; short, without echoing whole subtrees."""
    where = list(error.absolute_path)
    keyword = str(error.validator)
    instance = error.instance
    if keyword == "required" and isinstance(instance, dict) and isinstance(error.validator_value, list):
        # Point at the missing field itself: that is where the developer has to add something.
        for name in error.validator_value:
            if name not in instance:
                yield _pointer([*where, name]), f"required field {name!r} is missing"
    elif keyword == "additionalProperties" and isinstance(instance, dict) and isinstance(error.schema, dict):
        allowed = error.schema.get("properties", {})
        for name in instance:
            if name not in allowed:
                yield _pointer([*where, name]), f"field {_short(name)} is not allowed here"
    elif keyword == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        yield _pointer(where), f"expected {' or '.join(map(str, expected))}, found {_json_type(instance)}"
    elif keyword == "enum" and isinstance(error.validator_value, list):
        yield _pointer(where), f"{_short(instance)} is not one of {', '.join(map(str, error.validator_value))}"
    elif keyword in ("anyOf", "oneOf"):
        reasons = sorted({_clip(c.message, 120) for c in error.context or []})[:3]
        yield _pointer(where), "matches none of the allowed forms: " + "; ".join(reasons)
    elif keyword == "pattern":
        yield _pointer(where), f"{_short(instance)} does not match {error.validator_value}"
    else:
        yield _pointer(where), _clip(error.message, 200)


def _location_key(problem: Problem) -> tuple[list[tuple[int, int | str]], str]:
    parts = problem.location.split("/")[1:]
    return [(0, int(p)) if p.isdigit() else (1, p) for p in parts], problem.rule


def schema_problems(name: SchemaName, document: Any, file: str) -> list[Problem]:
    """Every violation of our `name` schema, in document order; rule "schema.<keyword>", location the
    JSON pointer of the failing value (of the missing or unexpected field for required/additionalProperties)."""
    found: dict[tuple[str, str, str], Problem] = {}
    for error in schema_validator(name).iter_errors(document):
        rule = f"schema.{error.validator}"
        for location, message in _explain(error):
            found.setdefault((rule, location, message), Problem(rule, message, file=file, location=location))
    return sorted(found.values(), key=_location_key)


# --- reading ---------------------------------------------------------------------------------------------------


def _load(view: PackageView, path: str, problems: list[Problem]) -> tuple[bool, Any]:
    """(True, document) or (False, None) with the reasons added to `problems`."""
    try:
        return True, yamlsafe.load(view.read(path), file=path)
    except PackageRejected as rejected:
        problems.extend(rejected.problems)
        return False, None


def _package_path(source: str) -> str:
    return posixpath.normpath(source.lstrip("/"))


def _entries(document: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    """The (index, entry) pairs of a list of mappings; anything else was already reported by the schema."""
    value = document.get(key)
    if not isinstance(value, list):
        return []
    return [(i, entry) for i, entry in enumerate(value) if isinstance(entry, dict)]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _ids(entries: Iterable[tuple[int, dict[str, Any]]]) -> list[tuple[int, str]]:
    return [(i, entry["id"]) for i, entry in entries if isinstance(entry.get("id"), str)]


def _duplicates(ids: Iterable[tuple[str, str]], what: str, file: str) -> list[Problem]:
    """One problem per repeated id (given as (id, pointer of its "id" field)), at the repetition."""
    first: dict[str, str] = {}
    problems = []
    for ident, pointer in ids:
        if ident in first:
            problems.append(
                Problem(
                    "integrity.duplicate-id",
                    f"{what} id {ident!r} is used more than once (first at {first[ident]})",
                    file=file,
                    location=pointer,
                )
            )
        else:
            first[ident] = pointer
    return problems


# --- VNFD ------------------------------------------------------------------------------------------------------

_UNIT_KEYS = ("virtual_deployment_units", "cloudnative_deployment_units", "physical_deployment_units")


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _size_in_mb(requirement: object) -> float:
    if not isinstance(requirement, dict):
        return 0.0
    size = _number(requirement.get("size"))
    unit = requirement.get("size_unit", _DEFAULT_SIZE_UNIT)
    if size is None or not isinstance(unit, str) or unit not in _MB_PER_UNIT:
        return 0.0
    return size * _MB_PER_UNIT[unit]


def _add_unique(values: list[str], value: object) -> None:
    if isinstance(value, str) and value and value not in values:
        values.append(value)


def _descriptor_id(document: dict[str, Any]) -> str:
    own = document.get("id")
    if isinstance(own, str) and own:
        return own
    return f"{_text(document.get('vendor'))}/{_text(document.get('name'))}/{_text(document.get('version'))}"


def summarize_vnfd(document: dict[str, Any]) -> DescriptorSummary:
    """Resource totals over the deployment units (one instance each), images, external CPs and links."""
    vcpus = 0
    memory_mb = 0.0
    storage_mb = 0.0
    images: list[str] = []
    for key in ("virtual_deployment_units", "cloudnative_deployment_units"):
        for _, unit in _entries(document, key):
            resources = unit.get("resource_requirements")
            if isinstance(resources, dict):
                cpu = resources.get("cpu")
                count = cpu.get("vcpus") if isinstance(cpu, dict) else None
                if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                    vcpus += count
                memory_mb += _size_in_mb(resources.get("memory"))
                storage_mb += _size_in_mb(resources.get("storage"))
            _add_unique(images, unit.get("vm_image") if key == "virtual_deployment_units" else unit.get("image"))
            for _, alternative in _entries(unit, "alternative_images"):
                _add_unique(images, alternative.get("vm_image"))
    return DescriptorSummary(
        kind="vnf",
        descriptor_id=_descriptor_id(document),
        vendor=_text(document.get("vendor")),
        name=_text(document.get("name")),
        version=_text(document.get("version")),
        description=_text(document.get("description")),
        vcpus=vcpus,
        memory_mb=math.ceil(memory_mb - 1e-9),  # never understate what a unit needs
        storage_gb=round(storage_mb / 1024, 6),
        images=images,
        connection_points=[cp for _, cp in _ids(_entries(document, "connection_points"))],
        virtual_links=[vl for _, vl in _ids(_entries(document, "virtual_links"))],
    )


def _image_problem(image: str, pointer: str, file: str, paths: set[str]) -> Problem | None:
    """A package-relative image path must name a file of the package; anything else (a name in the
    platform's image store, a URL, a container image) is an external reference and is fine."""
    if "://" in image:
        return None
    candidates = {_package_path(image), posixpath.normpath(posixpath.join(posixpath.dirname(file), image))}
    if candidates & paths:
        return None
    top_folders = {p.split("/", 1)[0] for p in paths if "/" in p}
    relative = image.startswith(("./", "../")) or ("/" in image and image.lstrip("/").split("/", 1)[0] in top_folders)
    if not relative:
        return None
    return Problem(
        "integrity.missing-image-file",
        f"image {image!r} is a path in the package, but the package has no such file",
        file=file,
        location=pointer,
    )


def _check_vnfd(document: dict[str, Any], file: str, paths: set[str]) -> list[Problem]:
    """Integrity and link topology of one VNFD: unique ids, resolvable CP references, images."""
    problems: list[Problem] = []
    unit_cps: dict[str, set[str]] = {}
    unit_ids: list[tuple[str, str]] = []
    for key in _UNIT_KEYS:
        for i, unit_id in _ids(_entries(document, key)):
            unit_ids.append((unit_id, f"/{key}/{i}/id"))
        for i, unit in _entries(document, key):
            cps = _ids(_entries(unit, "connection_points"))
            problems += _duplicates(
                ((cp, f"/{key}/{i}/connection_points/{j}/id") for j, cp in cps), "connection point", file
            )
            if isinstance(unit.get("id"), str):
                unit_cps.setdefault(unit["id"], set()).update(cp for _, cp in cps)
    problems += _duplicates(unit_ids, "deployment unit", file)
    vnf_cps = _ids(_entries(document, "connection_points"))
    problems += _duplicates(((cp, f"/connection_points/{j}/id") for j, cp in vnf_cps), "connection point", file)
    links = _entries(document, "virtual_links")
    problems += _duplicates(((vl, f"/virtual_links/{i}/id") for i, vl in _ids(links)), "virtual link", file)

    external = {cp for _, cp in vnf_cps}
    for i, link in links:
        refs = link.get("connection_points_reference")
        if not isinstance(refs, list):
            continue
        for j, ref in enumerate(refs):
            if not isinstance(ref, str) or ref in external:
                continue
            unit_id, _, cp = ref.partition(":")
            if cp and cp in unit_cps.get(unit_id, ()):
                continue
            if not cp:
                why = f"the VNF has no connection point {ref!r}"
            elif unit_id not in unit_cps:
                why = f"there is no deployment unit {unit_id!r}"
            else:
                why = f"deployment unit {unit_id!r} has no connection point {cp!r}"
            problems.append(
                Problem(
                    "integrity.unknown-cp",
                    f"virtual link {_short(link.get('id'))} names {ref!r}, but {why}",
                    file=file,
                    location=f"/virtual_links/{i}/connection_points_reference/{j}",
                )
            )
        problems += _dangling(link, {r for r in refs if isinstance(r, str)}, f"/virtual_links/{i}", file)

    for i, vdu in _entries(document, "virtual_deployment_units"):
        image = vdu.get("vm_image")
        alternatives = _entries(vdu, "alternative_images")
        if not (isinstance(image, str) and image.strip()) and not alternatives:
            problems.append(
                Problem(
                    "integrity.missing-image",
                    f"VDU {_short(vdu.get('id'))} names no vm_image",
                    file=file,
                    location=f"/virtual_deployment_units/{i}",
                )
            )
        named = [(f"/virtual_deployment_units/{i}/vm_image", image)]
        named += [
            (f"/virtual_deployment_units/{i}/alternative_images/{k}/vm_image", a.get("vm_image"))
            for k, a in alternatives
        ]
        for pointer, ref in named:
            if isinstance(ref, str) and ref.strip() and (problem := _image_problem(ref, pointer, file, paths)):
                problems.append(problem)
    return problems


def _dangling(link: dict[str, Any], endpoints: set[str], pointer: str, file: str) -> list[Problem]:
    if len(endpoints) >= 2:
        return []
    return [
        Problem(
            "topology.dangling-link",
            f"virtual link {_short(link.get('id'))} joins {len(endpoints)} connection point(s); a link needs two",
            file=file,
            location=f"{pointer}/connection_points_reference",
        )
    ]


# --- NSD -------------------------------------------------------------------------------------------------------


def _version_key(version: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[-_.]", version)]


def _satisfies(version: str, constraint: str) -> bool:
    match = _VERSION_CONSTRAINT.match(constraint)
    if not match:
        return version == constraint
    operator, wanted = match.groups()
    have, want = _version_key(version), _version_key(wanted)
    return {"==": have == want, "!=": have != want, ">=": have >= want, "<=": have <= want}[operator]


@dataclass
class _Member:
    """One network_functions entry of an NSD and the VNFD it resolved to (if any)."""

    index: int
    ref: VnfRef
    vnfd: ParsedDescriptor | None = None

    @property
    def label(self) -> str:
        return f"{self.ref.descriptor_id!r} ({self.ref.vendor}/{self.ref.name}/{self.ref.version})"


@dataclass
class _Service:
    """One NSD being checked: what its references can name, and what was found so far."""

    document: dict[str, Any]
    file: str
    members: dict[str, _Member] = field(default_factory=dict)
    nested: set[str] = field(default_factory=set)  # ns_ids of network_services
    cps: dict[str, int] = field(default_factory=dict)  # NS connection point id -> index
    problems: list[Problem] = field(default_factory=list)

    def problem(self, rule: str, message: str, location: str, severity: Severity = Severity.ERROR) -> None:
        self.problems.append(Problem(rule, message, file=self.file, location=location, severity=severity))


class _Graph:
    """Union-find over VNFs and NS connection points."""

    def __init__(self, nodes: Iterable[str]) -> None:
        self._parent = {node: node for node in nodes}

    def find(self, node: str) -> str:
        while self._parent[node] != node:
            self._parent[node] = self._parent[self._parent[node]]
            node = self._parent[node]
        return node

    def join(self, nodes: list[str]) -> None:
        for other in nodes[1:]:
            self._parent[self.find(other)] = self.find(nodes[0])


def _resolve(ref: VnfRef, local: list[ParsedDescriptor], lookup: VnfdLookup) -> ParsedDescriptor | None:
    """The VNFD an NSD names: from this package first (highest version that fits), else the repository.
    The repository is asked with the version as written, minus a leading "== "."""
    version = ref.version or ""
    fitting = [
        d
        for d in local
        if (d.summary.vendor, d.summary.name) == (ref.vendor, ref.name) and _satisfies(d.summary.version, version)
    ]
    if fitting:
        return max(fitting, key=lambda d: _version_key(d.summary.version))
    exact = version[3:] if version.startswith("== ") else version
    return lookup(VnfRef(vendor=ref.vendor, name=ref.name, version=exact))


def _endpoint(service: _Service, ref: str, location: str, what: str) -> tuple[str | None, bool]:
    """Resolves an NSD connection point reference to a graph node ("cp:<id>" or "vnf:<vnf_id>").
    Returns (node, counts): `counts` is False when the reference names no member at all."""
    if ref in service.cps:
        return f"cp:{ref}", True
    member_id, _, cp = ref.partition(":")
    if not cp:
        service.problem(
            "integrity.unknown-cp", f"{what} names {ref!r}, but the NS has no such connection point", location
        )
        return None, True
    if member_id in service.nested:
        return f"vnf:{member_id}", True  # the nested NSD is not at hand; its CPs cannot be checked here
    member = service.members.get(member_id)
    if member is None:
        return None, False
    if member.vnfd is not None and cp not in member.vnfd.summary.connection_points:
        known = ", ".join(member.vnfd.summary.connection_points) or "none"
        service.problem(
            "integrity.unknown-cp",
            f"{what} names {ref!r}, but VNF {member.label} has no connection point {cp!r} (it has: {known})",
            location,
        )
    return f"vnf:{member_id}", True


def _check_links(service: _Service, graph: _Graph) -> None:
    links = _entries(service.document, "virtual_links")
    for i, link in links:
        refs = link.get("connection_points_reference")
        if not isinstance(refs, list):
            continue
        nodes: list[str] = []
        endpoints: set[str] = set()
        for j, ref in enumerate(refs):
            if not isinstance(ref, str):
                continue
            location = f"/virtual_links/{i}/connection_points_reference/{j}"
            node, counts = _endpoint(service, ref, location, f"virtual link {_short(link.get('id'))}")
            if not counts:
                # The endpoint is left out; the rest of the link still works (the 5GTANGO NS example
                # package has such a stray reference on its management link).
                service.problem(
                    "integrity.unknown-vnf-id",
                    f"{ref!r} names {ref.partition(':')[0]!r}, which is not a vnf_id of network_functions; "
                    "the link is deployed without it",
                    location,
                    Severity.WARNING,
                )
                continue
            endpoints.add(ref)
            if node:
                nodes.append(node)
        graph.join(nodes)
        service.problems += _dangling(link, endpoints, f"/virtual_links/{i}", service.file)


def _check_connected(service: _Service, graph: _Graph) -> None:
    members = [f"vnf:{m}" for m in service.members] + [f"vnf:{n}" for n in sorted(service.nested)]
    if not members:
        return
    sizes: dict[str, int] = {}  # component root -> number of VNFs in it; roots in the order VNFs are listed
    for node in members:
        root = graph.find(node)
        sizes[root] = sizes.get(root, 0) + 1
    # The main part is the one holding most VNFs (the first listed VNF's on a tie); the rest cannot be reached.
    main = max(sizes, key=lambda root: sizes[root])
    unreachable = [m for m in service.members.values() if graph.find(f"vnf:{m.ref.descriptor_id}") != main]
    unreachable_nested = sorted(n for n in service.nested if graph.find(f"vnf:{n}") != main)
    if unreachable or unreachable_nested:
        names = ", ".join([repr(m.ref.descriptor_id) for m in unreachable] + [repr(n) for n in unreachable_nested])
        first = f"/network_functions/{unreachable[0].index}" if unreachable else "/network_services"
        service.problem(
            "topology.disconnected",
            f"no virtual link path joins {names} to the rest of the service",
            first,
        )
    for cp, k in service.cps.items():
        if graph.find(f"cp:{cp}") != main:
            service.problem(
                "topology.unconnected-cp",
                f"NS connection point {cp!r} is not linked to the service's VNFs",
                f"/connection_points/{k}",
                Severity.WARNING,
            )


def _check_forwarding_graphs(service: _Service) -> None:
    link_ids = {vl for _, vl in _ids(_entries(service.document, "virtual_links"))}
    for g, graph in _entries(service.document, "forwarding_graphs"):
        if "fg_id" not in graph:
            continue  # a reference to an external forwarding graph descriptor
        where = f"/forwarding_graphs/{g}"
        for key, known, what in (
            ("constituent_vnfs", set(service.members) | service.nested, "vnf_id"),
            ("constituent_virtual_links", link_ids, "virtual link"),
        ):
            values = graph.get(key)
            for k, value in enumerate(values if isinstance(values, list) else []):
                if isinstance(value, str) and value not in known:
                    service.problem(
                        "topology.fg-unknown-reference",
                        f"forwarding graph {_short(graph['fg_id'])} names {what} {value!r}, which the NS does not have",
                        f"{where}/{key}/{k}",
                    )
        for p, path in _entries(graph, "network_forwarding_paths"):
            for c, point in _entries(path, "connection_points"):
                ref = point.get("connection_point_ref")
                if not isinstance(ref, str):
                    continue
                location = f"{where}/network_forwarding_paths/{p}/connection_points/{c}/connection_point_ref"
                _, counts = _endpoint(service, ref, location, f"forwarding path {_short(path.get('fp_id'))}")
                if not counts:
                    service.problem(
                        "topology.fg-unknown-reference",
                        f"forwarding path {_short(path.get('fp_id'))} passes {ref!r}, but "
                        f"{ref.partition(':')[0]!r} is not a vnf_id of network_functions",
                        location,
                    )


def _check_nsd(
    document: dict[str, Any], file: str, local: list[ParsedDescriptor], lookup: VnfdLookup
) -> tuple[list[Problem], DescriptorSummary]:
    """Integrity (members resolve, CP references exist) and topology of one NSD, and its summary."""
    service = _Service(document, file)
    functions = _entries(document, "network_functions")
    service.problems += _duplicates(
        ((f["vnf_id"], f"/network_functions/{i}/vnf_id") for i, f in functions if isinstance(f.get("vnf_id"), str)),
        "network function",
        file,
    )
    for i, function in functions:
        vnf_id, vendor, name, version = (function.get(k) for k in ("vnf_id", "vnf_vendor", "vnf_name", "vnf_version"))
        if not all(isinstance(v, str) for v in (vnf_id, vendor, name, version)) or vnf_id in service.members:
            continue  # reported by the schema or as a duplicate
        ref = VnfRef(descriptor_id=vnf_id, vendor=vendor, name=name, version=version)
        member = service.members[str(vnf_id)] = _Member(i, ref, _resolve(ref, local, lookup))
        if member.vnfd is None:
            service.problem(
                "integrity.unresolved-vnf",
                f"VNF {member.label} is neither in this package nor in the repository",
                f"/network_functions/{i}",
            )
    service.nested = {n["ns_id"] for _, n in _entries(document, "network_services") if isinstance(n.get("ns_id"), str)}
    cps = _ids(_entries(document, "connection_points"))
    service.problems += _duplicates(((cp, f"/connection_points/{k}/id") for k, cp in cps), "connection point", file)
    for k, cp in cps:
        service.cps.setdefault(cp, k)
    links = _ids(_entries(document, "virtual_links"))
    service.problems += _duplicates(((vl, f"/virtual_links/{i}/id") for i, vl in links), "virtual link", file)

    graph = _Graph([f"cp:{cp}" for cp in service.cps] + [f"vnf:{m}" for m in (*service.members, *service.nested)])
    _check_links(service, graph)
    _check_connected(service, graph)
    _check_forwarding_graphs(service)
    return service.problems, _summarize_nsd(document, service)


def _summarize_nsd(document: dict[str, Any], service: _Service) -> DescriptorSummary:
    """NS totals are those of its VNFs (each network_functions entry is one instance)."""
    summary = DescriptorSummary(
        kind="ns",
        descriptor_id=_descriptor_id(document),
        vendor=_text(document.get("vendor")),
        name=_text(document.get("name")),
        version=_text(document.get("version")),
        description=_text(document.get("description")),
        connection_points=list(service.cps),
        virtual_links=[vl for _, vl in _ids(_entries(document, "virtual_links"))],
        constituent_vnfs=[m.ref for m in service.members.values()],
    )
    storage_gb = 0.0
    for member in service.members.values():
        if member.vnfd is not None:
            vnf = member.vnfd.summary
            summary.vcpus += vnf.vcpus
            summary.memory_mb += vnf.memory_mb
            storage_gb += vnf.storage_gb
            for image in vnf.images:
                _add_unique(summary.images, image)
    summary.storage_gb = round(storage_gb, 6)
    return summary


# --- the package -----------------------------------------------------------------------------------------------


@dataclass
class _Listed:
    """A descriptor the NAPD lists."""

    path: str
    kind: Kind
    pointer: str  # of its package_content entry
    document: dict[str, Any] | None = None


def _listed_descriptors(napd: dict[str, Any]) -> list[_Listed]:
    listed: dict[str, _Listed] = {}
    for i, entry in _entries(napd, "package_content"):
        kind = _KIND_OF_TYPE.get(_text(entry.get("content-type")))
        source = entry.get("source")
        if kind and isinstance(source, str) and source.strip():
            listed.setdefault(_package_path(source), _Listed(_package_path(source), kind, f"/package_content/{i}"))
    return list(listed.values())


def _package_info(napd: dict[str, Any], listed: list[_Listed]) -> PackageInfo | None:
    vendor, name, version = (napd.get(k) for k in ("vendor", "name", "version"))
    if not (isinstance(vendor, str) and isinstance(name, str) and isinstance(version, str) and vendor and name):
        return None
    services = [d.path for d in listed if d.kind == "ns"]
    functions = [d.path for d in listed if d.kind == "vnf"]
    return PackageInfo(
        vendor=vendor,
        name=name,
        version=version,
        kind="ns" if services else "vnf",
        description=_text(napd.get("description")),
        main_descriptor=(services or functions or [""])[0],
    )


def validate_5gtango(view: PackageView, lookup: VnfdLookup) -> FormatResult:
    """Checks the NAPD and every VNFD/NSD it lists. Never raises for a bad package: every finding is a
    Problem (file inside the package, JSON pointer or line, rule, severity). NSD members that are not in
    the package are looked up with `lookup`."""
    paths = set(view.paths)
    if NAPD_PATH not in paths:
        return FormatResult(
            None, [], [Problem("5gtango.missing-napd", f"a 5GTANGO package needs {NAPD_PATH}", file=NAPD_PATH)]
        )
    problems: list[Problem] = []
    loaded, napd = _load(view, NAPD_PATH, problems)
    if not loaded:
        return FormatResult(None, [], problems)
    problems += schema_problems("napd", napd, NAPD_PATH)
    if not isinstance(napd, dict):
        return FormatResult(None, [], problems)

    listed = _listed_descriptors(napd)
    if not listed:
        problems.append(
            Problem(
                "5gtango.no-descriptors",
                f"package_content lists no VNFD ({VNFD_TYPE}) and no NSD ({NSD_TYPE})",
                file=NAPD_PATH,
                location="/package_content",
            )
        )
    for item in listed:
        if item.path not in paths:
            problems.append(
                Problem(
                    "5gtango.missing-file",
                    f"{NAPD_PATH} lists it ({item.pointer}) as a {'VNFD' if item.kind == 'vnf' else 'NSD'}, "
                    "but the package has no such file",
                    file=item.path,
                )
            )
            continue
        loaded, document = _load(view, item.path, problems)
        if loaded:
            problems += schema_problems("vnfd" if item.kind == "vnf" else "nsd", document, item.path)
            item.document = document if isinstance(document, dict) else None

    parsed: dict[str, ParsedDescriptor] = {}
    local: list[ParsedDescriptor] = []
    seen: dict[tuple[str, str, str], str] = {}
    for item in listed:
        if item.kind == "vnf" and item.document is not None:
            problems += _check_vnfd(item.document, item.path, paths)
            descriptor = ParsedDescriptor(item.path, item.document, summarize_vnfd(item.document))
            key = (descriptor.summary.vendor, descriptor.summary.name, descriptor.summary.version)
            if all(key) and key in seen:
                problems.append(
                    Problem(
                        "integrity.duplicate-descriptor",
                        f"{seen[key]} already is the VNFD {'/'.join(key)}",
                        file=item.path,
                    )
                )
            seen.setdefault(key, item.path)
            parsed[item.path] = descriptor
            local.append(descriptor)
    for item in listed:
        if item.kind == "ns" and item.document is not None:
            found, summary = _check_nsd(item.document, item.path, local, lookup)
            problems += found
            parsed[item.path] = ParsedDescriptor(item.path, item.document, summary)

    descriptors = [parsed[item.path] for item in listed if item.path in parsed]
    return FormatResult(_package_info(napd, listed), descriptors, problems)
