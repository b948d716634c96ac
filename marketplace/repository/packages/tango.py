"""Validates a 5GTANGO package: its NAPD, then each VNFD and NSD it lists, for syntax (our JSON Schemas),
integrity (every reference resolves) and topology (an NS is one connected graph)."""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass
from typing import Any

from marketplace.repository.packages.problems import Problem, Severity
from marketplace.repository.packages.tango_nsd import check_nsd
from marketplace.repository.packages.tango_reading import (
    add_unique,
    dangling,
    descriptor_id,
    duplicates,
    entries,
    ids,
    load,
    package_path,
    string,
)
from marketplace.repository.packages.tango_schema import SchemaName, schema_problems, schema_validator, short
from marketplace.repository.packages.types import (
    DescriptorSummary,
    FormatResult,
    Kind,
    PackageInfo,
    PackageView,
    ParsedDescriptor,
    VnfdLookup,
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


_UNIT_KEYS = ("virtual_deployment_units", "cloudnative_deployment_units", "physical_deployment_units")


def _json_number(value: object) -> float | None:
    """A JSON number (never a numeric string: 5GTANGO's schema types sizes as numbers), else None."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _size_in_mb(requirement: object) -> float:
    if not isinstance(requirement, dict):
        return 0.0
    size = _json_number(requirement.get("size"))
    unit = requirement.get("size_unit", _DEFAULT_SIZE_UNIT)
    if size is None or not isinstance(unit, str) or unit not in _MB_PER_UNIT:
        return 0.0
    return size * _MB_PER_UNIT[unit]


def summarize_vnfd(document: dict[str, Any]) -> DescriptorSummary:
    """Resource totals over the deployment units (one instance each), images, external CPs and links."""
    vcpus = 0
    memory_mb = 0.0
    storage_mb = 0.0
    images: list[str] = []
    for key in ("virtual_deployment_units", "cloudnative_deployment_units"):
        for _, unit in entries(document, key):
            resources = unit.get("resource_requirements")
            if isinstance(resources, dict):
                cpu = resources.get("cpu")
                count = cpu.get("vcpus") if isinstance(cpu, dict) else None
                if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                    vcpus += count
                memory_mb += _size_in_mb(resources.get("memory"))
                storage_mb += _size_in_mb(resources.get("storage"))
            add_unique(images, unit.get("vm_image") if key == "virtual_deployment_units" else unit.get("image"))
            for _, alternative in entries(unit, "alternative_images"):
                add_unique(images, alternative.get("vm_image"))
    return DescriptorSummary(
        kind="vnf",
        descriptor_id=descriptor_id(document),
        vendor=string(document.get("vendor")),
        name=string(document.get("name")),
        version=string(document.get("version")),
        description=string(document.get("description")),
        vcpus=vcpus,
        memory_mb=math.ceil(memory_mb - 1e-9),  # never understate what a unit needs
        storage_gb=round(storage_mb / 1024, 6),
        images=images,
        connection_points=[cp for _, cp in ids(entries(document, "connection_points"))],
        virtual_links=[vl for _, vl in ids(entries(document, "virtual_links"))],
    )


def _image_problem(image: str, pointer: str, file: str, paths: set[str]) -> Problem | None:
    """A package-relative image path must name a file of the package; anything else (a name in the
    platform's image store, a URL, a container image) is an external reference and is fine."""
    if "://" in image:
        return None
    candidates = {package_path(image), posixpath.normpath(posixpath.join(posixpath.dirname(file), image))}
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
        for i, unit_id in ids(entries(document, key)):
            unit_ids.append((unit_id, f"/{key}/{i}/id"))
        for i, unit in entries(document, key):
            cps = ids(entries(unit, "connection_points"))
            problems += duplicates(
                ((cp, f"/{key}/{i}/connection_points/{j}/id") for j, cp in cps), "connection point", file
            )
            if isinstance(unit.get("id"), str):
                unit_cps.setdefault(unit["id"], set()).update(cp for _, cp in cps)
    problems += duplicates(unit_ids, "deployment unit", file)
    vnf_cps = ids(entries(document, "connection_points"))
    problems += duplicates(((cp, f"/connection_points/{j}/id") for j, cp in vnf_cps), "connection point", file)
    links = entries(document, "virtual_links")
    problems += duplicates(((vl, f"/virtual_links/{i}/id") for i, vl in ids(links)), "virtual link", file)

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
                    f"virtual link {short(link.get('id'))} names {ref!r}, but {why}",
                    file=file,
                    location=f"/virtual_links/{i}/connection_points_reference/{j}",
                )
            )
        problems += dangling(link, {r for r in refs if isinstance(r, str)}, f"/virtual_links/{i}", file)

    for i, vdu in entries(document, "virtual_deployment_units"):
        image = vdu.get("vm_image")
        alternatives = entries(vdu, "alternative_images")
        if not (isinstance(image, str) and image.strip()) and not alternatives:
            problems.append(
                Problem(
                    "integrity.missing-image",
                    f"VDU {short(vdu.get('id'))} names no vm_image",
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


@dataclass
class _Listed:
    """A descriptor the NAPD lists."""

    path: str
    kind: Kind
    pointer: str  # of its package_content entry
    document: dict[str, Any] | None = None


def _listed_descriptors(napd: dict[str, Any]) -> list[_Listed]:
    listed: dict[str, _Listed] = {}
    for i, entry in entries(napd, "package_content"):
        kind = _KIND_OF_TYPE.get(string(entry.get("content-type")))
        source = entry.get("source")
        if kind and isinstance(source, str) and source.strip():
            listed.setdefault(package_path(source), _Listed(package_path(source), kind, f"/package_content/{i}"))
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
        description=string(napd.get("description")),
        main_descriptor=(services or functions or [""])[0],
    )


_KIND = {"vnf": "VNFD", "ns": "NSD"}


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
    loaded, napd = load(view, NAPD_PATH, problems)
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
        loaded, document = load(view, item.path, problems)
        if loaded:
            problems += schema_problems("vnfd" if item.kind == "vnf" else "nsd", document, item.path)
            item.document = document if isinstance(document, dict) else None

    parsed: dict[str, ParsedDescriptor] = {}
    local: list[ParsedDescriptor] = []
    seen: dict[tuple[str, str, str, str], ParsedDescriptor] = {}
    copies: dict[tuple[str, str, str, str], list[str]] = {}

    def counted_once(item: Any, descriptor: ParsedDescriptor) -> bool:
        """Whether `descriptor` repeats one listed before: identical content counts once (tng-pkg, 5GTANGO's
        packager, accepts the same descriptor at several paths); other content under its identity is an error."""
        summary = descriptor.summary
        key = (item.kind, summary.vendor, summary.name, summary.version)
        first = seen.get(key) if all(key) else None
        # Identical means the same bytes (each path's declared hash was verified), not equal once parsed.
        if first is not None and view.read(first.file) == view.read(item.path):
            copies.setdefault(key, [first.file]).append(item.path)
            return True
        if first is not None:
            problems.append(
                Problem(
                    "integrity.duplicate-descriptor",
                    f"{first.file} already is the {_KIND[item.kind]} {'/'.join(key[1:])}, with other content",
                    file=item.path,
                )
            )
        seen.setdefault(key, descriptor)
        return False

    for item in listed:
        if item.kind == "vnf" and item.document is not None:
            problems += _check_vnfd(item.document, item.path, paths)
            descriptor = ParsedDescriptor(item.path, item.document, summarize_vnfd(item.document))
            if not counted_once(item, descriptor):
                parsed[item.path] = descriptor
                local.append(descriptor)
    for item in listed:
        if item.kind == "ns" and item.document is not None:
            found, summary = check_nsd(item.document, item.path, local, lookup)
            descriptor = ParsedDescriptor(item.path, item.document, summary)
            if not counted_once(item, descriptor):
                problems += found
                parsed[item.path] = descriptor
    for key, at in copies.items():
        problems.append(
            Problem(
                "5gtango.identical-descriptors",
                f"the {_KIND[key[0]]} {'/'.join(key[1:])} is declared at {len(at)} paths with identical content "
                f"({', '.join(at)}): counted once, as {at[0]} (tng-pkg accepts this)",
                file=at[1],
                severity=Severity.WARNING,
            )
        )

    descriptors = [parsed[item.path] for item in listed if item.path in parsed]
    return FormatResult(_package_info(napd, listed), descriptors, problems)
