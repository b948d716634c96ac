"""Network-service instances: instantiate under a licence, scale, verify the deployed packages'
integrity, terminate, and flag instances whose licence expired.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db.models import F

from config import steps
from config.faults import fault_point
from ledger.client import get_chain_client
from ledger.exceptions import LedgerError
from ledger.models import AcquiredLicence
from ledger.registry import PackageRegistry, PackageStatus
from marketplace.contract_manager.decisions import (
    Decision,
    LicenceDenied,
    licence_decide,
    scale_decide,
    scaling_target,
    seats_taken,
)
from marketplace.contract_manager.provenance import provenance_append
from marketplace.errors import ConflictError, PermissionDeniedError, ValidationFailed
from marketplace.licensing.chain_seats import seats_give_back, seats_open_for, seats_settle_quietly
from marketplace.licensing.models import InstanceState, NsInstance
from marketplace.licensing.seats import (
    SeatAuthorisation,
    SeatAuthorisationRequired,
    SeatsRefused,
    seat_key_of,
    seat_opening_prepare,
    seat_release,
    seat_take,
)
from marketplace.repository import blobs
from marketplace.repository.models import NetworkService, Package, Vnf


def _integrity(package: Package) -> str | None:
    """Why `package` must not be onboarded (not registered, revoked, or stored bytes differ), or None."""
    try:
        record = (
            PackageRegistry.deployed(get_chain_client()).registration_of("0x" + package.digest, package.line_hash)
            if package.line_hash
            else None
        )
    except LedgerError as exc:
        return f"the registry cannot be read: {exc}"
    if record is None:
        return "the package is not registered on chain under its own line"
    if record.status == PackageStatus.REVOKED:
        return "the line owner's key revoked the package on chain"
    if not blobs.blob_exists(package.digest):
        return "the package's archive is missing from the store"
    return None


def driver() -> Any:
    from marketplace.licensing.orchestrators import OsmDriver, TrackingDriver

    if settings.OSM_NBI_URL:
        return OsmDriver(
            settings.OSM_NBI_URL, settings.OSM_USERNAME, settings.OSM_PASSWORD, project=settings.OSM_PROJECT
        )
    return TrackingDriver()


def instance_create(
    *, ns: NetworkService, user: str, region: str | None = None, seat_opening: SeatAuthorisation | None = None
) -> NsInstance:
    """Decide, reserve a seat here, open it on chain under the licensee's signed `seat_opening`, check the
    package against the chain, then ask the orchestrator. Under a licence with seats, no `seat_opening`
    raises SeatAuthorisationRequired with the opening to sign; a seat the chain refuses raises LicenceDenied
    and nothing is asked of the orchestrator."""
    decision = licence_decide(ns=ns, user=user, region=region)
    if decision.permit and decision.licence_id is not None and decision.seats and seat_opening is None:
        # Asking for the licensee's signature is a step of the protocol, not a usage: nothing is logged.
        raise SeatAuthorisationRequired(
            seat_opening_prepare(licence_id=decision.licence_id, count=1), decision.licence_id, 1
        )
    provenance_append(kind="decision", actor=user, subject=f"ns:{ns.pk}", payload=decision.as_dict())
    if not decision.permit:
        raise LicenceDenied(decision)
    chain_id = get_chain_client().chain_id()
    held = (
        AcquiredLicence.objects.filter(chain_id=chain_id, licence_id=decision.licence_id).first()
        if decision.licence_id is not None
        else None
    )
    seat_key = seat_key_of(chain_id, held)
    if seat_key and decision.seats and not seat_take(seat_key, decision.seats):
        denied = Decision(
            False,
            seats_taken(decision.seats, decision.seats, decision.licence_id),
            offer_id=decision.offer_id,
            licence_id=decision.licence_id,
            kind=decision.kind,
            seats=decision.seats,
            in_use=decision.seats,
        )
        provenance_append(kind="decision", actor=user, subject=f"ns:{ns.pk}", payload=denied.as_dict())
        raise LicenceDenied(denied)
    orchestrator = driver()
    instance = NsInstance.objects.create(
        ns=ns,
        owner=user,
        chain_id=chain_id,
        offer_id=int(decision.offer_id or 0),
        licence_id=decision.licence_id,
        licence_number=int(held.number) if held is not None else 0,
        seat_key=seat_key,
        driver=orchestrator.name,
        deploys=orchestrator.deploys,
        handled_by=steps.current(),
    )
    if seat_key and decision.seats and held is not None:
        _open_first_seat(instance, decision, seat_opening)
    fault_point("instantiate:seat-opened")
    problem = _integrity(ns.package)
    if problem is None:
        try:
            _deploy(instance, ns, orchestrator)
        except Exception as exc:
            problem = f"the orchestrator failed: {exc}"
    if problem is not None:
        instance.error = problem
        _ended(instance, InstanceState.FAILED)
    provenance_append(
        kind="instantiate",
        actor=user,
        subject=f"instance:{instance.pk}",
        payload={
            "ns": str(ns.pk),
            "state": instance.state,
            "error": instance.error,
            "licence_id": decision.licence_id,
            "offer_id": decision.offer_id,
        },
    )
    return instance


def _open_first_seat(instance: NsInstance, decision: Decision, seat_opening: SeatAuthorisation | None) -> None:
    """Open the new instance's seat on chain. Refused (by the chain, or an opening that does not fit):
    the instance is removed and its seat here released, nothing half-stored. The chain's answer unknown:
    the instance failed, and its seat is closed once the chain answers if it was opened."""
    subject = f"ns:{instance.ns.pk}"
    try:
        seats_open_for(
            instance.pk,
            chain_id=instance.chain_id,
            licence_id=int(instance.licence_id or 0),
            licensee=instance.owner,
            count=1,
            authorisation=seat_opening,
        )
    except LedgerError as exc:
        seat_release(instance.seat_key)
        NsInstance.objects.filter(pk=instance.pk).update(
            state=InstanceState.FAILED, error=f"the chain did not confirm the seat: {exc}"
        )
        raise
    except SeatsRefused as exc:
        instance.delete()
        seat_release(instance.seat_key)
        _refused_on_chain(decision, instance.owner, subject, str(exc))
    except BaseException:
        instance.delete()
        seat_release(instance.seat_key)
        raise
    instance.refresh_from_db(fields=["chain_seats"])


def _ended(instance: NsInstance, state: str) -> None:
    """`instance` ended (terminated, or failed): its seats here are released and its chain seats closed
    (now, or by the worker when the chain cannot take it now)."""
    NsInstance.objects.filter(pk=instance.pk).update(
        state=state,
        error=instance.error,
        seats_to_close=F("seats_to_close") + F("chain_seats"),
        chain_seats=0,
    )
    instance.refresh_from_db()
    if instance.seat_key:
        seat_release(instance.seat_key, max(instance.units, 1))
    if instance.seats_to_close and instance.licence_id is not None:
        seats_settle_quietly(chain_id=instance.chain_id, licence_id=int(instance.licence_id))
        instance.refresh_from_db(fields=["seats_to_close"])


def seat_opening_for(
    *, user: str, ns: NetworkService | None = None, instance: NsInstance | None = None, units: int = 0
) -> dict[str, Any] | None:
    """The SeatOpening `user` signs before instantiating `ns` (one seat), or before scaling `instance` out to
    `units`; None when no seat is opened on chain (a public offer, no licence held yet, scaling in)."""
    if instance is not None:
        if user != instance.owner:
            raise PermissionDeniedError(f"only {instance.owner} may scale instance {instance.pk}")
        count = units - instance.units
        if count <= 0 or instance.licence_id is None or not instance.seat_key:
            return None
        return seat_opening_prepare(licence_id=int(instance.licence_id), count=count)
    if ns is None:
        raise ValidationFailed({"ns_id": "name the network service to instantiate"})
    decision = licence_decide(ns=ns, user=user)
    if not decision.permit or decision.licence_id is None or not decision.seats:
        return None
    return seat_opening_prepare(licence_id=decision.licence_id, count=1)


def _refused_on_chain(decision: Decision, actor: str, subject: str, reason: str, action: str = "instantiate") -> None:
    """Log and raise the chain's refusal of a seat as the decision's denial."""
    denied = Decision(
        False,
        reason,
        offer_id=decision.offer_id,
        licence_id=decision.licence_id,
        kind=decision.kind,
        seats=decision.seats,
        action=action,
    )
    provenance_append(kind="decision", actor=actor, subject=subject, payload=denied.as_dict())
    raise LicenceDenied(denied)


def _deploy(instance: NsInstance, ns: NetworkService, orchestrator: Any) -> None:
    from pathlib import Path
    from tempfile import TemporaryDirectory

    with TemporaryDirectory(prefix="nfvm-onboard-") as tmp:
        checksums: list[tuple[Package, tuple[str, str] | None]] = []
        for vnf in Vnf.objects.filter(pk__in=ns.vnf_ids).select_related("package"):
            archive = _export(vnf.package, Path(tmp))
            onboarded = orchestrator.onboard_vnf_package(archive=archive, content_type=_content_type(vnf.package))
            checksums.append((vnf.package, orchestrator.vnf_package_checksum(onboarded.id) or onboarded.checksum))
        nsd = orchestrator.onboard_nsd(archive=_export(ns.package, Path(tmp)), content_type=_content_type(ns.package))
        vim = settings.OSM_VIM_ACCOUNT
        ns_id = orchestrator.create_ns(
            nsd_id=nsd.id, name=f"{ns.name}-{instance.pk}", description=str(ns), vim_account=vim
        )
        # Kept at once: a step interrupted from here on is undone at the orchestrator, not left running there.
        instance.orchestrator_id = ns_id
        NsInstance.objects.filter(pk=instance.pk).update(orchestrator_id=ns_id)
        operation = orchestrator.wait(orchestrator.instantiate_ns(ns_id, nsd_id=nsd.id, vim_account=vim).id)
        fault_point("instantiate:orchestrated")
    instance.integrity, instance.integrity_detail = _integrity_verdict(checksums)
    instance.state = InstanceState.RUNNING if operation.state == "COMPLETED" else InstanceState.FAILED
    if instance.state == InstanceState.FAILED:
        raise RuntimeError(f"instantiation ended {operation.state}")
    instance.save(update_fields=["state", "orchestrator_id", "integrity", "integrity_detail", "updated_at"])


def _integrity_verdict(checksums: list[tuple[Package, tuple[str, str] | None]]) -> tuple[str, str]:
    """(integrity, detail) from the checksum the orchestrator holds for each package (None: it reports none),
    compared with the package's anchored digest."""
    mismatched = [p for p, c in checksums if c is not None and c[1].lower().removeprefix("0x") not in (p.digest,)]
    unknown = [p for p, c in checksums if c is None]
    if mismatched:
        return "mismatch", "the orchestrator holds other bytes than the anchored digest for: " + ", ".join(
            str(p) for p in mismatched
        )
    if unknown:
        return "unknown", "the orchestrator reports no SHA-256 checksum for: " + ", ".join(str(p) for p in unknown)
    return "verified", "the orchestrator's checksums equal the anchored digests"


