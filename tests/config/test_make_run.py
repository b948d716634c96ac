"""The marketplace on its embedded defaults, run as `make run` runs it (`manage.py run`)."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

from tests.processes import Checkout, free_port, get, interrupt, pid_alive, port_open, wait_for_http, worker_paused

pytestmark = pytest.mark.slow


def test_a_command_starts_the_embedded_services_for_its_own_duration_only(tmp_path):
    checkout = Checkout.fresh(tmp_path)

    result = checkout.manage("showmigrations", "ledger")

    assert result.returncode == 0, result.stderr
    assert "[ ] 0001_initial" in result.stdout
    assert not port_open(checkout.db_port)
    assert not port_open(checkout.chain_port)
    assert checkout.recorded_pids() == []


def test_run_serves_status_and_ctrl_c_stops_exactly_what_it_started(tmp_path):
    checkout = Checkout.fresh(tmp_path)
    port = free_port()
    server = checkout.start("run", "--addr", f"127.0.0.1:{port}")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", server)
        status, body = get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200, body
        health = json.loads(body)
        address = health["contracts"]["deployed"]["PackageRegistry"]["address"]
        status, html = get(f"http://127.0.0.1:{port}/")
        assert status == 200
        assert address in html
        # Embedded mode offers the labelled development wallet, so a browser without one can sign.
        assert '<script id="dev-wallet" type="application/json">' in html
        service_pids = checkout.recorded_pids()
        assert len(service_pids) == 2

        # Another command attaches to the running services and leaves them running.
        other = checkout.manage("showmigrations", "ledger")
        assert other.returncode == 0, other.stderr
        assert "[X] 0001_initial" in other.stdout
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        output = interrupt(server)

    assert not any(pid_alive(pid) for pid in service_pids), output
    assert not port_open(checkout.db_port)
    assert not port_open(checkout.chain_port)
    assert checkout.recorded_pids() == []

    # A second run reuses the data: same contract, nothing deployed again.
    server = checkout.start("run", "--addr", f"127.0.0.1:{port}")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", server)
        assert (
            json.loads(get(f"http://127.0.0.1:{port}/healthz")[1])["contracts"]["deployed"]["PackageRegistry"][
                "address"
            ]
            == address
        )
    finally:
        output = interrupt(server)
    assert re.search(rf"PackageRegistry already deployed at {address}", output), output


def test_it_says_when_an_embedded_port_is_taken_by_another_program(tmp_path):
    checkout = Checkout.fresh(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", checkout.db_port))
        squatter.listen()
        result = checkout.manage("check")

    assert result.returncode == 2
    assert f"port 127.0.0.1:{checkout.db_port} is taken by another program" in result.stderr
    assert "EMBEDDED_DB_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert not port_open(checkout.chain_port)


def test_run_refuses_to_start_naming_an_unreachable_database(tmp_path):
    checkout = Checkout.fresh(tmp_path)
    dead = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    started = time.monotonic()

    result = checkout.manage("run", "--addr", f"127.0.0.1:{free_port()}", MONGODB_URI=dead, DJANGO_SECRET_KEY="x" * 50)

    assert result.returncode != 0
    assert f"the database at {dead} is unreachable" in result.stderr
    assert "MONGODB_URI" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 60


def test_healthz_and_home_report_a_database_that_went_away_until_it_is_back(tmp_path):
    checkout = Checkout.fresh(tmp_path)
    port = free_port()
    server = checkout.start("run", "--addr", f"127.0.0.1:{port}")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", server)
        db_pid = json.loads((checkout.var_dir / "run" / "db.json").read_text())["pid"]
        import os
        import signal

        with worker_paused(checkout.var_dir):  # its restart would bring the database back (see the end)
            os.kill(db_pid, signal.SIGKILL)
            while pid_alive(db_pid):
                time.sleep(0.02)
            status, body = get(f"http://127.0.0.1:{port}/healthz", timeout=20)
        assert status == 503
        health = json.loads(body)
        assert health["database"]["ok"] is False
        assert health["database"]["where"] == f"mongodb://127.0.0.1:{checkout.db_port}/?directConnection=true"
        assert "make run" in health["database"]["fix"]
        assert health["chain"]["ok"] is True
        # The outage ends by itself: make run's worker, started again, brings the embedded database back
        # (tests/config/test_faults.py); meanwhile the home page says what is down, after that all is well.
        status, html = get(f"http://127.0.0.1:{port}/", timeout=20)
        assert status in (200, 503)  # 503: the page met the outage itself; either way it names the database
        assert ("db.log" in html and "database" in html) or "All systems usable" in html
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and get(f"http://127.0.0.1:{port}/healthz", timeout=20)[0] != 200:
            time.sleep(0.5)
        assert "All systems usable" in get(f"http://127.0.0.1:{port}/", timeout=20)[1]
    finally:
        interrupt(server)


def test_settings_refuse_an_external_chain_without_an_operator_keystore(tmp_path):
    checkout = Checkout.fresh(tmp_path)

    result = checkout.manage("check", ETH_RPC_URL="http://127.0.0.1:1", DJANGO_SECRET_KEY="x" * 50)

    assert result.returncode != 0
    assert "OPERATOR_KEYSTORE must be set" in result.stderr
    assert not port_open(checkout.db_port)


def test_settings_refuse_a_deployment_without_a_secret_key(tmp_path):
    checkout = Checkout.fresh(tmp_path)

    result = checkout.manage("check", MONGODB_URI="mongodb://127.0.0.1:1/")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
