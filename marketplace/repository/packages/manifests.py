"""Digests a package declares for its files (SOL004 manifest, TOSCA.meta, 5GTANGO NAPD, OSM checksums.txt),
and their verification against the files actually in the package."""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, BinaryIO, Literal

from marketplace.repository.packages.problems import PackageRejected, Problem, Severity
from marketplace.repository.packages.types import PackageView

CHUNK = 1024 * 1024  # streamed hashing reads this much at a time


# Normalised algorithm name -> length of its hex digest.
STRONG_ALGORITHMS: Mapping[str, int] = MappingProxyType({"sha-224": 56, "sha-256": 64, "sha-384": 96, "sha-512": 128})


# Accepted only where the format mandates them (OSM's checksums.txt is MD5), and then with a warning.
WEAK_ALGORITHMS: Mapping[str, int] = MappingProxyType({"md5": 32, "sha-1": 40})


HASHLIB_NAMES = {"sha-224": "sha224", "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512"}


HASHLIB_NAMES.update({"md5": "md5", "sha-1": "sha1"})


# Spelling-free key ("SHA-256", "sha_256", "SHA256" all become "sha256") -> normalised name.
_SPELLINGS = {name.replace("-", ""): name for name in (*STRONG_ALGORITHMS, *WEAK_ALGORITHMS)}


KEY_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)[ \t]*:(.*)$")


_HEX = frozenset(string.hexdigits)


URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


@dataclass(frozen=True)
class DeclaredDigest:
    """One file's digest as a package declares it."""

    path: str  # package-relative path of the file it covers, normalised by normalise_path
    algorithm: str  # normalised ("sha-256", "md5", ...) when known, else as written
    value: str  # as written, stripped and lower-cased; verify checks it is hex of the right length
    declared_in: str  # the file that declares it (e.g. "manifest.mf")
    location: str  # where in that file ("line 5", or "/package_content/2" for YAML)


@dataclass(frozen=True)
class ToscaMeta:
    """TOSCA-Metadata/TOSCA.meta. Entry paths are normalised; `blocks` are the per-file blocks that carry
    a digest, `content_types` the Content-Type of every per-file block that names one."""

    meta_file_version: str | None = None
    csar_version: str | None = None
    created_by: str | None = None
    entry_definitions: str | None = None
    entry_manifest: str | None = None
    entry_change_log: str | None = None
    entry_licenses: str | None = None
    entry_certificate: str | None = None
    blocks: tuple[DeclaredDigest, ...] = ()
    content_types: Mapping[str, str] = field(default_factory=dict)
    other: Mapping[str, str] = field(default_factory=dict)  # further keys of the first block, as written


ManifestKind = Literal["vnf", "ns", "pnf"]


@dataclass(frozen=True)
class ManifestMetadata:
    """The metadata block of a SOL004/SOL007 manifest. `fields` holds every key as written (lower-cased);
    the named attributes pick the VNF, NS (SOL007 or the older ns_* keys 5GTANGO writes) or PNF variant.
    `signature` is the CMS block of the manifest, kept as text and NOT verified here."""

    fields: Mapping[str, str] = field(default_factory=dict)
    kind: ManifestKind | None = None
    provider: str | None = None
    product_name: str | None = None
    package_version: str | None = None
    release_date_time: str | None = None
    non_mano_artifact_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    signature: str | None = None
    signature_location: str = ""


# Per kind: the keys SOL004 (VNF), SOL007 (NS) and SOL004 (PNF) require, in the order provider, name,
# version, release date. 5GTANGO writes an older NS variant (ns_provider_id...); accepted as well.
METADATA_KEYS: dict[str, tuple[ManifestKind, tuple[str, str, str, str]]] = {
    "vnf": ("vnf", ("vnf_provider_id", "vnf_product_name", "vnf_package_version", "vnf_release_date_time")),
    "nsd": ("ns", ("nsd_designer", "nsd_name", "nsd_file_structure_version", "nsd_release_date_time")),
    "ns": ("ns", ("ns_provider_id", "ns_product_name", "ns_package_version", "ns_release_date_time")),
    "pnfd": ("pnf", ("pnfd_provider", "pnfd_name", "pnfd_archive_version", "pnfd_release_date_time")),
}


