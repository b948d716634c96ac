"""Reads behind the portal's Licensing and Provenance sections: a user's licences, a provider's offers,
provenance timelines with their anchoring state, and the daily series the charts draw.

Offers and licences are the indexer's projections of LicenseManager events (ledger.models); instances,
signed agreements and the provenance log are ours."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Q

from ledger.models import AcquiredLicence, ChainEvent, LicenceOffer, LineOwnership
from ledger.selectors import provenance_ranges
from marketplace.contract_manager.decisions import KINDS
from marketplace.contract_manager.policy import matches_terms
from marketplace.contract_manager.provenance import (
    provenance_entries,
    provenance_positions_placed,
    scope_counts,
    scope_entries,
    timeline_heads,
)
from marketplace.licensing.models import LicencePolicy, NsInstance, SignedAgreement
from marketplace.licensing.seats import LIVE_STATES, seat_key, seats_in_use_by_key
from marketplace.repository.models import NetworkService, Package
from marketplace.repository.origin import package_offers, packages_visible_to, visible_to
from marketplace.repository.presenters import ether

PER_PAGE = 50
MAX_ROWS = 200


def _kind(offer: LicenceOffer | None) -> str:
    return KINDS.get(offer.kind, "private") if offer is not None else "unknown"


def _packages_of(offers: Iterable[LicenceOffer]) -> dict[int, Package]:
    """The package each offer is of, by offer id: the one with the offer's digest whose own line is the
    offer's line (repository.origin); an offer of the same bytes under another line is of no package here."""
    offers = list(offers)
    bare = {o.digest.lower().removeprefix("0x") for o in offers}
    # Only the fields pages of offers and licences show (the file list alone is one embedded document per file of
    # the archive); another field is read when first used.
    shown = ("format", "kind", "vendor", "name", "version", "state", "digest", "line_hash", "listed", "uploader")
    by_digest = {"0x" + p.digest: p for p in Package.objects.filter(digest__in=list(bare)).only(*shown)}
    found: dict[int, Package] = {}
    for o in offers:
        package = by_digest.get(o.digest.lower())
        if package is not None and package.line_hash and package.line_hash == o.name_hash.lower():
            found[o.offer_id] = package
    return found


def _moment(timestamp: int) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else None


# --- licences ---


@dataclass
class LicenceView:
    licence: AcquiredLicence
    offer: LicenceOffer | None
    package: Package | None
    kind: str
    seats: int  # 0: unlimited
    in_use: int
    expires_at: datetime | None
    expired: bool
    agreement: SignedAgreement | None
    instances: list[NsInstance] = field(default_factory=list)
    number: int = 0  # its place among its offer's licences, by first issue: "licence 3 of offer #2"

    @property
    def name(self) -> str:
        return licence_name(self.number, int(self.licence.offer_id))

    @property
    def licence_id(self) -> int:
        return int(self.licence.licence_id)

    @property
    def transferable(self) -> bool:
        return bool(self.offer and self.offer.transferable)

    @property
    def agreement_message(self) -> dict[str, Any]:
        """The fields the licensee signed (the EIP-712 message)."""
        if self.agreement is None:
            return {}
        message = json.loads(self.agreement.typed_data).get("message", {})
        return message if isinstance(message, dict) else {}

    @property
    def agreement_json(self) -> str:
        """The signed typed data and signature, indented for reading."""
        if self.agreement is None:
            return ""
        body = {"typed_data": json.loads(self.agreement.typed_data), "signature": self.agreement.signature}
        return json.dumps(body, indent=2)


