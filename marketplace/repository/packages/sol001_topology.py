"""A SOL001 topology template checked as a deployable whole: requirements and their targets, bindings,
substitution mappings, policies, inputs and artifacts.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from typing import Any

from marketplace.repository.packages import values as value_read  # `values` names property values here
from marketplace.repository.packages.problems import Severity
from marketplace.repository.packages.sol001_model import (
    MAX_VALUE_DEPTH,
    VDU,
    VDU_CP,
    VIRTUAL_LINKS,
    Context,
    Doc,
    Json,
    Node,
    is_function,
    single_key_items,
)


def check_topology_template(ctx: Context, doc: Doc, nodes: list[Node]) -> None:
    topology = doc.data.get("topology_template")
    if not isinstance(topology, dict):
        return
    by_name = {n.name: n for n in nodes}
    templates = topology.get("node_templates")
    names = set(templates) if isinstance(templates, dict) else set()
    inputs = topology.get("inputs")
    input_names = set(inputs) if isinstance(inputs, dict) else set()
    linked: set[str] = set()  # virtual links something connects to
    for node in nodes:
        linked.update(_check_requirements(ctx, node, by_name, names))
        _check_artifacts(ctx, node)
        _check_inputs(ctx, doc.path, node.body.get("properties"), f"{node.at}/properties", input_names, 0)
    linked.update(_check_substitution(ctx, doc, topology, by_name))
    _check_policies(ctx, doc, topology, names)

    for node in nodes:
        if ctx.derives("node_types", node.type, VDU_CP):
            _check_binding(ctx, node, by_name)
        if ctx.derives("node_types", node.type, VIRTUAL_LINKS) and node.name not in linked:
            # A warning, not an error: an unused internal network does not stop instantiation, and an NS may
            # still reach it through the VNF's external CPs; it is most likely a leftover, so it is shown.
            ctx.add(
                "topology.dangling-link",
                f"virtual link {node.name} is used by no connection point",
                doc.path,
                node.at,
                Severity.WARNING,
            )


def requirement_target(body: Any) -> str | None:
    if isinstance(body, str):
        return body
    if isinstance(body, dict) and isinstance(body.get("node"), str):
        return str(body["node"])
    return None


def _check_requirements(ctx: Context, node: Node, by_name: dict[str, Node], names: set[str]) -> set[str]:
    """Check each requirement of `node`; the names of the nodes they target."""
    requirements = node.body.get("requirements")
    if requirements is None:
        return set()
    at = f"{node.at}/requirements"
    if not isinstance(requirements, list):
        ctx.add("syntax.structure", "requirements must be a list", node.doc.path, at)
        return set()
    definitions = ctx.requirements(node.type)
    typed = node.type in ctx.types["node_types"]  # normative types' requirements are not listed here
    targets: set[str] = set()
    for i, item in enumerate(requirements):
        if not isinstance(item, dict) or len(item) != 1:
            ctx.add("syntax.structure", "each requirement is a mapping of one name", node.doc.path, f"{at}/{i}")
            continue
        name, body = next(iter(item.items()))
        where = f"{at}/{i}/{value_read.pointer(name)[1:]}"
        if typed and name not in definitions:
            ctx.add(
                "syntax.undefined-requirement",
                f"{node.type} defines no requirement {name} (it has: {', '.join(sorted(definitions)) or 'none'})",
                node.doc.path,
                where,
            )
            continue
        target = requirement_target(body)
        if target is None:
            continue
        if target not in names:
            if not ctx.known("node_types", ctx.canonical(target)):  # a node type: the orchestrator picks one
                ctx.add(
                    "integrity.unresolved-requirement",
                    f"requirement {name} of {node.name} names {target}, which is not a node template of this topology",
                    node.doc.path,
                    where,
                )
            continue
        targets.add(target)
        target_node = by_name.get(target)
        definition = definitions.get(name)
        if target_node is None or not isinstance(definition, dict) or name == "virtual_binding":
            continue  # virtual_binding is checked as topology (CPs bound to VDUs)
        wanted_node = definition.get("node")
        wanted_cap = definition.get("capability")
        if isinstance(wanted_node, str) and not ctx.derives("node_types", target_node.type, ctx.canonical(wanted_node)):
            ctx.add(
                "integrity.requirement-target-type",
                f"requirement {name} of {node.name} must target a {wanted_node}; {target} is a {target_node.type}",
                node.doc.path,
                where,
            )
        elif (
            isinstance(wanted_cap, str)
            and wanted_cap in ctx.types["capability_types"]
            and wanted_cap not in ctx.capability_types(target_node.type)
        ):
            ctx.add(
                "integrity.requirement-target-type",
                f"requirement {name} of {node.name} needs a {wanted_cap} "
                f"capability, which {target} ({target_node.type}) lacks",
                node.doc.path,
                where,
            )
    return targets


def _check_binding(ctx: Context, node: Node, by_name: dict[str, Node]) -> None:
    bindings = [
        (i, requirement_target(body))
        for i, name, body in single_key_items(node.body.get("requirements"))
        if name == "virtual_binding"
    ]
    if not bindings:
        ctx.add(
            "topology.unbound-cp",
            f"connection point {node.name} is bound to no VDU (no virtual_binding)",
            node.doc.path,
            node.at,
        )
    for i, target in bindings:
        target_node = by_name.get(target or "")
        if target_node is not None and not ctx.derives("node_types", target_node.type, VDU):
            ctx.add(
                "topology.unbound-cp",
                f"connection point {node.name} is bound to {target}, which is a {target_node.type}, not a VDU ({VDU})",
                node.doc.path,
                f"{node.at}/requirements/{i}/virtual_binding",
            )


def _check_substitution(ctx: Context, doc: Doc, topology: Json, by_name: dict[str, Node]) -> set[str]:
    mappings = topology.get("substitution_mappings")
    if mappings is None:
        return set()
    at = "/topology_template/substitution_mappings"
    if not isinstance(mappings, dict):
        ctx.add("syntax.structure", "substitution_mappings must be a mapping", doc.path, at)
        return set()
    node_type = mappings.get("node_type")
    substituted: str | None = None
    if not isinstance(node_type, str):
        ctx.add("syntax.structure", "substitution_mappings needs a node_type", doc.path, at)
    elif not ctx.known("node_types", ctx.canonical(node_type)):
        ctx.add(
            "syntax.undefined-type",
            f"substitution_mappings node_type {node_type} is not defined",
            doc.path,
            f"{at}/node_type",
        )
    else:
        substituted = ctx.canonical(node_type)
    used: set[str] = set()
    for section in ("requirements", "capabilities"):
        entries = mappings.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            ctx.add(
                "syntax.structure", f"substitution_mappings {section} must be a mapping", doc.path, f"{at}/{section}"
            )
            continue
        offered = (
            (
                ctx.requirements(substituted)
                if section == "requirements"
                else ctx.merged("node_types", substituted, "capabilities")
            )
            if substituted in ctx.types["node_types"]
            else None
        )
        for name, mapping in entries.items():
            where = f"{at}/{section}/{value_read.pointer(name)[1:]}"
            if isinstance(mapping, dict) and "mapping" in mapping:  # TOSCA 1.3 long form
                mapping = mapping["mapping"]
            if not (isinstance(mapping, list) and len(mapping) == 2 and all(isinstance(m, str) for m in mapping)):
                ctx.add(
                    "syntax.structure",
                    f"the {section[:-1]} mapping {name} must be [node template, {section[:-1]}]",
                    doc.path,
                    where,
                )
                continue
            if offered is not None and name not in offered:
                ctx.add(
                    "integrity.substitution-mapping",
                    f"{substituted} has no {section[:-1]} {name} to map (TOSCA 1.3 3.8.1; {LOOSE_MAPPING})",
                    doc.path,
                    where,
                    Severity.WARNING,
                )
            target, inner = mapping
            target_node = by_name.get(target)
            if target_node is None:
                ctx.add(
                    "integrity.substitution-mapping",
                    f"{section[:-1]} {name} is mapped to {target}, which is not a node template of this topology",
                    doc.path,
                    where,
                )
                continue
            used.add(target)
            inner_names = (
                ctx.requirements(target_node.type)
                if section == "requirements"
                else ctx.merged("node_types", target_node.type, "capabilities")
            )
            if target_node.type in ctx.types["node_types"] and inner not in inner_names:
                ctx.add(
                    "integrity.substitution-mapping",
                    f"{section[:-1]} {name} is mapped to {target}.{inner}, "
                    f"but {target_node.type} has no {section[:-1]} {inner} ({LOOSE_MAPPING})",
                    doc.path,
                    where,
                    Severity.WARNING,
                )
    return used


# Verdicts follow the reference implementation (README, NFV Repository): OpenStack's tosca-parser, with which
# Tacker onboards SOL004 packages, checks neither name of a substitution mapping, so a loose one is a warning;
# a mapping to a node template that does not exist leaves the substitution undeployable and stays an error.
LOOSE_MAPPING = "tosca-parser accepts it"


def _check_policies(ctx: Context, doc: Doc, topology: Json, names: set[str]) -> None:
    groups = topology.get("groups")
    known = names | (set(groups) if isinstance(groups, dict) else set())
    for i, name, policy in single_key_items(topology.get("policies")):
        targets = policy.get("targets") if isinstance(policy, dict) else None
        for j, target in enumerate(targets if isinstance(targets, list) else []):
            if not isinstance(target, str) or target not in known:
                ctx.add(
                    "integrity.unresolved-policy-target",
                    f"policy {name} targets {target}, which is neither a node template nor a group of this topology",
                    doc.path,
                    f"/topology_template/policies/{i}/{value_read.pointer(name)[1:]}/targets/{j}",
                )


def _check_inputs(ctx: Context, file: str, value: Any, at: str, inputs: set[str], depth: int) -> None:
    if depth > MAX_VALUE_DEPTH:
        return
    if isinstance(value, dict):
        if is_function(value) and "get_input" in value:
            wanted = value["get_input"]
            name = wanted[0] if isinstance(wanted, list) and wanted else wanted
            if isinstance(name, str) and name not in inputs:
                ctx.add(
                    "integrity.unresolved-input",
                    f"get_input names {name}, which is not an input of this topology template",
                    file,
                    f"{at}/get_input",
                )
            return
        for key, item in value.items():
            _check_inputs(ctx, file, item, f"{at}/{value_read.pointer(key)[1:]}", inputs, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_inputs(ctx, file, item, f"{at}/{i}", inputs, depth + 1)


def _check_artifacts(ctx: Context, node: Node) -> None:
    artifacts = node.body.get("artifacts")
    if artifacts is None:
        return
    if not isinstance(artifacts, dict):
        ctx.add("syntax.structure", "artifacts must be a mapping", node.doc.path, f"{node.at}/artifacts")
        return
    for name, artifact in artifacts.items():
        file = artifact.get("file") if isinstance(artifact, dict) else artifact
        where = f"{node.at}/artifacts/{value_read.pointer(name)[1:]}" + ("/file" if isinstance(artifact, dict) else "")
        if not isinstance(file, str):
            ctx.add("syntax.structure", f"artifact {name} of {node.name} names no file", node.doc.path, where)
            continue
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", file):
            continue  # an external artifact: the manifest lists and hashes it
        resolved = _artifact_path(ctx.paths, node.doc.path, file)
        if resolved is None:
            ctx.add(
                "integrity.artifact-outside-package",
                f"artifact {name} of {node.name} names {file}, which is outside the package",
                node.doc.path,
                where,
            )
        elif resolved not in ctx.paths:
            ctx.add(
                "integrity.missing-artifact",
                f"artifact {name} of {node.name} names {resolved}, which is not in the package",
                node.doc.path,
                where,
            )


def _artifact_path(paths: set[str], doc_path: str, file: str) -> str | None:
    """The package path an artifact names: relative to its descriptor (SOL001), or else to the package
    root (a common reading); None when it leaves the package."""
    if file.startswith("/"):
        return None
    candidates = [posixpath.normpath(posixpath.join(posixpath.dirname(doc_path), file)), posixpath.normpath(file)]
    inside = [c for c in candidates if c != ".." and not c.startswith("../")]
    if not inside:
        return None
    return next((c for c in inside if c in paths), inside[0])


UNBOUNDED = "UNBOUNDED"


def check_substitutions(ctx: Context, docs: list[Doc], nodes: list[Node]) -> None:
    """What tosca-parser refuses of substitutions and requirement counts, checked as it checks them (it is the
    reference for SOL001, README): the main template is `docs[0]`; an imported template substitutes a node
    template of the main template that has exactly its node_type and no interfaces, the last such import
    winning; an imported template substituting no such node is not checked."""
    main = docs[0]
    substituting: dict[str, Doc] = {}
    for doc in docs[1:]:
        node_type = _substitution_type(doc)
        if node_type is not None:
            substituting[node_type] = doc  # the last in import order
    main_type = _substitution_type(main)
    if main_type is not None:
        _check_substitution_inputs(ctx, main, main_type, [])
    for node in [n for n in nodes if n.doc is main]:
        nested = substituting.get(node.type) if not node.body.get("interfaces") else None
        if nested is not None:
            _check_substitution_inputs(ctx, nested, node.type, [node])
        _check_occurrences(ctx, node, nested, nodes)


def _substitution_type(doc: Doc) -> str | None:
    topology = doc.data.get("topology_template")
    mappings = topology.get("substitution_mappings") if isinstance(topology, dict) else None
    node_type = mappings.get("node_type") if isinstance(mappings, dict) else None
    return node_type if isinstance(node_type, str) else None


def _check_substitution_inputs(ctx: Context, doc: Doc, node_type: str, mapped: list[Node]) -> None:
    """A substituting topology's inputs stand for the substituted node's properties (TOSCA 1.3 3.8.1): each
    required property of the type without a default, and each property the substituted node template has
    (set there, or a default of its type), must be an input. tosca-parser refuses the template otherwise
    (MissingRequiredInputError). Only the package's own types are checked: their properties are known."""
    substituted = ctx.canonical(node_type)
    if substituted not in ctx.types["node_types"]:
        return
    topology = doc.data["topology_template"]
    inputs = topology.get("inputs")
    declared = set(inputs) if isinstance(inputs, dict) else set()
    properties = {
        name: body
        for name, body in ctx.merged("node_types", substituted, "properties").items()
        if isinstance(body, dict)
    }

    def defaulted(body: Json) -> bool:
        return body.get("default") is not None

    needed = {
        name for name, body in properties.items() if body.get("required", True) is not False and not defaulted(body)
    }
    for node in mapped:
        given = node.body.get("properties")
        needed |= {name for name in (given if isinstance(given, dict) else {}) if name in properties}
        needed |= {name for name, body in properties.items() if defaulted(body)}
    missing = sorted(needed - declared)
    if missing:
        ctx.add(
            "integrity.substitution-inputs",
            f"substitution_mappings for {substituted}: the substituted node's propert"
            f"{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)} must be inputs of this topology "
            "(TOSCA 1.3 3.8.1; tosca-parser refuses the template with MissingRequiredInputError)",
            doc.path,
            "/topology_template/substitution_mappings/node_type",
        )


