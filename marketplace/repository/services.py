"""Writes of the NFV Repository: ingest, metadata annotation, lifecycle."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone
from django_mongodb_backend import transaction
from eth_utils.address import is_address, to_checksum_address

from ledger import siwe
from ledger.client import get_chain_client
from ledger.exceptions import LedgerError
from ledger.registry import (
    PackageRegistry,
    Registration,
    batch_tree,
    name_hash,
    registration_from_typed_data,
    signer_of,
    version_number,
)
from ledger.signer import operator_account
from marketplace.models import (
    ApiToken,
    MetadataChange,
    NetworkService,
    Package,
    PackageFile,
    PackageState,
    RegistrationRequest,
    RegistrationState,
    SignInNonce,
    VerificationRecord,
    Vnf,
)
from marketplace.repository import blobs
from marketplace.repository.packages import yamlsafe
from marketplace.repository.packages.archive import ArchiveLimits
from marketplace.repository.packages.inspect import Inspection, inspect_package
from marketplace.repository.packages.problems import PackageRejected, Problem
from marketplace.repository.packages.types import ParsedDescriptor, VnfRef
from marketplace.repository.search import index_tokens
from marketplace.repository.selectors import package_references, vnf_for_ref, vnf_lookup
from marketplace.repository.versions import version_key

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024


class PermissionDeniedError(Exception):
    """The actor may not do this to this object."""


class ConflictError(Exception):
    """The request conflicts with the repository's state (HTTP 409)."""


class AuthenticationError(Exception):
    """A sign-in or token could not be verified (HTTP 401)."""


