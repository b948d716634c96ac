"""Inspects one package archive end to end: archive safety, format, declared digests,
descriptors at three levels. Pure: the caller stores what an accepted inspection returns."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import asdict, dataclass, field
from pathlib import Path

from marketplace.repository.packages import manifest_sol004, manifests, sol001, sol006, tango, yamlsafe
from marketplace.repository.packages.archive import open_archive
from marketplace.repository.packages.archive_base import Archive, ArchiveLimits
from marketplace.repository.packages.problems import PackageRejected, Problem, Severity, errors
from marketplace.repository.packages.types import (
    Claimed,
    Format,
    FormatResult,
    PackageInfo,
    ParsedDescriptor,
    VnfdLookup,
)

CHUNK = 1024 * 1024
TOSCA_META = "TOSCA-Metadata/TOSCA.meta"
NAPD = "TOSCA-Metadata/NAPD.yaml"
SIGNATURE_SUFFIXES = (".cert", ".crt", ".pem", ".sig", ".cms", ".p7s")

mimetypes.add_type("application/yaml", ".yaml")
mimetypes.add_type("application/yaml", ".yml")
mimetypes.add_type("text/plain", ".mf")
mimetypes.add_type("text/plain", ".meta")


@dataclass(frozen=True)
class FileRecord:
    path: str
    size: int
    sha256: str
    media_type: str


@dataclass(frozen=True)
class Check:
    check: str
    result: str  # "pass" | "warn"
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Inspection:
    format: Format
    info: PackageInfo
    descriptors: list[ParsedDescriptor]
    files: list[FileRecord]
    descriptor_digest: str
    problems: list[Problem] = field(default_factory=list)  # warnings only: errors raise
    checks: list[Check] = field(default_factory=list)


def detect_format(archive: Archive) -> Format | None:
    paths = set(archive.paths)
    if archive.kind == "zip":
        if NAPD in paths:
            return "5gtango"
        if TOSCA_META in paths:
            return "etsi"
        return None
    tops = {p.split("/", 1)[0] for p in paths}
    if len(tops) == 1 and all("/" in p for p in paths):
        return "osm"
    return None


def _index(archive: Archive, wanted: dict[str, set[str]]) -> tuple[list[FileRecord], dict[str, dict[str, str]]]:
    """One sequential pass over every file, in constant memory: size and SHA-256 of each, plus
    the digests its declarations name (`wanted`: path -> algorithms), so nothing is read twice."""
    records = []
    digests: dict[str, dict[str, str]] = {}
    for entry, stream in archive.iter_files():
        names = {"sha-256", *(a for a in wanted.get(entry.path, ()) if a in manifests.HASHLIB_NAMES)}
        hashers = {a: hashlib.new(manifests.HASHLIB_NAMES[a]) for a in names}
        size = 0
        while chunk := stream.read(CHUNK):
            for hasher in hashers.values():
                hasher.update(chunk)
            size += len(chunk)
        digests[entry.path] = {a: h.hexdigest() for a, h in hashers.items()}
        media_type = mimetypes.guess_type(entry.path)[0] or "application/octet-stream"
        records.append(FileRecord(entry.path, size, digests[entry.path]["sha-256"], media_type))
    return records, digests


def _declared_digests(
    fmt: Format, archive: Archive
) -> tuple[list[manifests.DeclaredDigest], list[str], list[Problem], str | None]:
    """(declared digests, files that must be listed, problems, ETSI entry definitions)."""
    problems: list[Problem] = []
    declared: list[manifests.DeclaredDigest] = []
    must_list: list[str] = []
    entry: str | None = None
    if fmt == "5gtango" and TOSCA_META not in archive.paths:
        # detect_format names a zip with a NAPD 5GTANGO whether or not it has the TOSCA.meta 5GTANGO requires.
        problems.append(
            Problem(
                "5gtango.missing-tosca-meta",
                f"no {TOSCA_META}; a 5GTANGO package carries one beside its NAPD",
                file=TOSCA_META,
            )
        )
    if fmt in ("etsi", "5gtango"):
        meta: manifests.ToscaMeta | None = None
        if TOSCA_META in archive.paths:
            meta, meta_problems = manifests.parse_tosca_meta(archive.read(TOSCA_META), TOSCA_META)
            problems += meta_problems
        manifest_path = None
        if meta is not None:
            # 5GTANGO writes placeholders here ("Entry-Definitions: TODO"); its NAPD says what matters.
            entry = meta.entry_definitions if fmt == "etsi" else None
            declared += meta.blocks
            manifest_path = meta.entry_manifest
        if manifest_path is None:
            manifest_path = next((p for p in archive.paths if "/" not in p and p.endswith(".mf")), None)
        if manifest_path is not None and manifest_path not in archive.paths:
            problems.append(
                Problem(
                    "tosca-meta.missing-entry",
                    f"the manifest {manifest_path} named by TOSCA.meta is not in the package",
                    file=TOSCA_META,
                )
            )
        elif manifest_path is not None:
            _, listed, manifest_problems = manifest_sol004.parse_sol004_manifest(
                archive.read(manifest_path), manifest_path
            )
            declared += listed
            problems += manifest_problems
            if fmt == "etsi":
                # SOL004: the manifest lists every file but TOSCA.meta, itself and signature material.
                exempt = {TOSCA_META, manifest_path}
                must_list = [p for p in archive.paths if p not in exempt and not p.endswith(SIGNATURE_SUFFIXES)]
        elif fmt == "etsi":
            # SOL004 requires a manifest; tosca-parser, with which Tacker onboards CSARs, accepts one without.
            problems.append(
                Problem(
                    "etsi.missing-manifest",
                    "no manifest (.mf) in the package root: SOL004 requires one, tosca-parser (Tacker) accepts the "
                    "CSAR without it. No file's hash is declared, so the package's integrity rests on the archive's "
                    "own SHA-256, the digest its registration on chain names",
                    severity=Severity.WARNING,
                )
            )
    if fmt == "5gtango":
        try:
            napd = yamlsafe.load(archive.read(NAPD), file=NAPD)
        except PackageRejected as exc:
            problems += exc.problems
            napd = None
        if isinstance(napd, dict):
            listed, napd_problems = manifests.parse_napd_content(napd, NAPD)
            declared += listed
            problems += napd_problems
    if fmt == "osm":
        top = archive.paths[0].split("/", 1)[0]
        checksums = f"{top}/checksums.txt"
        if checksums in archive.paths:
            listed, sum_problems = manifests.parse_osm_checksums(archive.read(checksums), checksums, top)
            declared += listed
            problems += sum_problems
    return declared, must_list, problems, entry


def inspect_package(path: Path, *, lookup: VnfdLookup, limits: ArchiveLimits | None = None) -> Inspection:
    """Inspect the archive at `path`; raise PackageRejected with every problem found."""
    with open_archive(path, limits) as archive:
        fmt = detect_format(archive)
        if fmt is None:
            raise PackageRejected(
                [
                    Problem(
                        "package.unknown-format",
                        "not a package format this marketplace accepts: expected an ETSI SOL004 CSAR (zip with "
                        f"{TOSCA_META}), a 5GTANGO package (zip with {NAPD}) or an OSM package (.tar.gz with one "
                        "top folder holding a SOL006 descriptor)",
                    )
                ]
            )
        checks = [Check("archive", "pass", f"{archive.kind} archive, {len(archive.paths)} files, no unsafe entries")]
        declared, must_list, problems, entry = _declared_digests(fmt, archive)
        wanted: dict[str, set[str]] = {}
        for d in declared:
            algorithm = manifests.normalise_algorithm(d.algorithm)
            if algorithm is not None:
                wanted.setdefault(manifests.normalise_path(d.path), set()).add(algorithm)
        files, digests = _index(archive, wanted)
        problems += manifests.verify(
            archive,
            declared,
            must_list=must_list,
            weak_ok=(fmt == "osm"),
            open_stream=archive.open,
            precomputed=digests,
        )
        result = _validate(fmt, archive, lookup, entry)
        problems += result.problems
        if errors(problems) or result.info is None:
            if result.info is None and not errors(problems):
                problems.append(Problem("package.unnamed", "the package's vendor, name and version could not be read"))
            raise PackageRejected(problems, info=result.info)
        info = result.info
        by_path = {f.path: f for f in files}
        main = by_path.get(info.main_descriptor)
        if main is None:
            raise PackageRejected(
                [Problem("package.main-descriptor", f"main descriptor {info.main_descriptor!r} is not in the package")]
            )
        weak = [p for p in problems if p.severity == Severity.WARNING]
        integrity_warnings = [p for p in weak if p.rule.startswith(("integrity.", "etsi.", "manifest."))]
        other_warnings = [p for p in weak if p not in integrity_warnings]
        checks += [
            Check("format", "pass", f"{fmt} package, {info.kind}"),
            Check(
                "integrity",
                "warn" if not declared or integrity_warnings else "pass",
                _integrity_detail(fmt, len(declared), len(integrity_warnings)),
            ),
            Check(
                "descriptors",
                "warn" if other_warnings else "pass",
                f"{_count(len(result.descriptors), 'descriptor')} valid: syntax, references, topology"
                + (f"; {_count(len(other_warnings), 'warning')} listed below" if other_warnings else ""),
            ),
        ]
        return Inspection(
            format=fmt,
            info=info,
            descriptors=result.descriptors,
            files=files,
            descriptor_digest=main.sha256,
            problems=weak,
            checks=checks,
        )


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _integrity_detail(fmt: str, declared: int, warnings: int) -> str:
    """The integrity check's line: what was verified, and how many warnings about it follow."""
    if not declared:
        said = "no file's digest is declared: the archive's SHA-256 is the package's integrity"
    else:
        said = f"{_count(declared, 'declared digest')} verified"
        if fmt == "osm":
            said += " (MD5, as OSM's checksums.txt has them; the archive's SHA-256 is the digest registered on chain)"
    return said + (f"; {_count(warnings, 'warning')} listed below" if warnings else "")


