"""The portal's Operation section: scaling an instance from My instances, verifying it again on demand
(portal and API), and transferring a licence from My licences; for the owner, another user and an
anonymous visitor, on anvil and the embedded store."""

from __future__ import annotations

import json
import re

import pytest

from ledger.models import AcquiredLicence
from marketplace.contract_manager.models import ProvenanceEntry
from marketplace.licensing.instances import instance_terminate
from marketplace.licensing.models import NsInstance
from marketplace.repository.models import Vnf
from tests.dportal.test_portal_packages import sign_in
from tests.factories import instantiate, sign_seats, signed_in_token, wallet_sends
from tests.licensing.test_licensing_journey import auth, buy, index, network_service, offer  # noqa: F401
from tests.repository.test_tamper import corrupt_blob

pytestmark = pytest.mark.django_db


def entries(subject: str, kind: str) -> list[ProvenanceEntry]:
    return list(ProvenanceEntry.objects.filter(subject=subject, kind=kind).order_by("seq"))


def row(html: str, instance: NsInstance) -> str:
    match = re.search(rf'<tr data-instance="{instance.pk}">.*?</tr>', html, re.S)
    assert match, f"no row for instance {instance.pk}"
    return match.group(0)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'")


@pytest.fixture
def two_seats(client, chain, developer, stranger, network_service):  # noqa: F811
    """A private offer of two seats the stranger bought, and one instance of one unit under it."""
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=2, transferable=True)
    buy(client, chain, stranger, offer_id)
    return instantiate(network_service, stranger)


# --- scale from My instances ---


def test_it_scales_from_my_instances_and_shows_the_decision_first(client, stranger, two_seats):
    sign_in(client, stranger)
    page = client.get("/instances/").content.decode()
    cells = row(page, two_seats)
    assert f'action="/instances/{two_seats.pk}/scale"' in cells
    assert f'<label for="id_units_{two_seats.pk}">Units</label>' in cells
    assert "Allowed: private licence #" in text(cells)
    assert "2 of 2 instances after scaling out by 1" in text(cells)

    # Without the wallet's signature of the seat opening nothing is scaled, and the page says why.
    unsigned = client.post(f"/instances/{two_seats.pk}/scale", {"units": 2})
    assert unsigned.status_code == 428
    assert "your wallet must sign the seat opening first" in text(row(unsigned.content.decode(), two_seats))
    # The page's script asks for the opening, the wallet signs it, and it goes with the form.
    typed = client.get(f"/instances/{two_seats.pk}/seat-opening", {"units": 2}).json()["typed_data"]
    assert (typed["primaryType"], typed["message"]["count"]) == ("SeatOpening", 1)
    signed = sign_seats(stranger, typed)
    form = {"units": 2, "seat_typed_data": json.dumps(signed.typed_data), "seat_signature": signed.signature}
    done = client.post(f"/instances/{two_seats.pk}/scale", form, follow=True)
    assert done.redirect_chain == [("/instances/", 302)]
    assert "nfvm-demo-core-ns 1.0, instance 1 now runs 2 units." in text(done.content.decode())
    two_seats.refresh_from_db()
    assert two_seats.units == 2
    after = text(row(done.content.decode(), two_seats))
    assert "Not allowed: 2 of 2 instances running under licence" in after

    refused = client.post(f"/instances/{two_seats.pk}/scale", {"units": 3})
    assert refused.status_code == 403
    beside = re.search(r'data-fact="scale-refusal">([^<]+)<', row(refused.content.decode(), two_seats))
    assert beside is not None
    assert "2 of 2 instances running" in beside.group(1)
    assert 'value="3"' in row(refused.content.decode(), two_seats)
    two_seats.refresh_from_db()
    assert two_seats.units == 2

    back = client.post(f"/instances/{two_seats.pk}/scale", {"units": 1}, follow=True)
    assert "nfvm-demo-core-ns 1.0, instance 1 now runs 1 unit." in text(back.content.decode())
    assert [e.payload["change"] for e in entries(f"instance:{two_seats.pk}", "scale")] == [1, -1]