class ValidationFailed(Exception):
    """Input fields are wrong; `errors` maps each field to what is wrong with it (HTTP 400)."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


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


def normalise_address(address: str) -> str:
    if not is_address(address):
        raise PackageRejected([Problem("upload.uploader", f"{address!r} is not an Ethereum address")])
    return str(to_checksum_address(address))


def _spool(source: BinaryIO, limit: int, progress: Callable[[int], None] | None) -> tuple[Path, str, int]:
    """Copy the upload to a temporary file, hashing as it streams; constant memory."""
    settings.UPLOAD_TMP_DIR.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=settings.UPLOAD_TMP_DIR, prefix="upload-", delete=False)  # noqa: SIM115
    path = Path(handle.name)
    hasher = hashlib.sha256()
    size = 0
    try:
        with handle:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PackageRejected(
                        [Problem("upload.too-large", f"the upload exceeds the limit of {limit} bytes")]
                    )
                hasher.update(chunk)
                handle.write(chunk)
                if progress:
                    progress(size)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise PackageRejected([Problem("upload.empty", "the upload is empty")])
    return path, hasher.hexdigest(), size


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
    path, digest, size = _spool(source, settings.PACKAGE_MAX_BYTES, progress)
    try:
        existing = Package.objects.filter(digest=digest).first()
        if existing is not None:
            return IngestResult(existing, created=False, inspection=None)
        inspection = inspect_package(path, lookup=vnf_lookup, limits=archive_limits())
        info = inspection.info
        clash = Package.objects.filter(vendor=info.vendor, name=info.name, version=info.version).first()
        if clash is not None:
            raise PackageRejected(
                [
                    Problem(
                        "repository.duplicate-version",
                        f"{info.vendor}/{info.name} version {info.version} is already in the repository "
                        f"with other content (package {clash.pk}); publish a new version",
                        file=info.main_descriptor,
                    )
                ]
            )
        with path.open("rb") as stream:
            stored_now = blobs.blob_put(digest=digest, source=stream, filename=filename or f"{digest}.pkg")
        try:
            package = _store(inspection, digest=digest, size=size, uploader=uploader, filename=filename)
        except BaseException:
            if stored_now:
                blobs.blob_delete(digest)
            raise
        return IngestResult(package, created=True, inspection=inspection)
    finally:
        path.unlink(missing_ok=True)


def _store(inspection: Inspection, *, digest: str, size: int, uploader: str, filename: str) -> Package:
    info = inspection.info
    key = version_key(info.version)
    try:
        with transaction.atomic():
            line = Package.objects.filter(vendor=info.vendor, name=info.name)
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
    resolved = [vnf for vnf in (_resolve(ref, in_package) for ref in refs) if vnf is not None]
    # An NS's resources are those of the VNFs it resolved to, one instance each.
    return NetworkService.objects.create(
        **_descriptor_fields(package, parsed),
        constituent_refs=[_ref_dict(r) for r in refs],
        vnf_ids=[v.pk for v in resolved],
        vcpus=sum(v.vcpus for v in resolved),
        memory_mb=sum(v.memory_mb for v in resolved),
        storage_gb=sum(v.storage_gb for v in resolved),
    )


def _resolve(ref: VnfRef, in_package: dict[str, Vnf]) -> Vnf | None:
    for vnf in in_package.values():
        if _matches(ref, vnf):
            return vnf
    return vnf_for_ref(ref)


def _matches(ref: VnfRef, vnf: Vnf) -> bool:
    if ref.vendor or ref.name:
        return (ref.vendor, ref.name, ref.version) == (vnf.vendor, vnf.name, vnf.version)
    return ref.descriptor_id == vnf.descriptor_id


def _ref_dict(ref: VnfRef) -> dict[str, Any]:
    return {k: v for k, v in vars(ref).items() if v is not None}


# --- Sign-in and API tokens ---


def signin_nonce_issue() -> str:
    nonce = secrets.token_hex(12)
    SignInNonce.objects.create(nonce=nonce, issued_at=timezone.now())
    return nonce


def signin_message(*, address: str, domain: str, uri: str) -> str:
    """The EIP-4361 text a wallet is asked to sign, with a fresh one-time nonce."""
    return siwe.SiweMessage(
        domain=domain,
        address=normalise_address(address),
        statement="Sign in to the NFV marketplace. This request costs nothing and sends no transaction.",
        uri=uri,
        chain_id=get_chain_client().chain_id(),
        nonce=signin_nonce_issue(),
        issued_at=timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).to_text()


def signin_verify(*, message: str, signature: str, domain: str) -> str:
    """Check a signed EIP-4361 message against a nonce this server issued; returns the address.

    The nonce is consumed whether or not the signature holds, so a message is usable once."""
    try:
        nonce = siwe.parse(message).nonce
    except siwe.SiweError as exc:
        raise AuthenticationError(str(exc)) from exc
    cutoff = timezone.now() - timedelta(seconds=settings.SIGNIN_NONCE_TTL_S)
    consumed = SignInNonce.objects.filter(nonce=nonce, used_at=None, issued_at__gte=cutoff).update(
        used_at=timezone.now()
    )
    if consumed != 1:
        raise AuthenticationError("the sign-in nonce is unknown, expired or already used; ask for a new one")
    try:
        verified = siwe.verify(
            message,
            signature,
            domain=domain,
            chain_id=get_chain_client().chain_id(),
            nonce=nonce,
            max_age_s=settings.SIGNIN_NONCE_TTL_S,
        )
    except siwe.SiweError as exc:
        raise AuthenticationError(str(exc)) from exc
    return verified.address


def api_token_issue(*, address: str) -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    record = ApiToken.objects.create(
        token_sha256=hashlib.sha256(token.encode()).hexdigest(),
        address=normalise_address(address),
        expires_at=timezone.now() + timedelta(seconds=settings.API_TOKEN_TTL_S),
    )
    return token, record


# --- Metadata and lifecycle ---

METADATA_FIELDS = ("description", "category", "tags", "links")


def _require_uploader(package: Package, actor: str) -> None:
    if normalise_address(actor) != package.uploader:
        raise PermissionDeniedError(f"only the uploader {package.uploader} may change package {package.pk}")


def package_metadata_update(*, package: Package, actor: str, changes: dict[str, Any]) -> Package:
    """Change description, category, tags or links; the digest is untouched and the change recorded."""
    _require_uploader(package, actor)
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
    _require_uploader(package, actor)
    if package.state == PackageState.REVOKED:
        raise ConflictError(f"package {package.pk} is revoked; it cannot become deprecated")
    if package.state != PackageState.DEPRECATED:
        package.state = PackageState.DEPRECATED
        package.save(update_fields=["state", "updated_at"])
    return package


def package_delete(*, package: Package, actor: str) -> None:
    """Delete a package nothing refers to; otherwise ConflictError says what refers to it."""
    _require_uploader(package, actor)
    reasons = package_references(package)
    if reasons:
        raise ConflictError(f"package {package.pk} cannot be deleted, only deprecated: " + "; ".join(reasons))
    digest = package.digest
    with transaction.atomic():
        Vnf.objects.filter(package=package).delete()
        NetworkService.objects.filter(package=package).delete()
        VerificationRecord.objects.filter(package=package).delete()
        MetadataChange.objects.filter(package=package).delete()
        line = Package.objects.filter(vendor=package.vendor, name=package.name).exclude(pk=package.pk)
        was_latest = package.is_latest
        package.delete()
        if was_latest:
            newest = line.order_by("-version_key").first()
            if newest is not None:
                line.filter(pk=newest.pk).update(is_latest=True)
    if not Package.objects.filter(digest=digest).exists():
        blobs.blob_delete(digest)


# --- Demo catalogue ---

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
    return orphans


# --- On-chain registration (the developer signs, the operator relays or batches) ---

REGISTRATION_DEADLINE_S = 3600


def _registry() -> PackageRegistry:
    return PackageRegistry.deployed(get_chain_client())


def _expected_registration(package: Package, publisher: str, nonce: int, deadline: int) -> Registration:
    try:
        return Registration(
            digest="0x" + package.digest,
            name_hash="0x" + name_hash(package.vendor, package.name).hex(),
            version=version_number(package.version),
            descriptor_digest="0x" + package.descriptor_digest,
            publisher=publisher,
            nonce=nonce,
            deadline=deadline,
        )
    except LedgerError as exc:
        raise ConflictError(f"package {package.pk} cannot be registered on chain: {exc}") from exc


def registration_prepare(*, package: Package, actor: str) -> dict[str, Any]:
    """The EIP-712 payload the uploader's wallet signs to register `package` on chain."""
    _require_uploader(package, actor)
    registry = _registry()
    publisher = normalise_address(actor)
    deadline = int(timezone.now().timestamp()) + REGISTRATION_DEADLINE_S
    unnumbered = _expected_registration(package, publisher, 0, deadline)
    # The nonce is the line's registration count (see PackageRegistry.lineNonce).
    expected = replace(unnumbered, nonce=registry.line_nonce(unnumbered.name_hash))
    return registry.typed_data(expected)


