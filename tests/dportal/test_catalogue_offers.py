"""Catalogue cards that sell: each card says what is on offer (free, a trial and its days, the lowest
private price), its chain status and its line's owner, all from chain evidence as indexed; the licence
kind and price filter and sort, in the portal and the API alike."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from marketplace.repository.models import Package
from tests.dportal.test_portal_licensing import index, make_offer, network_service  # noqa: F401
from tests.factories import package_row

pytestmark = pytest.mark.django_db


def cards(html: str) -> dict[str, str]:
    """Each card's text by package name."""
    found = {}
    for body in re.findall(r'<li class="card" data-package="[^"]+">(.*?)</li>', html, re.S):
        name = re.search(r"<h2><a [^>]+>([^<]+)</a>", body)
        assert name
        found[name.group(1)] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
    return found


def names(client, query: str) -> list[str]:
    response = client.get(f"/packages/?{query}")
    assert response.status_code == 200, response.content
    return list(cards(response.content.decode()))


@pytest.fixture
def offered(client, chain, developer, network_service):  # noqa: F811
    """The demo NS under a 0.02 ETH private offer (and a dearer one), its AMF under a 14-day trial, its
    UPF free; an unregistered package from someone else with no offer."""
    packages = {p.name: p for p in Package.objects.filter(uploader=developer.address)}

    def offer(name: str, **terms) -> None:
        make_offer(client, chain, developer, SimpleNamespace(package=packages[name]), **terms)

    offer("nfvm-demo-core-ns", kind="private", price=5 * 10**16, seats=2, duration_days=30)
    offer("nfvm-demo-core-ns", kind="private", price=2 * 10**16, seats=2, duration_days=30)
    offer("nfvm-demo-amf", kind="trial", seats=1, duration_days=14)
    offer("nfvm-demo-upf", kind="public")
    index(chain)
    package_row("lonely-fn", listed=True)
    client.logout()
    return packages


def test_each_card_says_what_is_on_offer_its_chain_status_and_its_publisher(client, developer, offered):
    html = client.get("/packages/").content.decode()
    found = cards(html)
    assert "from 0.02 ETH" in found["nfvm-demo-core-ns"], "the cheapest private offer"
    assert "Trial 14 days" in found["nfvm-demo-amf"]
    assert "Free" in found["nfvm-demo-upf"]
    assert "No licence offered yet" in found["lonely-fn"]
    short = f"{developer.address[:6]}…{developer.address[-4:]}"
    for name in ("nfvm-demo-core-ns", "nfvm-demo-amf", "nfvm-demo-upf"):
        assert "registered" in found[name]
        assert "not registered" not in found[name]
        assert f"published by {short}" in found[name], "the publisher its checked registration names"
    assert "not registered" in found["lonely-fn"]
    assert "published by" not in found["lonely-fn"]


def test_a_database_edit_does_not_make_a_card_registered_or_priced(client, offered):
    """The operator's database says a package is published: the card still says what the chain says."""
    from ledger.models import LicenceOffer, LineOwnership

    Package.objects.filter(name="lonely-fn").update(state="published")
    lonely = Package.objects.get(name="lonely-fn")
    LineOwnership.objects.create(
        chain_id=31337,
        registry="0x" + "33" * 20,
        name_hash=lonely.line_hash or "0x" + "cd" * 32,
        owner="0x" + "44" * 20,
        claimant="0x" + "44" * 20,
        key="0x" + "44" * 20,
        tx_hash="0x" + "55" * 32,
        block_number=1,
    )
    found = cards(client.get("/packages/").content.decode())
    assert "not registered" in found["lonely-fn"]
    assert "published by" not in found["lonely-fn"], "a made-up line owner names no publisher"
    # An offer record without its package's line (written by hand, not indexed from the chain) sells nothing.
    LicenceOffer.objects.create(
        chain_id=31337,
        offer_id=999,
        digest="0x" + lonely.digest,
        name_hash="0x" + "ab" * 32,
        provider="0x" + "11" * 20,
        kind=0,
        price="0",
        token="0x" + "00" * 20,
        duration=0,
        seats=0,
        terms_hash="0x" + "00" * 32,
        transferable=False,
        tx_hash="0x" + "22" * 32,
        block_number=1,
    )
    assert "No licence offered yet" in cards(client.get("/packages/").content.decode())["lonely-fn"]


def test_the_catalogue_filters_by_licence_kind_and_price_and_sorts_by_price(client, offered):
    assert names(client, "licence=trial") == ["nfvm-demo-amf"]
    assert names(client, "licence=public") == ["nfvm-demo-upf"]
    assert names(client, "licence=private") == ["nfvm-demo-core-ns"]
    assert names(client, "licence=none") == ["lonely-fn"]
    assert sorted(names(client, "max_price_eth=0")) == ["nfvm-demo-amf", "nfvm-demo-upf"]
    assert sorted(names(client, "max_price_eth=0.02")) == ["nfvm-demo-amf", "nfvm-demo-core-ns", "nfvm-demo-upf"]
    by_price = names(client, "sort=price")
    assert by_price[-2:] == ["nfvm-demo-core-ns", "lonely-fn"], "the paid one after the free, no offer last"
    assert names(client, "sort=-price")[:1] == ["nfvm-demo-core-ns"]
    # The API answers the same filters from the same schema.
    api = client.get("/api/v1/packages?licence=trial").json()
    assert [p["name"] for p in api["items"]] == ["nfvm-demo-amf"]


def test_a_wrong_licence_or_price_filter_is_named(client, offered):
    for query, field in (
        ("licence=gold", "licence"),
        ("max_price_eth=-1", "max_price_eth"),
        ("max_price_eth=x", "max_price_eth"),
    ):
        html = client.get(f"/packages/?{query}").content.decode()
        assert "Please correct the search" in html, query
        assert f"{field}:" in html, query
        api = client.get(f"/api/v1/packages?{query}")
        assert api.status_code == 400
        assert field in api.json()["fields"]
    assert (
        "a decimal amount of ETH such as 0.02, not &#x27;x&#x27;"
        in client.get("/packages/?max_price_eth=x").content.decode()
    )
