"""The provenance log: a gap-free hash chain under concurrent appenders, anchored on chain in ranges,
with inclusion proofs an independent verifier accepts and tampering that it and the chain check catch."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from ledger.indexer import Indexer
from ledger.models import ProvenanceRange
from ledger.projections import projections
from ledger.provenance_anchor import ProvenanceAnchor
from ledger.provenance_verify import GENESIS_PREV_HASH, entry_hash, verify_entry_proof
from marketplace.contract_manager.models import ProvenanceEntry
from marketplace.contract_manager.provenance import (
    HEAD,
    entry_fields,
    provenance_anchor_due,
    provenance_anchor_pending,
    provenance_append,
    provenance_proof,
    provenance_verify_chain,
)

pytestmark = pytest.mark.django_db


def append(n: int, *, subject: str = "pkg-1", kind: str = "decision") -> list[ProvenanceEntry]:
    return [
        provenance_append(kind=kind, actor="operator", subject=subject, payload={"decision": "permit", "n": i})
        for i in range(n)
    ]


def index(chain) -> None:
    Indexer(chain, projections, confirmations=0).step()


def assert_chained(entries: list[ProvenanceEntry]) -> None:
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    previous = GENESIS_PREV_HASH
    for entry in entries:
        assert entry.prev_hash == previous
        assert entry.entry_hash == entry_hash(entry_fields(entry))
        previous = entry.entry_hash


def test_appended_entries_form_a_gap_free_hash_chain():
    append(5)
    stored = list(ProvenanceEntry.objects.order_by("seq"))
    assert_chained(stored)
    assert stored[0].prev_hash == GENESIS_PREV_HASH
    assert stored[2].payload == {"decision": "permit", "n": 2}
    assert provenance_verify_chain(1, 5) == []


def test_an_append_after_a_crash_that_left_the_head_behind_still_chains():
    append(3)
    # As if the process died between inserting entry 3 and moving the head past it.
    heads = connection.database[HEAD]  # type: ignore[attr-defined]
    second = ProvenanceEntry.objects.get(seq=2)
    heads.update_one({"_id": "head"}, {"$set": {"seq": 2, "hash": second.entry_hash}})

    append(2)

    assert_chained(list(ProvenanceEntry.objects.order_by("seq")))
    assert heads.find_one({"_id": "head"})["seq"] == 5


def test_an_append_to_an_emptied_or_restored_log_ignores_a_head_that_points_nowhere():
    append(4)
    ProvenanceEntry.objects.all().delete()  # the head document still says 4
    append(2)
    assert_chained(list(ProvenanceEntry.objects.order_by("seq")))

    heads = connection.database[HEAD]  # type: ignore[attr-defined]
    heads.update_one({"_id": "head"}, {"$set": {"hash": "0x" + "ab" * 32}})  # names entry 2 with a wrong hash
    append(1)
    assert_chained(list(ProvenanceEntry.objects.order_by("seq")))


@pytest.mark.parametrize("entries", [1, 2, 37, 64])
def test_without_its_head_document_the_log_finds_its_end_by_point_reads(entries):
    from marketplace.contract_manager.provenance import provenance_head_seq

    append(entries)
    connection.database[HEAD].delete_one({"_id": "head"})  # type: ignore[attr-defined]

    assert provenance_head_seq() == entries
    append(1)
    assert_chained(list(ProvenanceEntry.objects.order_by("seq")))
    assert ProvenanceEntry.objects.count() == entries + 1


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_appenders_still_give_one_to_n_and_a_valid_chain():
    threads, per_thread = 16, 5
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(worker: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                provenance_append(kind="download", actor=f"0x{worker:040x}", subject=f"pkg-{worker}", payload={"i": i})
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert errors == []
    stored = list(ProvenanceEntry.objects.order_by("seq"))
    assert len(stored) == threads * per_thread
    assert_chained(stored)
    assert provenance_verify_chain(1, threads * per_thread) == []


def test_anchoring_waits_for_the_window_then_records_the_range(settings, deployed, chain, snapshot):
    settings.PROVENANCE_ANCHOR_WINDOW_S = 3600
    settings.PROVENANCE_BATCH = 1024
    append(3)
    assert provenance_anchor_due() == 0  # neither the window nor the batch is due

    settings.PROVENANCE_ANCHOR_WINDOW_S = 0
    assert provenance_anchor_due() == 3
    assert provenance_anchor_due() == 0  # nothing more waits
    anchors = ProvenanceAnchor(chain, deployed["ProvenanceAnchor"])
    assert anchors.latest_seq() == 3
    entry = ProvenanceEntry.objects.get(seq=2)
    assert (entry.anchor_id, entry.anchor_from_seq, entry.anchor_to_seq) == (1, 1, 3)
    assert entry.anchor_tx_hash.startswith("0x")
    assert provenance_proof(2)["state"] == "submitted"

    index(chain)
    (indexed,) = ProvenanceRange.objects.filter(chain_id=chain.chain_id())
    assert (indexed.anchor_id, indexed.from_seq, indexed.to_seq) == (1, 1, 3)

    append(2)  # the next range continues at 4
    assert provenance_anchor_pending() == 2
    assert anchors.latest_seq() == 5


def test_a_full_batch_is_anchored_before_the_window(settings, deployed, chain, snapshot):
    settings.PROVENANCE_ANCHOR_WINDOW_S = 3600
    settings.PROVENANCE_BATCH = 4
    append(6)
    assert provenance_anchor_due() == 4
    assert provenance_anchor_due() == 0  # 2 wait: fewer than a batch, inside the window


def test_the_proof_is_accepted_by_the_independent_check(deployed, chain, snapshot):
    append(7)
    provenance_anchor_pending()
    index(chain)
    address = deployed["ProvenanceAnchor"]
    for seq in (1, 4, 7):
        proof = provenance_proof(seq)
        assert proof["state"] == "anchored"
        assert proof["contract"] == address
        assert proof["chain_id"] == chain.chain_id()
        assert proof["anchor"]["size"] == 7
        assert proof["anchor"]["block_number"] > 0
        ok, reason = verify_entry_proof(proof, client=chain, anchor_address=address)
        assert ok, reason
    middle = provenance_proof(4)
    assert middle["previous"]["entry_hash"] == middle["entry"]["prev_hash"]
    assert middle["next"]["prev_hash"] == middle["entry"]["entry_hash"]


def test_an_edited_entry_is_reported_and_its_proof_fails(deployed, chain, snapshot):
    append(4)
    provenance_anchor_pending()
    index(chain)
    collection = connection.database[ProvenanceEntry._meta.db_table]  # type: ignore[attr-defined]
    collection.update_one({"seq": 3}, {"$set": {"payload": {"decision": "deny", "n": 2}}})

    problems = provenance_verify_chain(1, 4)
    assert [(p["seq"], p["problem"]) for p in problems] == [(3, "hash-mismatch")]
    ok, reason = verify_entry_proof(provenance_proof(3), client=chain, anchor_address=deployed["ProvenanceAnchor"])
    assert not ok
    assert "hashes to" in reason

    # Rewriting the stored hash too breaks the link to the next entry and the anchored root.
    forged = entry_hash(entry_fields(ProvenanceEntry.objects.get(seq=3)))
    collection.update_one({"seq": 3}, {"$set": {"entry_hash": forged}})
    kinds = {p["problem"] for p in provenance_verify_chain(1, 4)}
    assert kinds == {"broken-link", "root-mismatch"}
    ok, reason = verify_entry_proof(provenance_proof(3), client=chain, anchor_address=deployed["ProvenanceAnchor"])
    assert not ok


def test_a_deleted_entry_is_reported():
    append(4)
    ProvenanceEntry.objects.filter(seq=2).delete()
    problems = provenance_verify_chain(1, 4)
    assert [(p["seq"], p["problem"]) for p in problems] == [(2, "missing")]


def test_a_forged_proof_path_fails(deployed, chain, snapshot):
    append(5)
    provenance_anchor_pending()
    index(chain)
    address = deployed["ProvenanceAnchor"]
    proof = provenance_proof(2)
    proof["anchor"]["proof"][0] = "0x" + "11" * 32
    ok, reason = verify_entry_proof(proof, client=chain, anchor_address=address)
    assert not ok
    assert "inclusion proof" in reason
    # Another entry's hash, with its own path, is not entry 2.
    other = provenance_proof(3)
    other["entry"]["seq"] = 2
    assert not verify_entry_proof(other, client=chain, anchor_address=address)[0]
    unanchored = provenance_proof(2) | {"anchor": None}
    assert not verify_entry_proof(unanchored, client=chain, anchor_address=address)[0]


def test_the_api_lists_shows_and_proves_entries(client, deployed, chain, snapshot):
    append(3, subject="pkg-a")
    append(2, subject="pkg-b", kind="instantiate")
    provenance_anchor_pending()
    index(chain)

    page = client.get("/api/v1/provenance").json()
    assert (page["total"], page["page"], page["pages"]) == (5, 1, 1)
    assert [e["seq"] for e in page["items"]] == [1, 2, 3, 4, 5]
    by_subject = client.get("/api/v1/provenance", {"subject": "pkg-b"}).json()
    assert [e["seq"] for e in by_subject["items"]] == [4, 5]
    by_kind = client.get("/api/v1/provenance", {"kind": "decision"}).json()
    assert by_kind["total"] == 3
    assert client.get("/api/v1/provenance", {"page": "0"}).status_code == 400

    entry = client.get("/api/v1/provenance/4").json()
    assert entry["kind"] == "instantiate"
    assert entry["anchor"]["from_seq"] == 1
    assert entry["entry_hash"] == entry_hash(entry)
    assert client.get("/api/v1/provenance/99").status_code == 404
    not_a_number = client.get("/api/v1/provenance/abc")
    assert not_a_number.status_code == 400
    assert set(not_a_number.json()["fields"]) == {"seq"}

    proof = client.get("/api/v1/provenance/4/proof").json()
    assert proof["state"] == "anchored"
    ok, reason = verify_entry_proof(proof, client=chain, anchor_address=deployed["ProvenanceAnchor"])
    assert ok, reason
    document = client.get("/api/schema").json()
    assert {"/api/v1/provenance", "/api/v1/provenance/{seq}", "/api/v1/provenance/{seq}/proof"} <= set(
        document["paths"]
    )


def test_gas_per_anchored_entry_at_the_default_batch_size(deployed, chain, snapshot, record_property):
    batch = 1024
    append(batch)
    before = chain.w3.eth.block_number
    assert provenance_anchor_pending(max_entries=batch) == batch
    receipt = chain.w3.eth.get_transaction_receipt(ProvenanceEntry.objects.get(seq=1).anchor_tx_hash)
    assert receipt["blockNumber"] > before
    per_entry = receipt["gasUsed"] / batch
    record_property("anchor_gas", receipt["gasUsed"])
    print(f"anchor gas {receipt['gasUsed']} for {batch} entries: {per_entry:.1f} gas per entry")
    assert per_entry <= 200
