"""Validates the TOSCA descriptors of ETSI SOL004 packages (SOL001 VNFDs, minimally NSDs): the
import closure inside the package, node template syntax, references, artifacts and VNF topology."""

from __future__ import annotations

import datetime
import posixpath
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from marketplace.repository.packages import yamlsafe
from marketplace.repository.packages.problems import PackageRejected, Problem, Severity
from marketplace.repository.packages.types import (
    DescriptorSummary,
    FormatResult,
    PackageInfo,
    PackageView,
    ParsedDescriptor,
    VnfdLookup,
    VnfRef,
)

Json = dict[str, Any]

TOSCA_VERSIONS = ("tosca_simple_yaml_1_2", "tosca_simple_yaml_1_3")

VNF = "tosca.nodes.nfv.VNF"
NS = "tosca.nodes.nfv.NS"
VDU = "tosca.nodes.nfv.Vdu.Compute"
VDU_CP = "tosca.nodes.nfv.VduCp"
VNF_EXT_CP = "tosca.nodes.nfv.VnfExtCp"
SAP = "tosca.nodes.nfv.Sap"
STORAGE = ("tosca.nodes.nfv.Vdu.VirtualBlockStorage", "tosca.nodes.nfv.Vdu.VirtualFileStorage")
VIRTUAL_LINKS = ("tosca.nodes.nfv.VnfVirtualLink", "tosca.nodes.nfv.NsVirtualLink")

_CATEGORIES = (
    "node_types",
    "data_types",
    "capability_types",
    "relationship_types",
    "artifact_types",
    "policy_types",
    "group_types",
    "interface_types",
)
_PRIMITIVES = set(
    [
        "string",
        "integer",
        "float",
        "boolean",
        "timestamp",
        "null",
        "version",
        "range",
        "list",
        "map",
        "scalar-unit.size",
        "scalar-unit.time",
        "scalar-unit.frequency",
        "scalar-unit.bitrate",
    ]
)
# The TOSCA Simple Profile 1.2/1.3 normative types: always defined, never shipped in a package.
_NORMATIVE: dict[str, set[str]] = {
    "node_types": {
        f"tosca.nodes.{n}"
        for n in [
            "Root",
            "Abstract.Compute",
            "Compute",
            "SoftwareComponent",
            "WebServer",
            "WebApplication",
            "DBMS",
            "Database",
            "Abstract.Storage",
            "Storage.ObjectStorage",
            "Storage.BlockStorage",
            "ObjectStorage",
            "BlockStorage",
            "Container.Runtime",
            "Container.Application",
            "LoadBalancer",
            "network.Network",
            "network.Port",
        ]
    },
    "data_types": {
        f"tosca.datatypes.{n}"
        for n in [
            "Root",
            "Credential",
            "TimeInterval",
            "json",
            "xml",
            "network.NetworkInfo",
            "network.PortInfo",
            "network.PortDef",
            "network.PortSpec",
        ]
    },
    "capability_types": {
        f"tosca.capabilities.{n}"
        for n in [
            "Root",
            "Node",
            "Compute",
            "Network",
            "Storage",
            "Container",
            "Endpoint",
            "Endpoint.Public",
            "Endpoint.Admin",
            "Endpoint.Database",
            "Attachment",
            "OperatingSystem",
            "Scalable",
            "network.Bindable",
            "network.Linkable",
        ]
    },
    "relationship_types": {
        f"tosca.relationships.{n}"
        for n in [
            "Root",
            "DependsOn",
            "HostedOn",
            "ConnectsTo",
            "AttachesTo",
            "RoutesTo",
            "network.LinksTo",
            "network.BindsTo",
        ]
    },
    "artifact_types": {
        f"tosca.artifacts.{n}"
        for n in [
            "Root",
            "File",
            "Deployment",
            "Deployment.Image",
            "Deployment.Image.VM",
            "Implementation",
            "Implementation.Bash",
            "Implementation.Python",
            "template",
        ]
    },
    "policy_types": {f"tosca.policies.{n}" for n in ["Root", "Placement", "Scaling", "Update", "Performance"]},
    "group_types": {"tosca.groups.Root"},
    "interface_types": {f"tosca.interfaces.{n}" for n in ["Root", "node.lifecycle.Standard", "relationship.Configure"]},
}
# Normative node types may be named by their short name ("Compute").
_SHORT_NODE_TYPES = {n.removeprefix("tosca.nodes."): n for n in _NORMATIVE["node_types"]}
_FUNCTIONS = set(
    [
        "get_input",
        "get_property",
        "get_attribute",
        "get_operation_output",
        "get_nodes_of_type",
        "get_artifact",
        "concat",
        "join",
        "token",
    ]
)
_SCALAR = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*$")
# Sizes in MB. Decimal and binary prefixes read alike, as compute flavours do ("1 GB" of memory is 1024 MB),
# which keeps these totals comparable with the OSM ones.
_SIZE_UNITS_MB = {"b": 1 / 1024**2, "kb": 1 / 1024, "mb": 1.0, "gb": 1024.0, "tb": 1024.0**2}
_MAX_VALUE_DEPTH = 16


