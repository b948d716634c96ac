"""The Licenses Repository's rules: the policy decision point and NS instantiation under a licence.

Offers and licences come from the chain (the indexer's LicenceOffer / AcquiredLicence records);
seats are reserved atomically; every decision and event goes to the provenance log."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from django.conf import settings
from django.db import connection

from ledger.client import get_chain_client
from ledger.exceptions import LedgerError
from ledger.models import AcquiredLicence, LicenceOffer
from ledger.registry import PackageRegistry, PackageStatus
from marketplace import blobs
from marketplace.models import InstanceState, LicencePolicy, NetworkService, NsInstance, Package, Vnf
from marketplace.policy import PolicyError, compile_policy
from marketplace.provenance import provenance_append

log = logging.getLogger(__name__)
SEATS = "licence_seats"
KINDS = {0: "public", 1: "trial", 2: "private"}


class LicenceDenied(Exception):
    """The decision point refused; `decision.reason` says why, in words a user can act on."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(decision.reason)


@dataclass(frozen=True)
class Decision:
    permit: bool
    reason: str
    offer_id: int | None = None
    licence_id: int | None = None
    kind: str | None = None
    seats: int = 0  # 0: unlimited
    in_use: int = 0
    trial_available: bool = False
    expires_at: int = 0

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["allowed_to_instantiate"] = self.permit
        return body


def _date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _policy_blocks(offer: LicenceOffer, action: str, now: int, region: str | None) -> str | None:
    """Why the offer's policy forbids `action` now (or in `region`), or None when it allows it."""
    policy = LicencePolicy.objects.filter(terms_hash=offer.terms_hash.lower()).first()
    if policy is None:
        return None  # an offer made outside the marketplace: its on-chain terms are all there is
    try:
        terms = compile_policy(policy.document)
    except PolicyError as exc:
        return f"the offer's policy cannot be applied: {exc}"
    if terms.actions and action not in terms.actions and not (action == "instantiate" and "use" in terms.actions):
        return f"the offer's policy does not permit {action}"
    moment = datetime.fromtimestamp(now, UTC)
    if terms.not_before and moment < terms.not_before:
        return f"the offer's policy permits use from {terms.not_before:%Y-%m-%d %H:%M} UTC"
    if terms.not_after and moment > terms.not_after:
        return f"the offer's policy ended on {terms.not_after:%Y-%m-%d %H:%M} UTC"
    if terms.regions and region is not None and region not in terms.regions:
        return f"the offer's policy permits use in {', '.join(terms.regions)} only, not in {region}"
    return None


def seat_key(chain_id: int, licence: AcquiredLicence) -> str:
    """The seat counter of one licence; the agreement hash keeps it apart from a licence with the
    same id on a chain that was since reset."""
    return f"{chain_id}:{licence.licence_id}:{licence.agreement_hash[2:18]}"


def _seat_key_of(chain_id: int, licence: AcquiredLicence | None) -> str:
    return seat_key(chain_id, licence) if licence is not None else ""


def seats_in_use(seat_key: str) -> int:
    return NsInstance.objects.filter(
        seat_key=seat_key, state__in=[InstanceState.INSTANTIATING, InstanceState.RUNNING, InstanceState.TERMINATING]
    ).count()


