"""The portal's VNF and NS catalogue: words, filters, sort and pages as plain GET links that htmx
enhances, helpful empty states, and the catalogue index that answers them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from dportal.access import SESSION_ADDRESS
from marketplace.repository import selectors, services
from marketplace.repository.models import Package
from tests.factories import listed, package_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(developer):
    """The project's demo packages: a VNF and an NS in each format, by the developer."""
    return {r.package.name: listed(r.package) for r in services.catalogue_seed_demo(uploader=developer.address)}


def sign_in_as(client, account):
    session = client.session
    session[SESSION_ADDRESS] = account.address
    session.save()


def names(html: str) -> list[str]:
    import re

    return re.findall(r'<h2><a href="/packages/[0-9a-f]{24}/">([^<]+)</a>', html)


def test_it_lists_the_latest_packages_newest_first_with_a_count(client):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i, name in enumerate(["alpha", "bravo", "charlie"]):
        row = package_row(name)
        Package.objects.filter(pk=row.pk).update(created_at=start + timedelta(days=i))
    package_row("alpha", version="0.9", is_latest=False)
    html = client.get("/packages/").content.decode()
    assert names(html) == ["charlie", "bravo", "alpha"]
    assert "3 packages" in html


def test_it_searches_words_and_prefixes_without_javascript(client, demo):
    html = client.get("/packages/", {"q": "firewall"}).content.decode()
    assert set(names(html)) == {"nfvm-demo-firewall-vnf", "nfvm-demo-secure-edge-ns"}  # its description says firewall
    assert names(client.get("/packages/", {"q": "firew vnf"}).content.decode()) == ["nfvm-demo-firewall-vnf"]
    assert '<form method="get" action="/packages/"' in html  # a plain form: works without JavaScript


def test_it_filters_by_kind_format_and_vendor(client, demo):
    ns = names(client.get("/packages/", {"kind": "ns"}).content.decode())
    assert sorted(ns) == ["nfvm-demo-core-ns", "nfvm-demo-secure-edge-ns", "nfvm-demo-slice-ns"]
    osm_vnfs = names(client.get("/packages/", {"kind": "vnf", "format": "osm"}).content.decode())
    assert sorted(osm_vnfs) == ["nfvm-demo-amf", "nfvm-demo-upf"]
    tango = names(client.get("/packages/", {"vendor": "eu.nfvm.demo"}).content.decode())
    assert sorted(tango) == ["nfvm-demo-firewall-vnf", "nfvm-demo-secure-edge-ns"]


def test_it_filters_registered_and_deprecated_packages(client, demo, developer):
    # The indexer marks a package published once it sees its registration (marketplace.repository.projections).
    Package.objects.filter(pk=demo["nfvm-demo-amf"].pk).update(state="published")
    services.package_deprecate(package=demo["nfvm-demo-upf"], actor=developer.address)
    assert names(client.get("/packages/", {"registered": "yes"}).content.decode()) == ["nfvm-demo-amf"]
    unregistered = names(client.get("/packages/", {"registered": "no"}).content.decode())
    assert "nfvm-demo-amf" not in unregistered
    assert "nfvm-demo-upf" not in unregistered
    assert len(unregistered) == 5
    assert names(client.get("/packages/", {"deprecated": "only"}).content.decode()) == ["nfvm-demo-upf"]
    hidden = names(client.get("/packages/", {"deprecated": "hide"}).content.decode())
    assert "nfvm-demo-upf" not in hidden
    assert len(hidden) == 6
    html = client.get("/packages/").content.decode()
    assert "On chain" in html
    assert "state-deprecated" in html


def test_it_says_when_filters_exclude_each_other(client, demo):
    html = client.get("/packages/", {"registered": "yes", "deprecated": "only"}).content.decode()
    assert "No package matches this search" in html
    assert 'href="/packages/">see the whole catalogue' in html


def test_it_sorts_by_name_either_way(client):
    for name in ["mike", "alpha", "zulu"]:
        package_row(name)
    assert names(client.get("/packages/", {"sort": "name"}).content.decode()) == ["alpha", "mike", "zulu"]
    assert names(client.get("/packages/", {"sort": "-name"}).content.decode()) == ["zulu", "mike", "alpha"]


def test_it_pages_with_plain_links_that_htmx_enhances(client):
    for i in range(25):
        package_row(f"fn-{i:02d}")
    first = client.get("/packages/", {"sort": "name"}).content.decode()
    assert len(names(first)) == 20
    assert names(first)[0] == "fn-00"
    assert 'href="?sort=name&amp;page=2" rel="next"' in first
    assert 'hx-get="?sort=name&amp;page=2"' in first
    assert 'hx-push-url="true"' in first
    assert 'rel="prev"' not in first
    second = client.get("/packages/", {"sort": "name", "page": "2"}).content.decode()
    assert names(second) == [f"fn-{i}" for i in range(20, 25)]
    assert 'rel="prev"' in second
    assert 'rel="next"' not in second
    beyond = client.get("/packages/", {"sort": "name", "page": "3"}).content.decode()
    assert "There is no page 3 for this search" in beyond
    assert 'href="?sort=name">Back to the first page' in beyond


