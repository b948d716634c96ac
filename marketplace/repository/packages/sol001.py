"""Validates the TOSCA descriptors of ETSI SOL004 packages (SOL001 VNFDs, minimally NSDs): the
import closure inside the package, node template syntax, references, artifacts and VNF topology."""

from __future__ import annotations

import posixpath
import re
from collections import deque
from typing import Any

from marketplace.repository.packages import values as value_read  # `values` names property values here
from marketplace.repository.packages import yamlsafe
from marketplace.repository.packages.problems import PackageRejected
from marketplace.repository.packages.sol001_model import CATEGORIES, NS, TOSCA_VERSIONS, VNF, Context, Doc, Node
from marketplace.repository.packages.sol001_properties import check_properties
from marketplace.repository.packages.sol001_summaries import ns_summary, vnf_summary
from marketplace.repository.packages.sol001_topology import check_substitutions, check_topology_template
from marketplace.repository.packages.types import (
    FormatResult,
    PackageInfo,
    PackageView,
    ParsedDescriptor,
    VnfdLookup,
)


def validate_etsi(view: PackageView, lookup: VnfdLookup, entry_definitions: str) -> FormatResult:
    """Validate the SOL001 descriptor `entry_definitions` (from TOSCA.meta) and everything it imports."""
    ctx = Context(view, set(view.paths))
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
        check_topology_template(ctx, doc, [n for n in nodes if n.doc is doc])
    check_substitutions(ctx, docs, nodes)

    ns_nodes = [n for n in nodes if ctx.derives("node_types", n.type, NS)]
    if ns_nodes:
        summary = ns_summary(ctx, ns_nodes, nodes, lookup)
    else:
        vnf_nodes = [n for n in nodes if ctx.derives("node_types", n.type, VNF)]
        if not vnf_nodes:
            ctx.add(
                "sol001.no-vnf",
                f"no node template of a type derived from {VNF} (or {NS})",
                entry,
                value_read.pointer("topology_template", "node_templates"),
            )
            return FormatResult(info=None, descriptors=[], problems=ctx.problems)
        summary = vnf_summary(ctx, docs, vnf_nodes, nodes)
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


def _load(ctx: Context, entry: str) -> list[Doc]:
    """The entry file and every file it imports, transitively, each once (imports may form cycles)."""
    docs: list[Doc] = []
    queued = {entry}
    pending = deque([entry])
    while pending:
        path = pending.popleft()
        try:
            data = value_read.plain(yamlsafe.load(ctx.view.read(path), file=path))
        except PackageRejected as exc:
            ctx.problems.extend(exc.problems)
            continue
        if not isinstance(data, dict):
            ctx.add("syntax.structure", "a TOSCA service template must be a YAML mapping", path, "/")
            continue
        doc = Doc(path, data)
        docs.append(doc)
        _check_version(ctx, doc)
        for target in _imports(ctx, doc):
            if target not in queued:
                queued.add(target)
                pending.append(target)
    return docs


def _check_version(ctx: Context, doc: Doc) -> None:
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


def _imports(ctx: Context, doc: Doc) -> list[str]:
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


def _collect_types(ctx: Context, doc: Doc) -> None:
    for category in CATEGORIES:
        section = doc.data.get(category)
        if section is None:
            continue
        if not isinstance(section, dict):
            ctx.add("syntax.structure", f"{category} must be a mapping", doc.path, value_read.pointer(category))
            continue
        for name, definition in section.items():
            if not isinstance(definition, dict):
                ctx.add(
                    "syntax.structure", f"type {name} must be a mapping", doc.path, value_read.pointer(category, name)
                )
                continue
            previous = ctx.types[category].get(name)
            if previous is not None and previous[0] != definition:
                ctx.add(
                    "syntax.duplicate-type",
                    f"{name} is also defined, differently, in {previous[1]}",
                    doc.path,
                    value_read.pointer(category, name),
                )
                continue
            ctx.types[category].setdefault(name, (definition, doc.path))


def _check_type_definitions(ctx: Context, doc: Doc) -> None:
    for category in CATEGORIES:
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
                        value_read.pointer(category, name, "derived_from"),
                    )
            properties = definition.get("properties")
            for prop, prop_def in (properties or {}).items() if isinstance(properties, dict) else ():
                prop_type = prop_def.get("type") if isinstance(prop_def, dict) else None
                if isinstance(prop_type, str) and not ctx.known("data_types", prop_type):
                    ctx.add(
                        "syntax.undefined-type",
                        f"property {prop} of {name} has type {prop_type}, which is not defined",
                        doc.path,
                        value_read.pointer(category, name, "properties", prop, "type"),
                    )


def _templates(ctx: Context, doc: Doc) -> list[Node]:
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
    nodes: list[Node] = []
    for name, body in templates.items():
        at = value_read.pointer("topology_template", "node_templates", name)
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            ctx.add("syntax.structure", f"node template {name} must be a mapping with a type", doc.path, at)
            continue
        node = Node(doc, str(name), body, ctx.canonical(body["type"]))
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
        check_properties(ctx, node)
    return nodes