def _pointer(*parts: object) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _plain(value: Any) -> Any:
    """The value as JSON data: YAML timestamps become ISO strings, mapping keys strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


def _is_function(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _FUNCTIONS


def _single_key_items(value: Any) -> list[tuple[int, str, Any]]:
    """(index, name, body) of a TOSCA list of single-key maps (requirements, policies, imports)."""
    if not isinstance(value, list):
        return []
    return [
        (i, str(next(iter(item))), next(iter(item.values())))
        for i, item in enumerate(value)
        if isinstance(item, dict) and len(item) == 1
    ]


@dataclass
class _Doc:
    path: str
    data: Json


@dataclass
class _Node:
    doc: _Doc
    name: str
    body: Json
    type: str

    @property
    def at(self) -> str:
        return _pointer("topology_template", "node_templates", self.name)


@dataclass
class _Context:
    view: PackageView
    paths: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    types: dict[str, dict[str, tuple[Json, str]]] = field(default_factory=lambda: {c: {} for c in _CATEGORIES})
    # Filled once every type is collected; the checks ask for the same few chains many times.
    _chains: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def add(self, rule: str, message: str, file: str, location: str, severity: Severity = Severity.ERROR) -> None:
        self.problems.append(Problem(rule, message, file=file, location=location, severity=severity))

    # ----------------------------------------------------------------- type system

    def known(self, category: str, name: str) -> bool:
        return (
            name in self.types[category]
            or name in _NORMATIVE[category]
            or (category == "data_types" and name in _PRIMITIVES)
        )

    def canonical(self, name: str) -> str:
        return _SHORT_NODE_TYPES.get(name, name) if name not in self.types["node_types"] else name

    def chain(self, category: str, name: str) -> list[str]:
        """`name` and its ancestors, most derived first; stops at an unknown or repeated type."""
        cached = self._chains.get((category, name))
        if cached is not None:
            return cached
        out: list[str] = []
        current: str | None = self.canonical(name) if category == "node_types" else name
        while current and current not in out:
            out.append(current)
            definition = self.types[category].get(current)
            parent = definition[0].get("derived_from") if definition else None
            current = str(parent) if isinstance(parent, str) else None
            if current and category == "node_types":
                current = self.canonical(current)
        self._chains[(category, name)] = out
        return out

    def derives(self, category: str, name: str, base: str | tuple[str, ...]) -> bool:
        bases = (base,) if isinstance(base, str) else base
        return any(b in self.chain(category, name) for b in bases)

    def merged(self, category: str, name: str, section: str) -> Json:
        """The `section` mapping (properties, capabilities...) of a type, inherited entries included."""
        merged: Json = {}
        for type_name in reversed(self.chain(category, name)):
            definition = self.types[category].get(type_name)
            part = definition[0].get(section) if definition else None
            if isinstance(part, dict):
                merged.update(part)
        return merged

    def requirements(self, node_type: str) -> Json:
        merged: Json = {}
        for type_name in reversed(self.chain("node_types", node_type)):
            definition = self.types["node_types"].get(type_name)
            for _, name, body in _single_key_items(definition[0].get("requirements") if definition else None):
                merged[name] = body
        return merged

    def capability_types(self, node_type: str) -> set[str]:
        out: set[str] = set()
        for body in self.merged("node_types", node_type, "capabilities").values():
            cap_type = body.get("type") if isinstance(body, dict) else body
            if isinstance(cap_type, str):
                out.update(self.chain("capability_types", cap_type))
        return out

    def effective(self, node: _Node) -> Json:
        """Property values of a node template, type defaults filling what it leaves out or computes."""
        values: Json = {}
        for name, definition in self.merged("node_types", node.type, "properties").items():
            if isinstance(definition, dict) and "default" in definition:
                values[name] = definition["default"]
        given = node.body.get("properties")
        if isinstance(given, dict):
            values.update({k: v for k, v in given.items() if not _is_function(v) or k not in values})
        return values


# --------------------------------------------------------------------------- entry point


def validate_etsi(view: PackageView, lookup: VnfdLookup, entry_definitions: str) -> FormatResult:
    """Validate the SOL001 descriptor `entry_definitions` (from TOSCA.meta) and everything it imports."""
    ctx = _Context(view, set(view.paths))
    entry = posixpath.normpath(entry_definitions.strip().lstrip("/")) if entry_definitions.strip() else ""
    if entry not in ctx.paths:
        meta = "TOSCA-Metadata/TOSCA.meta"
        ctx.add(
            "sol001.entry-missing",
            f"Entry-Definitions names {entry_definitions!r}, which is not in the package",
            meta if meta in ctx.paths else "",
            "Entry-Definitions",
        )
        return FormatResult(info=None, descriptors=[], problems=ctx.problems)
    docs = _load(ctx, entry)
    if not docs or docs[0].path != entry:
        return FormatResult(info=None, descriptors=[], problems=ctx.problems)
    for doc in docs:
        _collect_types(ctx, doc)
    for doc in docs:
        _check_type_definitions(ctx, doc)
    nodes = [node for doc in docs for node in _templates(ctx, doc)]
    for doc in docs:
        _check_topology_template(ctx, doc, [n for n in nodes if n.doc is doc])

    ns_nodes = [n for n in nodes if ctx.derives("node_types", n.type, NS)]
    if ns_nodes:
        summary = _ns_summary(ctx, ns_nodes, nodes, lookup)
    else:
        vnf_nodes = [n for n in nodes if ctx.derives("node_types", n.type, VNF)]
        if not vnf_nodes:
            ctx.add(
                "sol001.no-vnf",
                f"no node template of a type derived from {VNF} (or {NS})",
                entry,
                _pointer("topology_template", "node_templates"),
            )
            return FormatResult(info=None, descriptors=[], problems=ctx.problems)
        summary = _vnf_summary(ctx, docs, vnf_nodes, nodes)
    description = docs[0].data.get("description")
    if not summary.description and isinstance(description, str):
        summary.description = description
    parsed = ParsedDescriptor(file=entry, document=docs[0].data, summary=summary)
    info = PackageInfo(
        vendor=summary.vendor,
        name=summary.name,
        version=summary.version,
        kind=summary.kind,
        description=summary.description,
        main_descriptor=entry,
    )
    return FormatResult(info=info, descriptors=[parsed], problems=ctx.problems)


# --------------------------------------------------------------------------- loading


def _load(ctx: _Context, entry: str) -> list[_Doc]:
    """The entry file and every file it imports, transitively, each once (imports may form cycles)."""
    docs: list[_Doc] = []
    queued = {entry}
    pending = deque([entry])
    while pending:
        path = pending.popleft()
        try:
            data = _plain(yamlsafe.load(ctx.view.read(path), file=path))
        except PackageRejected as exc:
            ctx.problems.extend(exc.problems)
            continue
        if not isinstance(data, dict):
            ctx.add("syntax.structure", "a TOSCA service template must be a YAML mapping", path, "/")
            continue
        doc = _Doc(path, data)
        docs.append(doc)
        _check_version(ctx, doc)
        for target in _imports(ctx, doc):
            if target not in queued:
                queued.add(target)
                pending.append(target)
    return docs


def _check_version(ctx: _Context, doc: _Doc) -> None:
    version = doc.data.get("tosca_definitions_version")
    if version is None:
        ctx.add("syntax.tosca-version", "tosca_definitions_version is missing", doc.path, "/")
    elif version not in TOSCA_VERSIONS:
        ctx.add(
            "syntax.tosca-version",
            f"tosca_definitions_version {version!r} is not one of {', '.join(TOSCA_VERSIONS)}",
            doc.path,
            "/tosca_definitions_version",
        )


def _imports(ctx: _Context, doc: _Doc) -> list[str]:
    imports = doc.data.get("imports")
    if imports is None:
        return []
    if not isinstance(imports, list):
        ctx.add("syntax.structure", "imports must be a list", doc.path, "/imports")
        return []
    targets: list[str] = []
    for i, item in enumerate(imports):
        at = f"/imports/{i}"
        name, repository = _import_file(item)
        if name is None:
            ctx.add("syntax.structure", "an import names no file", doc.path, at)
            continue
        if repository is not None or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", name):
            ctx.add(
                "sol001.import-outside-package",
                f"import {name!r} is fetched from outside the package "
                "(a URL or a repository); every import must be a file in the package",
                doc.path,
                at,
            )
            continue
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(doc.path), name))
        if name.startswith("/") or resolved == ".." or resolved.startswith("../"):
            ctx.add(
                "sol001.import-outside-package",
                f"import {name!r} leaves the package (resolves relative to {doc.path} to {resolved})",
                doc.path,
                at,
            )
            continue
        if resolved not in ctx.paths:
            ctx.add(
                "sol001.import-missing",
                f"import {name!r} resolves to {resolved}, which is not in the package",
                doc.path,
                at,
            )
            continue
        targets.append(resolved)
    return targets


def _import_file(item: Any) -> tuple[str | None, str | None]:
    """(file, repository) of one import in any of TOSCA's spellings."""
    if isinstance(item, str):
        return item, None
    if isinstance(item, dict):
        if "file" in item:
            repository = item.get("repository")
            return (str(item["file"]) if item["file"] is not None else None), (
                str(repository) if repository is not None else None
            )
        if len(item) == 1:  # TOSCA 1.0 style: - name: file.yaml / - name: {file: ...}
            return _import_file(next(iter(item.values())))
    return None, None


