"""The decision point on scaling an instance (seats taken and released atomically), transferring a licence
(the unsigned transferLicence for the holder's wallet, the indexer moving it) and terminating; each
decision and event in the provenance log."""

from __future__ import annotations

import importlib
import threading
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connections
from eth_account.signers.local import LocalAccount

from ledger.models import AcquiredLicence, LicenceOffer
from ledger.projections import projections
from marketplace.contract_manager.decisions import LicenceDenied
from marketplace.contract_manager.models import ProvenanceEntry
from marketplace.errors import ValidationFailed
from marketplace.licensing.models import NsInstance
from marketplace.licensing.offers import ether_to_wei
from marketplace.licensing.selectors import licence_numbers
from tests.dportal.test_portal_packages import sign_in
from tests.factories import instantiate, scale_as, sign_seats, signed_in_token, wallet_sends
from tests.licensing.test_licensing_journey import auth, buy, index, network_service, offer  # noqa: F401

pytestmark = pytest.mark.django_db


def scale(client, instance, token: str | None, instances, signer: LocalAccount | None = None):
    """POST .../scale; a 428 (scaling out needs the licensee's signed seat opening) is answered by
    `signer`'s key, as its wallet would."""
    body: dict[str, Any] = {"instances": instances}
    headers = auth(token) if token else {}
    url = f"/api/v1/instances/{instance.pk}/scale"
    answer = client.post(url, body, content_type="application/json", headers=headers)
    if answer.status_code == 428 and signer is not None:
        signed = sign_seats(signer, answer.json()["typed_data"])
        body["seat_opening"] = {"typed_data": signed.typed_data, "signature": signed.signature}
        answer = client.post(url, body, content_type="application/json", headers=headers)
    return answer


def entries(subject: str, kind: str) -> list[ProvenanceEntry]:
    return list(ProvenanceEntry.objects.filter(subject=subject, kind=kind).order_by("seq"))


# --- scale ---


def test_it_scales_out_within_the_seats_and_in_releasing_them(client, chain, developer, stranger, network_service):  # noqa: F811
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=3)
    token = buy(client, chain, stranger, offer_id)
    instance = instantiate(network_service, stranger)

    out = scale(client, instance, token, "+2", stranger)
    assert out.status_code == 200, out.content
    assert out.json()["units"] == 3
    refused = scale(client, instance, token, "+1", stranger)
    assert refused.status_code == 403
    assert "3 of 3 instances running" in refused.json()["error"]
    assert refused.json()["decision"]["action"] == "scale"
    assert (
        client.post(
            "/api/v1/instances",
            {"ns_id": str(network_service.pk)},
            content_type="application/json",
            headers=auth(token),
        ).status_code
        == 403
    )

    back = scale(client, instance, token, 1)
    assert back.status_code == 200
    assert back.json()["units"] == 1
    second = instantiate(network_service, stranger)
    assert second.state == "running"

    subject = f"instance:{instance.pk}"
    assert [e.payload["permit"] for e in entries(subject, "decision")] == [True, False, True]
    assert [(e.payload["change"], e.payload["units"]) for e in entries(subject, "scale")] == [(2, 3), (-2, 1)]


def test_it_releases_every_unit_on_terminate(client, chain, developer, stranger, network_service):  # noqa: F811
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=2)
    buy(client, chain, stranger, offer_id)
    instance = instantiate(network_service, stranger)
    scale_as(instance, stranger, change=1)
    from marketplace.licensing.instances import instance_terminate

    instance_terminate(instance=instance, actor=stranger.address)
    assert instantiate(network_service, stranger).state == "running"
    assert instantiate(network_service, stranger).state == "running"


def test_it_scales_a_public_instance_without_a_limit(client, chain, developer, stranger, network_service):  # noqa: F811
    offer(client, chain, developer, network_service, kind="public")
    instance = instantiate(network_service, stranger)
    assert scale_as(instance, stranger, target=20).units == 20


def test_only_the_owner_scales(client, chain, developer, stranger, operator, network_service):  # noqa: F811
    offer(client, chain, developer, network_service, kind="public")
    instance = instantiate(network_service, stranger)
    other = scale(client, instance, signed_in_token(client, operator), "+1")
    assert other.status_code == 403
    assert f"only {stranger.address} may scale" in other.json()["error"]
    assert scale(client, instance, None, "+1").status_code == 401
    (denied,) = entries(f"instance:{instance.pk}", "decision")
    assert denied.actor == operator.address
    assert denied.payload["permit"] is False