def licence_decide(
    *, ns: NetworkService, user: str, action: str = "instantiate", region: str | None = None
) -> Decision:
    """Permit or deny one usage of `ns` by `user`, from the chain's offers and licences."""
    client = get_chain_client()
    chain_id = client.chain_id()
    digest = "0x" + ns.package.digest
    offers = list(LicenceOffer.objects.filter(chain_id=chain_id, digest=digest).order_by("offer_id"))
    if not offers:
        return Decision(False, "nobody offers a licence for this network service yet")
    now = client.now()
    public = next((o for o in offers if o.kind == 0 and not o.closed), None)
    if public is not None:
        blocked = _policy_blocks(public, action, now, region)
        if blocked is None:
            return Decision(True, "public offer: free, no instance limit", offer_id=public.offer_id, kind="public")
    by_id = {o.offer_id: o for o in offers}
    held = list(
        AcquiredLicence.objects.filter(chain_id=chain_id, offer_id__in=list(by_id), licensee=user).order_by(
            "-licence_id"
        )
    )
    expired: AcquiredLicence | None = None
    for licence in held:
        offer = by_id[licence.offer_id]
        if licence.expires_at and licence.expires_at <= now:
            expired = expired or licence
            continue
        blocked = _policy_blocks(offer, action, now, region)
        if blocked is not None:
            return Decision(False, blocked, offer_id=offer.offer_id, licence_id=licence.licence_id)
        key = seat_key(chain_id, licence)
        used = seats_in_use(key)
        kind = KINDS.get(offer.kind, "private")
        if action == "instantiate" and offer.seats and used >= offer.seats:
            return Decision(
                False,
                f"{used} of {offer.seats} instances running under licence #{licence.licence_id}",
                offer_id=offer.offer_id,
                licence_id=licence.licence_id,
                kind=kind,
                seats=offer.seats,
                in_use=used,
                expires_at=licence.expires_at,
            )
        until = f", valid until {_date(licence.expires_at)}" if licence.expires_at else ""
        return Decision(
            True,
            f"{kind} licence #{licence.licence_id}: {used} of {offer.seats or 'unlimited'} instances running{until}",
            offer_id=offer.offer_id,
            licence_id=licence.licence_id,
            kind=kind,
            seats=offer.seats,
            in_use=used,
            expires_at=licence.expires_at,
        )
    trial = next((o for o in offers if o.kind == 1 and not o.closed), None)
    used_trial = trial is not None and any(lic.offer_id == trial.offer_id for lic in held)
    if expired is not None and (trial is None or used_trial):
        kind = KINDS.get(by_id[expired.offer_id].kind, "private")
        return Decision(
            False,
            f"{kind} licence #{expired.licence_id} ended on {_date(expired.expires_at)}",
            offer_id=expired.offer_id,
            licence_id=expired.licence_id,
            kind=kind,
            expires_at=expired.expires_at,
        )
    if trial is not None and not used_trial:
        days = trial.duration // 86400
        return Decision(
            False,
            f"a free trial ({days} days, {trial.seats} instances) is available: sign the licence agreement "
            "to activate it",
            offer_id=trial.offer_id,
            kind="trial",
            seats=trial.seats,
            trial_available=True,
        )
    private = next((o for o in offers if o.kind == 2 and not o.closed), None)
    if private is not None:
        return Decision(
            False,
            f"no licence: buy offer #{private.offer_id} ({private.price} wei, {private.seats} instances)",
            offer_id=private.offer_id,
            kind="private",
            seats=private.seats,
        )
    return Decision(False, "every offer for this network service is closed")


def _seat_take(key: str, seats: int) -> bool:
    """Take one seat of `key` if fewer than `seats` are taken: one atomic conditional update, so
    concurrent requests can never oversubscribe a licence."""
    counters = connection.database[SEATS]  # type: ignore[attr-defined]
    counters.update_one({"_id": key}, {"$setOnInsert": {"used": 0}}, upsert=True)
    return counters.find_one_and_update({"_id": key, "used": {"$lt": seats}}, {"$inc": {"used": 1}}) is not None


def _seat_release(key: str) -> None:
    counters = connection.database[SEATS]  # type: ignore[attr-defined]
    counters.update_one({"_id": key, "used": {"$gt": 0}}, {"$inc": {"used": -1}})


def _integrity(package: Package) -> str | None:
    """Why `package` must not be onboarded (not registered, revoked, or stored bytes differ), or None."""
    try:
        record = PackageRegistry.deployed(get_chain_client()).registration_of("0x" + package.digest)
    except LedgerError as exc:
        return f"the registry cannot be read: {exc}"
    if record is None:
        return "the package is not registered on chain"
    if record.status == PackageStatus.REVOKED:
        return "the publisher revoked the package on chain"
    if not blobs.blob_exists(package.digest):
        return "the package's archive is missing from the store"
    return None


def driver() -> Any:
    from marketplace.orchestrators import OsmDriver, TrackingDriver

    if settings.OSM_NBI_URL:
        return OsmDriver(
            settings.OSM_NBI_URL, settings.OSM_USERNAME, settings.OSM_PASSWORD, project=settings.OSM_PROJECT
        )
    return TrackingDriver()


