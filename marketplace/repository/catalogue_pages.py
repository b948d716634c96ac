"""The catalogue's pages: the package cards (what each sells, its chain status, its publisher, all read
from chain-indexed records checked against the chain) with the licence-kind and price filters, and the
VNFs & NSs list. Matching and visibility are marketplace.repository.selectors'."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.exceptions import LedgerError
from marketplace.repository.models import NetworkService, Package, Vnf
from marketplace.repository.offer_terms import OfferTerms, offer_terms
from marketplace.repository.selectors import (
    PackageQuery,
    _anchor_disagreement,
    _indexed_chain_id,
    package_matches,
)

# What a catalogue card shows; the rest of a package document (file list, search words) is not
# sent, and not turned into Python objects.
CARD_FIELDS = (
    "digest",
    "line_hash",
    "format",
    "kind",
    "vendor",
    "name",
    "version",
    "state",
    "description",
    "vcpus",
    "memory_mb",
    "storage_gb",
    "tags",
    "created_at",
    "main_descriptor",
)


@dataclass(frozen=True)
class CatalogueEntry:
    package: Package
    descriptor_kind: str = ""  # "vnf" or "ns": the page of the package's main descriptor
    descriptor_pk: str = ""
    # The status of its registration under its own line as the indexer recorded it from the chain
    # ("active", "deprecated", "revoked"), "unverifiable" when the record does not match the chain,
    # "unknown" when the chain cannot be asked, "" when it has none: the card's badge, never Package.state.
    on_chain: str = ""
    offers: OfferTerms | None = None  # its open offers on chain (as indexed); None: none
    # The publisher its registration names, once that registration is checked against its transaction's
    # receipt; "" otherwise (a database row alone names nobody).
    publisher: str = ""


@dataclass(frozen=True)
class CataloguePage:
    """One page of the catalogue; the catalogue index counts the matches as it finds them."""

    entries: list[CatalogueEntry]
    total: int
    page: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _checked_statuses(packages: list[Package]) -> dict[tuple[str, str], tuple[str, str]]:
    """The on-chain status of each package's registration under its own line, as indexed and checked
    against its transaction's receipt, with the publisher it names ("unverifiable" when the record does not
    match the chain, "unknown" when the chain cannot be asked: a card then claims nothing)."""
    from ledger.client import get_chain_client
    from ledger.models import PackageAnchor

    anchors = PackageAnchor.objects.filter(digest__in=["0x" + p.digest for p in packages])
    lines = {("0x" + p.digest, p.line_hash) for p in packages}
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for anchor in anchors:
        if (anchor.digest, anchor.name_hash) not in lines:
            continue
        try:
            wrong = _anchor_disagreement(get_chain_client(), anchor)
        except LedgerError:
            found[(anchor.digest, anchor.name_hash)] = ("unknown", "")
            continue
        found[(anchor.digest, anchor.name_hash)] = ("unverifiable", "") if wrong else (anchor.status, anchor.publisher)
    return found


def package_catalogue(query: PackageQuery) -> CataloguePage:
    """The catalogue's page of `query` (package_search's matching): only the fields a card shows,
    and each package's main VNF or NS, in three queries by id."""
    matched = package_matches(query)
    start = (query.page - 1) * query.per_page
    page_ids = matched[start : start + query.per_page]
    has_next = len(matched) > start + query.per_page
    found = Package.objects.only(*CARD_FIELDS).in_bulk(page_ids)
    packages = [found[pk] for pk in page_ids if pk in found]
    mains: dict[Any, tuple[str, str]] = {}
    for kind, model in (("vnf", Vnf), ("ns", NetworkService)):
        wanted = [p.pk for p in packages if p.kind == kind]
        if wanted:
            # Each package's descriptors, the main one preferred (a package may hold several).
            rows = model.objects.filter(package_id__in=wanted).values_list("package_id", "pk", "file")
            main_files = {p.pk: p.main_descriptor for p in packages if p.kind == kind}
            for package_pk, pk, _file in sorted(rows, key=lambda r: r[2] != main_files.get(r[0])):
                mains.setdefault(package_pk, (kind, str(pk)))
    anchored = _checked_statuses(packages)
    offers = offer_terms([(p.pk, p.digest, p.line_hash) for p in packages], chain_id=_indexed_chain_id())
    entries = []
    for p in packages:
        status, publisher = anchored.get(("0x" + p.digest, p.line_hash), ("", ""))
        entries.append(
            CatalogueEntry(p, *mains.get(p.pk, ("", "")), on_chain=status, offers=offers.get(p.pk), publisher=publisher)
        )
    return CataloguePage(
        entries=entries, total=len(matched), page=query.page, per_page=query.per_page, has_next=has_next
    )


@dataclass(frozen=True)
class DescriptorRow:
    kind: str  # "vnf" or "ns"
    descriptor: Vnf | NetworkService


@dataclass(frozen=True)
class DescriptorPage:
    rows: list[DescriptorRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def descriptor_catalogue(
    *, q: str = "", kind: str = "", viewer: str | None = None, page: int = 1, per_page: int = 50
) -> DescriptorPage:
    """The VNFs and NSs of the latest version of every package `viewer` may see (package_matches'
    rules: listed or its own, revoked ones hidden) that match `q`, by name, for the VNFs & NSs section."""
    package_ids = package_matches(PackageQuery(q=q, viewer=viewer))
    models: list[tuple[str, type[Vnf] | type[NetworkService]]] = [("vnf", Vnf), ("ns", NetworkService)]
    rows: list[DescriptorRow] = []
    for name, model in models:
        if kind and kind != name:
            continue
        found = (
            model.objects.filter(package_id__in=package_ids)
            .select_related("package")
            .only(
                "name",
                "version",
                "vendor",
                "vcpus",
                "memory_mb",
                "storage_gb",
                "package__name",
                "package__version",
                "package__format",
            )
        )
        rows.extend(DescriptorRow(name, d) for d in found)
    rows.sort(key=lambda r: (r.descriptor.name.lower(), r.descriptor.vendor.lower(), r.kind))
    start = (page - 1) * per_page
    return DescriptorPage(rows=rows[start : start + per_page], total=len(rows), page=page, per_page=per_page)
