"""A step whose process died half-way (an instance left instantiating or terminating by a killed server) is
ended by the worker: undone at the orchestrator, its seats released here and closed on chain, its owner told
why; a step whose process still runs, or ran on another host, is left alone. tests/config/test_faults.py kills
real servers at these steps; this file checks the rules one by one."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from config import steps
from ledger.licensing import LicenseManager
from ledger.signer import operator_account
from marketplace.contract_manager.models import ProvenanceEntry
from marketplace.licensing.instances import INTERRUPTED, instances_recover_interrupted
from marketplace.licensing.models import NsInstance
from marketplace.licensing.seats import seats_in_use
from tests.factories import instantiate
from tests.licensing.test_attack_seats import licensed
from tests.licensing.test_licensing_journey import network_service  # noqa: F401

pytestmark = pytest.mark.django_db


def dead_process() -> str:
    """The identity of a process of this host that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "import os; print(os.getpid())"], stdout=subprocess.PIPE)
    pid = int(child.communicate()[0])
    return f"{socket.gethostname()}/{pid}/1"


def test_a_process_is_gone_once_it_exits_and_a_reused_pid_is_not_it():
    assert not steps.gone(steps.current())
    assert steps.gone(dead_process())
    host, pid, started = steps.current().rsplit("/", 2)
    assert steps.gone(f"{host}/{pid}/{int(started) + 1}")  # this pid, but a process started at another time
    assert not steps.gone(f"another-host/{pid}/{started}")  # not ours to judge
    assert steps.gone("")  # a step recorded before processes were


def left_half_way(instance: NsInstance, state: str, handled_by: str) -> NsInstance:
    NsInstance.objects.filter(pk=instance.pk).update(state=state, handled_by=handled_by)
    instance.refresh_from_db()
    return instance


def test_an_instance_left_instantiating_by_a_dead_server_fails_and_frees_its_seats(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    _offer, licence_id, _token = licensed(client, chain, developer, stranger, network_service, seats=1)
    instance = left_half_way(instantiate(network_service, stranger), "instantiating", dead_process())
    manager = LicenseManager.deployed(chain)
    assert manager.seat_holding(licence_id, operator_account().address)[0] == 1

    assert instances_recover_interrupted() == 1

    instance.refresh_from_db()
    assert (instance.state, instance.error) == ("failed", INTERRUPTED)
    assert seats_in_use(instance.seat_key) == 0
    assert manager.seat_holding(licence_id, operator_account().address)[0] == 0
    logged = ProvenanceEntry.objects.filter(subject=f"instance:{instance.pk}", kind="instantiate").order_by("-seq")
    assert logged[0].payload == {"ns": str(network_service.pk), "state": "failed", "error": INTERRUPTED}
    # The seat is free again: the owner starts it again.
    assert instantiate(network_service, stranger).state == "running"


def test_an_instance_left_terminating_by_a_dead_server_is_terminated(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    _offer, licence_id, _token = licensed(client, chain, developer, stranger, network_service, seats=1)
    instance = left_half_way(instantiate(network_service, stranger), "terminating", dead_process())

    assert instances_recover_interrupted() == 1

    instance.refresh_from_db()
    assert instance.state == "terminated"
    assert seats_in_use(instance.seat_key) == 0
    assert LicenseManager.deployed(chain).seat_holding(licence_id, operator_account().address)[0] == 0


def test_a_step_under_way_or_on_another_host_is_left_alone(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    licensed(client, chain, developer, stranger, network_service, seats=2)
    mine = left_half_way(instantiate(network_service, stranger), "instantiating", steps.current())
    _host, pid, started = steps.current().rsplit("/", 2)
    elsewhere = left_half_way(instantiate(network_service, stranger), "terminating", f"other/{pid}/{started}")

    assert instances_recover_interrupted() == 0

    for instance in (mine, elsewhere):
        state = instance.state
        instance.refresh_from_db()
        assert instance.state == state
    assert seats_in_use(mine.seat_key) == 2


def test_a_seat_lock_whose_holder_died_is_taken_over_at_once_and_a_live_one_is_not():
    from django.db import connection

    from marketplace.errors import ConflictError
    from marketplace.licensing.seats import LOCKS, licence_seats_locked

    locks = connection.database[LOCKS]  # type: ignore[attr-defined]
    far = 10**12  # a lease that would not run out
    locks.insert_one({"_id": "31337:7", "until": far, "token": "dead", "holder": dead_process()})
    with licence_seats_locked(chain_id=31337, licence_id=7, wait_s=0.5):
        assert locks.find_one({"_id": "31337:7"})["holder"] == steps.current()

    locks.insert_one({"_id": "31337:8", "until": far, "token": "live", "holder": steps.current()})
    held_by_a_live_process = licence_seats_locked(chain_id=31337, licence_id=8, wait_s=0.3)
    with pytest.raises(ConflictError, match="being changed"), held_by_a_live_process:
        pass
    assert locks.find_one({"_id": "31337:8"})["token"] == "live"


def test_recovery_the_orchestrator_refuses_keeps_the_seat_and_is_tried_again_at_the_next_tick(
    settings,
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    """A step left half-way whose NS still runs at the orchestrator, which then refuses to terminate it: the
    instance keeps its seat (something runs under it), says why, and the next tick ends it."""
    from tests import osm_nbi
    from tests.licensing.test_orchestrator_scale import VIM

    if not osm_nbi.SPEC.is_file():
        pytest.skip(f"OSM's NBI OpenAPI document is absent ({osm_nbi.SPEC})")
    _offer, licence_id, _token = licensed(client, chain, developer, stranger, network_service, seats=1)
    manager = LicenseManager.deployed(chain)
    with osm_nbi.serve(osm_nbi.Spec()) as nbi:
        settings.OSM_NBI_URL, settings.OSM_USERNAME, settings.OSM_PASSWORD = nbi.url, "admin", "admin"
        settings.OSM_VIM_ACCOUNT = VIM
        instance = left_half_way(instantiate(network_service, stranger), "instantiating", dead_process())
        assert instance.orchestrator_id

        nbi.fail_next_operation("terminate")
        assert instances_recover_interrupted() == 0
        instance.refresh_from_db()
        assert instance.state == "instantiating"
        assert instance.handled_by == ""  # left for the next tick
        assert instance.error.startswith("recovering: ")
        assert seats_in_use(instance.seat_key) == 1  # the NS still runs there: its seat stays taken
        assert manager.seat_holding(licence_id, operator_account().address)[0] == 1

        nbi.fail_next("getNSinstance", 503, "the NBI is restarting")
        assert instances_recover_interrupted() == 0  # nor can it say what runs: still nothing is released
        assert seats_in_use(instance.seat_key) == 1

        assert instances_recover_interrupted() == 1
        instance.refresh_from_db()
        assert (instance.state, instance.error) == ("failed", INTERRUPTED)
        assert [op for op in nbi.operation_ids() if op == "terminateNSinstance"] == ["terminateNSinstance"] * 2
    assert seats_in_use(instance.seat_key) == 0
    assert manager.seat_holding(licence_id, operator_account().address)[0] == 0