def instance_create(*, ns: NetworkService, user: str, region: str | None = None) -> NsInstance:
    """Decide, reserve a seat, check the package against the chain, then ask the orchestrator."""
    decision = licence_decide(ns=ns, user=user, region=region)
    provenance_append(kind="decision", actor=user, subject=f"ns:{ns.pk}", payload=decision.as_dict())
    if not decision.permit:
        raise LicenceDenied(decision)
    chain_id = get_chain_client().chain_id()
    held = (
        AcquiredLicence.objects.filter(chain_id=chain_id, licence_id=decision.licence_id).first()
        if decision.licence_id is not None
        else None
    )
    seat_key = _seat_key_of(chain_id, held)
    if seat_key and decision.seats and not _seat_take(seat_key, decision.seats):
        denied = Decision(
            False,
            f"{decision.seats} of {decision.seats} instances running under licence #{decision.licence_id}",
            offer_id=decision.offer_id,
            licence_id=decision.licence_id,
            kind=decision.kind,
            seats=decision.seats,
            in_use=decision.seats,
        )
        provenance_append(kind="decision", actor=user, subject=f"ns:{ns.pk}", payload=denied.as_dict())
        raise LicenceDenied(denied)
    orchestrator = driver()
    instance = NsInstance.objects.create(
        ns=ns,
        owner=user,
        chain_id=chain_id,
        offer_id=int(decision.offer_id or 0),
        licence_id=decision.licence_id,
        seat_key=seat_key,
        driver=orchestrator.name,
        deploys=orchestrator.deploys,
    )
    problem = _integrity(ns.package)
    if problem is None:
        try:
            _deploy(instance, ns, orchestrator)
        except Exception as exc:
            problem = f"the orchestrator failed: {exc}"
    if problem is not None:
        instance.state, instance.error = InstanceState.FAILED, problem
        instance.save(update_fields=["state", "error", "updated_at"])
        if seat_key and decision.seats:
            _seat_release(seat_key)
    provenance_append(
        kind="instantiate",
        actor=user,
        subject=f"instance:{instance.pk}",
        payload={
            "ns": str(ns.pk),
            "state": instance.state,
            "error": instance.error,
            "licence_id": decision.licence_id,
            "offer_id": decision.offer_id,
        },
    )
    return instance


def _deploy(instance: NsInstance, ns: NetworkService, orchestrator: Any) -> None:
    from pathlib import Path
    from tempfile import TemporaryDirectory

    with TemporaryDirectory(prefix="nfvm-onboard-") as tmp:
        checksums: list[tuple[Package, tuple[str, str] | None]] = []
        for vnf in Vnf.objects.filter(pk__in=ns.vnf_ids).select_related("package"):
            archive = _export(vnf.package, Path(tmp))
            onboarded = orchestrator.onboard_vnf_package(archive=archive, content_type=_content_type(vnf.package))
            checksums.append((vnf.package, orchestrator.vnf_package_checksum(onboarded.id) or onboarded.checksum))
        nsd = orchestrator.onboard_nsd(archive=_export(ns.package, Path(tmp)), content_type=_content_type(ns.package))
        vim = settings.OSM_VIM_ACCOUNT
        ns_id = orchestrator.create_ns(
            nsd_id=nsd.id, name=f"{ns.name}-{instance.pk}", description=str(ns), vim_account=vim
        )
        instance.orchestrator_id = ns_id
        operation = orchestrator.wait(orchestrator.instantiate_ns(ns_id, nsd_id=nsd.id, vim_account=vim).id)
    mismatched = [p for p, c in checksums if c is not None and c[1].lower().removeprefix("0x") not in (p.digest,)]
    unknown = [p for p, c in checksums if c is None]
    instance.integrity = "mismatch" if mismatched else ("unknown" if unknown else "verified")
    instance.integrity_detail = (
        "the orchestrator holds other bytes than the anchored digest for: " + ", ".join(str(p) for p in mismatched)
        if mismatched
        else "the orchestrator's checksums equal the anchored digests"
        if not unknown
        else "the orchestrator reports no SHA-256 checksum for: " + ", ".join(str(p) for p in unknown)
    )
    instance.state = InstanceState.RUNNING if operation.state == "COMPLETED" else InstanceState.FAILED
    if instance.state == InstanceState.FAILED:
        raise RuntimeError(f"instantiation ended {operation.state}")
    instance.save(update_fields=["state", "orchestrator_id", "integrity", "integrity_detail", "updated_at"])


