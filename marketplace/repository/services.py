"""Writes of the NFV Repository: ingest, metadata annotation, lifecycle."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO

from django.conf import settings
from django.db import IntegrityError
from django_mongodb_backend import transaction

from config.faults import fault_point
from ledger.models import LineOwnership
from marketplace.accounts.services import normalise_address
from marketplace.errors import ConflictError, PermissionDeniedError, ValidationFailed
from marketplace.repository import blobs
from marketplace.repository.models import (
    MetadataChange,
    NetworkService,
    Package,
    PackageFile,
    PackageState,
    VerificationRecord,
    Vnf,
)
from marketplace.repository.origin import package_line_hash, visible_to
from marketplace.repository.packages.archive_base import ArchiveLimits
from marketplace.repository.packages.inspect import Inspection, inspect_package
from marketplace.repository.packages.problems import PackageRejected, Problem
from marketplace.repository.packages.types import ParsedDescriptor, VnfRef
from marketplace.repository.search import index_tokens
from marketplace.repository.selectors import package_references, vnf_for_ref, vnf_lookup
from marketplace.repository.versions import version_key

log = logging.getLogger(__name__)


CHUNK = 1024 * 1024


TAG = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class IngestResult:
    package: Package
    created: bool  # False: the identical archive was already in the repository
    inspection: Inspection | None


def archive_limits() -> ArchiveLimits:
    return ArchiveLimits(
        max_entries=settings.PACKAGE_MAX_ENTRIES,
        max_total_size=settings.PACKAGE_MAX_BYTES,
        max_entry_size=settings.PACKAGE_MAX_BYTES,
        max_ratio=settings.PACKAGE_MAX_RATIO,
    )


def _spool(source: BinaryIO, limit: int, progress: Callable[[int], None] | None) -> tuple[Path, str, int, IO[bytes]]:
    """Copy the upload to a temporary file, hashing as it streams; constant memory. The file stays open and
    locked (flock) until the caller closes the handle returned: the lock tells the sweep this upload's writer
    is alive, and it covers the blob the file store links from it until the ingest commits."""
    settings.UPLOAD_TMP_DIR.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=settings.UPLOAD_TMP_DIR, prefix="upload-", delete=False)  # noqa: SIM115
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    path = Path(handle.name)
    hasher = hashlib.sha256()
    size = 0
    try:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise PackageRejected([Problem("upload.too-large", f"the upload exceeds the limit of {limit} bytes")])
            hasher.update(chunk)
            handle.write(chunk)
            fault_point("ingest:spooling")
            if progress:
                progress(size)
        handle.flush()
        if size == 0:
            raise PackageRejected([Problem("upload.empty", "the upload is empty")])
    except BaseException:
        path.unlink(missing_ok=True)
        handle.close()
        raise
    return path, hasher.hexdigest(), size, handle


def package_ingest(
    *,
    source: BinaryIO,
    uploader: str,
    filename: str = "",
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Validate an uploaded package and store it, or raise PackageRejected listing every problem.

    Atomic: a rejected or failed upload leaves no document and no blob behind.
    """
    uploader = normalise_address(uploader)
    path, digest, size, spooled = _spool(source, settings.PACKAGE_MAX_BYTES, progress)
    try:
        existing = Package.objects.filter(digest=digest).first()
        if existing is not None:
            if not visible_to(existing, uploader):
                # Another account's unlisted upload: not named (nor its id, uploader or line) to anyone else.
                raise PackageRejected(
                    [Problem("repository.duplicate-content", "these bytes are already in the repository")]
                )
            return IngestResult(existing, created=False, inspection=None)
        inspection = inspect_package(path, lookup=lambda ref: vnf_lookup(ref, viewer=uploader), limits=archive_limits())
        info = inspection.info
        _require_line_uploader(info.vendor, info.name, uploader, info.main_descriptor)
        # Versions are unique per uploader: a refusal for another account's upload of the same version
        # would tell that the line exists before its owner claimed it. Once a line is claimed only its
        # key uploads in it (above), so its versions are unique again.
        clash = Package.objects.filter(
            vendor=info.vendor, name=info.name, version=info.version, uploader=uploader
        ).first()
        if clash is not None:
            named = f" (package {clash.pk})"
            raise PackageRejected(
                [
                    Problem(
                        "repository.duplicate-version",
                        f"{info.vendor}/{info.name} version {info.version} is already in the repository "
                        f"with other content{named}; publish a new version",
                        file=info.main_descriptor,
                    )
                ]
            )
        stored_now = blobs.blob_adopt(digest=digest, path=path, filename=filename or f"{digest}.pkg")
        fault_point("ingest:blob-written")
        try:
            package = _store(inspection, digest=digest, size=size, uploader=uploader, filename=filename)
        except BaseException:
            if stored_now:
                blobs.blob_delete(digest)
            raise
        return IngestResult(package, created=True, inspection=inspection)
    finally:
        path.unlink(missing_ok=True)
        spooled.close()  # releases the lock: the blob, if stored, is referenced by now


