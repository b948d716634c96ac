"""/healthz and the home page report each component, and say what is wrong and how to fix it."""

from __future__ import annotations

import pytest

from tests.processes import free_port


@pytest.mark.django_db
def test_it_is_ok_when_database_chain_and_contracts_are_usable(client, deployed, chain):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["chain"]["chain_id"] == 31337
    assert body["chain"]["latest_block"] >= 1
    assert body["contracts"]["deployed"]["PackageRegistry"]["address"] == deployed["PackageRegistry"]
    assert response.headers["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_it_is_degraded_until_contracts_are_deployed(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["contracts"]["ok"] is False
    assert "deploy_contracts" in body["contracts"]["fix"]


@pytest.mark.django_db
def test_it_names_an_unreachable_chain_and_where_it_was_looked_for(client, settings):
    url = f"http://127.0.0.1:{free_port()}"
    settings.ETH_RPC_URL = url
    settings.EMBEDDED_CHAIN = False

    response = client.get("/healthz")

    assert response.status_code == 503
    chain = response.json()["chain"]
    assert chain["ok"] is False
    assert chain["where"] == url
    assert "unreachable" in chain["detail"]
    assert "ETH_RPC_URL" in chain["fix"]
    assert response.json()["database"]["ok"] is True


@pytest.mark.django_db
def test_the_embedded_chain_fix_points_at_make_run_and_its_log(client, settings):
    settings.ETH_RPC_URL = f"http://127.0.0.1:{free_port()}"
    settings.EMBEDDED_CHAIN = True

    fix = client.get("/healthz").json()["chain"]["fix"]

    assert "make run" in fix
    assert "chain.log" in fix


@pytest.mark.django_db
def test_it_flags_a_recorded_contract_whose_code_is_gone(client, deployed, chain, snapshot):
    chain.w3.provider.make_request("anvil_setCode", [deployed["PackageRegistry"], "0x"])

    response = client.get("/healthz")

    assert response.status_code == 503
    assert "without code" in response.json()["contracts"]["detail"]


@pytest.mark.django_db
def test_the_home_page_shows_live_status(client, deployed):
    response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "All systems usable" in html
    assert deployed["PackageRegistry"] in html
    assert 'data-fact="chain-id">31337<' in html
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.django_db
def test_the_home_page_explains_a_down_chain(client, settings):
    settings.ETH_RPC_URL = f"http://127.0.0.1:{free_port()}"

    html = client.get("/").content.decode()

    assert "Degraded" in html
    assert "How to fix" in html
    assert settings.ETH_RPC_URL in html


@pytest.mark.django_db
def test_htmx_polling_gets_only_the_status_fragment(client, deployed):
    html = client.get("/", headers={"HX-Request": "true"}).content.decode()

    assert html.lstrip().startswith('<section id="status"')
    assert "<html" not in html


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405


def test_livez_answers_while_the_database_and_chain_are_down(client, settings):
    settings.ETH_RPC_URL = f"http://127.0.0.1:{free_port()}"
    settings.MONGODB_URI = f"mongodb://127.0.0.1:{free_port()}/"  # not used: liveness touches neither

    response = client.get("/livez")

    assert response.status_code == 200
    assert response.json() == {"status": "alive"}
    assert client.post("/livez").status_code == 405