def test_it_refuses_bad_scale_requests(client, chain, developer, stranger, network_service):  # noqa: F811
    offer(client, chain, developer, network_service, kind="public")
    token = signed_in_token(client, stranger)
    instance = instantiate(network_service, stranger)
    for bad in (0, "-1", "+0", "2", True, None, "+x"):
        assert scale(client, instance, token, bad).status_code == 400, bad
    missing = client.post(
        "/api/v1/instances/0123456789abcdef01234567/scale",
        {"instances": 2},
        content_type="application/json",
        headers=auth(token),
    )
    assert missing.status_code == 404
    client.post(f"/api/v1/instances/{instance.pk}/terminate", headers=auth(token))
    stopped = scale(client, instance, token, "+1", stranger)
    assert stopped.status_code == 409
    assert "terminated" in stopped.json()["error"]


def test_it_refuses_to_scale_out_under_an_expired_licence(client, chain, developer, stranger, network_service):  # noqa: F811
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=3, duration_days=1)
    buy(client, chain, stranger, offer_id)
    instance = instantiate(network_service, stranger)
    scale_as(instance, stranger, change=1)
    chain.w3.provider.make_request("evm_increaseTime", [2 * 86400])
    chain.w3.provider.make_request("evm_mine", [])
    with pytest.raises(LicenceDenied, match="ended on"):
        scale_as(instance, stranger, change=1)
    assert scale_as(instance, stranger, target=1).units == 1  # scaling in still may


def test_fifty_parallel_scale_outs_against_five_seats_grant_exactly_four(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=5)
    buy(client, chain, stranger, offer_id)
    instance = instantiate(network_service, stranger)
    granted: list[int] = []
    denied: list[str] = []
    start = threading.Barrier(50)

    def request() -> None:
        try:
            start.wait()
            scale_as(NsInstance.objects.get(pk=instance.pk), stranger, change=1)
            granted.append(1)
        except LicenceDenied as exc:
            denied.append(exc.decision.reason)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == 4
    assert len(denied) == 46
    assert all("of 5 instances running" in reason for reason in denied)
    instance.refresh_from_db()
    assert instance.units == 5


# --- transfer ---


def transfer(client, licence_id: int, token: str | None, to: object):
    return client.post(
        f"/api/v1/licences/{licence_id}/transfer",
        {"to": to},
        content_type="application/json",
        headers=auth(token) if token else {},
    )


def test_it_transfers_a_licence_once_no_instance_runs_under_it(
    client,
    chain,
    developer,
    stranger,
    operator,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=2, transferable=True)
    token = buy(client, chain, stranger, offer_id)
    licence = AcquiredLicence.objects.get(offer_id=offer_id, licensee=stranger.address)
    running = instantiate(network_service, stranger)

    busy = transfer(client, licence.licence_id, token, operator.address)
    assert busy.status_code == 403
    assert f"terminate {running.pk} first" in busy.json()["error"]

    client.post(f"/api/v1/instances/{running.pk}/terminate", headers=auth(token))
    permitted = transfer(client, licence.licence_id, token, operator.address.lower())
    assert permitted.status_code == 200, permitted.content
    body = permitted.json()
    assert body["decision"]["permit"] is True
    wallet_sends(chain, stranger, body["transaction"])
    index(chain)
    (moved_to,) = AcquiredLicence.objects.filter(offer_id=offer_id)
    assert moved_to.licensee == operator.address
    index(chain)  # seeing the event again logs nothing more

    subject = f"licence:{licence.licence_id}"
    assert [e.payload["permit"] for e in entries(subject, "decision")] == [False, True]
    (moved,) = entries(subject, "transfer")
    assert moved.payload["to"] == operator.address
    assert moved.payload["to_licence_id"] == moved_to.licence_id
    assert instantiate(network_service, operator).state == "running"
    with pytest.raises(LicenceDenied):
        instantiate(network_service, stranger)