def _require_line_uploader(vendor: str, name: str, uploader: str, main_descriptor: str) -> None:
    """Uploads into a line claimed on chain come from its owner's current key: anyone else's copy could only
    hold the line's version numbers in this store, never be registered in it."""
    line = package_line_hash(vendor, name)
    owned = LineOwnership.objects.filter(name_hash=line).first() if line else None
    if owned is not None and owned.key != uploader:
        raise PackageRejected(
            [
                Problem(
                    "repository.line-owned",
                    f"the line {vendor}/{name} belongs to {owned.owner} on chain (publishing key {owned.key}); "
                    "only that key uploads packages in it: use a vendor name of your own",
                    file=main_descriptor,
                )
            ]
        )


def _store(inspection: Inspection, *, digest: str, size: int, uploader: str, filename: str) -> Package:
    info = inspection.info
    key = version_key(info.version)
    line_hash = package_line_hash(info.vendor, info.name)
    try:
        with transaction.atomic():
            # The latest version per uploader: another account's upload in an unclaimed line (which can
            # never be registered in it) must not push the line's own versions out of the catalogue.
            line = Package.objects.filter(vendor=info.vendor, name=info.name, uploader=uploader)
            newest = line.filter(is_latest=True).first()
            is_latest = newest is None or newest.version_key < key
            if is_latest and newest is not None:
                line.filter(is_latest=True).update(is_latest=False)
            package = Package.objects.create(
                format=inspection.format,
                kind=info.kind,
                vendor=info.vendor,
                name=info.name,
                version=info.version,
                version_key=key,
                is_latest=is_latest,
                state=PackageState.VALIDATED,
                digest=digest,
                size=size,
                filename=os.path.basename(filename)[:255],
                main_descriptor=info.main_descriptor,
                descriptor_digest=inspection.descriptor_digest,
                files=[
                    PackageFile(path=f.path, size=f.size, sha256=f.sha256, media_type=f.media_type)
                    for f in inspection.files
                ],
                uploader=uploader,
                line_hash=line_hash,
                listed=bool(line_hash) and LineOwnership.objects.filter(name_hash=line_hash).exists(),
                description=info.description,
                search_tokens=index_tokens([info.vendor, info.name, info.description]),
            )
            vnfs: dict[str, Vnf] = {}
            for parsed in inspection.descriptors:
                if parsed.summary.kind == "vnf":
                    vnfs[parsed.summary.descriptor_id] = _store_vnf(package, parsed)
            services = [_store_ns(package, p, vnfs) for p in inspection.descriptors if p.summary.kind == "ns"]
            # Filters search packages by resources: an NS package counts its constituents.
            counted: list[Vnf | NetworkService] = list(services) if services else list(vnfs.values())
            package.vcpus = sum(d.vcpus for d in counted)
            package.memory_mb = sum(d.memory_mb for d in counted)
            package.storage_gb = sum(d.storage_gb for d in counted)
            package.save(update_fields=["vcpus", "memory_mb", "storage_gb"])
            VerificationRecord.objects.create(
                package=package,
                result="accepted",
                checks=[c.as_dict() for c in inspection.checks],
                problems=[p.as_dict() for p in inspection.problems],
                digests={
                    "package_sha256": digest,
                    "descriptor_sha256": inspection.descriptor_digest,
                    "files": len(inspection.files),
                },
            )
    except IntegrityError as exc:
        # Another upload of the same version won the race between our check and the insert.
        raise PackageRejected(
            [Problem("repository.duplicate-version", f"{info.vendor}/{info.name} {info.version}: {exc}")]
        ) from exc
    return package


def _descriptor_fields(package: Package, parsed: ParsedDescriptor) -> dict[str, Any]:
    """What VNF and NS records store alike: the document and its normalised summary."""
    s = parsed.summary
    return {
        "package": package,
        "file": parsed.file,
        "descriptor_id": s.descriptor_id,
        "vendor": s.vendor,
        "name": s.name,
        "version": s.version,
        "description": s.description,
        "document": parsed.document,
        "connection_points": s.connection_points,
        "virtual_links": s.virtual_links,
        "search_tokens": index_tokens([s.vendor, s.name, s.description, s.descriptor_id]),
    }


