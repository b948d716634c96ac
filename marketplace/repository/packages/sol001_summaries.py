"""What the catalogue shows of a validated SOL001 VNFD or NSD: its identity, resources and images."""

from __future__ import annotations

from typing import Any

from marketplace.repository.packages import values as value_read  # `values` names property values here
from marketplace.repository.packages.sol001_model import (
    SAP,
    SCALAR,
    SIZE_UNITS_MB,
    STORAGE,
    VDU,
    VIRTUAL_LINKS,
    VNF,
    VNF_EXT_CP,
    Context,
    Doc,
    Node,
    is_function,
    single_key_items,
)
from marketplace.repository.packages.sol001_topology import requirement_target
from marketplace.repository.packages.types import (
    DescriptorSummary,
    VnfdLookup,
    VnfRef,
)


def _scalar_mb(ctx: Context, node: Node, value: Any, where: str) -> float | None:
    if value is None or is_function(value):
        return None
    match = SCALAR.match(str(value))
    unit = SIZE_UNITS_MB.get(match.group(2).lower().replace("ib", "b")) if match else None
    if match is None or unit is None:
        ctx.add(
            "syntax.scalar-unit",
            f"{value!r} is not a TOSCA scalar-unit.size such as '512 MB' or '1 GB'",
            node.doc.path,
            where,
        )
        return None
    return float(match.group(1)) * unit


def _resources(ctx: Context, vdus: list[Node], by_name: dict[str, Node]) -> tuple[int, int, float]:
    vcpus = 0
    memory_mb = 0.0
    storage_mb = 0.0
    attached: set[str] = set()
    for vdu in vdus:
        capabilities = vdu.body.get("capabilities")
        compute = capabilities.get("virtual_compute") if isinstance(capabilities, dict) else None
        props = compute.get("properties") if isinstance(compute, dict) else None
        props = props if isinstance(props, dict) else {}
        at = f"{vdu.at}/capabilities/virtual_compute/properties"
        cpu = props.get("virtual_cpu")
        count = cpu.get("num_virtual_cpu") if isinstance(cpu, dict) else None
        if isinstance(count, int) and not isinstance(count, bool):
            vcpus += count
        memory = props.get("virtual_memory")
        if isinstance(memory, dict):
            memory_mb += (
                _scalar_mb(ctx, vdu, memory.get("virtual_mem_size"), f"{at}/virtual_memory/virtual_mem_size") or 0
            )
        disks = props.get("virtual_local_storage")
        for i, disk in enumerate(disks if isinstance(disks, list) else []):
            if isinstance(disk, dict):
                storage_mb += (
                    _scalar_mb(ctx, vdu, disk.get("size_of_storage"), f"{at}/virtual_local_storage/{i}/size_of_storage")
                    or 0
                )
        for _, name, body in single_key_items(vdu.body.get("requirements")):
            target = by_name.get(requirement_target(body) or "")
            if name != "virtual_storage" or target is None or target.name in attached:
                continue
            attached.add(target.name)  # storage shared by several VDUs counts once
            props_t = ctx.effective(target)
            for key in ("virtual_block_storage_data", "virtual_file_storage_data"):
                data = props_t.get(key)
                if isinstance(data, dict):
                    storage_mb += (
                        _scalar_mb(
                            ctx, target, data.get("size_of_storage"), f"{target.at}/properties/{key}/size_of_storage"
                        )
                        or 0
                    )
    return vcpus, round(memory_mb), storage_mb / 1024


def vnf_summary(ctx: Context, docs: list[Doc], vnf_nodes: list[Node], nodes: list[Node]) -> DescriptorSummary:
    main = next((n for n in vnf_nodes if n.doc is docs[0]), vnf_nodes[0])
    props = ctx.effective(main)
    summary = DescriptorSummary(
        kind="vnf",
        descriptor_id=value_read.text(props.get("descriptor_id")),
        vendor=value_read.text(props.get("provider")),
        name=value_read.text(props.get("product_name")),
        version=value_read.text(props.get("software_version")) or value_read.text(props.get("descriptor_version")),
        description=value_read.text(props.get("product_info_description")),
    )
    # Each topology template with VDUs is one deployment flavour; the smallest gives the totals.
    flavours = []
    for doc in docs:
        in_doc = [n for n in nodes if n.doc is doc]
        vdus = [n for n in in_doc if ctx.derives("node_types", n.type, VDU)]
        if vdus:
            flavours.append(_resources(ctx, vdus, {n.name: n for n in in_doc}))
    if flavours:
        summary.vcpus, summary.memory_mb, summary.storage_gb = min(flavours)
    for node in nodes:
        if ctx.derives("node_types", node.type, (VDU, *STORAGE)):
            image = ctx.effective(node).get("sw_image_data")
            name = value_read.text(image.get("name")) if isinstance(image, dict) else ""
            if name and name not in summary.images:
                summary.images.append(name)
        elif ctx.derives("node_types", node.type, VIRTUAL_LINKS) and node.name not in summary.virtual_links:
            summary.virtual_links.append(node.name)
    # External connection points are what an NSD connects to: the requirements the VNF's flavours map.
    for doc in docs:
        topology = doc.data.get("topology_template")
        mappings = topology.get("substitution_mappings") if isinstance(topology, dict) else None
        requirements = mappings.get("requirements") if isinstance(mappings, dict) else None
        for name in requirements if isinstance(requirements, dict) else {}:
            if str(name) not in summary.connection_points:
                summary.connection_points.append(str(name))
    if not summary.connection_points:
        summary.connection_points = [n.name for n in nodes if ctx.derives("node_types", n.type, VNF_EXT_CP)]
    return summary


def ns_summary(ctx: Context, ns_nodes: list[Node], nodes: list[Node], lookup: VnfdLookup) -> DescriptorSummary:
    main = ns_nodes[0]
    props = ctx.effective(main)
    summary = DescriptorSummary(
        kind="ns",
        descriptor_id=value_read.text(props.get("descriptor_id")),
        vendor=value_read.text(props.get("designer")),
        name=value_read.text(props.get("name")),
        version=value_read.text(props.get("version")),
    )
    for node in nodes:
        if node.doc is not main.doc:
            continue
        if ctx.derives("node_types", node.type, VNF):
            vnfd_id = value_read.text(ctx.effective(node).get("descriptor_id"))
            if not vnfd_id:
                continue
            summary.constituent_vnfs.append(VnfRef(descriptor_id=vnfd_id))
            vnfd = lookup(VnfRef(descriptor_id=vnfd_id))
            if vnfd is None or vnfd.summary.kind != "vnf":
                ctx.add(
                    "integrity.unresolved-vnf",
                    f"the NSD needs VNFD {vnfd_id!r} (node {node.name}), which is "
                    "not in the repository; publish that VNF package first",
                    node.doc.path,
                    f"{node.at}/properties/descriptor_id",
                )
                continue
            summary.vcpus += vnfd.summary.vcpus
            summary.memory_mb += vnfd.summary.memory_mb
            summary.storage_gb += vnfd.summary.storage_gb
        elif ctx.derives("node_types", node.type, SAP):
            summary.connection_points.append(node.name)
        elif ctx.derives("node_types", node.type, VIRTUAL_LINKS):
            summary.virtual_links.append(node.name)
    return summary