def normalise_algorithm(name: str) -> str | None:
    """The normalised name of a hash algorithm in any common spelling (SHA-256, SHA256, sha_256 all give
    "sha-256"; MD5 gives "md5"), or None when it is not one this module knows."""
    key = re.sub(r"[\s_\-]", "", name).lower()
    return _SPELLINGS.get(key)


def normalise_path(raw: str) -> str:
    """A manifest path as a package-relative POSIX path: a leading "./" or "/" is dropped, "a//b" and
    "a/./b" collapse. ".." segments are kept so that verify can reject them by name."""
    parts = [p for p in raw.strip().split("/") if p not in ("", ".")]
    return "/".join(parts)


def _path_error(path: str) -> str | None:
    if not path:
        return "is empty"
    if "\\" in path or "\x00" in path:
        return "contains a backslash or NUL character"
    if ".." in path.split("/"):
        return 'contains ".." (paths must stay inside the package)'
    return None


def decode(data: bytes, file: str, rule: str) -> tuple[str | None, list[Problem]]:
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        where = f"byte {exc.start}"
        return None, [Problem(rule, f"not UTF-8 (byte {exc.start})", file=file, location=where)]


def at_line(n: int) -> str:
    return f"line {n}"


def line_number(location: str) -> int:
    match = re.match(r"line (\d+)", location)
    if match:
        return int(match.group(1))
    match = re.search(r"/(\d+)$", location)
    return int(match.group(1)) if match else 0


_TOSCA_ENTRY_KEYS = {
    "entry-definitions": "entry_definitions",
    "entry-manifest": "entry_manifest",
    "entry-change-log": "entry_change_log",
    "entry-licenses": "entry_licenses",
    "entry-certificate": "entry_certificate",
}


@dataclass
class _Block:
    start: int
    pairs: list[tuple[str, str, int]] = field(default_factory=list)  # key as written, value, line

    def get(self, key: str) -> tuple[str, int] | None:
        for k, v, n in self.pairs:
            if k.lower() == key:
                return v, n
        return None


def _key_value_blocks(text: str, file: str, rule: str) -> tuple[list[_Block], list[Problem]]:
    """Blank-line separated blocks of "Key: value" lines. A line starting with one space continues the
    previous value (the JAR-manifest syntax TOSCA.meta inherits)."""
    blocks: list[_Block] = []
    problems: list[Problem] = []
    current: _Block | None = None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            current = None
            continue
        if line.startswith(" ") and current is not None and current.pairs:
            key, value, at = current.pairs[-1]
            current.pairs[-1] = (key, value + line[1:].rstrip(), at)
            continue
        match = KEY_LINE.match(line)
        if match is None:
            problems.append(Problem(rule, f'expected "Key: value", found {line.strip()[:80]!r}', file, at_line(n)))
            continue
        key, value = match.group(1), match.group(2).strip()
        if current is None:
            current = _Block(start=n)
            blocks.append(current)
        if current.get(key.lower()) is not None:
            problems.append(
                Problem(rule, f"{key} appears twice in the block starting at line {current.start}", file, at_line(n))
            )
            continue
        current.pairs.append((key, value, n))
    return blocks, problems


