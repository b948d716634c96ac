"""Registration of packages on the PackageRegistry: the typed data a publisher signs, its relayed
submission, batch anchoring, and re-verification of a stored package against its chain record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.utils import timezone

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
from marketplace.accounts.services import normalise_address
from marketplace.errors import AuthenticationError, ConflictError, PermissionDeniedError, ValidationFailed
from marketplace.repository import blobs
from marketplace.repository.models import (
    NetworkService,
    Package,
    RegistrationRequest,
    RegistrationState,
    VerificationRecord,
    Vnf,
)
from marketplace.repository.packages import yamlsafe
from marketplace.repository.packages.problems import PackageRejected
from marketplace.repository.services import CHUNK, require_uploader

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
    require_uploader(package, actor)
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
    require_uploader(package, actor)
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


def package_reverify_as(*, package: Package, actor: str) -> VerificationRecord:
    """package_reverify on behalf of `actor`: its uploader, or the publisher its registration names on chain.
    A re-verification reads the whole archive again (up to the upload limit), so not anyone may ask."""
    from ledger.models import PackageAnchor

    chain_id = get_chain_client().chain_id()
    anchors = PackageAnchor.objects.filter(chain_id=chain_id, digest="0x" + package.digest)
    publishers = set(anchors.values_list("publisher", flat=True))
    if actor != package.uploader and actor not in publishers:
        raise PermissionDeniedError(
            f"only the uploader or the registered publisher may re-verify package {package.pk}; "
            "anyone can check it with `nfvm verify`"
        )
    return package_reverify(package=package)


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
