"""Starts a throwaway SecantusDB and a fresh anvil for the test session, before Django loads.

Loaded with `-p tests.plugin` so it runs ahead of pytest-django's settings import. The
session uses the deployment code paths: MONGODB_URI, ETH_RPC_URL and an encrypted operator
keystore, never the checkout's var/.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from config import embedded
from tests.processes import free_port

_services: list[embedded.Service] = []
_tmp: Path | None = None
KEYSTORE_PASSWORD = "test-operator-password"
# anvil keeps the states it moves out of memory under this directory, one folder per run (several GB for
# this suite's thousands of blocks and snapshots), and leaves it behind when it stops: the run's own go.
ANVIL_STATES = Path.home() / ".foundry" / "anvil" / "tmp"
_anvil_states_before: set[str] = set()
_cleans_anvil_states = True


def _distributing(early_config: Any) -> bool:
    """This process hands the tests to pytest-xdist workers (`-n 2`, as `make test` runs): each worker starts its
    own database and chain node, so the controller needs none."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return False
    workers = getattr(early_config.known_args_namespace, "numprocesses", None)
    return workers not in (None, 0, "0")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: list[str]) -> None:
    global _tmp, _anvil_states_before, _cleans_anvil_states
    _tmp = Path(tempfile.mkdtemp(prefix="nfvm-test-"))
    distributing = _distributing(early_config)
    # anvil's leftovers are told apart by age: with workers, the controller, started before every worker's anvil
    # and stopped after all of them, removes them.
    _cleans_anvil_states = not os.environ.get("PYTEST_XDIST_WORKER")
    _anvil_states_before = set(os.listdir(ANVIL_STATES)) if ANVIL_STATES.is_dir() else set()
    db = embedded.database_service(port=free_port(), storage=":memory:", log_path=_tmp / "db.log", pid_path=None)
    chain = embedded.chain_service(
        port=free_port(), chain_id=31337, state_path=None, log_path=_tmp / "chain.log", pid_path=None
    )
    if not distributing:
        for service in (db, chain):
            embedded.start(service)
            _services.append(service)

    from eth_account import Account

    # The operator key on a non-embedded chain comes from a keystore; pbkdf2 with few rounds
    # keeps decryption fast in tests.
    keystore = Account.encrypt(
        bytes.fromhex(embedded.ANVIL_DEV_KEYS[0][2:]), KEYSTORE_PASSWORD, kdf="pbkdf2", iterations=1024
    )
    keystore_path = _tmp / "operator.json"
    keystore_path.write_text(json.dumps(keystore))

    os.environ.update(
        {
            "MONGODB_URI": f"mongodb://127.0.0.1:{db.port}/?directConnection=true",
            "MONGODB_NAME": "nfvm",
            "ETH_RPC_URL": f"http://127.0.0.1:{chain.port}",
            "OPERATOR_KEYSTORE": str(keystore_path),
            "OPERATOR_KEYSTORE_PASSWORD": KEYSTORE_PASSWORD,
            "DJANGO_SECRET_KEY": "test-secret-key-not-for-production-0123456789",
            "NFVM_VAR_DIR": str(_tmp / "var"),
            # The embedded default's blob store; tests/repository/test_blob_stores.py runs GridFS's too.
            "BLOB_STORE": "files",
            # One second between a line's commitment and its reveal: the suite claims many lines, and
            # test_line_claims deploys a registry of its own to check ENS's 60 s.
            "LINE_CLAIM_MIN_AGE_S": "1",
            # Every status answer decided afresh: tests change licences and chain time and ask again at once.
            # tests/licensing/test_licence_status.py checks the remembered answers themselves.
            "ENTITLEMENT_MAX_AGE_S": "0",
        }
    )


def pytest_unconfigure(config: Any) -> None:
    while _services:
        embedded.stop(_services.pop())
    if _cleans_anvil_states and ANVIL_STATES.is_dir():
        for name in set(os.listdir(ANVIL_STATES)) - _anvil_states_before:
            shutil.rmtree(ANVIL_STATES / name, ignore_errors=True)
    if _tmp is not None:
        shutil.rmtree(_tmp, ignore_errors=True)
