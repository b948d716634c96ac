"""An in-process index of the package catalogue, for search and listing.

The embedded store decodes every matching document of a query before it sorts and pages them
(about a second for 10,000 packages), and it has no text indexes. So each process keeps the few
fields that search, filters and sorts need for every package, with an inverted index of the
search words, and answers a query with the page's ids and an exact total; the page's documents
are then fetched by id.

Writers record which packages changed in one stamp document (a counter and the ids of the last
RECENT changes, in one atomic update, after their transaction commits). A reader reads the counter,
one point read; when it moved, it refetches just those packages, or rebuilds everything when it
fell more than RECENT changes behind or a writer could not say which packages changed (a new
epoch). Every write to packages goes through the Package manager (marketplace.models.
PackageQuerySet) or its save/delete signals, which call catalogue_changed.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection

from marketplace.repository.catalogue_stamp import Stamp, catalogue_changed, stamp_read, stamp_read_with_recent
from marketplace.repository.models import Package

_FIELDS = (
    "kind",
    "format",
    "vendor",
    "uploader",
    "listed",
    "is_latest",
    "state",
    "tags",
    "vcpus",
    "memory_mb",
    "storage_gb",
    "name",
    "version_key",
    "created_at",
    "search_tokens",
)


@dataclass
class CatalogueIndex:
    """Columns of every package (one position per package) and the search words' postings. A
    changed package gets a new position; its old one is marked dead."""

    stamp: Stamp
    ids: list[Any]
    alive: list[bool]
    columns: dict[str, list[Any]]
    postings: dict[str, list[int]]
    tag_postings: dict[str, list[int]]
    positions: dict[Any, int]
    load_ms: float
    _orders: dict[tuple[tuple[str, int], ...], list[int]] = field(default_factory=dict)
    _orders_lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self.positions)

    def order(self, spec: tuple[tuple[str, int], ...]) -> list[int]:
        """Every live position in the order of `spec` ((field, 1 or -1), ...), ties by _id
        descending as the store's sort does; computed once per index and sort."""
        found = self._orders.get(spec)
        if found is None:
            ids, alive = self.ids, self.alive
            # Positions past this index's own (appended for a newer one) are not its packages.
            positions = sorted((i for i in range(len(alive)) if alive[i]), key=lambda i: ids[i], reverse=True)
            for name, direction in reversed(spec):
                column = self.columns[name]
                positions.sort(key=lambda i, c=column: _sort_value(c[i]), reverse=direction < 0)  # type: ignore[misc]
            with self._orders_lock:
                found = self._orders.setdefault(spec, positions)
        return found

    def add(self, doc: dict[str, Any]) -> None:
        old = self.positions.get(doc["_id"])
        if old is not None:
            self.alive[old] = False
        position = len(self.ids)
        self.ids.append(doc["_id"])
        self.alive.append(True)
        self.positions[doc["_id"]] = position
        for name, column in self.columns.items():
            value = doc.get(name)
            column.append(sys.intern(value) if isinstance(value, str) else value)
        for token in doc.get("search_tokens") or ():
            self.postings.setdefault(sys.intern(str(token)), []).append(position)
        for tag in doc.get("tags") or ():
            self.tag_postings.setdefault(str(tag), []).append(position)

    def remove(self, pk: Any) -> None:
        old = self.positions.pop(pk, None)
        if old is not None:
            self.alive[old] = False

    def patched(self, stamp: Stamp, docs: dict[Any, dict[str, Any]], changed: set[Any]) -> CatalogueIndex:
        """This index with `changed` packages replaced by `docs` (absent: deleted), as a new
        object: readers of this one keep their consistent view (new positions are only appended)."""
        index = CatalogueIndex(
            stamp=stamp,
            ids=self.ids,
            alive=list(self.alive),
            columns=self.columns,
            postings=self.postings,
            tag_postings=self.tag_postings,
            positions=dict(self.positions),
            load_ms=self.load_ms,
        )
        for pk in changed:
            if pk in docs:
                index.add(docs[pk])
            else:
                index.remove(pk)
        return index


def _sort_value(value: Any) -> tuple[int, Any]:
    # The store orders null before numbers, numbers before strings, strings before dates.
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (5, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, datetime):
        return (4, value.replace(tzinfo=None))
    return (3, str(value))


_PROJECTION = dict.fromkeys(_FIELDS, 1)


def _load(stamp: Stamp) -> CatalogueIndex:
    started = time.perf_counter()
    collection = connection.database[Package._meta.db_table]  # type: ignore[attr-defined]
    index = CatalogueIndex(
        stamp=stamp,
        ids=[],
        alive=[],
        columns={name: [] for name in _FIELDS if name != "search_tokens"},
        postings={},
        tag_postings={},
        positions={},
        load_ms=0.0,
    )
    for doc in collection.find({}, _PROJECTION):
        index.add(doc)
    index.load_ms = (time.perf_counter() - started) * 1000
    return index