def _blob_checksum(package: Package) -> tuple[str, str]:
    """The SHA-256 of the archive stored for `package`, as the tracking driver reports what it was given."""
    hasher = hashlib.sha256()
    with blobs.blob_open(package.digest) as blob:
        while chunk := blob.read(1024 * 1024):
            hasher.update(chunk)
    return "SHA-256", hasher.hexdigest()


def _held_checksums(instance: NsInstance, packages: list[Package]) -> list[tuple[Package, tuple[str, str] | None]]:
    """What the orchestrator of `instance` holds for each VNF package now. The tracking driver keeps nothing
    between requests, so the bytes it would be given, the stored archives, are hashed again; an orchestrator
    that deploys is asked for the SOL005 checksums of the packages its NS instance uses."""
    if not instance.deploys:
        return [(p, _blob_checksum(p)) for p in packages]
    orchestrator = driver()
    if orchestrator.name != instance.driver or not instance.orchestrator_id:
        return [(p, None) for p in packages]
    held = {c[1].lower().removeprefix("0x") for c in orchestrator.ns_package_checksums(instance.orchestrator_id)}
    # A package whose digest the orchestrator holds is verified. Checksums that equal no package's digest are
    # other bytes held in its place; a package is unknown when the orchestrator names nothing in its place.
    strangers = sorted(held - {p.digest for p in packages})
    return [
        (p, ("SHA-256", p.digest) if p.digest in held else ("SHA-256", strangers[0]) if strangers else None)
        for p in packages
    ]