def _export(package: Package, folder: Any) -> Any:
    path = folder / f"{package.digest}.pkg"
    with blobs.blob_open(package.digest) as blob, path.open("wb") as out:
        while chunk := blob.read(1024 * 1024):
            out.write(chunk)
    return path


def _content_type(package: Package) -> str:
    return "application/gzip" if package.format == "osm" else "application/zip"


def instance_terminate(*, instance: NsInstance, actor: str) -> NsInstance:
    from marketplace.services import PermissionDeniedError

    if actor != instance.owner:
        raise PermissionDeniedError(f"only {instance.owner} may terminate instance {instance.pk}")
    if instance.state not in (InstanceState.RUNNING, InstanceState.INSTANTIATING):
        return instance
    orchestrator = driver()
    instance.state = InstanceState.TERMINATING
    instance.save(update_fields=["state", "updated_at"])
    if instance.orchestrator_id:
        orchestrator.wait(orchestrator.terminate_ns(instance.orchestrator_id).id)
    instance.state = InstanceState.TERMINATED
    instance.save(update_fields=["state", "updated_at"])
    if instance.seat_key:
        _seat_release(instance.seat_key)
    provenance_append(
        kind="terminate", actor=actor, subject=f"instance:{instance.pk}", payload={"ns": str(instance.ns.pk)}
    )
    return instance


def instances_flag_expired() -> int:
    """Mark running instances whose licence has ended (they keep running; new ones are denied)."""
    client = get_chain_client()
    now = client.now()
    flagged = 0
    for instance in NsInstance.objects.filter(
        state=InstanceState.RUNNING, licence_expired=False, licence_id__isnull=False
    ):
        licence = AcquiredLicence.objects.filter(
            chain_id=instance.chain_id, licence_id=int(instance.licence_id or 0)
        ).first()
        if licence is not None and licence.expires_at and licence.expires_at <= now:
            instance.licence_expired = True
            instance.save(update_fields=["licence_expired", "updated_at"])
            provenance_append(
                kind="licence-expired",
                actor="operator",
                subject=f"instance:{instance.pk}",
                payload={"licence_id": licence.licence_id, "expired_at": licence.expires_at},
            )
            flagged += 1
    return flagged


# --- Offers and agreements (the provider's and end-user's wallets sign and send) ---


def _manager() -> Any:
    from ledger.licensing import LicenseManager

    return LicenseManager.deployed(get_chain_client())


