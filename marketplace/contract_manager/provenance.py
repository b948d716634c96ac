"""The provenance log: append-only, hash-chained entries (licence decisions, usage events) whose ranges the
operator anchors on chain in ProvenanceAnchor, with the selectors that prove and check them."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection
from django.http import Http404
from django.utils import timezone
from hexbytes import HexBytes
from pymongo.errors import BulkWriteError, DuplicateKeyError

from ledger.client import get_chain_client
from ledger.models import ContractDeployment, LicenceOffer, ProvenanceRange
from ledger.offline.merkle import MerkleTree
from ledger.provenance_anchor import CONTRACT_NAME, FIRST_SEQ, ProvenanceAnchor
from ledger.provenance_verify import GENESIS_PREV_HASH, canonical_json, entry_hash
from ledger.signer import operator_account
from marketplace.contract_manager.models import ProvenanceEntry

log = logging.getLogger(__name__)

HASHING = (
    "entry_hash = keccak256(UTF-8 JSON of {seq, kind, actor, subject, payload, created_at, prev_hash} with keys "
    "sorted, no whitespace, non-ASCII as is); created_at is UTC ISO 8601 with milliseconds and a Z; prev_hash of "
    "seq 1 is 0x followed by 64 zeros. On chain the leaf is keccak256(0x00 || entry_hash bytes) (RFC 6962)."
)
KIND_MAX, ACTOR_MAX, SUBJECT_MAX = 32, 64, 255
# Appenders race for the next seq through the unique index; each loser re-reads the head and tries again.
APPEND_ATTEMPTS = 500
PER_PAGE = 50
DUPLICATE_KEY = 11000


class ProvenanceError(Exception):
    """An entry cannot be appended (bad fields, or the log stayed contended too long)."""


def iso_millis(moment: datetime) -> str:
    """created_at as hashed: UTC, milliseconds, a trailing Z (MongoDB keeps milliseconds only)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def entry_fields(entry: ProvenanceEntry) -> dict[str, Any]:
    """Every field the entry hash covers, as ledger.provenance_verify.entry_hash takes them."""
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "actor": entry.actor,
        "subject": entry.subject,
        "payload": entry.payload,
        "created_at": iso_millis(entry.created_at),
        "prev_hash": entry.prev_hash,
    }


def _clean_payload(payload: Any) -> Any:
    """The payload as the database will give it back: plain JSON values only, so the hash can be recomputed."""
    try:
        return json.loads(canonical_json(payload))
    except (TypeError, ValueError) as exc:
        raise ProvenanceError(f"the payload is not plain JSON: {exc}") from exc


def provenance_append(*, kind: str, actor: str, subject: str, payload: Any) -> ProvenanceEntry:
    """Append one entry: the next sequence number, chained to the previous entry's hash.

    Gap-free and correctly chained under concurrent appenders: seq is unique, an entry is inserted only
    after its predecessor exists, and a writer that lost the race for a seq reads the new head and retries."""
    for name, value, limit in (
        ("kind", kind, KIND_MAX),
        ("actor", actor, ACTOR_MAX),
        ("subject", subject, SUBJECT_MAX),
    ):
        if not isinstance(value, str) or not value or len(value) > limit:
            raise ProvenanceError(f"{name} must be a non-empty string of at most {limit} characters")
    clean = _clean_payload(payload)
    head = _head()
    for attempt in range(APPEND_ATTEMPTS):
        seq = head[0] + 1
        now = timezone.now()
        entry = ProvenanceEntry(
            seq=seq,
            kind=kind,
            actor=actor,
            subject=subject,
            payload=clean,
            created_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
            prev_hash=head[1],
        )
        entry.entry_hash = entry_hash(entry_fields(entry))
        try:
            entry.save(force_insert=True)
        except IntegrityError:
            # Another appender took this seq; back off a little so 16 writers do not spin in lockstep.
            time.sleep(secrets.randbelow(2000 * min(attempt + 1, 10)) / 1_000_000)
            head = _catch_up(head)
            continue
        _head_advance(seq, entry.entry_hash)
        return entry
    raise ProvenanceError(f"the provenance log stayed contended through {APPEND_ATTEMPTS} attempts")