def instance_readable(*, instance: NsInstance, actor: str) -> NsInstance:
    """`instance` for its owner; PermissionDeniedError for anyone else (who holds it is not public)."""
    if actor != instance.owner:
        raise PermissionDeniedError(f"only the owner of instance {instance.pk} may read it")
    return instance


def instance_verify(*, instance: NsInstance, actor: str) -> NsInstance:
    """Recheck, on demand, the packages of `instance` as at deploy: each must still be registered and not
    revoked on chain (_integrity), and the orchestrator must hold the anchored bytes (_integrity_verdict).
    Updates instance.integrity and logs the result. Raises PermissionDeniedError for anyone but the owner."""
    from marketplace.licensing.orchestrators import OrchestratorError

    subject = f"instance:{instance.pk}"
    if actor != instance.owner:
        denied = Decision(False, f"only {instance.owner} may verify instance {instance.pk}", action="verify")
        provenance_append(kind="decision", actor=actor, subject=subject, payload=denied.as_dict())
        raise PermissionDeniedError(denied.reason)
    vnfs = Vnf.objects.filter(pk__in=instance.ns.vnf_ids).select_related("package")
    packages = list({vnf.package.pk: vnf.package for vnf in vnfs}.values())
    problems = [(p, why) for p in [*packages, instance.ns.package] if (why := _integrity(p)) is not None]
    unreadable = [p for p, why in problems if why.startswith("the registry cannot be read")]
    if problems:
        integrity = "unknown" if len(unreadable) == len(problems) else "mismatch"
        detail = "; ".join(f"{p}: {why}" for p, why in problems)
    else:
        try:
            integrity, detail = _integrity_verdict(_held_checksums(instance, [*packages, instance.ns.package]))
        except OrchestratorError as exc:
            integrity, detail = "unknown", f"the orchestrator cannot be asked: {exc}"
    previous = instance.integrity
    instance.integrity, instance.integrity_detail = integrity, detail
    instance.save(update_fields=["integrity", "integrity_detail", "updated_at"])
    provenance_append(
        kind="verify",
        actor=actor,
        subject=subject,
        payload={"ns": str(instance.ns.pk), "integrity": integrity, "previous": previous, "detail": detail},
    )
    return instance


