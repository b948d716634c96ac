"""SOL004 / SOL007 manifest files: metadata, per-file digests and artifact sets, parsed with every
problem located by line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from marketplace.repository.packages.manifests import (
    KEY_LINE,
    METADATA_KEYS,
    URI,
    DeclaredDigest,
    ManifestMetadata,
    at_line,
    decode,
    digest,
    line_number,
    normalise_path,
)
from marketplace.repository.packages.problems import Problem, Severity

# SOL004 asks for the metadata block; tosca-parser, with which Tacker onboards CSARs, does not read it, and the
# package's identity comes from its main descriptor: a gap is a warning (README, NFV Repository).
TOLERATED = "SOL004 requires it; tosca-parser (Tacker) accepts the package without it"

_SIGNATURE_BEGIN = re.compile(r"^-----BEGIN ([A-Z0-9 ]+)-----\s*$")


_ENTRY_KEYS = {"source", "algorithm", "hash", "signature", "certificate"}


@dataclass
class _Entry:
    source: str
    line: int
    algorithm: tuple[str, int] | None = None
    hash: tuple[str, int] | None = None


def parse_sol004_manifest(data: bytes, file: str) -> tuple[ManifestMetadata, list[DeclaredDigest], list[Problem]]:
    """Parse a SOL004 (VNF/PNF) or SOL007 (NS) manifest: metadata, non_mano_artifact_sets, Source/Algorithm/Hash
    entries and an optional CMS signature block (returned as text, not verified)."""
    text, problems = decode(data, file, "manifest.encoding")
    if text is None:
        return ManifestMetadata(), [], problems
    lines = text.splitlines()
    metadata_pairs: list[tuple[str, str, int]] = []
    artifact_sets: dict[str, list[str]] = {}
    entries: list[_Entry] = []
    signature: str | None = None
    signature_line = 0
    in_metadata = True  # metadata comes first; the first Source ends it
    seen_metadata_header = False
    current: _Entry | None = None

    n = 0
    while n < len(lines):
        line = lines[n]
        number = n + 1
        n += 1
        stripped = line.strip()
        if not stripped:
            current = None
            continue
        begin = _SIGNATURE_BEGIN.match(stripped)
        if begin:
            end_marker = f"-----END {begin.group(1)}-----"
            end = next((i for i in range(n, len(lines)) if lines[i].strip() == end_marker), None)
            if end is None:
                problems.append(
                    Problem("manifest.syntax", f"{stripped} is never closed by {end_marker}", file, at_line(number))
                )
                break
            if signature is not None:
                problems.append(Problem("manifest.syntax", "a second signature block", file, at_line(number)))
            else:
                signature, signature_line = "\n".join(x.strip() for x in lines[number - 1 : end + 1]) + "\n", number
            n = end + 1
            current = None
            continue
        if signature is not None:
            problems.append(Problem("manifest.syntax", "text after the signature block", file, at_line(number)))
            continue
        match = KEY_LINE.match(stripped) if not line[0].isspace() else None
        if match is None:
            problems.append(
                Problem("manifest.syntax", f'expected "key: value", found {stripped[:80]!r}', file, at_line(number))
            )
            continue
        key, value = match.group(1), match.group(2).strip()
        lower = key.lower()
        if lower == "metadata" and not value and in_metadata and not metadata_pairs and not seen_metadata_header:
            seen_metadata_header = True
            continue
        if lower == "non_mano_artifact_sets" and not value:
            n = _artifact_sets(lines, n, artifact_sets, file, problems)
            current = None
            continue
        if lower == "source":
            in_metadata = False
            current = _Entry(source=value, line=number)
            entries.append(current)
            continue
        if lower in _ENTRY_KEYS:
            if current is None:
                problems.append(
                    Problem("manifest.incomplete-entry", f"{key} without a Source before it", file, at_line(number))
                )
                continue
            if lower in ("algorithm", "hash"):
                if getattr(current, lower) is not None:
                    problems.append(
                        Problem("manifest.syntax", f"{key} appears twice for {current.source}", file, at_line(number))
                    )
                    continue
                setattr(current, lower, (value, number))
            continue  # per-artifact Signature/Certificate (SOL004 v2.6+): accepted, not verified here
        if in_metadata:
            if any(k == lower for k, _, _ in metadata_pairs):
                problems.append(
                    Problem("manifest.syntax", f"{key} appears twice in the metadata", file, at_line(number))
                )
                continue
            metadata_pairs.append((lower, value, number))
            continue
        problems.append(
            Problem(
                "manifest.syntax",
                f"unexpected key {key!r} after the metadata"
                + (f" (in the entry for {current.source})" if current else ""),
                file,
                at_line(number),
            )
        )

    metadata, meta_problems = _metadata(metadata_pairs, file)
    problems.extend(meta_problems)
    digests: list[DeclaredDigest] = []
    for entry in entries:
        digest, entry_problems = _entry_digest(entry, file)
        problems.extend(entry_problems)
        if digest is not None:
            digests.append(digest)
    metadata = ManifestMetadata(
        fields=metadata.fields,
        kind=metadata.kind,
        provider=metadata.provider,
        product_name=metadata.product_name,
        package_version=metadata.package_version,
        release_date_time=metadata.release_date_time,
        non_mano_artifact_sets={k: tuple(v) for k, v in artifact_sets.items()},
        signature=signature,
        signature_location=at_line(signature_line) if signature else "",
    )
    problems.sort(key=lambda p: line_number(p.location))
    return metadata, digests, problems


def _artifact_sets(lines: list[str], start: int, sets: dict[str, list[str]], file: str, problems: list[Problem]) -> int:
    """Read the indented body of `non_mano_artifact_sets:` from index `start`; return the index after it.
    Body: `  set_name:` lines, each followed by more indented `Source: path` lines."""
    current: str | None = None
    n = start
    while n < len(lines):
        line = lines[n]
        if line.strip() and not line[0].isspace():
            break
        n += 1
        if not line.strip():
            continue
        match = KEY_LINE.match(line.strip())
        if match is None:
            problems.append(
                Problem("manifest.syntax", f'expected "key: value", found {line.strip()[:80]!r}', file, at_line(n))
            )
            continue
        key, value = match.group(1), match.group(2).strip()
        if key.lower() == "source" and current is not None:
            sets[current].append(normalise_path(value))
        elif not value:
            current = key
            sets.setdefault(key, [])
        else:
            problems.append(
                Problem("manifest.syntax", f"unexpected {key!r} in non_mano_artifact_sets", file, at_line(n))
            )
    return n


def _metadata(pairs: list[tuple[str, str, int]], file: str) -> tuple[ManifestMetadata, list[Problem]]:
    fields = {k: v for k, v, _ in pairs}
    prefixes = {k.split("_", 1)[0] for k in fields}
    found = [p for p in ("vnf", "nsd", "ns", "pnfd") if p in prefixes]
    if not found:
        return ManifestMetadata(fields=fields), [
            Problem(
                "manifest.missing-metadata",
                "no metadata block (vnf_provider_id, vnf_product_name, vnf_package_version, vnf_release_date_time, "
                f"or the NS/PNF equivalents) before the first Source ({TOLERATED})",
                file,
                at_line(1),
                severity=Severity.WARNING,
            )
        ]
    kind, keys = METADATA_KEYS[found[0]]
    problems: list[Problem] = []
    if len(found) > 1:
        problems.append(
            Problem(
                "manifest.missing-metadata",
                f"metadata mixes the key sets {', '.join(found)} ({TOLERATED})",
                file,
                at_line(pairs[0][2]),
                severity=Severity.WARNING,
            )
        )
    missing = [k for k in keys if not fields.get(k)]
    if missing:
        problems.append(
            Problem(
                "manifest.missing-metadata",
                f"the metadata has no {', '.join(missing)} ({TOLERATED})",
                file,
                at_line(pairs[0][2]),
                severity=Severity.WARNING,
            )
        )
    provider, name, version, released = (fields.get(k) or None for k in keys)
    meta = ManifestMetadata(
        fields=fields,
        kind=kind,
        provider=provider,
        product_name=name,
        package_version=version,
        release_date_time=released,
    )
    return meta, problems


def _entry_digest(entry: _Entry, file: str) -> tuple[DeclaredDigest | None, list[Problem]]:
    where = at_line(entry.line)
    if URI.match(entry.source):
        # An artefact referenced from outside the package: nothing here to hash.
        return None, [
            Problem(
                "integrity.external-artifact",
                f"{entry.source} is outside the package; its digest is not verified",
                file,
                where,
                Severity.WARNING,
            )
        ]
    path = normalise_path(entry.source)
    if entry.algorithm is None or entry.hash is None:
        missing = " and ".join(
            name for name, value in (("Algorithm", entry.algorithm), ("Hash", entry.hash)) if value is None
        )
        return None, [
            Problem("manifest.incomplete-entry", f"Source {path or entry.source!r} has no {missing}", file, where)
        ]
    return digest(path, entry.algorithm[0], entry.hash[0], file, where), []