# --------------------------------------------------------------------------- type definitions


def _collect_types(ctx: _Context, doc: _Doc) -> None:
    for category in _CATEGORIES:
        section = doc.data.get(category)
        if section is None:
            continue
        if not isinstance(section, dict):
            ctx.add("syntax.structure", f"{category} must be a mapping", doc.path, _pointer(category))
            continue
        for name, definition in section.items():
            if not isinstance(definition, dict):
                ctx.add("syntax.structure", f"type {name} must be a mapping", doc.path, _pointer(category, name))
                continue
            previous = ctx.types[category].get(name)
            if previous is not None and previous[0] != definition:
                ctx.add(
                    "syntax.duplicate-type",
                    f"{name} is also defined, differently, in {previous[1]}",
                    doc.path,
                    _pointer(category, name),
                )
                continue
            ctx.types[category].setdefault(name, (definition, doc.path))


def _check_type_definitions(ctx: _Context, doc: _Doc) -> None:
    for category in _CATEGORIES:
        section = doc.data.get(category)
        if not isinstance(section, dict):
            continue
        for name, definition in section.items():
            if not isinstance(definition, dict):
                continue
            parent = definition.get("derived_from")
            if isinstance(parent, str) and category != "interface_types":
                parent_name = ctx.canonical(parent) if category == "node_types" else parent
                if not ctx.known(category, parent_name):
                    ctx.add(
                        "syntax.undefined-type",
                        f"{name} derives from {parent}, which is not defined",
                        doc.path,
                        _pointer(category, name, "derived_from"),
                    )
            properties = definition.get("properties")
            for prop, prop_def in (properties or {}).items() if isinstance(properties, dict) else ():
                prop_type = prop_def.get("type") if isinstance(prop_def, dict) else None
                if isinstance(prop_type, str) and not ctx.known("data_types", prop_type):
                    ctx.add(
                        "syntax.undefined-type",
                        f"property {prop} of {name} has type {prop_type}, which is not defined",
                        doc.path,
                        _pointer(category, name, "properties", prop, "type"),
                    )