def _export(package: Package, folder: Any) -> Any:
    path = folder / f"{package.digest}.pkg"
    with blobs.blob_open(package.digest) as blob, path.open("wb") as out:
        while chunk := blob.read(1024 * 1024):
            out.write(chunk)
    return path


def _content_type(package: Package) -> str:
    return "application/gzip" if package.format == "osm" else "application/zip"


def instance_terminate(*, instance: NsInstance, actor: str) -> NsInstance:
    """Terminate `instance` (its owner only): at the orchestrator, then its seats are released here and
    closed on chain. Only one terminate of an instance goes ahead; a failed one leaves it running."""
    subject = f"instance:{instance.pk}"
    if actor != instance.owner:
        denied = Decision(False, f"only {instance.owner} may terminate instance {instance.pk}", action="terminate")
        provenance_append(kind="decision", actor=actor, subject=subject, payload=denied.as_dict())
        raise PermissionDeniedError(denied.reason)
    permitted = Decision(True, "the instance's owner may always terminate it", action="terminate")
    if _stop(instance, actor=actor, decision=permitted):
        provenance_append(kind="terminate", actor=actor, subject=subject, payload={"ns": str(instance.ns.pk)})
    return instance


def _stop(instance: NsInstance, *, actor: str, decision: Decision) -> bool:
    """Terminate at the orchestrator and end the instance; False when it was not running (or another
    request is stopping it)."""
    live = [InstanceState.RUNNING, InstanceState.INSTANTIATING]
    stopping = NsInstance.objects.filter(pk=instance.pk, state__in=live)
    if not stopping.update(state=InstanceState.TERMINATING, handled_by=steps.current()):
        instance.refresh_from_db()
        return False
    provenance_append(kind="decision", actor=actor, subject=f"instance:{instance.pk}", payload=decision.as_dict())
    instance.refresh_from_db()
    if instance.orchestrator_id:
        from marketplace.licensing.orchestrators import OrchestratorError

        orchestrator = driver()
        try:
            finished = orchestrator.wait(orchestrator.terminate_ns(instance.orchestrator_id).id)
            if finished.state != "COMPLETED":
                raise OrchestratorError(f"termination ended {finished.state}")
            fault_point("terminate:orchestrated")
        except Exception as exc:
            NsInstance.objects.filter(pk=instance.pk).update(
                state=InstanceState.RUNNING, error=f"terminating failed, try again: {exc}"
            )
            instance.refresh_from_db()
            raise
    _ended(instance, InstanceState.TERMINATED)
    return True


