"""Facts read back from a stored descriptor document for the portal's VNF and NS pages: the VDUs
of a VNF and how an NS wires its VNFs to virtual links, in each of the three formats (ETSI SOL001,
OSM SOL006, 5GTANGO). Pure functions over the JSON the ingest stored; nothing here validates (the
ingest did), so odd shapes are skipped rather than reported."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from marketplace.repository.packages import values

Json = dict[str, Any]

_SOL006_VNFD_KEYS = ("vnfd", "etsi-nfv-vnfd:vnfd")
_SOL006_NSD_KEYS = ("nsd", "etsi-nfv-nsd:nsd")
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")
# Binary multiples whatever the spelling, as the ingest's summaries count them (sol001, tango).
_MB_PER_UNIT = {"": 1.0, "b": 1 / 1024**2, "kb": 1 / 1024, "mb": 1.0, "gb": 1024.0, "tb": 1024.0**2}


@dataclass(frozen=True)
class Vdu:
    """One virtual deployment unit (VM or container) of a VNF, as its descriptor sizes it."""

    name: str
    vcpus: int | None = None
    memory_mb: int | None = None
    storage_gb: float | None = None
    image: str = ""


@dataclass(frozen=True)
class Connection:
    """A connection point attached to an NS virtual link: of a constituent VNF (`member` is the
    NSD's local name for it, `ref` how it names the VNFD) or of the NS itself (`member` empty)."""

    virtual_link: str
    connection_point: str
    member: str = ""
    ref: tuple[tuple[str, str], ...] = ()


def _entries(node: Any, key: str) -> list[Json]:
    value = node.get(key) if isinstance(node, dict) else None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def size_mb(value: Any, unit: str = "") -> float | None:
    """Megabytes (MiB) of a size written as a number with a unit ("8 GB", 512 with unit "MB")."""
    number = values.number(value)
    if number is None and isinstance(value, str) and (match := _SIZE.match(value)):
        number, unit = float(match.group(1)), match.group(2)
    factor = _MB_PER_UNIT.get(unit.strip().lower().replace("ib", "b"))
    return None if number is None or factor is None else number * factor


def _int(value: Any) -> int | None:
    number = values.number(value)
    return None if number is None else int(number)


def _round_mb(value: float | None) -> int | None:
    return None if value is None else round(value)


def _gb(mb: float | None) -> float | None:
    return None if mb is None else round(mb / 1024, 3)


# --- VNF: VDUs ---


def vnf_vdus(format_: str, document: Any) -> list[Vdu]:
    """The VDUs a VNFD declares (one instance each), in document order."""
    if not isinstance(document, dict):
        return []
    if format_ == "osm":
        return _sol006_vdus(document)
    if format_ == "5gtango":
        return _tango_vdus(document)
    return _sol001_vdus(document)


def _sol006_vdus(document: Json) -> list[Vdu]:
    body = next((document[k] for k in _SOL006_VNFD_KEYS if isinstance(document.get(k), dict)), None)
    if body is None:
        return []
    computes = {values.text(c.get("id")): c for c in _entries(body, "virtual-compute-desc")}
    storages = {values.text(s.get("id")): s for s in _entries(body, "virtual-storage-desc")}
    images = {
        values.text(i.get("id")): values.text(i.get("image") or i.get("name") or i.get("id"))
        for i in _entries(body, "sw-image-desc")
    }
    found = []
    for vdu in _entries(body, "vdu"):
        compute = computes.get(values.text(vdu.get("virtual-compute-desc")))
        cpu = compute.get("virtual-cpu") if compute else None
        memory = compute.get("virtual-memory") if compute else None
        vcpus = _int(cpu.get("num-virtual-cpu")) if isinstance(cpu, dict) else None
        memory_gb = values.number(memory.get("size")) if isinstance(memory, dict) else None
        storage_gb: float | None = None
        ids = vdu.get("virtual-storage-desc")
        for sid in ids if isinstance(ids, list) else [ids]:
            storage = storages.get(values.text(sid))
            if storage is not None:
                size = values.number(storage.get("size-of-storage"))
                for holder in ("block-storage-data", "file-storage-data"):
                    data = storage.get(holder)
                    if size is None and isinstance(data, dict):
                        size = values.number(data.get("size-of-storage"))
                storage_gb = (storage_gb or 0.0) + (size or 0.0)
        image_id = vdu.get("sw-image-desc")
        found.append(
            Vdu(
                name=values.text(vdu.get("name") or vdu.get("id")),
                vcpus=vcpus,
                memory_mb=_round_mb(memory_gb * 1024) if memory_gb is not None else None,
                storage_gb=storage_gb,
                image=images.get(values.text(image_id), values.text(image_id)),
            )
        )
    return found


def _tango_requirement_mb(requirement: Any) -> float | None:
    if not isinstance(requirement, dict):
        return None
    return size_mb(requirement.get("size"), values.text(requirement.get("size_unit")) or "MB")


def _tango_vdus(document: Json) -> list[Vdu]:
    found = []
    for unit in [*_entries(document, "virtual_deployment_units"), *_entries(document, "cloudnative_deployment_units")]:
        needs = unit.get("resource_requirements")
        needs = needs if isinstance(needs, dict) else {}
        cpu = needs.get("cpu")
        memory_mb = _tango_requirement_mb(needs.get("memory"))
        storage_mb = _tango_requirement_mb(needs.get("storage"))
        found.append(
            Vdu(
                name=values.text(unit.get("id")),
                vcpus=_int(cpu.get("vcpus")) if isinstance(cpu, dict) else None,
                memory_mb=_round_mb(memory_mb),
                storage_gb=_gb(storage_mb),
                image=values.text(unit.get("vm_image") or unit.get("image")),
            )
        )
    return found


def _sol001_nodes(document: Json) -> dict[str, Json]:
    topology = document.get("topology_template")
    nodes = topology.get("node_templates") if isinstance(topology, dict) else None
    return {str(k): v for k, v in nodes.items() if isinstance(v, dict)} if isinstance(nodes, dict) else {}


def _sol001_kind(type_name: Any, document: Json) -> str:
    """What a SOL001 node type is ("vnf", "ns", "vdu", "vl", "sap", "cp" or ""), following
    `derived_from` through the types this same document defines."""
    types = document.get("node_types")
    types = types if isinstance(types, dict) else {}
    name = values.text(type_name)
    for _ in range(16):
        lowered = name.lower()
        for suffix, kind in (
            (".ns", "ns"),
            (".vnf", "vnf"),
            ("vdu.compute", "vdu"),
            ("virtuallink", "vl"),
            (".sap", "sap"),
            ("vducp", "cp"),
            ("vnfextcp", "cp"),
        ):
            if lowered.endswith(suffix) if suffix.startswith(".") else suffix in lowered:
                return kind
        parent = types.get(name)
        name = values.text(parent.get("derived_from")) if isinstance(parent, dict) else ""
        if not name:
            return ""
    return ""


def _sol001_vdus(document: Json) -> list[Vdu]:
    found = []
    for name, node in _sol001_nodes(document).items():
        if _sol001_kind(node.get("type"), document) != "vdu":
            continue
        props = node.get("properties")
        props = props if isinstance(props, dict) else {}
        capabilities = node.get("capabilities")
        compute = capabilities.get("virtual_compute") if isinstance(capabilities, dict) else None
        cprops = compute.get("properties") if isinstance(compute, dict) else None
        cprops = cprops if isinstance(cprops, dict) else {}
        cpu = cprops.get("virtual_cpu")
        memory = cprops.get("virtual_memory")
        disks = cprops.get("virtual_local_storage")
        storage: float | None = None
        for disk in disks if isinstance(disks, list) else []:
            size = size_mb(disk.get("size_of_storage")) if isinstance(disk, dict) else None
            if size is not None:
                storage = (storage or 0.0) + size
        image = props.get("sw_image_data")
        found.append(
            Vdu(
                name=values.text(props.get("name")) or name,
                vcpus=_int(cpu.get("num_virtual_cpu")) if isinstance(cpu, dict) else None,
                memory_mb=_round_mb(size_mb(memory.get("virtual_mem_size"))) if isinstance(memory, dict) else None,
                storage_gb=_gb(storage),
                image=values.text(image.get("name")) if isinstance(image, dict) else "",
            )
        )
    return found


# --- NS: connections ---


def ns_connections(format_: str, document: Any, descriptor_id: str = "") -> list[Connection]:
    """Which connection points the NSD attaches to which of its virtual links."""
    if not isinstance(document, dict):
        return []
    if format_ == "osm":
        return _sol006_connections(document, descriptor_id)
    if format_ == "5gtango":
        return _tango_connections(document)
    return _sol001_connections(document)


def _sol006_connections(document: Json, descriptor_id: str) -> list[Connection]:
    holder = next((document[k] for k in _SOL006_NSD_KEYS if isinstance(document.get(k), dict)), None)
    nsds = _entries(holder, "nsd")
    nsd = next((n for n in nsds if values.text(n.get("id")) == descriptor_id), nsds[0] if nsds else None)
    if nsd is None:
        return []
    found: list[Connection] = []
    df = next(iter(_entries(nsd, "df")), {})
    link_of_profile = {
        values.text(p.get("id")): values.text(p.get("virtual-link-desc-id") or p.get("id"))
        for p in _entries(df, "virtual-link-profile")
    }
    profiles = {values.text(p.get("id")): p for p in _entries(df, "vnf-profile")}
    for profile_id, profile in profiles.items():
        for connectivity in _entries(profile, "virtual-link-connectivity"):
            profile_link = values.text(connectivity.get("virtual-link-profile-id"))
            link = link_of_profile.get(profile_link, profile_link)
            for cpd in _entries(connectivity, "constituent-cpd-id"):
                member = values.text(cpd.get("constituent-base-element-id")) or profile_id
                vnfd_id = values.text(profiles.get(member, profile).get("vnfd-id"))
                found.append(
                    Connection(link, values.text(cpd.get("constituent-cpd-id")), member, (("descriptor_id", vnfd_id),))
                )
    for sap in _entries(nsd, "sapd"):
        link = values.text(sap.get("virtual-link-desc"))
        if link:
            found.append(Connection(link, values.text(sap.get("id"))))
    return found


def _tango_connections(document: Json) -> list[Connection]:
    members: dict[str, tuple[tuple[str, str], ...]] = {}
    for function in _entries(document, "network_functions"):
        members[values.text(function.get("vnf_id"))] = (
            ("vendor", values.text(function.get("vnf_vendor"))),
            ("name", values.text(function.get("vnf_name"))),
            ("version", values.text(function.get("vnf_version"))),
        )
    found: list[Connection] = []
    for link in _entries(document, "virtual_links"):
        link_id = values.text(link.get("id"))
        references = link.get("connection_points_reference")
        for reference in references if isinstance(references, list) else []:
            member, _, point = values.text(reference).rpartition(":")
            found.append(Connection(link_id, point, member, members.get(member, ()) if member else ()))
    return found


def _requirement_target(body: Any) -> str:
    if isinstance(body, dict):
        return values.text(body.get("node"))
    if isinstance(body, list) and len(body) == 2:  # [capability owner, capability]
        return values.text(body[0])
    return values.text(body)


def _sol001_connections(document: Json) -> list[Connection]:
    nodes = _sol001_nodes(document)
    links = {name for name, node in nodes.items() if _sol001_kind(node.get("type"), document) == "vl"}
    found: list[Connection] = []
    for name, node in nodes.items():
        kind = _sol001_kind(node.get("type"), document)
        if kind not in ("vnf", "sap"):
            continue
        requirements = node.get("requirements")
        for item in requirements if isinstance(requirements, list) else []:
            if not isinstance(item, dict) or len(item) != 1:
                continue
            ((requirement, body),) = item.items()
            target = _requirement_target(body)
            if target not in links:
                continue
            if kind == "sap":
                found.append(Connection(target, name))
                continue
            props = node.get("properties")
            descriptor_id = values.text(props.get("descriptor_id")) if isinstance(props, dict) else ""
            found.append(Connection(target, str(requirement), name, (("descriptor_id", descriptor_id),)))
    return found