def _licence_views(
    licences: list[AcquiredLicence], *, chain_id: int, now: int | Callable[[], int], details: bool = True
) -> list[LicenceView]:
    """Each licence with its offer, package, seats in use and number; with `details`, its signed agreement and
    instances as well (a page that shows neither skips their two reads). `now` (chain time) may be a function,
    called once the reads are done."""
    offers = {
        o.offer_id: o
        for o in LicenceOffer.objects.filter(chain_id=chain_id, offer_id__in=[lic.offer_id for lic in licences])
    }
    packages = _packages_of(offers.values())
    keys = {lic.licence_id: seat_key(chain_id, lic) for lic in licences}
    agreements: dict[str, SignedAgreement] = {}
    instances: dict[int, list[NsInstance]] = {}
    if details:
        hashes = [lic.agreement_hash.lower() for lic in licences]
        agreements = {a.agreement_hash: a for a in SignedAgreement.objects.filter(agreement_hash__in=hashes)}
        found = NsInstance.objects.filter(chain_id=chain_id, licence_id__in=list(keys)).select_related("ns")
        for instance in found.order_by("-created_at")[:MAX_ROWS]:
            instances.setdefault(int(instance.licence_id or 0), []).append(instance)
    used = seats_in_use_by_key(list(keys.values()))
    now = now() if callable(now) else now
    views = []
    for lic in licences:
        offer = offers.get(lic.offer_id)
        views.append(
            LicenceView(
                licence=lic,
                offer=offer,
                package=packages.get(offer.offer_id) if offer else None,
                kind=_kind(offer),
                seats=int(offer.seats) if offer else 0,
                in_use=used.get(keys[lic.licence_id], 0),
                expires_at=_moment(lic.expires_at),
                expired=bool(lic.expires_at and lic.expires_at <= now),
                agreement=agreements.get(lic.agreement_hash.lower()),
                instances=instances.get(lic.licence_id, []),
                number=int(lic.number),
            )
        )
    return views


def licence_numbers(*, chain_id: int, licence_ids: Iterable[int]) -> dict[int, int]:
    """Each licence's number within its offer (AcquiredLicence.number, given in the order the chain first issued
    the offer's licences), so people can say "licence 3 of offer #2" instead of its 19-digit id."""
    wanted = sorted({int(i) for i in licence_ids})
    if not wanted:
        return {}
    found = AcquiredLicence.objects.filter(chain_id=chain_id, licence_id__in=wanted)
    return {int(i): int(n) for i, n in found.values_list("licence_id", "number")}


def licence_name(number: int, offer_id: int) -> str:
    return f"licence {number} of offer #{offer_id}" if number else f"a licence of offer #{offer_id}"


def licences_of(*, user: str, chain_id: int, now: int) -> list[LicenceView]:
    """The licences `user` holds on the chain, newest first."""
    held = AcquiredLicence.objects.filter(chain_id=chain_id, licensee=user).order_by("-block_number")[:MAX_ROWS]
    return _licence_views(list(held), chain_id=chain_id, now=now)


def licence_view(
    *, licence_id: int, chain_id: int, now: int | Callable[[], int], details: bool = True
) -> LicenceView | None:
    found = AcquiredLicence.objects.filter(chain_id=chain_id, licence_id=licence_id)[:1]  # unique: no order needed
    return _licence_views(list(found), chain_id=chain_id, now=now, details=details)[0] if found else None


# --- offers ---


@dataclass
class OfferView:
    offer: LicenceOffer
    package: Package | None
    kind: str
    licences_sold: int
    in_use: int
    policy: dict[str, Any] | None  # the ODRL document behind the terms hash, when the marketplace wrote it
    is_provider: bool  # False: listed because the address publishes the package

    @property
    def offer_id(self) -> int:
        return int(self.offer.offer_id)

    @property
    def price_eth(self) -> str:
        """The price in ether (wei / 10**18) without trailing zeros; "" for a free offer."""
        wei = int(self.offer.price or 0)
        return "" if wei == 0 else ether(wei)

    @property
    def policy_json(self) -> str:
        return json.dumps(self.policy, indent=2) if self.policy is not None else ""


def offers_of(*, address: str, chain_id: int) -> list[OfferView]:
    """Offers `address` created, and offers on packages it publishes (LicenseManager lets both close them)."""
    # Offers in the lines whose owner's key is `address` (LicenseManager lets it close them).
    lines = list(LineOwnership.objects.filter(chain_id=chain_id, key=address).values_list("name_hash", flat=True))
    query = Q(provider=address)
    if lines:
        query |= Q(name_hash__in=lines)
    offers = list(LicenceOffer.objects.filter(query, chain_id=chain_id).order_by("-offer_id")[:MAX_ROWS])
    ids = [o.offer_id for o in offers]
    sold = Counter(
        AcquiredLicence.objects.filter(chain_id=chain_id, offer_id__in=ids).values_list("offer_id", flat=True)
    )
    used: Counter[int] = Counter()
    live = NsInstance.objects.filter(chain_id=chain_id, offer_id__in=ids, state__in=LIVE_STATES)
    for offer_id, units in live.values_list("offer_id", "units"):
        used[offer_id] += int(units or 0)
    policies = dict(
        LicencePolicy.objects.filter(terms_hash__in=[o.terms_hash.lower() for o in offers]).values_list(
            "terms_hash", "document"
        )
    )
    packages = _packages_of(offers)
    return [
        OfferView(
            offer=o,
            package=packages.get(o.offer_id),
            kind=_kind(o),
            licences_sold=sold.get(o.offer_id, 0),
            in_use=used.get(o.offer_id, 0),
            # A copy that no longer hashes to the offer's terms on chain is not the offer's policy.
            policy=policy if matches_terms(policy := policies.get(o.terms_hash.lower()), o.terms_hash) else None,
            is_provider=o.provider == address,
        )
        for o in offers
    ]