def instances_stop_unseated(limit: int = 20) -> int:
    """Stop the running instances the chain no longer holds seats for (chain_seats.seats_settle flagged
    them: the licensee closed their seats, or the licence moved); a worker tick. Returns how many."""
    from marketplace.licensing.orchestrators import OrchestratorError

    stopped = 0
    flagged = NsInstance.objects.filter(state=InstanceState.RUNNING).exclude(licence_notice="").order_by("updated_at")
    for instance in flagged[: limit * 5]:
        if stopped >= limit:
            break
        if instance.chain_seats >= max(instance.units, 1):
            continue
        decision = Decision(False, instance.licence_notice, licence_id=instance.licence_id, action="terminate")
        try:
            ended = _stop(instance, actor="operator", decision=decision)
        except (OrchestratorError, LedgerError):
            continue  # left running, with the error; tried again at the next tick
        if ended:
            provenance_append(
                kind="terminate",
                actor="operator",
                subject=f"instance:{instance.pk}",
                payload={"ns": str(instance.ns.pk), "reason": instance.licence_notice},
            )
            stopped += 1
    return stopped


INTERRUPTED = "the server stopped while starting this instance; nothing of it runs and its seat is free: start it again"


def instances_recover_interrupted(limit: int = 20) -> int:
    """End the steps whose process is gone (config.steps): an instance left instantiating is undone at the
    orchestrator and failed with the reason, so its owner sees it and starts it again; one left terminating
    is terminated. Either way its seats are released here and closed on chain. A worker tick; returns how
    many it ended. A step whose orchestrator call fails now is left for the next tick."""
    from marketplace.licensing.orchestrators import OrchestratorError

    ended = 0
    transitional = [InstanceState.INSTANTIATING, InstanceState.TERMINATING]
    for instance in NsInstance.objects.filter(state__in=transitional).order_by("updated_at")[: limit * 5]:
        if ended >= limit or not steps.gone(instance.handled_by):
            continue
        # Taken over by this process, or by none if another worker took it first.
        if not NsInstance.objects.filter(pk=instance.pk, state=instance.state, handled_by=instance.handled_by).update(
            handled_by=steps.current()
        ):
            continue
        instance.refresh_from_db()
        subject = f"instance:{instance.pk}"
        try:
            if instance.orchestrator_id:
                _undo_at_orchestrator(instance.orchestrator_id)
        except (OrchestratorError, LedgerError) as exc:
            NsInstance.objects.filter(pk=instance.pk).update(handled_by="", error=f"recovering: {exc}")
            continue
        if instance.state == InstanceState.INSTANTIATING:
            instance.error = INTERRUPTED
            _ended(instance, InstanceState.FAILED)
            payload = {"ns": str(instance.ns.pk), "state": instance.state, "error": instance.error}
            provenance_append(kind="instantiate", actor=instance.owner, subject=subject, payload=payload)
        else:
            instance.error = ""
            _ended(instance, InstanceState.TERMINATED)
            payload = {"ns": str(instance.ns.pk)}
            provenance_append(kind="terminate", actor=instance.owner, subject=subject, payload=payload)
        ended += 1
    return ended