def test_it_answers_htmx_with_the_results_fragment_only(client, demo):
    response = client.get("/packages/", {"kind": "ns", "format": "osm"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="results"')
    assert "<html" not in html
    assert "<form" not in html
    assert names(html) == ["nfvm-demo-core-ns"]
    full = client.get("/packages/", {"kind": "ns", "format": "osm"}).content.decode()
    assert "<html" in full
    assert 'id="results"' in full


def test_it_explains_a_bad_page_or_filter(client):
    html = client.get("/packages/", {"page": "0", "min_vcpus": "-1"}).content.decode()
    assert "Please correct the search" in html
    assert "page" in html
    assert "min_vcpus" in html


def test_an_empty_catalogue_invites_a_visitor_to_sign_in_and_a_developer_to_upload(client, developer):
    anonymous = client.get("/packages/").content.decode()
    assert "The catalogue is empty" in anonymous
    assert "/signin?next=/packages/upload" in anonymous
    assert 'href="/packages/upload">Upload' not in anonymous
    sign_in_as(client, developer)
    signed_in = client.get("/packages/").content.decode()
    assert 'href="/packages/upload">Upload the first package' in signed_in


def test_each_card_links_to_its_vnf_or_ns_page(client, demo):
    html = client.get("/packages/", {"kind": "ns", "format": "osm"}).content.decode()
    ns = demo["nfvm-demo-core-ns"].networkservice_set.get()
    assert f'href="/nss/{ns.pk}/">NS details and topology' in html
    html = client.get("/packages/", {"q": "amf", "kind": "vnf"}).content.decode()
    vnf = demo["nfvm-demo-amf"].vnf_set.get()
    assert f'href="/vnfs/{vnf.pk}/">VNF details' in html


def test_it_escapes_hostile_package_text(client):
    package_row("evil", description='<script>alert("x")</script>', tags=["<b>bold</b>"], vendor="<i>v</i>")
    html = client.get("/packages/").content.decode()
    assert "<script>alert" not in html
    assert "<b>bold</b>" not in html
    assert "<i>v</i>" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_the_index_follows_every_kind_of_write(client, developer):
    row = package_row("original", uploader=developer.address)
    assert names(client.get("/packages/", {"q": "original"}).content.decode()) == ["original"]
    services.package_metadata_update(package=row, actor=developer.address, changes={"tags": ["renamed"]})
    assert names(client.get("/packages/", {"tag": "renamed"}).content.decode()) == ["original"]  # save()
    Package.objects.filter(pk=row.pk).update(state="published")  # a queryset update, as the indexer does
    assert names(client.get("/packages/", {"registered": "yes"}).content.decode()) == ["original"]
    Package.objects.bulk_create([Package(**{**_fields(row), "name": "bulk", "digest": "b" * 64, "pk": None})])
    assert "bulk" in names(client.get("/packages/").content.decode())
    Package.objects.filter(name="bulk").delete()  # a queryset delete
    assert names(client.get("/packages/").content.decode()) == ["original"]
    other = package_row("other")
    assert "other" in names(client.get("/packages/").content.decode())
    other.delete()  # a model delete
    assert names(client.get("/packages/").content.decode()) == ["original"]


def _fields(package: Package) -> dict[str, object]:
    return {f.attname: getattr(package, f.attname) for f in Package._meta.concrete_fields}


QUERIES = [
    selectors.PackageQuery(),
    selectors.PackageQuery(q="demo"),
    selectors.PackageQuery(q="nfvm demo", kind="vnf", sort="name"),
    selectors.PackageQuery(format="osm", sort="-name"),
    selectors.PackageQuery(min_vcpus=2, max_vcpus=4, sort="vcpus"),
    selectors.PackageQuery(min_memory_mb=1, sort="-memory"),
    selectors.PackageQuery(states=("validated",), all_versions=True, sort="created"),
    selectors.PackageQuery(state="revoked"),
    selectors.PackageQuery(vendor="eu.nfvm.demo", sort="vendor"),
    selectors.PackageQuery(tags=("5g",)),
]


@pytest.mark.parametrize("query", QUERIES)
def test_the_index_answers_as_the_store_query_does(demo, developer, query):
    package_row("old-amf", vendor="NFV Marketplace Demo", version="0.1", is_latest=False, tags=["5g"])
    package_row("gone", state="revoked", tags=["5g"], vcpus=2, memory_mb=512)
    sort = dict([*selectors.SORTS.get(query.sort, selectors.SORTS["-created"]), ("_id", -1)])
    collection = connection.database[Package._meta.db_table]  # type: ignore[attr-defined]
    expected = [d["_id"] for d in collection.aggregate([*selectors._search_stages(query), {"$sort": sort}])]
    assert selectors.package_matches(query) == expected
