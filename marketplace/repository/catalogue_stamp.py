"""The catalogue's change stamp: one document with a counter and the ids of the last RECENT changed
packages, bumped by every package write after its transaction commits (see catalogue.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection

STAMP_COLLECTION = "catalogue_stamp"


_STAMP_ID = "packages"


RECENT = 500  # changes the stamp remembers; a reader further behind rebuilds


def catalogue_changed(package_ids: Iterable[Any] | None = None) -> None:
    """Record that these packages changed (None: some packages, unknown which), once the current
    transaction (if any) commits; every process's index catches up on its next read."""
    ids = None if package_ids is None else [pk for pk in package_ids if pk is not None]

    def bump() -> None:
        stamps = connection.database[STAMP_COLLECTION]  # type: ignore[attr-defined]
        if ids is None or len(ids) > RECENT:
            stamps.update_one(
                {"_id": _STAMP_ID}, {"$set": {"epoch": uuid.uuid4().hex, "recent": []}, "$inc": {"seq": 1}}, upsert=True
            )
        elif ids:
            stamps.update_one(
                {"_id": _STAMP_ID},
                {
                    "$inc": {"seq": len(ids)},
                    "$push": {"recent": {"$each": ids, "$slice": -RECENT}},
                    "$setOnInsert": {"epoch": uuid.uuid4().hex},
                },
                upsert=True,
            )

    connection.on_commit(bump)


@dataclass(frozen=True)
class Stamp:
    epoch: str | None
    seq: int


def stamp_read() -> Stamp:
    found = connection.database[STAMP_COLLECTION].find_one({"_id": _STAMP_ID}, {"epoch": 1, "seq": 1})  # type: ignore[attr-defined]
    return Stamp(str(found["epoch"]), int(found.get("seq", 0))) if found else Stamp(None, 0)


def stamp_read_with_recent() -> tuple[Stamp, list[Any]]:
    """The counter and the ids of the changes it remembers, the last one last, in one read."""
    found = connection.database[STAMP_COLLECTION].find_one({"_id": _STAMP_ID})  # type: ignore[attr-defined]
    if not found:
        return Stamp(None, 0), []
    return Stamp(str(found["epoch"]), int(found.get("seq", 0))), list(found.get("recent", []))
