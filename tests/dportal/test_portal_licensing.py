"""The portal's Licensing section (my licences with the signed agreement, my offers with Close offer)
and its Provenance section (timelines per package, per licence and overall, with charts), on anvil and
the embedded store; each page for the owner, another user and an anonymous visitor."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from ledger.indexer import Indexer
from ledger.projections import projections
from marketplace.contract_manager.provenance import provenance_anchor_pending
from marketplace.licensing.instances import instance_terminate
from marketplace.licensing.models import NsInstance, SignedAgreement
from marketplace.repository.models import NetworkService
from marketplace.repository.packages.build import build
from marketplace.repository.services import package_ingest
from tests.dportal.test_portal_packages import sign_in
from tests.factories import instantiate, register_package, signed_in_token, wallet_sends, warp
from tests.processes import free_port

pytestmark = pytest.mark.django_db
DEMO = Path(__file__).resolve().parents[2] / "demo" / "packages" / "osm"
DAY = 86400


def index(chain):
    Indexer(chain, projections, confirmations=0).step()


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def send(chain, account, tx):
    wallet_sends(chain, account, tx)
    index(chain)


@pytest.fixture
def network_service(deployed, chain, snapshot, developer, tmp_path) -> NetworkService:
    """The demo 5G core NS and its two VNFs, ingested and registered on chain by the developer."""
    packages = []
    for name in ("nfvm_demo_amf_vnf", "nfvm_demo_upf_vnf", "nfvm_demo_core_ns"):
        archive = build(DEMO / name, "osm", tmp_path / f"{name}.tar.gz")
        with archive.open("rb") as source:
            packages.append(package_ingest(source=source, uploader=developer.address).package)
    for package in packages:
        register_package(package, developer, chain, index=False)
    index(chain)
    return NetworkService.objects.get(package=packages[-1])


def make_offer(client, chain, developer, ns, **terms) -> int:
    token = signed_in_token(client, developer)
    response = client.post(
        f"/api/v1/packages/{ns.package.pk}/offers", terms, content_type="application/json", headers=auth(token)
    )
    assert response.status_code == 201, response.content
    send(chain, developer, response.json()["transaction"])
    return int(client.get(f"/api/v1/packages/{ns.package.pk}/offers").json()["items"][-1]["offer_id"])


def acquire(client, chain, account, offer_id) -> None:
    token = signed_in_token(client, account)
    typed = client.get(f"/api/v1/offers/{offer_id}/agreement", headers=auth(token)).json()["typed_data"]
    signature = account.sign_typed_data(full_message=typed).signature.to_0x_hex()
    response = client.post(
        f"/api/v1/offers/{offer_id}/agreement",
        {"typed_data": typed, "signature": signature},
        content_type="application/json",
        headers=auth(token),
    )
    assert response.status_code in (200, 201), response.content
    if "transaction" in response.json():  # a purchase: the licensee's own wallet pays
        send(chain, account, response.json()["transaction"])
    index(chain)


@pytest.fixture
def licensed(client, chain, developer, stranger, network_service):
    """The developer offers a private licence (2 instances, 30 days); the stranger buys it and runs one instance."""
    offer_id = make_offer(
        client, chain, developer, network_service, kind="private", price=10**15, seats=2, duration_days=30
    )
    acquire(client, chain, stranger, offer_id)
    instance = instantiate(network_service, stranger)
    assert instance.state == "running"
    licence_id = int(instance.licence_id or 0)
    client.logout()
    return {"offer_id": offer_id, "licence_id": licence_id, "instance": instance, "ns": network_service}


def close(client, offer_id):
    return client.post(f"/offers/{offer_id}/close", "{}", content_type="application/json")


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.content
    html = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script (CSP)"
    return html


# --- My licences ---


def test_it_lists_my_licences_with_seats_validity_and_the_signed_agreement(client, stranger, licensed):
    sign_in(client, stranger)
    html = page(client, "/licences/")
    licence_id = licensed["licence_id"]
    assert "Licence 1 of offer #" in html, "a short number people can say"
    assert f'<code data-fact="licence-id">{licence_id}</code>' in html, "the id on chain kept as detail"
    assert "private" in html
    assert "1 of 2 in use" in html
    assert "until " in html
    assert "expired on" not in html
    assert "Transferable</th><td>no" in html
    agreement = SignedAgreement.objects.get(licensee=stranger.address)
    assert agreement.agreement_hash in html
    assert "Signed agreement (EIP-712)" in html
    assert f"/licences/{licence_id}/agreement.json" in html
    assert f"/licences/{licence_id}/provenance" in html
    assert licensed["ns"].name in html  # the instance under the licence


def test_it_counts_seats_as_the_decision_point_does(client, chain, developer, stranger, licensed):
    """A scaled instance holds one seat per unit (marketplace.licensing.seats.seats_in_use)."""
    NsInstance.objects.filter(pk=licensed["instance"].pk).update(units=2)
    sign_in(client, stranger)
    assert "2 of 2 in use" in page(client, "/licences/")
    client.logout()
    sign_in(client, developer)
    assert re.search(r'data-fact="in-use">\s*2\s*<', page(client, "/offers/"))
    provenance = page(client, "/provenance/?charts=1")
    assert re.search(r"<title>#\S+: 2 used</title>", provenance)  # the seats chart's bar


def test_it_downloads_the_agreement_the_licensee_signed(client, stranger, licensed):
    sign_in(client, stranger)
    response = client.get(f"/licences/{licensed['licence_id']}/agreement.json")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    body = response.json()
    assert body["licensee"] == stranger.address
    signer = Account.recover_message(encode_typed_data(full_message=body["typed_data"]), signature=body["signature"])
    assert signer == stranger.address
    assert body["typed_data"]["message"]["offerId"] == licensed["offer_id"]


def test_it_lets_the_offers_provider_read_the_agreement_too(client, developer, licensed):
    sign_in(client, developer)
    assert client.get(f"/licences/{licensed['licence_id']}/agreement.json").status_code == 200


def test_it_shows_another_user_none_of_my_licences_nor_my_agreement(client, operator, licensed):
    sign_in(client, operator)
    html = page(client, "/licences/")
    assert "You hold no licences yet" in html
    assert str(licensed["licence_id"]) not in html
    refused = client.get(f"/licences/{licensed['licence_id']}/agreement.json")
    assert refused.status_code == 403
    assert "only the licensee or the offer's provider" in refused.json()["error"]


def test_it_sends_an_anonymous_visitor_to_sign_in(client, licensed):
    response = client.get("/licences/")
    assert response.status_code == 302
    assert response["Location"].startswith("/signin?next=/licences/")
    assert client.get(f"/licences/{licensed['licence_id']}/agreement.json").status_code == 401


def test_it_says_when_an_expired_licence_ended(client, chain, developer, stranger, network_service):
    offer_id = make_offer(client, chain, developer, network_service, kind="private", price=1, seats=1, duration_days=1)
    acquire(client, chain, stranger, offer_id)
    chain.w3.provider.make_request("evm_increaseTime", [2 * DAY])
    chain.w3.provider.make_request("evm_mine", [])
    client.logout()
    sign_in(client, stranger)
    html = page(client, "/licences/")
    assert "expired on" in html
    assert "ended on" in html


def test_it_refuses_an_agreement_signed_by_another_key_and_keeps_nothing(
    client, chain, developer, stranger, operator, network_service
):
    offer_id = make_offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    token = signed_in_token(client, stranger)
    typed = client.get(f"/api/v1/offers/{offer_id}/agreement", headers=auth(token)).json()["typed_data"]
    forged = operator.sign_typed_data(full_message=typed).signature.to_0x_hex()
    response = client.post(
        f"/api/v1/offers/{offer_id}/agreement",
        {"typed_data": typed, "signature": forged},
        content_type="application/json",
        headers=auth(token),
    )
    assert response.status_code == 401
    assert f"signed by {operator.address}" in response.json()["error"]
    assert not SignedAgreement.objects.exists()


def test_it_keeps_the_agreement_of_an_activated_trial(client, chain, developer, stranger, network_service):
    offer_id = make_offer(client, chain, developer, network_service, kind="trial", seats=1, duration_days=7)
    acquire(client, chain, stranger, offer_id)
    client.logout()
    sign_in(client, stranger)
    html = page(client, "/licences/")
    assert "trial" in html
    assert "Signed agreement (EIP-712)" in html


# --- My offers and Close offer ---


def test_it_shows_the_provider_offers_with_sales_seats_and_the_policy(client, developer, licensed):
    sign_in(client, developer)
    html = page(client, "/offers/")
    offer_id = licensed["offer_id"]
    assert f"Offer #{offer_id}" in html
    assert re.search(r'data-fact="sold">\s*1\s*<', html)
    assert re.search(r'data-fact="in-use">\s*1\s*<', html)
    assert "0.001 ETH" in html
    assert "30 days" in html
    assert "2 per licence" in html
    assert "ODRL policy" in html
    assert "&quot;@context&quot;" in html  # the ODRL document itself, escaped
    assert f"/api/v1/offers/{offer_id}/policy" in html
    assert "Close offer" in html
    assert 'class="badge proof-ok">open' in html


def test_it_shows_no_offers_to_another_user_or_an_anonymous_visitor(client, stranger, licensed):
    assert client.get("/offers/").status_code == 302
    sign_in(client, stranger)
    html = page(client, "/offers/")
    assert "You have no licence offers yet" in html
    assert f"Offer #{licensed['offer_id']}" not in html


def test_it_lets_the_provider_close_an_offer_and_follows_the_chain(client, chain, developer, deployed, licensed):
    offer_id = licensed["offer_id"]
    sign_in(client, developer)
    prepared = close(client, offer_id)
    assert prepared.status_code == 200, prepared.content
    tx = prepared.json()["transaction"]
    assert tx["to"] == deployed["LicenseManager"]
    assert tx["from"] == developer.address

    chain.transact(developer, {**tx, "value": 0})
    waiting = client.get(f"/offers/{offer_id}/state", {"sent": "1"}, headers={"HX-Request": "true"})
    assert 'hx-trigger="every 2s"' in waiting.content.decode()
    assert "waiting for the chain" in waiting.content.decode()

    index(chain)
    done = client.get(f"/offers/{offer_id}/state", {"sent": "1"}, headers={"HX-Request": "true"}).content.decode()
    assert "closed" in done
    assert "hx-trigger" not in done  # the polling stops
    html = page(client, "/offers/")
    assert "Close offer</button>" not in html
    again = close(client, offer_id)
    assert again.status_code == 409
    assert "already closed" in again.json()["error"]


def test_it_refuses_closing_to_anyone_but_the_provider(client, stranger, licensed):
    offer_id = licensed["offer_id"]
    anonymous = close(client, offer_id)
    assert anonymous.status_code == 401
    sign_in(client, stranger)
    refused = close(client, offer_id)
    assert refused.status_code == 403
    assert "only the offer's provider" in refused.json()["error"]
    assert f"#{offer_id}" in refused.json()["error"]
    assert close(client, 999).status_code == 400


# --- Provenance ---


def test_it_shows_provenance_events_anchoring_and_charts(client, chain, stranger, licensed):
    instance_terminate(instance=licensed["instance"], actor=stranger.address)
    html = page(client, "/provenance/?charts=1")  # the page with its charts, as without JavaScript
    for kind in ("decision", "instantiate", "terminate"):
        assert f'<span class="badge">{kind}</span>' in html
    assert "permitted" in html
    assert "private licence #" in html  # the decision's reason
    assert "pending" in html
    assert "/api/v1/provenance/1/proof" in html
    assert 'data-chart="sales"' in html
    assert 'class="bar-sales"' in html
    assert 'class="bar-started"' in html
    assert 'class="bar-terminated"' in html
    assert "Licences issued per day" in html

    provenance_anchor_pending()
    # Sent, not indexed yet: the overall timeline reads it on the entries, a package's on the last anchoring sent.
    package_page = f"/packages/{licensed['ns'].package.pk}/provenance"
    for path in ("/provenance/", package_page):
        assert '<span class="badge">submitted</span> in range 1\u2013' in page(client, path), path
    index(chain)
    for path in ("/provenance/", package_page):
        anchored = page(client, path)
        assert "anchored</span> in range 1\u2013" in anchored, path
        assert "with root <code>0x" in anchored


def test_the_timeline_answers_first_and_its_charts_load_after_it(client, licensed):
    html = page(client, "/provenance/")
    assert '<section id="timeline"' in html
    assert 'data-chart="sales"' not in html  # a page of events does not wait for the whole log's aggregates
    assert 'hx-get="/provenance/?charts=1" hx-trigger="load"' in html
    assert '<a href="/provenance/?charts=1">' in html  # without JavaScript, a link to the page with them

    fragment = client.get("/provenance/", {"charts": "1"}, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section class="charts" id="charts"')
    assert 'data-chart="sales"' in fragment
    assert 'data-chart="seats"' in fragment
    assert "<html" not in fragment
    assert 'id="timeline"' not in fragment

    package = licensed["ns"].package
    fragment = client.get(
        f"/packages/{package.pk}/provenance", {"charts": "1"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert 'data-chart="instances"' in fragment
    assert 'id="timeline"' not in fragment


def test_it_pages_the_timeline_with_htmx_as_a_fragment(client, licensed):
    html = client.get("/provenance/", {"page": "1"}, headers={"HX-Request": "true"}).content.decode()
    assert html.lstrip().startswith('<section id="timeline"')
    assert "<html" not in html


def test_it_shows_only_the_packages_events_on_its_timeline(client, stranger, network_service, licensed):
    html = page(client, f"/packages/{network_service.package.pk}/provenance?charts=1")
    assert f"ns:{network_service.pk}" in html
    assert f"instance:{licensed['instance'].pk}" in html
    assert 'data-chart="seats"' in html
    vnf_package = network_service.package.__class__.objects.exclude(pk=network_service.package.pk).first()
    other = page(client, f"/packages/{vnf_package.pk}/provenance")
    assert "1 event, in log order" in other, "its registration only"
    assert f"{vnf_package.name} {vnf_package.version} registered on chain" in other
    assert f"ns:{network_service.pk}" not in other


def test_it_follows_a_licences_instances_on_its_timeline(client, stranger, licensed):
    instance_terminate(instance=licensed["instance"], actor=stranger.address)
    html = page(client, f"/licences/{licensed['licence_id']}/provenance")
    assert f"Provenance of licence 1 of offer #{licensed['offer_id']}" in html
    assert str(licensed["licence_id"]) in html
    assert stranger.address in html
    assert '<span class="badge">instantiate</span>' in html
    assert '<span class="badge">terminate</span>' in html  # the terminate entry names only the instance


@pytest.mark.parametrize("who", ["licensee", "other", "anonymous"])
def test_it_shows_provenance_to_everyone(client, stranger, operator, licensed, who):
    if who != "anonymous":
        sign_in(client, stranger if who == "licensee" else operator)
    assert "decision" in page(client, "/provenance/")
    assert "instantiate" in page(client, f"/licences/{licensed['licence_id']}/provenance")
    assert "instantiate" in page(client, f"/packages/{licensed['ns'].package.pk}/provenance")


def test_it_answers_404_for_unknown_licences_and_packages(client, network_service):
    assert client.get("/licences/4242/provenance").status_code == 404
    assert client.get("/packages/000000000000000000000000/provenance").status_code == 404


def test_the_package_page_links_its_provenance_timeline(client, stranger, network_service):
    sign_in(client, stranger)
    detail = page(client, f"/packages/{network_service.package.pk}/")
    assert f"/packages/{network_service.package.pk}/provenance" in detail


def test_it_says_what_to_do_next_when_the_log_is_empty(client, deployed):
    html = page(client, "/provenance/?charts=1")
    assert "No events recorded yet" in html
    assert "No licences issued in the last 14 days." in html


def test_a_publisher_is_not_offered_its_own_licence(client, chain, developer, stranger, network_service):
    offer_id = make_offer(
        client, chain, developer, network_service, kind="private", price=10**15, seats=2, duration_days=30
    )
    path = f"/packages/{network_service.package.pk}/"
    client.logout()
    sign_in(client, developer)
    mine = page(client, path)
    assert 'data-fact="own-offer"' in mine
    assert f'data-offer="{offer_id}" data-kind' not in mine, "no Buy button on the publisher's own offer"
    client.logout()
    sign_in(client, stranger)
    theirs = page(client, path)
    assert f'data-offer="{offer_id}" data-kind' in theirs
    assert 'data-fact="own-offer"' not in theirs


@pytest.mark.parametrize(
    ("form", "field", "says"),
    [
        ({"kind": "trial", "price_eth": "0.01", "seats": "1", "duration_days": "14"}, "price_eth", "is free"),
        ({"kind": "trial", "price_eth": "", "seats": "1", "duration_days": ""}, "duration_days", "needs a period"),
        ({"kind": "private", "price_eth": "", "seats": "1", "duration_days": "30"}, "price_eth", "needs a price"),
        ({"kind": "private", "price_eth": "0.01", "seats": "0", "duration_days": "30"}, "seats", "from 1 to 65535"),
        ({"kind": "private", "price_eth": "abc", "seats": "1", "duration_days": "30"}, "price_eth", "not a number"),
        ({"kind": "public", "price_eth": "", "seats": "3", "duration_days": ""}, "seats", "no limit"),
        ({"kind": "gold"}, "kind", "public, trial or private"),
        ({"kind": "private", "price_eth": "sNaN", "seats": "1", "duration_days": "30"}, "price_eth", "not a number"),
        ({"kind": "private", "price_eth": "1e999999", "seats": "1", "duration_days": "30"}, "price_eth", "not"),
        ({"kind": "private", "price_eth": "1e80", "seats": "1", "duration_days": "30"}, "price_eth", "amount of ether"),
        ({"kind": "private", "price_eth": "0.01", "seats": "²", "duration_days": "30"}, "seats", "from 1 to 65535"),
    ],
)
def test_the_offer_form_names_the_wrong_field_and_prepares_nothing(
    client, developer, network_service, form, field, says
):
    from marketplace.licensing.models import LicencePolicy

    sign_in(client, developer)
    before = LicencePolicy.objects.count()
    response = client.post(
        f"/packages/{network_service.package.pk}/offer", json.dumps(form), content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert says in response.json()["fields"][field]
    assert LicencePolicy.objects.count() == before, "no policy kept for a refused form"


def test_the_package_pages_parts_come_alone_for_in_place_updates(client, chain, developer, stranger, network_service):
    from marketplace.repository.models import Package

    package = network_service.package
    offer_id = make_offer(
        client, chain, developer, network_service, kind="private", price=10**15, seats=2, duration_days=30
    )
    client.logout()
    sign_in(client, developer)
    part = page(client, f"/packages/{package.pk}/licences")
    assert part.lstrip().startswith('<div id="licences"')
    assert f'data-offer="{offer_id}"' in part
    assert 'id="offer-form"' in part, "the owner of a registered package gets the offer form"
    # Once the registration the page followed is on chain, the proof's answer swaps the badge, the
    # licences part and a status line beside it.
    update = page(client, f"/packages/{package.pk}/proof?pending=1")
    assert 'id="chain-state"' in update
    assert update.count('hx-swap-oob="true"') == 3
    assert "Registered on chain" in update
    plain = page(client, f"/packages/{package.pk}/proof")
    assert "hx-swap-oob" not in plain
    # An unlisted package's parts are as absent as its page for anyone but its uploader.
    Package.objects.filter(pk=package.pk).update(listed=False)
    client.logout()
    sign_in(client, stranger)
    assert client.get(f"/packages/{package.pk}/licences").status_code == 404
    assert client.get(f"/packages/{package.pk}/proof?pending=1").status_code == 404


def test_provenance_lists_registrations_offers_closings_and_verifications_by_name(
    client, chain, developer, stranger, network_service
):
    from ledger.projections import projections
    from marketplace.contract_manager.models import ProvenanceEntry
    from marketplace.repository.registration import package_reverify_as

    package = network_service.package
    offer_id = make_offer(
        client, chain, developer, network_service, kind="private", price=2 * 10**16, seats=2, duration_days=30
    )
    client.logout()
    sign_in(client, developer)
    closing = close(client, offer_id)
    assert closing.status_code == 200, closing.content
    send(chain, developer, closing.json()["transaction"])
    index(chain)
    record = package_reverify_as(package=package, actor=developer.address)
    assert record.result == "verified"

    kinds = list(ProvenanceEntry.objects.order_by("seq").values_list("kind", "subject"))
    assert ("register", f"package:{package.pk}") in kinds
    assert ("offer-created", f"offer:{offer_id}") in kinds
    assert ("offer-closed", f"offer:{offer_id}") in kinds
    assert ("verification", f"package:{package.pk}") in kinds
    # Replaying the chain's events after a reorganisation logs none of them twice.
    count = ProvenanceEntry.objects.count()
    projections.rebuild()
    assert ProvenanceEntry.objects.count() == count

    html = page(client, "/provenance/")
    events = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert f"{package.name} {package.version} registered on chain" in events
    assert f"offer #{offer_id} created: private, 0.02 ETH, 2 instances, 30 days" in events
    assert f"offer #{offer_id} closed" in events
    assert f"{package.name} {package.version} checked again: verified" in events
    assert 'data-fact="result">verified<' in html
    # Subjects are named and linked; their raw ids stay in a title only.
    assert f'<a href="/packages/{package.pk}/">{package.name} {package.version}</a>' in html
    assert f">package:{package.pk}<" not in html
    timeline = page(client, f"/packages/{package.pk}/provenance")
    assert "registered on chain" in timeline
    assert f"offer #{offer_id} created" in timeline
    assert "checked again: verified" in timeline


def test_attack_the_public_log_does_not_name_an_unlisted_upload(client, developer, stranger, network_service):
    """An unlisted upload stays its uploader's own: checking it again logs nothing, and a log entry about
    it keeps its raw id for everyone else."""
    from marketplace.contract_manager.models import ProvenanceEntry
    from marketplace.contract_manager.provenance import provenance_append
    from marketplace.repository.models import Package
    from marketplace.repository.registration import package_reverify_as

    package = network_service.package
    Package.objects.filter(pk=package.pk).update(listed=False)
    package.refresh_from_db()
    before = ProvenanceEntry.objects.count()
    package_reverify_as(package=package, actor=developer.address)
    assert ProvenanceEntry.objects.count() == before, "no public entry about an unlisted upload"
    provenance_append(kind="decision", actor=developer.address, subject=f"ns:{network_service.pk}", payload={})
    sign_in(client, stranger)
    html = page(client, "/provenance/")
    assert f"<code>ns:{network_service.pk}</code>" in html
    assert f'href="/nss/{network_service.pk}/"' not in html
    client.logout()
    sign_in(client, developer)
    assert f'href="/nss/{network_service.pk}/"' in page(client, "/provenance/"), "its uploader sees it named"


def test_a_licences_timeline_judges_validity_by_chain_time_and_answers_with_the_chain_down(
    client, chain, settings, licensed
):
    path = f"/licences/{licensed['licence_id']}/provenance"
    assert "until " in page(client, path)
    warp(chain, 31 * DAY)  # chain time, not this host's clock
    assert "ended on" in page(client, path)

    settings.ETH_RPC_URL = f"http://127.0.0.1:{free_port()}"
    html = page(client, path)  # from the database, under the banner; validity by this host's clock
    assert "The chain is down" in html
    assert "until " in html
    assert f"Provenance of licence 1 of offer #{licensed['offer_id']}" in html
