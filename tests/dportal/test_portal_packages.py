"""The portal's Packages section: browsing without JavaScript, sign-in with a wallet signature,
upload through the same ingest, metadata and deprecation for the uploader only."""

from __future__ import annotations

import json
import re

import pytest
from eth_account.messages import encode_defunct

from dportal.access import SESSION_ADDRESS
from marketplace.repository.models import MetadataChange, Package
from marketplace.repository.services import package_ingest
from tests.factories import drop_manifest, listed, rewritten, shared_package

pytestmark = pytest.mark.django_db


def sign_in(client, account):
    start = client.post("/signin/message", json.dumps({"address": account.address}), content_type="application/json")
    assert start.status_code == 200, start.content
    message = start.json()["message"]
    signature = account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    return client.post(
        "/signin/verify",
        json.dumps({"message": message, "signature": signature, "next": "/packages/"}),
        content_type="application/json",
    )


@pytest.fixture
def tango(developer):
    with open(shared_package("5gtango/5gtango-ns-package-example.tgo"), "rb") as source:
        return listed(package_ingest(source=source, uploader=developer.address).package)


def test_the_catalogue_lists_and_searches_without_javascript(client, tango):
    page = client.get("/packages/").content.decode()
    assert "5gtango-project-sample" in page
    assert f"/packages/{tango.pk}/" in page
    assert "1 package" in client.get("/packages/", {"q": "sample", "kind": "ns"}).content.decode()
    empty = client.get("/packages/", {"q": "nothing-matches-this"}).content.decode()
    assert "No package matches" in empty


def test_htmx_search_returns_only_the_results_fragment(client, tango):
    html = client.get("/packages/", {"q": "sample"}, headers={"HX-Request": "true"}).content.decode()
    assert html.lstrip().startswith('<section id="results"')


def test_a_bad_filter_is_explained_beside_the_search(client):
    html = client.get("/packages/", {"min_vcpus": "-3"}).content.decode()
    assert "Please correct the search" in html
    assert "min_vcpus" in html


def test_the_detail_page_shows_integrity_and_descriptors(client, tango):
    html = client.get(f"/packages/{tango.pk}/").content.decode()
    assert tango.digest in html
    assert "sample-vnf" in html
    assert client.get("/packages/000000000000000000000000/").status_code == 404
    assert client.get("/packages/nonsense/").status_code == 404


def test_user_supplied_text_is_escaped(client, tango):
    tango.description = '<script>alert("x")</script>'
    tango.tags = ["<b>bold</b>"]
    tango.save()
    html = client.get(f"/packages/{tango.pk}/").content.decode()
    assert '<script>alert("x")</script>' not in html
    assert "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html


def test_sign_in_binds_the_session_to_the_signing_address(client, developer):
    response = sign_in(client, developer)
    assert response.status_code == 200
    assert response.json()["next"] == "/packages/"
    assert client.session[SESSION_ADDRESS] == developer.address
    assert developer.address[:6] in client.get("/packages/").content.decode()


def test_sign_in_refuses_a_signature_by_another_key(client, developer, stranger):
    start = client.post("/signin/message", json.dumps({"address": developer.address}), content_type="application/json")
    message = start.json()["message"]
    forged = stranger.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    response = client.post(
        "/signin/verify", json.dumps({"message": message, "signature": forged}), content_type="application/json"
    )
    assert response.status_code == 401
    assert SESSION_ADDRESS not in client.session


def test_sign_in_refuses_a_non_address(client):
    response = client.post("/signin/message", json.dumps({"address": "bob"}), content_type="application/json")
    assert response.status_code == 400


def test_the_next_url_cannot_leave_the_site(client, developer):
    start = client.post("/signin/message", json.dumps({"address": developer.address}), content_type="application/json")
    message = start.json()["message"]
    signature = developer.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    response = client.post(
        "/signin/verify",
        json.dumps({"message": message, "signature": signature, "next": "https://evil.example/"}),
        content_type="application/json",
    )
    assert response.json()["next"] == "/packages/"


def test_sign_out_ends_the_session(client, developer):
    sign_in(client, developer)
    client.post("/signout")
    assert SESSION_ADDRESS not in client.session


def test_upload_needs_a_signed_in_wallet(client):
    response = client.get("/packages/upload")
    assert response.status_code == 302
    assert response["Location"].startswith("/signin?next=")


