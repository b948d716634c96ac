"""The whole journey in Chromium with three wallets, every step in the browser: a developer uploads
and registers the packages of a network service, the provider (the same publisher) offers a private
licence, an end-user buys it, instantiates and sees the instance verified, and a second end-user
without a licence is denied with the reason. The wallets are the development wallet's test accounts,
as a visitor of `make run` would use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.repository.packages.build import build
from tests.e2e.conftest import screenshot
from tests.factories import reveal_claims

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
DEMO = Path(__file__).resolve().parents[2] / "demo" / "packages" / "osm"
PACKAGES = ("nfvm_demo_amf_vnf", "nfvm_demo_upf_vnf", "nfvm_demo_core_ns")


def wallet_page(browser, live_server, account: int, next_path: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    page.goto(live_server.url + f"/signin?next={next_path}")
    page.locator("#signin-wallet").get_by_label("Test account").select_option(str(account))
    page.get_by_role("button", name="Sign in with wallet").click()
    page.wait_for_url(live_server.url + next_path)
    return page


def test_upload_register_offer_buy_instantiate_verify_and_a_denial(
    browser, live_server, deployed, chain, settings, tmp_path, indexer
):
    settings.DEV_WALLET = True
    archives = [build(DEMO / name, "osm", tmp_path / f"{name}.tar.gz") for name in PACKAGES]

    developer = wallet_page(browser, live_server, 1, "/packages/upload")
    package_pages = []
    for archive in archives:
        developer.goto(live_server.url + "/packages/upload")
        developer.get_by_label("Package archive").set_input_files(str(archive))
        developer.get_by_role("button", name="Upload and validate").click()
        developer.get_by_role("link", name="Open the package page").click()
        developer.wait_for_url("**/packages/*/")
        package_pages.append(developer.url)
        developer.get_by_role("button", name="Sign and register on chain").click()
        # The wallet signed the claim of the package's line too: once its commitment is old enough the
        # worker reveals it and relays the registration.
        developer.wait_for_selector("text=Pending", timeout=30000)
        reveal_claims(chain)
        developer.wait_for_selector('[data-fact="proof"]', timeout=30000)
    assert "Registered on chain" in developer.locator("#proof").inner_text()
    screenshot(developer, "journey-registered")

    ns_package = package_pages[-1]
    developer.goto(ns_package)
    developer.get_by_label("Kind").select_option("private")
    developer.get_by_label("Price (ETH)").fill("0.05")
    developer.get_by_label("Concurrent instances").fill("1")
    developer.get_by_role("button", name="Create the offer with my wallet").click()
    developer.wait_for_selector("table.offers", timeout=30000)
    assert "0.05 ETH" in developer.locator("table.offers").inner_text()

    buyer = wallet_page(browser, live_server, 2, "/packages/")
    buyer.goto(ns_package)
    buyer.get_by_role("button", name="Buy").click()
    buyer.get_by_role("button", name="Confirm: pay 0.05 ETH").click()
    buyer.wait_for_selector("[data-held]", timeout=30000)
    buyer.locator("a[href^='/nss/']").first.click()
    assert "Allowed" in buyer.locator('[data-fact="decision"]').inner_text()
    ns_page = buyer.url
    buyer.get_by_role("button", name="Instantiate this network service").click()
    buyer.wait_for_url("**/instances/")
    row = buyer.locator("tr[data-instance]").first
    assert "running" in row.inner_text()
    assert "verified" in row.inner_text()
    screenshot(buyer, "journey-instance-verified")

    outsider = wallet_page(browser, live_server, 3, "/packages/")
    outsider.goto(ns_page)
    assert "Not allowed" in outsider.locator('[data-fact="decision"]').inner_text()
    # Not allowed: Instantiate cannot be pressed, and the step that would allow it is offered beside.
    assert outsider.get_by_role("button", name="Instantiate this network service").is_disabled()
    assert outsider.get_by_role("button", name="Buy offer #1 (0.05 ETH)").is_visible()
    screenshot(outsider, "journey-denied")
    for page in (developer, buyer, outsider):
        assert page.console_errors == []