def offer_state(*, offer_id: int, chain_id: int) -> LicenceOffer | None:
    return LicenceOffer.objects.filter(chain_id=chain_id, offer_id=offer_id).first()


# --- provenance timelines ---


@dataclass(frozen=True)
class TimelineEntry:
    seq: int
    kind: str
    actor: str
    subject: str
    created_at: datetime
    reason: str
    permit: bool | None  # decisions only
    licence_id: int | None
    state: str  # "anchored", "submitted" or "pending"
    anchor: dict[str, Any] | None
    entry_hash: str
    result: str = ""  # verifications only: verified, tampered, ...
    subject_name: str = ""  # the subject as people read it: "nfvm-demo-core-ns 1.0, instance 2"
    subject_kind: str = ""  # ns, instance, package, offer or licence
    subject_id: str = ""


@dataclass(frozen=True)
class Timeline:
    entries: list[TimelineEntry]
    total: int
    page: int
    pages: int

    @property
    def previous_page(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def next_page(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None


def _timeline(
    scope: str | None, *, page: int, chain_id: int, viewer: str | None = None, package: Package | None = None
) -> Timeline:
    """A page of the whole log (scope None: seq runs 1, 2, 3, ... without gaps, so a page is a range of seqs and
    the head's seq is the count) or of a scope's timeline (a range of its positions, counted by its head): no
    sort, skip or count scan, so the last page of 100,000 entries costs what the first does."""
    # `sent`: the last anchoring sent. Entries read from positions' copies carry no anchoring of their own, so one
    # sent and not indexed yet is found there.
    total, sent = timeline_heads(scope)
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    first, last = (page - 1) * PER_PAGE + 1, min(page * PER_PAGE, total)
    if scope is None:
        rows = provenance_entries(seqs=range(first, last + 1))
    else:
        rows = scope_entries(scope, first, last) if total else []
    ranges = provenance_ranges(chain_id=chain_id, first=rows[0].seq, last=rows[-1].seq) if rows else []
    items = []
    # The page's own package, read already, is not asked about again.
    shown = [str(package.pk)] if package is not None and visible_to(package, viewer) else []
    names = subject_names({e.subject for e in rows}, viewer=viewer, visible=shown)
    for e in rows:
        covering = next((r for r in ranges if r.from_seq <= e.seq <= r.to_seq), None)
        anchor = None
        if covering is not None:
            state = "anchored"
            anchor = {
                "anchor_id": covering.anchor_id,
                "from_seq": covering.from_seq,
                "to_seq": covering.to_seq,
                "root": covering.root,
                "tx_hash": covering.tx_hash,
                "block_number": covering.block_number,
            }
        elif e.anchor_chain_id == chain_id:
            state = "submitted"
            anchor = {"tx_hash": e.anchor_tx_hash, "from_seq": e.anchor_from_seq, "to_seq": e.anchor_to_seq}
        elif sent is not None and sent["anchor_chain_id"] == chain_id and _within(sent, e.seq):
            state = "submitted"
            anchor = {
                "tx_hash": sent["anchor_tx_hash"],
                "from_seq": sent["anchor_from_seq"],
                "to_seq": sent["anchor_to_seq"],
            }
        else:
            state = "pending"
        payload = e.payload if isinstance(e.payload, dict) else {}
        licence_id = payload.get("licence_id")
        subject_kind, _, subject_id = e.subject.partition(":")
        items.append(
            TimelineEntry(
                seq=e.seq,
                kind=e.kind,
                actor=e.actor,
                subject=e.subject,
                created_at=e.created_at,
                reason=str(payload.get("reason") or payload.get("error") or payload.get("summary") or ""),
                permit=payload.get("permit") if e.kind == "decision" else None,
                licence_id=int(licence_id) if isinstance(licence_id, int) else None,
                state=state,
                anchor=anchor,
                entry_hash=e.entry_hash,
                result=str(payload.get("result", "")) if e.kind == "verification" else "",
                subject_name=names.get(e.subject, e.subject),
                subject_kind=subject_kind,
                subject_id=subject_id,
            )
        )
    return Timeline(items, total, page, pages)


# What a subject is called never changes: a package's, an NS's name and version and its package, an instance's NS
# and its place among its owner's instances. Each process keeps those; who may see the package (Package.listed,
# which registration sets) is read for every page.
_NAMES_KEPT = 20_000
_names: dict[str, tuple[str, str]] = {}  # subject -> (name, id of the package it belongs to)


def _within(sent: dict[str, Any], seq: int) -> bool:
    return int(sent["anchor_from_seq"]) <= seq <= int(sent["anchor_to_seq"])


def subject_names(subjects: Iterable[str], *, viewer: str | None = None, visible: Iterable[str] = ()) -> dict[str, str]:
    """Log subjects ("ns:<id>", "instance:<id>", "package:<id>", "offer:<n>", "licence:<n>") as people name
    them: "nfvm-demo-core-ns 1.0", "nfvm-demo-core-ns 1.0, instance 2", "offer #3". A package `viewer` may not
    see (an unlisted upload, repository.origin.visible_to) keeps its raw id: the log does not name it.
    `visible`: ids of packages the caller has found `viewer` may see (a package's own page), not asked again."""
    from bson import ObjectId
    from bson.errors import InvalidId

    by_kind: dict[str, set[str]] = {}
    for subject in subjects:
        kind, _, key = subject.partition(":")
        by_kind.setdefault(kind, set()).add(key)

    def ids(kind: str) -> list[ObjectId]:
        out = []
        for key in by_kind.get(kind, ()):
            if f"{kind}:{key}" in _names:
                continue
            try:
                out.append(ObjectId(key))
            except (InvalidId, TypeError):
                continue
        return out

    if len(_names) >= _NAMES_KEPT:
        _names.clear()
    # Only what is not kept yet is read (building a query for nothing costs as much as a read).
    if wanted := ids("ns"):
        for ns in NetworkService.objects.filter(pk__in=wanted).select_related("package"):
            _names[f"ns:{ns.pk}"] = (f"{ns.name} {ns.version}", str(ns.package.pk))
    if wanted := ids("package"):
        for package in Package.objects.filter(pk__in=wanted).only("name", "version"):
            _names[f"package:{package.pk}"] = (f"{package.name} {package.version}", str(package.pk))
    if wanted := ids("instance"):
        for instance in NsInstance.objects.filter(pk__in=wanted).select_related("ns", "ns__package"):
            name = f"{instance.ns.name} {instance.ns.version}, {instance_name(instance)}"
            _names[f"instance:{instance.pk}"] = (name, str(instance.ns.package.pk))

    named = {subject: found for subject in subjects if (found := _names.get(subject)) is not None}
    asked = {package_id for _, package_id in named.values()} - set(visible)
    visible = set(visible) | packages_visible_to(asked, viewer)
    names = {subject: name for subject, (name, package_id) in named.items() if package_id in visible}
    for kind, word in (("offer", "offer"), ("licence", "licence")):
        for key in by_kind.get(kind, ()):
            names[f"{kind}:{key}"] = f"{word} #{key}"
    return names


def instance_name(instance: NsInstance) -> str:
    """ "instance 2": its place among its owner's instances of the same network service, by start time."""
    earlier = NsInstance.objects.filter(
        ns=instance.ns, owner=instance.owner, created_at__lt=instance.created_at
    ).count()
    return f"instance {earlier + 1}"


def provenance_timeline(*, chain_id: int, page: int = 1, viewer: str | None = None) -> Timeline:
    """The whole log, in order."""
    return _timeline(None, page=page, chain_id=chain_id, viewer=viewer)


def package_timeline(*, package: Package, chain_id: int, page: int = 1, viewer: str | None = None) -> Timeline:
    """Entries on the package, its network services, their instances and its offers (contract_manager.provenance
    .entry_scopes)."""
    return _timeline(f"package:{package.pk}", page=page, chain_id=chain_id, viewer=viewer, package=package)


def licence_timeline(
    *, licence: AcquiredLicence, page: int = 1, viewer: str | None = None, package: Package | None = None
) -> Timeline:
    """Entries naming the licence (decisions, instantiations, a trial's activation) and the later
    events of the instances that ran under it (terminations, expiry flags); `package`: its offer's, if read."""
    scope = f"licence:{licence.licence_id}"
    return _timeline(scope, page=page, chain_id=licence.chain_id, viewer=viewer, package=package)


# --- chart series ---


def _days(today: date, days: int) -> list[date]:
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def _since(today: date, days: int) -> datetime:
    first = today - timedelta(days=days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=UTC)


def sales_per_day(
    *, chain_id: int, today: date, days: int = 14, offer_ids: list[int] | None = None
) -> list[tuple[date, int]]:
    """Licences issued per UTC day over the last `days` days (purchases and trials), optionally only
    under `offer_ids`. A licence counts on the day the indexer recorded its LicenceIssued event."""
    events = ChainEvent.objects.filter(
        chain_id=chain_id, contract="LicenseManager", event="LicenceIssued", indexed_at__gte=_since(today, days)
    )
    wanted = set(offer_ids) if offer_ids is not None else None
    counts: Counter[date] = Counter()
    for args, indexed_at in events.values_list("args", "indexed_at"):
        if wanted is None or int(args.get("offerId", -1)) in wanted:
            counts[indexed_at.astimezone(UTC).date()] += 1
    return [(day, counts.get(day, 0)) for day in _days(today, days)]


def instances_per_day(*, today: date, days: int = 14, ns_ids: list[str] | None = None) -> list[tuple[date, int, int]]:
    """(day, started, terminated) per UTC day from the provenance log: instantiations that did not fail,
    and terminations; optionally only of the network services `ns_ids`. Each figure is a day's counter
    (contract_manager.provenance's day scopes), so the chart costs two reads whatever the log's size."""
    provenance_positions_placed()
    suffixes = [""] if ns_ids is None else [f":ns:{ns}" for ns in ns_ids]
    wanted = {
        (day, kind): [f"day:{day.isoformat()}:{kind}{suffix}" for suffix in suffixes]
        for day in _days(today, days)
        for kind in ("instantiate", "terminate")
    }
    counts = scope_counts([scope for scopes in wanted.values() for scope in scopes])

    def total(day: date, kind: str) -> int:
        return sum(counts[scope] for scope in wanted[(day, kind)])

    return [(day, total(day, "instantiate"), total(day, "terminate")) for day in _days(today, days)]


def seats_per_licence(
    *, chain_id: int, now: int, offer_ids: list[int] | None = None, limit: int = 20
) -> list[tuple[int, int, int]]:
    """(licence id, seats in use, seats) for licences still valid, busiest first, at most `limit`;
    seats 0 means unlimited."""
    licences = AcquiredLicence.objects.filter(chain_id=chain_id).filter(Q(expires_at=0) | Q(expires_at__gt=now))
    if offer_ids is not None:
        licences = licences.filter(offer_id__in=offer_ids)
    held = list(licences.order_by("-block_number")[:MAX_ROWS])
    seats = dict(
        LicenceOffer.objects.filter(chain_id=chain_id, offer_id__in=[lic.offer_id for lic in held]).values_list(
            "offer_id", "seats"
        )
    )
    keys = {lic.licence_id: seat_key(chain_id, lic) for lic in held}
    used = seats_in_use_by_key(list(keys.values()))
    rows = [(lic.licence_id, used.get(keys[lic.licence_id], 0), int(seats.get(lic.offer_id, 0))) for lic in held]
    rows.sort(key=lambda row: (-row[1], -row[0]))
    return rows[:limit]


def package_offer_ids(*, package: Package, chain_id: int) -> list[int]:
    return list(package_offers(package, chain_id).values_list("offer_id", flat=True))


def package_ns_ids(*, package: Package) -> list[str]:
    return [str(pk) for pk in NetworkService.objects.filter(package=package).values_list("pk", flat=True)]