def parse_tosca_meta(data: bytes, file: str) -> tuple[ToscaMeta | None, list[Problem]]:
    """Parse TOSCA-Metadata/TOSCA.meta. None only when there is nothing to read (not UTF-8, or empty)."""
    text, problems = decode(data, file, "tosca-meta.encoding")
    if text is None:
        return None, problems
    blocks, problems = _key_value_blocks(text, file, "tosca-meta.syntax")
    if not blocks:
        return None, [*problems, Problem("tosca-meta.missing-entry", "the file is empty", file)]
    first = blocks[0]
    values: dict[str, str | None] = {}
    other: dict[str, str] = {}
    for key, value, n in first.pairs:
        lower = key.lower()
        entry = lower.removeprefix("etsi-")
        if entry in _TOSCA_ENTRY_KEYS:
            path = normalise_path(value)
            error = _path_error(path)
            if error:
                problems.append(Problem("integrity.path-invalid", f"{key}: {value!r} {error}", file, at_line(n)))
            values[_TOSCA_ENTRY_KEYS[entry]] = path or None
        elif lower in ("tosca-meta-file-version", "tosca-meta-version"):  # the latter: older CSARs, 5GTANGO
            values["meta_file_version"] = value
        elif lower == "csar-version":
            values["csar_version"] = value
        elif lower == "created-by":
            values["created_by"] = value
        else:
            other[key] = value
    if not values.get("entry_definitions"):
        problems.append(
            Problem("tosca-meta.missing-entry", "no Entry-Definitions: the main service template is not named", file)
        )
    for required, label in (("meta_file_version", "TOSCA-Meta-File-Version"), ("csar_version", "CSAR-Version")):
        if not values.get(required):
            problems.append(Problem("tosca-meta.missing-field", f"no {label} in the first block", file, at_line(1)))

    digests: list[DeclaredDigest] = []
    content_types: dict[str, str] = {}
    for block in blocks[1:]:
        named = block.get("name")
        if named is None:
            keys = ", ".join(k for k, _, _ in block.pairs)
            problems.append(
                Problem("tosca-meta.incomplete-entry", f"a block without Name (has {keys})", file, at_line(block.start))
            )
            continue
        path = normalise_path(named[0])
        content_type = block.get("content-type")
        if content_type is not None:
            content_types[path] = content_type[0]
        algorithm, hash_ = block.get("algorithm"), block.get("hash")
        if algorithm is None and hash_ is None:
            continue  # a block may only give a Content-Type
        if algorithm is None or hash_ is None:
            missing = "Algorithm" if algorithm is None else "Hash"
            problems.append(
                Problem(
                    "tosca-meta.incomplete-entry", f"the block for {path} has no {missing}", file, at_line(named[1])
                )
            )
            continue
        digests.append(digest(path, algorithm[0], hash_[0], file, at_line(named[1])))
    meta = ToscaMeta(
        meta_file_version=values.get("meta_file_version"),
        csar_version=values.get("csar_version"),
        created_by=values.get("created_by"),
        entry_definitions=values.get("entry_definitions"),
        entry_manifest=values.get("entry_manifest"),
        entry_change_log=values.get("entry_change_log"),
        entry_licenses=values.get("entry_licenses"),
        entry_certificate=values.get("entry_certificate"),
        blocks=tuple(digests),
        content_types=content_types,
        other=other,
    )
    problems.sort(key=lambda p: line_number(p.location))
    return meta, problems


def digest(path: str, algorithm: str, value: str, file: str, location: str) -> DeclaredDigest:
    algorithm = algorithm.strip()
    return DeclaredDigest(
        path=path,
        algorithm=normalise_algorithm(algorithm) or algorithm,
        value=value.strip().lower(),
        declared_in=file,
        location=location,
    )


def parse_napd_content(napd: dict[str, Any], file: str) -> tuple[list[DeclaredDigest], list[Problem]]:
    """The package_content list of an already loaded NAPD.yaml; locations are JSON pointers."""
    content = napd.get("package_content")
    if content is None:
        return [], []
    if not isinstance(content, list):
        return [], [Problem("napd.content-entry", "package_content is not a list", file, "/package_content")]
    digests: list[DeclaredDigest] = []
    problems: list[Problem] = []
    for i, entry in enumerate(content):
        pointer = f"/package_content/{i}"
        if not isinstance(entry, dict):
            problems.append(Problem("napd.content-entry", "an entry that is not a mapping", file, pointer))
            continue
        missing = [k for k in ("source", "algorithm", "hash") if entry.get(k) in (None, "")]
        if missing:
            label = entry.get("source") or f"entry {i}"
            problems.append(Problem("napd.content-entry", f"{label} has no {', '.join(missing)}", file, pointer))
            continue
        wrong = [k for k in ("source", "algorithm", "hash") if not isinstance(entry[k], str)]
        if wrong:
            # An unquoted all-digit hash is read as a number and loses its leading zeros.
            problems.append(Problem("napd.content-entry", f"{', '.join(wrong)} must be a quoted string", file, pointer))
            continue
        digests.append(digest(normalise_path(entry["source"]), entry["algorithm"], entry["hash"], file, pointer))
    return digests, problems


_CHECKSUM_LINE = re.compile(r"^([0-9A-Za-z]+)[ \t]+\*?(.+)$")


