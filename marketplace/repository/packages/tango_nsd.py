"""A 5GTANGO NSD checked as deployable: its network functions resolved by version constraint, virtual
links and forwarding graphs connected, and its catalogue summary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from marketplace.repository.packages.problems import Problem, Severity
from marketplace.repository.packages.tango_reading import (
    VERSION_CONSTRAINT,
    add_unique,
    dangling,
    descriptor_id,
    duplicates,
    entries,
    ids,
    string,
)
from marketplace.repository.packages.tango_schema import short
from marketplace.repository.packages.types import (
    DescriptorSummary,
    ParsedDescriptor,
    VnfdLookup,
    VnfRef,
)


def _version_key(version: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[-_.]", version)]


def _satisfies(version: str, constraint: str) -> bool:
    match = VERSION_CONSTRAINT.match(constraint)
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
    links = entries(service.document, "virtual_links")
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
            node, counts = _endpoint(service, ref, location, f"virtual link {short(link.get('id'))}")
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
        service.problems += dangling(link, endpoints, f"/virtual_links/{i}", service.file)


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
    link_ids = {vl for _, vl in ids(entries(service.document, "virtual_links"))}
    for g, graph in entries(service.document, "forwarding_graphs"):
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
                        f"forwarding graph {short(graph['fg_id'])} names {what} {value!r}, which the NS does not have",
                        f"{where}/{key}/{k}",
                    )
        for p, path in entries(graph, "network_forwarding_paths"):
            for c, point in entries(path, "connection_points"):
                ref = point.get("connection_point_ref")
                if not isinstance(ref, str):
                    continue
                location = f"{where}/network_forwarding_paths/{p}/connection_points/{c}/connection_point_ref"
                _, counts = _endpoint(service, ref, location, f"forwarding path {short(path.get('fp_id'))}")
                if not counts:
                    service.problem(
                        "topology.fg-unknown-reference",
                        f"forwarding path {short(path.get('fp_id'))} passes {ref!r}, but "
                        f"{ref.partition(':')[0]!r} is not a vnf_id of network_functions",
                        location,
                    )


def check_nsd(
    document: dict[str, Any], file: str, local: list[ParsedDescriptor], lookup: VnfdLookup
) -> tuple[list[Problem], DescriptorSummary]:
    """Integrity (members resolve, CP references exist) and topology of one NSD, and its summary."""
    service = _Service(document, file)
    functions = entries(document, "network_functions")
    service.problems += duplicates(
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
    service.nested = {n["ns_id"] for _, n in entries(document, "network_services") if isinstance(n.get("ns_id"), str)}
    cps = ids(entries(document, "connection_points"))
    service.problems += duplicates(((cp, f"/connection_points/{k}/id") for k, cp in cps), "connection point", file)
    for k, cp in cps:
        service.cps.setdefault(cp, k)
    links = ids(entries(document, "virtual_links"))
    service.problems += duplicates(((vl, f"/virtual_links/{i}/id") for i, vl in links), "virtual link", file)

    graph = _Graph([f"cp:{cp}" for cp in service.cps] + [f"vnf:{m}" for m in (*service.members, *service.nested)])
    _check_links(service, graph)
    _check_connected(service, graph)
    _check_forwarding_graphs(service)
    return service.problems, _summarize_nsd(document, service)


def _summarize_nsd(document: dict[str, Any], service: _Service) -> DescriptorSummary:
    """NS totals are those of its VNFs (each network_functions entry is one instance)."""
    summary = DescriptorSummary(
        kind="ns",
        descriptor_id=descriptor_id(document),
        vendor=string(document.get("vendor")),
        name=string(document.get("name")),
        version=string(document.get("version")),
        description=string(document.get("description")),
        connection_points=list(service.cps),
        virtual_links=[vl for _, vl in ids(entries(document, "virtual_links"))],
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
                add_unique(summary.images, image)
    summary.storage_gb = round(storage_gb, 6)
    return summary
