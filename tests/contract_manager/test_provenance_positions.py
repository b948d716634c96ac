"""Scoped timelines page by positions: every entry of a package or a licence gets the next gap-free position in
seq order, whoever assigns it, however many at once, and again after a crash."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from marketplace.contract_manager import provenance
from marketplace.contract_manager.models import ProvenanceEntry

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "package:6b0000000000000000000001"


def append(n: int, *, licence: int | None = None, subject: str = PACKAGE) -> None:
    for i in range(n):
        payload = {"i": i} if licence is None else {"i": i, "licence_id": licence}
        provenance.provenance_append(kind="decision", actor="0xabc", subject=subject, payload=payload)


def scope_entries(scope: str) -> list[int]:
    """The seqs the scope should list, by reading every entry: what the positions must equal."""
    entries = list(ProvenanceEntry.objects.all())
    scopes = provenance.entry_scopes(entries)
    return sorted(e.seq for e in entries if scope in scopes[e.seq])


def positioned(scope: str) -> list[int]:
    provenance.provenance_positions_catch_up()
    count = provenance.scope_count(scope)
    return [e.seq for e in provenance.scope_entries(scope, 1, count)]


def test_positions_follow_the_log_in_order_with_counts_from_the_head():
    append(3, licence=7)
    append(2, subject="package:6b0000000000000000000002")
    append(4)

    assert positioned(PACKAGE) == scope_entries(PACKAGE) == [1, 2, 3, 6, 7, 8, 9]
    assert positioned("licence:7") == [1, 2, 3]
    assert [e.seq for e in provenance.scope_entries(PACKAGE, 4, 5)] == [6, 7]
    assert provenance.scope_count("package:6b0000000000000000000002") == 2
    assert provenance.scope_count("licence:8") == 0
    assert provenance.provenance_head_seq() == 9


def test_a_page_of_a_scope_is_read_from_its_positions_copies_and_they_are_the_entries():
    from ledger.provenance_verify import entry_hash

    append(3, licence=7)
    append(2)
    provenance.provenance_positions_catch_up()
    page = provenance.scope_entries(PACKAGE, 1, 5)

    stored = {e.seq: e for e in ProvenanceEntry.objects.all()}
    assert [e.seq for e in page] == [1, 2, 3, 4, 5]
    for copy in page:
        assert provenance.entry_fields(copy) == provenance.entry_fields(stored[copy.seq])
        assert entry_hash(provenance.entry_fields(copy)) == copy.entry_hash == stored[copy.seq].entry_hash

    # Positions placed before they carried copies are read from the log instead.
    connection.database[provenance.POSITIONS].update_many({"seq": {"$lte": 2}}, {"$unset": {"entry": ""}})  # type: ignore[attr-defined]
    again = provenance.scope_entries(PACKAGE, 1, 5)
    assert [provenance.entry_fields(e) for e in again] == [provenance.entry_fields(e) for e in page]


def test_concurrent_appenders_and_placers_agree_on_every_position():
    errors: list[BaseException] = []

    def work(licence: int) -> None:
        try:
            for _ in range(6):
                append(1, licence=licence)
                provenance.provenance_positions_catch_up()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(n % 2,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert positioned(PACKAGE) == scope_entries(PACKAGE) == list(range(1, 37))
    assert positioned("licence:0") == scope_entries("licence:0")
    assert positioned("licence:1") == scope_entries("licence:1")
    assert len(positioned("licence:0")) == len(positioned("licence:1")) == 18


def test_a_placer_killed_after_writing_positions_is_repaired_by_the_next():
    append(5, licence=3)
    provenance.provenance_positions_catch_up()
    # What a process killed after inserting positions, before moving the heads, leaves behind.
    heads = connection.database[provenance.HEAD]  # type: ignore[attr-defined]
    heads.delete_many({"_id": {"$in": ["positioned", f"scope {PACKAGE}"]}})
    heads.update_one({"_id": "scope licence:3"}, {"$set": {"n": 2, "seq": 2}})
    append(2, licence=3)

    assert positioned(PACKAGE) == list(range(1, 8))
    assert positioned("licence:3") == list(range(1, 8))


def test_a_position_naming_another_entry_is_refused_not_overwritten():
    append(2)
    positions = connection.database[provenance.POSITIONS]  # type: ignore[attr-defined]
    # A forged position where the next entry of the scope belongs.
    positions.insert_one({"_id": f"{PACKAGE}#{1:012d}", "scope": PACKAGE, "n": 1, "seq": 99})

    with pytest.raises(provenance.ProvenanceError, match="names entry 99, not 1"):
        provenance.provenance_positions_catch_up()


def test_a_page_reads_its_count_and_the_last_anchoring_sent_from_the_heads_and_places_what_a_crash_left():
    append(4, licence=5)
    provenance.provenance_positions_catch_up()
    assert provenance.timeline_heads(PACKAGE) == (4, None)
    assert provenance.timeline_heads(None) == (4, None)
    heads = connection.database[provenance.HEAD]  # type: ignore[attr-defined]
    sent = {"_id": "submitted", "anchor_chain_id": 31337, "anchor_from_seq": 1, "anchor_to_seq": 4}
    heads.insert_one(sent)
    assert provenance.timeline_heads("licence:5") == (4, sent)

    # A placer killed after writing the positions of two new entries, before it moved the scope's head and the
    # watermark: the page places and follows them before it counts.
    append(2, licence=5)
    heads.update_one({"_id": "scope licence:5"}, {"$set": {"n": 4, "seq": 4}})
    heads.update_one({"_id": "positioned"}, {"$set": {"seq": 4}})
    assert provenance.timeline_heads("licence:5")[0] == 6
    assert [e.seq for e in provenance.scope_entries("licence:5", 5, 6)] == [5, 6]
