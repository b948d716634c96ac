"""The TOSCA vocabulary SOL001 validation reads (normative and NFV types, functions, units) and the
validation context: the loaded documents, their merged type definitions and node templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from marketplace.repository.packages import values as value_read  # `values` names property values here
from marketplace.repository.packages.problems import Problem, Severity
from marketplace.repository.packages.types import (
    PackageView,
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


CATEGORIES = (
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


SCALAR = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*$")


# Sizes in MB. Decimal and binary prefixes read alike, as compute flavours do ("1 GB" of memory is 1024 MB),
# which keeps these totals comparable with the OSM ones.
SIZE_UNITS_MB = {"b": 1 / 1024**2, "kb": 1 / 1024, "mb": 1.0, "gb": 1024.0, "tb": 1024.0**2}


MAX_VALUE_DEPTH = 16


def is_function(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _FUNCTIONS


def single_key_items(value: Any) -> list[tuple[int, str, Any]]:
    """(index, name, body) of a TOSCA list of single-key maps (requirements, policies, imports)."""
    if not isinstance(value, list):
        return []
    return [
        (i, str(next(iter(item))), next(iter(item.values())))
        for i, item in enumerate(value)
        if isinstance(item, dict) and len(item) == 1
    ]


@dataclass
class Doc:
    path: str
    data: Json


@dataclass
class Node:
    doc: Doc
    name: str
    body: Json
    type: str

    @property
    def at(self) -> str:
        return value_read.pointer("topology_template", "node_templates", self.name)


@dataclass
class Context:
    view: PackageView
    paths: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    types: dict[str, dict[str, tuple[Json, str]]] = field(default_factory=lambda: {c: {} for c in CATEGORIES})
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
            for _, name, body in single_key_items(definition[0].get("requirements") if definition else None):
                merged[name] = body
        return merged

    def capability_types(self, node_type: str) -> set[str]:
        out: set[str] = set()
        for body in self.merged("node_types", node_type, "capabilities").values():
            cap_type = body.get("type") if isinstance(body, dict) else body
            if isinstance(cap_type, str):
                out.update(self.chain("capability_types", cap_type))
        return out

    def effective(self, node: Node) -> Json:
        """Property values of a node template, type defaults filling what it leaves out or computes."""
        values: Json = {}
        for name, definition in self.merged("node_types", node.type, "properties").items():
            if isinstance(definition, dict) and "default" in definition:
                values[name] = definition["default"]
        given = node.body.get("properties")
        if isinstance(given, dict):
            values.update({k: v for k, v in given.items() if not is_function(v) or k not in values})
        return values
