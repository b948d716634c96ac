"""How `make run` tells its embedded services apart from other processes and from each other's records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from config import embedded


def test_a_process_is_taken_for_a_service_by_its_program_not_by_a_shared_option(tmp_path: Path) -> None:
    database = embedded.database_service(port=1, storage=":memory:", log_path=tmp_path / "db.log", pid_path=None)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "--config", "--host"])
    try:
        assert not embedded._ours(other.pid, database)  # a reused pid of another program is never killed
    finally:
        other.kill()
        other.wait()


def test_stopping_a_service_removes_only_its_own_record(tmp_path: Path) -> None:
    record = tmp_path / "db.json"
    service = embedded.database_service(port=1, storage=":memory:", log_path=tmp_path / "db.log", pid_path=record)
    service.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    record.write_text(json.dumps({"pid": service.process.pid + 1, "port": 1}))  # started again by another process
    embedded.stop(service)
    assert record.exists()

    service.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    record.write_text(json.dumps({"pid": service.process.pid, "port": 1}))
    embedded.stop(service)
    assert not record.exists()
