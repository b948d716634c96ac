"""The policy decision point: may this user instantiate, download, scale or transfer, and why.

A decision reads the acquired licences the indexer projected from chain events, the offers' compiled
ODRL terms, chain time, and the seats in use; it returns a Decision with its reasons and the step
that would change it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from django.conf import settings
from django.db import connection

from ledger.client import get_chain_client
from ledger.exceptions import LedgerError
from ledger.models import AcquiredLicence, IndexerState, LicenceOffer
from ledger.projections import projections
from marketplace.contract_manager.policy import OfferTerms, PolicyError, matches_terms
from marketplace.contract_manager.policy_compiler import compile_policy
from marketplace.contract_manager.provenance import provenance_append
from marketplace.licensing import seats
from marketplace.licensing.models import LicencePolicy, NsInstance
from marketplace.licensing.seats import LIVE_STATES, seat_key, seats_in_use
from marketplace.repository.models import NetworkService, Package, Vnf
from marketplace.repository.origin import line_ownership, package_anchor, package_offers
from marketplace.repository.presenters import ether

KINDS = {0: "public", 1: "trial", 2: "private"}


class LicenceDenied(Exception):
    """The decision point refused; `decision.reason` says why, in words a user can act on. `anonymous`:
    nobody was signed in, so signing in may change the answer (HTTP 401 rather than 403)."""

    def __init__(self, decision: Decision, *, anonymous: bool = False) -> None:
        self.decision = decision
        self.anonymous = anonymous
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


# Compiled policies by their document's text and the offer's on-chain terms hash. The stored document is
# read for every decision; hashing and compiling it again is needed only when its text changed.
_terms_compiled: dict[tuple[str, str], OfferTerms | str] = {}


_TERMS_KEPT = 1024


def _offer_terms(offer: LicenceOffer) -> OfferTerms | str | None:
    """The offer's compiled policy, why it cannot be applied, or None for an offer made outside the
    marketplace (no policy document stored for its terms hash). One point read by the unique terms hash.
    A stored document that no longer hashes to the offer's on-chain terms is refused, never applied: the
    database holds a copy, the chain the commitment."""
    policies = connection.database[LicencePolicy._meta.db_table]  # type: ignore[attr-defined]
    found = policies.find_one({"terms_hash": offer.terms_hash.lower()}, {"document": 1})
    if found is None:
        return None
    document = found.get("document")
    key = (json.dumps(document, sort_keys=True, default=str), offer.terms_hash.lower())
    compiled = _terms_compiled.get(key)
    if compiled is None:
        if not matches_terms(document, offer.terms_hash):
            compiled = (
                f"the stored policy of offer #{offer.offer_id} does not hash to its terms on chain "
                f"({offer.terms_hash}): it was changed after the offer was made, so it is not applied"
            )
        else:
            try:
                compiled = compile_policy(document)
            except PolicyError as exc:
                compiled = f"the offer's policy cannot be applied: {exc}"
        if len(_terms_compiled) >= _TERMS_KEPT:
            _terms_compiled.clear()
        _terms_compiled[key] = compiled
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
    """The package's offers on this chain, oldest first: offers on its digest under its own line
    (repository.origin); the same bytes offered under another line are another package's offers."""
    if snapshot is not None and (found := snapshot.offers.get(digest)) is not None:
        return found
    line = _line_of(digest)
    offers = sorted(
        (o for o in LicenceOffer.objects.filter(digest=digest) if o.chain_id == chain_id and o.name_hash == line),
        key=lambda o: o.offer_id,
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
# NS id -> the id of the package that holds it: fixed for the NS's life. (A deleted NS stays known here, in this
# process, until the map is next cleared; its package is gone, so nothing can be offered for it: a denial.)
_ns_packages: dict[Any, Any] = {}


_DIGESTS_KEPT = 10_000

# Digest (0x-hex) -> the line its package's descriptor names; fixed while the package exists.
_package_lines: dict[str, str] = {}


def _line_of(digest: str) -> str:
    line = _package_lines.get(digest)
    if line is None:
        line = Package.objects.filter(digest=digest.removeprefix("0x")).values_list("line_hash", flat=True).first()
        if line is None:
            return ""
        if len(_package_lines) >= _DIGESTS_KEPT:
            _package_lines.clear()
        _package_lines[digest] = line
    return line


def ns_package_digest(ns_id: Any) -> str | None:
    """The digest of the package that holds network service `ns_id` (an id or its text), or None when
    there is no such NS: one point read by id, the package's digest remembered."""
    try:
        pk = ObjectId(str(ns_id))
    except (InvalidId, TypeError):
        return None
    package_id = _ns_packages.get(pk)
    if package_id is None:
        services = connection.database[NetworkService._meta.db_table]  # type: ignore[attr-defined]
        found = services.find_one({"_id": pk}, {"package_id": 1})
        if found is None:
            return None
        package_id = found.get("package_id")
        if len(_ns_packages) >= _DIGESTS_KEPT:
            _ns_packages.clear()
        _ns_packages[pk] = package_id
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
            return Decision(False, seats_taken(used, offer.seats, licence.licence_id), **facts)
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


# The licence status endpoint is the busiest licence call: orchestrators and portals ask it again and again about
# the same NS and user. An answer is given again while it is younger than ENTITLEMENT_MAX_AGE_S and this process
# has neither taken nor released seats nor folded chain events in since (other processes' changes show within
# that age). Instantiating never reads from here: it decides afresh, and the contract enforces the seats.
_answers: dict[tuple[str, str], tuple[float, tuple[int, int], Decision]] = {}


def package_licence_status(*, digest: str, user: str) -> Decision:
    """package_licence_decide for the status endpoint: a recent answer again, or a fresh one."""
    max_age = settings.ENTITLEMENT_MAX_AGE_S
    if max_age <= 0:
        return package_licence_decide(digest=digest, user=user)
    key, now = (digest, user), time.monotonic()
    generations = (projections.generation, seats.generation)
    found = _answers.get(key)
    if found is not None and now - found[0] < max_age and found[1] == generations:
        return found[2]
    decision = package_licence_decide(digest=digest, user=user)
    if len(_answers) >= _KEPT:
        _answers.clear()
    _answers[key] = (now, generations, decision)
    return decision


def _held_licences(chain_id: int, offers: list[LicenceOffer], user: str) -> list[AcquiredLicence]:
    by_id = [o.offer_id for o in offers]
    return list(
        AcquiredLicence.objects.filter(chain_id=chain_id, offer_id__in=by_id, licensee=user).order_by("-block_number")
    )


def seats_taken(used: int, seats: int, licence_id: int | None) -> str:
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
    offers = list(package_offers(package, chain_id).order_by("offer_id"))
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
    line = line_ownership(package, chain_id)
    if line is not None and package_anchor(package, chain_id) is not None and line.key.lower() == user.lower():
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
    the log at will. For the same reason an anonymous refusal is not logged either: it changes nothing and
    anyone could repeat it."""
    decision = download_decide(package=package, user=user)
    logged = decision.permit or user is not None
    if logged and not (decision.permit and (decision.kind == "public" or decision.reason == OPEN_DOWNLOAD)):
        actor = user or "anonymous"
        subject = f"package:{package.pk}"
        provenance_append(kind="decision", actor=actor, subject=subject, payload=decision.as_dict())
        if decision.permit:
            payload = {"what": what, "licence_id": decision.licence_id, "offer_id": decision.offer_id}
            provenance_append(kind="download", actor=actor, subject=subject, payload=payload)
    if not decision.permit:
        raise LicenceDenied(decision, anonymous=user is None)
    return decision


def scaling_target(ns: NetworkService) -> tuple[str, str] | None:
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
            f"{seats_taken(used, offer.seats, licence.licence_id)}: scaling out by {change} needs {used + change}",
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