def test_a_licence_keeps_its_number_through_a_transfer_and_a_new_purchase_takes_the_next(
    client,
    chain,
    developer,
    stranger,
    operator,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=2, transferable=True)
    token = buy(client, chain, stranger, offer_id)
    first = AcquiredLicence.objects.get(offer_id=offer_id, licensee=stranger.address)
    assert first.number == 1
    earlier = instantiate(network_service, stranger)  # runs under licence 1, then ends before the transfer
    assert client.post(f"/api/v1/instances/{earlier.pk}/terminate", headers=auth(token)).status_code == 200
    buy(client, chain, developer, offer_id)
    assert AcquiredLicence.objects.get(offer_id=offer_id, licensee=developer.address).number == 2

    wallet_sends(chain, stranger, transfer(client, first.licence_id, token, operator.address).json()["transaction"])
    index(chain)
    assert AcquiredLicence.objects.get(offer_id=offer_id, licensee=operator.address).number == 1  # the same licence
    buy(client, chain, stranger, offer_id)  # the id stranger held is issued afresh: a new licence
    again = AcquiredLicence.objects.get(offer_id=offer_id, licensee=stranger.address)
    assert (again.licence_id, again.number) == (first.licence_id, 3)
    assert LicenceOffer.objects.get(offer_id=offer_id).issued == 3
    # My instances names each instance by the licence it ran under, though that id is licence 3 now.
    later = instantiate(network_service, stranger)
    sign_in(client, stranger)
    names = " ".join(client.get("/instances/").content.decode().split())
    assert f"licence 1 of offer #{offer_id}" in names
    assert f"licence 3 of offer #{offer_id}" in names
    assert (earlier.licence_id, later.licence_id) == (first.licence_id, first.licence_id)

    numbers = dict(AcquiredLicence.objects.values_list("licence_id", "number"))
    projections.rebuild()  # a re-index numbers them alike
    assert dict(AcquiredLicence.objects.values_list("licence_id", "number")) == numbers
    assert licence_numbers(chain_id=chain.chain_id(), licence_ids=[first.licence_id]) == {first.licence_id: 3}

    # A node indexed before numbers existed numbers its licences alike when it migrates.
    AcquiredLicence.objects.update(number=0)
    LicenceOffer.objects.update(issued=0)
    importlib.import_module("ledger.migrations.0006_licence_numbers").number_the_licences(django_apps, None)
    assert dict(AcquiredLicence.objects.values_list("licence_id", "number")) == numbers
    assert LicenceOffer.objects.get(offer_id=offer_id).issued == 3


def test_it_refuses_to_transfer_a_non_transferable_licence(
    client,
    chain,
    developer,
    stranger,
    operator,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=2)
    token = buy(client, chain, stranger, offer_id)
    licence = AcquiredLicence.objects.get(offer_id=offer_id)
    refused = transfer(client, licence.licence_id, token, operator.address)
    assert refused.status_code == 403
    assert f"offer #{offer_id} is not transferable" in refused.json()["error"]


def test_only_the_holder_transfers_and_only_to_an_address(
    client,
    chain,
    developer,
    stranger,
    operator,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=2, transferable=True)
    token = buy(client, chain, stranger, offer_id)
    licence = AcquiredLicence.objects.get(offer_id=offer_id)
    other = transfer(client, licence.licence_id, signed_in_token(client, operator), developer.address)
    assert other.status_code == 403
    assert f"held by {stranger.address}" in other.json()["error"]
    assert transfer(client, licence.licence_id, None, operator.address).status_code == 401
    assert transfer(client, licence.licence_id, token, "0x1234").status_code == 400
    assert transfer(client, licence.licence_id, token, stranger.address).status_code == 403
    assert transfer(client, 999_999, token, operator.address).status_code == 404


# --- terminate ---


def test_it_logs_the_terminate_decisions_and_the_event(
    client,
    chain,
    developer,
    stranger,
    operator,
    network_service,  # noqa: F811
):
    offer(client, chain, developer, network_service, kind="public")
    instance = instantiate(network_service, stranger)
    refused = client.post(f"/api/v1/instances/{instance.pk}/terminate", headers=auth(signed_in_token(client, operator)))
    assert refused.status_code == 403
    done = client.post(f"/api/v1/instances/{instance.pk}/terminate", headers=auth(signed_in_token(client, stranger)))
    assert done.json()["state"] == "terminated"
    subject = f"instance:{instance.pk}"
    decisions = entries(subject, "decision")
    assert [(d.actor, d.payload["permit"], d.payload["action"]) for d in decisions] == [
        (operator.address, False, "terminate"),
        (stranger.address, True, "terminate"),
    ]
    assert len(entries(subject, "terminate")) == 1


@pytest.mark.parametrize(
    ("amount", "wei"), [("0.02", 2 * 10**16), ("", 0), (None, 0), ("1", 10**18), ("0.000000000000000001", 1)]
)
def test_ether_becomes_wei_exactly(amount, wei):
    assert ether_to_wei(amount) == wei


@pytest.mark.parametrize("amount", ["abc", "-1", "0.0000000000000000001", "NaN", "Infinity"])
def test_an_amount_that_is_not_ether_is_named(amount):
    with pytest.raises(ValidationFailed) as caught:
        ether_to_wei(amount)
    assert set(caught.value.errors) == {"price_eth"}
