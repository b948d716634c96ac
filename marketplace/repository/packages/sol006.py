"""Validates OSM packages (ETSI SOL006 VNFDs and NSDs in YAML) in three levels: syntax against
JSON Schemas derived from the SOL006 YANG models, reference integrity, and NS topology."""

from __future__ import annotations

import datetime
import json
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from marketplace.repository.packages import yamlsafe
from marketplace.repository.packages.problems import PackageRejected, Problem, Severity, errors
from marketplace.repository.packages.types import (
    DescriptorSummary,
    FormatResult,
    Kind,
    PackageInfo,
    PackageView,
    ParsedDescriptor,
    VnfdLookup,
    VnfRef,
)

_SCHEMA_DIR = Path(__file__).with_name("schemas") / "sol006"
_VNFD_KEYS = ("vnfd", "etsi-nfv-vnfd:vnfd")
_NSD_KEYS = ("nsd", "etsi-nfv-nsd:nsd")
# OSM before release NINE wrote its own information model under these keys; it is not SOL006.
_LEGACY_KEYS = ("vnfd:vnfd-catalog", "vnfd-catalog", "nsd:nsd-catalog", "nsd-catalog")
_MAX_SCHEMA_PROBLEMS = 50
# OSM attaches a virtual link with any of these to a network that exists outside the NS.
_EXTERNAL_VL_KEYS = ("mgmt-network", "vim-network-name", "vim-network-id")

Json = dict[str, Any]


# --------------------------------------------------------------------------- schemas


@cache
def _schema(kind: Kind) -> Json:
    loaded: Json = json.loads((_SCHEMA_DIR / f"{kind}d.json").read_text(encoding="utf-8"))
    return loaded


@cache
def _validator(kind: Kind) -> Draft202012Validator:
    return Draft202012Validator(_schema(kind))


def _pointer(*parts: object) -> str:
    """A JSON pointer (RFC 6901) from path components."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def schema_problems(kind: Kind, document: Any, file: str) -> list[Problem]:
    """Every way `document` breaks the SOL006 schema of `kind`, each at its JSON pointer."""
    found = sorted(_validator(kind).iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [
        Problem("syntax.schema", _schema_message(e), file=file, location=_pointer(*e.absolute_path) or "/")
        for e in found[:_MAX_SCHEMA_PROBLEMS]
    ]
    if len(found) > _MAX_SCHEMA_PROBLEMS:
        problems.append(
            Problem("syntax.schema", f"{len(found) - _MAX_SCHEMA_PROBLEMS} more schema errors not shown", file=file)
        )
    return problems


def _schema_message(error: Any) -> str:
    if error.validator == "not" and isinstance(error.instance, dict):
        # The schema writes a YANG choice as "not two of these at once"; say that instead of dumping it.
        names = sorted(set(_required_names(error.validator_value)) & set(error.instance))
        return f"{' and '.join(names)} are alternatives (a YANG choice); give only one"
    return str(error.message)


def _required_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "required" and isinstance(value, list):
                yield from (str(v) for v in value)
            else:
                yield from _required_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _required_names(item)


# --------------------------------------------------------------------------- small helpers


def _plain(value: Any) -> Any:
    """The value as JSON data: YAML timestamps become ISO strings, mapping keys strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


def _entries(node: Any, key: str) -> list[tuple[int, Json]]:
    """The mapping entries of the list `key` of `node`, with their indexes; junk is skipped."""
    value = node.get(key) if isinstance(node, dict) else None
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _scalars(node: Any, key: str) -> list[tuple[int, str]]:
    value = node.get(key) if isinstance(node, dict) else None
    if not isinstance(value, list):
        return []
    return [(i, _text(item)) for i, item in enumerate(value) if _is_scalar(item)]


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _leaf(node: Any, key: str) -> str | None:
    value = node.get(key) if isinstance(node, dict) else None
    return _text(value) if _is_scalar(value) else None


def _ids(node: Any, key: str, leaf: str = "id") -> set[str]:
    return {v for _, e in _entries(node, key) if (v := _leaf(e, leaf)) is not None}


def _number(value: Any, default: float) -> float:
    if isinstance(value, bool) or value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


@dataclass
class _Found:
    file: str
    kind: Kind
    key: str  # the top-level key the descriptor sits under
    document: Json

    @property
    def bodies(self) -> list[tuple[str, Json]]:
        """(pointer, body) of each VNFD or NSD the document holds."""
        body = self.document.get(self.key)
        if self.kind == "vnf":
            return [(_pointer(self.key), body)] if isinstance(body, dict) else []
        return [(_pointer(self.key, "nsd", i), nsd) for i, nsd in _entries(body, "nsd")]


