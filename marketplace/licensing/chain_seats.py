"""This node's seats on chain, per licence, kept in line with its instances.

Each instance records the seats this node holds on chain for its live units (`chain_seats`, counted
before the opening is sent, so an opening in flight is never mistaken for a lost seat) and the seats of
its ended units still to close (`seats_to_close`). Opening and settling a licence's seats happen under its
lock (seats.licence_seats_locked). Settling reads what the chain holds for this node now and
- closes the seats of ended units that the chain still holds;
- when the chain holds fewer seats than the live units need (the licensee closed them, or the licence
  moved), takes the missing seats from the newest instances and flags them with the reason; the worker
  stops them (instances.instances_stop_unseated).
It reads the chain's state, not its events, so replaying events after a reorganisation changes nothing.
"""

from __future__ import annotations

from django.db.models import F, Sum

from ledger.exceptions import LedgerError
from marketplace.contract_manager.provenance import provenance_append
from marketplace.errors import ConflictError
from marketplace.licensing.models import InstanceState, NsInstance
from marketplace.licensing.seats import (
    SeatAuthorisation,
    licence_seats_locked,
    seats_close,
    seats_held_on_chain,
    seats_open,
)

LIVE = (InstanceState.INSTANTIATING, InstanceState.RUNNING, InstanceState.TERMINATING)


def seats_open_for(
    instance_pk: object,
    *,
    chain_id: int,
    licence_id: int,
    licensee: str,
    count: int,
    authorisation: SeatAuthorisation | None,
) -> None:
    """Open `count` seats on chain for an instance, under the licence's lock. They are counted on the
    instance first; a refusal takes them back and is raised; when the chain's answer is unknown (a
    LedgerError: down, or no receipt), they become seats to close, which settling closes if the opening was
    mined after all."""
    with licence_seats_locked(chain_id=chain_id, licence_id=licence_id):
        row = NsInstance.objects.filter(pk=instance_pk)
        row.update(chain_seats=F("chain_seats") + count)
        try:
            seats_open(licence_id=licence_id, licensee=licensee, count=count, authorisation=authorisation)
        except LedgerError:
            row.update(chain_seats=F("chain_seats") - count, seats_to_close=F("seats_to_close") + count)
            raise
        except BaseException:
            row.update(chain_seats=F("chain_seats") - count)
            raise


def seats_give_back(instance_pk: object, count: int) -> int:
    """Turn up to `count` of an instance's live chain seats into seats to close (its units ended);
    returns how many."""
    held = NsInstance.objects.filter(pk=instance_pk).values_list("chain_seats", flat=True).first() or 0
    count = min(count, held)
    if count <= 0:
        return 0
    moved = NsInstance.objects.filter(pk=instance_pk, chain_seats__gte=count).update(
        chain_seats=F("chain_seats") - count, seats_to_close=F("seats_to_close") + count
    )
    return count if moved else 0


def seats_settle(*, chain_id: int, licence_id: int) -> None:
    """Bring this node's chain seats of a licence in line with its instances (see the module's text).
    Raises LedgerError when the chain cannot be read, ConflictError when the lock stays busy."""
    with licence_seats_locked(chain_id=chain_id, licence_id=licence_id):
        held = seats_held_on_chain(licence_id=licence_id)
        rows = NsInstance.objects.filter(chain_id=chain_id, licence_id=licence_id)
        need = rows.aggregate(n=Sum("chain_seats"))["n"] or 0
        pending = rows.aggregate(n=Sum("seats_to_close"))["n"] or 0
        closable = min(pending, max(0, held - need))
        if closable and not seats_close(licence_id=licence_id, count=closable):
            return  # the chain could not take it now: settled again later
        if pending:
            # Those not closed were not held any more (the licensee closed them): nothing is left to close.
            rows.filter(seats_to_close__gt=0).update(seats_to_close=0)
        lost = need - (held - closable)
        if lost > 0:
            _take_lost(rows, lost, licence_id)


def _take_lost(rows: object, lost: int, licence_id: int) -> None:
    notice = (
        f"the chain holds no seat of licence #{licence_id} for this instance any more (the licensee closed "
        "it, or the licence moved): the marketplace stops it"
    )
    live = rows.filter(state__in=LIVE, chain_seats__gt=0).order_by("-created_at")  # type: ignore[attr-defined]
    for instance in live:
        if lost <= 0:
            break
        take = min(lost, instance.chain_seats)
        lost -= take
        NsInstance.objects.filter(pk=instance.pk).update(chain_seats=F("chain_seats") - take, licence_notice=notice)
        if not instance.licence_notice:
            provenance_append(
                kind="licence-notice",
                actor="operator",
                subject=f"instance:{instance.pk}",
                payload={"licence_id": licence_id, "notice": notice, "seats_lost": take},
            )


def seats_settle_quietly(*, chain_id: int, licence_id: int) -> bool:
    """seats_settle, or False when it cannot be done now (the worker settles it later)."""
    try:
        seats_settle(chain_id=chain_id, licence_id=licence_id)
    except (LedgerError, ConflictError):
        return False
    return True


def seats_settle_due(limit: int = 50) -> int:
    """Settle the licences with seats still to close (a worker tick); returns how many were settled."""
    due = (
        NsInstance.objects.filter(seats_to_close__gt=0, licence_id__isnull=False)
        .values_list("chain_id", "licence_id")
        .order_by("updated_at")[: limit * 10]
    )
    settled = 0
    for chain_id, licence_id in list(dict.fromkeys(due))[:limit]:
        settled += seats_settle_quietly(chain_id=int(chain_id), licence_id=int(licence_id or 0))
    return settled
