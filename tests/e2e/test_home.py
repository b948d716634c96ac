"""The status page, seen in Chromium on a laptop and a phone."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_visitor_sees_live_database_and_chain_status(page, live_server, deployed):
    page.goto(live_server.url + "/")

    assert page.get_by_role("heading", name="All systems usable").is_visible()
    assert page.locator('[data-fact="chain-id"]').inner_text() == "31337"
    assert int(page.locator('[data-fact="latest-block"]').inner_text()) >= 1
    assert page.locator('[data-contract="PackageRegistry"]').inner_text().count(deployed["PackageRegistry"]) == 1
    # htmx loads under the Content-Security-Policy, with no inline script to block.
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.console_errors == []
    screenshot(page, "status-laptop")


def test_the_status_page_fits_a_phone(page, live_server, deployed):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/")

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    screenshot(page, "status-phone")


def test_the_status_refreshes_itself_when_a_block_is_mined(page, live_server, deployed, chain):
    page.goto(live_server.url + "/")
    before = int(page.locator('[data-fact="latest-block"]').inner_text())

    chain.w3.provider.make_request("evm_mine", [])

    # Polled from here: the page's CSP forbids the eval behind Playwright's wait_for_function.
    for _ in range(150):
        if int(page.locator('[data-fact="latest-block"]').inner_text()) > before:
            break
        page.wait_for_timeout(100)
    assert int(page.locator('[data-fact="latest-block"]').inner_text()) > before
    assert page.console_errors == []
