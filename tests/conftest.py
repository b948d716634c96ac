from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from config.embedded import ANVIL_DEV_KEYS
from ledger.client import ChainClient, get_chain_client
from ledger.services import contracts_deploy
from ledger.signer import operator_account

ROOT = Path(__file__).resolve().parent.parent
SHARED_TESTDATA = ROOT.parent / "shared" / "testdata"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))


@pytest.fixture(scope="session")
def chain() -> ChainClient:
    return get_chain_client()


@pytest.fixture(scope="session")
def operator() -> LocalAccount:
    return operator_account()


@pytest.fixture(scope="session")
def developer() -> LocalAccount:
    account: LocalAccount = Account.from_key(ANVIL_DEV_KEYS[1])
    return account


@pytest.fixture(scope="session")
def stranger() -> LocalAccount:
    account: LocalAccount = Account.from_key(ANVIL_DEV_KEYS[2])
    return account


@pytest.fixture
def deployed(db: None, chain: ChainClient, operator: LocalAccount) -> dict[str, str]:
    """The marketplace contracts, deployed (or found) on the session's chain."""
    outcomes = contracts_deploy(client=chain, deployer=operator)
    return {o.deployment.name: o.deployment.address for o in outcomes}


@pytest.fixture
def snapshot(chain: ChainClient) -> Iterator[None]:
    """Revert the chain to its state before the test."""
    snap = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield
    chain.w3.provider.make_request("evm_revert", [snap])  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _clean_blobs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Blobs, seat counters and the provenance head are not Django models: the flush between tests misses them."""
    yield
    if {"db", "transactional_db"} & set(request.fixturenames) or request.node.get_closest_marker("django_db"):
        from django.conf import settings
        from django.db import connection

        from marketplace.contract_manager.provenance import HEAD, POSITIONS
        from marketplace.licensing.seats import SEATS
        from marketplace.repository import blobs
        from marketplace.repository.catalogue_stamp import STAMP_COLLECTION

        # The flush empties the packages without telling the catalogue index: a missing stamp does.
        collections = (f"{blobs.BUCKET}.files", f"{blobs.BUCKET}.chunks", blobs.LOCKS, SEATS, HEAD, POSITIONS)
        for name in (*collections, STAMP_COLLECTION):
            connection.database[name].delete_many({})  # type: ignore[attr-defined]
        shutil.rmtree(settings.BLOB_DIR, ignore_errors=True)
