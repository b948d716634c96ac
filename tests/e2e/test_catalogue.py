"""The catalogue in Chromium: cards say what is on offer, the chain status and the publisher, and the
licence filter narrows the results in place."""

from __future__ import annotations

import pytest

from marketplace.licensing.offers import offer_prepare
from tests.e2e.conftest import screenshot
from tests.e2e.test_licensing import published_ns

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_cards_sell_and_the_licence_filter_narrows_in_place(
    page, live_server, deployed, chain, developer, tmp_path, indexer
):
    ns = published_ns(developer, chain, tmp_path, indexer)
    offer = offer_prepare(
        package=ns.package, provider=developer.address, kind="private", price=2 * 10**16, seats=3, duration_days=30
    )
    chain.transact(developer, offer["transaction"])
    indexer()

    page.goto(live_server.url + "/packages/")
    card = page.locator(f'li.card[data-package="{ns.package.pk}"]')
    assert card.locator('[data-fact="licences"]').inner_text().strip() == "from 0.02 ETH"
    assert card.locator('[data-fact="chain"]').inner_text().strip() == "registered"
    assert f"{developer.address[:6]}…{developer.address[-4:]}" in card.locator('[data-fact="publisher"]').inner_text()
    assert page.locator("li.card").count() == 3
    page.get_by_label("Licence").select_option("private")
    page.wait_for_url("**licence=private**")
    page.wait_for_function("document.querySelectorAll('li.card').length === 1")
    assert page.locator("li.card h2").inner_text().startswith(ns.package.name)
    screenshot(page, "catalogue-licence-filter")
    assert page.console_errors == []