def provenance_record_event(
    *, kind: str, actor: str, subject: str, payload: dict[str, Any], tx_hash: str, log_index: int
) -> None:
    """Log what the chain did (an event the indexer projected) once: replaying events after a
    reorganisation finds the entry by its transaction and log index and appends nothing."""
    for entry in ProvenanceEntry.objects.filter(subject=subject, kind=kind).only("payload"):
        body = entry.payload if isinstance(entry.payload, dict) else {}
        if body.get("tx_hash") == tx_hash:  # by transaction: a reorg may mine it again at another log index
            return
    provenance_append(
        kind=kind, actor=actor, subject=subject, payload={**payload, "tx_hash": tx_hash, "log_index": log_index}
    )


# Where the log ends, kept in one small document so an append does not sort the log: SecantusDB
# answers `order_by("-seq").first()` by reading every entry (~85 ms at 2,000 entries), a point read
# by the unique seq index in about a millisecond. The document is only a hint: the entries are the
# truth, so a hint that lags (a crash after an insert) or points at nothing (a restored or emptied
# log) is corrected from them before it is used.
HEAD = "provenance_head"


def _heads() -> Any:
    return connection.database[HEAD]  # type: ignore[attr-defined]


def _entries() -> Any:
    return connection.database[ProvenanceEntry._meta.db_table]  # type: ignore[attr-defined]


def _head() -> tuple[int, str]:
    """(seq, entry hash) of the last entry, (FIRST_SEQ - 1, genesis) for an empty log."""
    hint = _heads().find_one({"_id": "head"})
    if hint is not None:
        # Read through the ORM: an append inside the indexer's transaction must see the entries written in it.
        found = ProvenanceEntry.objects.filter(seq=hint["seq"]).only("entry_hash").first()
        if found is not None and found.entry_hash == hint["hash"]:
            return int(hint["seq"]), str(hint["hash"])  # if it lags, the insert's conflict catches up
    last = _last_seq()
    found = ProvenanceEntry.objects.filter(seq=last).only("entry_hash").first() if last >= FIRST_SEQ else None
    head = (last, found.entry_hash) if found else (FIRST_SEQ - 1, GENESIS_PREV_HASH)
    _heads().replace_one({"_id": "head"}, {"_id": "head", "seq": head[0], "hash": head[1]}, upsert=True)
    return head


def _last_seq() -> int:
    """The log's last seq without the head document: seq runs from FIRST_SEQ without gaps, so doubling and then
    halving finds it in about 2·log2(n) point reads of the unique seq index (35 at a million entries), where a
    sort would read every entry and, at 100,000, outlast the database timeout."""

    def exists(seq: int) -> bool:
        return ProvenanceEntry.objects.filter(seq=seq).exists()

    if not exists(FIRST_SEQ):
        return FIRST_SEQ - 1
    step = 1
    while exists(FIRST_SEQ + step):
        step *= 2
    low, high = FIRST_SEQ + step // 2, FIRST_SEQ + step  # low exists, high does not
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if exists(middle) else (low, middle)
    return low


def _catch_up(head: tuple[int, str]) -> tuple[int, str]:
    """Follow entries appended after `head` (by others, or before a crash) one point read at a time."""
    while True:
        following = ProvenanceEntry.objects.filter(seq=head[0] + 1).only("seq", "entry_hash").first()
        if following is None:
            return head
        head = (following.seq, following.entry_hash)


def _head_advance(seq: int, entry_hash_: str) -> None:
    # Only forward: a slower appender of an earlier seq must not move the hint back.
    _heads().update_one({"_id": "head", "seq": {"$lt": seq}}, {"$set": {"seq": seq, "hash": entry_hash_}})