_lock = threading.Lock()


_current: CatalogueIndex | None = None


def catalogue_index() -> CatalogueIndex:
    """This process's index, caught up with every write recorded since it was built."""
    global _current
    stamp = stamp_read()  # read before fetching: a change after this point moves the counter again
    index = _current
    if index is not None and index.stamp == stamp:
        return index
    with _lock:
        index = _current
        if index is None or index.stamp != stamp:
            index = _current = _catch_up(index)
    return index


def _catch_up(index: CatalogueIndex | None) -> CatalogueIndex:
    # The counter and the ids read together: the last (counter - ours) ids are what we missed.
    stamp, recent = stamp_read_with_recent()
    if index is None or index.stamp.epoch != stamp.epoch or len(index.ids) > 2 * max(len(index), 1000):
        return _load(stamp)  # new, told "something changed", or mostly dead positions
    behind = stamp.seq - index.stamp.seq
    if behind == 0:
        return index
    if not 0 < behind <= len(recent):
        return _load(stamp)
    changed = set(recent[-behind:])
    collection = connection.database[Package._meta.db_table]  # type: ignore[attr-defined]
    docs = {doc["_id"]: doc for doc in collection.find({"_id": {"$in": list(changed)}}, _PROJECTION)}
    return index.patched(stamp, docs, changed)


def _intersect(lists: Iterable[list[int]]) -> set[int]:
    ordered = sorted(lists, key=len)
    if not ordered:
        return set()
    found = set(ordered[0])
    for more in ordered[1:]:
        found.intersection_update(more)
        if not found:
            break
    return found


Predicate = Callable[[int], bool]


def catalogue_match(
    index: CatalogueIndex,
    *,
    viewer: str | None = None,
    tokens: list[str],
    tags: list[str],
    equal: dict[str, Any],
    states: set[str] | None,
    exclude_states: set[str],
    ranges: dict[str, tuple[float | None, float | None]],
    sort: tuple[tuple[str, int], ...],
) -> list[Any]:
    """The ids of the packages that match, in sort order: every search word (each a stored word or
    prefix), every tag, each equality, the state rules, and each inclusive range; of the packages
    `viewer` may see (the listed ones, and its own uploads)."""
    alive = index.alive
    candidates: set[int] | None = None
    if tokens or tags:
        found = _intersect([index.postings.get(t, []) for t in tokens] + [index.tag_postings.get(t, []) for t in tags])
        # Postings are shared with newer indexes, which append positions past this one's.
        candidates = {i for i in found if i < len(alive) and alive[i]}
    checks: list[Predicate] = []
    columns = index.columns
    listed, uploader = columns["listed"], columns["uploader"]
    checks.append(lambda i: bool(listed[i]) or (viewer is not None and uploader[i] == viewer))
    for name, wanted in equal.items():
        column = columns[name]
        checks.append(lambda i, c=column, w=wanted: c[i] == w)  # type: ignore[misc]
    state = columns["state"]
    if states is not None:
        checks.append(lambda i: state[i] in states)
    if exclude_states:
        checks.append(lambda i: state[i] not in exclude_states)
    for name, (low, high) in ranges.items():
        column = columns[name]
        if low is not None:
            checks.append(lambda i, c=column, v=low: c[i] is not None and c[i] >= v)  # type: ignore[misc]
        if high is not None:
            checks.append(lambda i, c=column, v=high: c[i] is not None and c[i] <= v)  # type: ignore[misc]
    order = index.order(sort)
    if candidates is not None:
        if len(candidates) < len(order) // 8:
            # Few matches: sort them by their place in the order rather than walking it all.
            rank = _ranks(index, sort)
            order = sorted(candidates, key=rank.__getitem__)
        else:
            order = [i for i in order if i in candidates]
    ids = index.ids
    return [ids[i] for i in order if all(check(i) for check in checks)]


def _ranks(index: CatalogueIndex, sort: tuple[tuple[str, int], ...]) -> list[int]:
    key = (("__rank__", 0), *sort)
    found = index._orders.get(key)
    if found is None:
        order = index.order(sort)
        found = [len(order)] * len(index.alive)
        for rank, position in enumerate(order):
            found[position] = rank
        with index._orders_lock:
            found = index._orders.setdefault(key, found)
    return found


def _on_package_write(instance: Package, **kwargs: Any) -> None:
    catalogue_changed([instance.pk])


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    post_save.connect(_on_package_write, sender=Package, dispatch_uid="catalogue-package-saved")
    post_delete.connect(_on_package_write, sender=Package, dispatch_uid="catalogue-package-deleted")
