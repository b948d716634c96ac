"""Which process carries a step, and whether that process is gone.

A step a request begins and must finish (an instance being started or stopped) records the process doing
it. The worker recovers the step once that process is gone (killed, crashed, its host restarted), never
while it may still be under way. The identity is host, pid and the process's start time, so a pid that a
later process reuses is not mistaken for the one that began the step. A step recorded on another host
cannot be checked from here and is left to that host's worker.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or None when
    there is no such process or it has exited (a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


_identities: dict[int, str] = {}


def current() -> str:
    """This process: "host/pid/start" (looked up once per pid, so a forked worker gets its own)."""
    pid = os.getpid()
    if pid not in _identities:
        _identities[pid] = f"{socket.gethostname()}/{pid}/{_started(pid)}"
    return _identities[pid]


def gone(identity: str) -> bool:
    """True when the process `identity` names has ended (or nothing names one); False while it runs or
    when it ran on another host."""
    try:
        host, pid, started = identity.rsplit("/", 2)
    except ValueError:
        return True
    if host != socket.gethostname():
        return False
    return _started(int(pid)) != started