def registration_submit(
    *, package: Package, actor: str, typed_data: dict[str, Any], signature: str, mode: str
) -> RegistrationRequest:
    """Check a signed registration and relay it now (`relay`) or queue it for the next batch (`batch`)."""
    _require_uploader(package, actor)
    if mode not in ("relay", "batch"):
        raise ValidationFailed({"mode": "must be relay or batch"})
    client = get_chain_client()
    registry = _registry()
    publisher = normalise_address(actor)
    try:
        signed = registration_from_typed_data(typed_data)
    except LedgerError as exc:
        raise ValidationFailed({"typed_data": str(exc)}) from exc
    expected = _expected_registration(package, publisher, signed.nonce, signed.deadline)
    if signed != expected:
        raise ValidationFailed({"typed_data": "does not describe this package, its version and its uploader"})
    if signed.deadline <= int(timezone.now().timestamp()):
        raise ValidationFailed({"typed_data": "the signature's deadline has passed; sign again"})
    ours = registry.typed_data(signed)  # our chain id and registry, whatever domain the client sent
    try:
        signer = signer_of(ours, signature)
    except LedgerError as exc:
        raise ValidationFailed({"signature": str(exc)}) from exc
    if signer != publisher:
        raise AuthenticationError(f"the registration is signed by {signer}, not by the uploader {publisher}")
    if RegistrationRequest.objects.filter(package=package, state=RegistrationState.SIGNED).exists():
        raise ConflictError(f"package {package.pk} already has a registration waiting to be anchored")
    if registry.registration_of(signed.digest) is not None:
        raise ConflictError(f"package {package.pk} is already registered on chain")
    request = RegistrationRequest.objects.create(
        package=package,
        chain_id=client.chain_id(),
        registry=registry.address,
        mode=mode,
        registration=signed.message(),
        signature=signature if signature.startswith("0x") else "0x" + signature,
        publisher=publisher,
    )
    if mode == "relay":
        operator = operator_account()
        try:
            receipt = client.transact(
                operator, registry.register_with_signature(operator.address, signed, signature), abi=registry.abi
            )
        except LedgerError as exc:
            request.state, request.error = RegistrationState.FAILED, str(exc)
            request.save(update_fields=["state", "error"])
            raise ConflictError(f"the registry refused the registration: {exc}") from exc
        request.state = RegistrationState.SUBMITTED
        request.tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        request.save(update_fields=["state", "tx_hash"])
    return request


