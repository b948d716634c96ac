"""What the indexer derives from our contracts' events. Each handler folds one event into the
derived records; `projections.rebuild` replays all events after a reorg."""

from __future__ import annotations

from ledger.indexer import Projections
from ledger.models import ChainEvent, PackageAnchor, RegistryBatch

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


def _reset() -> None:
    PackageAnchor.objects.all().delete()
    RegistryBatch.objects.all().delete()


projections.resets.append(_reset)