def _anchor_contract() -> ProvenanceAnchor:
    return ProvenanceAnchor.deployed(get_chain_client())


def _contiguous(entries: list[ProvenanceEntry], first: int) -> list[ProvenanceEntry]:
    """The leading run first, first + 1, ... of `entries` (a concurrent insert can hide one from a read)."""
    run = []
    for expected, entry in enumerate(entries, start=first):
        if entry.seq != expected:
            break
        run.append(entry)
    return run


def provenance_anchor_pending(*, max_entries: int = 1024) -> int:
    """Anchor the entries after the chain's latest anchored seq (at most `max_entries`) under one Merkle root.

    Returns how many entries the new range covers (0: nothing waiting)."""
    client = get_chain_client()
    contract = ProvenanceAnchor.deployed(client)
    latest = contract.latest_seq()
    # A range of seq read with pymongo (the ORM's range lookup makes SecantusDB scan the whole log).
    entries = _contiguous(provenance_entries(seqs=range(latest + 1, latest + 1 + max_entries)), latest + 1)
    if not entries:
        return 0
    tree = MerkleTree([bytes(HexBytes(e.entry_hash)) for e in entries])
    from_seq, to_seq = entries[0].seq, entries[-1].seq
    operator = operator_account()
    receipt = client.transact(
        operator, contract.anchor(operator.address, from_seq, to_seq, tree.root), abi=contract.abi, step="provenance"
    )
    (event,) = contract.events(receipt, "RangeAnchored")
    sent = {
        "anchor_chain_id": client.chain_id(),
        "anchor_id": int(event["anchorId"]),
        "anchor_from_seq": from_seq,
        "anchor_to_seq": to_seq,
        "anchor_tx_hash": HexBytes(receipt["transactionHash"]).to_0x_hex(),
    }
    ProvenanceEntry.objects.filter(seq__gte=from_seq, seq__lte=to_seq).update(**sent)
    _heads().replace_one({"_id": "submitted"}, {"_id": "submitted", **sent}, upsert=True)
    log.info("anchored provenance entries %s-%s (gas %s)", from_seq, to_seq, receipt["gasUsed"])
    return len(entries)


def provenance_anchor_due() -> int:
    """The periodic tick: anchor when the oldest unanchored entry waited PROVENANCE_ANCHOR_WINDOW_S or
    PROVENANCE_BATCH entries wait. The chain's latest anchored seq, not our records, says what waits."""
    newest = provenance_head_seq()  # the head document: a sort would read the whole log on every tick
    if newest < FIRST_SEQ:
        return 0
    latest = _anchor_contract().latest_seq()
    if newest <= latest:
        return 0
    oldest = ProvenanceEntry.objects.filter(seq=latest + 1).only("created_at").first()
    if oldest is None:
        return 0
    waited = (timezone.now() - oldest.created_at).total_seconds()
    if waited < settings.PROVENANCE_ANCHOR_WINDOW_S and newest - latest < settings.PROVENANCE_BATCH:
        return 0
    return provenance_anchor_pending(max_entries=settings.PROVENANCE_BATCH)


def provenance_anchor_tick() -> None:
    """provenance_anchor_due for the indexer worker's ticks, which return nothing; first the head document is
    moved past entries a crash left behind it (pages count the log by it)."""
    _head_advance(*_catch_up(_head()))
    provenance_anchor_due()
    provenance_positions_placed()


# --- Positions: each entry's place in the package's and the licence's timelines ---
#
# The whole log pages by seq ranges. A package's or a licence's timeline pages by its own gap-free numbering:
# POSITIONS holds one document per (scope, n), _id "<scope>#<n, 12 digits>", naming the entry's seq, so a page
# is one bounded range read of the (scope, n) index and a count is the scope's head document, with no sort,
# skip or count scan (SecantusDB sorts every match of a query before it limits). Positions are derived from the entries:
# they are assigned strictly in seq order behind a watermark (HEAD "positioned"), and the position of (scope,
# entry) depends only on the entries before it, so processes assigning at once, or again after a crash, write
# the same documents; the unique _id refuses anything else.
POSITIONS = "provenance_positions"
POSITION_BATCH = 500


