"""Every section of the portal in Chromium, on a laptop and on a phone: each page renders under the
Content-Security-Policy without a console error, fits a phone's width, and is saved as a screenshot."""

from __future__ import annotations

import pytest

from marketplace.licensing.offers import agreement_prepare, offer_prepare, purchase_prepare
from marketplace.repository.models import Vnf
from tests.e2e.conftest import screenshot
from tests.e2e.test_licensing import published_ns, sign_in
from tests.factories import instantiate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_each_section_renders_on_a_laptop_and_a_phone(
    browser, live_server, deployed, chain, developer, stranger, tmp_path, indexer
):
    ns = published_ns(developer, chain, tmp_path, indexer)
    offer = offer_prepare(
        package=ns.package, provider=developer.address, kind="private", price=10**15, seats=3, duration_days=30
    )
    chain.transact(developer, offer["transaction"])
    indexer()
    typed = agreement_prepare(offer_id=1, licensee=stranger.address)["typed_data"]
    signature = stranger.sign_typed_data(full_message=typed).signature.to_0x_hex()
    purchase = purchase_prepare(offer_id=1, licensee=stranger.address, typed_data=typed, signature=signature)
    chain.transact(stranger, {**purchase["transaction"], "value": int(purchase["transaction"]["value"], 16)})
    indexer()
    assert instantiate(ns, stranger).state == "running"
    vnf = Vnf.objects.filter(package__uploader=developer.address).first()
    assert vnf is not None

    sections = {
        developer: {
            "home": "/",
            "catalogue": "/packages/",
            "my-packages": "/packages/mine",
            "upload": "/packages/upload",
            "package": f"/packages/{ns.package.pk}/",
            "vnf": f"/vnfs/{vnf.pk}/",
            "ns-topology": f"/nss/{ns.pk}/",
            "my-offers": "/offers/",
            "provenance-package": f"/packages/{ns.package.pk}/provenance",
        },
        stranger: {
            "my-licences": "/licences/",
            "my-instances": "/instances/",
            "provenance": "/provenance/",
        },
    }
    for account, pages in sections.items():
        page = sign_in(browser, live_server, account, chain, "/")
        for name, path in pages.items():
            for device, width, height in (("laptop", 1280, 900), ("phone", 390, 844)):
                page.set_viewport_size({"width": width, "height": height})
                page.goto(live_server.url + path)
                assert page.locator("main h1").count() == 1, f"{path}: one page heading"
                if device == "phone":
                    overflow = page.evaluate("document.documentElement.scrollWidth")
                    assert overflow <= width, f"{path} is {overflow} px wide on a {width} px phone"
                screenshot(page, f"section-{name}-{device}")
        assert page.console_errors == [], page.console_errors
    # The NS page draws its topology as an accessible SVG, with a text list beside it.
    page = sign_in(browser, live_server, stranger, chain, f"/nss/{ns.pk}/")
    assert page.locator('svg[role="img"] title').count() >= 1