def _store_vnf(package: Package, parsed: ParsedDescriptor) -> Vnf:
    s = parsed.summary
    return Vnf.objects.create(
        **_descriptor_fields(package, parsed),
        vcpus=s.vcpus,
        memory_mb=s.memory_mb,
        storage_gb=s.storage_gb,
        images=s.images,
    )


def _store_ns(package: Package, parsed: ParsedDescriptor, in_package: dict[str, Vnf]) -> NetworkService:
    refs = parsed.summary.constituent_vnfs
    resolved = [vnf for vnf in (_resolve(ref, in_package, package.uploader) for ref in refs) if vnf is not None]
    # An NS's resources are those of the VNFs it resolved to, one instance each.
    return NetworkService.objects.create(
        **_descriptor_fields(package, parsed),
        constituent_refs=[_ref_dict(r) for r in refs],
        vnf_ids=[v.pk for v in resolved],
        vcpus=sum(v.vcpus for v in resolved),
        memory_mb=sum(v.memory_mb for v in resolved),
        storage_gb=sum(v.storage_gb for v in resolved),
    )


def _resolve(ref: VnfRef, in_package: dict[str, Vnf], uploader: str) -> Vnf | None:
    for vnf in in_package.values():
        if _matches(ref, vnf):
            return vnf
    return vnf_for_ref(ref, viewer=uploader)


def _matches(ref: VnfRef, vnf: Vnf) -> bool:
    if ref.vendor or ref.name:
        return (ref.vendor, ref.name, ref.version) == (vnf.vendor, vnf.name, vnf.version)
    return ref.descriptor_id == vnf.descriptor_id


def _ref_dict(ref: VnfRef) -> dict[str, Any]:
    return {k: v for k, v in vars(ref).items() if v is not None}


METADATA_FIELDS = ("description", "category", "tags", "links")


def require_uploader(package: Package, actor: str) -> None:
    if normalise_address(actor) != package.uploader:
        raise PermissionDeniedError(f"only the uploader {package.uploader} may change package {package.pk}")


def package_metadata_update(*, package: Package, actor: str, changes: dict[str, Any]) -> Package:
    """Change description, category, tags or links; the digest is untouched and the change recorded."""
    require_uploader(package, actor)
    unknown = set(changes) - set(METADATA_FIELDS)
    if unknown:
        raise ValidationFailed({k: "not a metadata field; editable: " + ", ".join(METADATA_FIELDS) for k in unknown})
    cleaned = clean_metadata(changes)
    before = {k: getattr(package, k) for k in cleaned}
    after = {k: v for k, v in cleaned.items() if before[k] != v}
    if not after:
        return package
    with transaction.atomic():
        for key, value in after.items():
            setattr(package, key, value)
        package.search_tokens = index_tokens([package.vendor, package.name, package.description, *package.tags])
        package.save(update_fields=[*after, "search_tokens", "updated_at"])
        MetadataChange.objects.create(
            package=package, actor=normalise_address(actor), before={k: before[k] for k in after}, after=after
        )
    return package


def clean_metadata(changes: dict[str, Any]) -> dict[str, Any]:
    problems: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    if "description" in changes:
        value = changes["description"]
        if not isinstance(value, str) or len(value) > 5000:
            problems["description"] = "must be text of at most 5000 characters"
        else:
            cleaned["description"] = value.strip()
    if "category" in changes:
        value = changes["category"]
        if not isinstance(value, str) or len(value) > 64:
            problems["category"] = "must be text of at most 64 characters"
        else:
            cleaned["category"] = value.strip()
    if "tags" in changes:
        value = changes["tags"]
        if not isinstance(value, list) or len(value) > 32 or not all(isinstance(t, str) for t in value):
            problems["tags"] = "must be a list of at most 32 strings"
        else:
            tags = [t.strip().lower() for t in value if t.strip()]
            bad = [t for t in tags if not TAG.fullmatch(t)]
            if bad:
                problems["tags"] = f"{bad[0]!r}: tags are 1-64 characters of a-z, 0-9, '.', '_' or '-'"
            else:
                cleaned["tags"] = list(dict.fromkeys(tags))
    if "links" in changes:
        value = changes["links"]
        if not isinstance(value, list) or len(value) > 16:
            problems["links"] = "must be a list of at most 16 {title, url} objects"
        else:
            links = []
            for index, link in enumerate(value):
                url = link.get("url") if isinstance(link, dict) else None
                title = link.get("title", "") if isinstance(link, dict) else ""
                if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2000:
                    problems[f"links[{index}].url"] = "must be an http(s) URL of at most 2000 characters"
                elif not isinstance(title, str) or len(title) > 200:
                    problems[f"links[{index}].title"] = "must be text of at most 200 characters"
                else:
                    links.append({"title": title.strip(), "url": url})
            cleaned["links"] = links
    if problems:
        raise ValidationFailed(problems)
    return cleaned