def test_it_shows_bad_numbers_of_units_beside_the_field(client, stranger, two_seats):
    sign_in(client, stranger)
    for bad, says in ((0, "greater than or equal to 1"), ("many", "Enter a whole number"), (1, "already runs 1 units")):
        answer = client.post(f"/instances/{two_seats.pk}/scale", {"units": bad})
        assert answer.status_code == 400, bad
        assert says in text(row(answer.content.decode(), two_seats)), bad
    instance_terminate(instance=two_seats, actor=stranger.address)
    stopped = client.post(f"/instances/{two_seats.pk}/scale", {"units": 2})
    assert stopped.status_code == 409
    assert "only a running instance scales" in text(stopped.content.decode())


def test_it_previews_the_typed_number_of_units(client, stranger, operator, two_seats):
    url = f"/instances/{two_seats.pk}/scale/preview"
    assert client.get(url, {"units": 2}).status_code == 401
    sign_in(client, operator)
    assert client.get(url, {"units": 2}).status_code == 403
    sign_in(client, stranger)
    fits = client.get(url, {"units": 2}, headers={"HX-Request": "true"})
    assert fits.status_code == 200
    assert 'class="decision-permit"' in fits.content.decode()
    assert "<tr" not in fits.content.decode()
    over = text(client.get(url, {"units": 3}).content.decode())
    assert "Not allowed: 1 of 2 instances running under licence" in over
    assert "scaling out by 2 needs 3" in over
    assert "Allowed" not in text(client.get(url, {"units": "x"}).content.decode())


def test_only_the_owner_scales_from_the_portal(client, stranger, operator, two_seats):
    anonymous = client.post(f"/instances/{two_seats.pk}/scale", {"units": 2})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/signin?next=/instances/")
    sign_in(client, operator)
    other = client.post(f"/instances/{two_seats.pk}/scale", {"units": 2})
    assert other.status_code == 403
    assert f"only {stranger.address} may scale instance {two_seats.pk}" in text(other.content.decode())
    assert f'data-instance="{two_seats.pk}"' not in other.content.decode()
    assert client.post("/instances/0123456789abcdef01234567/scale", {"units": 2}).status_code == 404
    two_seats.refresh_from_db()
    assert two_seats.units == 1


# --- verify again ---


def test_it_verifies_an_instance_again_through_the_api(client, stranger, two_seats):
    token = signed_in_token(client, stranger)
    answer = client.post(f"/api/v1/instances/{two_seats.pk}/verify", headers=auth(token))
    assert answer.status_code == 200, answer.content
    assert answer.json()["integrity"] == "verified"
    assert answer.json()["integrity_detail"] == "the orchestrator's checksums equal the anchored digests"
    (logged,) = entries(f"instance:{two_seats.pk}", "verify")
    assert logged.actor == stranger.address
    assert logged.payload["integrity"] == "verified"


def test_it_reports_a_mismatch_once_a_stored_archive_is_tampered(client, stranger, two_seats):
    token = signed_in_token(client, stranger)
    vnf = Vnf.objects.filter(pk__in=two_seats.ns.vnf_ids).select_related("package").first()
    assert vnf is not None
    corrupt_blob(vnf.package.digest)
    answer = client.post(f"/api/v1/instances/{two_seats.pk}/verify", headers=auth(token))
    assert answer.status_code == 200
    assert answer.json()["integrity"] == "mismatch"
    assert str(vnf.package) in answer.json()["integrity_detail"]
    two_seats.refresh_from_db()
    assert two_seats.integrity == "mismatch"
    (logged,) = entries(f"instance:{two_seats.pk}", "verify")
    assert (logged.payload["previous"], logged.payload["integrity"]) == ("verified", "mismatch")

    sign_in(client, stranger)
    shown = client.post(f"/instances/{two_seats.pk}/verify", follow=True)
    assert "nfvm-demo-core-ns 1.0, instance 1: mismatch; the orchestrator holds other bytes" in text(
        shown.content.decode()
    )
    assert "verdict-tampered" in row(shown.content.decode(), two_seats)


