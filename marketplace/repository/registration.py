"""Registration of packages on the PackageRegistry: the typed data a publisher signs, its relayed
submission, batch anchoring, and re-verification of a stored package against its chain record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from ledger.client import get_chain_client
from ledger.exceptions import LedgerError
from ledger.models import PackageAnchor, RegistryBatch
from ledger.registry import (
    LineClaim,
    PackageRegistry,
    PackageStatus,
    Registration,
    batch_tree,
    line_claim_from_typed_data,
    name_hash,
    registration_from_typed_data,
    signer_of,
    version_number,
)
from ledger.signer import operator_account
from marketplace.accounts.services import normalise_address
from marketplace.contract_manager.provenance import provenance_append
from marketplace.errors import AuthenticationError, ConflictError, PermissionDeniedError, ValidationFailed
from marketplace.repository import blobs
from marketplace.repository.models import (
    LineClaimRequest,
    LineClaimState,
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
# A line claim is revealed at least LINE_CLAIM_MIN_AGE_S after its commitment, and a commitment older
# than a day is void (PackageRegistry.MAX_COMMITMENT_AGE): the claim's signature lives as long.
LINE_CLAIM_DEADLINE_S = 23 * 3600


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


def _line_label(package: Package) -> str:
    return f"{package.vendor}/{package.name}"


def _pending_claim(chain_id: int, line: str, claimant: str) -> LineClaimRequest | None:
    return (
        LineClaimRequest.objects.filter(chain_id=chain_id, name_hash=line, claimant=claimant)
        .exclude(state=LineClaimState.FAILED)
        .order_by("-created_at")
        .first()
    )


def _line_state(registry: PackageRegistry, package: Package, publisher: str, line: str) -> str:
    """ "yours" (the publisher's key acts for the line), "claiming" (its claim is on its way) or
    "unclaimed"; raises ConflictError when the line is another key's."""
    key = registry.line_key(line)
    if key is not None and key != publisher:
        owner = registry.line_owner(line)
        raise ConflictError(
            f"the line {_line_label(package)} belongs to {owner} (publishing key {key}): only that key can "
            "register packages in it; upload under a vendor name of your own"
        )
    if key == publisher:
        return "yours"
    return "claiming" if _pending_claim(registry.client.chain_id(), line, publisher) else "unclaimed"


def registration_prepare(*, package: Package, actor: str) -> dict[str, Any]:
    """What the uploader's wallet signs to register `package` on chain: the EIP-712 registration, and,
    while the package's line has no owner, the claim of that line (committed now, revealed once the
    commitment is old enough; the registration is relayed after it)."""
    require_uploader(package, actor)
    registry = _registry()
    client = registry.client
    publisher = normalise_address(actor)
    deadline = int(timezone.now().timestamp()) + REGISTRATION_DEADLINE_S
    unnumbered = _expected_registration(package, publisher, 0, deadline)
    line = unnumbered.name_hash
    state = _line_state(registry, package, publisher, line)
    # The nonce is the line's registration count (see PackageRegistry.lineNonce).
    expected = replace(unnumbered, nonce=registry.line_nonce(line))
    claim = None
    if state == "unclaimed":
        claim_deadline = client.now() + LINE_CLAIM_DEADLINE_S
        claim = registry.claim_typed_data(LineClaim(name_hash=line, claimant=publisher, deadline=claim_deadline))
    return {
        "typed_data": registry.typed_data(expected),
        "claim": claim,
        "line": {"name": _line_label(package), "name_hash": line, "state": state},
    }


def registration_submit(
    *,
    package: Package,
    actor: str,
    typed_data: dict[str, Any],
    signature: str,
    mode: str,
    claim_typed_data: dict[str, Any] | None = None,
    claim_signature: str | None = None,
) -> RegistrationRequest:
    """Check a signed registration (and the signed claim of its line, while the line has no owner) and
    relay it now (`relay`) or queue it for the next batch (`batch`). A registration in a line still
    being claimed waits for the claim's reveal and goes out after it (`registrations_due`)."""
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
        raise ConflictError(f"package {package.pk} already has a registration waiting to go on chain")
    if registry.registration_of(signed.digest, signed.name_hash) is not None:
        raise ConflictError(f"package {package.pk} is already registered on chain")
    state = _line_state(registry, package, publisher, signed.name_hash)
    if state == "unclaimed":
        if not claim_typed_data or not claim_signature:
            raise ValidationFailed(
                {"claim": f"the line {_line_label(package)} has no owner yet: sign its claim as well"}
            )
        _claim_submit(registry, package, publisher, claim_typed_data, claim_signature)
    request = RegistrationRequest.objects.create(
        package=package,
        chain_id=client.chain_id(),
        registry=registry.address,
        mode=mode,
        registration=signed.message(),
        signature=signature if signature.startswith("0x") else "0x" + signature,
        publisher=publisher,
    )
    if mode == "relay" and state == "yours":
        _relay(registry, request)
    return request


def _claim_submit(
    registry: PackageRegistry, package: Package, claimant: str, typed_data: dict[str, Any], signature: str
) -> LineClaimRequest:
    """Check the signed claim of the package's line and relay its commitment now."""
    client = registry.client
    try:
        claim = line_claim_from_typed_data(typed_data)
    except LedgerError as exc:
        raise ValidationFailed({"claim": str(exc)}) from exc
    line = package.line_hash or "0x" + name_hash(package.vendor, package.name).hex()
    if claim.name_hash != line or claim.claimant != claimant:
        raise ValidationFailed({"claim": f"does not claim the line {_line_label(package)} for the uploader"})
    now, min_age = client.now(), registry.min_commitment_age()
    if claim.deadline < now + min_age + 60:
        raise ValidationFailed({"claim": "the claim's deadline is too close to be revealed in time; sign again"})
    if claim.deadline > now + 24 * 3600:
        raise ValidationFailed({"claim": "the claim's deadline is more than a day away"})
    try:
        signer = signer_of(registry.claim_typed_data(claim), signature)
    except LedgerError as exc:
        raise ValidationFailed({"claim_signature": str(exc)}) from exc
    if signer != claimant:
        raise AuthenticationError(f"the line claim is signed by {signer}, not by the uploader {claimant}")
    secret = signature if signature.startswith("0x") else "0x" + signature
    request = LineClaimRequest.objects.create(
        chain_id=client.chain_id(),
        registry=registry.address,
        name_hash=line,
        line=_line_label(package),
        claimant=claimant,
        deadline=claim.deadline,
        signature=secret,
        commitment=claim.commitment(secret),
    )
    operator = operator_account()
    try:
        receipt = client.transact(
            operator, registry.commit_line(operator.address, request.commitment), abi=registry.abi
        )
    except LedgerError as exc:
        # Someone who copied the commitment from the pending transaction sent it first: it is on chain
        # all the same, and only the claimant's signature reveals it.
        committed = registry.commitment_time(request.commitment)
        if not committed:
            request.state, request.error = LineClaimState.FAILED, str(exc)
            request.save(update_fields=["state", "error"])
            raise ConflictError(f"the registry refused the line's commitment: {exc}") from exc
        request.committed_at = committed
        request.save(update_fields=["committed_at"])
        return request
    block = client.call(lambda: client.w3.eth.get_block(receipt["blockNumber"]))
    request.committed_at = int(block["timestamp"])
    request.tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
    request.save(update_fields=["committed_at", "tx_hash"])
    return request


def _relay(registry: PackageRegistry, request: RegistrationRequest) -> None:
    signed = registration_from_typed_data(registry_typed(request))
    operator = operator_account()
    try:
        receipt = registry.client.transact(
            operator,
            registry.register_with_signature(operator.address, signed, request.signature),
            abi=registry.abi,
            step="registration",
        )
    except LedgerError as exc:
        # Anyone may relay the signature: a copy of this very transaction may have been mined first.
        recorded = registry.registration_of(signed.digest, signed.name_hash)
        if recorded is None or recorded.publisher != signed.publisher:
            request.state, request.error = RegistrationState.FAILED, str(exc)
            request.save(update_fields=["state", "error"])
            raise ConflictError(f"the registry refused the registration: {exc}") from exc
        request.state, request.tx_hash = RegistrationState.SUBMITTED, recorded.tx_hash
        request.save(update_fields=["state", "tx_hash"])
        return
    request.state = RegistrationState.SUBMITTED
    request.tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
    request.save(update_fields=["state", "tx_hash"])


def line_claims_due() -> int:
    """Reveal every committed line claim whose commitment is old enough, then relay the registrations
    that waited for their line. Returns how many claims were revealed."""
    client = get_chain_client()
    chain_id = client.chain_id()
    committed = list(LineClaimRequest.objects.filter(chain_id=chain_id, state=LineClaimState.COMMITTED))
    revealed = 0
    if committed:
        registry = _registry()
        now, min_age = client.now(), registry.min_commitment_age()
        operator = operator_account()
        for request in committed:
            if request.committed_at + min_age > now:
                continue
            claim = LineClaim(name_hash=request.name_hash, claimant=request.claimant, deadline=request.deadline)
            try:
                receipt = client.transact(
                    operator, registry.claim_line(operator.address, claim, request.signature), abi=registry.abi
                )
            except LedgerError as exc:
                # A copy of this very reveal, sent first by whoever saw it, claimed the line for the claimant.
                if registry.line_key(request.name_hash) != request.claimant:
                    _claim_failed(request, str(exc))
                    continue
                request.state = LineClaimState.CLAIMED
                request.save(update_fields=["state"])
                revealed += 1
                continue
            request.state = LineClaimState.CLAIMED
            request.tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
            request.save(update_fields=["state", "tx_hash"])
            revealed += 1
    registrations_due()
    return revealed


def _claim_failed(request: LineClaimRequest, error: str) -> None:
    """A claim that cannot be revealed (the line was taken, the commitment expired): the registrations
    that waited for it fail with the reason, for their uploader to see."""
    request.state, request.error = LineClaimState.FAILED, error
    request.save(update_fields=["state", "error"])
    waiting = RegistrationRequest.objects.filter(
        chain_id=request.chain_id, state=RegistrationState.SIGNED, publisher=request.claimant
    )
    for registration in waiting:
        if str(registration.registration.get("nameHash", "")).lower() == request.name_hash:
            registration.state = RegistrationState.FAILED
            registration.error = f"the claim of line {request.line} failed: {error}"
            registration.save(update_fields=["state", "error"])


def registrations_due() -> int:
    """Relay each signed registration that waited for its line, once the line is its publisher's."""
    client = get_chain_client()
    waiting = list(
        RegistrationRequest.objects.filter(chain_id=client.chain_id(), state=RegistrationState.SIGNED, mode="relay")
    )
    if not waiting:
        return 0
    registry = _registry()
    relayed = 0
    for request in waiting:
        key = registry.line_key(request.registration["nameHash"])
        if key != request.publisher:
            if key is not None:
                _fail_elsewhere(request, key)
            continue
        try:
            _relay(registry, request)
        except ConflictError:
            continue
        relayed += 1
    return relayed


def _fail_elsewhere(request: RegistrationRequest, key: str) -> None:
    """A registration whose line another key acts for now (taken, or the key rotated since it was signed)
    can never be recorded: it fails, for its uploader to see, instead of waiting for ever."""
    request.state = RegistrationState.FAILED
    request.error = f"the line's publishing key is {key} now, not the signer {request.publisher}: sign again"
    request.save(update_fields=["state", "error"])


def registration_batches_anchor() -> int:
    """Anchor one Merkle root over every queued signed registration whose line is its publisher's, then
    prove each on chain: a batched registration counts only once proveBatched recorded it, under the
    same line rules as a relayed one. Returns how many the batch covered."""
    client = get_chain_client()
    queued = list(
        RegistrationRequest.objects.filter(
            state=RegistrationState.SIGNED, mode="batch", chain_id=client.chain_id()
        ).order_by("created_at")
    )
    if not queued:
        return 0
    registry = _registry()
    ready = []
    for request in queued:
        key = registry.line_key(request.registration["nameHash"])
        if key == request.publisher:
            ready.append(request)
        elif key is not None:
            _fail_elsewhere(request, key)
    queued = ready[: settings.REGISTRATION_BATCH_MAX]
    if not queued:
        return 0
    signed = [(registration_from_typed_data(registry_typed(r)), r.signature) for r in queued]
    tree = batch_tree(signed)
    operator = operator_account()
    # A tick cut short after its anchoring transaction (a crash) left this very root on chain: the indexer
    # recorded it, and only the registry's owner, this operator, can anchor a batch. Its registrations are
    # proved under it instead of paying for a second root.
    root = "0x" + tree.root.hex()
    sent = RegistryBatch.objects.filter(chain_id=client.chain_id(), root=root, size=len(queued)).first()
    on_chain = registry.batch(int(sent.batch_id)) if sent is not None else None  # the record is only a hint
    if sent is not None and on_chain is not None and (on_chain.root, on_chain.size) == (root, len(queued)):
        batch_id, tx_hash = int(sent.batch_id), sent.tx_hash
    else:
        receipt = client.transact(
            operator, registry.anchor_batch(operator.address, tree.root, len(queued)), abi=registry.abi, step="batch"
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
    for request in queued:
        _prove_batched(registry, request)
    return len(queued)


def _prove_batched(registry: PackageRegistry, request: RegistrationRequest) -> None:
    """Send the request's proof under its anchored batch. A refusal because the registration is on chain
    already (a proof sent before a crash, or by anyone: the proof is public) is no failure."""
    signed = registration_from_typed_data(registry_typed(request))
    operator = operator_account()
    try:
        registry.client.transact(
            operator,
            registry.prove_batched(
                operator.address,
                int(request.batch_id or 0),
                signed,
                request.signature,
                request.inclusion_proof,
                request.leaf_index or 0,
            ),
            abi=registry.abi,
        )
    except LedgerError as exc:
        recorded = registry.registration_of(signed.digest, signed.name_hash)
        if recorded is None or recorded.publisher != signed.publisher:
            request.state, request.error = RegistrationState.FAILED, f"the batch's proof was refused: {exc}"
            request.save(update_fields=["state", "error"])


# A batch's registrations are proved one transaction each after its root; a crash part-way leaves some anchored
# in the batch and never proved. Past this age a batched registration the indexer has not recorded is proved
# again (a signature's deadline bounds how long one can wait, so a day covers every one still provable).
PROOF_RETRY_AFTER_S = 60
PROOF_RETRY_WITHIN_S = 24 * 3600


def registration_batch_proofs_due() -> int:
    """Send again the proof of each batched registration a crash left unproved; returns how many were sent."""
    client = get_chain_client()
    now = timezone.now()
    waiting = list(
        RegistrationRequest.objects.filter(
            state=RegistrationState.SUBMITTED,
            mode="batch",
            chain_id=client.chain_id(),
            batch_id__isnull=False,
            created_at__lt=now - timedelta(seconds=PROOF_RETRY_AFTER_S),
            created_at__gte=now - timedelta(seconds=PROOF_RETRY_WITHIN_S),
        )
    )
    if not waiting:
        return 0
    digests = [str(r.registration["digest"]).lower() for r in waiting]
    recorded = {
        (a.digest.lower(), a.name_hash.lower())
        for a in PackageAnchor.objects.filter(chain_id=client.chain_id(), digest__in=digests)
    }
    registry = _registry()
    sent = 0
    for request in waiting:
        digest, line = str(request.registration["digest"]).lower(), str(request.registration["nameHash"]).lower()
        if (digest, line) in recorded or registry.registration_of(digest, line) is not None:
            continue
        _prove_batched(registry, request)
        sent += 1
    return sent


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
    from marketplace.repository.origin import line_ownership, package_anchor

    chain_id = get_chain_client().chain_id()
    anchor, line = package_anchor(package, chain_id), line_ownership(package, chain_id)
    publishers = {anchor.publisher if anchor else None, line.key if line else None} - {None}
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
    record = VerificationRecord.objects.create(
        package=package,
        result=outcome,
        checks=checks,
        digests={
            "package_sha256": package.digest,
            "stored_sha256": actual,
            "descriptor_sha256": package.descriptor_digest,
        },
    )
    failed = [c["check"] for c in checks if c.get("result") == "fail"]
    if not package.listed:
        # An unlisted upload stays its uploader's own (repository.origin): the public log does not name it.
        return record
    provenance_append(
        kind="verification",
        actor=operator_account().address,
        subject=f"package:{package.pk}",
        payload={
            "result": outcome,
            "digest": "0x" + package.digest,
            "summary": f"{package.name} {package.version} checked again: {outcome}"
            + (f" ({', '.join(failed)} failed)" if failed else ""),
        },
    )
    return record


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
    """The package's registration under its own line, compared with the package: version and main
    descriptor digest as the chain records them (the line is the lookup key itself)."""
    if not package.line_hash:
        check("chain", False, "the package names no line that could be registered", warn=True)
        return "unregistered"
    try:
        registry = _registry()
        record = registry.registration_of("0x" + package.digest, package.line_hash)
        latest = registry.latest_version(package.line_hash) if record is not None else 0
    except LedgerError as exc:
        check("chain", False, f"the registry cannot be read: {exc}", warn=True)
        return "unverified"
    if record is None:
        check("chain", False, f"not registered on chain under its line {_line_label(package)}", warn=True)
        return "unregistered"
    try:
        number: int | None = version_number(package.version)
    except LedgerError:
        number = None
    check(
        "chain-version",
        number == record.version,
        f"the chain records version number {record.version}"
        + ("" if number == record.version else f", the package says {package.version} ({number})"),
    )
    descriptor = record.descriptor_digest.lower().removeprefix("0x")
    check(
        "chain-descriptor",
        descriptor == package.descriptor_digest,
        "the descriptor digest on chain matches"
        if descriptor == package.descriptor_digest
        else f"the chain records descriptor digest {descriptor}, the package has {package.descriptor_digest}",
    )
    if number != record.version or descriptor != package.descriptor_digest:
        return "tampered"
    if record.status is PackageStatus.REVOKED:
        check("chain-status", False, "the line owner's key revoked this package on chain", warn=True)
        return "revoked"
    if latest > record.version:
        check("chain-latest", False, "a newer version of this package is registered on chain", warn=True)
        return "superseded"
    check("chain", True, f"registered on chain under its line {_line_label(package)} by {record.publisher}")
    return "verified"