# --------------------------------------------------------------------------- node templates


def _templates(ctx: _Context, doc: _Doc) -> list[_Node]:
    topology = doc.data.get("topology_template")
    if topology is None:
        return []
    if not isinstance(topology, dict):
        ctx.add("syntax.structure", "topology_template must be a mapping", doc.path, "/topology_template")
        return []
    templates = topology.get("node_templates")
    if templates is None:
        return []
    if not isinstance(templates, dict):
        ctx.add("syntax.structure", "node_templates must be a mapping", doc.path, "/topology_template/node_templates")
        return []
    nodes: list[_Node] = []
    for name, body in templates.items():
        at = _pointer("topology_template", "node_templates", name)
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            ctx.add("syntax.structure", f"node template {name} must be a mapping with a type", doc.path, at)
            continue
        node = _Node(doc, str(name), body, ctx.canonical(body["type"]))
        if not ctx.known("node_types", node.type):
            ctx.add(
                "syntax.undefined-type",
                f"node template {name} has type {body['type']}, which is not defined "
                "in the imported type definitions nor a TOSCA normative type",
                doc.path,
                f"{at}/type",
            )
            continue
        nodes.append(node)
        _check_properties(ctx, node)
    return nodes


def _check_properties(ctx: _Context, node: _Node) -> None:
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


