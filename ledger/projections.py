"""What the indexer derives from our contracts' events. Each handler folds one event into the
derived records; `projections.rebuild` replays all events after a reorg."""

from __future__ import annotations

from typing import Any

from ledger.indexer import Projections, upsert_many
from ledger.models import (
    AcquiredLicence,
    ChainEvent,
    LicenceOffer,
    LineOwnership,
    PackageAnchor,
    ProvenanceRange,
    RegistryBatch,
)

projections = Projections()
STATUS_NAMES = {1: "active", 2: "deprecated", 3: "revoked"}


@projections.on_batch("PackageRegistry", "PackageRegistered")
def _registered(events: list[ChainEvent]) -> None:
    # The busiest event: a run of registrations costs two queries, not two each. A line's owner may
    # register one digest at two versions; the first registration counts, as for the verifier.
    upsert_many(PackageAnchor, ("chain_id", "name_hash", "digest"), [_anchor(e) for e in events], keep_first=True)


def _anchor(event: ChainEvent) -> dict[str, Any]:
    args = event.args
    return {
        "chain_id": event.chain_id,
        "digest": str(args["digest"]).lower(),
        "registry": event.address,
        "publisher": args["publisher"],
        "name_hash": str(args["nameHash"]).lower(),
        "version_number": str(args["version"]),
        "descriptor_digest": args["descriptorDigest"],
        "batch_id": int(args.get("batchId", 0)),
        "status": "active",
        "tx_hash": event.tx_hash,
        "block_number": event.block_number,
    }


@projections.on("PackageRegistry", "PackageStatusChanged")
def _status_changed(event: ChainEvent) -> None:
    PackageAnchor.objects.filter(
        chain_id=event.chain_id,
        digest=str(event.args["digest"]).lower(),
        name_hash=str(event.args["nameHash"]).lower(),
    ).update(status=STATUS_NAMES.get(int(event.args["status"]), "unknown"))


@projections.on("PackageRegistry", "LineClaimed")
def _line_claimed(event: ChainEvent) -> None:
    LineOwnership.objects.update_or_create(
        chain_id=event.chain_id,
        name_hash=str(event.args["nameHash"]).lower(),
        defaults={
            "registry": event.address,
            "owner": event.args["owner"],
            "claimant": event.args["claimant"],
            "key": event.args["claimant"],
            "tx_hash": event.tx_hash,
            "block_number": event.block_number,
        },
    )


@projections.on("PackageRegistry", "PublishingKeyRotated")
def _key_rotated(event: ChainEvent) -> None:
    LineOwnership.objects.filter(chain_id=event.chain_id, owner=event.args["owner"]).update(key=event.args["newKey"])


@projections.on("PackageRegistry", "BatchAnchored")
def _batch(event: ChainEvent) -> None:
    RegistryBatch.objects.update_or_create(
        chain_id=event.chain_id,
        batch_id=int(event.args["batchId"]),
        defaults={
            "root": event.args["root"],
            "size": int(event.args["size"]),
            "tx_hash": event.tx_hash,
            "block_number": event.block_number,
        },
    )


@projections.on_batch("LicenseManager", "OfferCreated")
def _offers(events: list[ChainEvent]) -> None:
    upsert_many(LicenceOffer, ("chain_id", "offer_id"), [_offer(event) for event in events])


def _offer(event: ChainEvent) -> dict[str, Any]:
    a = event.args
    return {
        "chain_id": event.chain_id,
        "offer_id": int(a["offerId"]),
        "digest": str(a["digest"]).lower(),
        "name_hash": str(a["nameHash"]).lower(),
        "provider": a["provider"],
        "kind": int(a["kind"]),
        "price": str(a["price"]),
        "token": a["token"],
        "duration": int(a["duration"]),
        "seats": int(a["seats"]),
        "terms_hash": a["termsHash"],
        "transferable": bool(a["transferable"]),
        "tx_hash": event.tx_hash,
        "block_number": event.block_number,
    }


@projections.on("LicenseManager", "OfferClosed")
def _offer_closed(event: ChainEvent) -> None:
    LicenceOffer.objects.filter(chain_id=event.chain_id, offer_id=int(event.args["offerId"])).update(closed=True)


