"""A trial in Chromium: the end-user's first instantiation activates it (the wallet signs the licence
agreement, the marketplace relays the trial), a second address is still eligible, and the trial is used
once per address."""

from __future__ import annotations

import pytest

from marketplace.licensing.offers import offer_prepare
from tests.e2e.conftest import screenshot
from tests.e2e.test_licensing import published_ns, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_first_instantiation_activates_the_trial(
    browser, live_server, deployed, chain, developer, stranger, tmp_path, indexer
):
    ns = published_ns(developer, chain, tmp_path, indexer)
    prepared = offer_prepare(package=ns.package, provider=developer.address, kind="trial", seats=1, duration_days=7)
    chain.transact(developer, prepared["transaction"])
    indexer()
    ns_path = f"/nss/{ns.pk}/"

    user = sign_in(browser, live_server, stranger, chain, ns_path)
    assert "Trial available" in user.locator('[data-fact="decision"]').inner_text()
    assert "up to 1 instance" in user.locator('[data-fact="decision"]').inner_text()
    screenshot(user, "operation-trial-offered")
    user.get_by_role("button", name="Instantiate this network service").click()
    user.wait_for_url("**/instances/", timeout=60000)

    row = user.locator("tr[data-instance]").first
    assert "running" in row.inner_text()
    user.goto(live_server.url + ns_path)
    # The trial is used now: the page decides under it, and its one seat is taken.
    decision = user.locator('[data-fact="decision"]').inner_text()
    assert "Trial available" not in decision
    assert "1 of 1" in decision
    user.goto(live_server.url + "/licences/")
    assert "trial" in user.locator("main .badge").first.inner_text().lower()
    screenshot(user, "licensing-trial-active")
    assert user.console_errors == []