def _validate(fmt: Format, archive: Archive, lookup: VnfdLookup, entry: str | None) -> FormatResult:
    if fmt == "5gtango":
        return tango.validate_5gtango(archive, lookup)
    if fmt == "osm":
        return sol006.validate_osm(archive, lookup)
    if entry is None:
        return FormatResult(
            None, [], [Problem("tosca-meta.missing-entry", "TOSCA.meta has no Entry-Definitions", file=TOSCA_META)]
        )
    return sol001.validate_etsi(archive, lookup, entry)


def package_claimed(path: Path, *, limits: ArchiveLimits | None = None) -> Claimed:
    """What an archive says it is (vendor, name, version), its main descriptor's digest and every problem
    found, without rejecting it: the verifier compares that claim with the registry when the archive's
    digest is unknown. References to VNFDs outside the package are not looked up (there is no repository
    to ask)."""
    try:
        inspection = inspect_package(path, lookup=lambda ref: None, limits=limits)
    except PackageRejected as exc:
        return Claimed(exc.info, None, exc.problems)
    return Claimed(inspection.info, inspection.descriptor_digest, inspection.problems)


def archive_identity(archive: Archive) -> Claimed:
    """What an opened archive says it is, as `package_claimed` reads it, from only what names it: TOSCA.meta
    or the NAPD and the descriptors they lead to (an OSM package's descriptor is read where it lies); no file
    is hashed and no manifest or checksum checked (see `identity.package_identity`). The main descriptor's
    digest comes from its own bytes."""
    try:
        fmt = detect_format(archive)
        if fmt is None:
            why = "neither an ETSI, 5GTANGO nor OSM package: no TOSCA.meta, NAPD or single top folder names it"
            return Claimed(None, None, [Problem("package.unknown-format", why)])
        entry: str | None = None
        problems: list[Problem] = []
        if fmt == "etsi":
            meta, problems = manifests.parse_tosca_meta(archive.read(TOSCA_META), TOSCA_META)
            entry = meta.entry_definitions if meta is not None else None
        result = _validate(fmt, archive, lambda ref: None, entry)
        problems += result.problems
        info = result.info
        if info is None or info.main_descriptor not in archive.paths:
            return Claimed(info, None, problems)
        descriptor = hashlib.sha256()
        with archive.open(info.main_descriptor) as stream:
            while chunk := stream.read(CHUNK):
                descriptor.update(chunk)
        return Claimed(info, descriptor.hexdigest(), problems)
    except PackageRejected as exc:
        return Claimed(exc.info, None, exc.problems)