def test_an_upload_is_ingested_for_the_signed_in_address(client, developer):
    sign_in(client, developer)
    with open(shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo"), "rb") as handle:
        response = client.post("/packages/upload", {"package": handle})
    assert response.status_code == 302
    package = Package.objects.get()
    assert response["Location"] == f"/packages/{package.pk}/"
    assert package.uploader == developer.address


def test_a_rejected_upload_lists_every_problem_with_file_and_rule(client, developer):
    sign_in(client, developer)
    with open(shared_package("5gtango/5gtango-ns-package-example-bad-checksum.tgo"), "rb") as handle:
        response = client.post("/packages/upload", {"package": handle})
    html = response.content.decode()
    assert response.status_code == 422
    assert "The package was rejected" in html
    assert "Definitions/myvnfd.yaml" in html
    assert "integrity.conflicting-declarations" in html
    assert "integrity.hash-mismatch" not in html, "one root cause, one finding"
    assert Package.objects.count() == 0


def test_a_background_upload_gets_the_validation_report_in_place(client, developer):
    sign_in(client, developer)
    with open(shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo"), "rb") as handle:
        response = client.post("/packages/upload", {"package": handle}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    package = Package.objects.get()
    assert response.status_code == 200
    assert "<html" not in html
    assert "stored" in html
    assert f'href="/packages/{package.pk}/"' in html
    assert 'class="checks"' in html


def test_a_background_upload_of_a_rejected_package_gets_the_problems_in_place(client, developer):
    sign_in(client, developer)
    with open(shared_package("5gtango/5gtango-ns-package-example-bad-checksum.tgo"), "rb") as handle:
        response = client.post("/packages/upload", {"package": handle}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 422
    assert "<html" not in html
    assert "integrity.conflicting-declarations" in html
    assert html.count('<tr class="error">') == 1
    assert "<mark>" in html, "the hashes' differing characters are marked"
    assert "Nothing was stored" in html
    assert Package.objects.count() == 0


def test_a_background_upload_without_a_file_says_so(client, developer):
    sign_in(client, developer)
    response = client.post("/packages/upload", {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Nothing was uploaded" in response.content.decode()


def test_a_background_upload_after_the_session_ended_asks_to_sign_in_again(client):
    response = client.post("/packages/upload", {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 401
    assert "sign in again" in response.content.decode()
    assert Package.objects.count() == 0


def test_the_uploader_edits_metadata_from_the_page(client, developer, tango):
    sign_in(client, developer)
    assert "Save metadata" in client.get(f"/packages/{tango.pk}/").content.decode()
    client.post(f"/packages/{tango.pk}/metadata", {"description": "Edited", "category": "core", "tags": "5g, edge"})
    tango.refresh_from_db()
    assert (tango.description, tango.tags) == ("Edited", ["5g", "edge"])
    assert MetadataChange.objects.filter(package=tango).count() == 1


def test_a_bad_tag_is_reported_and_nothing_changes(client, developer, tango):
    sign_in(client, developer)
    response = client.post(f"/packages/{tango.pk}/metadata", {"tags": "no spaces"}, follow=True)
    assert "tags:" in response.content.decode()
    assert MetadataChange.objects.count() == 0


@pytest.mark.parametrize("who", ["stranger", "anonymous"])
def test_others_cannot_edit_or_deprecate(client, stranger, tango, who):
    if who == "stranger":
        sign_in(client, stranger)
        assert "Save metadata" not in client.get(f"/packages/{tango.pk}/").content.decode()
    edit = client.post(f"/packages/{tango.pk}/metadata", {"description": "hijacked"})
    deprecate = client.post(f"/packages/{tango.pk}/deprecate")
    tango.refresh_from_db()
    assert tango.description != "hijacked"
    assert tango.state == "validated"
    if who == "anonymous":
        assert edit.status_code == deprecate.status_code == 403


def test_the_uploader_deprecates(client, developer, tango):
    sign_in(client, developer)
    client.post(f"/packages/{tango.pk}/deprecate")
    tango.refresh_from_db()
    assert tango.state == "deprecated"


def test_descriptor_pages_show_the_document(client, tango):
    vnf = tango.vnf_set.get()
    ns = tango.networkservice_set.get()
    vnf_html = client.get(f"/vnfs/{vnf.pk}/").content.decode()
    assert "virtual_deployment_units" in vnf_html
    ns_html = client.get(f"/nss/{ns.pk}/").content.decode()
    assert "sample-vnf" in ns_html
    assert client.get("/vnfs/nonsense/").status_code == 404


def test_my_packages_lists_only_mine(client, developer, stranger, tango):
    sign_in(client, stranger)
    assert "not uploaded a package yet" in client.get("/packages/mine").content.decode()
    client.post("/signout")
    sign_in(client, developer)
    assert "5gtango-project-sample" in client.get("/packages/mine").content.decode()


def test_a_csar_without_a_manifest_says_its_integrity_rests_on_the_archive_digest(client, developer, tmp_path):
    path = rewritten("nfvm-demo-smf-vnf", drop_manifest)(tmp_path)
    with open(path, "rb") as source:
        package = listed(package_ingest(source=source, uploader=developer.address).package)
    html = client.get(f"/packages/{package.pk}/").content.decode()
    assert 'data-fact="no-manifest"' in html
    assert "integrity rests on the package SHA-256 above, the digest its registration on chain names" in html

    with open(shared_package("5gtango/5gtango-ns-package-example.tgo"), "rb") as source:
        other = listed(package_ingest(source=source, uploader=developer.address).package)
    assert 'data-fact="no-manifest"' not in client.get(f"/packages/{other.pk}/").content.decode()


def test_a_report_lists_its_warnings_and_says_what_they_are_about(client, developer, tmp_path):
    from tests.factories import drop_manifest, rewritten

    sign_in(client, developer)
    csar = rewritten("nfvm-demo-smf-vnf", drop_manifest)(tmp_path)
    with csar.open("rb") as handle:
        response = client.post("/packages/upload", {"package": handle}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200, html
    warnings = re.search(r'<ul class="warnings" data-fact="warnings">(.*?)</ul>', html, re.S)
    assert warnings, "warnings are listed, not folded behind a count"
    assert "etsi.missing-manifest" in warnings.group(1)
    assert "<details" not in html
    assert "declared digest(s)" not in html
    assert "integrity: warn \u2013 no file&#x27;s digest is declared" in html
