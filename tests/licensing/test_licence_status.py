"""GET /api/v1/licences/status: the decision point's answer for one NS and user, which an orchestrator asks
before each instantiation. Offers and licences are kept per indexer checkpoint, so these tests check that
every change the indexer makes, every seat taken and every policy edit shows in the very next answer."""

from __future__ import annotations

import pytest

from ledger.models import IndexerState
from marketplace.licensing.instances import instance_terminate
from marketplace.licensing.models import LicencePolicy
from tests.factories import instantiate
from tests.licensing.test_licensing_journey import DAY, buy, index, network_service, offer  # noqa: F401

pytestmark = pytest.mark.django_db


def status(client, ns, user: str):
    response = client.get("/api/v1/licences/status", {"ns": str(ns.pk), "user": user})
    assert response.status_code == 200, response.content
    return response.json()


def test_it_answers_an_offer_and_a_purchase_made_after_an_earlier_answer(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    assert status(client, network_service, stranger.address)["reason"] == (
        "nobody offers a licence for this network service yet"
    )
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=2, duration_days=30)
    before = status(client, network_service, stranger.address)
    assert before["allowed_to_instantiate"] is False
    assert f"buy offer #{offer_id}" in before["reason"]

    buy(client, chain, stranger, offer_id)
    after = status(client, network_service, stranger.address)
    assert after["allowed_to_instantiate"] is True
    assert after["offer_id"] == offer_id
    assert after["kind"] == "private"
    assert after["reason"].startswith(f"private licence #{after['licence_id']}: 0 of 2 instances running")