def _undo_at_orchestrator(ns_id: str) -> None:
    """Make sure nothing of `ns_id` runs at the orchestrator: terminated if it was instantiated; an operation
    still under way there raises OrchestratorError (tried again at the next tick)."""
    from marketplace.licensing.orchestrators import OrchestratorError

    orchestrator = driver()
    state = orchestrator.ns_state(ns_id)
    if state in (None, "NOT_INSTANTIATED"):
        return
    if state != "INSTANTIATED":
        raise OrchestratorError(f"the orchestrator's NS instance {ns_id} is {state}", call="recover")
    finished = orchestrator.wait(orchestrator.terminate_ns(ns_id).id)
    if finished.state != "COMPLETED":
        raise OrchestratorError(f"terminating NS instance {ns_id} ended {finished.state}", call="recover")


def instances_flag_expired() -> int:
    """Mark running instances whose licence has ended (they keep running; new ones are denied)."""
    client = get_chain_client()
    now = client.now()
    flagged = 0
    for instance in NsInstance.objects.filter(
        state=InstanceState.RUNNING, licence_expired=False, licence_id__isnull=False
    ):
        licence = AcquiredLicence.objects.filter(
            chain_id=instance.chain_id, licence_id=int(instance.licence_id or 0)
        ).first()
        if licence is not None and licence.expires_at and licence.expires_at <= now:
            instance.licence_expired = True
            instance.save(update_fields=["licence_expired", "updated_at"])
            provenance_append(
                kind="licence-expired",
                actor="operator",
                subject=f"instance:{instance.pk}",
                payload={"licence_id": licence.licence_id, "expired_at": licence.expires_at},
            )
            flagged += 1
    return flagged


