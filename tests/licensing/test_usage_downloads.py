"""The decision point on downloads: a licensed-only package (open trial or private offers, no open public
offer) is downloaded by its uploader or a licence holder whose policy permits download, through the JSON
API, the SOL005 endpoints and the portal; every decision on it and every download is logged."""

from __future__ import annotations

import pytest

from dportal.access import SESSION_ADDRESS
from marketplace.contract_manager.models import ProvenanceEntry
from marketplace.licensing.models import LicencePolicy
from marketplace.repository.models import Vnf
from tests.factories import signed_in_token
from tests.licensing.test_licensing_journey import auth, buy, network_service, offer  # noqa: F401

pytestmark = pytest.mark.django_db


def content(client, package, token: str | None = None):
    return client.get(f"/api/v1/packages/{package.pk}/content", headers=auth(token) if token else {})


def logged(package, kind: str) -> list[ProvenanceEntry]:
    return list(ProvenanceEntry.objects.filter(subject=f"package:{package.pk}", kind=kind).order_by("seq"))


def test_it_lets_anyone_download_a_package_without_offers(client, network_service):  # noqa: F811
    package = network_service.package
    response = content(client, package)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) != b""
    assert logged(package, "decision") == []  # open packages are not logged


def test_it_lets_anyone_download_a_package_with_a_public_offer(client, chain, developer, network_service):  # noqa: F811
    offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    offer(client, chain, developer, network_service, kind="public")
    assert content(client, network_service.package).status_code == 200


def test_attack_anonymous_refusals_grow_no_log_and_a_licensed_only_package_stays_closed(
    client,
    chain,
    developer,
    network_service,  # noqa: F811
):
    offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    package = network_service.package
    response = content(client, package)
    assert response.status_code == 401
    assert "sign in" in response.json()["error"]
    assert response.json()["decision"]["permit"] is False
    file_path = package.files[0].path
    assert client.get(f"/api/v1/packages/{package.pk}/files/{file_path}").status_code == 401
    # Finding 9: a refusal of nobody changes nothing; logging it would let anyone grow the log at will.
    assert logged(package, "decision") == []


