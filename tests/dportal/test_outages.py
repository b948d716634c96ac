"""Outages read as outages: with the chain node down, pages that only read still answer from the database
under a banner naming what is down and how to fix it; writes that need the chain answer 503 saying the same;
when the node answers again the banner goes by itself. (The database's outage, with real processes killed,
is in tests/config/test_faults.py.)"""

from __future__ import annotations

import pytest

from marketplace.repository import services
from marketplace.repository.models import NetworkService
from tests.factories import listed, signed_in_token
from tests.processes import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(developer, deployed):
    packages = [listed(r.package) for r in services.catalogue_seed_demo(uploader=developer.address)]
    return packages[0], NetworkService.objects.first()


def banner(html: str) -> str:
    start = html.find('id="outage"')
    return html[start : html.find("</div>", start)] if start >= 0 else ""


def test_with_the_chain_down_reading_pages_answer_under_a_banner(client, catalogue, settings):
    package, ns = catalogue
    settings.ETH_RPC_URL = dead = f"http://127.0.0.1:{free_port()}"

    for path in (
        "/",
        "/packages/",
        f"/packages/{package.pk}/",
        "/catalogue/",
        f"/nss/{ns.pk}/",
        "/provenance/",
        f"/packages/{package.pk}/provenance",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        shown = banner(response.content.decode())
        assert "The chain is down" in shown, path
        assert dead in shown
        assert "ETH_RPC_URL" in shown  # how to fix it
    assert package.name in client.get("/packages/").content.decode()  # the catalogue, from the database


def test_with_the_chain_down_a_write_that_needs_it_answers_503_naming_it(client, catalogue, developer, settings):
    package, _ = catalogue
    token = signed_in_token(client, developer)
    settings.ETH_RPC_URL = dead = f"http://127.0.0.1:{free_port()}"

    response = client.post(
        f"/api/v1/packages/{package.pk}/offers",
        {"kind": "public"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 503
    error = response.json()["error"]
    assert f"the node at {dead} does not answer" in error
    assert "ETH_RPC_URL" in error


def test_the_banner_goes_when_the_chain_answers_again(client, catalogue, settings):
    working = settings.ETH_RPC_URL
    settings.ETH_RPC_URL = f"http://127.0.0.1:{free_port()}"
    assert banner(client.get("/packages/").content.decode())

    settings.ETH_RPC_URL = working

    assert banner(client.get("/packages/").content.decode()) == ""
