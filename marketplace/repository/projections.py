"""The repository's view of registry events, by the origin rule (repository.origin): a package is
published by a registration of its digest under its own line, and that registration's status
(deprecated, revoked) is the package's. A package is listed once its line is claimed or it is
registered. Registered on the indexer's projections."""

from __future__ import annotations

from ledger.models import ChainEvent
from ledger.projections import projections
from marketplace.contract_manager.provenance import provenance_anchor_tick, provenance_record_event
from marketplace.repository.models import Package, PackageState

ON_CHAIN_STATES = {1: PackageState.PUBLISHED, 2: PackageState.DEPRECATED, 3: PackageState.REVOKED}


def _digest(event: ChainEvent) -> str:
    return str(event.args["digest"]).lower().removeprefix("0x")


def _line(event: ChainEvent) -> str:
    return str(event.args["nameHash"]).lower()


@projections.on_batch("PackageRegistry", "PackageRegistered")
def _published(events: list[ChainEvent]) -> None:
    # Only the registration under the package's own line publishes it; the same bytes under another
    # line match no package here (their line_hash differs).
    for line, digests in _by_line(events).items():
        Package.objects.filter(digest__in=digests, line_hash=line).update(listed=True)
        Package.objects.filter(
            digest__in=digests, line_hash=line, state__in=[PackageState.UPLOADED, PackageState.VALIDATED]
        ).update(state=PackageState.PUBLISHED)


@projections.on_batch("PackageRegistry", "PackageRegistered")
def _log_registrations(events: list[ChainEvent]) -> None:
    """Each registration of a package this node holds goes into the provenance log, once."""
    wanted = {(_digest(e), _line(e)): e for e in events}
    found = Package.objects.filter(digest__in=sorted({d for d, _ in wanted})).only(
        "digest", "line_hash", "name", "version"
    )
    for package in found:
        event = wanted.get((package.digest, package.line_hash))
        if event is None:
            continue
        batch = int(event.args.get("batchId", 0))
        provenance_record_event(
            kind="register",
            actor=str(event.args["publisher"]),
            subject=f"package:{package.pk}",
            payload={
                "digest": "0x" + package.digest,
                "version": str(event.args["version"]),
                "block_number": event.block_number,
                "summary": f"{package.name} {package.version} registered on chain"
                + (f" in batch {batch}" if batch else "")
                + f", block {event.block_number}",
            },
            tx_hash=event.tx_hash,
            log_index=event.log_index,
        )


def _by_line(events: list[ChainEvent]) -> dict[str, list[str]]:
    lines: dict[str, list[str]] = {}
    for event in events:
        lines.setdefault(_line(event), []).append(_digest(event))
    return lines


@projections.on("PackageRegistry", "PackageStatusChanged")
def _status(event: ChainEvent) -> None:
    state = ON_CHAIN_STATES.get(int(event.args["status"]))
    if state is not None:
        Package.objects.filter(digest=_digest(event), line_hash=_line(event)).update(state=state)
        for package in Package.objects.filter(digest=_digest(event), line_hash=_line(event)).only("name", "version"):
            provenance_record_event(
                kind="status",
                actor=str(event.args["publisher"]),
                subject=f"package:{package.pk}",
                payload={"status": str(state), "summary": f"{package.name} {package.version} marked {state} on chain"},
                tx_hash=event.tx_hash,
                log_index=event.log_index,
            )


@projections.on("PackageRegistry", "LineClaimed")
def _line_claimed(event: ChainEvent) -> None:
    # Once a line has an owner nobody can race for it, so its claimant's uploads are shown to everyone.
    # Others' uploads in the line (made while it was unclaimed) can never be registered in it: they stay
    # their uploaders' own.
    Package.objects.filter(line_hash=_line(event), uploader=event.args["claimant"], listed=False).update(listed=True)


@projections.on("LicenseManager", "LicenceTransferred")
def _transferred(event: ChainEvent) -> None:
    from marketplace.licensing.chain_seats import seats_settle_quietly
    from marketplace.licensing.offers import licence_transfer_record

    licence_transfer_record(
        chain_id=event.chain_id,
        licence_id=int(event.args["licenceId"]),
        sender=str(event.args["from"]),
        recipient=str(event.args["to"]),
        tx_hash=event.tx_hash,
        log_index=event.log_index,
        to_licence_id=int(event.args["toLicenceId"]) if "toLicenceId" in event.args else None,
    )
    # LicenseManager refuses a transfer while seats are open; an instance still running here under the
    # licence lost its seat before (the licensee closed it): settling flags it, and the worker stops it.
    seats_settle_quietly(chain_id=event.chain_id, licence_id=int(event.args["licenceId"]))


@projections.on("LicenseManager", "SeatsClosed")
def _seats_closed(event: ChainEvent) -> None:
    # This node closes its own seats when its units end; seats of its instances closed by the licensee
    # leave those instances without a seat on chain: settling flags them, and the worker stops them.
    from ledger.signer import operator_account
    from marketplace.licensing.chain_seats import seats_settle_quietly

    node, closed_by = str(event.args["node"]), str(event.args["closedBy"])
    if node == operator_account().address and closed_by != node:
        seats_settle_quietly(chain_id=event.chain_id, licence_id=int(event.args["licenceId"]))


@projections.on("LicenseManager", "OfferCreated")
def _log_offer(event: ChainEvent) -> None:
    from marketplace.licensing.presenters import offer_terms_text

    offer_id = int(event.args["offerId"])
    provenance_record_event(
        kind="offer-created",
        actor=str(event.args["provider"]),
        subject=f"offer:{offer_id}",
        payload={"offer_id": offer_id, "summary": f"offer #{offer_id} created: {offer_terms_text(event.args)}"},
        tx_hash=event.tx_hash,
        log_index=event.log_index,
    )


@projections.on("LicenseManager", "OfferClosed")
def _log_offer_closed(event: ChainEvent) -> None:
    offer_id = int(event.args["offerId"])
    provenance_record_event(
        kind="offer-closed",
        actor=str(event.args["closedBy"]),
        subject=f"offer:{offer_id}",
        payload={"offer_id": offer_id, "summary": f"offer #{offer_id} closed: no new licences; issued ones stay valid"},
        tx_hash=event.tx_hash,
        log_index=event.log_index,
    )


def _settle_seats() -> None:
    from marketplace.licensing.chain_seats import seats_settle_due
    from marketplace.licensing.instances import instances_recover_interrupted, instances_stop_unseated

    instances_recover_interrupted()  # the steps a killed server left half-way
    seats_settle_due()  # close the seats of ended units the chain could not take before
    instances_stop_unseated()


def _anchor_due_batches() -> None:
    from marketplace.repository.registration import registration_batch_proofs_due, registration_batches_due

    registration_batches_due()
    registration_batch_proofs_due()


def _reveal_due_claims() -> None:
    from marketplace.repository.registration import line_claims_due

    line_claims_due()  # and relays the registrations that waited for their line


projections.ticks.append(_reveal_due_claims)
projections.ticks.append(_anchor_due_batches)
projections.ticks.append(provenance_anchor_tick)  # anchor the provenance log when its window or batch is due


def _flag_expired_instances() -> None:
    from marketplace.licensing.instances import instances_flag_expired

    instances_flag_expired()


projections.ticks.append(_flag_expired_instances)
projections.ticks.append(_settle_seats)


def _reset() -> None:
    Package.objects.filter(state=PackageState.PUBLISHED).update(state=PackageState.VALIDATED)
    Package.objects.filter(listed=True).update(listed=False)


projections.resets.append(_reset)