def _position_id(scope: str, n: int) -> str:
    return f"{scope}#{n:012d}"


_indexed: set[str] = set()


def _positions() -> Any:
    positions = connection.database[POSITIONS]  # type: ignore[attr-defined]
    if connection.alias not in _indexed:
        # A page is a range of n within a scope; SecantusDB answers a range of _id by scanning.
        positions.create_index([("scope", 1), ("n", 1)], name="provenance_position")
        _indexed.add(connection.alias)
    return positions


def entry_scopes(entries: list[ProvenanceEntry]) -> dict[int, list[str]]:
    """The timelines besides the whole log that list each entry: "package:<pk>" for an entry on the package, its
    network services, their instances or its offers; "licence:<id>" for one naming the licence or on an instance
    that ran under it."""
    from marketplace.licensing.models import NsInstance
    from marketplace.repository.models import NetworkService, Package

    keys: dict[str, set[str]] = {}
    for entry in entries:
        kind, _, key = entry.subject.partition(":")
        keys.setdefault(kind, set()).add(key)
    # Two reads rather than a join: values_list("ns__package_id") answers 1 on django-mongodb-backend 5.2.
    running = list(
        NsInstance.objects.filter(pk__in=_object_ids(keys.get("instance", ()))).values_list("pk", "ns_id", "licence_id")
    )
    ns_ids = _object_ids(keys.get("ns", ())) + [ns for _, ns, _ in running]
    ns_package = {
        str(pk): str(package)
        for pk, package in NetworkService.objects.filter(pk__in=ns_ids).values_list("pk", "package_id")
    }
    instances = {str(pk): (ns_package.get(str(ns), ""), licence) for pk, ns, licence in running}
    offer_package: dict[str, str] = {}
    offer_ids = [int(k) for k in keys.get("offer", ()) if k.isdigit()]
    if offer_ids:
        offers = LicenceOffer.objects.filter(offer_id__in=offer_ids).values_list("offer_id", "digest", "name_hash")
        by_digest = {(d.removeprefix("0x"), h): str(o) for o, d, h in offers}
        for pk, digest, line in Package.objects.filter(digest__in=[d for d, _ in by_digest]).values_list(
            "pk", "digest", "line_hash"
        ):
            if (digest, line) in by_digest:
                offer_package[by_digest[(digest, line)]] = str(pk)
    scopes: dict[int, list[str]] = {}
    for entry in entries:
        kind, _, key = entry.subject.partition(":")
        found: list[str] = []
        package = {"package": key, "ns": ns_package.get(key), "offer": offer_package.get(key)}.get(kind)
        licence: Any = entry.payload.get("licence_id") if isinstance(entry.payload, dict) else None
        if kind == "instance" and key in instances:
            package, running_under = instances[key]
            licence = licence if isinstance(licence, int) else running_under
        if kind == "licence" and key.isdigit():
            licence = int(key)
        if package:
            found.append(f"package:{package}")
        if isinstance(licence, int) and not isinstance(licence, bool):
            found.append(f"licence:{licence}")
        found += _day_scopes(entry)
        scopes[entry.seq] = found
    return scopes


def _day_scopes(entry: ProvenanceEntry) -> list[str]:
    """The charts' counters: an instance started (not failed) or terminated on a UTC day, overall and per NS.
    Counted as scopes, a day's figure is its scope's head: no chart reads the entries."""
    body = entry.payload if isinstance(entry.payload, dict) else {}
    if entry.kind not in ("instantiate", "terminate") or (
        entry.kind == "instantiate" and body.get("state") == "failed"
    ):
        return []
    day = f"day:{day_of(entry.created_at).isoformat()}:{entry.kind}"
    return [day, f"{day}:ns:{body['ns']}"] if body.get("ns") else [day]


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _object_ids(keys: Any) -> list[Any]:
    from bson import ObjectId
    from bson.errors import InvalidId

    found = []
    for key in keys:
        try:
            found.append(ObjectId(key))
        except (InvalidId, TypeError):
            continue
    return found


