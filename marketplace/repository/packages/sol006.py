"""Validates OSM packages (ETSI SOL006 VNFDs and NSDs in YAML) in three levels: syntax against
JSON Schemas derived from the SOL006 YANG models, reference integrity, and NS topology."""

from __future__ import annotations

import posixpath

from marketplace.repository.packages import values, yamlsafe
from marketplace.repository.packages.problems import PackageRejected, Problem, errors
from marketplace.repository.packages.sol006_nsd import VnfResolver, nsd_integrity, nsd_summary, nsd_topology
from marketplace.repository.packages.sol006_schema import (
    LEGACY_KEYS,
    NSD_KEYS,
    VNFD_KEYS,
    Checker,
    Found,
    check_keys,
    schema_problems,
)
from marketplace.repository.packages.sol006_vnfd import vnfd_integrity, vnfd_summary, warn_identity
from marketplace.repository.packages.types import (
    FormatResult,
    PackageInfo,
    PackageView,
    ParsedDescriptor,
    VnfdLookup,
)


def validate_osm(view: PackageView, lookup: VnfdLookup) -> FormatResult:
    """Validate an OSM package: one top folder holding one SOL006 VNFD or NSD in YAML."""
    problems: list[Problem] = []
    top = _top_folder(view.paths, problems)
    if top is None:
        return FormatResult(info=None, descriptors=[], problems=problems)
    found = _find_descriptors(view, top, problems)
    if not found:
        return FormatResult(info=None, descriptors=[], problems=problems)
    if len(found) > 1:
        problems.append(
            Problem(
                "sol006.several-descriptors",
                "an OSM package holds exactly one VNFD or NSD; found " + ", ".join(f.file for f in found),
                location=top,
            )
        )

    descriptors: list[ParsedDescriptor] = []
    in_package: dict[str, ParsedDescriptor] = {}
    # VNFDs first, so an NSD in the same package can resolve them.
    for item in sorted(found, key=lambda f: f.kind != "vnf"):
        checker = Checker(item.file)
        syntax = schema_problems(item.kind, item.document, item.file)
        checker.problems.extend(syntax)
        for base, body in item.bodies:
            if item.kind == "vnf":
                summary = vnfd_summary(body)
                warn_identity(checker, body, base)
                if not syntax:
                    check_keys(checker, item.kind, item.document)
                    vnfd_integrity(checker, body, base)
                parsed = ParsedDescriptor(file=item.file, document=item.document, summary=summary)
                in_package.setdefault(summary.descriptor_id, parsed)
            else:
                resolver = VnfResolver(in_package, lookup)
                if not syntax:
                    check_keys(checker, item.kind, item.document)
                    nsd_integrity(checker, body, base, resolver)
                    local = [p for p in errors(checker.problems) if p.rule != "integrity.unresolved-vnf"]
                    if not local:
                        nsd_topology(checker, body, base)
                summary = nsd_summary(body, resolver)
                parsed = ParsedDescriptor(file=item.file, document=item.document, summary=summary)
            descriptors.append(parsed)
        problems.extend(checker.problems)

    info = None
    if len(found) == 1 and len(descriptors) == 1:
        s = descriptors[0].summary
        info = PackageInfo(
            vendor=s.vendor,
            name=s.name,
            version=s.version,
            kind=s.kind,
            description=s.description,
            main_descriptor=descriptors[0].file,
        )
    return FormatResult(info=info, descriptors=descriptors, problems=problems)


def _top_folder(paths: list[str], problems: list[Problem]) -> str | None:
    if not paths:
        problems.append(Problem("sol006.layout", "the package is empty"))
        return None
    loose = [p for p in paths if "/" not in p]
    folders = sorted({p.split("/", 1)[0] for p in paths if "/" in p})
    if len(folders) != 1:
        problems.append(
            Problem(
                "sol006.layout",
                f"an OSM package holds one top folder; found {len(folders)}"
                + (f" ({', '.join(folders[:5])})" if folders else ""),
            )
        )
        return None
    if loose:
        problems.append(
            Problem(
                "sol006.layout",
                f"an OSM package holds one top folder and nothing beside it; found {', '.join(loose[:5])}",
                location=loose[0],
            )
        )
    return folders[0]


def _find_descriptors(view: PackageView, top: str, problems: list[Problem]) -> list[Found]:
    yaml_files = [p for p in view.paths if posixpath.dirname(p) == top and p.lower().endswith((".yaml", ".yml"))]
    found: list[Found] = []
    unreadable = False
    for path in yaml_files:
        try:
            document = values.plain(yamlsafe.load(view.read(path), file=path))
        except PackageRejected as exc:
            problems.extend(exc.problems)
            unreadable = True
            continue
        if not isinstance(document, dict):
            continue
        legacy = [k for k in LEGACY_KEYS if k in document]
        if legacy:
            problems.append(
                Problem(
                    "sol006.legacy-format",
                    f"{legacy[0]} is OSM's information model before release NINE, not SOL006; "
                    "migrate the descriptor to SOL006 (vnfd: / nsd:)",
                    file=path,
                    location=values.pointer(legacy[0]),
                )
            )
            continue
        for key in (*VNFD_KEYS, *NSD_KEYS):
            if key in document:
                found.append(Found(path, "vnf" if key in VNFD_KEYS else "ns", key, document))
    if not found and not unreadable and not any(p.rule == "sol006.legacy-format" for p in problems):
        looked = ", ".join(yaml_files) if yaml_files else "no YAML files"
        problems.append(
            Problem(
                "sol006.no-descriptor",
                f"no YAML file in {top}/ has a top-level vnfd or nsd key (looked at: {looked})",
                location=top,
            )
        )
    # A file with both keys counts twice, so it is reported as several descriptors.
    return found