def registration_batches_anchor() -> int:
    """Anchor one Merkle root over every queued signed registration; returns how many it covered."""
    client = get_chain_client()
    queued = list(
        RegistrationRequest.objects.filter(
            state=RegistrationState.SIGNED, mode="batch", chain_id=client.chain_id()
        ).order_by("created_at")
    )
    if not queued:
        return 0
    registry = _registry()
    signed = [(registration_from_typed_data(registry_typed(r)), r.signature) for r in queued]
    tree = batch_tree(signed)
    operator = operator_account()
    receipt = client.transact(
        operator, registry.anchor_batch(operator.address, tree.root, len(queued)), abi=registry.abi
    )
    batch_id = registry.anchored_batch_id(receipt)
    tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
    for index, request in enumerate(queued):
        request.state = RegistrationState.SUBMITTED
        request.batch_id = batch_id
        request.leaf_index = index
        request.inclusion_proof = ["0x" + node.hex() for node in tree.proof(index)]
        request.tx_hash = tx_hash
        request.save(update_fields=["state", "batch_id", "leaf_index", "inclusion_proof", "tx_hash"])
    return len(queued)


def registry_typed(request: RegistrationRequest) -> dict[str, Any]:
    return {"primaryType": "Registration", "message": request.registration}


def registration_batches_due() -> int:
    """Anchor the queue when its oldest registration waited long enough, or it is full."""
    queued = RegistrationRequest.objects.filter(state=RegistrationState.SIGNED, mode="batch")
    oldest = queued.order_by("created_at").first()
    if oldest is None:
        return 0
    waited = (timezone.now() - oldest.created_at).total_seconds()
    if waited < settings.REGISTRATION_BATCH_WINDOW_S and queued.count() < settings.REGISTRATION_BATCH_MAX:
        return 0
    return registration_batches_anchor()


# --- Re-verification (tamper evidence) ---


def package_reverify(*, package: Package) -> VerificationRecord:
    """Check the stored package against its digests and the chain again, and record the verdict.

    Catches a blob changed in GridFS, files mixed from another archive, a descriptor document
    edited in the database, and, from the registry, a revoked or superseded version."""
    checks: list[dict[str, str]] = []
    tampered = False

    def check(name: str, ok: bool, detail: str, *, warn: bool = False) -> None:
        nonlocal tampered
        checks.append({"check": name, "result": "pass" if ok else ("warn" if warn else "fail"), "detail": detail})
        tampered = tampered or (not ok and not warn)

    hasher = hashlib.sha256()
    size = 0
    with blobs.blob_open(package.digest) as blob:
        while chunk := blob.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    actual = hasher.hexdigest()
    check(
        "blob",
        actual == package.digest,
        "stored bytes hash to the package digest"
        if actual == package.digest
        else f"stored bytes hash to {actual}, not to the package digest {package.digest}",
    )
    if actual == package.digest:
        _reverify_contents(package, check)
    outcome = "tampered" if tampered else _reverify_chain(package, check)
    return VerificationRecord.objects.create(
        package=package,
        result=outcome,
        checks=checks,
        digests={
            "package_sha256": package.digest,
            "stored_sha256": actual,
            "descriptor_sha256": package.descriptor_digest,
        },
    )


