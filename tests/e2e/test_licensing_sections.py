"""The Licensing and Provenance sections in Chromium with the injected test wallet: a licensee reads
their licence and the provenance charts (also at phone width); the provider closes the offer with
their wallet and the page follows the indexer until the offer shows closed."""

from __future__ import annotations

import pytest

from marketplace.licensing.offers import agreement_prepare, offer_prepare, purchase_prepare
from tests.e2e.conftest import screenshot
from tests.e2e.test_licensing import index, published_ns, sign_in
from tests.factories import instantiate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_shows_licences_and_provenance_and_closes_an_offer_from_the_wallet(
    browser, live_server, deployed, chain, developer, stranger, tmp_path
):
    ns = published_ns(developer, chain, tmp_path)
    offer = offer_prepare(
        package=ns.package, provider=developer.address, kind="private", price=10**15, seats=2, duration_days=30
    )
    chain.transact(developer, {**offer["transaction"], "value": 0})
    index(chain)
    typed = agreement_prepare(offer_id=1, licensee=stranger.address)["typed_data"]
    signature = stranger.sign_typed_data(full_message=typed).signature.to_0x_hex()
    purchase = purchase_prepare(offer_id=1, licensee=stranger.address, typed_data=typed, signature=signature)
    chain.transact(stranger, {**purchase["transaction"], "value": int(purchase["transaction"]["value"], 16)})
    index(chain)
    assert instantiate(ns, stranger).state == "running"

    licensee = sign_in(browser, live_server, stranger, chain, "/licences/")
    licensee.wait_for_load_state("networkidle")
    assert "1 of 2 in use" in licensee.locator('[data-fact="seats"]').inner_text()
    licensee.get_by_text("Signed agreement (EIP-712)").click()
    assert '"primaryType": "LicenceAgreement"' in licensee.locator("pre.json").inner_text()
    screenshot(licensee, "licensing-my-licences")
    licensee.goto(live_server.url + "/provenance/")
    licensee.locator('svg[data-chart="sales"]').wait_for()  # the charts load after the timeline
    assert licensee.locator('svg[data-chart="sales"] rect.bar-sales').count() == 14
    licensee.set_viewport_size({"width": 390, "height": 844})
    screenshot(licensee, "provenance-phone")

    provider = sign_in(browser, live_server, developer, chain, "/offers/")
    provider.wait_for_load_state("networkidle")
    provider.get_by_role("button", name="Close offer").click()
    provider.wait_for_selector("text=waiting for the marketplace to index it")
    index(chain)  # the worker's job in production; then the state fragment shows what the indexer holds
    provider.wait_for_selector('[data-fact="state"] >> text=closed', timeout=10_000)
    screenshot(provider, "licensing-offer-closed")

    # The provenance log lists what the chain did, by name: the registration, the offer's creation and
    # closing, beside the decision and the instance; and the licence carries its short name.
    provider.goto(live_server.url + "/provenance/")
    events = provider.locator("ol.timeline").inner_text()
    assert f"{ns.package.name} {ns.package.version} registered on chain" in events
    assert "offer #1 created: private, 0.001 ETH, 2 instances, 30 days" in events
    assert "offer #1 closed" in events
    assert f"{ns.name} {ns.version}, instance 1" in events
    assert "ns:" not in events, "subjects are named, not shown as ids"
    assert provider.locator("ol.timeline .kind-register").count() >= 1
    screenshot(provider, "provenance-chain-events")
    licensee.goto(live_server.url + "/licences/")
    assert licensee.locator('[data-fact="licence-name"]').inner_text() == "Licence 1 of offer #1"
    assert licensee.console_errors == []
    assert provider.console_errors == []
