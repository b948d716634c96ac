"""The indexer's ranges on a real anvil and store: many events of several contracts in one step, a
crash part-way through a range, and the bounded record of block hashes."""

from __future__ import annotations

import hashlib

import pytest
from web3 import HTTPProvider, Web3

from ledger import artifacts
from ledger.indexer import KEEP_BLOCK_HASHES, Indexer, Projections, upsert_many
from ledger.models import ChainEvent, IndexedBlock, IndexerState, PackageAnchor, ProvenanceRange
from ledger.projections import projections as real
from ledger.provenance_anchor import ProvenanceAnchor
from ledger.registry import PackageRegistry
from tests.factories import claim_line

pytestmark = pytest.mark.django_db


class Crash(Exception):
    """A projection failing part-way through a range, as a bug or a lost store connection would."""


@pytest.fixture
def registry(deployed, chain, snapshot):
    return chain.bound(artifacts.load("PackageRegistry"), deployed["PackageRegistry"])


def register(chain, registry, account, label: str, version: int) -> str:
    digest = hashlib.sha256(label.encode()).digest()
    line = Web3.keccak(text="acme/batch")
    claim_line(chain, PackageRegistry(chain, registry.address), account, line)
    fn = registry.functions.register(digest, line, version, hashlib.sha256(b"d").digest())
    chain.send(account, fn)
    return "0x" + digest.hex()


def anchor_range(chain, deployed, operator, from_seq: int, to_seq: int) -> None:
    anchor = ProvenanceAnchor(chain, deployed["ProvenanceAnchor"])
    tx = anchor.anchor(operator.address, from_seq, to_seq, hashlib.sha256(f"{from_seq}".encode()).digest())
    chain.transact(operator, tx, abi=anchor.abi)


def copy_of_real() -> Projections:
    """The marketplace's projections, in a registry of their own that a test may add to."""
    return Projections(
        handlers={k: list(v) for k, v in real.handlers.items()},
        batch_handlers={k: list(v) for k, v in real.batch_handlers.items()},
        resets=list(real.resets),
    )


def derived_state() -> tuple[list[tuple[str, int, int]], list[tuple[str, int]], list[tuple[int, int]], int]:
    events = [(e.event, e.block_number, e.log_index) for e in ChainEvent.objects.order_by("block_number", "log_index")]
    anchors = sorted((a.digest, a.block_number) for a in PackageAnchor.objects.all())
    ranges = sorted((r.from_seq, r.to_seq) for r in ProvenanceRange.objects.all())
    return events, anchors, ranges, IndexerState.objects.get().last_block


def test_it_indexes_many_events_of_several_contracts_in_one_step(chain, registry, deployed, developer, operator):
    digests = [register(chain, registry, developer, f"many-{i}", i + 1) for i in range(12)]
    anchor_range(chain, deployed, operator, 1, 4)
    anchor_range(chain, deployed, operator, 5, 9)

    result = Indexer(chain, real, confirmations=0).step()

    stored = list(ChainEvent.objects.order_by("block_number", "log_index"))
    assert result.events == len(stored) >= 14
    assert {e.contract for e in stored} == {"PackageRegistry", "ProvenanceAnchor"}
    assert [e.args["digest"] for e in stored if e.event == "PackageRegistered"] == digests
    assert sorted(a.digest for a in PackageAnchor.objects.all()) == sorted(digests)
    assert sorted((r.from_seq, r.to_seq) for r in ProvenanceRange.objects.all()) == [(1, 4), (5, 9)]
    assert IndexerState.objects.get().last_block == result.indexed_to == chain.w3.eth.block_number
    assert Indexer(chain, real, confirmations=0).step().events == 0


