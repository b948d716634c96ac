"""Builds a package archive from a folder, with the manifest or checksums its format requires.

Deterministic: files in sorted order with a fixed timestamp, so building the same folder
twice gives the same bytes (and the same digest on chain)."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from marketplace.repository.packages import yamlsafe
from marketplace.repository.packages.types import Format

FIXED_TIME = (2020, 1, 1, 0, 0, 0)
FIXED_EPOCH = int(datetime(*FIXED_TIME, tzinfo=UTC).timestamp())
SKIP = {".DS_Store", "Thumbs.db"}


class BuildError(Exception):
    """The folder cannot become a package of the requested format; the message says why."""


def _files(root: Path) -> list[tuple[str, Path]]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise BuildError(f"{path} is a symbolic link; packages hold regular files only")
        if path.is_file() and path.name not in SKIP and "__pycache__" not in path.parts:
            found.append((path.relative_to(root).as_posix(), path))
    return found


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            hasher.update(chunk)
    return hasher.hexdigest()


def _md5(path: Path) -> str:
    hasher = hashlib.md5(usedforsecurity=False)  # OSM's checksums.txt format is md5
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            hasher.update(chunk)
    return hasher.hexdigest()


def _load_yaml(path: Path, name: str) -> Any:
    return yamlsafe.load(path.read_bytes(), file=name)


def _zip(out: Path, members: list[tuple[str, Path | bytes]]) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, source in sorted(members, key=lambda m: m[0]):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            if isinstance(source, bytes):
                archive.writestr(info, source)
            else:
                with source.open("rb") as src, archive.open(info, "w", force_zip64=True) as dst:
                    while chunk := src.read(1024 * 1024):
                        dst.write(chunk)


def build_etsi(root: Path, out: Path, *, entry: str | None = None) -> Path:
    """SOL004 CSAR: TOSCA-Metadata/TOSCA.meta, a manifest listing every file with SHA-256."""
    files = [(n, p) for n, p in _files(root) if n not in ("TOSCA-Metadata/TOSCA.meta",) and not n.endswith(".mf")]
    if entry is None:
        candidates = [
            n
            for n, p in files
            if n.startswith("Definitions/")
            and n.count("/") == 1
            and n.endswith((".yaml", ".yml"))
            and "topology_template" in p.read_text(errors="replace")
        ]
        if len(candidates) != 1:
            raise BuildError(
                "cannot tell the entry definitions: give --entry (Definitions/ files with a topology_template: "
                + (", ".join(candidates) or "none")
                + ")"
            )
        entry = candidates[0]
    if entry not in {n for n, _ in files}:
        raise BuildError(f"entry definitions {entry} is not in {root}")
    vnfd = _load_yaml(root / entry, entry)
    vnf = _tosca_vnf_properties(vnfd)
    manifest_name = Path(entry).stem.replace(".vnfd", "") + ".mf"
    lines = [
        "metadata:",
        f"vnf_provider_id: {vnf.get('provider', 'unknown')}",
        f"vnf_product_name: {vnf.get('product_name', 'unknown')}",
        f"vnf_release_date_time: {datetime(*FIXED_TIME, tzinfo=UTC).isoformat().replace('+00:00', 'Z')}",
        f"vnf_package_version: {vnf.get('software_version', vnf.get('descriptor_version', '1.0'))}",
        "",
    ]
    for name, path in files:
        lines += [f"Source: {name}", "Algorithm: SHA-256", f"Hash: {_sha256(path)}", ""]
    meta = "\n".join(
        [
            "TOSCA-Meta-File-Version: 1.0",
            "CSAR-Version: 1.1",
            "Created-By: nfvm package build",
            f"Entry-Definitions: {entry}",
            f"ETSI-Entry-Manifest: {manifest_name}",
            "",
        ]
    )
    members: list[tuple[str, Path | bytes]] = [*files]
    members += [("TOSCA-Metadata/TOSCA.meta", meta.encode()), (manifest_name, "\n".join(lines).encode())]
    _zip(out, members)
    return out


def _tosca_vnf_properties(document: Any) -> dict[str, Any]:
    templates = ((document or {}).get("topology_template") or {}).get("node_templates") or {}
    for template in templates.values():
        if isinstance(template, dict) and "VNF" in str(template.get("type", "")).split(".")[-1]:
            props = template.get("properties") or {}
            return props if isinstance(props, dict) else {}
    return {}


def build_osm(root: Path, out: Path) -> Path:
    """OSM: a .tar.gz with the folder as its one top folder and a checksums.txt (md5, path)."""
    top = root.name
    files = [(n, p) for n, p in _files(root) if n != "checksums.txt"]
    checksums = "".join(f"{_md5(p)}\t{top}/{n}\n" for n, p in files).encode()
    with (
        out.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=FIXED_EPOCH) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        directories = sorted({f"{top}/{n}".rsplit("/", 1)[0] for n, _ in files} | {top})
        for directory in directories:
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, FIXED_EPOCH
            tar.addfile(info)
        members: list[tuple[str, Path | bytes]] = [*files, ("checksums.txt", checksums)]
        for name, source in sorted(members, key=lambda m: m[0]):
            info = tarfile.TarInfo(f"{top}/{name}")
            info.mode, info.mtime = 0o644, FIXED_EPOCH
            if isinstance(source, bytes):
                info.size = len(source)
                tar.addfile(info, io.BytesIO(source))
            else:
                info.size = source.stat().st_size
                with source.open("rb") as handle:
                    tar.addfile(info, handle)
    return out


TANGO_TYPES = {"vnfd": "application/vnd.5gtango.vnfd", "nsd": "application/vnd.5gtango.nsd"}


def build_5gtango(root: Path, out: Path) -> Path:
    """5GTANGO .tgo: NAPD.yaml with a SHA-256 per content file, TOSCA.meta, etsi_manifest.mf."""
    napd_path = root / "TOSCA-Metadata" / "NAPD.yaml"
    if not napd_path.is_file():
        raise BuildError(f"{napd_path} is missing: a 5GTANGO package folder starts from its NAPD.yaml")
    napd = _load_yaml(napd_path, "TOSCA-Metadata/NAPD.yaml")
    if not isinstance(napd, dict):
        raise BuildError("TOSCA-Metadata/NAPD.yaml must be a mapping")
    files = [(n, p) for n, p in _files(root) if not n.startswith("TOSCA-Metadata/") and not n.endswith(".mf")]
    declared = {entry.get("source"): entry for entry in napd.get("package_content") or [] if isinstance(entry, dict)}
    content = []
    for name, path in files:
        entry = dict(declared.get(name) or {})
        entry["source"] = name
        entry["algorithm"] = "SHA-256"
        entry["hash"] = _sha256(path)
        if "content-type" not in entry:
            entry["content-type"] = _tango_content_type(name, path)
        content.append(entry)
    napd["package_content"] = content
    napd_bytes = yaml.safe_dump(napd, sort_keys=False).encode()
    kind = "ns" if any(e["content-type"] == TANGO_TYPES["nsd"] for e in content) else "vnf"
    manifest = [
        f"{kind}_product_name: {napd.get('name')}",
        f"{kind}_provider_id: {napd.get('vendor')}",
        f"{kind}_package_version: {napd.get('version')}",
        f"{kind}_release_date_time: {napd.get('release_date_time', '2020-01-01T00:00:00Z')}",
        "",
    ]
    for name, path in files:
        manifest += [f"Source: {name}", "Algorithm: SHA-256", f"Hash: {_sha256(path)}", ""]
    meta = "\n".join(
        [
            "TOSCA-Meta-Version: 1.0",
            "CSAR-Version: 1.0",
            f"Created-By: {napd.get('maintainer', 'nfvm package build')}",
            "Entry-Manifest: etsi_manifest.mf",
            "Entry-Definitions: TOSCA-Metadata/NAPD.yaml",
            "",
            "Name: TOSCA-Metadata/NAPD.yaml",
            "Content-Type: application/vnd.5gtango.napd",
            "",
        ]
    )
    members: list[tuple[str, Path | bytes]] = [*files]
    members += [
        ("TOSCA-Metadata/NAPD.yaml", napd_bytes),
        ("TOSCA-Metadata/TOSCA.meta", meta.encode()),
        ("etsi_manifest.mf", "\n".join(manifest).encode()),
    ]
    _zip(out, members)
    return out


def _tango_content_type(name: str, path: Path) -> str:
    if name.endswith((".yml", ".yaml")):
        document = _load_yaml(path, name)
        if isinstance(document, dict):
            if "network_functions" in document:
                return TANGO_TYPES["nsd"]
            if "virtual_deployment_units" in document or "cloud_native_deployment_units" in document:
                return TANGO_TYPES["vnfd"]
    return "application/octet-stream"


def build(root: Path, fmt: Format, out: Path | None = None, *, entry: str | None = None) -> Path:
    if not root.is_dir():
        raise BuildError(f"{root} is not a folder")
    suffix = {"etsi": ".csar", "osm": ".tar.gz", "5gtango": ".tgo"}[fmt]
    out = out or root.parent / f"{root.name}{suffix}"
    if fmt == "etsi":
        return build_etsi(root, out, entry=entry)
    if fmt == "osm":
        return build_osm(root, out)
    return build_5gtango(root, out)
