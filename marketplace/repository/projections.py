"""The repository's view of registry events: a package anchored on chain is published, and its
on-chain status (deprecated, revoked) is the package's. Registered on the indexer's projections."""

from __future__ import annotations

from ledger.models import ChainEvent
from ledger.projections import projections
from marketplace.contract_manager.provenance import provenance_anchor_tick
from marketplace.repository.models import Package, PackageState, RegistrationRequest

ON_CHAIN_STATES = {1: PackageState.PUBLISHED, 2: PackageState.DEPRECATED, 3: PackageState.REVOKED}


def _digest(event: ChainEvent) -> str:
    return str(event.args["digest"]).lower().removeprefix("0x")


@projections.on_batch("PackageRegistry", "PackageRegistered")
def _published(events: list[ChainEvent]) -> None:
    Package.objects.filter(
        digest__in=[_digest(e) for e in events], state__in=[PackageState.UPLOADED, PackageState.VALIDATED]
    ).update(state=PackageState.PUBLISHED)


@projections.on("PackageRegistry", "PackageStatusChanged")
def _status(event: ChainEvent) -> None:
    state = ON_CHAIN_STATES.get(int(event.args["status"]))
    if state is not None:
        Package.objects.filter(digest=_digest(event)).update(state=state)


@projections.on("PackageRegistry", "BatchAnchored")
def _batch_published(event: ChainEvent) -> None:
    requests = RegistrationRequest.objects.filter(chain_id=event.chain_id, batch_id=int(event.args["batchId"]))
    package_ids = [r.package.pk for r in requests.select_related("package")]
    Package.objects.filter(pk__in=package_ids, state__in=[PackageState.UPLOADED, PackageState.VALIDATED]).update(
        state=PackageState.PUBLISHED
    )


@projections.on("LicenseManager", "LicenceTransferred")
def _transferred(event: ChainEvent) -> None:
    from marketplace.licensing.offers import licence_transfer_record

    licence_transfer_record(
        chain_id=event.chain_id,
        licence_id=int(event.args["licenceId"]),
        sender=str(event.args["from"]),
        recipient=str(event.args["to"]),
        tx_hash=event.tx_hash,
        to_licence_id=int(event.args["toLicenceId"]) if "toLicenceId" in event.args else None,
    )


def _anchor_due_batches() -> None:
    from marketplace.repository.registration import registration_batches_due

    registration_batches_due()


projections.ticks.append(_anchor_due_batches)
projections.ticks.append(provenance_anchor_tick)  # anchor the provenance log when its window or batch is due


def _flag_expired_instances() -> None:
    from marketplace.licensing.instances import instances_flag_expired

    instances_flag_expired()


projections.ticks.append(_flag_expired_instances)


def _reset() -> None:
    Package.objects.filter(state=PackageState.PUBLISHED).update(state=PackageState.VALIDATED)


projections.resets.append(_reset)
