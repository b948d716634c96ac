"""The embedded defaults: a SecantusDB server and an anvil chain node as local processes.

When MONGODB_URI or ETH_RPC_URL is unset, `manage.py` calls `activate()` before Django
starts: it attaches to the embedded service already running for this `var/` (started by
`make run` or another command), or starts it for its own duration and stops it on exit.
Only processes started here are ever stopped here.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from config import env

ROOT = Path(__file__).resolve().parent.parent

# anvil's published development accounts (mnemonic "test test ... junk"); the first is the
# embedded operator. Never used when ETH_RPC_URL is set.
ANVIL_DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
)


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be started or reached; the message says how to fix it."""


@dataclass(frozen=True)
class Layout:
    """Where the embedded services keep their data and listen, from the environment."""

    var_dir: Path
    db_port: int
    chain_port: int
    chain_id: int

    @classmethod
    def from_env(cls) -> Layout:
        var_dir = Path(env.env_str("NFVM_VAR_DIR", str(ROOT / "var")) or "").expanduser().resolve()
        return cls(
            var_dir=var_dir,
            db_port=env.env_int("EMBEDDED_DB_PORT", 27217, minimum=1, maximum=65535),
            chain_port=env.env_int("EMBEDDED_CHAIN_PORT", 8545, minimum=1, maximum=65535),
            chain_id=env.env_int("EMBEDDED_CHAIN_ID", 31337, minimum=1),
        )

    @property
    def db_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.db_port}/?directConnection=true"

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.chain_port}"

    @property
    def chain_state(self) -> Path:
        """The embedded chain node's saved state (anvil's --state file)."""
        return self.var_dir / "chain" / "state.json"

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"


@dataclass
class Service:
    """One embedded server process: how to start it, and how to tell it is ready."""

    name: str
    argv: list[str]
    port: int
    ready: str  # "mongo" or "jsonrpc"
    log_path: Path
    pid_path: Path | None = None  # None: throwaway instance, never shared
    prepare: Callable[[], None] | None = field(default=None, repr=False)  # run before each start
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def is_ready(self) -> bool:
        if self.ready == "mongo":
            return _mongo_ready(self.port)
        return _jsonrpc_ready(self.port)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            return False
        # A connect to a free port of the ephemeral range can meet itself (TCP simultaneous open: the kernel picks
        # that very port as the source). That is no server: the port is free.
        return bool(sock.getsockname() != sock.getpeername())


def _mongo_ready(port: int) -> bool:
    if not _port_open(port):
        return False
    import pymongo

    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=300
    )
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


def _jsonrpc_ready(port: int) -> bool:
    if not _port_open(port):
        return False
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=0.5) as response:  # noqa: S310
            return "result" in json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False


def die_with_parent() -> None:
    """(In a child, before exec.) A service or worker started for one command must not outlive it, even
    after a kill -9 of the command."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    os.setsid()  # keep Ctrl-C for the owner, which stops services in order


def _ours(pid: int, service: Service) -> bool:
    """Whether `pid` is this service's program (its command line names the program), not a reused pid."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return Path(service.argv[0]).name in command