def _scope_head(scope: str, *, log_head: int | None = None, hint: dict[str, Any] | None = None) -> tuple[int, int]:
    """(n, seq) of the scope's last position: the head document (`hint`, when read already), followed past any
    position written after it that names a later entry of the log (`log_head`: the last seq there is; a position
    beyond it is not followed, and the next placement then refuses it)."""
    hint = hint or _heads().find_one({"_id": f"scope {scope}"}) or {"n": 0, "seq": 0}
    n, seq = int(hint["n"]), int(hint["seq"])
    while (following := _positions().find_one({"_id": _position_id(scope, n + 1)})) is not None:
        named = int(following["seq"])
        if named <= seq or (log_head is not None and named > log_head):
            break
        n, seq = n + 1, named
    return n, seq


def provenance_positions_catch_up() -> int:
    """Give every entry after the watermark its positions, in seq order; returns how many entries were placed."""
    placed = 0
    while True:
        mark = _heads().find_one({"_id": "positioned"})
        through = int(mark["seq"]) if mark else FIRST_SEQ - 1
        batch = _contiguous(provenance_entries(seqs=range(through + 1, through + 1 + POSITION_BATCH)), through + 1)
        if not batch:
            return placed
        heads: dict[str, tuple[int, int]] = {}
        documents = []
        log_head = batch[-1].seq
        copies = {entry.seq: _copy(entry) for entry in batch}
        for seq, scopes in sorted(entry_scopes(batch).items()):
            for scope in scopes:
                n, last = heads[scope] if scope in heads else _scope_head(scope, log_head=log_head)
                if last >= seq:  # placed already by another process
                    heads[scope] = (n, last)
                    continue
                heads[scope] = (n + 1, seq)
                documents.append(
                    {"_id": _position_id(scope, n + 1), "scope": scope, "n": n + 1, "seq": seq, "entry": copies[seq]}
                )
        _insert_positions(documents)
        for scope, (n, seq) in heads.items():
            _advance(f"scope {scope}", "n", n, {"n": n, "seq": seq})
        _advance("positioned", "seq", batch[-1].seq, {"seq": batch[-1].seq})
        placed += len(batch)


def _advance(key: str, field: str, value: int, fields: dict[str, int]) -> None:
    """Move a head document forward to `value` of `field`, creating it; never back."""
    with contextlib.suppress(DuplicateKeyError):  # the document is there and as far or further
        _heads().update_one({"_id": key, field: {"$lt": value}}, {"$set": fields}, upsert=True)


def provenance_positions_placed() -> None:
    """Catch the positions up for a page or a tick; a refused position is logged, and pages list what is placed."""
    try:
        provenance_positions_catch_up()
    except ProvenanceError:
        log.exception("provenance positions stopped at a conflicting position")


def _insert_positions(documents: list[dict[str, Any]]) -> None:
    """Insert positions; one already there must name the same entry (another process placed it)."""
    if not documents:
        return
    try:
        _positions().insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        for error in exc.details.get("writeErrors", []):
            if error.get("code") != DUPLICATE_KEY:
                raise
            wanted = documents[error["index"]]
            existing = _positions().find_one({"_id": wanted["_id"]})
            if existing is None or int(existing["seq"]) != wanted["seq"]:
                raise ProvenanceError(
                    f"position {wanted['_id']} names entry {existing and existing['seq']}, not {wanted['seq']}"
                ) from exc


def scope_count(scope: str) -> int:
    """How many entries the scope's timeline lists (after provenance_positions_catch_up)."""
    return _scope_head(scope)[0]


