"""The origin rule, in one place for the repository, the licensing views and the decision point.

A package's origin is its registration under the vendor/name line its own main descriptor names,
by that line's owner key. The same bytes registered under another line are nobody's origin for it:
they neither block nor stand in for the author's registration, and offers made on them are not this
package's offers. The verifier (ledger.offline.evidence) applies the same rule to a file.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import QuerySet

from ledger.exceptions import LedgerError
from ledger.models import LicenceOffer, LineOwnership, PackageAnchor
from ledger.registry import name_hash
from marketplace.repository.models import Package


def visible_to(package: Package, viewer: str | None) -> bool:
    """An upload is shown to its uploader only until its line is claimed on chain or it is registered
    (Package.listed, set by repository.projections): until then nobody else learns its digest or its line
    early enough to race its author for them."""
    return _visible(package.listed, package.uploader, viewer)


def _visible(listed: object, uploader: object, viewer: str | None) -> bool:
    return bool(listed) or (viewer is not None and viewer == uploader)


def packages_visible_to(package_ids: Iterable[str], viewer: str | None) -> set[str]:
    """Which of these packages `viewer` may see (visible_to), in one read of their two fields."""
    from bson import ObjectId

    wanted = [ObjectId(package_id) for package_id in package_ids]
    if not wanted:
        return set()
    table = connection.database[Package._meta.db_table]  # type: ignore[attr-defined]
    return {
        str(document["_id"])
        for document in table.find({"_id": {"$in": wanted}}, {"listed": 1, "uploader": 1})
        if _visible(document.get("listed"), document.get("uploader"), viewer)
    }


def package_line_hash(vendor: str, name: str) -> str:
    """keccak256("vendor/name") as 0x-hex, or "" for a package no line can hold (no vendor, "/" in it)."""
    try:
        return "0x" + name_hash(vendor, name).hex()
    except LedgerError:
        return ""


def package_anchor(package: Package, chain_id: int) -> PackageAnchor | None:
    """The package's registration on chain `chain_id`: its digest under its own line, as indexed."""
    if not package.line_hash:
        return None
    return PackageAnchor.objects.filter(
        chain_id=chain_id, digest="0x" + package.digest, name_hash=package.line_hash
    ).first()


def line_ownership(package: Package, chain_id: int) -> LineOwnership | None:
    """Who owns the package's line on chain `chain_id` (its owner and current key), as indexed."""
    if not package.line_hash:
        return None
    return LineOwnership.objects.filter(chain_id=chain_id, name_hash=package.line_hash).first()


def package_offers(package: Package, chain_id: int) -> QuerySet[LicenceOffer]:
    """The package's licence offers on chain `chain_id`: those made on its digest under its own line
    (the LicenseManager let only that line's owner key, or a provider it authorised, make them)."""
    return LicenceOffer.objects.filter(chain_id=chain_id, digest="0x" + package.digest, name_hash=package.line_hash)
