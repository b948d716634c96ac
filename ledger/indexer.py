"""The indexer: follows our contracts' events into MongoDB, confirmed, idempotent, resumable,
reorg-aware, and alert to a chain reset (another genesis) rather than trusting stale records.

Derived state (who registered what, licences, ...) is built by projectors from ChainEvent rows:
applied in chain order as each range is stored, and rebuilt from all remaining events after a reorg."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import IntegrityError, models
from django_mongodb_backend import transaction
from hexbytes import HexBytes
from web3.exceptions import BlockNotFound
from web3.types import RPCEndpoint

from ledger import artifacts
from ledger.client import ChainClient
from ledger.exceptions import ChainUnavailable, LedgerError
from ledger.models import ChainEvent, IndexedBlock, IndexerState
from ledger.offline.abi import AbiError, ContractAbi, to_checksum_address
from ledger.selectors import deployments_for

log = logging.getLogger(__name__)
Projector = Callable[[ChainEvent], None]
BatchProjector = Callable[[list[ChainEvent]], None]
M = TypeVar("M", bound=models.Model)
KEEP_BLOCK_HASHES = 256
INT64_MAX = 2**63 - 1
REBUILD_CHUNK = 2000


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return HexBytes(value).to_0x_hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -INT64_MAX <= value <= INT64_MAX else str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


_generations = itertools.count(1)


@dataclass
class Projections:
    """Event name -> functions that fold events into derived state; `reset` empties it.

    A handler registered with `on` takes one event; one registered with `on_batch` takes a run of
    consecutive events of its kind at once (one query for many events) and must leave the same state
    as folding them one by one. Handlers of one kind must not depend on each other's order."""

    handlers: dict[tuple[str, str], list[Projector]] = field(default_factory=dict)
    batch_handlers: dict[tuple[str, str], list[BatchProjector]] = field(default_factory=dict)
    resets: list[Callable[[], None]] = field(default_factory=list)
    # Periodic work of the worker process beside indexing (e.g. anchoring queued registrations).
    ticks: list[Callable[[], None]] = field(default_factory=list)
    # Moves each time this process has folded events in (after their transaction commits) or rebuilt: what it
    # remembered of the projections is old then.
    generation: int = 0

    def on(self, contract: str, event: str) -> Callable[[Projector], Projector]:
        def register(fn: Projector) -> Projector:
            self.handlers.setdefault((contract, event), []).append(fn)
            return fn

        return register

    def on_batch(self, contract: str, event: str) -> Callable[[BatchProjector], BatchProjector]:
        def register(fn: BatchProjector) -> BatchProjector:
            self.batch_handlers.setdefault((contract, event), []).append(fn)
            return fn

        return register

    def apply(self, event: ChainEvent) -> None:
        self.apply_all([event])

    def apply_all(self, events: Iterable[ChainEvent]) -> None:
        """Fold events in their chain order: each run of consecutive events of one kind goes to that
        kind's handlers before the next run, so a later event always lands after an earlier one."""
        for key, group in itertools.groupby(events, key=lambda e: (e.contract, e.event)):
            run = list(group)
            for batch_fn in self.batch_handlers.get(key, []):
                batch_fn(run)
            for fn in self.handlers.get(key, []):
                for event in run:
                    fn(event)

    def moved(self) -> None:
        """The projections changed: `generation` moves (next() on a shared counter is atomic under threads)."""
        self.generation = next(_generations)

    def rebuild(self) -> None:
        """Empty the derived records and fold every stored event in again, chain by chain."""
        self.moved()
        for reset in self.resets:
            reset()
        ordered = ChainEvent.objects.order_by("chain_id", "block_number", "log_index").iterator(
            chunk_size=REBUILD_CHUNK
        )
        while chunk := list(itertools.islice(ordered, REBUILD_CHUNK)):
            self.apply_all(chunk)
        self.moved()


def upsert_many(
    model: type[M], keys: Sequence[str], rows: Sequence[dict[str, Any]], *, keep_first: bool = False
) -> None:
    """`update_or_create` for many rows in two queries: read the ones that exist (by the unique
    `keys`, the last of which is looked up with `__in`), insert the others in one `insert_many`;
    existing ones (rare: a projection replayed) are updated one by one. Rows are applied in order,
    so of two rows with one key the later wins, as one by one; with `keep_first`, the first row of a
    key wins and an existing row is left as it is."""
    if not rows:
        return
    *fixed, varying = keys
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        if keep_first and key in latest:
            continue
        latest[key] = {**latest.get(key, {}), **row}
    lookup: dict[str, Any] = {f"{varying}__in": sorted({key[-1] for key in latest})}
    for i, name in enumerate(fixed):
        lookup[f"{name}__in"] = sorted({key[i] for key in latest})
    existing = {tuple(getattr(obj, k) for k in keys): obj for obj in model._default_manager.filter(**lookup)}
    created: list[M] = []
    for key, row in latest.items():
        found = existing.get(key)
        if found is None:
            created.append(model(**row))
            continue
        if keep_first:
            continue
        for name, value in row.items():
            setattr(found, name, value)
        found.save(update_fields=[name for name in row if name not in keys])
    if created:
        model._default_manager.bulk_create(created)


