"""The indexer: follows our contracts' events into MongoDB, confirmed, idempotent, resumable,
reorg-aware, and alert to a chain reset (another genesis) rather than trusting stale records.

Derived state (who registered what, licences, ...) is built by projectors from ChainEvent rows:
applied per event as they arrive, and rebuilt from all remaining events after a reorg."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError
from django_mongodb_backend import transaction
from hexbytes import HexBytes
from web3.contract import Contract
from web3.exceptions import BlockNotFound
from web3.types import FilterParams, LogReceipt

from ledger import artifacts
from ledger.client import ChainClient
from ledger.exceptions import ChainUnavailable, LedgerError
from ledger.models import ChainEvent, IndexedBlock, IndexerState
from ledger.selectors import deployments_for

log = logging.getLogger(__name__)
Projector = Callable[[ChainEvent], None]
KEEP_BLOCK_HASHES = 256
INT64_MAX = 2**63 - 1


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


@dataclass
class Projections:
    """Event name -> functions that fold one event into derived state; `reset` empties it."""

    handlers: dict[tuple[str, str], list[Projector]] = field(default_factory=dict)
    resets: list[Callable[[], None]] = field(default_factory=list)
    # Periodic work of the worker process beside indexing (e.g. anchoring queued registrations).
    ticks: list[Callable[[], None]] = field(default_factory=list)

    def on(self, contract: str, event: str) -> Callable[[Projector], Projector]:
        def register(fn: Projector) -> Projector:
            self.handlers.setdefault((contract, event), []).append(fn)
            return fn

        return register

    def apply(self, event: ChainEvent) -> None:
        for fn in self.handlers.get((event.contract, event.event), []):
            fn(event)

    def rebuild(self) -> None:
        """Empty the derived records and fold every stored event in again, chain by chain."""
        for reset in self.resets:
            reset()
        for event in ChainEvent.objects.order_by("chain_id", "block_number", "log_index"):
            self.apply(event)


@dataclass(frozen=True)
class StepResult:
    indexed_to: int
    events: int
    reorged_from: int | None = None
    reset: bool = False


class Indexer:
    def __init__(
        self, client: ChainClient, projections: Projections, *, confirmations: int = 1, batch_blocks: int = 2000
    ) -> None:
        self.client = client
        self.projections = projections
        self.confirmations = confirmations
        self.batch_blocks = batch_blocks

    def _contracts(self, chain: Any) -> dict[str, tuple[str, Contract]]:
        """Our deployed contracts on this chain: address (lowercase) -> (name, binding)."""
        return {
            d.address.lower(): (d.name, self.client.bound(artifacts.load(d.name), d.address))
            for d in deployments_for(chain)
        }

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
        reorged_from = self._unwind_reorg(state)
        target = chain.latest_block - self.confirmations
        contracts = self._contracts(chain)
        if target <= state.last_block or not contracts:
            return StepResult(state.last_block, 0, reorged_from)
        start = state.last_block + 1
        end = min(target, start + self.batch_blocks - 1)
        logs = self.client.call(
            lambda: self.client.w3.eth.get_logs(
                FilterParams(fromBlock=start, toBlock=end, address=[c.address for _, c in contracts.values()])
            )
        )
        end_hash = HexBytes(self.client.call(lambda: self.client.w3.eth.get_block(end))["hash"]).to_0x_hex()
        count = self._store(state, contracts, logs, end, end_hash)
        return StepResult(end, count, reorged_from)

    def _store(
        self,
        state: IndexerState,
        contracts: dict[str, tuple[str, Contract]],
        logs: list[LogReceipt],
        end: int,
        end_hash: str,
    ) -> int:
        count = 0
        with transaction.atomic():
            for entry in logs:
                found = contracts.get(str(entry["address"]).lower())
                if found is None:
                    continue
                contract_name, contract = found
                decoded = self._decode(contract, entry)
                if decoded is None:
                    continue
                name, args = decoded
                event = ChainEvent(
                    chain_id=state.chain_id,
                    contract=contract_name,
                    address=contract.address,
                    event=name,
                    block_number=int(entry["blockNumber"]),
                    block_hash=HexBytes(entry["blockHash"]).to_0x_hex(),
                    tx_hash=HexBytes(entry["transactionHash"]).to_0x_hex(),
                    log_index=int(entry["logIndex"]),
                    args=_jsonable(dict(args)),
                )
                if ChainEvent.objects.filter(
                    chain_id=state.chain_id, tx_hash=event.tx_hash, log_index=event.log_index
                ).exists():
                    continue  # indexed before a crash that lost the checkpoint: stay idempotent
                event.save()
                IndexedBlock.objects.update_or_create(
                    chain_id=state.chain_id, number=event.block_number, defaults={"hash": event.block_hash}
                )
                self.projections.apply(event)
                count += 1
            IndexedBlock.objects.update_or_create(chain_id=state.chain_id, number=end, defaults={"hash": end_hash})
            state.last_block = end
            state.save(update_fields=["last_block", "updated_at"])
        stale = IndexedBlock.objects.filter(chain_id=state.chain_id).order_by("-number")[KEEP_BLOCK_HASHES:]
        old = [b.pk for b in stale]
        if old:
            IndexedBlock.objects.filter(pk__in=old).delete()
        return count

    @staticmethod
    def _decode(contract: Contract, entry: LogReceipt) -> tuple[str, Any] | None:
        topic = HexBytes(entry["topics"][0]) if entry["topics"] else None
        for abi in contract.abi:
            if abi.get("type") != "event":
                continue
            event_type = contract.events[str(abi.get("name"))]
            if topic is not None and HexBytes(event_type().topic) == topic:
                processed = event_type().process_log(entry)
                return str(processed["event"]), processed["args"]
        return None

    def _block_hash(self, number: int) -> str | None:
        """The canonical hash at `number`, or None when the chain is shorter now."""

        def fetch() -> str | None:
            try:
                return HexBytes(self.client.w3.eth.get_block(number)["hash"]).to_0x_hex()
            except BlockNotFound:
                return None

        return self.client.call(fetch)

    def _unwind_reorg(self, state: IndexerState) -> int | None:
        """If blocks we indexed are no longer canonical, drop everything after the last common
        block and rebuild the projections; returns that block's number, or None."""
        recent = list(IndexedBlock.objects.filter(chain_id=state.chain_id).order_by("-number")[:KEEP_BLOCK_HASHES])
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

    def run_forever(self, *, poll_s: float, stop: Callable[[], bool] = lambda: False) -> None:
        backoff = poll_s
        while not stop():
            try:
                result = self.step()
                for tick in self.projections.ticks:
                    tick()
                backoff = poll_s
                if result.events:
                    log.info("indexed %s event(s) up to block %s", result.events, result.indexed_to)
                caught_up = result.reset or result.events == 0
            except ChainUnavailable as exc:
                log.warning("%s; retrying in %.0f s", exc, backoff)
                caught_up, backoff = True, min(backoff * 2, 30.0)
            except (LedgerError, IntegrityError) as exc:
                log.exception("indexer step failed: %s", exc)
                caught_up, backoff = True, min(backoff * 2, 30.0)
            if caught_up:
                time.sleep(backoff)