def timeline_heads(scope: str | None) -> tuple[int, dict[str, Any] | None]:
    """What a timeline page needs of the head documents, in one read: how many entries it lists, and the last
    anchoring this node sent (a claim until the indexer records its RangeAnchored event).

    The whole log counts to its head document (a head a crash left behind or ahead is set right by the next
    append or the worker's tick, as for a page read a moment earlier). A scope counts to its own head document
    once the placement watermark has reached the log's head: placing moves every scope's head before it moves
    the watermark, so no position of a placed entry lies past a scope's head. Otherwise what is new is placed
    first, and the scope's head is followed past positions a crash left beyond it."""
    ids = ["head", "positioned", "submitted"] + ([f"scope {scope}"] if scope is not None else [])
    found = {d["_id"]: d for d in _heads().find({"_id": {"$in": ids}})}
    submitted, head = found.get("submitted"), found.get("head")
    if scope is None:
        return (int(head["seq"]) if head is not None else provenance_head_seq()), submitted
    placed = int(found.get("positioned", {}).get("seq", FIRST_SEQ - 1))
    if head is None or placed < int(head["seq"]):
        provenance_positions_placed()
        return scope_count(scope), submitted
    return int(found.get(f"scope {scope}", {}).get("n", 0)), submitted


def scope_counts(scopes: list[str]) -> dict[str, int]:
    """How many entries each scope lists: their head documents in one read, followed past positions written
    after them (a crash between a position and its head) one read per step."""
    heads = {
        str(d["_id"]).removeprefix("scope "): int(d["n"])
        for d in _heads().find({"_id": {"$in": [f"scope {s}" for s in scopes]}})
    }
    counts = {scope: heads.get(scope, 0) for scope in scopes}
    while True:
        following = {_position_id(scope, n + 1): scope for scope, n in counts.items()}
        found = [following[str(d["_id"])] for d in _positions().find({"_id": {"$in": list(following)}}, {"_id": 1})]
        if not found:
            return counts
        for scope in found:
            counts[scope] += 1


# A position holds a copy of its entry's hashed fields (they never change), so a page of a scope's timeline is
# one range read of its positions, not a second read of 50 scattered entries by seq (SecantusDB answers `$in` at
# about 0.3 ms a value). The copy carries no anchoring: that comes from the chain's ranges (ledger.selectors
# .provenance_ranges) and, while an anchoring is sent but not yet indexed, from the "submitted" head (timeline_heads).
_COPIED = ("kind", "actor", "subject", "payload", "created_at", "prev_hash", "entry_hash")


def _copy(entry: ProvenanceEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _COPIED}


def scope_entries(scope: str, first: int, last: int) -> list[ProvenanceEntry]:
    """The entries at positions first..last of the scope's timeline, in order, from their positions' copies;
    positions placed before copies were kept are read from the log."""
    found = list(_positions().find({"scope": scope, "n": {"$gte": first, "$lte": last}}, {"seq": 1, "entry": 1}))
    entries = [_entry(int(d["seq"]), d["entry"]) for d in found if isinstance(d.get("entry"), dict)]
    uncopied = [int(d["seq"]) for d in found if not isinstance(d.get("entry"), dict)]
    if uncopied:
        entries += provenance_entries(seqs=uncopied)
    return sorted(entries, key=lambda e: e.seq)


def _entry(seq: int, copy: dict[str, Any]) -> ProvenanceEntry:
    fields = {name: copy.get(name) for name in _COPIED}
    moment = fields["created_at"]
    if isinstance(moment, datetime) and moment.tzinfo is None:
        fields["created_at"] = moment.replace(tzinfo=UTC)
    return ProvenanceEntry(seq=seq, **fields)


