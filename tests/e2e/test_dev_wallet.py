"""The development wallet of embedded mode in Chromium, with no wallet extension: three of anvil's
test accounts act as developer, provider and end-user, signing in the page."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.packages.build import build
from marketplace.services import package_ingest
from tests.e2e.conftest import screenshot
from tests.e2e.wallet import install

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
DEMO = Path(__file__).resolve().parents[2] / "demo" / "packages" / "osm"


@pytest.fixture
def dev_wallet(settings):
    settings.DEV_WALLET = True


def sign_in_as(browser, live_server, index_: int, next_path: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    page.goto(live_server.url + f"/signin?next={next_path}")
    page.locator("#signin-wallet").get_by_label("Test account").select_option(str(index_))
    page.get_by_role("button", name="Sign in with wallet").click()
    page.wait_for_url(live_server.url + next_path)
    return page


def test_it_signs_in_with_a_chosen_test_account(page, live_server, deployed, dev_wallet, stranger):
    page.goto(live_server.url + "/signin?next=/packages/")

    assert page.locator("#dev-wallet-note").is_visible()
    assert "Development wallet (anvil test accounts)" in page.locator("#signin-wallet").inner_text()
    assert "these keys are public" in page.locator("#signin-wallet").inner_text()
    screenshot(page, "signin-dev-wallet")
    page.locator("#signin-wallet").get_by_label("Test account").select_option("2")
    page.get_by_role("button", name="Sign in with wallet").click()
    page.wait_for_url(live_server.url + "/packages/")

    assert page.locator(".account .address").get_attribute("title") == stranger.address
    assert page.console_errors == []


def test_without_the_development_wallet_a_browser_without_a_wallet_is_told_how_to_get_one(page, live_server, deployed):
    page.goto(live_server.url + "/signin")

    assert page.locator("#no-wallet").is_visible()
    assert "Install a browser wallet" in page.locator("#no-wallet").inner_text()
    assert page.get_by_role("button", name="Sign in with wallet").is_disabled()


def test_it_is_listed_beside_an_installed_wallet(page, live_server, deployed, dev_wallet, developer, chain):
    install(page, developer, chain)
    page.goto(live_server.url + "/signin")

    picker = page.locator("#signin-wallet").get_by_label("Wallet")
    options = picker.locator("option").all_inner_texts()
    assert options == ["Test wallet", "Development wallet (anvil test accounts)"]
    assert not page.locator("#signin-wallet").get_by_label("Test account").is_visible()
    picker.select_option(label="Development wallet (anvil test accounts)")
    assert page.locator("#signin-wallet").get_by_label("Test account").is_visible()


def test_three_test_accounts_register_offer_and_buy(
    browser, live_server, deployed, dev_wallet, developer, chain, tmp_path, indexer
):
    archive = build(DEMO / "nfvm_demo_amf_vnf", "osm", tmp_path / "amf.tar.gz")
    with archive.open("rb") as source:
        package = package_ingest(source=source, uploader=developer.address).package
    package_path = f"/packages/{package.pk}/"

    # Account 1 published the package: it registers it (EIP-712 signed in the page) and offers it.
    publisher = sign_in_as(browser, live_server, 1, package_path)
    publisher.get_by_role("button", name="Sign and register on chain").click()
    publisher.wait_for_selector('[data-fact="proof"]', timeout=15000)
    publisher.reload()  # offers are for registered packages: the form comes with the page
    publisher.get_by_label("Kind").select_option("private")
    publisher.get_by_label("Price (ETH, private only)").fill("0.02")
    publisher.get_by_label("Concurrent instances").fill("2")
    publisher.get_by_role("button", name="Create the offer with my wallet").click()
    publisher.wait_for_selector("table.offers", timeout=30000)

    # Account 3 buys it: the page's wallet signs the agreement and pays the exact price.
    balance_before = chain.w3.eth.get_balance(chain.w3.eth.account.from_key(_key(3)).address)
    buyer = sign_in_as(browser, live_server, 3, package_path)
    buyer.get_by_role("button", name="Buy").click()
    buyer.wait_for_selector("[data-held]", timeout=30000)
    buyer_address = chain.w3.eth.account.from_key(_key(3)).address
    assert balance_before - chain.w3.eth.get_balance(buyer_address) >= 2 * 10**16
    screenshot(buyer, "licensing-dev-wallet")
    for page in (publisher, buyer):
        assert page.console_errors == []


def _key(index_: int) -> str:
    from config.embedded import ANVIL_DEV_KEYS

    return ANVIL_DEV_KEYS[index_]