def parse_osm_checksums(data: bytes, file: str, top: str) -> tuple[list[DeclaredDigest], list[Problem]]:
    """`<md5> <path>` lines (md5sum style, space or tab separated). Paths are relative to the top folder
    `top`; osmclient writes them with that folder in front, so a path already starting with `top/` is
    taken as it is. The result is package-relative."""
    text, problems = decode(data, file, "checksums.encoding")
    if text is None:
        return [], problems
    prefix = normalise_path(top)
    digests: list[DeclaredDigest] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _CHECKSUM_LINE.match(line.strip())
        if match is None:
            problems.append(
                Problem(
                    "checksums.syntax", f'expected "<md5> <path>", found {line.strip()[:80]!r}', file, at_line(number)
                )
            )
            continue
        path = normalise_path(match.group(2))
        if prefix and not (path == prefix or path.startswith(prefix + "/")):
            path = f"{prefix}/{path}"
        digests.append(digest(path, "md5", match.group(1), file, at_line(number)))
    return digests, problems


def _where(d: DeclaredDigest) -> str:
    return f"{d.declared_in} {d.location}".strip()


def _conflict(
    path: str, checkable: list[tuple[DeclaredDigest, str]], algorithm: str, actual: str | None = None
) -> Problem:
    """Two declarations of `path` disagree. One root cause, one finding: which of them the file matches is
    part of it (not a second "hash mismatch" problem)."""
    sources = "; ".join(f"{_where(d)}: {d.value}" for d, a in checkable if a == algorithm)
    first = next(d for d, a in checkable if a == algorithm)
    said = f"{path} is declared with different {algorithm.upper()} hashes ({sources})"
    if actual is not None:
        matching = [_where(d) for d, a in checkable if a == algorithm and d.value == actual]
        said += f"; its actual hash is {actual}, " + (
            f"as {' and '.join(matching)} declares" if matching else "which none of them declares"
        )
    return Problem("integrity.conflicting-declarations", said, first.declared_in, first.location)


def _declaration_problem(d: DeclaredDigest, weak_ok: bool) -> tuple[str | None, Problem | None]:
    """The normalised algorithm when `d` can be checked, and the problem with it if any."""
    error = _path_error(d.path)
    if error:
        return None, Problem(
            "integrity.path-invalid", f"{_where(d)} lists {d.path!r}, which {error}", d.declared_in, d.location
        )
    algorithm = normalise_algorithm(d.algorithm)
    if algorithm is None:
        return None, Problem(
            "integrity.unknown-algorithm",
            f"{_where(d)} uses the unknown algorithm {d.algorithm!r} for {d.path} "
            f"(use one of {', '.join(s.upper() for s in STRONG_ALGORITHMS)})",
            d.declared_in,
            d.location,
        )
    if algorithm in WEAK_ALGORITHMS and not weak_ok:
        return None, Problem(
            "integrity.weak-algorithm",
            f"{_where(d)} uses {algorithm.upper()} for {d.path}; it no longer protects against tampering "
            f"(use SHA-256 or SHA-512)",
            d.declared_in,
            d.location,
        )
    expected = {**STRONG_ALGORITHMS, **WEAK_ALGORITHMS}[algorithm]
    if not d.value or not set(d.value) <= _HEX:
        return None, Problem(
            "integrity.malformed-hash",
            f"{_where(d)}: the {algorithm.upper()} hash of {d.path} is not hexadecimal: {d.value[:140]!r}",
            d.declared_in,
            d.location,
        )
    if len(d.value) != expected:
        return None, Problem(
            "integrity.malformed-hash",
            f"{_where(d)}: the {algorithm.upper()} hash of {d.path} has {len(d.value)} hex digits, "
            f"{algorithm.upper()} has {expected}",
            d.declared_in,
            d.location,
        )
    return algorithm, None


def _compute(
    view: PackageView, path: str, algorithms: set[str], open_stream: Callable[[str], BinaryIO] | None
) -> dict[str, str]:
    """Every requested digest of one file, reading it once."""
    hashers = {a: hashlib.new(HASHLIB_NAMES[a]) for a in sorted(algorithms)}
    if open_stream is not None:
        with open_stream(path) as stream:
            while chunk := stream.read(CHUNK):
                for h in hashers.values():
                    h.update(chunk)
    else:
        # Without a stream the whole file is read; the archive checks already bounded its size.
        data = view.read(path, max_bytes=max(view.size(path), 1))
        for h in hashers.values():
            h.update(data)
    return {a: h.hexdigest() for a, h in hashers.items()}


