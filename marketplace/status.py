"""Whether the marketplace can work: the database, the chain node and the deployed contracts, each with
what is wrong and how to fix it (/healthz and the home page show it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pymongo
from django.conf import settings
from django.db import connection
from pymongo.errors import PyMongoError

from ledger.client import ChainStatus, get_chain_client
from ledger.exceptions import LedgerError
from ledger.offline.redact import redact_url
from ledger.selectors import deployments_for


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    ok: bool
    where: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class ContractStatus:
    name: str
    address: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class SystemStatus:
    database: ComponentStatus
    chain: ComponentStatus
    contracts: ComponentStatus
    chain_id: int | None = None
    latest_block: int | None = None
    genesis_hash: str | None = None
    deployments: list[ContractStatus] = field(default_factory=list)

    @property
    def components(self) -> tuple[ComponentStatus, ComponentStatus, ComponentStatus]:
        return (self.database, self.chain, self.contracts)

    @property
    def ok(self) -> bool:
        return self.database.ok and self.chain.ok and self.contracts.ok

    @property
    def pin_command(self) -> str | None:
        """What a user runs once to trust this chain's contracts in `nfvm verify` (ledger.offline.trust);
        the addresses are this server's claim, to be checked out of band first."""
        found = {d.name: d.address for d in self.deployments if d.ok}
        if self.chain_id is None or "PackageRegistry" not in found:
            return None
        anchor = f" --anchor {found['ProvenanceAnchor']}" if "ProvenanceAnchor" in found else ""
        return f"nfvm trust pin --chain-id {self.chain_id} --registry {found['PackageRegistry']}{anchor}"

    def as_dict(self) -> dict[str, object]:
        def component(c: ComponentStatus) -> dict[str, object]:
            out: dict[str, object] = {"ok": c.ok, "where": c.where, "detail": c.detail}
            if not c.ok:
                out["fix"] = c.fix
            return out

        return {
            "status": "ok" if self.ok else "degraded",
            "database": component(self.database),
            "chain": component(self.chain)
            | {"chain_id": self.chain_id, "latest_block": self.latest_block, "genesis_hash": self.genesis_hash},
            "contracts": component(self.contracts)
            | {"deployed": {d.name: {"address": d.address, "ok": d.ok, "detail": d.detail} for d in self.deployments}},
        }


def _database_status() -> ComponentStatus:
    where = redact_url(settings.MONGODB_URI)
    name = "database"
    try:
        with pymongo.timeout(settings.DB_TIMEOUT_MS / 1000):
            connection.ensure_connection()
            connection.database.command("ping")  # type: ignore[attr-defined]
    except PyMongoError as exc:
        if settings.EMBEDDED_DB:
            fix = (
                "The embedded database is not running for this checkout. Start the marketplace with "
                f"`make run`; if it fails, read {settings.VAR_DIR / 'log' / 'db.log'}."
            )
        else:
            fix = "Check that MONGODB_URI names a running MongoDB server that this host can reach."
        return ComponentStatus(name, False, where, f"unreachable: {_first_line(exc)}", fix)
    embedded = "embedded SecantusDB" if settings.EMBEDDED_DB else "MongoDB"
    return ComponentStatus(name, True, where, f"reachable ({embedded}, database {settings.MONGODB_NAME!r})")


def _chain_status() -> tuple[ComponentStatus, ChainStatus | None]:
    client = get_chain_client()
    try:
        status = client.status()
    except LedgerError as exc:
        if settings.EMBEDDED_CHAIN:
            fix = (
                "The embedded chain node (anvil) is not running for this checkout. Start the marketplace "
                f"with `make run`; if it fails, read {settings.VAR_DIR / 'log' / 'chain.log'}."
            )
        else:
            fix = "Check that ETH_RPC_URL names a running Ethereum JSON-RPC node that this host can reach."
        return ComponentStatus("chain", False, client.display_url, str(exc), fix), None
    kind = "embedded anvil" if settings.EMBEDDED_CHAIN else "external node"
    detail = f"reachable ({kind}, chain id {status.chain_id}, block {status.latest_block})"
    return ComponentStatus("chain", True, client.display_url, detail), status


def _contracts_status(chain: ChainStatus | None, database_ok: bool) -> tuple[ComponentStatus, list[ContractStatus]]:
    where = f"chain {chain.chain_id}" if chain else "unknown chain"
    if chain is None or not database_ok:
        return ComponentStatus(
            "contracts",
            False,
            where,
            "unknown until the database and chain answer",
            "Fix the database and chain first.",
        ), []
    client = get_chain_client()
    found: list[ContractStatus] = []
    try:
        deployments = deployments_for(chain)
        for d in deployments:
            code = client.code_at(d.address)
            found.append(
                ContractStatus(d.name, d.address, bool(code), "deployed" if code else "no code at this address")
            )
    except (LedgerError, PyMongoError) as exc:
        return ComponentStatus(
            "contracts",
            False,
            where,
            f"cannot read deployments: {_first_line(exc)}",
            "Retry; check the database and chain.",
        ), found
    if not deployments:
        return ComponentStatus(
            "contracts",
            False,
            where,
            "not deployed on this chain",
            "Run `python manage.py deploy_contracts` (make run does it).",
        ), found
    missing = [c.name for c in found if not c.ok]
    if missing:
        return ComponentStatus(
            "contracts",
            False,
            where,
            f"recorded but without code on chain: {', '.join(missing)}",
            "The chain was reset; run `python manage.py deploy_contracts` to deploy again.",
        ), found
    return ComponentStatus("contracts", True, where, f"{len(found)} deployed"), found


def system_status() -> SystemStatus:
    """Whether the database, the chain and our contracts are usable, and where each was looked for."""
    database = _database_status()
    chain, chain_status = _chain_status()
    contracts, deployments = _contracts_status(chain_status, database.ok)
    return SystemStatus(
        database=database,
        chain=chain,
        contracts=contracts,
        chain_id=chain_status.chain_id if chain_status else None,
        latest_block=chain_status.latest_block if chain_status else None,
        genesis_hash=chain_status.genesis_hash if chain_status else None,
        deployments=deployments,
    )


# Every page's banner asks whether anything is down; each process probes at most this often (a page served
# while the chain is down costs one refused connection every few seconds, not one per request).
OUTAGE_RECHECK_S = 2.0
_probed: dict[tuple[str, str], tuple[float, list[ComponentStatus]]] = {}
_probing = threading.Lock()


def outages() -> list[ComponentStatus]:
    """The components down right now (the database, the chain node), each with what is wrong and how to fix it;
    empty when both answer. Probed at most every OUTAGE_RECHECK_S per process."""
    key = (settings.MONGODB_URI, settings.ETH_RPC_URL)
    now = time.monotonic()
    recent = _probed.get(key)
    if recent is not None and now - recent[0] < OUTAGE_RECHECK_S:
        return recent[1]
    with _probing:
        recent = _probed.get(key)
        if recent is not None and time.monotonic() - recent[0] < OUTAGE_RECHECK_S:
            return recent[1]
        down = [c for c in (_database_status(), _chain_status()[0]) if not c.ok]
        _probed[key] = (time.monotonic(), down)
        return down


def outage_seen(exc: BaseException) -> None:
    """A request met an outage: the next banner probes again rather than trust a probe from before it."""
    _probed.pop((settings.MONGODB_URI, settings.ETH_RPC_URL), None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 240 else line[:240] + "..."