def _reverify_contents(package: Package, check: Callable[..., None]) -> None:
    from marketplace.repository.packages.archive import open_archive

    index = {f.path: f.sha256 for f in package.files}
    seen: dict[str, str] = {}
    documents: dict[str, bytes] = {}
    descriptor_files = {
        d.file for d in [*Vnf.objects.filter(package=package), *NetworkService.objects.filter(package=package)]
    }
    with blobs.blob_open(package.digest) as blob, open_archive(blob) as archive:
        for entry, stream in archive.iter_files():
            hasher = hashlib.sha256()
            data = bytearray()
            while chunk := stream.read(CHUNK):
                hasher.update(chunk)
                if entry.path in descriptor_files:
                    data += chunk
            seen[entry.path] = hasher.hexdigest()
            if entry.path in descriptor_files:
                documents[entry.path] = bytes(data)
    mismatched = sorted(p for p in set(index) | set(seen) if index.get(p) != seen.get(p))
    check(
        "files",
        not mismatched,
        "every file matches the index"
        if not mismatched
        else "files differ from the index: " + ", ".join(mismatched[:5]),
    )
    main = seen.get(package.main_descriptor)
    check(
        "descriptor",
        main == package.descriptor_digest,
        "the main descriptor matches its digest"
        if main == package.descriptor_digest
        else f"{package.main_descriptor} hashes to {main}, not {package.descriptor_digest}",
    )
    edited = []
    for model in (Vnf, NetworkService):
        for d in model.objects.filter(package=package):
            try:
                parsed = yamlsafe.load(documents.get(d.file, b""), file=d.file)
            except PackageRejected:
                parsed = None
            if _normalised(parsed) != _normalised(d.document):
                edited.append(f"{d.file} ({d.descriptor_id})")
    check(
        "descriptor-documents",
        not edited,
        "stored descriptor documents match the package's files"
        if not edited
        else "stored descriptor documents differ from the package's files: " + ", ".join(edited),
    )


def _normalised(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _reverify_chain(package: Package, check: Callable[..., None]) -> str:
    try:
        registry = _registry()
        record = registry.registration_of("0x" + package.digest)
    except LedgerError as exc:
        check("chain", False, f"the registry cannot be read: {exc}", warn=True)
        return "unverified"
    if record is None:
        request = RegistrationRequest.objects.filter(package=package, mode="batch", batch_id__isnull=False).first()
        if request is not None and registry.verify_batched(
            int(request.batch_id or 0),
            registration_from_typed_data(registry_typed(request)),
            request.signature,
            request.inclusion_proof,
            int(request.leaf_index or 0),
        ):
            check("chain", True, f"included in anchored batch {request.batch_id} (leaf {request.leaf_index})")
            return "verified"
        check("chain", False, "not registered on chain", warn=True)
        return "unregistered"
    check(
        "chain-descriptor",
        record.descriptor_digest.lower().removeprefix("0x") == package.descriptor_digest,
        "the descriptor digest on chain matches",
    )
    if int(record.status) == 3:
        check("chain-status", False, "the publisher revoked this package on chain", warn=True)
        return "revoked"
    latest = registry.latest_version(record.name_hash)
    if latest > record.version:
        check("chain-latest", False, "a newer version of this package is registered on chain", warn=True)
        return "superseded"
    check("chain", True, f"registered on chain by {record.publisher}")
    return "verified"
