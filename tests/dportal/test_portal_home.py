"""The home page: where each role starts, and the signed-in address's roles."""

from __future__ import annotations

import pytest

from dportal.access import SESSION_ADDRESS
from marketplace.repository.services import package_ingest
from tests.factories import shared_package

pytestmark = pytest.mark.django_db


def signed_in(client, address):
    session = client.session
    session[SESSION_ADDRESS] = address
    session.save()
    return client


def test_a_visitor_sees_where_each_role_starts(client, deployed):
    html = client.get("/").content.decode()

    for role in ("Developers", "Providers", "End-users", "Anyone"):
        assert f"<strong>{role}</strong>" in html
    assert "Sign in with your wallet" in html
    assert 'data-fact="roles"' not in html


def test_a_developer_sees_their_role_and_counts(client, deployed, developer):
    with open(shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo"), "rb") as source:
        package_ingest(source=source, uploader=developer.address)

    html = signed_in(client, developer.address).get("/").content.decode()

    assert "You act as developer." in html
    assert "my packages (1)" in html


def test_an_address_with_nothing_yet_is_told_so(client, deployed, stranger):
    html = signed_in(client, stranger.address).get("/").content.decode()

    assert "You have not published, offered or licensed anything yet" in html


def test_the_home_page_names_what_to_pin_to_verify_without_this_server(client, deployed):
    html = client.get("/").content.decode()
    assert (
        f"nfvm trust pin --chain-id 31337 --registry {deployed['PackageRegistry']} "
        f"--anchor {deployed['ProvenanceAnchor']}"
    ) in html
