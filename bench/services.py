"""Throwaway anvil and SecantusDB for a benchmark, and a worker process with Django pointed at them.

Measurements run in that worker so nothing touches the checkout's var/ or its running services."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from config import embedded
from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENT_VARS = ("MONGODB_URI", "MONGODB_NAME", "ETH_RPC_URL", "OPERATOR_KEYSTORE", "OPERATOR_KEYSTORE_PASSWORD")
# Throwaway values for throwaway services; they protect nothing.
KEYSTORE_PASSWORD = "bench-only"  # noqa: S105


def run_worker(module: str, *, db_on_disk: bool, timeout_s: float) -> dict[str, float]:
    """Start the services, run `python -m module` against them, stop both; the worker prints its
    metrics as JSON on its last line of standard output."""
    tmp = Path(tempfile.mkdtemp(prefix=f"nfvm-{module.replace('.', '-')}-"))
    db = embedded.database_service(
        port=free_port(),
        storage=str(tmp / "db") if db_on_disk else ":memory:",
        log_path=tmp / "db.log",
        pid_path=None,
    )
    chain = embedded.chain_service(
        port=free_port(), chain_id=31337, state_path=None, log_path=tmp / "chain.log", pid_path=None
    )
    started: list[embedded.Service] = []
    try:
        for service in (db, chain):
            embedded.start(service)
            started.append(service)
        from eth_account import Account

        # Few pbkdf2 rounds keep the keystore's decryption out of the measured start-up.
        keystore = Account.encrypt(
            bytes.fromhex(embedded.ANVIL_DEV_KEYS[0][2:]), KEYSTORE_PASSWORD, kdf="pbkdf2", iterations=1024
        )
        (tmp / "operator.json").write_text(json.dumps(keystore))
        env = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            MONGODB_URI=f"mongodb://127.0.0.1:{db.port}/?directConnection=true",
            MONGODB_NAME="nfvm_bench",
            ETH_RPC_URL=f"http://127.0.0.1:{chain.port}",
            OPERATOR_KEYSTORE=str(tmp / "operator.json"),
            OPERATOR_KEYSTORE_PASSWORD=KEYSTORE_PASSWORD,
            DJANGO_SECRET_KEY="bench-secret-key-not-for-production-0123456789",  # noqa: S106
            NFVM_VAR_DIR=str(tmp / "var"),
            UPLOAD_TMP_DIR=str(tmp / "var" / "tmp"),
            STATIC_ROOT=str(tmp / "var" / "staticfiles"),
            LOG_LEVEL="WARNING",
            NFVM_BENCH_TMP=str(tmp),
        )
        done = subprocess.run(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{module} worker exited with {done.returncode}:\n{done.stdout[-4000:]}")
        results: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        return results
    finally:
        while started:
            embedded.stop(started.pop())
        shutil.rmtree(tmp, ignore_errors=True)
