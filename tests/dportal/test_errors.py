"""The portal maps domain errors once (dportal/errors.py): an outage reads the same on a page, in a wallet
step's JSON and in the JSON API, naming what is down and how to fix it; a refused wallet step answers
JSON with the reason."""

from __future__ import annotations

import pytest

from dportal.access import SESSION_ADDRESS
from dportal.forms import SearchForm
from ledger.exceptions import ChainUnavailable
from marketplace.api.sol005 import _problem
from marketplace.errors import outage
from tests.processes import free_port

pytestmark = pytest.mark.django_db

ADDRESS = "0x" + "ab" * 20


def sign_in_as(client, address=ADDRESS):
    session = client.session
    session[SESSION_ADDRESS] = address
    session.save()


@pytest.fixture
def chain_down(settings):
    url = f"http://127.0.0.1:{free_port()}"
    settings.ETH_RPC_URL = url
    settings.EMBEDDED_CHAIN = False
    return url


def test_a_page_that_needs_the_chain_says_it_is_down_and_how_to_fix_it(client, chain_down):
    sign_in_as(client)
    response = client.get("/licences/")
    assert response.status_code == 503
    html = response.content.decode()
    assert f"The chain is unavailable: the node at {chain_down} does not answer" in html
    assert "set ETH_RPC_URL to a running node" in html


def test_a_wallet_step_answers_the_same_outage_as_json(client, chain_down):
    sign_in_as(client)
    response = client.post("/offers/1/close", content_type="application/json")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error.startswith(f"The chain is unavailable: the node at {chain_down} does not answer")
    assert error.endswith("Start it (make run starts one), or set ETH_RPC_URL to a running node.")


def test_the_json_api_and_sol005_word_the_outage_alike(client, chain_down):
    api = client.post("/api/v1/auth/nonce")
    assert api.status_code == 503
    assert api.json()["error"].startswith(f"The chain is unavailable: the node at {chain_down} does not answer")
    down = ChainUnavailable(chain_down, "connection refused")
    assert _problem(down) == (503, outage(down), {})


def test_a_wallet_step_without_a_session_is_told_to_sign_in(client):
    response = client.post("/offers/1/close", content_type="application/json")
    assert response.status_code == 401
    assert response.json() == {"error": "sign in with your wallet first"}


def test_a_wallet_step_with_a_body_that_is_not_an_object_names_it(client):
    sign_in_as(client)
    response = client.post("/offers/1/close", "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert "JSON object" in response.json()["error"]


def test_the_portal_form_and_the_api_refuse_a_filter_with_the_same_words(client):
    form = SearchForm({"kind": "router", "min_vcpus": "-1"})
    assert not form.is_valid()
    api = client.get("/api/v1/packages", {"kind": "router", "min_vcpus": "-1"})
    assert api.status_code == 400
    fields = api.json()["fields"]
    assert set(fields) == {"kind", "min_vcpus"}
    assert form.errors["kind"] == [fields["kind"]]
    assert form.errors["min_vcpus"] == [fields["min_vcpus"]]