def _check_required(ctx: _Context, file: str, at: str, owner: str, definitions: Json, values: Json, depth: int) -> None:
    """Required properties (TOSCA: `required` defaults to true) without a default must have a value;
    values of complex data types are checked the same way, down their structure."""
    if depth > _MAX_VALUE_DEPTH:
        return
    for name, definition in definitions.items():
        if not isinstance(definition, dict):
            continue
        value = values.get(name)
        if value is None:
            if definition.get("required", True) is not False and "default" not in definition:
                ctx.add("syntax.required-property", f"{owner} lacks the required property {name}", file, at)
            continue
        if _is_function(value):
            continue
        _check_value(ctx, file, f"{at}/{_pointer(name)[1:]}", f"{owner}.{name}", definition, value, depth + 1)


def _check_value(ctx: _Context, file: str, at: str, owner: str, definition: Json, value: Any, depth: int) -> None:
    value_type = definition.get("type")
    entry = definition.get("entry_schema")
    entry_def = entry if isinstance(entry, dict) else {"type": entry} if isinstance(entry, str) else None
    if value_type == "list" and entry_def and isinstance(value, list):
        for i, item in enumerate(value):
            if not _is_function(item):
                _check_value(ctx, file, f"{at}/{i}", f"{owner}[{i}]", entry_def, item, depth + 1)
    elif value_type == "map" and entry_def and isinstance(value, dict):
        for key, item in value.items():
            if not _is_function(item):
                _check_value(ctx, file, f"{at}/{_pointer(key)[1:]}", f"{owner}.{key}", entry_def, item, depth + 1)
    elif isinstance(value_type, str) and value_type in ctx.types["data_types"] and isinstance(value, dict):
        _check_required(ctx, file, at, owner, ctx.merged("data_types", value_type, "properties"), value, depth)


# --------------------------------------------------------------------------- one topology template


def _check_topology_template(ctx: _Context, doc: _Doc, nodes: list[_Node]) -> None:
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


def _requirement_target(body: Any) -> str | None:
    if isinstance(body, str):
        return body
    if isinstance(body, dict) and isinstance(body.get("node"), str):
        return str(body["node"])
    return None


def _check_requirements(ctx: _Context, node: _Node, by_name: dict[str, _Node], names: set[str]) -> set[str]:
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
        where = f"{at}/{i}/{_pointer(name)[1:]}"
        if typed and name not in definitions:
            ctx.add(
                "syntax.undefined-requirement",
                f"{node.type} defines no requirement {name} (it has: {', '.join(sorted(definitions)) or 'none'})",
                node.doc.path,
                where,
            )
            continue
        target = _requirement_target(body)
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


def _check_binding(ctx: _Context, node: _Node, by_name: dict[str, _Node]) -> None:
    bindings = [
        (i, _requirement_target(body))
        for i, name, body in _single_key_items(node.body.get("requirements"))
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


def _check_substitution(ctx: _Context, doc: _Doc, topology: Json, by_name: dict[str, _Node]) -> set[str]:
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
            where = f"{at}/{section}/{_pointer(name)[1:]}"
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
                    f"{substituted} has no {section[:-1]} {name} to map",
                    doc.path,
                    where,
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
                    f"but {target_node.type} has no {section[:-1]} {inner}",
                    doc.path,
                    where,
                )
    return used


