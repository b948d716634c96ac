"""A fresh clone stays clean: installing the tools, running the marketplace and running tests
write only files the checkout ignores (the lock is installed with `npm ci`, never rewritten)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.processes import DEPLOYMENT_VARS, ROOT, free_port, interrupt, wait_for_http

pytestmark = pytest.mark.slow
SESSION_VARS = ("NFVM_VAR_DIR", "DJANGO_SETTINGS_MODULE", "MONGODB_NAME", "BLOB_STORE", "LINE_CLAIM_MIN_AGE_S")


def _git(*args: str, cwd: os.PathLike[str] | str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs git and a checkout")
def test_a_fresh_clone_stays_clean_after_install_run_and_tests(tmp_path):
    clone = tmp_path / "clone"
    _git("clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone), cwd=tmp_path)
    # The embedded defaults, as on a fresh machine: none of the test session's deployment settings.
    env = {k: v for k, v in os.environ.items() if k not in (*DEPLOYMENT_VARS, *SESSION_VARS)}
    env.update(EMBEDDED_DB_PORT=str(free_port()), EMBEDDED_CHAIN_PORT=str(free_port()))

    # The Makefile's own npm step: `npm ci` against the committed lock.
    npm = subprocess.run(
        ["make", "--no-print-directory", ".make/npm"], cwd=clone, env=env, capture_output=True, text=True, timeout=600
    )
    assert npm.returncode == 0, npm.stdout + npm.stderr
    assert _git("status", "--porcelain", cwd=clone) == "", "npm ci changed tracked files"

    # `make run` on the embedded defaults (the clone's own var/), until it serves, then Ctrl-C.
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--addr", f"127.0.0.1:{port}"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", server, timeout=240)
    finally:
        interrupt(server)
    assert (clone / "var").is_dir()
    assert _git("status", "--porcelain", cwd=clone) == "", "make run left files git does not ignore"

    # What `make test` writes: lint caches, pytest's cache, test artifacts.
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--quiet", "."], cwd=clone, env=env, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "tests/test_architecture.py", "tests/api/test_healthz.py"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert (clone / ".pytest_cache").is_dir()
    assert _git("status", "--porcelain", cwd=clone) == "", "the tests left files git does not ignore"