def test_a_crash_part_way_through_a_range_leaves_nothing_and_a_rerun_converges(
    chain, registry, deployed, developer, operator
):
    for i in range(5):
        register(chain, registry, developer, f"crash-{i}", i + 1)
    anchor_range(chain, deployed, operator, 1, 3)
    crashing = copy_of_real()
    seen: list[str] = []

    def crash_on_the_third(event: ChainEvent) -> None:
        seen.append(event.args["digest"])
        if len(seen) == 3:
            raise Crash("the store went away")

    crashing.on("PackageRegistry", "PackageRegistered")(crash_on_the_third)
    before = IndexerState.objects.filter().first()

    with pytest.raises(Crash):
        Indexer(chain, crashing, confirmations=0).step()

    # The registrations' anchors were written by then, in the same transaction: none survives.
    assert ChainEvent.objects.count() == 0
    assert PackageAnchor.objects.count() == 0
    assert ProvenanceRange.objects.count() == 0
    assert IndexedBlock.objects.count() == 0
    state = IndexerState.objects.get()
    assert before is None or state.last_block == before.last_block
    first_block = state.last_block

    Indexer(chain, real, confirmations=0).step()
    after_rerun = derived_state()
    # The same range indexed from scratch by a process that never crashed gives the same records.
    ChainEvent.objects.all().delete()
    IndexedBlock.objects.all().delete()
    for reset in real.resets:
        reset()
    IndexerState.objects.update(last_block=first_block)
    Indexer(chain, real, confirmations=0).step()

    assert derived_state() == after_rerun
    assert len(after_rerun[1]) == 5
    assert after_rerun[2] == [(1, 3)]


def test_it_keeps_only_the_newest_block_hashes(chain, registry, developer):
    projections = Projections()
    register(chain, registry, developer, "old", 1)
    Indexer(chain, projections, confirmations=0).step()
    # Mining ~300 blocks can outlast the client's 3 s read timeout on a loaded machine: ask with a longer one.
    HTTPProvider(chain.rpc_url, request_kwargs={"timeout": 60}).make_request(
        "anvil_mine", [hex(KEEP_BLOCK_HASHES + 40)]
    )
    register(chain, registry, developer, "new", 2)

    result = Indexer(chain, projections, confirmations=0).step()

    numbers = sorted(IndexedBlock.objects.values_list("number", flat=True))
    assert len(numbers) <= KEEP_BLOCK_HASHES
    assert numbers[-1] == result.indexed_to
    assert (
        IndexedBlock.objects.get(number=result.indexed_to).hash
        == chain.w3.eth.get_block(result.indexed_to)["hash"].to_0x_hex()
    )


def test_a_reorg_after_a_batched_range_unwinds_to_the_common_block(chain, registry, developer):
    digests: list[str] = []
    projections = Projections()
    projections.on_batch("PackageRegistry", "PackageRegistered")(
        lambda events: digests.extend(e.args["digest"] for e in events)
    )
    projections.resets.append(digests.clear)
    kept = register(chain, registry, developer, "kept", 1)
    indexer = Indexer(chain, projections, confirmations=0)
    indexer.step()
    fork_point = chain.w3.provider.make_request("evm_snapshot", [])["result"]
    for i in range(3):
        register(chain, registry, developer, f"orphaned-{i}", i + 2)
    indexer.step()
    assert len(digests) == 4

    chain.w3.provider.make_request("evm_revert", [fork_point])
    chain.w3.provider.make_request("anvil_mine", ["0x5"])
    canonical = register(chain, registry, developer, "canonical", 2)
    result = indexer.step()

    assert result.reorged_from is not None
    assert digests == [kept, canonical]
    registered = ChainEvent.objects.filter(event="PackageRegistered").order_by("block_number")
    assert [e.args["digest"] for e in registered] == [kept, canonical]


def test_upsert_many_inserts_new_rows_updates_existing_ones_and_lets_the_later_row_win():
    common = {"registry": "0x" + "11" * 20, "publisher": "0x" + "22" * 20, "name_hash": "0x" + "33" * 32}
    common |= {"version_number": "1", "descriptor_digest": "0x" + "44" * 32, "tx_hash": "0x" + "55" * 32}
    PackageAnchor.objects.create(chain_id=1, digest="0xold", block_number=1, status="active", **common)

    upsert_many(
        PackageAnchor,
        ("chain_id", "digest"),
        [
            {"chain_id": 1, "digest": "0xold", "block_number": 5, "status": "revoked", **common},
            {"chain_id": 1, "digest": "0xnew", "block_number": 6, "status": "active", **common},
            {"chain_id": 2, "digest": "0xold", "block_number": 7, "status": "active", **common},
            {"chain_id": 1, "digest": "0xnew", "block_number": 8, "status": "deprecated", **common},
        ],
    )

    rows = {(a.chain_id, a.digest): (a.block_number, a.status) for a in PackageAnchor.objects.all()}
    assert rows == {(1, "0xold"): (5, "revoked"), (1, "0xnew"): (8, "deprecated"), (2, "0xold"): (7, "active")}