def test_it_refuses_a_user_without_a_licence_and_says_how_to_get_one(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    token = signed_in_token(client, stranger)
    response = content(client, network_service.package, token)
    assert response.status_code == 403
    assert f"buy offer #{offer_id}" in response.json()["error"]
    trial_id = offer(client, chain, developer, network_service, kind="trial", seats=1, duration_days=7)
    response = content(client, network_service.package, token)
    assert f"activate the free trial offer #{trial_id}" in response.json()["error"]
    assert [d.payload["permit"] for d in logged(network_service.package, "decision")] == [False, False]
    assert logged(network_service.package, "download") == []


def test_it_lets_the_uploader_download_a_licensed_only_package(client, chain, developer, network_service):  # noqa: F811
    offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    response = content(client, network_service.package, signed_in_token(client, developer))
    assert response.status_code == 200
    (decision,) = logged(network_service.package, "decision")
    assert decision.payload["permit"] is True
    assert "uploader" in decision.payload["reason"]


def test_it_lets_a_licence_holder_download_and_logs_it(client, chain, developer, stranger, network_service):  # noqa: F811
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    token = buy(client, chain, stranger, offer_id)
    package = network_service.package
    response = content(client, package, token)
    assert response.status_code == 200
    file_path = package.files[0].path
    assert client.get(f"/api/v1/packages/{package.pk}/files/{file_path}", headers=auth(token)).status_code == 200
    decisions = logged(package, "decision")
    assert [d.payload["permit"] for d in decisions] == [True, True]
    assert "permits download" in decisions[0].payload["reason"]
    downloads = logged(package, "download")
    assert [d.payload["what"] for d in downloads] == ["archive", f"file {file_path}"]
    assert {d.actor for d in downloads} == {stranger.address}


def test_it_takes_the_portal_session_as_the_requester(client, chain, developer, stranger, network_service):  # noqa: F811
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    buy(client, chain, stranger, offer_id)
    session = client.session
    session[SESSION_ADDRESS] = stranger.address
    session.save()
    assert content(client, network_service.package).status_code == 200


def test_attack_a_policy_copy_edited_to_drop_a_permission_refuses_rather_than_guesses(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    token = buy(client, chain, stranger, offer_id)
    policy = LicencePolicy.objects.get(package=network_service.package)
    policy.document["permission"] = [
        rule for rule in policy.document["permission"] if not str(rule["action"]).endswith("download")
    ]
    policy.save()
    response = content(client, network_service.package, token)
    assert response.status_code == 403
    assert "does not hash to its terms on chain" in response.json()["error"]


def test_it_refuses_an_unknown_token_rather_than_treating_it_as_anonymous(client, network_service):  # noqa: F811
    assert content(client, network_service.package, "not-a-token").status_code == 401


def test_it_decides_sol005_package_content_too(client, chain, developer, stranger, operator, network_service):  # noqa: F811
    offer_id = offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    token = buy(client, chain, stranger, offer_id)
    url = f"/nsd/v1/ns_descriptors/{network_service.pk}/nsd_content"
    anonymous = client.get(url)
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/problem+json"
    assert anonymous["WWW-Authenticate"] == "Bearer"
    assert "sign in" in anonymous.json()["detail"]
    other = client.get(url, headers=auth(signed_in_token(client, operator)))
    assert other.status_code == 403
    assert f"buy offer #{offer_id}" in other.json()["detail"]
    assert client.get(url, headers=auth(token)).status_code == 200
    assert client.get(url, headers=auth("expired")).status_code == 401


def test_it_shows_the_reason_instead_of_the_download_link_in_the_portal(
    client,
    chain,
    developer,
    network_service,  # noqa: F811
):
    page = client.get(f"/packages/{network_service.package.pk}/").content.decode()
    assert "Download package" in page
    offer(client, chain, developer, network_service, kind="private", price=1, seats=1)
    page = client.get(f"/packages/{network_service.package.pk}/").content.decode()
    assert "Download package" not in page
    assert "sign in with the wallet that holds a licence" in page


def test_attack_reading_a_licensed_vnfd_through_sol005_without_a_licence(
    client,
    chain,
    developer,
    stranger,
    operator,
    network_service,  # noqa: F811
):
    """Finding 6: the SOL005 VNFD of a licensed-only VNF package is part of the package: the decision point
    answers for it as for the archive."""
    vnf = Vnf.objects.filter(pk__in=network_service.vnf_ids).select_related("package").first()
    assert vnf is not None
    offer_id = offer(client, chain, developer, vnf, kind="private", price=1, seats=1)
    url = f"/vnfpkgm/v1/vnf_packages/{vnf.package.pk}/vnfd"
    anonymous = client.get(url)
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/problem+json"
    other = client.get(url, headers=auth(signed_in_token(client, operator)))
    assert other.status_code == 403
    assert f"buy offer #{offer_id}" in other.json()["detail"]
    token = buy(client, chain, stranger, offer_id)
    assert client.get(url, headers=auth(token)).status_code == 200


def test_attack_reading_a_licensed_descriptor_through_the_api_or_the_portal(
    client,
    chain,
    developer,
    stranger,
    network_service,  # noqa: F811
):
    """The descriptor document is package content: the JSON API answers it as a download, and the portal's
    VNF page shows the reason instead of the document."""
    vnf = Vnf.objects.filter(pk__in=network_service.vnf_ids).select_related("package").first()
    assert vnf is not None
    offer_id = offer(client, chain, developer, vnf, kind="private", price=1, seats=1)
    url = f"/api/v1/vnfs/{vnf.pk}/descriptor?format=json"
    assert client.get(url).status_code == 401
    other = client.get(url, headers=auth(signed_in_token(client, stranger)))
    assert other.status_code == 403
    assert f"buy offer #{offer_id}" in other.json()["error"]
    page = client.get(f"/vnfs/{vnf.pk}/").content.decode()
    assert 'data-fact="descriptor-closed"' in page
    assert '<pre class="descriptor">' not in page
    assert client.get(url, headers=auth(signed_in_token(client, developer))).status_code == 200