def provenance_entries(*, seqs: range | list[int]) -> list[ProvenanceEntry]:
    """The entries with these seqs, in seq order: one find on the seq index. Written with pymongo: the ORM
    adds `$exists`/`$ne: null` clauses to a range lookup, and SecantusDB then scans the whole log."""
    if isinstance(seqs, range):
        if not seqs:
            return []
        query: dict[str, Any] = {"seq": {"$gte": seqs.start, "$lt": seqs.stop}}
    else:
        query = {"seq": {"$in": list(seqs)}}
    entries = []
    for document in _entries().find(query):
        fields = {("id" if key == "_id" else key): value for key, value in document.items()}
        moment = fields.get("created_at")
        if isinstance(moment, datetime) and moment.tzinfo is None:
            fields["created_at"] = moment.replace(tzinfo=UTC)
        entries.append(ProvenanceEntry(**fields))
    return sorted(entries, key=lambda e: e.seq)


def provenance_head_seq() -> int:
    """The last entry's seq (the log's length: seq runs 1, 2, 3, ... without gaps), from the head document."""
    return _head()[0]


# --- Selectors ---


def provenance_entry_dict(entry: ProvenanceEntry) -> dict[str, Any]:
    """An entry as the API shows it: every hashed field, its hash, and where it was anchored (if sent)."""
    anchor = None
    if entry.anchor_id is not None:
        anchor = {
            "chain_id": entry.anchor_chain_id,
            "anchor_id": entry.anchor_id,
            "from_seq": entry.anchor_from_seq,
            "to_seq": entry.anchor_to_seq,
            "tx_hash": entry.anchor_tx_hash or None,
        }
    return {**entry_fields(entry), "entry_hash": entry.entry_hash, "anchor": anchor}


def provenance_entry(seq: int) -> ProvenanceEntry:
    entry = ProvenanceEntry.objects.filter(seq=seq).first()
    if entry is None:
        raise Http404(f"no provenance entry {seq}")
    return entry