def _check_occurrences(ctx: Context, node: Node, nested: Doc | None, nodes: list[Node]) -> None:
    """A node template of the main template assigns each requirement of its type within the requirement's
    occurrences ([1, UNBOUNDED] when the type names none), counting, for a substituted node, the mapped
    requirements of the template substituting it and those of that template's node of the same type."""
    if not ctx.known("node_types", node.type):
        return
    counts = Counter(name for _, name, _ in single_key_items(node.body.get("requirements")))
    if nested is not None:
        mapped = nested.data["topology_template"]["substitution_mappings"].get("requirements")
        counts.update(list(mapped) if isinstance(mapped, dict) else [])
        twin = next((n for n in nodes if n.doc is nested and n.type == node.type), None)
        if twin is not None:
            counts.update(name for _, name, _ in single_key_items(twin.body.get("requirements")))
    for name, body in ctx.requirements(node.type).items():
        low, high = _occurrences(body)
        if low is None:
            continue
        if counts[name] < low or (high is not None and counts[name] > high):
            bound = f"[{low}, {high if high is not None else UNBOUNDED}]"
            ctx.add(
                "integrity.requirement-occurrences",
                f"node template {node.name} assigns its requirement {name} {counts[name]} time"
                f"{'s' if counts[name] != 1 else ''}, its type {node.type} allows {bound} (TOSCA 1.3 occurrences; "
                "tosca-parser refuses the template)",
                node.doc.path,
                f"{node.at}/requirements",
            )


def _occurrences(body: Any) -> tuple[int | None, int | None]:
    """(lower, upper) of a requirement definition's occurrences; upper None when UNBOUNDED; lower None when
    they cannot be read (the type checks name that)."""
    occurrences = body.get("occurrences", [1, UNBOUNDED]) if isinstance(body, dict) else [1, UNBOUNDED]
    if not (isinstance(occurrences, list) and len(occurrences) == 2):
        return None, None
    low, high = occurrences
    if not isinstance(low, int) or isinstance(low, bool):
        return None, None
    if high == UNBOUNDED:
        return low, None
    return (low, high) if isinstance(high, int) and not isinstance(high, bool) else (None, None)
