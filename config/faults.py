"""Kill points for the fault-injection tests (tests/config/test_faults.py): a process started with
NFVM_FAULT_FILE=<path> kills itself with SIGKILL when it reaches the point named in that file (written by the
test when the journey is where it wants it), as a power cut or the OOM killer would, so a test can stop a
journey at an exact step with no mock in the way. A point fires once: the process that reaches it removes the
file before it dies. Unset (always, outside those tests), a point costs one
dictionary lookup."""

from __future__ import annotations

import os
import signal


def fault_point(name: str) -> None:
    path = os.environ.get("NFVM_FAULT_FILE")
    if not path:
        return
    try:
        with open(path) as armed:
            wanted = armed.read().strip()
    except OSError:
        return
    if wanted == name:
        # Fired once: the process started again after this kill (by the test, or by `make run`'s supervisor)
        # goes on past the point.
        try:
            os.unlink(path)
        except OSError:
            return  # another process fired it first
        os.kill(os.getpid(), signal.SIGKILL)