def offer_prepare(
    *,
    package: Package,
    provider: str,
    kind: Literal["public", "trial", "private"],
    price: int = 0,
    seats: int | None = None,
    duration_days: int | None = None,
    transferable: bool = False,
    regions: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Write the ODRL policy for an offer, keep it (its hash is the on-chain terms hash) and return
    the unsigned createOffer transaction for the provider's wallet."""
    from ledger.licensing import OfferKind
    from marketplace.policy import generate_policy, terms_hash
    from marketplace.services import PermissionDeniedError, ValidationFailed

    registry = PackageRegistry.deployed(get_chain_client())
    key = registry.publishing_key_for("0x" + package.digest)
    manager = _manager()
    if key is None:
        raise ValidationFailed({"package": "register the package on chain before offering licences for it"})
    if provider != key and not manager.is_provider("0x" + package.digest, provider):
        raise PermissionDeniedError(
            f"{provider} is neither the publisher of package {package.pk} nor a provider it authorised"
        )
    target = f"urn:nfvm:package:{package.digest}"
    try:
        document = generate_policy(
            kind=kind,
            target=target,
            assigner=f"urn:ethereum:{provider}",
            price=price,
            duration_days=duration_days,
            seats=seats,
            transferable=transferable,
            regions=regions,
        )
        terms = compile_policy(document, target=target)
    except (PolicyError, ValueError, TypeError) as exc:
        raise ValidationFailed({"policy": str(exc)}) from exc
    digest = terms_hash(document)
    LicencePolicy.objects.update_or_create(
        terms_hash="0x" + digest.hex(),
        defaults={"package": package, "provider": provider, "document": document, "kind": terms.kind},
    )
    tx = manager.create_offer(
        provider,
        digest="0x" + package.digest,
        kind=OfferKind[terms.kind.upper()],
        terms_hash=digest,
        price=terms.price,
        token=terms.token,
        duration=terms.duration_s,
        seats=terms.seats,
        transferable=terms.transferable,
    )
    return {"policy": document, "terms_hash": "0x" + digest.hex(), "transaction": _jsonable_tx(tx)}


def agreement_prepare(*, offer_id: int, licensee: str) -> dict[str, Any]:
    """The EIP-712 licence agreement the end-user's wallet signs for `offer_id`."""
    from marketplace.services import ValidationFailed

    manager = _manager()
    offer = manager.offer(offer_id)
    if offer is None or not offer.open:
        raise ValidationFailed({"offer_id": f"offer {offer_id} does not exist or is closed"})
    agreement = manager.agreement(offer, licensee, deadline=get_chain_client().now() + 3600)
    return {
        "typed_data": manager.typed_data(agreement),
        "offer": {
            "offer_id": offer.offer_id,
            "kind": int(offer.kind),
            "price": str(offer.price),
            "seats": offer.seats,
            "duration": offer.duration,
        },
    }


def purchase_prepare(*, offer_id: int, licensee: str, typed_data: dict[str, Any], signature: str) -> dict[str, Any]:
    """The unsigned purchase transaction (exact price as value) the licensee's wallet sends itself."""
    from ledger.licensing import agreement_from_typed_data
    from marketplace.services import ValidationFailed

    manager = _manager()
    offer = manager.offer(offer_id)
    if offer is None:
        raise ValidationFailed({"offer_id": f"offer {offer_id} does not exist"})
    try:
        agreement = agreement_from_typed_data(typed_data)
    except LedgerError as exc:
        raise ValidationFailed({"typed_data": str(exc)}) from exc
    return {"transaction": _jsonable_tx(manager.purchase(licensee, offer, agreement, signature))}


def trial_activate(*, offer_id: int, licensee: str, typed_data: dict[str, Any], signature: str) -> int:
    """Relay the licensee's signed trial agreement with the operator's key; returns the licence id."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    from ledger.licensing import agreement_from_typed_data
    from ledger.signer import operator_account
    from marketplace.services import AuthenticationError, ConflictError, ValidationFailed

    manager = _manager()
    try:
        agreement = agreement_from_typed_data(typed_data)
    except LedgerError as exc:
        raise ValidationFailed({"typed_data": str(exc)}) from exc
    if agreement.offer_id != offer_id or agreement.licensee != licensee:
        raise ValidationFailed({"typed_data": "the agreement is for another offer or another licensee"})
    try:
        signer = Account.recover_message(
            encode_typed_data(full_message=manager.typed_data(agreement)), signature=signature
        )
    except (ValueError, TypeError) as exc:
        raise ValidationFailed({"signature": f"cannot be read: {exc}"}) from exc
    if signer != licensee:
        raise AuthenticationError(f"the agreement is signed by {signer}, not by {licensee}")
    operator = operator_account()
    try:
        receipt = get_chain_client().transact(
            operator, manager.activate_trial(operator.address, agreement, signature), abi=manager.abi
        )
    except LedgerError as exc:
        raise ConflictError(f"the licence manager refused the trial: {exc}") from exc
    licence_id = int(manager.issued_licence_id(receipt))
    provenance_append(
        kind="licence",
        actor=licensee,
        subject=f"offer:{offer_id}",
        payload={"licence_id": licence_id, "kind": "trial", "relayed_by": operator.address},
    )
    return licence_id


def _jsonable_tx(tx: Any) -> dict[str, Any]:
    return {k: (hex(v) if isinstance(v, int) and k in ("value",) else v) for k, v in dict(tx).items()}
