"""The development wallet of embedded mode in Chromium, with no wallet extension: anvil's
test accounts, signing in the page (tests/e2e/test_journey.py walks every role with them)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.wallet import install

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dev_wallet(settings):
    settings.DEV_WALLET = True


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


def test_switching_the_test_account_while_signed_in_signs_the_old_one_out(
    page, live_server, deployed, dev_wallet, stranger
):
    page.goto(live_server.url + "/signin?next=/packages/")
    page.locator("#signin-wallet").get_by_label("Test account").select_option("2")
    page.get_by_role("button", name="Sign in with wallet").click()
    page.wait_for_url(live_server.url + "/packages/")
    page.goto(live_server.url + "/offers/")

    # The header's picker switches to account #3: the session of #2 ends, and the sign-in page comes
    # back to the same page with the new account chosen.
    page.locator("#header-wallet").get_by_label("Test account").select_option("3")
    page.wait_for_url(live_server.url + "/signin?next=%2Foffers%2F")
    assert "your wallet switched to another account" in page.locator(".messages").inner_text()
    assert stranger.address in page.locator(".messages").inner_text()
    assert page.locator("[data-fact=signed-in]").count() == 0
    page.get_by_role("button", name="Sign in with wallet").click()
    page.wait_for_url(live_server.url + "/offers/")
    assert page.locator("[data-fact=signed-in]").get_attribute("title") != stranger.address
    assert page.console_errors == []
