"""Seat counters: how many units run under one licence, reserved atomically before an instance starts."""

from __future__ import annotations

from collections import Counter

from django.db import connection

from ledger.models import AcquiredLicence
from marketplace.licensing.models import InstanceState, NsInstance

SEATS = "licence_seats"


def seat_key(chain_id: int, licence: AcquiredLicence) -> str:
    """The seat counter of one licence; the agreement hash keeps it apart from a licence with the
    same id on a chain that was since reset."""
    return f"{chain_id}:{licence.licence_id}:{licence.agreement_hash[2:18]}"


def seat_key_of(chain_id: int, licence: AcquiredLicence | None) -> str:
    return seat_key(chain_id, licence) if licence is not None else ""


LIVE_STATES = (InstanceState.INSTANTIATING, InstanceState.RUNNING, InstanceState.TERMINATING)


def seats_in_use(seat_key: str) -> int:
    """Seats taken under one licence: every unit of every live instance holds one. Read afresh every time,
    as one plain filter (no $and) that the embedded store serves from the (seat_key, state) index."""
    instances = connection.database[NsInstance._meta.db_table]  # type: ignore[attr-defined]
    live = instances.find({"seat_key": seat_key, "state": {"$in": [str(s) for s in LIVE_STATES]}}, {"units": 1})
    return sum(int(doc.get("units") or 0) for doc in live)


def seats_in_use_by_key(keys: list[str]) -> Counter[str]:
    """seats_in_use of many seat counters in one query, for pages that list licences."""
    taken: Counter[str] = Counter()
    live = NsInstance.objects.filter(seat_key__in=keys, state__in=LIVE_STATES)
    for key, units in live.values_list("seat_key", "units"):
        taken[key] += int(units or 0)
    return taken


def seat_take(key: str, seats: int, count: int = 1) -> bool:
    """Take `count` seats of `key` if that leaves at most `seats` taken: one atomic conditional update,
    so concurrent requests can never oversubscribe a licence."""
    counters = connection.database[SEATS]  # type: ignore[attr-defined]
    counters.update_one({"_id": key}, {"$setOnInsert": {"used": 0}}, upsert=True)
    taken = counters.find_one_and_update({"_id": key, "used": {"$lte": seats - count}}, {"$inc": {"used": count}})
    return taken is not None


def seat_release(key: str, count: int = 1) -> None:
    counters = connection.database[SEATS]  # type: ignore[attr-defined]
    if counters.update_one({"_id": key, "used": {"$gte": count}}, {"$inc": {"used": -count}}).modified_count == 0:
        counters.update_one({"_id": key}, {"$set": {"used": 0}})