@dataclass(frozen=True)
class StepResult:
    indexed_to: int
    events: int
    reorged_from: int | None = None
    reset: bool = False


class Indexer:
    """Indexes a range of confirmed blocks per step: one eth_getLogs over all our contracts, one
    block header, and a handful of store round trips for the whole range (events in one
    `insert_many`, projections by runs of one event kind, the checkpoint moved once), all in one
    transaction, so a crash part-way leaves the range as if it was never started."""

    def __init__(
        self, client: ChainClient, projections: Projections, *, confirmations: int = 1, batch_blocks: int = 2000
    ) -> None:
        self.client = client
        self.projections = projections
        self.confirmations = confirmations
        self.batch_blocks = batch_blocks
        # Logs are decoded with ledger.offline.abi from the node's raw answer: web3's formatters and event
        # objects cost milliseconds per log, more than storing it.
        self._abis: dict[str, ContractAbi] = {}

    def _contracts(self, chain: Any) -> dict[str, tuple[str, str, ContractAbi]]:
        """Our deployed contracts on this chain: address (lowercase) -> (name, address, ABI)."""
        found: dict[str, tuple[str, str, ContractAbi]] = {}
        for d in deployments_for(chain):
            if d.name not in self._abis:
                self._abis[d.name] = ContractAbi(artifacts.load(d.name).abi)
            found[d.address.lower()] = (d.name, to_checksum_address(d.address), self._abis[d.name])
        return found

    def step(self) -> StepResult:
        """Index what became confirmed since the last step."""
        chain = self.client.status()
        state = IndexerState.objects.filter(chain_id=chain.chain_id).first()
        if state is None:
            # Nothing of ours exists before the first deployment: start there, not at genesis.
            first = min((d.block_number for d in deployments_for(chain)), default=0)
            state = IndexerState.objects.create(
                chain_id=chain.chain_id, genesis_hash=chain.genesis_hash, last_block=first - 1
            )
        if state.genesis_hash != chain.genesis_hash:
            if not state.reset_detected:
                state.reset_detected = True
                state.reset_detail = (
                    f"chain {chain.chain_id} now starts from genesis {chain.genesis_hash}, not {state.genesis_hash}: "
                    "the chain was reset; records indexed from the old chain are not proofs on this one"
                )
                state.save(update_fields=["reset_detected", "reset_detail", "updated_at"])
                log.error(state.reset_detail)
            return StepResult(state.last_block, 0, reset=True)
        recent = list(IndexedBlock.objects.filter(chain_id=state.chain_id).order_by("-number")[:KEEP_BLOCK_HASHES])
        reorged_from = self._unwind_reorg(state, recent)
        if reorged_from is not None:
            recent = [b for b in recent if b.number <= reorged_from]
        target = chain.latest_block - self.confirmations
        contracts = self._contracts(chain)
        if target <= state.last_block or not contracts:
            return StepResult(state.last_block, 0, reorged_from)
        start = state.last_block + 1
        end = min(target, start + self.batch_blocks - 1)
        logs = self._logs(start, end, [address for _, address, _ in contracts.values()])
        end_hash = HexBytes(self.client.call(lambda: self.client.w3.eth.get_block(end))["hash"]).to_0x_hex()
        count = self._store(state, contracts, logs, start, end, end_hash, recent)
        return StepResult(end, count, reorged_from)

    def _logs(self, start: int, end: int, addresses: list[str]) -> list[dict[str, Any]]:
        """The node's raw eth_getLogs answer for our contracts over blocks start..end (one request)."""
        query = {"fromBlock": hex(start), "toBlock": hex(end), "address": addresses}
        answer = self.client.call(lambda: self.client.w3.provider.make_request(RPCEndpoint("eth_getLogs"), [query]))
        if answer.get("error") is not None or not isinstance(answer.get("result"), list):
            raise LedgerError(
                f"chain node at {self.client.display_url} answered eth_getLogs for blocks {start}-{end} "
                f"with {answer.get('error') or answer.get('result')!r}"
            )
        logs: list[dict[str, Any]] = answer["result"]
        return logs

    def _events(
        self, chain_id: int, contracts: dict[str, tuple[str, str, ContractAbi]], logs: list[dict[str, Any]]
    ) -> list[ChainEvent]:
        events: list[ChainEvent] = []
        for entry in logs:
            found = contracts.get(str(entry["address"]).lower())
            if found is None or entry.get("removed"):
                continue
            contract_name, address, abi = found
            try:
                decoded = abi.decode_log(
                    [bytes.fromhex(t[2:]) for t in entry["topics"]], bytes.fromhex(entry["data"][2:])
                )
            except (AbiError, ValueError) as exc:
                raise LedgerError(
                    f"log {entry['logIndex']} of transaction {entry['transactionHash']} from {contract_name} "
                    f"does not decode with its ABI: {exc}"
                ) from exc
            if decoded is None:
                continue
            name, args = decoded
            events.append(
                ChainEvent(
                    chain_id=chain_id,
                    contract=contract_name,
                    address=address,
                    event=name,
                    block_number=int(entry["blockNumber"], 16),
                    block_hash=str(entry["blockHash"]).lower(),
                    tx_hash=str(entry["transactionHash"]).lower(),
                    log_index=int(entry["logIndex"], 16),
                    args=_jsonable(args),
                )
            )
        # The node answers in chain order already; sorting makes it a guarantee for the projections.
        events.sort(key=lambda e: (e.block_number, e.log_index))
        return events

    def _store(
        self,
        state: IndexerState,
        contracts: dict[str, tuple[str, str, ContractAbi]],
        logs: list[dict[str, Any]],
        start: int,
        end: int,
        end_hash: str,
        recent: list[IndexedBlock],
    ) -> int:
        events = self._events(state.chain_id, contracts, logs)
        # Block hashes to notice a reorg: the blocks that carry events and the range's last block,
        # of which only the newest KEEP_BLOCK_HASHES (with those recorded before) are kept.
        hashes = {e.block_number: e.block_hash for e in events}
        hashes[end] = end_hash
        keep = sorted({*hashes, *(b.number for b in recent)}, reverse=True)[:KEEP_BLOCK_HASHES]
        floor = keep[-1]
        with transaction.atomic():
            if events:
                # Indexed before a crash that lost the checkpoint (it cannot, in one transaction, but a
                # store restored from a backup can): stay idempotent. The unique index is the last guard.
                stored = set(
                    ChainEvent.objects.filter(
                        chain_id=state.chain_id, block_number__gte=start, block_number__lte=end
                    ).values_list("tx_hash", "log_index")
                )
                events = [e for e in events if (e.tx_hash, e.log_index) not in stored]
                ChainEvent.objects.bulk_create(events)
                self.projections.apply_all(events)
            IndexedBlock.objects.filter(chain_id=state.chain_id, number__gte=start, number__lte=end).delete()
            IndexedBlock.objects.bulk_create(
                IndexedBlock(chain_id=state.chain_id, number=number, hash=block_hash)
                for number, block_hash in hashes.items()
                if number >= floor
            )
            state.last_block = end
            state.save(update_fields=["last_block", "updated_at"])
        if events:
            self.projections.moved()  # committed: what this process remembered of them is old
        if len(recent) + len(hashes) > KEEP_BLOCK_HASHES:
            IndexedBlock.objects.filter(chain_id=state.chain_id, number__lt=floor).delete()
        return len(events)

    def _block_hash(self, number: int) -> str | None:
        """The canonical hash at `number`, or None when the chain is shorter now."""

        def fetch() -> str | None:
            try:
                return HexBytes(self.client.w3.eth.get_block(number)["hash"]).to_0x_hex()
            except BlockNotFound:
                return None

        return self.client.call(fetch)

    def _unwind_reorg(self, state: IndexerState, recent: list[IndexedBlock]) -> int | None:
        """If blocks we indexed (`recent`, newest first) are no longer canonical, drop everything after
        the last common block and rebuild the projections; returns that block's number, or None."""
        if not recent:
            return None
        ancestor: int | None = None
        for block in recent:
            if self._block_hash(block.number) == block.hash:
                ancestor = block.number
                break
        if ancestor == recent[0].number:
            return None
        floor = ancestor if ancestor is not None else -1
        log.warning("chain %s reorganised: re-indexing after block %s", state.chain_id, floor)
        with transaction.atomic():
            ChainEvent.objects.filter(chain_id=state.chain_id, block_number__gt=floor).delete()
            IndexedBlock.objects.filter(chain_id=state.chain_id, number__gt=floor).delete()
            state.last_block = floor
            state.reorgs += 1
            state.save(update_fields=["last_block", "reorgs", "updated_at"])
            self.projections.rebuild()
        return floor

    def run_forever(
        self,
        *,
        poll_s: float,
        stop: Callable[[], bool] = lambda: False,
        on_unavailable: Callable[[], None] = lambda: None,
    ) -> None:
        """Index and run the ticks until `stop()`; `on_unavailable` runs each time the chain node does not
        answer (the worker starts an embedded node again there)."""
        backoff = poll_s
        while not stop():
            try:
                result = self.step()
                for tick in self.projections.ticks:
                    # One tick failing (say, the operator out of funds for a relay) stops none of the others.
                    try:
                        tick()
                    except (LedgerError, IntegrityError) as exc:
                        log.exception("tick %s failed: %s", getattr(tick, "__name__", tick), exc)
                backoff = poll_s
                if result.events:
                    log.info("indexed %s event(s) up to block %s", result.events, result.indexed_to)
                caught_up = result.reset or result.events == 0
            except ChainUnavailable as exc:
                log.warning("%s; retrying in %.0f s", exc, backoff)
                on_unavailable()
                caught_up, backoff = True, min(backoff * 2, 30.0)
            except (LedgerError, IntegrityError) as exc:
                log.exception("indexer step failed: %s", exc)
                caught_up, backoff = True, min(backoff * 2, 30.0)
            if caught_up:
                time.sleep(backoff)