def provenance_page(*, subject: str | None = None, kind: str | None = None, page: int = 1) -> dict[str, Any]:
    """Entries in log order, filtered by subject and kind, PER_PAGE a page. Unfiltered, a page is a range of
    seqs and the count is the head's seq; a filter counts and skips its matches."""
    if not subject and not kind:
        total = provenance_head_seq()
        first = (page - 1) * PER_PAGE + 1
        window = provenance_entries(seqs=range(first, min(first + PER_PAGE, total + 1)))
        items = [provenance_entry_dict(e) for e in window]
        return {
            "items": items,
            "total": total,
            "page": page,
            "per_page": PER_PAGE,
            "pages": max(1, -(-total // PER_PAGE)),
        }
    entries = ProvenanceEntry.objects.all()
    if subject:
        entries = entries.filter(subject=subject)
    if kind:
        entries = entries.filter(kind=kind)
    total = entries.count()
    start = (page - 1) * PER_PAGE
    items = [provenance_entry_dict(e) for e in entries.order_by("seq")[start : start + PER_PAGE]]
    return {"items": items, "total": total, "page": page, "per_page": PER_PAGE, "pages": max(1, -(-total // PER_PAGE))}


def provenance_proof(seq: int) -> dict[str, Any]:
    """Entry `seq` with everything an independent verifier needs (ledger.provenance_verify.verify_entry_proof).

    state: "unanchored"; "submitted" (anchoring sent, not indexed yet); "anchored" (from the indexer's
    ProvenanceRange, never from a transaction the marketplace sent)."""
    entry = provenance_entry(seq)
    chain_id = get_chain_client().chain_id()
    deployment = ContractDeployment.objects.filter(chain_id=chain_id, name=CONTRACT_NAME).first()
    neighbours = {e.seq: e for e in ProvenanceEntry.objects.filter(seq__in=[seq - 1, seq + 1])}
    previous, following = neighbours.get(seq - 1), neighbours.get(seq + 1)
    proof: dict[str, Any] = {
        "seq": seq,
        "state": "unanchored",
        "entry": {**entry_fields(entry), "entry_hash": entry.entry_hash},
        "hashing": HASHING,
        "previous": {"seq": previous.seq, "entry_hash": previous.entry_hash} if previous else None,
        "next": (
            {"seq": following.seq, "prev_hash": following.prev_hash, "entry_hash": following.entry_hash}
            if following
            else None
        ),
        "chain_id": chain_id,
        "contract": deployment.address if deployment else None,
        "anchor": None,
    }
    if entry.anchor_chain_id == chain_id:
        proof["state"] = "submitted"
    indexed = ProvenanceRange.objects.filter(chain_id=chain_id, from_seq__lte=seq, to_seq__gte=seq).first()
    if indexed is None:
        return proof
    in_range = ProvenanceEntry.objects.filter(seq__gte=indexed.from_seq, seq__lte=indexed.to_seq).order_by("seq")
    hashes = [e.entry_hash for e in in_range.only("seq", "entry_hash")]
    size = indexed.to_seq - indexed.from_seq + 1
    path = None
    if len(hashes) == size:  # entries deleted from the range leave no path to give
        path = [
            HexBytes(n).to_0x_hex()
            for n in MerkleTree([bytes(HexBytes(h)) for h in hashes]).proof(seq - indexed.from_seq)
        ]
    proof["state"] = "anchored"
    proof["anchor"] = {
        "anchor_id": indexed.anchor_id,
        "from_seq": indexed.from_seq,
        "to_seq": indexed.to_seq,
        "size": size,
        "index": seq - indexed.from_seq,
        "root": indexed.root if str(indexed.root).startswith("0x") else "0x" + str(indexed.root),
        "proof": path,
        "tx_hash": indexed.tx_hash,
        "block_number": indexed.block_number,
    }
    return proof


def provenance_verify_chain(from_seq: int, to_seq: int) -> list[dict[str, Any]]:
    """Problems in entries from_seq..to_seq: a missing seq, a hash that no longer matches the entry's fields,
    a broken link to the previous entry, or stored hashes that no longer give an indexed anchored root."""
    problems: list[dict[str, Any]] = []
    low = max(from_seq, FIRST_SEQ)
    if to_seq < low:
        return problems
    entries = {e.seq: e for e in ProvenanceEntry.objects.filter(seq__gte=low - 1, seq__lte=to_seq)}
    for seq in range(low, to_seq + 1):
        entry = entries.get(seq)
        if entry is None:
            problems.append({"seq": seq, "problem": "missing", "detail": f"entry {seq} is not in the log"})
            continue
        recomputed = entry_hash(entry_fields(entry))
        if recomputed != entry.entry_hash:
            detail = f"entry {seq} hashes to {recomputed}, not to its stored {entry.entry_hash}"
            problems.append({"seq": seq, "problem": "hash-mismatch", "detail": detail})
        previous = entries.get(seq - 1)
        expected = GENESIS_PREV_HASH if seq == FIRST_SEQ else previous.entry_hash if previous else None
        if expected is not None and entry.prev_hash != expected:
            detail = f"entry {seq} links to {entry.prev_hash}, but entry {seq - 1} hashes to {expected}"
            problems.append({"seq": seq, "problem": "broken-link", "detail": detail})
    ranges = ProvenanceRange.objects.filter(from_seq__lte=to_seq, to_seq__gte=low)
    if ranges.exists():
        chain_id = get_chain_client().chain_id()
        for indexed in ranges.filter(chain_id=chain_id).order_by("anchor_id"):
            stored = ProvenanceEntry.objects.filter(seq__gte=indexed.from_seq, seq__lte=indexed.to_seq)
            hashes = [bytes(HexBytes(e.entry_hash)) for e in stored.order_by("seq").only("seq", "entry_hash")]
            root = HexBytes(MerkleTree(hashes).root).to_0x_hex()
            if root != str(indexed.root).lower():
                detail = f"entries {indexed.from_seq}-{indexed.to_seq} give root {root}, anchored was {indexed.root}"
                problems.append({"seq": indexed.from_seq, "problem": "root-mismatch", "detail": detail})
    return problems
