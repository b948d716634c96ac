"""The Licenses Repository's rules: the policy decision point and NS instantiation under a licence.

Offers and licences come from the chain (the indexer's LicenceOffer / AcquiredLicence records);
seats are reserved atomically; every decision and event goes to the provenance log."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from bson import ObjectId
from bson.errors import InvalidId
from django.conf import settings
from django.db import connection
from django.db.models import F

from ledger.client import get_chain_client
from ledger.exceptions import LedgerError
from ledger.models import AcquiredLicence, IndexerState, LicenceOffer, PackageAnchor
from ledger.registry import PackageRegistry, PackageStatus
from marketplace.contract_manager.policy import OfferTerms, PolicyError, compile_policy
from marketplace.contract_manager.provenance import provenance_append
from marketplace.models import (
    InstanceState,
    LicencePolicy,
    NetworkService,
    NsInstance,
    Package,
    ProvenanceEntry,
    SignedAgreement,
    Vnf,
)
from marketplace.repository import blobs
from marketplace.repository.presenters import ether

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
    action: str = "instantiate"  # instantiate, scale, terminate, download, transfer or verify

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        if self.action == "instantiate":
            body["allowed_to_instantiate"] = self.permit
        return body


def _date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


# Compiled policies by their document's text. The stored document is read for every decision (it can be
# edited in place), but compiling it again is needed only when its text changed.
_terms_compiled: dict[str, OfferTerms | str] = {}
_TERMS_KEPT = 1024


def _offer_terms(offer: LicenceOffer) -> OfferTerms | str | None:
    """The offer's compiled policy, why it cannot be applied, or None for an offer made outside the
    marketplace (no policy document stored for its terms hash). One point read by the unique terms hash."""
    policies = connection.database[LicencePolicy._meta.db_table]  # type: ignore[attr-defined]
    found = policies.find_one({"terms_hash": offer.terms_hash.lower()}, {"document": 1})
    if found is None:
        return None
    document = found.get("document")
    text = json.dumps(document, sort_keys=True, default=str)
    compiled = _terms_compiled.get(text)
    if compiled is None:
        try:
            compiled = compile_policy(document)
        except PolicyError as exc:
            compiled = f"the offer's policy cannot be applied: {exc}"
        if len(_terms_compiled) >= _TERMS_KEPT:
            _terms_compiled.clear()
        _terms_compiled[text] = compiled
    return compiled


def _policy_blocks(offer: LicenceOffer, action: str, now: int | Callable[[], int], region: str | None) -> str | None:
    """Why the offer's policy forbids `action` now (or in `region`), or None when it allows it. `now` may be
    a callable, asked only when the policy has a time window."""
    terms = _offer_terms(offer)
    if terms is None:
        return None  # an offer made outside the marketplace: its on-chain terms are all there is
    if isinstance(terms, str):
        return terms
    if terms.actions and action not in terms.actions and not (action == "instantiate" and "use" in terms.actions):
        return f"the offer's policy does not permit {action}"
    if terms.not_before or terms.not_after:
        moment = datetime.fromtimestamp(now() if callable(now) else now, UTC)
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


LIVE_STATES = (InstanceState.INSTANTIATING, InstanceState.RUNNING, InstanceState.TERMINATING)


def seats_in_use(seat_key: str) -> int:
    """Seats taken under one licence: every unit of every live instance holds one. Read afresh every time,
    as one plain filter (no $and) that the embedded store serves from the (seat_key, state) index."""
    instances = connection.database[NsInstance._meta.db_table]  # type: ignore[attr-defined]
    live = instances.find({"seat_key": seat_key, "state": {"$in": [str(s) for s in LIVE_STATES]}}, {"units": 1})
    return sum(int(doc.get("units") or 0) for doc in live)


class _ChainClock:
    """Chain time for one decision: asked of the node at most once, and only when the decision depends on it
    (an expiry or a policy's time window)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.value: int | None = None

    def __call__(self) -> int:
        if self.value is None:
            self.value = int(self.client.now())
        return self.value


@dataclass
class _Snapshot:
    """Offers and licences as the indexer left them at one checkpoint. Only the indexer writes them, and it
    moves its checkpoint (IndexerState) in the same transaction, so while the checkpoint stays put these
    are what the store holds; the first decision after it moves starts a new snapshot."""

    checkpoint: tuple[Any, ...]
    offers: dict[str, list[LicenceOffer]]  # by package digest
    held: dict[tuple[str, str], list[AcquiredLicence]]  # by (package digest, licensee)


_snapshot: _Snapshot | None = None
_KEPT = 10_000  # packages, and (package, user) pairs, kept per snapshot; more and that part starts afresh


def _checkpoint(chain_id: int) -> tuple[Any, ...] | None:
    """Where the indexer stands on this chain (one point read by its unique chain_id), or None before it
    first ran. A reorg or reset changes it even when it returns to a block number seen before."""
    states = connection.database[IndexerState._meta.db_table]  # type: ignore[attr-defined]
    found = states.find_one(
        {"chain_id": chain_id}, {"last_block": 1, "reorgs": 1, "updated_at": 1, "genesis_hash": 1, "reset_detected": 1}
    )
    if found is None:
        return None
    return tuple(
        found.get(name) for name in ("_id", "last_block", "reorgs", "updated_at", "genesis_hash", "reset_detected")
    )


def _current_snapshot(chain_id: int) -> _Snapshot | None:
    global _snapshot
    checkpoint = _checkpoint(chain_id)
    if checkpoint is None:
        return None
    snapshot = _snapshot
    if snapshot is None or snapshot.checkpoint != (chain_id, *checkpoint):
        snapshot = _snapshot = _Snapshot((chain_id, *checkpoint), {}, {})
    return snapshot


def _offers_for(chain_id: int, digest: str, snapshot: _Snapshot | None) -> list[LicenceOffer]:
    """The package's offers on this chain, oldest first (the digest alone is the indexed condition)."""
    if snapshot is not None and (found := snapshot.offers.get(digest)) is not None:
        return found
    offers = sorted(
        (o for o in LicenceOffer.objects.filter(digest=digest) if o.chain_id == chain_id), key=lambda o: o.offer_id
    )
    if snapshot is not None:
        if len(snapshot.offers) >= _KEPT:
            snapshot.offers.clear()
        snapshot.offers[digest] = offers
    return offers


def _held_for(
    chain_id: int, digest: str, offer_ids: set[int], user: str, snapshot: _Snapshot | None
) -> list[AcquiredLicence]:
    """`user`'s licences under these offers, newest first (the licensee alone is the indexed condition)."""
    key = (digest, user)
    if snapshot is not None and (found := snapshot.held.get(key)) is not None:
        return found
    held = sorted(
        (
            lic
            for lic in AcquiredLicence.objects.filter(licensee=user)
            if lic.chain_id == chain_id and lic.offer_id in offer_ids
        ),
        key=lambda lic: (lic.block_number, lic.licence_id),
        reverse=True,
    )
    if snapshot is not None:
        if len(snapshot.held) >= _KEPT:
            snapshot.held.clear()
        snapshot.held[key] = held
    return held


def licence_decide(
    *, ns: NetworkService, user: str, action: str = "instantiate", region: str | None = None
) -> Decision:
    """Permit or deny one usage of `ns` by `user`, from the chain's offers and licences."""
    return package_licence_decide(digest=ns.package.digest, user=user, action=action, region=region)


# Package id -> digest. A digest is the package's content address: it never changes while the package exists.
_package_digests: dict[Any, str] = {}
_DIGESTS_KEPT = 10_000


def ns_package_digest(ns_id: Any) -> str | None:
    """The digest of the package that holds network service `ns_id` (an id or its text), or None when
    there is no such NS: one point read by id, the package's digest remembered."""
    try:
        pk = ObjectId(str(ns_id))
    except (InvalidId, TypeError):
        return None
    services = connection.database[NetworkService._meta.db_table]  # type: ignore[attr-defined]
    found = services.find_one({"_id": pk}, {"package_id": 1})
    if found is None:
        return None
    package_id = found.get("package_id")
    digest = _package_digests.get(package_id)
    if digest is None:
        digest = Package.objects.filter(pk=package_id).values_list("digest", flat=True).first()
        if digest is None:
            return None
        if len(_package_digests) >= _DIGESTS_KEPT:
            _package_digests.clear()
        _package_digests[package_id] = digest
    return digest


def package_licence_decide(
    *, digest: str, user: str, action: str = "instantiate", region: str | None = None
) -> Decision:
    """licence_decide for the NS held by the package with this digest (hex, no 0x).

    Offers and licences come from the snapshot of the indexer's current checkpoint (one point read when it
    has not moved); seats in use are counted afresh; chain time is asked only when an expiry or a policy's
    time window needs it."""
    client = get_chain_client()
    chain_id = client.chain_id()
    digest = "0x" + digest
    snapshot = _current_snapshot(chain_id)
    offers = _offers_for(chain_id, digest, snapshot)
    if not offers:
        return Decision(False, "nobody offers a licence for this network service yet")
    now = _ChainClock(client)
    public = next((o for o in offers if o.kind == 0 and not o.closed), None)
    if public is not None:
        blocked = _policy_blocks(public, action, now, region)
        if blocked is None:
            return Decision(True, "public offer: free, no instance limit", offer_id=public.offer_id, kind="public")
    by_id = {o.offer_id: o for o in offers}
    held = _held_for(chain_id, digest, set(by_id), user, snapshot)
    expired: AcquiredLicence | None = None
    for licence in held:
        offer = by_id[licence.offer_id]
        if licence.expires_at and licence.expires_at <= now():
            expired = expired or licence
            continue
        blocked = _policy_blocks(offer, action, now, region)
        if blocked is not None:
            return Decision(False, blocked, offer_id=offer.offer_id, licence_id=licence.licence_id)
        key = seat_key(chain_id, licence)
        used = seats_in_use(key)
        kind = KINDS.get(offer.kind, "private")
        facts: dict[str, Any] = {
            "offer_id": offer.offer_id,
            "licence_id": licence.licence_id,
            "kind": kind,
            "seats": offer.seats,
            "in_use": used,
            "expires_at": licence.expires_at,
        }
        if action == "instantiate" and offer.seats and used >= offer.seats:
            return Decision(False, _seats_taken(used, offer.seats, licence.licence_id), **facts)
        until = f", valid until {_date(licence.expires_at)}" if licence.expires_at else ""
        return Decision(
            True,
            f"{kind} licence #{licence.licence_id}: {used} of {offer.seats or 'unlimited'} instances running{until}",
            **facts,
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
            f"a free trial ({days} days, {_instances(trial.seats)}) is available: sign the licence agreement "
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
            f"no licence: buy offer #{private.offer_id} ({_price(private)}, {_instances(private.seats)})",
            offer_id=private.offer_id,
            kind="private",
            seats=private.seats,
        )
    return Decision(False, "every offer for this network service is closed")


def _seat_take(key: str, seats: int, count: int = 1) -> bool:
    """Take `count` seats of `key` if that leaves at most `seats` taken: one atomic conditional update,
    so concurrent requests can never oversubscribe a licence."""
    counters = connection.database[SEATS]  # type: ignore[attr-defined]
    counters.update_one({"_id": key}, {"$setOnInsert": {"used": 0}}, upsert=True)
    taken = counters.find_one_and_update({"_id": key, "used": {"$lte": seats - count}}, {"$inc": {"used": count}})
    return taken is not None


def _seat_release(key: str, count: int = 1) -> None:
    counters = connection.database[SEATS]  # type: ignore[attr-defined]
    if counters.update_one({"_id": key, "used": {"$gte": count}}, {"$inc": {"used": -count}}).modified_count == 0:
        counters.update_one({"_id": key}, {"$set": {"used": 0}})


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
    from marketplace.licensing.orchestrators import OsmDriver, TrackingDriver

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
            _seats_taken(decision.seats, decision.seats, decision.licence_id),
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
    instance.integrity, instance.integrity_detail = _integrity_verdict(checksums)
    instance.state = InstanceState.RUNNING if operation.state == "COMPLETED" else InstanceState.FAILED
    if instance.state == InstanceState.FAILED:
        raise RuntimeError(f"instantiation ended {operation.state}")
    instance.save(update_fields=["state", "orchestrator_id", "integrity", "integrity_detail", "updated_at"])


def _integrity_verdict(checksums: list[tuple[Package, tuple[str, str] | None]]) -> tuple[str, str]:
    """(integrity, detail) from the checksum the orchestrator holds for each package (None: it reports none),
    compared with the package's anchored digest."""
    mismatched = [p for p, c in checksums if c is not None and c[1].lower().removeprefix("0x") not in (p.digest,)]
    unknown = [p for p, c in checksums if c is None]
    if mismatched:
        return "mismatch", "the orchestrator holds other bytes than the anchored digest for: " + ", ".join(
            str(p) for p in mismatched
        )
    if unknown:
        return "unknown", "the orchestrator reports no SHA-256 checksum for: " + ", ".join(str(p) for p in unknown)
    return "verified", "the orchestrator's checksums equal the anchored digests"


def _blob_checksum(package: Package) -> tuple[str, str]:
    """The SHA-256 of the archive stored for `package`, as the tracking driver reports what it was given."""
    hasher = hashlib.sha256()
    with blobs.blob_open(package.digest) as blob:
        while chunk := blob.read(1024 * 1024):
            hasher.update(chunk)
    return "SHA-256", hasher.hexdigest()


def _held_checksums(instance: NsInstance, packages: list[Package]) -> list[tuple[Package, tuple[str, str] | None]]:
    """What the orchestrator of `instance` holds for each VNF package now. The tracking driver keeps nothing
    between requests, so the bytes it would be given, the stored archives, are hashed again; an orchestrator
    that deploys is asked for the SOL005 checksums of the packages its NS instance uses."""
    if not instance.deploys:
        return [(p, _blob_checksum(p)) for p in packages]
    orchestrator = driver()
    if orchestrator.name != instance.driver or not instance.orchestrator_id:
        return [(p, None) for p in packages]
    held = {c[1].lower().removeprefix("0x") for c in orchestrator.ns_package_checksums(instance.orchestrator_id)}
    # A package whose digest the orchestrator holds is verified. Checksums that equal no package's digest are
    # other bytes held in its place; a package is unknown when the orchestrator names nothing in its place.
    strangers = sorted(held - {p.digest for p in packages})
    return [
        (p, ("SHA-256", p.digest) if p.digest in held else ("SHA-256", strangers[0]) if strangers else None)
        for p in packages
    ]


def instance_verify(*, instance: NsInstance, actor: str) -> NsInstance:
    """Recheck, on demand, the packages of `instance` as at deploy: each must still be registered and not
    revoked on chain (_integrity), and the orchestrator must hold the anchored bytes (_integrity_verdict).
    Updates instance.integrity and logs the result. Raises PermissionDeniedError for anyone but the owner."""
    from marketplace.licensing.orchestrators import OrchestratorError
    from marketplace.repository.services import PermissionDeniedError

    subject = f"instance:{instance.pk}"
    if actor != instance.owner:
        denied = Decision(False, f"only {instance.owner} may verify instance {instance.pk}", action="verify")
        provenance_append(kind="decision", actor=actor, subject=subject, payload=denied.as_dict())
        raise PermissionDeniedError(denied.reason)
    vnfs = Vnf.objects.filter(pk__in=instance.ns.vnf_ids).select_related("package")
    packages = list({vnf.package.pk: vnf.package for vnf in vnfs}.values())
    problems = [(p, why) for p in [*packages, instance.ns.package] if (why := _integrity(p)) is not None]
    unreadable = [p for p, why in problems if why.startswith("the registry cannot be read")]
    if problems:
        integrity = "unknown" if len(unreadable) == len(problems) else "mismatch"
        detail = "; ".join(f"{p}: {why}" for p, why in problems)
    else:
        try:
            integrity, detail = _integrity_verdict(_held_checksums(instance, [*packages, instance.ns.package]))
        except OrchestratorError as exc:
            integrity, detail = "unknown", f"the orchestrator cannot be asked: {exc}"
    previous = instance.integrity
    instance.integrity, instance.integrity_detail = integrity, detail
    instance.save(update_fields=["integrity", "integrity_detail", "updated_at"])
    provenance_append(
        kind="verify",
        actor=actor,
        subject=subject,
        payload={"ns": str(instance.ns.pk), "integrity": integrity, "previous": previous, "detail": detail},
    )
    return instance


def _export(package: Package, folder: Any) -> Any:
    path = folder / f"{package.digest}.pkg"
    with blobs.blob_open(package.digest) as blob, path.open("wb") as out:
        while chunk := blob.read(1024 * 1024):
            out.write(chunk)
    return path


def _content_type(package: Package) -> str:
    return "application/gzip" if package.format == "osm" else "application/zip"


def instance_terminate(*, instance: NsInstance, actor: str) -> NsInstance:
    from marketplace.repository.services import PermissionDeniedError

    subject = f"instance:{instance.pk}"
    if actor != instance.owner:
        denied = Decision(False, f"only {instance.owner} may terminate instance {instance.pk}", action="terminate")
        provenance_append(kind="decision", actor=actor, subject=subject, payload=denied.as_dict())
        raise PermissionDeniedError(denied.reason)
    if instance.state not in (InstanceState.RUNNING, InstanceState.INSTANTIATING):
        return instance
    permitted = Decision(True, "the instance's owner may always terminate it", action="terminate")
    provenance_append(kind="decision", actor=actor, subject=subject, payload=permitted.as_dict())
    orchestrator = driver()
    instance.state = InstanceState.TERMINATING
    instance.save(update_fields=["state", "updated_at"])
    if instance.orchestrator_id:
        orchestrator.wait(orchestrator.terminate_ns(instance.orchestrator_id).id)
    instance.state = InstanceState.TERMINATED
    instance.save(update_fields=["state", "updated_at"])
    if instance.seat_key:
        instance.refresh_from_db(fields=["units"])  # a scale may have changed it since `instance` was read
        _seat_release(instance.seat_key, max(instance.units, 1))
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


# --- Downloads, scaling and transfers: the other usage events the decision point decides ---


def _held_licences(chain_id: int, offers: list[LicenceOffer], user: str) -> list[AcquiredLicence]:
    by_id = [o.offer_id for o in offers]
    return list(
        AcquiredLicence.objects.filter(chain_id=chain_id, offer_id__in=by_id, licensee=user).order_by("-block_number")
    )


def _seats_taken(used: int, seats: int, licence_id: int | None) -> str:
    """The reason a user reads when a licence's seats are all taken: "2 of 2 instances running ..."."""
    return f"{used} of {seats} instances running under licence #{licence_id}"


def _instances(seats: int) -> str:
    return "unlimited instances" if not seats else f"{seats} instance{'' if seats == 1 else 's'}"


def _price(offer: LicenceOffer) -> str:
    """An offer's price as a user reads it: ether, or units of its ERC-20 token."""
    if int(offer.token or "0x0", 16) == 0:
        return f"{ether(offer.price)} ETH"
    return f"{offer.price} units of token {offer.token}"


def _acquire_hint(offers: list[LicenceOffer], held: list[AcquiredLicence]) -> str:
    """What to do to get a licence for one of `offers` (all open, none public)."""
    used = {lic.offer_id for lic in held}
    trial = next((o for o in offers if o.kind == 1 and o.offer_id not in used), None)
    if trial is not None:
        return f"activate the free trial offer #{trial.offer_id} ({trial.duration // 86400} days)"
    private = next((o for o in offers if o.kind == 2), None)
    if private is not None:
        return f"buy offer #{private.offer_id} ({_price(private)}, {_instances(private.seats)})"
    return "no open offer can be licensed"


OPEN_DOWNLOAD = "no open licence offer restricts this package: anyone may download"


def download_decide(*, package: Package, user: str | None) -> Decision:
    """May `user` (None: not signed in) download the archive or the files of `package`?

    A package is licensed-only when the chain holds at least one open trial or private offer for it and
    no open public offer. Every other package (no offer, a public offer, only closed offers) is open to
    anyone. A licensed-only package is downloaded by its uploader or on-chain publisher, or by a holder
    of a valid licence for it whose offer's policy permits `download`."""
    client = get_chain_client()
    chain_id = client.chain_id()
    digest = "0x" + package.digest
    offers = list(LicenceOffer.objects.filter(chain_id=chain_id, digest=digest).order_by("offer_id"))
    open_offers = [o for o in offers if not o.closed]
    public = next((o for o in open_offers if o.kind == 0), None)
    if public is not None:
        return Decision(
            True,
            f"public offer #{public.offer_id}: anyone may download",
            public.offer_id,
            None,
            "public",
            action="download",
        )
    if not open_offers:
        return Decision(True, OPEN_DOWNLOAD, action="download")
    if user is None:
        return Decision(
            False,
            "this package is licensed (trial or private offers only): sign in with the wallet that holds a licence",
            action="download",
        )
    if user == package.uploader:
        return Decision(True, "the package's uploader may always download it", action="download")
    anchor = PackageAnchor.objects.filter(chain_id=chain_id, digest=digest).only("publisher").first()
    if anchor is not None and str(anchor.publisher).lower() == user.lower():
        return Decision(True, "the package's publisher may always download it", action="download")
    held = _held_licences(chain_id, offers, user)
    by_id = {o.offer_id: o for o in offers}
    now = client.now() if held else 0
    refusal: Decision | None = None
    for licence in held:
        offer = by_id[licence.offer_id]
        kind = KINDS.get(offer.kind, "private")
        facts: dict[str, Any] = {"offer_id": offer.offer_id, "licence_id": licence.licence_id, "kind": kind}
        if licence.expires_at and licence.expires_at <= now:
            reason = f"{kind} licence #{licence.licence_id} ended on {_date(licence.expires_at)}"
            refusal = refusal or Decision(False, reason, expires_at=licence.expires_at, action="download", **facts)
            continue
        blocked = _policy_blocks(offer, "download", now, None)
        if blocked is not None:
            refusal = Decision(False, f"{blocked} (licence #{licence.licence_id})", action="download", **facts)
            continue
        until = f", valid until {_date(licence.expires_at)}" if licence.expires_at else ""
        return Decision(
            True,
            f"{kind} licence #{licence.licence_id} permits download{until}",
            expires_at=licence.expires_at,
            action="download",
            **facts,
        )
    hint = _acquire_hint(open_offers, held)
    if refusal is not None:
        return Decision(
            False, f"{refusal.reason}; {hint}", refusal.offer_id, refusal.licence_id, refusal.kind, action="download"
        )
    return Decision(False, f"no licence for this package: {hint}", action="download")


def download_hint(*, package: Package, user: str | None) -> Decision | None:
    """download_decide for showing (not enforcing): None when the chain cannot be asked now."""
    try:
        return download_decide(package=package, user=user)
    except LedgerError:
        return None


def package_download_authorise(*, package: Package, user: str | None, what: str) -> Decision:
    """Decide a download of `what` (the archive, or one file's path) of `package`; raises LicenceDenied.

    Decisions about licensed-only packages and the downloads they permit go to the provenance log. Open
    packages are not: nothing is licensed there, and logging every anonymous read would let anyone grow
    the log at will."""
    decision = download_decide(package=package, user=user)
    if not (decision.permit and (decision.kind == "public" or decision.reason == OPEN_DOWNLOAD)):
        actor = user or "anonymous"
        subject = f"package:{package.pk}"
        provenance_append(kind="decision", actor=actor, subject=subject, payload=decision.as_dict())
        if decision.permit:
            payload = {"what": what, "licence_id": decision.licence_id, "offer_id": decision.offer_id}
            provenance_append(kind="download", actor=actor, subject=subject, payload=payload)
    if not decision.permit:
        raise LicenceDenied(decision)
    return decision


def _scaling_target(ns: NetworkService) -> tuple[str, str] | None:
    """(scaling aspect, member VNF index) of the first VNF profile of the NSD whose VNFD defines a scaling
    aspect (SOL006: vnfd df[].scaling-aspect[], nsd df[].vnf-profile[]), or None."""
    vnfs = {v.descriptor_id: v for v in Vnf.objects.filter(pk__in=ns.vnf_ids)}
    for profile in _nodes(ns.document, "vnf-profile"):
        vnf = vnfs.get(str(profile.get("vnfd-id", "")))
        if vnf is None or not profile.get("id"):
            continue
        for aspect in _nodes(vnf.document, "scaling-aspect"):
            if aspect.get("id"):
                return str(aspect["id"]), str(profile["id"])
    return None


def _nodes(document: Any, key: str) -> list[dict[str, Any]]:
    """Every mapping listed under `key` anywhere in `document`, in document order."""
    found: list[dict[str, Any]] = []
    stack = [document]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            listed = node.get(key)
            if isinstance(listed, list):
                found += [item for item in listed if isinstance(item, dict)]
            stack += list(node.values())
        elif isinstance(node, list):
            stack += node
    return found


def scale_decide(*, instance: NsInstance, change: int) -> Decision:
    """May `instance` run `change` more units (negative: fewer)? Scaling in always may; scaling out needs the
    instance's licence to be still held and valid, its policy to permit instantiate, and free seats."""
    if change < 0:
        return Decision(True, f"scaling in releases {-change} seat{'s' if change < -1 else ''}", action="scale")
    client = get_chain_client()
    now = client.now()
    offer = LicenceOffer.objects.filter(chain_id=instance.chain_id, offer_id=instance.offer_id).first()
    if offer is None:
        return Decision(False, f"offer #{instance.offer_id} is not on the connected chain", action="scale")
    kind = KINDS.get(offer.kind, "private")
    facts: dict[str, Any] = {"offer_id": offer.offer_id, "licence_id": instance.licence_id, "kind": kind}
    if instance.licence_id is None:
        if offer.closed:
            return Decision(
                False, f"public offer #{offer.offer_id} is closed: no more units may start", action="scale", **facts
            )
        blocked = _policy_blocks(offer, "instantiate", now, None)
        if blocked is not None:
            return Decision(False, blocked, action="scale", **facts)
        return Decision(True, "public offer: free, no instance limit", action="scale", **facts)
    licence = AcquiredLicence.objects.filter(chain_id=instance.chain_id, licence_id=instance.licence_id).first()
    if licence is None or licence.licensee != instance.owner:
        holder = licence.licensee if licence is not None else "nobody"
        return Decision(False, f"licence #{instance.licence_id} is now held by {holder}", action="scale", **facts)
    if licence.expires_at and licence.expires_at <= now:
        return Decision(
            False,
            f"{kind} licence #{licence.licence_id} ended on {_date(licence.expires_at)}",
            expires_at=licence.expires_at,
            action="scale",
            **facts,
        )
    blocked = _policy_blocks(offer, "instantiate", now, None)
    if blocked is not None:
        return Decision(False, blocked, action="scale", **facts)
    used = seats_in_use(instance.seat_key)
    seats: dict[str, Any] = {"seats": offer.seats, "in_use": used, "expires_at": licence.expires_at}
    if offer.seats and used + change > offer.seats:
        return Decision(
            False,
            f"{_seats_taken(used, offer.seats, licence.licence_id)}: scaling out by {change} needs {used + change}",
            action="scale",
            **facts,
            **seats,
        )
    return Decision(
        True,
        f"{kind} licence #{licence.licence_id}: {used + change} of {offer.seats or 'unlimited'} instances after "
        f"scaling out by {change}",
        action="scale",
        **facts,
        **seats,
    )


def instance_scale(
    *, instance: NsInstance, actor: str, change: int | None = None, target: int | None = None
) -> NsInstance:
    """Scale `instance` by `change` units, or to `target` units: decided against the licence's seats (scaling
    out takes the extra seats in one atomic update, scaling in releases them), then done by the orchestrator
    one scaling step per unit. Raises LicenceDenied, PermissionDeniedError, ConflictError, ValidationFailed."""
    from marketplace.licensing.orchestrators import OrchestratorError
    from marketplace.repository.services import ConflictError, PermissionDeniedError, ValidationFailed

    subject = f"instance:{instance.pk}"
    if actor != instance.owner:
        denied = Decision(False, f"only {instance.owner} may scale instance {instance.pk}", action="scale")
        provenance_append(kind="decision", actor=actor, subject=subject, payload=denied.as_dict())
        raise PermissionDeniedError(denied.reason)
    if (change is None) == (target is None):
        raise ValidationFailed({"instances": 'give a change ("+N" or "-N") or a target number of units'})
    instance.refresh_from_db(fields=["units", "state"])
    if instance.state != InstanceState.RUNNING:
        raise ConflictError(f"instance {instance.pk} is {instance.state}: only a running instance scales")
    if target is not None:
        change = target - instance.units
    assert change is not None
    if change == 0:
        raise ValidationFailed({"instances": f"instance {instance.pk} already runs {instance.units} units"})
    if instance.units + change < 1:
        raise ValidationFailed(
            {
                "instances": f"instance {instance.pk} runs {instance.units} units: at least 1 stays "
                "(terminate it to stop)"
            }
        )
    orchestrator = driver()
    scaling = _scaling_target(instance.ns)
    if orchestrator.deploys and scaling is None:
        raise ConflictError(
            f"{instance.ns} defines no scaling aspect (VNFD df scaling-aspect), so {orchestrator.name} cannot scale it"
        )
    decision = scale_decide(instance=instance, change=change)
    provenance_append(kind="decision", actor=actor, subject=subject, payload={**decision.as_dict(), "change": change})
    if not decision.permit:
        raise LicenceDenied(decision)
    steps = abs(change)
    if change > 0:
        if instance.seat_key and decision.seats and not _seat_take(instance.seat_key, decision.seats, steps):
            denied = Decision(
                False,
                f"{_seats_taken(decision.seats, decision.seats, decision.licence_id)}: "
                f"no {steps} more seat{'s' if steps > 1 else ''} free",
                offer_id=decision.offer_id,
                licence_id=decision.licence_id,
                kind=decision.kind,
                seats=decision.seats,
                in_use=decision.seats,
                action="scale",
            )
            provenance_append(
                kind="decision", actor=actor, subject=subject, payload={**denied.as_dict(), "change": change}
            )
            raise LicenceDenied(denied)
    else:
        # Units leave first, atomically, so that two concurrent scale-ins cannot both take the last ones.
        if not NsInstance.objects.filter(pk=instance.pk, units__gte=1 + steps).update(units=F("units") - steps):
            raise ConflictError(f"instance {instance.pk} no longer has {steps + 1} units to scale in from")
    aspect, member = scaling or ("", "")
    done, error = 0, ""
    try:
        for _ in range(steps):
            operation = orchestrator.scale_ns(
                instance.orchestrator_id, scale_out=change > 0, aspect=aspect, member_vnf_index=member
            )
            finished = orchestrator.wait(operation.id)
            if finished.state != "COMPLETED":
                error = f"scaling step {done + 1} of {steps} ended {finished.state}"
                break
            done += 1
    except OrchestratorError as exc:
        error = f"the orchestrator failed: {exc}"
    # Units are added only to a still running instance: a terminate that raced this scale released the
    # seats of the units it saw, so the seats of units it did not see are released here.
    running = NsInstance.objects.filter(pk=instance.pk, state=InstanceState.RUNNING)
    if change > 0:
        kept = done if done and running.update(units=F("units") + done) else 0
        free = steps - kept if instance.seat_key and decision.seats else 0
    else:
        undone = steps - done
        restored = undone if undone and running.update(units=F("units") + undone) else 0
        free = steps - restored if instance.seat_key else 0
    if free:
        _seat_release(instance.seat_key, free)
    if error:
        NsInstance.objects.filter(pk=instance.pk).update(error=error)
    instance.refresh_from_db()
    provenance_append(
        kind="scale",
        actor=actor,
        subject=subject,
        payload={
            "ns": str(instance.ns.pk),
            "change": change,
            "done": done * (1 if change > 0 else -1),
            "units": instance.units,
            "aspect": aspect or None,
            "member_vnf_index": member or None,
            "error": error,
            "licence_id": instance.licence_id,
        },
    )
    if error:
        raise ScaleFailed(instance, error)
    return instance


class ScaleFailed(Exception):
    """The orchestrator did not finish every scaling step; `instance` holds the units that did."""

    def __init__(self, instance: NsInstance, message: str) -> None:
        self.instance = instance
        super().__init__(message)


def transfer_decide(*, licence: AcquiredLicence, holder: str, recipient: str) -> Decision:
    """May `holder` transfer `licence` to `recipient`? The offer must be transferable, the licence held by
    `holder` and valid, no instance may run under it, and the recipient must not hold a valid licence of
    the same offer (LicenseManager.transferLicence refuses that too)."""
    facts: dict[str, Any] = {"offer_id": licence.offer_id, "licence_id": licence.licence_id}
    if licence.licensee != holder:
        return Decision(
            False,
            f"licence #{licence.licence_id} is held by {licence.licensee}, not by {holder}",
            action="transfer",
            **facts,
        )
    if recipient.lower() in (holder.lower(), "0x" + "00" * 20):
        return Decision(
            False,
            f"{recipient} cannot receive licence #{licence.licence_id}: it is the holder or the zero address",
            action="transfer",
            **facts,
        )
    offer = LicenceOffer.objects.filter(chain_id=licence.chain_id, offer_id=licence.offer_id).first()
    kind = KINDS.get(offer.kind, "private") if offer is not None else None
    facts["kind"] = kind
    if offer is None or not offer.transferable:
        return Decision(
            False,
            f"offer #{licence.offer_id} is not transferable: its licences stay with their holder",
            action="transfer",
            **facts,
        )
    now = get_chain_client().now()
    if licence.expires_at and licence.expires_at <= now:
        return Decision(
            False,
            f"{kind} licence #{licence.licence_id} ended on {_date(licence.expires_at)}",
            expires_at=licence.expires_at,
            action="transfer",
            **facts,
        )
    running = list(
        NsInstance.objects.filter(seat_key=seat_key(licence.chain_id, licence), state__in=LIVE_STATES).order_by("pk")
    )
    if running:
        names = ", ".join(str(i.pk) for i in running)
        return Decision(
            False,
            f"{len(running)} instance{'s still run' if len(running) > 1 else ' still runs'} under licence "
            f"#{licence.licence_id}: terminate {names} first",
            action="transfer",
            **facts,
        )
    theirs = AcquiredLicence.objects.filter(chain_id=licence.chain_id, offer_id=licence.offer_id, licensee=recipient)
    for other in theirs:
        if not other.expires_at or other.expires_at > now:
            reason = f"{recipient} already holds licence #{other.licence_id} of offer #{licence.offer_id}"
            return Decision(False, reason, action="transfer", **facts)
    until = f", valid until {_date(licence.expires_at)}" if licence.expires_at else ""
    return Decision(
        True,
        f"{kind} licence #{licence.licence_id} may go to {recipient}{until}",
        expires_at=licence.expires_at,
        action="transfer",
        **facts,
    )


def licence_transfer_prepare(*, licence: AcquiredLicence, holder: str, recipient: str) -> dict[str, Any]:
    """Decide the transfer and, when permitted, return the unsigned transferLicence transaction for the
    holder's wallet. The indexer moves the licence once the chain has it. Raises LicenceDenied."""
    decision = transfer_decide(licence=licence, holder=holder, recipient=recipient)
    payload = {**decision.as_dict(), "recipient": recipient}
    provenance_append(kind="decision", actor=holder, subject=f"licence:{licence.licence_id}", payload=payload)
    if not decision.permit:
        raise LicenceDenied(decision)
    tx = _manager().transfer_licence(holder, licence.licence_id, recipient)
    return {"decision": decision.as_dict(), "transaction": _jsonable_tx(tx)}


def licence_transfer_record(
    *, chain_id: int, licence_id: int, sender: str, recipient: str, tx_hash: str, to_licence_id: int | None = None
) -> None:
    """Log a transfer the chain made (the indexer saw LicenceTransferred), once per transaction: replaying
    events after a reorganisation must not log it twice."""
    subject = f"licence:{licence_id}"
    for entry in ProvenanceEntry.objects.filter(subject=subject, kind="transfer").only("payload"):
        if isinstance(entry.payload, dict) and entry.payload.get("tx_hash") == tx_hash:
            return
    payload = {
        "chain_id": chain_id,
        "from": sender,
        "to": recipient,
        "to_licence_id": to_licence_id,
        "tx_hash": tx_hash,
    }
    provenance_append(kind="transfer", actor=sender, subject=subject, payload=payload)


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
    from marketplace.contract_manager.policy import generate_policy, terms_hash
    from marketplace.repository.services import PermissionDeniedError, ValidationFailed

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
    from marketplace.repository.services import ValidationFailed

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
    manager = _manager()
    offer, agreement = _signed_agreement(manager, offer_id, licensee, typed_data, signature)
    return {"transaction": _jsonable_tx(manager.purchase(licensee, offer, agreement, signature))}


def trial_activate(*, offer_id: int, licensee: str, typed_data: dict[str, Any], signature: str) -> int:
    """Relay the licensee's signed trial agreement with the operator's key; returns the licence id.

    LicenseManager does not ask the registry when a trial is activated (a trial sells nothing); the
    operator does not relay trials of revoked packages."""
    from ledger.signer import operator_account
    from marketplace.repository.services import ConflictError

    manager = _manager()
    offer, agreement = _signed_agreement(manager, offer_id, licensee, typed_data, signature)
    try:
        record = PackageRegistry.deployed(get_chain_client()).registration_of(offer.digest)
    except LedgerError as exc:
        raise ConflictError(f"the registry cannot be read: {exc}") from exc
    if record is not None and record.status == PackageStatus.REVOKED:
        raise ConflictError(f"the publisher revoked package {offer.digest} on chain: its trial cannot be activated")
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


def _signed_agreement(
    manager: Any, offer_id: int, licensee: str, typed_data: dict[str, Any], signature: str
) -> tuple[Any, Any]:
    """(offer, agreement) once `typed_data` is a signed agreement of `licensee` for the offer's very
    terms, kept for the portal; LicenseManager rebuilds the agreement from the offer, so an agreement
    for other terms would only fail on chain."""
    from ledger.licensing import agreement_from_typed_data, agreement_mismatches
    from marketplace.repository.services import ValidationFailed

    offer = manager.offer(offer_id)
    if offer is None:
        raise ValidationFailed({"offer_id": f"offer {offer_id} does not exist"})
    try:
        agreement = agreement_from_typed_data(typed_data)
    except LedgerError as exc:
        raise ValidationFailed({"typed_data": str(exc)}) from exc
    mismatches = agreement_mismatches(agreement, offer)
    if mismatches:
        raise ValidationFailed({"typed_data": "the agreement does not match the offer: " + "; ".join(mismatches)})
    _agreement_keep(manager=manager, offer_id=offer_id, agreement=agreement, licensee=licensee, signature=signature)
    return offer, agreement


def _agreement_keep(*, manager: Any, offer_id: int, agreement: Any, licensee: str, signature: str) -> None:
    """Check that `licensee` signed `agreement` for `offer_id`, and keep the signed typed data.

    Kept under its EIP-712 digest, which LicenseManager emits as the licence's agreementHash: the
    portal shows a licence's agreement only when the digests are equal."""
    import json

    from eth_account import Account
    from eth_account.messages import encode_typed_data

    from ledger.licensing import typed_data_hash
    from marketplace.repository.services import AuthenticationError, ValidationFailed

    if agreement.offer_id != offer_id or agreement.licensee != licensee:
        raise ValidationFailed({"typed_data": "the agreement is for another offer or another licensee"})
    typed = manager.typed_data(agreement)
    try:
        signer = Account.recover_message(encode_typed_data(full_message=typed), signature=signature)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed({"signature": f"cannot be read: {exc}"}) from exc
    if signer != licensee:
        raise AuthenticationError(f"the agreement is signed by {signer}, not by {licensee}")
    SignedAgreement.objects.update_or_create(
        agreement_hash=typed_data_hash(typed).lower(),
        defaults={
            "chain_id": int(typed["domain"]["chainId"]),
            "offer_id": offer_id,
            "licensee": licensee,
            "typed_data": json.dumps(typed, sort_keys=True, separators=(",", ":")),
            "signature": signature,
        },
    )


def offer_close_prepare(*, offer_id: int, actor: str) -> dict[str, Any]:
    """The unsigned closeOffer transaction for the provider's wallet (or the package's publishing key,
    which LicenseManager.closeOffer also accepts); anyone else is refused with the reason."""
    from marketplace.repository.services import ConflictError, PermissionDeniedError, ValidationFailed

    manager = _manager()
    offer = manager.offer(offer_id)
    if offer is None:
        raise ValidationFailed({"offer_id": f"offer {offer_id} does not exist"})
    if actor != offer.provider:
        publisher = PackageRegistry.deployed(get_chain_client()).publishing_key_for(offer.digest)
        if actor != publisher:
            raise PermissionDeniedError(
                f"only the offer's provider {offer.provider} or the package's publisher may close offer #{offer_id}"
            )
    if offer.closed:
        raise ConflictError(f"offer #{offer_id} is already closed")
    return {"offer_id": offer_id, "transaction": _jsonable_tx(manager.close_offer(actor, offer_id))}


def _jsonable_tx(tx: Any) -> dict[str, Any]:
    return {k: (hex(v) if isinstance(v, int) and k in ("value",) else v) for k, v in dict(tx).items()}