def instance_scale(
    *,
    instance: NsInstance,
    actor: str,
    change: int | None = None,
    target: int | None = None,
    seat_opening: SeatAuthorisation | None = None,
) -> NsInstance:
    """Scale `instance` by `change` units, or to `target` units: decided against the licence's seats (scaling
    out takes the extra seats in one atomic update here, then opens them on chain under the licensee's signed
    `seat_opening`; scaling in releases them), then done by the orchestrator one scaling step per unit.
    Raises LicenceDenied, PermissionDeniedError, ConflictError, ValidationFailed, SeatAuthorisationRequired."""
    from marketplace.licensing.orchestrators import OrchestratorError

    subject = f"instance:{instance.pk}"
    if actor != instance.owner:
        denied = Decision(False, f"only {instance.owner} may scale instance {instance.pk}", action="scale")
        provenance_append(kind="decision", actor=actor, subject=subject, payload=denied.as_dict())
        raise PermissionDeniedError(denied.reason)
    if (change is None) == (target is None):
        raise ValidationFailed({"instances": 'give a change ("+N" or "-N") or a target number of units'})
    instance.refresh_from_db(fields=["units", "state"])
    if instance.state != InstanceState.RUNNING:
        raise ConflictError(f"instance {instance.pk} is {instance.state}: only a running instance scales")
    if target is not None:
        change = target - instance.units
    assert change is not None
    if change == 0:
        raise ValidationFailed({"instances": f"instance {instance.pk} already runs {instance.units} units"})
    if instance.units + change < 1:
        raise ValidationFailed(
            {
                "instances": f"instance {instance.pk} runs {instance.units} units: at least 1 stays "
                "(terminate it to stop)"
            }
        )
    orchestrator = driver()
    scaling = scaling_target(instance.ns)
    if orchestrator.deploys and scaling is None:
        raise ConflictError(
            f"{instance.ns} defines no scaling aspect (VNFD df scaling-aspect), so {orchestrator.name} cannot scale it"
        )
    decision = scale_decide(instance=instance, change=change)
    opens = change > 0 and bool(instance.seat_key and decision.seats and instance.licence_id is not None)
    if decision.permit and opens and seat_opening is None:
        licence_id = int(instance.licence_id or 0)
        raise SeatAuthorisationRequired(seat_opening_prepare(licence_id=licence_id, count=change), licence_id, change)
    provenance_append(kind="decision", actor=actor, subject=subject, payload={**decision.as_dict(), "change": change})
    if not decision.permit:
        raise LicenceDenied(decision)
    steps = abs(change)
    if change > 0:
        if instance.seat_key and decision.seats and not seat_take(instance.seat_key, decision.seats, steps):
            denied = Decision(
                False,
                f"{seats_taken(decision.seats, decision.seats, decision.licence_id)}: "
                f"no {steps} more seat{'s' if steps > 1 else ''} free",
                offer_id=decision.offer_id,
                licence_id=decision.licence_id,
                kind=decision.kind,
                seats=decision.seats,
                in_use=decision.seats,
                action="scale",
            )
            provenance_append(
                kind="decision", actor=actor, subject=subject, payload={**denied.as_dict(), "change": change}
            )
            raise LicenceDenied(denied)
        if opens:
            try:
                seats_open_for(
                    instance.pk,
                    chain_id=instance.chain_id,
                    licence_id=int(instance.licence_id or 0),
                    licensee=actor,
                    count=steps,
                    authorisation=seat_opening,
                )
            except SeatsRefused as exc:
                seat_release(instance.seat_key, steps)
                _refused_on_chain(decision, actor, subject, str(exc), action="scale")
            except BaseException:
                seat_release(instance.seat_key, steps)
                raise
    else:
        # Units leave first, atomically, so that two concurrent scale-ins cannot both take the last ones.
        if not NsInstance.objects.filter(pk=instance.pk, units__gte=1 + steps).update(units=F("units") - steps):
            raise ConflictError(f"instance {instance.pk} no longer has {steps + 1} units to scale in from")
    aspect, member = scaling or ("", "")
    done, error = 0, ""
    try:
        for _ in range(steps):
            operation = orchestrator.scale_ns(
                instance.orchestrator_id, scale_out=change > 0, aspect=aspect, member_vnf_index=member
            )
            finished = orchestrator.wait(operation.id)
            if finished.state != "COMPLETED":
                error = f"scaling step {done + 1} of {steps} ended {finished.state}"
                break
            done += 1
    except OrchestratorError as exc:
        error = f"the orchestrator failed: {exc}"
    # Units are added only to a still running instance: a terminate that raced this scale released the
    # seats of the units it saw, so the seats of units it did not see are released here.
    running = NsInstance.objects.filter(pk=instance.pk, state=InstanceState.RUNNING)
    if change > 0:
        kept = done if done and running.update(units=F("units") + done) else 0
        free = steps - kept if instance.seat_key and decision.seats else 0
    else:
        undone = steps - done
        restored = undone if undone and running.update(units=F("units") + undone) else 0
        free = steps - restored if instance.seat_key else 0
    if free:
        seat_release(instance.seat_key, free)
        if seats_give_back(instance.pk, free) and instance.licence_id is not None:
            seats_settle_quietly(chain_id=instance.chain_id, licence_id=int(instance.licence_id))
    if error:
        NsInstance.objects.filter(pk=instance.pk).update(error=error)
    instance.refresh_from_db()
    provenance_append(
        kind="scale",
        actor=actor,
        subject=subject,
        payload={
            "ns": str(instance.ns.pk),
            "change": change,
            "done": done * (1 if change > 0 else -1),
            "units": instance.units,
            "aspect": aspect or None,
            "member_vnf_index": member or None,
            "error": error,
            "licence_id": instance.licence_id,
        },
    )
    if error:
        raise ScaleFailed(instance, error)
    return instance


class ScaleFailed(Exception):
    """The orchestrator did not finish every scaling step; `instance` holds the units that did."""

    def __init__(self, instance: NsInstance, message: str) -> None:
        self.instance = instance
        super().__init__(message)