def verify(
    view: PackageView,
    declared: list[DeclaredDigest],
    *,
    must_list: Iterable[str] = (),
    exempt: Iterable[str] = (),
    weak_ok: bool = False,
    open_stream: Callable[[str], BinaryIO] | None = None,
    precomputed: Mapping[str, Mapping[str, str]] | None = None,
) -> list[Problem]:
    """Check every declared digest against the package, and that every file of `must_list` (less `exempt`)
    is declared. Returns every problem, ordered by the path of the file concerned.

    `precomputed` (path -> algorithm -> hex digest, from one pass over the archive) saves reading a
    file again; files or algorithms it lacks are read through `open_stream` or `view.read`."""
    present = set(view.paths)
    by_path: dict[str, list[DeclaredDigest]] = {}
    for d in declared:
        by_path.setdefault(d.path, []).append(d)
    exempted = {normalise_path(p) for p in exempt}
    unlisted = sorted({normalise_path(p) for p in must_list} - exempted - set(by_path))

    per_path: dict[str, list[Problem]] = {p: [] for p in unlisted}
    for path in sorted(by_path):
        problems = per_path.setdefault(path, [])
        ds = sorted(by_path[path], key=lambda d: (d.declared_in, line_number(d.location), d.location))
        checkable: list[tuple[DeclaredDigest, str]] = []
        for d in ds:
            algorithm, problem = _declaration_problem(d, weak_ok)
            if problem is not None:
                problems.append(problem)
            if algorithm is not None:
                checkable.append((d, algorithm))
        values: dict[str, set[str]] = {}
        for d, algorithm in checkable:
            values.setdefault(algorithm, set()).add(d.value)
        conflicted = sorted(a for a, distinct in values.items() if len(distinct) > 1)

        if not checkable or path not in present:
            problems[:0] = [_conflict(path, checkable, a) for a in conflicted]
        if not checkable:
            continue
        if path not in present:
            for d, _ in checkable:
                problems.append(
                    Problem(
                        "integrity.missing-file",
                        f"{_where(d)} lists {path}, which is not in the package",
                        d.declared_in,
                        d.location,
                    )
                )
            continue
        known = (precomputed or {}).get(path, {})
        try:
            need = set(values)
            actual = dict(known) if need <= set(known) else _compute(view, path, need, open_stream)
        except PackageRejected as exc:
            problems[:0] = [_conflict(path, checkable, a) for a in conflicted]
            problems.extend(exc.problems)
            continue
        except OSError as exc:
            problems[:0] = [_conflict(path, checkable, a) for a in conflicted]
            problems.append(Problem("integrity.unreadable", f"{path} could not be read: {exc}", path))
            continue
        problems[:0] = [_conflict(path, checkable, a, actual[a]) for a in conflicted]
        for d, algorithm in checkable:
            if algorithm not in conflicted and actual[algorithm] != d.value:
                problems.append(
                    Problem(
                        "integrity.hash-mismatch",
                        f"{path} does not match its {algorithm.upper()} hash declared in {_where(d)}: "
                        f"declared {d.value}, actual {actual[algorithm]}",
                        d.declared_in,
                        d.location,
                    )
                )

    for path in unlisted:
        per_path[path].append(
            # SOL004 has the manifest list every file; tosca-parser (Tacker) does not check it, and the file's
            # bytes are covered by the archive's own SHA-256, the digest registered on chain: a warning.
            Problem(
                "integrity.unlisted-file",
                f"{path} is in the package but no digest is declared for it (SOL004 requires one; tosca-parser "
                "accepts the package): its integrity rests on the archive's SHA-256",
                path,
                severity=Severity.WARNING,
            )
        )
    # A weak algorithm the format mandates (OSM's checksums.txt is MD5) is checked like any other and is
    # no warning: the developer cannot choose another, and the package's integrity is its archive's SHA-256,
    # the digest registered on chain. Anywhere else a weak algorithm is an error (above).
    return [p for path in sorted(per_path) for p in per_path[path]]