def test_only_the_owner_verifies_an_instance(client, stranger, operator, two_seats):
    url = f"/api/v1/instances/{two_seats.pk}/verify"
    assert client.post(url).status_code == 401
    other = client.post(url, headers=auth(signed_in_token(client, operator)))
    assert other.status_code == 403
    assert f"only {stranger.address} may verify instance {two_seats.pk}" in other.json()["error"]
    missing = client.post(
        "/api/v1/instances/0123456789abcdef01234567/verify", headers=auth(signed_in_token(client, stranger))
    )
    assert missing.status_code == 404
    (denied,) = entries(f"instance:{two_seats.pk}", "decision")[-1:]
    assert (denied.actor, denied.payload["permit"], denied.payload["action"]) == (operator.address, False, "verify")

    anonymous = client.post(f"/instances/{two_seats.pk}/verify")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/signin?next=/instances/")
    sign_in(client, operator)
    portal = client.post(f"/instances/{two_seats.pk}/verify")
    assert portal.status_code == 403
    assert entries(f"instance:{two_seats.pk}", "verify") == []


def test_it_offers_verify_again_on_my_instances(client, stranger, two_seats):
    sign_in(client, stranger)
    cells = row(client.get("/instances/").content.decode(), two_seats)
    assert f'action="/instances/{two_seats.pk}/verify"' in cells
    assert "Verify again" in cells
    done = client.post(f"/instances/{two_seats.pk}/verify", follow=True)
    assert done.redirect_chain == [("/instances/", 302)]
    assert "nfvm-demo-core-ns 1.0, instance 1: verified" in text(done.content.decode())


# --- transfer from My licences ---


def transfer(client, licence_id: int, to: object):
    return client.post(f"/licences/{licence_id}/transfer", {"to": to}, content_type="application/json")


def test_it_transfers_a_licence_from_my_licences(client, chain, stranger, operator, two_seats):
    licence = AcquiredLicence.objects.get(offer_id=two_seats.offer_id, licensee=stranger.address)
    sign_in(client, stranger)
    page = client.get("/licences/").content.decode()
    assert f'data-url="/licences/{licence.licence_id}/transfer"' in page
    assert "js/licensing.js" in page

    busy = transfer(client, licence.licence_id, operator.address)
    assert busy.status_code == 403
    assert f"terminate {two_seats.pk} first" in busy.json()["error"]
    assert busy.json()["decision"]["action"] == "transfer"

    instance_terminate(instance=two_seats, actor=stranger.address)
    permitted = transfer(client, licence.licence_id, operator.address.lower())
    assert permitted.status_code == 200, permitted.content
    assert permitted.json()["decision"]["permit"] is True
    wallet_sends(chain, stranger, permitted.json()["transaction"])
    index(chain)

    assert f'data-licence="{licence.licence_id}"' not in client.get("/licences/").content.decode()
    sign_in(client, operator)
    (moved,) = AcquiredLicence.objects.filter(offer_id=two_seats.offer_id)
    assert moved.licensee == operator.address
    assert f'data-licence="{moved.licence_id}"' in client.get("/licences/").content.decode()


