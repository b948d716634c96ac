"""The portal's sections as its navigation: the same names in the header, the section's own pages,
the breadcrumb trail and the window title, on every page; the VNFs & NSs list; the API's
documentation and the API tokens page."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from dportal.navigation import SECTIONS
from marketplace.accounts.models import ApiToken
from marketplace.repository.models import NetworkService, Vnf
from tests.dportal.test_portal_licensing import network_service  # noqa: F401  (fixture)
from tests.dportal.test_portal_packages import sign_in

pytestmark = pytest.mark.django_db


def trail(*names: str) -> str:
    return " \u203a ".join(names)


def html_of(client: Client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.content.decode()


def sections_in(html: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Sections"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, "the header has the sections' navigation"
    return [re.sub(r"&amp;", "&", t) for t in re.findall(r">([^<]+)</a>", nav.group(1))]


def current_section(html: str) -> str | None:
    nav = re.search(r'<nav aria-label="Sections"[^>]*>(.*?)</nav>', html, re.S)
    assert nav
    found = re.search(r'aria-current="[a-z]+">([^<]+)</a>', nav.group(1))
    return found.group(1).replace("&amp;", "&") if found else None


def crumbs(html: str) -> str:
    found = re.search(r'<nav class="crumbs" aria-label="Breadcrumb">(.*?)</nav>', html, re.S)
    assert found, "the page has a breadcrumb trail"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).replace("&amp;", "&").strip()


def title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found
    return found.group(1).replace("&amp;", "&").strip()


def test_every_page_names_the_same_five_sections_and_marks_its_own(client, stranger, network_service):  # noqa: F811
    sign_in(client, stranger)
    package = network_service.package
    vnf = Vnf.objects.filter(package__uploader=package.uploader).first()
    assert vnf is not None
    expected = {
        "/packages/": ("Packages", "Packages", "Packages · NFV Marketplace"),
        "/packages/mine": ("Packages", trail("Packages", "My packages"), "My packages · Packages · NFV Marketplace"),
        "/packages/upload": ("Packages", trail("Packages", "Upload"), "Upload · Packages · NFV Marketplace"),
        f"/packages/{package.pk}/": (
            "Packages",
            trail("Packages", f"{package.vendor}/{package.name} {package.version}"),
            f"{package.name} {package.version} · Packages · NFV Marketplace",
        ),
        f"/packages/{package.pk}/provenance": (
            "Packages",
            trail("Packages", f"{package.name} {package.version}", "Provenance"),
            f"Provenance of {package.name} · Packages · NFV Marketplace",
        ),
        "/catalogue/": ("VNFs & NSs", "VNFs & NSs", "VNFs & NSs · NFV Marketplace"),
        f"/nss/{network_service.pk}/": (
            "VNFs & NSs",
            trail("VNFs & NSs", f"{package.name} {package.version}", network_service.name),
            f"{network_service.name} {network_service.version} · VNFs & NSs · NFV Marketplace",
        ),
        f"/vnfs/{vnf.pk}/": ("VNFs & NSs", None, None),
        "/licences/": ("Licensing", "Licensing", "My licences · Licensing · NFV Marketplace"),
        "/offers/": ("Licensing", trail("Licensing", "My offers"), "My offers · Licensing · NFV Marketplace"),
        "/instances/": ("Operation", "Operation", "My instances · Operation · NFV Marketplace"),
        "/provenance/": ("Provenance", "Provenance", "Provenance · NFV Marketplace"),
    }
    for path, (section, expected_trail, window) in expected.items():
        html = html_of(client, path)
        assert sections_in(html) == ["Packages", "VNFs & NSs", "Licensing", "Operation", "Provenance"], path
        assert current_section(html) == section, path
        if expected_trail is not None:
            assert crumbs(html) == expected_trail, path
        if window is not None:
            assert title(html) == window, path
    # The status page is outside the sections: no section is current and no trail is drawn.
    home = html_of(client, "/")
    assert current_section(home) is None
    assert 'aria-label="Breadcrumb"' not in home


def test_a_section_lists_its_own_pages_and_hides_those_that_need_a_sign_in(client, stranger, deployed):
    anonymous = html_of(client, "/packages/")
    subnav = re.search(r'<nav class="subnav" aria-label="Packages">(.*?)</nav>', anonymous, re.S)
    assert subnav
    assert 'href="/packages/"' in subnav.group(1)
    assert "My packages" not in subnav.group(1), "a visitor is not offered pages that need a sign-in"
    # A signed-out visitor following the Licensing section is asked to sign in, and comes back.
    response = client.get("/licences/")
    assert response.status_code == 302
    assert response["Location"] == "/signin?next=/licences/"
    sign_in(client, stranger)
    html = html_of(client, "/offers/")
    subnav = re.search(r'<nav class="subnav" aria-label="Licensing">(.*?)</nav>', html, re.S)
    assert subnav
    assert re.findall(r">([^<]+)</a>", subnav.group(1)) == ["My licences", "My offers"]
    assert 'href="/offers/" aria-current="page"' in subnav.group(1)


def test_the_section_table_routes_exist_and_every_portal_page_belongs_somewhere():
    from django.urls import get_resolver, reverse

    from dportal import urls

    for section in SECTIONS:
        for page in section.pages:
            reverse(page.route)
    names = {p.name for p in urls.urlpatterns if p.name}
    placed = {p.route for s in SECTIONS for p in s.pages} | {r for s in SECTIONS for r in s.routes}
    assert placed <= names, placed - names
    assert get_resolver() is not None


def test_the_vnfs_and_nss_list_shows_what_the_catalogue_holds(client, stranger, network_service):  # noqa: F811
    html = html_of(client, "/catalogue/")
    vnfs = Vnf.objects.filter(package__uploader=network_service.package.uploader)
    assert f'href="/nss/{network_service.pk}/"' in html
    for vnf in vnfs:
        assert f'href="/vnfs/{vnf.pk}/"' in html
    only_ns = html_of(client, "/catalogue/?kind=ns")
    assert f'href="/nss/{network_service.pk}/"' in only_ns
    assert all(f'href="/vnfs/{v.pk}/"' not in only_ns for v in vnfs)
    found = html_of(client, "/catalogue/?q=upf")
    assert "nfvm-demo-upf" in found
    assert "nfvm-demo-amf" not in found
    nothing = html_of(client, "/catalogue/?q=nosuchfunction")
    assert "No VNF or NS matches this search" in nothing
    # Garbage in the query string is ignored, not an error.
    assert html_of(client, "/catalogue/?kind=<script>&page=-3")


def test_an_unlisted_upload_stays_out_of_the_vnfs_and_nss_list_for_others(client, stranger, network_service):  # noqa: F811
    from marketplace.repository.models import Package

    Package.objects.filter(pk=network_service.package.pk).update(listed=False)
    assert f'href="/nss/{network_service.pk}/"' not in html_of(client, "/catalogue/")
    sign_in(client, stranger)
    assert f'href="/nss/{network_service.pk}/"' not in html_of(client, "/catalogue/")
    assert NetworkService.objects.filter(pk=network_service.pk).exists()


def test_the_api_documentation_is_served_locally_under_the_content_security_policy(client, deployed):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(s.startswith("/static/") for s in sources), sources
    code = re.findall(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>\s*[^<\s]", html)
    assert not code, "no inline script: the settings are JSON data, the code is in static files"
    footer = html_of(client, "/packages/")
    assert 'href="/api/docs"' in footer


def test_api_tokens_are_created_shown_once_and_revoked(client, stranger, developer, deployed):
    assert client.get("/account/tokens")["Location"] == "/signin?next=/account/tokens"
    sign_in(client, stranger)
    created = client.post("/account/tokens", {"label": "laptop CLI", "days": "7"})
    assert created.status_code == 201
    assert created["Cache-Control"] == "no-store"
    token = re.search(r'<code data-fact="new-token">([^<]+)</code>', created.content.decode())
    assert token
    token_value = token.group(1)
    mine = Client().get("/api/v1/instances", headers={"Authorization": f"Bearer {token_value}"})
    assert mine.status_code == 200, mine.content
    listing = html_of(client, "/account/tokens")
    assert "laptop CLI" in listing
    assert token_value not in listing, "a token is shown only on the answer that created it"
    record = ApiToken.objects.get(address=stranger.address, label="laptop CLI")
    lifetime = record.expires_at - record.created_at
    assert 6.9 < lifetime.total_seconds() / 86400 < 7.1

    # Another address cannot revoke it: the token is as unknown to it as none.
    other = Client()
    sign_in(other, developer)
    assert other.post(f"/account/tokens/{record.pk}/revoke").status_code == 404
    assert ApiToken.objects.filter(pk=record.pk).exists()
    # Nor can a visitor who is not signed in.
    assert Client().post(f"/account/tokens/{record.pk}/revoke").status_code in (302, 403)
    assert ApiToken.objects.filter(pk=record.pk).exists()

    revoked = client.post(f"/account/tokens/{record.pk}/revoke")
    assert revoked.status_code == 302
    assert not ApiToken.objects.filter(pk=record.pk).exists()
    assert Client().get("/api/v1/instances", headers={"Authorization": f"Bearer {token_value}"}).status_code == 401


def test_a_bad_token_request_says_which_field_and_stores_nothing(client, stranger, deployed):
    sign_in(client, stranger)
    before = ApiToken.objects.filter(address=stranger.address).count()
    for form, field in (
        ({"label": "x" * 65, "days": "7"}, "token-label-error"),
        ({"days": "3650"}, "token-days-error"),
    ):
        response = client.post("/account/tokens", form)
        assert response.status_code == 400
        assert f'id="{field}"' in response.content.decode()
    assert client.post("/account/tokens/not-an-id/revoke").status_code == 404
    assert ApiToken.objects.filter(address=stranger.address).count() == before


def test_the_package_pages_cli_hint_names_this_nodes_rpc_url_and_registry(
    client,
    network_service,  # noqa: F811
    deployed,
    settings,
    chain,
):
    settings.PUBLIC_RPC_URL = chain.rpc_url  # embedded mode's default: the local node
    html = html_of(client, f"/packages/{network_service.package.pk}/")
    assert f"--rpc {chain.rpc_url}</code>" in html
    assert f"--registry {deployed['PackageRegistry']}" in html
    assert "RPC_URL</code>" not in html
    # A deployment names no node unless told to: its ETH_RPC_URL may carry an API key.
    settings.PUBLIC_RPC_URL = ""
    html = html_of(client, f"/packages/{network_service.package.pk}/")
    assert "--rpc YOUR_NODE_URL</code>" in html
    assert chain.rpc_url not in html


def test_a_token_needs_a_fresh_wallet_signature_not_only_a_session(client, stranger, deployed):
    import time

    from dportal.access import SESSION_SIGNED_AT
    from dportal.views.tokens import FRESH_SIGN_IN_S

    sign_in(client, stranger)
    session = client.session
    session[SESSION_SIGNED_AT] = int(time.time()) - FRESH_SIGN_IN_S - 1
    session.save()
    refused = client.post("/account/tokens", {"label": "from a stolen cookie", "days": "90"})
    assert refused.status_code == 403
    assert 'data-fact="stale"' in refused.content.decode()
    assert not ApiToken.objects.filter(label="from a stolen cookie").exists()
    sign_in(client, stranger)  # the wallet signs again
    assert client.post("/account/tokens", {"label": "fresh", "days": "90"}).status_code == 201