def package_deprecate(*, package: Package, actor: str) -> Package:
    require_uploader(package, actor)
    if package.state == PackageState.REVOKED:
        raise ConflictError(f"package {package.pk} is revoked; it cannot become deprecated")
    if package.state != PackageState.DEPRECATED:
        package.state = PackageState.DEPRECATED
        package.save(update_fields=["state", "updated_at"])
    return package


def package_delete(*, package: Package, actor: str) -> None:
    """Delete a package nothing refers to; otherwise ConflictError says what refers to it."""
    require_uploader(package, actor)
    reasons = package_references(package)
    if reasons:
        raise ConflictError(f"package {package.pk} cannot be deleted, only deprecated: " + "; ".join(reasons))
    digest = package.digest
    with transaction.atomic():
        Vnf.objects.filter(package=package).delete()
        NetworkService.objects.filter(package=package).delete()
        VerificationRecord.objects.filter(package=package).delete()
        MetadataChange.objects.filter(package=package).delete()
        line = Package.objects.filter(vendor=package.vendor, name=package.name, uploader=package.uploader).exclude(
            pk=package.pk
        )
        was_latest = package.is_latest
        package.delete()
        if was_latest:
            newest = line.order_by("-version_key").first()
            if newest is not None:
                line.filter(pk=newest.pk).update(is_latest=True)
    if not Package.objects.filter(digest=digest).exists():
        blobs.blob_delete(digest)


DEMO_DIR = Path(__file__).resolve().parents[2] / "demo" / "packages"


def demo_packages() -> list[tuple[Path, str]]:
    """The project's demo package folders with their format, VNFs before the NSs that use them."""
    found = [
        (folder, fmt)
        for fmt in ("etsi", "osm", "5gtango")
        for folder in sorted((DEMO_DIR / fmt).glob("*"))
        if folder.is_dir()
    ]
    return sorted(found, key=lambda item: (not item[0].name.endswith("vnf"), item[1], item[0].name))


def catalogue_seed_demo(*, uploader: str) -> list[IngestResult]:
    """Build every demo package and ingest it through the ordinary ingest path."""
    from marketplace.repository.packages.build import build

    results = []
    with tempfile.TemporaryDirectory(prefix="nfvm-demo-") as tmp:
        for folder, fmt in demo_packages():
            archive = build(folder, fmt, Path(tmp) / f"{folder.name}.pkg")  # type: ignore[arg-type]
            with archive.open("rb") as source:
                results.append(package_ingest(source=source, uploader=uploader, filename=archive.name))
    return results


def blobs_sweep(*, older_than: timedelta = timedelta(hours=1)) -> list[str]:
    """Delete blobs left by an ingest that died between storing the archive and committing its
    documents; returns their digests."""
    referenced = set(Package.objects.values_list("digest", flat=True))
    orphans = blobs.blob_orphans(referenced=referenced, older_than=older_than)
    for digest in orphans:
        blobs.blob_delete(digest)
        log.warning("deleted orphan blob %s (no package refers to it)", digest)
    unfinished = blobs.blob_sweep_unfinished(older_than=older_than)
    spooled = _spool_sweep(older_than=older_than)
    if unfinished or spooled:
        log.warning(
            "removed %d unfinished blob write(s) and %d spooled upload(s) of dead processes",
            unfinished,
            spooled,
        )
    return orphans


def _spool_sweep(*, older_than: timedelta) -> int:
    """Spooled uploads a killed process left behind: older than `older_than`, or held by no live writer's lock
    (a live ingest removes its own)."""
    cutoff = time.time() - older_than.total_seconds()
    removed = 0
    for path in settings.UPLOAD_TMP_DIR.glob("upload-*"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff or not blobs.file_in_use(path):
                path.unlink()
                removed += 1
    return removed
