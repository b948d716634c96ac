"""Seats: how many units run under one licence.

The chain is the authority: LicenseManager counts each licence's open seats, opened by this node under
the licensee's signed SeatOpening and closed by this node (or the licensee), and refuses more than the
offer holds, a transfer while seats are open and a lapsed licence. This node's database keeps a counter
per licence beside it as the fast path: taken atomically before the chain is asked, so concurrent
requests here never race each other to the chain.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection
from pymongo.errors import DuplicateKeyError

from config import steps
from ledger.client import get_chain_client
from ledger.exceptions import LedgerError, TransactionFailed
from ledger.licensing import LicenseManager, SeatOpening, seat_opening_signed
from ledger.models import AcquiredLicence
from marketplace.errors import ConflictError, ValidationFailed
from marketplace.licensing.models import InstanceState, NsInstance

SEATS = "licence_seats"
LOCKS = "licence_seat_locks"
# How long a licensee's signed seat opening stays usable: long enough to sign in a wallet, short enough
# that a signature left unused does not linger.
SEAT_OPENING_TTL = 15 * 60


def seat_key(chain_id: int, licence: AcquiredLicence) -> str:
    """The seat counter of one licence: its id alone, so that a renewal (a new agreement) keeps the count,
    as LicenseManager's does."""
    return f"{chain_id}:{licence.licence_id}"


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


# Moves each time this process has taken or released seats: a remembered licence status is old then. (next()
# on a shared counter is atomic under threads; it moves after the write, so no answer read before is kept.)
_generations = itertools.count(1)
generation = 0


def seat_take(key: str, seats: int, count: int = 1) -> bool:
    """Take `count` seats of `key` if that leaves at most `seats` taken: one atomic conditional update,
    so concurrent requests can never oversubscribe a licence."""
    counters = connection.database[SEATS]  # type: ignore[attr-defined]
    counters.update_one({"_id": key}, {"$setOnInsert": {"used": 0}}, upsert=True)
    taken = counters.find_one_and_update({"_id": key, "used": {"$lte": seats - count}}, {"$inc": {"used": count}})
    global generation
    generation = next(_generations)
    return taken is not None


def seat_release(key: str, count: int = 1) -> None:
    global generation
    counters = connection.database[SEATS]  # type: ignore[attr-defined]
    if counters.update_one({"_id": key, "used": {"$gte": count}}, {"$inc": {"used": -count}}).modified_count == 0:
        counters.update_one({"_id": key}, {"$set": {"used": 0}})
    generation = next(_generations)


# --- seats on chain


@dataclass(frozen=True)
class SeatAuthorisation:
    """A licensee's signed SeatOpening, as a wallet returns it."""

    typed_data: dict[str, Any]
    signature: str


class SeatAuthorisationRequired(Exception):
    """Seats must be opened on chain and the licensee has not signed their opening yet (HTTP 428):
    `typed_data` is the SeatOpening to sign with eth_signTypedData_v4 and send back."""

    def __init__(self, typed_data: dict[str, Any], licence_id: int, count: int, *, stale: bool = False) -> None:
        self.typed_data = typed_data
        why = "the seat opening you signed was used by another request, so " if stale else ""
        super().__init__(
            f"{why}opening {count} seat{'s' if count > 1 else ''} of licence #{licence_id} needs the licensee's "
            "signature: sign the typed data (eth_signTypedData_v4) and send it back as seat_opening"
        )


class SeatsRefused(Exception):
    """LicenseManager refused to open the seats (no seat free, the licence lapsed or moved)."""


def _node() -> Any:
    from ledger.signer import operator_account

    return operator_account()


def seat_opening_prepare(*, licence_id: int, count: int) -> dict[str, Any]:
    """The SeatOpening the licensee signs to let this node open `count` seats of the licence."""
    client = get_chain_client()
    manager = LicenseManager.deployed(client)
    opening = manager.seat_opening(licence_id, _node().address, count, deadline=client.now() + SEAT_OPENING_TTL)
    return manager.seat_typed_data(opening)