def _wait_gone(pid: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited; only its parent (here maybe one that never reaps) has not waited for it
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def start(service: Service, *, timeout: float = 60.0) -> None:
    service.log_path.parent.mkdir(parents=True, exist_ok=True)
    if service.prepare is not None:
        service.prepare()
    log = service.log_path.open("ab")
    try:
        service.process = subprocess.Popen(
            service.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            preexec_fn=die_with_parent,
        )
    except FileNotFoundError as exc:
        raise EmbeddedServiceError(
            f"cannot start the embedded {service.name}: {exc.filename} not found. Run `make install` "
            "(it creates .venv and installs the npm tools), or set "
            f"{'MONGODB_URI' if service.ready == 'mongo' else 'ETH_RPC_URL'} to use an external one."
        ) from exc
    finally:
        log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise EmbeddedServiceError(
                f"the embedded {service.name} exited with code {service.process.returncode} while "
                f"starting on 127.0.0.1:{service.port}. Its log, {service.log_path}, ends with:\n"
                f"{_tail(service.log_path)}"
            )
        if service.is_ready():
            if service.pid_path is not None:
                record = {"pid": service.process.pid, "port": service.port, "owner": os.getpid()}
                service.pid_path.write_text(json.dumps(record))
            return
        time.sleep(0.05)
    stop(service)
    raise EmbeddedServiceError(
        f"the embedded {service.name} did not answer on 127.0.0.1:{service.port} within {timeout:.0f} s; "
        f"see {service.log_path}:\n{_tail(service.log_path)}"
    )


def stop(service: Service, *, timeout: float = 15.0) -> None:
    process = service.process
    if process is None:
        return
    if process.poll() is None:
        process.terminate()  # both servers flush their state on SIGTERM
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    pid, service.process = process.pid, None
    if service.pid_path is not None:
        # Only its own record: another process may have started the service again since, and recorded that.
        with contextlib.suppress(FileNotFoundError, ValueError):
            if json.loads(service.pid_path.read_text()).get("pid") == pid:
                service.pid_path.unlink()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def database_service(*, port: int, storage: str, log_path: Path, pid_path: Path | None) -> Service:
    binary = Path(sys.executable).with_name("secantusd-py")
    return Service(
        name="database (SecantusDB)",
        argv=[
            str(binary) if binary.exists() else "secantusd-py",
            "--config",
            str(ROOT / "config" / "secantusd.toml"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            storage,
            "--log-level",
            "WARNING",
        ],
        port=port,
        ready="mongo",
        log_path=log_path,
        pid_path=pid_path,
    )


def anvil_binary() -> str:
    """anvil's own binary from this platform's npm package. Not node_modules/.bin/anvil: that is a Node.js
    launcher which runs the binary as its child, so a signal to the launcher's pid (a kill -9, the parent-death
    signal) would leave the chain node itself running."""
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine().lower(), platform.machine().lower())
    binary = ROOT / "node_modules" / "@foundry-rs" / f"anvil-{platform.system().lower()}-{machine}" / "bin" / "anvil"
    if binary.exists():
        return str(binary)
    launcher = ROOT / "node_modules" / ".bin" / "anvil"
    return shutil.which("anvil") or str(launcher)


def chain_service(
    *, port: int, chain_id: int, state_path: Path | None, log_path: Path, pid_path: Path | None
) -> Service:
    argv = [
        anvil_binary(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--silent",
    ]
    if state_path is not None:
        # Dumped on exit and every second, so a hard kill loses at most the last second's blocks (the indexer
        # reads a node that comes back behind as a reorganisation and unwinds what it had indexed).
        argv += ["--state", str(state_path), "--state-interval", "1", "--preserve-historical-states"]
    return Service(
        name="chain node (anvil)",
        argv=argv,
        port=port,
        ready="jsonrpc",
        log_path=log_path,
        pid_path=pid_path,
        prepare=None if state_path is None else (lambda: _usable_chain_state(state_path)),
    )


_states_kept: dict[Path, int] = {}  # state file -> the block of its last copy, in this process


def keep_chain_state(state_path: Path) -> None:
    """Copy the node's state file, when it is whole and holds a later block than the last copy, to
    `<state>.good` (written aside, then renamed): what a restart falls back to when a kill tore the file.
    The worker calls it every few seconds."""
    try:
        saved = state_path.read_bytes()
        block = int(json.loads(saved)["block"]["number"], 16)
    except (OSError, ValueError, KeyError, TypeError):
        return  # absent, or caught mid-write: the next call copies it
    if block <= _states_kept.get(state_path, -1):
        return
    good = state_path.with_name(state_path.name + ".good")
    partial = good.with_name(good.name + ".partial")
    partial.write_bytes(saved)
    partial.replace(good)
    _states_kept[state_path] = block


def _usable_chain_state(state_path: Path) -> None:
    """Keep a chain state that anvil can load. anvil rewrites its state file in place, so a kill -9 in the
    middle of a dump leaves a torn file it refuses to start from: that file is set aside and the last whole
    state copied (keep_chain_state, by the worker while the node runs, and here at each start) is used."""
    good = state_path.with_name(state_path.name + ".good")
    if not state_path.exists():
        return
    try:
        json.loads(state_path.read_bytes())
    except ValueError:
        torn = state_path.with_name(f"{state_path.name}.torn-{int(time.time())}")
        state_path.replace(torn)
        print(
            f"[warn] chain node: its state file was torn by a hard kill (kept as {torn.name}); starting from "
            f"the last complete state{'' if good.exists() else ' (none: a new chain)'}",
            file=sys.stderr,
        )
        if good.exists():
            shutil.copyfile(good, state_path)
        return
    keep_chain_state(state_path)


@contextlib.contextmanager
def file_locked(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` for the block, across this host's processes; the kernel frees it if the
    holder dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _attach_or_start(service: Service, env_var: str, port_var: str) -> bool:
    """Attach to this var/'s running instance, or start one. True when started here."""
    assert service.pid_path is not None
    if service.pid_path.exists():
        try:
            recorded = json.loads(service.pid_path.read_text())
        except ValueError:
            recorded = {}
        pid = int(recorded.get("pid", 0))
        # The command that started it is gone, so it got its parent-death SIGTERM and is on its way out, even
        # while it still answers: never attach to it, wait for it to go (or kill it, hung) and start anew.
        orphaned = "owner" in recorded and not _pid_alive(int(recorded["owner"]))
        if recorded.get("port") == service.port and _pid_alive(pid):
            # Running, or still shutting down after the command that started it died (it stops with its
            # parent): wait for it to answer, or to be gone and start it again.
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and _pid_alive(pid):
                if service.is_ready() and not orphaned:
                    return False
                time.sleep(0.1)
            if _pid_alive(pid) and _ours(pid, service):
                # Neither answering nor gone: hung in its shutdown. Acknowledged writes survive a kill -9.
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, timeout=10)
        if recorded.get("port") == service.port and _pid_alive(pid):
            raise EmbeddedServiceError(
                f"the embedded {service.name} (pid {recorded['pid']}) runs but does not answer on "
                f"127.0.0.1:{service.port}; see {service.log_path}"
            )
        service.pid_path.unlink()
    if _port_open(service.port):
        raise EmbeddedServiceError(
            f"port 127.0.0.1:{service.port} is taken by another program, so the embedded {service.name} "
            f"cannot start there. Stop that program, choose another port with {port_var}, or set "
            f"{env_var} to use an external server."
        )
    start(service)
    return True


_started: list[Service] = []


def activate(layout: Layout | None = None) -> list[Service]:
    """Make sure every embedded service this configuration needs is running."""
    layout = layout or Layout.from_env()
    wanted: list[tuple[Service, str, str]] = []
    if not env.env_str("MONGODB_URI"):
        storage = layout.var_dir / "db"
        storage.mkdir(parents=True, exist_ok=True)
        wanted.append(
            (
                database_service(
                    port=layout.db_port,
                    storage=str(storage),
                    log_path=layout.log_dir / "db.log",
                    pid_path=layout.run_dir / "db.json",
                ),
                "MONGODB_URI",
                "EMBEDDED_DB_PORT",
            )
        )
    if not env.env_str("ETH_RPC_URL"):
        (layout.var_dir / "chain").mkdir(parents=True, exist_ok=True)
        wanted.append(
            (
                chain_service(
                    port=layout.chain_port,
                    chain_id=layout.chain_id,
                    state_path=layout.chain_state,
                    log_path=layout.log_dir / "chain.log",
                    pid_path=layout.run_dir / "chain.json",
                ),
                "ETH_RPC_URL",
                "EMBEDDED_CHAIN_PORT",
            )
        )
    if not wanted:
        return []
    started: list[Service] = []
    with file_locked(layout.run_dir / "embedded.lock"):
        for service, env_var, port_var in wanted:
            if _attach_or_start(service, env_var, port_var):
                started.append(service)
    if started and not _started:
        atexit.register(shutdown)
        # SIGTERM must run the same clean-up as Ctrl-C (unless the command has its own way to stop).
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    _started.extend(started)
    return started


def shutdown() -> None:
    """Stop, in reverse order, the services this process started."""
    while _started:
        stop(_started.pop())
