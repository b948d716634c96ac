"""Property values of SOL001 node templates and data types checked against their definitions."""

from __future__ import annotations

from typing import Any

from marketplace.repository.packages import values as value_read  # `values` names property values here
from marketplace.repository.packages.sol001_model import MAX_VALUE_DEPTH, VDU, Context, Json, Node, is_function


def check_properties(ctx: Context, node: Node) -> None:
    given = node.body.get("properties")
    if given is not None and not isinstance(given, dict):
        ctx.add("syntax.structure", "properties must be a mapping", node.doc.path, f"{node.at}/properties")
        return
    _check_required(
        ctx,
        node.doc.path,
        f"{node.at}/properties",
        f"node template {node.name}",
        ctx.merged("node_types", node.type, "properties"),
        given or {},
        0,
    )
    capabilities = node.body.get("capabilities")
    cap_defs = ctx.merged("node_types", node.type, "capabilities")
    if ctx.derives("node_types", node.type, VDU) and not (
        isinstance(capabilities, dict) and isinstance(capabilities.get("virtual_compute"), dict)
    ):
        ctx.add(
            "syntax.required-property",
            f"VDU {node.name} has no virtual_compute capability (its vCPU and memory)",
            node.doc.path,
            f"{node.at}/capabilities",
        )
    if not isinstance(capabilities, dict):
        return
    for name, capability in capabilities.items():
        cap_def = cap_defs.get(name)
        cap_type = cap_def.get("type") if isinstance(cap_def, dict) else cap_def
        if not isinstance(cap_type, str) or not isinstance(capability, dict):
            continue
        values = capability.get("properties")
        if isinstance(values, dict):
            _check_required(
                ctx,
                node.doc.path,
                f"{node.at}/capabilities/{name}/properties",
                f"capability {name} of {node.name}",
                ctx.merged("capability_types", cap_type, "properties"),
                values,
                0,
            )


def _check_required(ctx: Context, file: str, at: str, owner: str, definitions: Json, values: Json, depth: int) -> None:
    """Required properties (TOSCA: `required` defaults to true) without a default must have a value;
    values of complex data types are checked the same way, down their structure."""
    if depth > MAX_VALUE_DEPTH:
        return
    for name, definition in definitions.items():
        if not isinstance(definition, dict):
            continue
        value = values.get(name)
        if value is None:
            if definition.get("required", True) is not False and "default" not in definition:
                ctx.add("syntax.required-property", f"{owner} lacks the required property {name}", file, at)
            continue
        if is_function(value):
            continue
        _check_value(ctx, file, f"{at}/{value_read.pointer(name)[1:]}", f"{owner}.{name}", definition, value, depth + 1)


def _check_value(ctx: Context, file: str, at: str, owner: str, definition: Json, value: Any, depth: int) -> None:
    value_type = definition.get("type")
    entry = definition.get("entry_schema")
    entry_def = entry if isinstance(entry, dict) else {"type": entry} if isinstance(entry, str) else None
    if value_type == "list" and entry_def and isinstance(value, list):
        for i, item in enumerate(value):
            if not is_function(item):
                _check_value(ctx, file, f"{at}/{i}", f"{owner}[{i}]", entry_def, item, depth + 1)
    elif value_type == "map" and entry_def and isinstance(value, dict):
        for key, item in value.items():
            if not is_function(item):
                _check_value(
                    ctx, file, f"{at}/{value_read.pointer(key)[1:]}", f"{owner}.{key}", entry_def, item, depth + 1
                )
    elif isinstance(value_type, str) and value_type in ctx.types["data_types"] and isinstance(value, dict):
        _check_required(ctx, file, at, owner, ctx.merged("data_types", value_type, "properties"), value, depth)