@projections.on_batch("LicenseManager", "LicenceIssued")
def _licences(events: list[ChainEvent]) -> None:
    # Every purchase and trial: a run of them costs a few queries, not a few each.
    rows = [_licence(event) for event in events]
    _number(rows)
    upsert_many(AcquiredLicence, ("chain_id", "licence_id"), rows)


def _number(rows: list[dict[str, Any]]) -> None:
    """Give each issued licence its number within its offer: the one it has if the chain issued it before
    (bought again), else the offer's next (LicenceOffer.issued moves on). Pages read the number instead of
    counting the offer's LicenceIssued events."""
    held = {
        (lic.chain_id, lic.licence_id): lic.number
        for lic in AcquiredLicence.objects.filter(
            chain_id__in={r["chain_id"] for r in rows}, licence_id__in=[r["licence_id"] for r in rows]
        ).only("chain_id", "licence_id", "number")
    }
    offers = {
        (o.chain_id, o.offer_id): o
        for o in LicenceOffer.objects.filter(
            chain_id__in={r["chain_id"] for r in rows}, offer_id__in={r["offer_id"] for r in rows}
        ).only("chain_id", "offer_id", "issued")
    }
    moved: set[tuple[int, int]] = set()
    for row in rows:
        key = (row["chain_id"], row["licence_id"])
        offer = offers.get((row["chain_id"], row["offer_id"]))
        if held.get(key) or offer is None:  # an offer is created before its licences; 0 if it was not indexed
            row["number"] = held.get(key, 0)
            continue
        offer.issued += 1
        row["number"] = held[key] = offer.issued
        moved.add((offer.chain_id, offer.offer_id))
    for chain_id, offer_id in moved:
        issued = offers[(chain_id, offer_id)].issued
        LicenceOffer.objects.filter(chain_id=chain_id, offer_id=offer_id).update(issued=issued)


def _licence(event: ChainEvent) -> dict[str, Any]:
    a = event.args
    return {
        "chain_id": event.chain_id,
        "licence_id": int(a["licenceId"]),
        "offer_id": int(a["offerId"]),
        "licensee": a["licensee"],
        "expires_at": int(a["expiresAt"]),
        "agreement_hash": a["agreementHash"],
        "tx_hash": event.tx_hash,
        "block_number": event.block_number,
    }


@projections.on("LicenseManager", "LicenceRenewed")
def _renewed(event: ChainEvent) -> None:
    AcquiredLicence.objects.filter(chain_id=event.chain_id, licence_id=int(event.args["licenceId"])).update(
        expires_at=int(event.args["expiresAt"]), agreement_hash=event.args["agreementHash"]
    )


@projections.on("LicenseManager", "LicenceTransferred")
def _transferred(event: ChainEvent) -> None:
    # The licence continues under the recipient's id (LicenseManager.licenceIdOf); the sender's id is
    # left with status Transferred on chain, and holds nothing here.
    a = event.args
    held = AcquiredLicence.objects.filter(chain_id=event.chain_id, licence_id=int(a["licenceId"]))
    before = held.first()
    AcquiredLicence.objects.update_or_create(
        chain_id=event.chain_id,
        licence_id=int(a["toLicenceId"]),
        defaults={
            "offer_id": int(a["offerId"]),
            "licensee": a["to"],
            "expires_at": int(a["expiresAt"]),
            "agreement_hash": before.agreement_hash if before is not None else "",
            "number": before.number if before is not None else 0,  # the same licence, another holder
            "tx_hash": event.tx_hash,
            "block_number": event.block_number,
        },
    )
    held.delete()


@projections.on("ProvenanceAnchor", "RangeAnchored")
def _provenance(event: ChainEvent) -> None:
    a = event.args
    ProvenanceRange.objects.update_or_create(
        chain_id=event.chain_id,
        anchor_id=int(a["anchorId"]),
        defaults={
            "from_seq": int(a["fromSeq"]),
            "to_seq": int(a["toSeq"]),
            "root": a["root"],
            "tx_hash": event.tx_hash,
            "block_number": event.block_number,
        },
    )


def _reset() -> None:
    for model in (PackageAnchor, LineOwnership, RegistryBatch, LicenceOffer, AcquiredLicence, ProvenanceRange):
        model.objects.all().delete()


projections.resets.append(_reset)
