"""What the indexer derives from our contracts' events. Each handler folds one event into the
derived records; `projections.rebuild` replays all events after a reorg."""

from __future__ import annotations

from ledger.indexer import Projections
from ledger.models import (
    AcquiredLicence,
    ChainEvent,
    LicenceOffer,
    PackageAnchor,
    ProvenanceRange,
    RegistryBatch,
)

projections = Projections()
STATUS_NAMES = {1: "active", 2: "deprecated", 3: "revoked"}


@projections.on("PackageRegistry", "PackageRegistered")
def _registered(event: ChainEvent) -> None:
    args = event.args
    PackageAnchor.objects.update_or_create(
        chain_id=event.chain_id,
        digest=str(args["digest"]).lower(),
        defaults={
            "registry": event.address,
            "publisher": args["publisher"],
            "name_hash": args["nameHash"],
            "version_number": str(args["version"]),
            "descriptor_digest": args["descriptorDigest"],
            "batch_id": int(args.get("batchId", 0)),
            "status": "active",
            "tx_hash": event.tx_hash,
            "block_number": event.block_number,
        },
    )


@projections.on("PackageRegistry", "PackageStatusChanged")
def _status_changed(event: ChainEvent) -> None:
    PackageAnchor.objects.filter(chain_id=event.chain_id, digest=str(event.args["digest"]).lower()).update(
        status=STATUS_NAMES.get(int(event.args["status"]), "unknown")
    )


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


@projections.on("LicenseManager", "OfferCreated")
def _offer(event: ChainEvent) -> None:
    a = event.args
    LicenceOffer.objects.update_or_create(
        chain_id=event.chain_id,
        offer_id=int(a["offerId"]),
        defaults={
            "digest": str(a["digest"]).lower(),
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
        },
    )


@projections.on("LicenseManager", "OfferClosed")
def _offer_closed(event: ChainEvent) -> None:
    LicenceOffer.objects.filter(chain_id=event.chain_id, offer_id=int(event.args["offerId"])).update(closed=True)


@projections.on("LicenseManager", "LicenceIssued")
def _licence(event: ChainEvent) -> None:
    a = event.args
    AcquiredLicence.objects.update_or_create(
        chain_id=event.chain_id,
        licence_id=int(a["licenceId"]),
        defaults={
            "offer_id": int(a["offerId"]),
            "licensee": a["licensee"],
            "expires_at": int(a["expiresAt"]),
            "agreement_hash": a["agreementHash"],
            "tx_hash": event.tx_hash,
            "block_number": event.block_number,
        },
    )


@projections.on("LicenseManager", "LicenceRenewed")
def _renewed(event: ChainEvent) -> None:
    AcquiredLicence.objects.filter(chain_id=event.chain_id, licence_id=int(event.args["licenceId"])).update(
        expires_at=int(event.args["expiresAt"]), agreement_hash=event.args["agreementHash"]
    )


@projections.on("LicenseManager", "LicenceTransferred")
def _transferred(event: ChainEvent) -> None:
    AcquiredLicence.objects.filter(chain_id=event.chain_id, licence_id=int(event.args["licenceId"])).update(
        licensee=event.args["to"]
    )


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
    for model in (PackageAnchor, RegistryBatch, LicenceOffer, AcquiredLicence, ProvenanceRange):
        model.objects.all().delete()


projections.resets.append(_reset)