class _Checker:
    """Collects problems for one descriptor file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, rule: str, message: str, location: str, severity: Severity = Severity.ERROR) -> None:
        self.problems.append(Problem(rule, message, file=self.file, location=location, severity=severity))

    def ref(self, known: set[str], value: str | None, what: str, owner: str, location: str) -> bool:
        """Report `value` unless it names one of `known`; True when it resolves (or is absent)."""
        if value is None or value in known:
            return True
        self.add("integrity.unresolved-ref", f"{owner} names {what} {value!r}, which is not defined", location)
        return False


# --------------------------------------------------------------------------- package level


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
        checker = _Checker(item.file)
        syntax = schema_problems(item.kind, item.document, item.file)
        checker.problems.extend(syntax)
        for base, body in item.bodies:
            if item.kind == "vnf":
                summary = _vnfd_summary(body)
                _warn_identity(checker, body, base)
                if not syntax:
                    _check_keys(checker, item.kind, item.document)
                    _vnfd_integrity(checker, body, base)
                parsed = ParsedDescriptor(file=item.file, document=item.document, summary=summary)
                in_package.setdefault(summary.descriptor_id, parsed)
            else:
                resolver = _VnfResolver(in_package, lookup)
                if not syntax:
                    _check_keys(checker, item.kind, item.document)
                    _nsd_integrity(checker, body, base, resolver)
                    local = [p for p in errors(checker.problems) if p.rule != "integrity.unresolved-vnf"]
                    if not local:
                        _nsd_topology(checker, body, base)
                summary = _nsd_summary(body, resolver)
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


def _find_descriptors(view: PackageView, top: str, problems: list[Problem]) -> list[_Found]:
    yaml_files = [p for p in view.paths if posixpath.dirname(p) == top and p.lower().endswith((".yaml", ".yml"))]
    found: list[_Found] = []
    unreadable = False
    for path in yaml_files:
        try:
            document = _plain(yamlsafe.load(view.read(path), file=path))
        except PackageRejected as exc:
            problems.extend(exc.problems)
            unreadable = True
            continue
        if not isinstance(document, dict):
            continue
        legacy = [k for k in _LEGACY_KEYS if k in document]
        if legacy:
            problems.append(
                Problem(
                    "sol006.legacy-format",
                    f"{legacy[0]} is OSM's information model before release NINE, not SOL006; "
                    "migrate the descriptor to SOL006 (vnfd: / nsd:)",
                    file=path,
                    location=_pointer(legacy[0]),
                )
            )
            continue
        for key in (*_VNFD_KEYS, *_NSD_KEYS):
            if key in document:
                found.append(_Found(path, "vnf" if key in _VNFD_KEYS else "ns", key, document))
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


# --------------------------------------------------------------------------- keys (all lists)


def _check_keys(checker: _Checker, kind: Kind, document: Json) -> None:
    """Duplicate keys in every YANG list, found by walking the document along its schema."""
    defs: Json = _schema(kind).get("$defs", {})

    def walk(node: Any, value: Any, where: tuple[object, ...]) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            walk(defs.get(str(node["$ref"]).rsplit("/", 1)[-1]), value, where)
        for sub in node.get("allOf", []):
            walk(sub, value, where)
        if isinstance(value, dict):
            for name, sub in node.get("properties", {}).items():
                if name in value:
                    walk(sub, value[name], (*where, name))
        elif isinstance(value, list) and "items" in node:
            key = node.get("x-yang-key")
            seen: dict[tuple[str, ...], int] = {}
            for i, item in enumerate(value):
                if key and isinstance(item, dict) and all(_is_scalar(item.get(k)) for k in key):
                    ident = tuple(_text(item[k]) for k in key)
                    if ident in seen:
                        shown = ident[0] if len(ident) == 1 else str(ident)
                        checker.add(
                            "integrity.duplicate-id",
                            f"{where[-1]} {'+'.join(key)} {shown!r} appears twice "
                            f"(first at {_pointer(*where, seen[ident])})",
                            _pointer(*where, i, key[0]),
                        )
                    else:
                        seen[ident] = i
                walk(node["items"], item, (*where, i))

    walk(_schema(kind), document, ())


# --------------------------------------------------------------------------- VNFD


def _warn_identity(checker: _Checker, body: Json, base: str) -> None:
    for leaf in ("provider", "software-version"):
        if _leaf(body, leaf) is None:
            checker.add(
                "sol006.missing-identity",
                f"{leaf} is mandatory in SOL006; OSM accepts the VNFD without it"
                + (", so the package has no vendor" if leaf == "provider" else ""),
                base,
                Severity.WARNING,
            )


def _vnfd_integrity(checker: _Checker, body: Json, base: str) -> None:
    vdus = _entries(body, "vdu")
    vdu_ids = _ids(body, "vdu")
    compute_ids = _ids(body, "virtual-compute-desc")
    storage_ids = _ids(body, "virtual-storage-desc")
    image_ids = _ids(body, "sw-image-desc")
    link_ids = _ids(body, "int-virtual-link-desc")
    ext_ids = _ids(body, "ext-cpd")
    vip_ids = _ids(body, "vip-cpd")
    int_cpds = {_leaf(v, "id"): _ids(v, "int-cpd") for _, v in vdus}
    all_int_cpds = set().union(*int_cpds.values()) if int_cpds else set()

    for i, vdu in vdus:
        at = f"{base}/vdu/{i}"
        owner = f"vdu {_leaf(vdu, 'id')!r}"
        checker.ref(
            compute_ids, _leaf(vdu, "virtual-compute-desc"), "virtual-compute-desc", owner, f"{at}/virtual-compute-desc"
        )
        for j, sid in _scalars(vdu, "virtual-storage-desc"):
            checker.ref(storage_ids, sid, "virtual-storage-desc", owner, f"{at}/virtual-storage-desc/{j}")
        checker.ref(image_ids, _leaf(vdu, "sw-image-desc"), "sw-image-desc", owner, f"{at}/sw-image-desc")
        for j, alt in _scalars(vdu, "alternative-sw-image-desc"):  # OSM: the same image for other VIM types
            checker.ref(image_ids, alt, "sw-image-desc", owner, f"{at}/alternative-sw-image-desc/{j}")
        own_cpds = _ids(vdu, "int-cpd")
        for j, cpd in _entries(vdu, "int-cpd"):
            checker.ref(
                link_ids,
                _leaf(cpd, "int-virtual-link-desc"),
                "int-virtual-link-desc",
                f"{owner} int-cpd {_leaf(cpd, 'id')!r}",
                f"{at}/int-cpd/{j}/int-virtual-link-desc",
            )
            checker.ref(
                compute_ids,
                _leaf(cpd, "nicio-requirements"),
                "virtual-compute-desc",
                f"{owner} int-cpd {_leaf(cpd, 'id')!r}",
                f"{at}/int-cpd/{j}/nicio-requirements",
            )
        for j, port in _entries(vdu, "trunk-port"):
            checker.ref(
                own_cpds, _leaf(port, "parent-port-cpd"), "int-cpd", owner, f"{at}/trunk-port/{j}/parent-port-cpd"
            )
            for k, sub in _entries(port, "sub-port-list"):
                checker.ref(
                    own_cpds,
                    _leaf(sub, "sub-port-cpd"),
                    "int-cpd",
                    owner,
                    f"{at}/trunk-port/{j}/sub-port-list/{k}/sub-port-cpd",
                )

    for i, vsd in _entries(body, "virtual-storage-desc"):
        at = f"{base}/virtual-storage-desc/{i}"
        owner = f"virtual-storage-desc {_leaf(vsd, 'id')!r}"
        block = vsd.get("block-storage-data")
        checker.ref(
            image_ids, _leaf(block, "sw-image-desc"), "sw-image-desc", owner, f"{at}/block-storage-data/sw-image-desc"
        )
        # The YANG leafref of file-storage-data/int-virtual-link-desc points at sw-image-desc ids (so does
        # ETSI's own example); its name says int-virtual-link-desc. Either resolves.
        checker.ref(
            image_ids | link_ids,
            _leaf(vsd.get("file-storage-data"), "int-virtual-link-desc"),
            "int-virtual-link-desc",
            owner,
            f"{at}/file-storage-data/int-virtual-link-desc",
        )
    for i, vcd in _entries(body, "virtual-compute-desc"):
        for j, disk in _entries(vcd, "virtual-disk"):
            checker.ref(
                image_ids,
                _leaf(disk, "sw-image-desc"),
                "sw-image-desc",
                f"virtual-compute-desc {_leaf(vcd, 'id')!r}",
                f"{base}/virtual-compute-desc/{i}/virtual-disk/{j}/sw-image-desc",
            )

    for i, ext in _entries(body, "ext-cpd"):
        at = f"{base}/ext-cpd/{i}"
        owner = f"ext-cpd {_leaf(ext, 'id')!r}"
        checker.ref(
            link_ids, _leaf(ext, "int-virtual-link-desc"), "int-virtual-link-desc", owner, f"{at}/int-virtual-link-desc"
        )
        checker.ref(vip_ids, _leaf(ext, "vip-cpd"), "vip-cpd", owner, f"{at}/vip-cpd")
        target = ext.get("int-cpd")
        vdu_id = _leaf(target, "vdu-id")
        if checker.ref(vdu_ids, vdu_id, "vdu", owner, f"{at}/int-cpd/vdu-id") and vdu_id is not None:
            checker.ref(
                int_cpds.get(vdu_id, set()),
                _leaf(target, "cpd"),
                f"int-cpd of vdu {vdu_id!r}",
                owner,
                f"{at}/int-cpd/cpd",
            )
        elif vdu_id is None:
            checker.ref(all_int_cpds, _leaf(target, "cpd"), "int-cpd", owner, f"{at}/int-cpd/cpd")
    for i, vip in _entries(body, "vip-cpd"):
        owner = f"vip-cpd {_leaf(vip, 'id')!r}"
        for j, member in _scalars(vip, "int-cpd"):
            checker.ref(all_int_cpds, member, "int-cpd", owner, f"{base}/vip-cpd/{i}/int-cpd/{j}")
        checker.ref(
            link_ids,
            _leaf(vip, "int-virtual-link-desc"),
            "int-virtual-link-desc",
            owner,
            f"{base}/vip-cpd/{i}/int-virtual-link-desc",
        )
    checker.ref(ext_ids, _leaf(body, "mgmt-cp"), "ext-cpd", "the VNFD's mgmt-cp", f"{base}/mgmt-cp")

    for i, df in _entries(body, "df"):
        _vnfd_df(checker, df, f"{base}/df/{i}", vdu_ids, ext_ids, body)


def _vnfd_df(checker: _Checker, df: Json, at: str, vdu_ids: set[str], ext_ids: set[str], body: Json) -> None:
    owner = f"df {_leaf(df, 'id')!r}"
    groups = _ids(df, "affinity-or-anti-affinity-group")
    aspects = _ids(df, "scaling-aspect")
    levels = _ids(df, "instantiation-level")
    bounds: dict[str, tuple[float, float]] = {}
    for i, profile in _entries(df, "vdu-profile"):
        where = f"{at}/vdu-profile/{i}"
        pid = _leaf(profile, "id")
        checker.ref(vdu_ids, pid, "vdu", f"{owner} vdu-profile", f"{where}/id")
        for j, group in _scalars(profile, "affinity-or-anti-affinity-group-id"):
            checker.ref(
                groups,
                group,
                "affinity-or-anti-affinity-group",
                f"{owner} vdu-profile {pid!r}",
                f"{where}/affinity-or-anti-affinity-group-id/{j}",
            )
        low = _number(profile.get("min-number-of-instances"), 1)
        high = _number(profile.get("max-number-of-instances"), 1)
        if high < low:
            checker.add(
                "integrity.constraint",
                f"vdu-profile {pid!r}: max-number-of-instances {high:g} is below min-number-of-instances {low:g}",
                f"{where}/max-number-of-instances",
            )
        if pid is not None:
            bounds[pid] = (low, high)
    for i, level in _entries(df, "instantiation-level"):
        where = f"{at}/instantiation-level/{i}"
        lid = _leaf(level, "id")
        for j, vdu_level in _entries(level, "vdu-level"):
            vid = _leaf(vdu_level, "vdu-id")
            checker.ref(vdu_ids, vid, "vdu", f"{owner} instantiation-level {lid!r}", f"{where}/vdu-level/{j}/vdu-id")
            count = _number(vdu_level.get("number-of-instances"), 1)
            if vid in bounds and not bounds[vid][0] <= count <= bounds[vid][1]:
                low, high = bounds[vid]
                checker.add(
                    "integrity.constraint",
                    f"instantiation-level {lid!r} asks for {count:g} instances of vdu {vid!r}; its "
                    f"vdu-profile allows {low:g} to {high:g}",
                    f"{where}/vdu-level/{j}/number-of-instances",
                )
        for j, info in _entries(level, "scaling-info"):
            checker.ref(
                aspects,
                _leaf(info, "scaling-aspect-id"),
                "scaling-aspect",
                f"{owner} instantiation-level {lid!r}",
                f"{where}/scaling-info/{j}/scaling-aspect-id",
            )
    default = _leaf(df, "default-instantiation-level")
    checker.ref(
        levels,
        default,
        "instantiation-level",
        f"{owner} default-instantiation-level",
        f"{at}/default-instantiation-level",
    )
    if default is None and len(levels) > 1:
        checker.add(
            "integrity.constraint",
            f"{owner} has {len(levels)} instantiation levels but no default-instantiation-level",
            at,
        )
    links = {_leaf(v, "id"): _ids(v, "flavour") for _, v in _entries(body, "int-virtual-link-desc")}
    for i, profile in _entries(df, "virtual-link-profile"):
        where = f"{at}/virtual-link-profile/{i}"
        lid = _leaf(profile, "id")
        if (
            checker.ref(
                set(filter(None, links)), lid, "int-virtual-link-desc", f"{owner} virtual-link-profile", f"{where}/id"
            )
            and lid in links
        ):
            checker.ref(
                links[lid],
                _leaf(profile, "flavour"),
                f"flavour of int-virtual-link-desc {lid!r}",
                f"{owner} virtual-link-profile",
                f"{where}/flavour",
            )
    for i, aspect in _entries(df, "scaling-aspect"):
        details = aspect.get("aspect-delta-details")
        where = f"{at}/scaling-aspect/{i}/aspect-delta-details"
        for j, delta in _entries(details, "deltas"):
            for k, vdu_delta in _entries(delta, "vdu-delta"):
                checker.ref(
                    vdu_ids,
                    _leaf(vdu_delta, "id"),
                    "vdu",
                    f"scaling-aspect {_leaf(aspect, 'id')!r}",
                    f"{where}/deltas/{j}/vdu-delta/{k}/id",
                )
        checker.ref(
            _ids(details, "deltas"),
            _leaf(details, "step-deltas"),
            "delta",
            f"scaling-aspect {_leaf(aspect, 'id')!r}",
            f"{where}/step-deltas",
        )
    for i, interface in _entries(df, "supported-vnf-interfaces"):
        for j, cpd in _scalars(interface, "cpd-id"):
            checker.ref(
                ext_ids,
                cpd,
                "ext-cpd",
                f"{owner} supported-vnf-interfaces",
                f"{at}/supported-vnf-interfaces/{i}/cpd-id/{j}",
            )


def _vnfd_summary(body: Json) -> DescriptorSummary:
    computes = {_leaf(v, "id"): v for _, v in _entries(body, "virtual-compute-desc")}
    storages = {_leaf(v, "id"): v for _, v in _entries(body, "virtual-storage-desc")}
    vcpus = 0
    memory_mb = 0
    storage_gb = 0.0
    for _, vdu in _entries(body, "vdu"):
        compute = computes.get(_leaf(vdu, "virtual-compute-desc"))
        if compute is not None:
            # YANG defaults: one virtual CPU, 1 GB of memory.
            cpu = compute.get("virtual-cpu")
            memory = compute.get("virtual-memory")
            vcpus += int(_number(cpu.get("num-virtual-cpu") if isinstance(cpu, dict) else None, 1))
            memory_mb += round(_number(memory.get("size") if isinstance(memory, dict) else None, 1) * 1024)
        for _, sid in _scalars(vdu, "virtual-storage-desc"):
            storage = storages.get(sid)
            if storage is not None:
                storage_gb += _storage_size(storage)
    images: list[str] = []
    for _, image in _entries(body, "sw-image-desc"):
        name = _leaf(image, "image") or _leaf(image, "name") or _leaf(image, "id")
        if name and name not in images:
            images.append(name)
    return DescriptorSummary(
        kind="vnf",
        descriptor_id=_leaf(body, "id") or "",
        vendor=_leaf(body, "provider") or "",
        name=_leaf(body, "product-name") or _leaf(body, "name") or "",
        version=_leaf(body, "version") or _leaf(body, "software-version") or "",
        description=_leaf(body, "description") or _leaf(body, "product-info-description") or "",
        vcpus=vcpus,
        memory_mb=memory_mb,
        storage_gb=storage_gb,
        images=images,
        connection_points=[v for _, e in _entries(body, "ext-cpd") if (v := _leaf(e, "id")) is not None],
        virtual_links=[v for _, e in _entries(body, "int-virtual-link-desc") if (v := _leaf(e, "id")) is not None],
    )


def _storage_size(storage: Json) -> float:
    # size-of-storage directly on the entry is the SOL006 v2 layout OSM writes; v3 moved it into the choice.
    if "size-of-storage" in storage:
        return _number(storage["size-of-storage"], 0)
    for holder in ("block-storage-data", "file-storage-data"):
        data = storage.get(holder)
        if isinstance(data, dict):
            return _number(data.get("size-of-storage"), 0)
    return 0.0


# --------------------------------------------------------------------------- NSD


class _VnfResolver:
    """Finds the VNFDs an NSD names: in this package first, then in the repository, each once."""

    def __init__(self, in_package: dict[str, ParsedDescriptor], lookup: VnfdLookup) -> None:
        self._in_package = in_package
        self._lookup = lookup
        self._cache: dict[str, ParsedDescriptor | None] = {}

    def __call__(self, descriptor_id: str) -> ParsedDescriptor | None:
        if descriptor_id not in self._cache:
            found = self._in_package.get(descriptor_id) or self._lookup(VnfRef(descriptor_id=descriptor_id))
            self._cache[descriptor_id] = found if found is not None and found.summary.kind == "vnf" else None
        return self._cache[descriptor_id]


def _vnfd_flavours(vnfd: ParsedDescriptor) -> dict[str, set[str]] | None:
    """df id → instantiation-level ids of a SOL006 VNFD, or None for a VNFD of another format."""
    body = next((vnfd.document[k] for k in _VNFD_KEYS if isinstance(vnfd.document.get(k), dict)), None)
    if body is None:
        return None
    return {v: _ids(df, "instantiation-level") for _, df in _entries(body, "df") if (v := _leaf(df, "id"))}


def _nsd_integrity(checker: _Checker, nsd: Json, base: str, resolve: _VnfResolver) -> None:
    listed = {vid for _, vid in _scalars(nsd, "vnfd-id")}
    for i, vid in _scalars(nsd, "vnfd-id"):
        if resolve(vid) is None:
            checker.add(
                "integrity.unresolved-vnf",
                f"the NSD needs VNFD {vid!r}, which is neither in this package nor in the repository; "
                "publish that VNF package first",
                f"{base}/vnfd-id/{i}",
            )
    vld_ids = _ids(nsd, "virtual-link-desc")
    vld_flavours = {_leaf(v, "id"): _ids(v, "df") for _, v in _entries(nsd, "virtual-link-desc")}

    for i, sap in _entries(nsd, "sapd"):
        at = f"{base}/sapd/{i}"
        owner = f"sapd {_leaf(sap, 'id')!r}"
        checker.ref(vld_ids, _leaf(sap, "virtual-link-desc"), "virtual-link-desc", owner, f"{at}/virtual-link-desc")
        associated = sap.get("associated-cpd")
        sap_vnfd = _leaf(associated, "vnfd-id")
        if sap_vnfd is not None and checker.ref(
            listed, sap_vnfd, "VNFD (in the NSD's vnfd-id list)", owner, f"{at}/associated-cpd/vnfd-id"
        ):
            vnfd = resolve(sap_vnfd)
            if vnfd is not None:
                checker.ref(
                    set(vnfd.summary.connection_points),
                    _leaf(associated, "vnf-ext-cpd"),
                    f"ext-cpd of VNFD {sap_vnfd!r}",
                    owner,
                    f"{at}/associated-cpd/vnf-ext-cpd",
                )

    for d, df in _entries(nsd, "df"):
        at = f"{base}/df/{d}"
        profiles = _ids(df, "virtual-link-profile")
        for i, vlp in _entries(df, "virtual-link-profile"):
            where = f"{at}/virtual-link-profile/{i}"
            vld = _leaf(vlp, "virtual-link-desc-id")
            owner = f"virtual-link-profile {_leaf(vlp, 'id')!r}"
            if checker.ref(vld_ids, vld, "virtual-link-desc", owner, f"{where}/virtual-link-desc-id") and vld:
                checker.ref(
                    vld_flavours.get(vld, set()),
                    _leaf(vlp, "flavour-id"),
                    f"df of virtual-link-desc {vld!r}",
                    owner,
                    f"{where}/flavour-id",
                )
        vnf_profiles = _ids(df, "vnf-profile")
        for i, profile in _entries(df, "vnf-profile"):
            _vnf_profile(checker, profile, f"{at}/vnf-profile/{i}", listed, resolve, profiles | vld_ids)
        levels = _ids(df, "ns-instantiation-level")
        for i, level in _entries(df, "ns-instantiation-level"):
            for j, mapping in _entries(level, "vnf-to-level-mapping"):
                checker.ref(
                    vnf_profiles,
                    _leaf(mapping, "vnf-profile-id"),
                    "vnf-profile",
                    f"ns-instantiation-level {_leaf(level, 'id')!r}",
                    f"{at}/ns-instantiation-level/{i}/vnf-to-level-mapping/{j}/vnf-profile-id",
                )
            for j, mapping in _entries(level, "virtual-link-to-level-mapping"):
                checker.ref(
                    profiles,
                    _leaf(mapping, "virtual-link-profile-id"),
                    "virtual-link-profile",
                    f"ns-instantiation-level {_leaf(level, 'id')!r}",
                    f"{at}/ns-instantiation-level/{i}/virtual-link-to-level-mapping/{j}/virtual-link-profile-id",
                )
        checker.ref(
            levels,
            _leaf(df, "default-instantiation-level"),
            "ns-instantiation-level",
            f"df {_leaf(df, 'id')!r}",
            f"{at}/default-instantiation-level",
        )


def _vnf_profile(
    checker: _Checker, profile: Json, at: str, listed: set[str], resolve: _VnfResolver, vl_targets: set[str]
) -> None:
    pid = _leaf(profile, "id")
    owner = f"vnf-profile {pid!r}"
    vid = _leaf(profile, "vnfd-id")
    vnfd = None
    if vid is not None:
        if vid not in listed:
            checker.add(
                "integrity.unlisted-vnfd",
                f"{owner} uses VNFD {vid!r}, which the NSD's vnfd-id list does not name",
                f"{at}/vnfd-id",
            )
        vnfd = resolve(vid)
        if vnfd is None and vid not in listed:
            checker.add(
                "integrity.unresolved-vnf",
                f"{owner} needs VNFD {vid!r}, which is neither in this package nor in the repository",
                f"{at}/vnfd-id",
            )
    flavours = _vnfd_flavours(vnfd) if vnfd is not None else None
    if flavours is not None:
        flavour = _leaf(profile, "flavour-id")
        if checker.ref(set(flavours), flavour, f"df of VNFD {vid!r}", owner, f"{at}/flavour-id") and flavour:
            checker.ref(
                flavours.get(flavour, set()),
                _leaf(profile, "instantiation-level"),
                f"instantiation-level of df {flavour!r}",
                owner,
                f"{at}/instantiation-level",
            )
    ext_cpds = set(vnfd.summary.connection_points) if vnfd is not None else None
    for i, link in _entries(profile, "virtual-link-connectivity"):
        where = f"{at}/virtual-link-connectivity/{i}"
        # OSM names the virtual-link-desc here directly; SOL006 names a df virtual-link-profile.
        checker.ref(
            vl_targets,
            _leaf(link, "virtual-link-profile-id"),
            "virtual-link-profile or virtual-link-desc",
            owner,
            f"{where}/virtual-link-profile-id",
        )
        for j, cpd in _entries(link, "constituent-cpd-id"):
            base_id = _leaf(cpd, "constituent-base-element-id")
            if base_id is not None and base_id != pid:
                checker.add(
                    "integrity.unresolved-ref",
                    f"{owner} connects constituent-base-element-id {base_id!r}; it must name the profile itself",
                    f"{where}/constituent-cpd-id/{j}/constituent-base-element-id",
                )
            if ext_cpds is not None:
                checker.ref(
                    ext_cpds,
                    _leaf(cpd, "constituent-cpd-id"),
                    f"ext-cpd of VNFD {vid!r}",
                    owner,
                    f"{where}/constituent-cpd-id/{j}/constituent-cpd-id",
                )


class _Groups:
    """Union-find over (kind, id) nodes: which VNF profiles, SAPs and links reach each other."""

    def __init__(self) -> None:
        self._parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(self, node: tuple[str, str]) -> tuple[str, str]:
        parent = self._parent
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def join(self, a: tuple[str, str], b: tuple[str, str]) -> None:
        self._parent[self.find(a)] = self.find(b)


def _nsd_topology(checker: _Checker, nsd: Json, base: str) -> None:
    vlds = {v: (i, e) for i, e in _entries(nsd, "virtual-link-desc") if (v := _leaf(e, "id")) is not None}
    saps = _entries(nsd, "sapd")
    best: dict[str, int] = dict.fromkeys(vlds, 0)
    for d, df in _entries(nsd, "df"):
        to_vld = {
            p: v
            for _, e in _entries(df, "virtual-link-profile")
            if (p := _leaf(e, "id")) and (v := _leaf(e, "virtual-link-desc-id"))
        }
        graph = _Groups()
        endpoints: dict[str, int] = {
            v: 1 if any(e.get(k) for k in _EXTERNAL_VL_KEYS) else 0 for v, (_, e) in vlds.items()
        }
        members: list[tuple[str, str]] = []
        by_vnfd: dict[str, list[str]] = {}
        for _, profile in _entries(df, "vnf-profile"):
            pid = _leaf(profile, "id")
            if pid is None:
                continue
            members.append(("vnf", pid))
            graph.find(("vnf", pid))
            by_vnfd.setdefault(_leaf(profile, "vnfd-id") or "", []).append(pid)
            for _, link in _entries(profile, "virtual-link-connectivity"):
                ref = _leaf(link, "virtual-link-profile-id")
                vld = to_vld.get(ref or "", ref)
                if vld in vlds:
                    endpoints[vld] += max(1, len(_entries(link, "constituent-cpd-id")))
                    graph.join(("vnf", pid), ("vl", vld))
        for _, sap in saps:
            sid = _leaf(sap, "id")
            if sid is None:
                continue
            members.append(("sap", sid))
            graph.find(("sap", sid))
            vld = _leaf(sap, "virtual-link-desc")
            if vld in vlds:
                endpoints[vld] += 1
                graph.join(("sap", sid), ("vl", vld))
            for pid in by_vnfd.get(_leaf(sap.get("associated-cpd"), "vnfd-id") or "\0", []):
                graph.join(("sap", sid), ("vnf", pid))
        for vld, count in endpoints.items():
            best[vld] = max(best[vld], count)
        groups: dict[tuple[str, str], list[str]] = {}
        for member in members:
            groups.setdefault(graph.find(member), []).append(f"{member[0]} {member[1]!r}")
        if len(groups) > 1:
            parts = sorted("{" + ", ".join(g) + "}" for g in groups.values())
            checker.add(
                "topology.disconnected",
                f"df {_leaf(df, 'id')!r}: VNF profiles and SAPs form {len(groups)} separate groups: "
                + "; ".join(parts),
                f"{base}/df/{d}",
            )
    for vld, (i, entry) in vlds.items():
        if best[vld] < 2:
            external = " (counting its external network)" if any(entry.get(k) for k in _EXTERNAL_VL_KEYS) else ""
            checker.add(
                "topology.dangling-link",
                f"virtual-link-desc {vld!r} has {best[vld]} endpoint{'s' if best[vld] != 1 else ''}{external}; "
                "a virtual link needs at least 2",
                f"{base}/virtual-link-desc/{i}",
            )


def _nsd_summary(nsd: Json, resolve: _VnfResolver) -> DescriptorSummary:
    vnfd_ids = [vid for _, vid in _scalars(nsd, "vnfd-id")]
    summary = DescriptorSummary(
        kind="ns",
        descriptor_id=_leaf(nsd, "id") or "",
        vendor=_leaf(nsd, "designer") or "",
        name=_leaf(nsd, "name") or "",
        version=_leaf(nsd, "version") or "",
        description=_leaf(nsd, "description") or "",
        connection_points=[v for _, e in _entries(nsd, "sapd") if (v := _leaf(e, "id")) is not None],
        virtual_links=[v for _, e in _entries(nsd, "virtual-link-desc") if (v := _leaf(e, "id")) is not None],
        constituent_vnfs=[VnfRef(descriptor_id=vid) for vid in vnfd_ids],
    )
    # Resources of the smallest deployment: one instance of each VNF profile of the first df.
    first_df = next((df for _, df in _entries(nsd, "df")), None)
    profiles = [p for _, p in _entries(first_df, "vnf-profile")] or [{"vnfd-id": v} for v in vnfd_ids]
    for profile in profiles:
        vnfd = resolve(vid) if (vid := _leaf(profile, "vnfd-id")) is not None else None
        if vnfd is not None:
            summary.vcpus += vnfd.summary.vcpus
            summary.memory_mb += vnfd.summary.memory_mb
            summary.storage_gb += vnfd.summary.storage_gb
            summary.images.extend(i for i in vnfd.summary.images if i not in summary.images)
    return summary
