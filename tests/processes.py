"""Helpers for tests that run the marketplace as a user would: `manage.py` in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENT_VARS = ("MONGODB_URI", "ETH_RPC_URL", "OPERATOR_KEYSTORE", "OPERATOR_KEYSTORE_PASSWORD", "DJANGO_SECRET_KEY")


@dataclass
class Checkout:
    """The environment of a fresh checkout on embedded defaults, with its own var/ and ports."""

    var_dir: Path
    env: dict[str, str]

    @classmethod
    def fresh(cls, tmp_path: Path) -> Checkout:
        env = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
        env.update(
            NFVM_VAR_DIR=str(tmp_path / "var"),
            EMBEDDED_DB_PORT=str(free_port()),
            EMBEDDED_CHAIN_PORT=str(free_port()),
        )
        env.pop("DJANGO_SETTINGS_MODULE", None)
        return cls(var_dir=tmp_path / "var", env=env)

    @property
    def db_port(self) -> int:
        return int(self.env["EMBEDDED_DB_PORT"])

    @property
    def chain_port(self) -> int:
        return int(self.env["EMBEDDED_CHAIN_PORT"])

    def manage(self, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env | env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env | env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def recorded_pids(self) -> list[int]:
        run_dir = self.var_dir / "run"
        return [json.loads(p.read_text())["pid"] for p in sorted(run_dir.glob("*.json"))] if run_dir.exists() else []


def get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for_http(url: str, process: subprocess.Popen[str], timeout: float = 120) -> float:
    """Seconds until `url` answers; fails with the process output if it dies first."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise AssertionError(
                f"process exited with {process.returncode}:\n{process.stdout.read() if process.stdout else ''}"
            )
        try:
            get(url, timeout=2)
            return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def interrupt(process: subprocess.Popen[str], timeout: float = 90) -> str:
    """Ctrl-C the process, as a user would, and return everything it printed."""
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=timeout)
    return out


def worker_pids(var_dir: Path) -> set[int]:
    """The indexer workers (`manage.py index_chain`) of the marketplace whose var/ is `var_dir`."""
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                command = (proc / "cmdline").read_bytes().split(b"\0")
                if b"index_chain" in command and str(var_dir).encode() in (proc / "environ").read_bytes():
                    found.add(int(proc.name))
            except OSError:
                continue
    return found


@contextmanager
def worker_paused(var_dir: Path) -> Iterator[None]:
    """SIGSTOP the marketplace's indexer worker for the block, SIGCONT after. The worker's restart is what
    brings a killed embedded database back, so a test holds it to see the outage before it ends."""
    deadline = time.monotonic() + 30
    while not (paused := worker_pids(var_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert paused, "the indexer worker is not running"
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in paused:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent has not reaped it yet.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    """A TCP port free on the loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