def seats_open(*, licence_id: int, licensee: str, count: int, authorisation: SeatAuthorisation | None) -> None:
    """Open `count` seats of the licence on chain under the licensee's signed opening, relayed by this node.
    Raises SeatAuthorisationRequired without one, or with a fresh one when the signed opening's nonce was
    used meanwhile (another request of the licensee opened seats first); ValidationFailed for an opening of
    other seats or not signed by the licensee; SeatsRefused when the contract refuses; LedgerError when the
    chain is down."""
    if authorisation is None:
        raise SeatAuthorisationRequired(seat_opening_prepare(licence_id=licence_id, count=count), licence_id, count)
    node = _node()
    opening = _checked_opening(authorisation, licence_id=licence_id, licensee=licensee, count=count, node=node.address)
    client = get_chain_client()
    manager = LicenseManager.deployed(client)

    def stale() -> bool:
        return manager.seat_holding(licence_id, node.address)[1] > opening.nonce

    if stale():
        raise SeatAuthorisationRequired(_prepared(licence_id, count), licence_id, count, stale=True)
    try:
        client.transact(
            node, manager.open_seats(node.address, opening, authorisation.signature), abi=manager.abi, step="seats"
        )
    except TransactionFailed as exc:
        if stale():
            raise SeatAuthorisationRequired(_prepared(licence_id, count), licence_id, count, stale=True) from exc
        raise SeatsRefused(f"LicenseManager refused to open {count} seat(s) of licence #{licence_id}: {exc}") from exc


def _prepared(licence_id: int, count: int) -> dict[str, Any]:
    return seat_opening_prepare(licence_id=licence_id, count=count)


def _checked_opening(
    authorisation: SeatAuthorisation, *, licence_id: int, licensee: str, count: int, node: str
) -> SeatOpening:
    try:
        opening, signer = seat_opening_signed(authorisation.typed_data, authorisation.signature)
    except LedgerError as exc:
        raise ValidationFailed({"seat_opening": f"not a signed SeatOpening: {exc}"}) from exc
    wrong = {
        "licenceId": (opening.licence_id, licence_id),
        "count": (opening.count, count),
        "node": (opening.node.lower(), node.lower()),
    }
    problems = [
        f"{name} is {given}, expected {expected}" for name, (given, expected) in wrong.items() if given != expected
    ]
    if signer.lower() != licensee.lower() and not _is_contract(licensee):
        # A contract wallet signs through ERC-1271, which LicenseManager asks on chain.
        problems.append(f"it is signed by {signer}, not by the licensee {licensee}")
    if problems:
        raise ValidationFailed({"seat_opening": "the seat opening does not match: " + "; ".join(problems)})
    return opening


@contextmanager
def licence_seats_locked(
    *, chain_id: int, licence_id: int, wait_s: float = 30.0, lease_s: float = 120.0
) -> Iterator[None]:
    """Hold the licence's seat lock while opening or settling its chain seats: settling compares the seats
    this node holds on chain with what its instances need, which an opening in flight in another request
    or process would change. A lease, so a crashed holder frees it after `lease_s`; and a holder known to be
    gone (config.steps: killed on this host) frees it at once."""
    locks = connection.database[LOCKS]  # type: ignore[attr-defined]
    key, token = f"{chain_id}:{licence_id}", uuid.uuid4().hex
    mine = {"token": token, "holder": steps.current()}
    give_up = time.monotonic() + wait_s
    while True:
        now = time.time()
        try:
            locks.find_one_and_update(
                {"_id": key, "until": {"$lt": now}}, {"$set": {"until": now + lease_s, **mine}}, upsert=True
            )
            break
        except DuplicateKeyError:  # held, its lease not run out
            held = locks.find_one({"_id": key}) or {}
            if held and steps.gone(str(held.get("holder", "?/0/?"))):
                same = {"_id": key, "token": held.get("token")}  # taken over only if nobody else took it first
                taken = locks.update_one(same, {"$set": {"until": now + lease_s, **mine}})
                if taken.modified_count:
                    break
                continue
            if time.monotonic() > give_up:
                raise ConflictError(f"the seats of licence #{licence_id} are being changed: try again") from None
            time.sleep(0.02)
    try:
        yield
    finally:
        locks.delete_one({"_id": key, "token": token})


def _is_contract(address: str) -> bool:
    return bool(get_chain_client().code_at(address))


def seats_close(*, licence_id: int, count: int) -> bool:
    """Close `count` seats this node opened under the licence. False when the chain cannot do it now:
    the caller keeps the count to close later."""
    node = _node()
    client = get_chain_client()
    try:
        manager = LicenseManager.deployed(client)
        client.transact(node, manager.close_seats(node.address, licence_id, node.address, count), abi=manager.abi)
    except LedgerError:
        return False
    return True


def seats_held_on_chain(*, licence_id: int) -> int:
    """The seats this node holds open on chain under the licence."""
    client = get_chain_client()
    return LicenseManager.deployed(client).seat_holding(licence_id, _node().address)[0]


def seat_authorisation_of(body: Any) -> SeatAuthorisation | None:
    """The signed opening in a request body ({"typed_data": {...}, "signature": "0x..."}), if any."""
    if not body:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("typed_data"), dict) or not body.get("signature"):
        raise ValidationFailed({"seat_opening": 'give {"typed_data": {...}, "signature": "0x..."}'})
    return SeatAuthorisation(typed_data=body["typed_data"], signature=str(body["signature"]))