def test_it_keeps_out_every_user_without_a_licence(
    client,
    chain,
    developer,
    operator,
    stranger,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    buy(client, chain, stranger, offer_id)
    assert status(client, network_service, stranger.address)["allowed_to_instantiate"] is True
    for outsider in (developer.address, operator.address, ""):  # the provider, another user, nobody
        answer = status(client, network_service, outsider)
        assert answer["allowed_to_instantiate"] is False
        assert f"buy offer #{offer_id}" in answer["reason"]
        assert answer["licence_id"] is None


def test_it_counts_seats_afresh_while_the_indexer_stands_still(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    buy(client, chain, stranger, offer_id)
    checkpoint = IndexerState.objects.get().last_block
    assert status(client, network_service, stranger.address)["in_use"] == 0

    running = instantiate(network_service, stranger)
    full = status(client, network_service, stranger.address)
    assert full["allowed_to_instantiate"] is False
    assert full["in_use"] == 1
    assert full["reason"].startswith("1 of 1 instances running under licence")

    instance_terminate(instance=running, actor=stranger.address)
    free = status(client, network_service, stranger.address)
    assert free["allowed_to_instantiate"] is True
    assert free["in_use"] == 0
    assert IndexerState.objects.get().last_block == checkpoint  # all of it without the indexer moving


def test_attack_a_policy_edited_in_the_database_is_not_applied(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    buy(client, chain, stranger, offer_id)
    assert status(client, network_service, stranger.address)["allowed_to_instantiate"] is True

    policy = LicencePolicy.objects.get(package=network_service.package)
    policy.document["permission"] = [
        rule for rule in policy.document["permission"] if str(rule["action"]).endswith("download")
    ]
    policy.save()
    answer = status(client, network_service, stranger.address)
    assert answer["allowed_to_instantiate"] is False  # the copy no longer hashes to the offer's terms on chain
    assert f"the stored policy of offer #{offer_id} does not hash to its terms on chain" in answer["reason"]
    served = client.get(f"/api/v1/offers/{offer_id}/policy")
    assert served.status_code == 409
    assert "was changed after the offer was made" in served.json()["error"]


def test_it_judges_expiry_by_the_chain_time_of_each_request(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1, duration_days=1)
    buy(client, chain, stranger, offer_id)
    assert status(client, network_service, stranger.address)["allowed_to_instantiate"] is True

    chain.w3.provider.make_request("evm_increaseTime", [2 * DAY])
    chain.w3.provider.make_request("evm_mine", [])
    answer = status(client, network_service, stranger.address)  # the indexer has not run since
    assert answer["allowed_to_instantiate"] is False
    assert "ended on" in answer["reason"]


def test_it_answers_after_a_reorg_from_what_the_chain_holds_now(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    before_purchase = chain.w3.provider.make_request("evm_snapshot", [])["result"]
    buy(client, chain, stranger, offer_id)
    assert status(client, network_service, stranger.address)["allowed_to_instantiate"] is True

    chain.w3.provider.make_request("evm_revert", [before_purchase])  # the purchase's block is gone
    chain.w3.provider.make_request("evm_mine", [])
    chain.w3.provider.make_request("evm_mine", [])
    index(chain)
    answer = status(client, network_service, stranger.address)
    assert answer["allowed_to_instantiate"] is False
    assert f"buy offer #{offer_id}" in answer["reason"]


def test_it_refuses_an_unknown_ns_and_a_malformed_user(client, stranger, network_service):  # noqa: F811
    unknown = client.get("/api/v1/licences/status", {"ns": "0" * 24, "user": stranger.address})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == f"no network service {'0' * 24}"
    malformed = client.get("/api/v1/licences/status", {"ns": "not-an-id", "user": stranger.address})
    assert malformed.status_code == 400
    assert set(malformed.json()["fields"]) == {"ns"}
    assert client.get("/api/v1/licences/status", {"user": stranger.address}).json()["fields"] == {
        "ns": "Field required"
    }
    malformed = client.get("/api/v1/licences/status", {"ns": str(network_service.pk), "user": "0x1234"})
    assert malformed.status_code == 400
    assert "user" in malformed.json()["fields"]


def test_a_remembered_answer_is_given_again_only_while_it_is_young(
    settings,
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    """Another process's change (here the indexer worker's write, made directly) shows once the answer is older
    than ENTITLEMENT_MAX_AGE_S; until then the status endpoint repeats what it decided."""
    import time

    from ledger.models import AcquiredLicence

    settings.ENTITLEMENT_MAX_AGE_S = 60.0
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=2, duration_days=30)
    buy(client, chain, stranger, offer_id)
    assert status(client, network_service, stranger.address)["allowed_to_instantiate"] is True

    # What the indexer worker, another process, writes: a projection, and its checkpoint moved with it.
    AcquiredLicence.objects.filter(licensee=stranger.address).update(expires_at=1)
    state = IndexerState.objects.get()
    IndexerState.objects.filter(pk=state.pk).update(last_block=state.last_block + 1)
    assert status(client, network_service, stranger.address)["allowed_to_instantiate"] is True  # remembered

    settings.ENTITLEMENT_MAX_AGE_S = 0.2
    time.sleep(0.3)
    answer = status(client, network_service, stranger.address)
    assert answer["allowed_to_instantiate"] is False
    assert "ended on 1970-01-01" in answer["reason"]


def test_what_this_process_changes_shows_in_the_next_answer_however_young(
    settings,
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    settings.ENTITLEMENT_MAX_AGE_S = 60.0
    assert status(client, network_service, stranger.address)["allowed_to_instantiate"] is False
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1, duration_days=30)
    assert f"buy offer #{offer_id}" in status(client, network_service, stranger.address)["reason"]  # indexed here
    buy(client, chain, stranger, offer_id)
    assert "0 of 1 instances running" in status(client, network_service, stranger.address)["reason"]

    instance = instantiate(network_service, stranger)  # a seat taken here
    full = status(client, network_service, stranger.address)
    assert full["allowed_to_instantiate"] is False
    assert full["in_use"] == 1
    instance_terminate(instance=instance, actor=stranger.address)  # and released
    assert status(client, network_service, stranger.address)["allowed_to_instantiate"] is True