def _check_policies(ctx: _Context, doc: _Doc, topology: Json, names: set[str]) -> None:
    groups = topology.get("groups")
    known = names | (set(groups) if isinstance(groups, dict) else set())
    for i, name, policy in _single_key_items(topology.get("policies")):
        targets = policy.get("targets") if isinstance(policy, dict) else None
        for j, target in enumerate(targets if isinstance(targets, list) else []):
            if not isinstance(target, str) or target not in known:
                ctx.add(
                    "integrity.unresolved-policy-target",
                    f"policy {name} targets {target}, which is neither a node template nor a group of this topology",
                    doc.path,
                    f"/topology_template/policies/{i}/{_pointer(name)[1:]}/targets/{j}",
                )


def _check_inputs(ctx: _Context, file: str, value: Any, at: str, inputs: set[str], depth: int) -> None:
    if depth > _MAX_VALUE_DEPTH:
        return
    if isinstance(value, dict):
        if _is_function(value) and "get_input" in value:
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
            _check_inputs(ctx, file, item, f"{at}/{_pointer(key)[1:]}", inputs, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_inputs(ctx, file, item, f"{at}/{i}", inputs, depth + 1)


def _check_artifacts(ctx: _Context, node: _Node) -> None:
    artifacts = node.body.get("artifacts")
    if artifacts is None:
        return
    if not isinstance(artifacts, dict):
        ctx.add("syntax.structure", "artifacts must be a mapping", node.doc.path, f"{node.at}/artifacts")
        return
    for name, artifact in artifacts.items():
        file = artifact.get("file") if isinstance(artifact, dict) else artifact
        where = f"{node.at}/artifacts/{_pointer(name)[1:]}" + ("/file" if isinstance(artifact, dict) else "")
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


# --------------------------------------------------------------------------- summaries


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value)


def _scalar_mb(ctx: _Context, node: _Node, value: Any, where: str) -> float | None:
    if value is None or _is_function(value):
        return None
    match = _SCALAR.match(str(value))
    unit = _SIZE_UNITS_MB.get(match.group(2).lower().replace("ib", "b")) if match else None
    if match is None or unit is None:
        ctx.add(
            "syntax.scalar-unit",
            f"{value!r} is not a TOSCA scalar-unit.size such as '512 MB' or '1 GB'",
            node.doc.path,
            where,
        )
        return None
    return float(match.group(1)) * unit


def _resources(ctx: _Context, vdus: list[_Node], by_name: dict[str, _Node]) -> tuple[int, int, float]:
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
        for _, name, body in _single_key_items(vdu.body.get("requirements")):
            target = by_name.get(_requirement_target(body) or "")
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


def _vnf_summary(ctx: _Context, docs: list[_Doc], vnf_nodes: list[_Node], nodes: list[_Node]) -> DescriptorSummary:
    main = next((n for n in vnf_nodes if n.doc is docs[0]), vnf_nodes[0])
    props = ctx.effective(main)
    summary = DescriptorSummary(
        kind="vnf",
        descriptor_id=_text(props.get("descriptor_id")),
        vendor=_text(props.get("provider")),
        name=_text(props.get("product_name")),
        version=_text(props.get("software_version")) or _text(props.get("descriptor_version")),
        description=_text(props.get("product_info_description")),
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
            name = _text(image.get("name")) if isinstance(image, dict) else ""
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


def _ns_summary(ctx: _Context, ns_nodes: list[_Node], nodes: list[_Node], lookup: VnfdLookup) -> DescriptorSummary:
    main = ns_nodes[0]
    props = ctx.effective(main)
    summary = DescriptorSummary(
        kind="ns",
        descriptor_id=_text(props.get("descriptor_id")),
        vendor=_text(props.get("designer")),
        name=_text(props.get("name")),
        version=_text(props.get("version")),
    )
    for node in nodes:
        if node.doc is not main.doc:
            continue
        if ctx.derives("node_types", node.type, VNF):
            vnfd_id = _text(ctx.effective(node).get("descriptor_id"))
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
