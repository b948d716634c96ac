"""Finding 4 (seat limits bypassed), attacked through the API, the real LicenseManager and the indexer:
seats are opened on chain under the licensee's signature, so a transfer or a renewal made directly on chain
cannot start a fresh count beside running instances, a stranger's or a stale signature opens nothing, a seat
the chain refuses opens nothing at OSM, and instances the licence no longer covers are flagged."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from ledger.licensing import LicenseManager, licence_id_of
from ledger.projections import projections
from ledger.signer import operator_account
from marketplace.contract_manager.decisions import LicenceDenied
from marketplace.contract_manager.models import ProvenanceEntry
from marketplace.licensing.chain_seats import seats_settle_due
from marketplace.licensing.instances import instance_create, instance_terminate, instances_stop_unseated
from marketplace.licensing.models import NsInstance
from marketplace.licensing.seats import SeatAuthorisationRequired, seats_in_use
from tests import osm_nbi
from tests.dportal.test_portal_packages import sign_in
from tests.factories import api_instantiate, instantiate, sign_seats
from tests.licensing.test_licensing_journey import auth, buy, index, network_service, offer  # noqa: F401
from tests.processes import free_port

pytestmark = pytest.mark.django_db


def manager(chain) -> LicenseManager:
    return LicenseManager.deployed(chain)


def held_licence(chain, offer_id: int, account) -> int:
    licence_id = manager(chain).licence_for(offer_id, account.address)
    assert licence_id is not None
    return licence_id


def licensed(client, chain, developer, buyer, ns, **terms) -> tuple[int, int, str]:
    """A private offer on `ns` with `terms` that `buyer` bought: (offer id, licence id, buyer's API token)."""
    offer_id = offer(client, chain, developer, ns, kind="private", price=1, **terms)
    token = buy(client, chain, buyer, offer_id)
    return offer_id, held_licence(chain, offer_id, buyer), token


def test_an_instance_opens_its_seat_on_chain_and_terminating_closes_it(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    _offer_id, licence_id, _token = licensed(client, chain, developer, stranger, network_service, seats=2)

    instance = instantiate(network_service, stranger)
    assert (instance.state, instance.chain_seats) == ("running", 1)
    assert manager(chain).seats_in_use(licence_id) == 1
    assert manager(chain).seat_holding(licence_id, operator_account().address)[0] == 1

    instance_terminate(instance=instance, actor=stranger.address)
    instance.refresh_from_db()
    assert (instance.state, instance.chain_seats) == ("terminated", 0)
    assert manager(chain).seats_in_use(licence_id) == 0


def test_attack_a_transfer_made_on_chain_while_an_instance_runs_is_refused(
    client,
    chain,
    developer,
    stranger,
    operator,
    network_service,  # noqa: F811
):
    """The holder runs an instance through the marketplace, then calls transferLicence on chain itself, so
    that the recipient starts a fresh count beside the running instance. The contract refuses."""
    offer_id, licence_id, _token = licensed(
        client, chain, developer, stranger, network_service, seats=1, transferable=True
    )
    instantiate(network_service, stranger)

    lm = manager(chain)
    with pytest.raises(Exception, match="SeatsStillOpen"):
        chain.transact(stranger, lm.transfer_licence(stranger.address, licence_id, operator.address), abi=lm.abi)
    assert lm.licence_for(offer_id, stranger.address) == licence_id


def test_attack_closing_the_nodes_seat_on_chain_and_transferring_runs_no_extra_instance(
    client,
    chain,
    developer,
    stranger,
    operator,
    network_service,  # noqa: F811
):
    """The holder closes its running instance's seat on chain (as a licensee may), transfers the licence and
    starts another instance under it, hoping the first keeps running: one seat, two instances. The node
    sees the seat go, flags the instance with the reason and stops it; only the recipient's runs."""
    _offer_id, licence_id, _token = licensed(
        client, chain, developer, stranger, network_service, seats=1, transferable=True
    )
    first = instantiate(network_service, stranger)
    lm = manager(chain)
    node = operator_account().address

    chain.transact(stranger, lm.close_seats(stranger.address, licence_id, node, 1), abi=lm.abi)
    index(chain)
    first.refresh_from_db()
    assert (first.state, first.chain_seats) == ("running", 0)
    assert "the chain holds no seat of licence" in first.licence_notice
    sign_in(client, stranger)
    page = client.get("/instances/").content.decode()
    assert 'data-fact="licence-notice">no licence' in page

    assert instances_stop_unseated() == 1
    first.refresh_from_db()
    assert first.state == "terminated"
    stopped = ProvenanceEntry.objects.get(subject=f"instance:{first.pk}", kind="terminate")
    assert (stopped.actor, stopped.payload["reason"]) == ("operator", first.licence_notice)
    assert manager(chain).seats_in_use(licence_id) == 0  # nothing more was closed: the seat was gone

    chain.transact(stranger, lm.transfer_licence(stranger.address, licence_id, operator.address), abi=lm.abi)
    index(chain)
    assert instantiate(network_service, operator).state == "running"
    assert NsInstance.objects.filter(state="running").count() == 1
    assert ProvenanceEntry.objects.filter(kind="licence-notice").count() == 1


def test_attack_a_stale_seat_to_close_never_closes_a_running_instances_seat(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    """The licensee closes one of the node's two seats on chain; before the node has read it, one instance
    ends. Its seat to close is the one already gone: the other instance's seat stays open on chain."""
    _offer_id, licence_id, _token = licensed(client, chain, developer, stranger, network_service, seats=2)
    ending, staying = instantiate(network_service, stranger), instantiate(network_service, stranger)
    lm = manager(chain)
    node = operator_account().address
    chain.transact(stranger, lm.close_seats(stranger.address, licence_id, node, 1), abi=lm.abi)

    instance_terminate(instance=ending, actor=stranger.address)
    ending.refresh_from_db()
    staying.refresh_from_db()
    assert (ending.state, ending.chain_seats, ending.seats_to_close) == ("terminated", 0, 0)
    assert (staying.chain_seats, staying.licence_notice) == (1, "")
    assert lm.seat_holding(licence_id, node)[0] == 1
    seats_settle_due()
    assert lm.seat_holding(licence_id, node)[0] == 1


def test_attack_replaying_seat_events_after_a_reorganisation_changes_nothing(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    _offer_id, licence_id, _token = licensed(client, chain, developer, stranger, network_service, seats=2)
    older, newer = instantiate(network_service, stranger), instantiate(network_service, stranger)
    lm = manager(chain)
    chain.transact(stranger, lm.close_seats(stranger.address, licence_id, operator_account().address, 1), abi=lm.abi)
    index(chain)
    for _ in range(2):
        projections.rebuild()
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (newer.chain_seats, bool(newer.licence_notice)) == (0, True)
    assert (older.chain_seats, older.licence_notice) == (1, "")
    assert ProvenanceEntry.objects.filter(kind="licence-notice").count() == 1


def test_attack_two_terminates_at_once_close_one_seat(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    """Two terminate requests for one instance race: only one goes ahead, so the other instance's seat is
    not closed in its place."""
    _offer_id, licence_id, _token = licensed(client, chain, developer, stranger, network_service, seats=2)
    target, other = instantiate(network_service, stranger), instantiate(network_service, stranger)
    start = threading.Barrier(2)

    def terminate() -> None:
        try:
            start.wait()
            instance_terminate(instance=NsInstance.objects.get(pk=target.pk), actor=stranger.address)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=terminate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.refresh_from_db()
    assert NsInstance.objects.get(pk=target.pk).state == "terminated"
    assert (other.state, other.chain_seats) == ("running", 1)
    assert manager(chain).seats_in_use(licence_id) == 1
    assert seats_in_use(f"{chain.chain_id()}:{licence_id}") == 1
    assert ProvenanceEntry.objects.filter(subject=f"instance:{target.pk}", kind="terminate").count() == 1


def test_attack_a_renewal_on_chain_does_not_free_the_seats(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    """A renewal changed the licence's agreement hash, which keyed the old count: every seat was free again.
    The count is the licence's, here and on chain."""
    offer_id, licence_id, token = licensed(
        client, chain, developer, stranger, network_service, seats=1, duration_days=30
    )
    assert api_instantiate(client, token, stranger, str(network_service.pk)).status_code == 201

    lm = manager(chain)
    offer_ = lm.offer(offer_id)
    assert offer_ is not None
    agreement = lm.agreement(offer_, stranger.address, deadline=chain.now() + 3600)
    signature = stranger.sign_typed_data(full_message=lm.typed_data(agreement)).signature
    chain.transact(stranger, lm.renew(stranger.address, licence_id, offer_, agreement, signature), abi=lm.abi)
    index(chain)

    again = api_instantiate(client, token, stranger, str(network_service.pk))
    assert again.status_code == 403
    assert "1 of 1 instances running" in again.json()["error"]
    assert lm.seats_in_use(licence_id) == 1


def test_attack_a_seat_opening_signed_by_someone_else_opens_nothing(
    client,
    chain,
    developer,
    stranger,
    operator,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    token = buy(client, chain, stranger, offer_id)
    asked = client.post(
        "/api/v1/instances", {"ns_id": str(network_service.pk)}, content_type="application/json", headers=auth(token)
    )
    assert asked.status_code == 428
    forged = sign_seats(operator, asked.json()["typed_data"])
    answer = client.post(
        "/api/v1/instances",
        {
            "ns_id": str(network_service.pk),
            "seat_opening": {"typed_data": forged.typed_data, "signature": forged.signature},
        },
        content_type="application/json",
        headers=auth(token),
    )
    assert answer.status_code == 400
    assert "not by the licensee" in answer.json()["fields"]["seat_opening"]
    assert not NsInstance.objects.exists()
    licence_id = held_licence(chain, offer_id, stranger)
    assert manager(chain).seats_in_use(licence_id) == 0
    # The seat reserved here was given back: the licensee's own signature still gets it.
    assert api_instantiate(client, token, stranger, str(network_service.pk)).status_code == 201


def test_a_seat_opening_for_other_seats_is_refused_and_a_used_one_asks_again(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=3)
    token = buy(client, chain, stranger, offer_id)
    typed = client.post(
        "/api/v1/instances", {"ns_id": str(network_service.pk)}, content_type="application/json", headers=auth(token)
    ).json()["typed_data"]
    wrong = {**typed, "message": {**typed["message"], "count": 2}}
    signed = sign_seats(stranger, wrong)
    body = {"typed_data": signed.typed_data, "signature": signed.signature}
    answer = client.post(
        "/api/v1/instances",
        {"ns_id": str(network_service.pk), "seat_opening": body},
        content_type="application/json",
        headers=auth(token),
    )
    assert answer.status_code == 400
    assert "count is 2, expected 1" in answer.json()["fields"]["seat_opening"]

    # One signed opening, sent twice (a double click, a replay): the second is asked to sign a fresh one.
    signed = sign_seats(stranger, typed)
    body = {"typed_data": signed.typed_data, "signature": signed.signature}
    post = {"ns_id": str(network_service.pk), "seat_opening": body}
    first = client.post("/api/v1/instances", post, content_type="application/json", headers=auth(token))
    assert first.status_code == 201
    second = client.post("/api/v1/instances", post, content_type="application/json", headers=auth(token))
    assert second.status_code == 428
    assert "used by another request" in second.json()["error"]
    assert second.json()["typed_data"]["message"]["nonce"] == typed["message"]["nonce"] + 1
    assert NsInstance.objects.count() == 1


def test_attack_seats_taken_on_chain_beside_this_node_refuse_the_instance_before_osm(
    settings,
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    """The licensee's seats are all open on chain through another node; this node's own count says one is
    free. The chain is the authority: the instance is refused and nothing is asked of OSM."""
    if not osm_nbi.SPEC.is_file():
        pytest.skip(f"OSM's NBI OpenAPI document is absent ({osm_nbi.SPEC})")
    _offer_id, licence_id, _token = licensed(client, chain, developer, stranger, network_service, seats=1)
    other_node = developer  # any other relayer the licensee chose
    lm = manager(chain)
    opening = lm.seat_opening(licence_id, other_node.address, 1, deadline=chain.now() + 600)
    signature = stranger.sign_typed_data(full_message=lm.seat_typed_data(opening)).signature
    chain.transact(other_node, lm.open_seats(other_node.address, opening, signature), abi=lm.abi)

    with osm_nbi.serve(osm_nbi.Spec()) as nbi:
        settings.OSM_NBI_URL, settings.OSM_USERNAME, settings.OSM_PASSWORD = nbi.url, "admin", "admin"
        with pytest.raises(LicenceDenied, match="NoSeatsFree"):
            instantiate(network_service, stranger)
        assert nbi.calls == []
    assert not NsInstance.objects.exists()
    assert seats_in_use(f"{chain.chain_id()}:{licence_id}") == 0
    assert lm.seats_in_use(licence_id) == 1


def test_without_a_signature_nothing_is_reserved_or_logged(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    buy(client, chain, stranger, offer_id)
    before = ProvenanceEntry.objects.count()
    with pytest.raises(SeatAuthorisationRequired) as needed:
        instance_create(ns=network_service, user=stranger.address)
    assert int(needed.value.typed_data["message"]["licenceId"]) == licence_id_of(offer_id, stranger.address)
    assert ProvenanceEntry.objects.count() == before
    assert instantiate(network_service, stranger).state == "running"


def test_a_seat_the_chain_could_not_close_is_closed_by_the_worker(
    settings,
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    _offer_id, licence_id, _token = licensed(client, chain, developer, stranger, network_service, seats=1)
    instance = instantiate(network_service, stranger)

    rpc_url = settings.ETH_RPC_URL
    settings.ETH_RPC_URL = f"http://127.0.0.1:{free_port()}"  # the chain node is down at the terminate
    instance_terminate(instance=instance, actor=stranger.address)
    settings.ETH_RPC_URL = rpc_url
    instance.refresh_from_db()
    assert (instance.state, instance.chain_seats, instance.seats_to_close) == ("terminated", 0, 1)
    assert manager(chain).seats_in_use(licence_id) == 1

    assert seats_settle_due() == 1
    instance.refresh_from_db()
    assert instance.seats_to_close == 0
    assert manager(chain).seats_in_use(licence_id) == 0


def test_a_terminate_the_orchestrator_fails_keeps_the_instance_and_its_seat_until_tried_again(
    settings,
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    from marketplace.licensing.orchestrators import OrchestratorError
    from tests.licensing.test_orchestrator_scale import VIM

    if not osm_nbi.SPEC.is_file():
        pytest.skip(f"OSM's NBI OpenAPI document is absent ({osm_nbi.SPEC})")
    _offer_id, licence_id, _token = licensed(client, chain, developer, stranger, network_service, seats=1)
    with osm_nbi.serve(osm_nbi.Spec()) as nbi:
        settings.OSM_NBI_URL, settings.OSM_USERNAME, settings.OSM_PASSWORD = nbi.url, "admin", "admin"
        settings.OSM_VIM_ACCOUNT = VIM
        instance = instantiate(network_service, stranger)
        assert instance.state == "running", instance.error
        nbi.fail_next_operation("terminate")
        with pytest.raises(OrchestratorError, match="termination ended FAILED"):
            instance_terminate(instance=instance, actor=stranger.address)
        instance.refresh_from_db()
        assert (instance.state, instance.chain_seats) == ("running", 1)
        assert instance.error.startswith("terminating failed, try again")
        assert manager(chain).seats_in_use(licence_id) == 1

        instance_terminate(instance=instance, actor=stranger.address)
    instance.refresh_from_db()
    assert (instance.state, instance.chain_seats, instance.seats_to_close) == ("terminated", 0, 0)
    assert manager(chain).seats_in_use(licence_id) == 0
