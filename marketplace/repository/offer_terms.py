"""What a package's open offers sell, as the catalogue's cards and its licence-kind and price filters read
them: from the offers the indexer recorded from the chain, for a digest under its own line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from marketplace.repository.models import Package

if TYPE_CHECKING:
    from marketplace.repository.selectors import PackageQuery


@dataclass(frozen=True)
class OfferTerms:
    """What a package's open offers (on chain, as indexed) sell: a catalogue card's licence line."""

    public: bool = False
    trial_days: int | None = None  # the longest trial, in days; 0: a trial without end
    private_from_wei: int | None = None  # the cheapest private offer in ETH

    @property
    def kinds(self) -> set[str]:
        offered = {
            "public": self.public,
            "trial": self.trial_days is not None,
            "private": self.private_from_wei is not None,
        }
        return {kind for kind, on in offered.items() if on}

    @property
    def lowest_wei(self) -> int | None:
        if self.public or self.trial_days is not None:
            return 0
        return self.private_from_wei


def offer_terms(packages: list[tuple[Any, str, str]], *, chain_id: int) -> dict[Any, OfferTerms]:
    """Each package's open offers, by package id, for (id, digest, line hash) triples: offers are made for
    a digest under a line, so an offer under another line does not count."""
    from ledger.licensing import ZERO_ADDRESS
    from ledger.models import LicenceOffer

    if not packages:
        return {}
    wanted = {("0x" + digest, line): pk for pk, digest, line in packages}
    terms: dict[Any, dict[str, Any]] = {}
    offers = LicenceOffer.objects.filter(
        chain_id=chain_id, closed=False, digest__in=sorted({d for d, _ in wanted})
    ).values_list("digest", "name_hash", "kind", "price", "token", "duration")
    for digest, line, kind, price, token, duration in offers:
        pk = wanted.get((digest, line))
        if pk is None or (kind == 2 and str(token).lower() != ZERO_ADDRESS):
            continue  # not this package's, or priced in a token: the card and the price filter are in ether
        found = terms.setdefault(pk, {"public": False, "trial_days": None, "private_from_wei": None})
        if kind == 0:
            found["public"] = True
        elif kind == 1:
            days = 0 if not duration else max(1, int(duration) // 86400)
            best = found["trial_days"]
            found["trial_days"] = days if best is None else 0 if 0 in (best, days) else max(best, days)
        elif kind == 2:
            cheapest = found["private_from_wei"]
            found["private_from_wei"] = int(price) if cheapest is None else min(cheapest, int(price))
    return {pk: OfferTerms(**values) for pk, values in terms.items()}


def by_licence_terms(ids: list[Any], query: PackageQuery, *, chain_id: int) -> list[Any]:
    """`ids` narrowed to the licence kind and price asked for, and ordered by price when asked."""
    from ledger.models import LicenceOffer

    digests = set(LicenceOffer.objects.filter(chain_id=chain_id, closed=False).values_list("digest", flat=True))
    rows = Package.objects.filter(digest__in=sorted(d[2:] for d in digests)).values_list("pk", "digest", "line_hash")
    offered = offer_terms(list(rows), chain_id=chain_id)
    if query.licence == "none":
        ids = [i for i in ids if i not in offered]
    elif query.licence:
        ids = [i for i in ids if i in offered and query.licence in offered[i].kinds]
    if query.max_price_wei is not None:
        limit = query.max_price_wei
        lowest = {i: terms.lowest_wei for i, terms in offered.items() if terms.lowest_wei is not None}
        ids = [i for i in ids if i in lowest and lowest[i] <= limit]
    if query.sort in ("price", "-price"):
        priced = [i for i in ids if i in offered and offered[i].lowest_wei is not None]
        rest = [i for i in ids if not (i in offered and offered[i].lowest_wei is not None)]
        priced.sort(key=lambda i: offered[i].lowest_wei or 0, reverse=query.sort == "-price")
        ids = priced + rest
    return ids