def test_it_refuses_a_transfer_with_the_reason(client, chain, developer, stranger, operator, network_service):  # noqa: F811
    fixed = offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    buy(client, chain, stranger, fixed)
    licence = AcquiredLicence.objects.get(offer_id=fixed, licensee=stranger.address)
    sign_in(client, stranger)
    assert "licence-transfer" not in client.get("/licences/").content.decode()
    refused = transfer(client, licence.licence_id, operator.address)
    assert refused.status_code == 403
    assert f"offer #{fixed} is not transferable" in refused.json()["error"]
    bad = transfer(client, licence.licence_id, "0x1234")
    assert bad.status_code == 400
    assert "is not an Ethereum address" in bad.json()["error"]
    assert transfer(client, licence.licence_id, stranger.address).status_code == 403
    assert transfer(client, 999_999, operator.address).status_code == 404
    not_json = client.post(f"/licences/{licence.licence_id}/transfer", {"to": operator.address})
    assert not_json.status_code == 400


def test_only_the_holder_transfers_from_the_portal(client, stranger, operator, developer, two_seats):
    licence = AcquiredLicence.objects.get(offer_id=two_seats.offer_id, licensee=stranger.address)
    anonymous = transfer(client, licence.licence_id, developer.address)
    assert anonymous.status_code == 401
    assert client.get(f"/licences/{licence.licence_id}/transfer").status_code == 405
    sign_in(client, operator)
    other = transfer(client, licence.licence_id, developer.address)
    assert other.status_code == 403
    assert f"held by {stranger.address}" in other.json()["error"]
    assert f'data-licence="{licence.licence_id}"' not in client.get("/licences/").content.decode()


# --- a refusal comes with the step that resolves it ---


def instantiate_part(client, ns) -> str:
    html = client.get(f"/nss/{ns.pk}/").content.decode()
    part = re.search(r'<section class="operation".*?</section>', html, re.S)
    assert part
    return part.group(0)


def test_without_a_licence_instantiate_is_disabled_and_buying_the_offer_is_offered(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=2 * 10**16, seats=2)
    client.logout()
    sign_in(client, stranger)
    part = instantiate_part(client, network_service)
    assert re.search(r'<button type="submit" class="button" id="instantiate-button" disabled', part)
    step = re.search(r'data-fact="next-step">(.*?)</p>', part, re.S)
    assert step
    assert f'data-offer="{offer_id}"' in step.group(1)
    assert f"Buy offer #{offer_id} (0.02 ETH)" in text(step.group(1))
    # Once bought, the decision part (fetched alone after the purchase) allows it and enables the button.
    buy(client, chain, stranger, offer_id)
    sign_in(client, stranger)
    update = client.get(f"/nss/{network_service.pk}/decision").content.decode()
    assert "Allowed: private licence #" in text(update)
    assert 'data-fact="next-step"' not in update
    assert re.search(r'id="instantiate-button" hx-swap-oob="true">', update), "enabled, swapped beside it"


def test_with_every_seat_taken_the_step_is_terminating_an_instance(client, stranger, network_service, two_seats):  # noqa: F811
    instantiate(network_service, stranger)  # the second of two seats
    sign_in(client, stranger)
    part = instantiate_part(client, network_service)
    assert 'id="instantiate-button" disabled' in part
    step = re.search(r'data-fact="next-step">(.*?)</p>', part, re.S)
    assert step
    assert '<a class="button" href="/instances/">Terminate an instance (2 running)</a>' in step.group(1)


def test_a_lapsed_licence_offers_renewal_and_a_closed_offer_offers_nothing(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=10**15, seats=2, duration_days=1)
    buy(client, chain, stranger, offer_id)
    chain.w3.provider.make_request("evm_increaseTime", [2 * 86400])
    chain.w3.provider.make_request("evm_mine", [])
    client.logout()
    sign_in(client, stranger)
    part = instantiate_part(client, network_service)
    assert "ended on" in text(part)
    assert f"Renew: buy offer #{offer_id} again (0.001 ETH)" in text(part)
    # The publisher closes the offer: nothing can resolve the refusal here, so no button is offered.
    from ledger.models import LicenceOffer

    LicenceOffer.objects.filter(offer_id=offer_id).update(closed=True)
    part = instantiate_part(client, network_service)
    assert 'data-fact="next-step"' not in part
    assert 'id="instantiate-button" disabled' in part
