"""Three wallets in Chromium: a provider offers a licence, an end-user buys it and instantiates
the network service, another end-user without a licence is told why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.indexer import Indexer
from ledger.projections import projections
from marketplace.repository.models import NetworkService
from marketplace.repository.packages.build import build
from marketplace.repository.services import package_ingest
from tests.e2e.conftest import screenshot
from tests.e2e.wallet import install
from tests.factories import register_package

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
DEMO = Path(__file__).resolve().parents[2] / "demo" / "packages" / "osm"


def index(chain):
    Indexer(chain, projections, confirmations=0).step()


def published_ns(developer, chain, tmp_path, catch_up=None) -> NetworkService:
    packages = []
    for name in ("nfvm_demo_amf_vnf", "nfvm_demo_upf_vnf", "nfvm_demo_core_ns"):
        archive = build(DEMO / name, "osm", tmp_path / f"{name}.tar.gz")
        with archive.open("rb") as source:
            packages.append(package_ingest(source=source, uploader=developer.address).package)
    for package in packages:
        register_package(package, developer, chain, index=False)
    if catch_up is None:
        index(chain)
    else:
        catch_up()
    return NetworkService.objects.get(package=packages[-1])


def sign_in(browser, live_server, account, chain, next_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    install(page, account, chain)
    page.goto(live_server.url + f"/signin?next={next_path}")
    page.get_by_role("button", name="Sign in with wallet").click()
    page.wait_for_url(live_server.url + next_path)
    return page


def test_offer_buy_instantiate_and_a_denial(
    browser, live_server, deployed, chain, developer, stranger, operator, tmp_path, indexer
):
    ns = published_ns(developer, chain, tmp_path, indexer)
    package_path = f"/packages/{ns.package.pk}/"

    provider = sign_in(browser, live_server, developer, chain, package_path)
    provider.get_by_label("Kind").select_option("private")
    provider.get_by_label("Price (ETH)").fill("0.01")
    provider.get_by_label("Concurrent instances").fill("1")
    provider.get_by_role("button", name="Create the offer with my wallet").click()
    provider.wait_for_selector("table.offers", timeout=30000)
    # In place: the offer shows without a reload, and the message stays.
    provider.wait_for_selector("#licensing-status >> text=Offer #1 created.")
    assert provider.locator("#licences [data-fact=own-offer]").count() == 1
    screenshot(provider, "licensing-offer")

    buyer = sign_in(browser, live_server, stranger, chain, package_path)
    buyer.get_by_role("button", name="Buy for 0.01 ETH").click()
    # The first click asks, naming the price; nothing is signed until the second.
    confirm = buyer.get_by_role("button", name="Confirm: pay 0.01 ETH")
    assert confirm.is_visible()
    confirm.click()
    buyer.wait_for_selector("[data-held]", timeout=30000)
    assert "You hold licence #1" in buyer.locator("table.offers").inner_text()
    assert "Licence bought under offer #1" in buyer.locator("#licensing-status").inner_text()
    buyer.goto(live_server.url + f"/nss/{ns.pk}/")
    assert "Allowed" in buyer.locator('[data-fact="decision"]').inner_text()
    buyer.get_by_role("button", name="Instantiate this network service").click()
    buyer.wait_for_url("**/instances/")
    row = buyer.locator("tr[data-instance]").first
    assert "running" in row.inner_text()
    assert "tracking only, deploys nothing" in row.inner_text()
    screenshot(buyer, "operation-instances")

    outsider = sign_in(browser, live_server, operator, chain, f"/nss/{ns.pk}/")
    assert "Not allowed" in outsider.locator('[data-fact="decision"]').inner_text()
    # The refusal comes with its next step, and Instantiate cannot be pressed meanwhile.
    assert outsider.get_by_role("button", name="Instantiate this network service").is_disabled()
    screenshot(outsider, "operation-denied")
    outsider.evaluate("window.notReloaded = true")
    outsider.get_by_role("button", name="Buy offer #1 (0.01 ETH)").click()
    outsider.get_by_role("button", name="Confirm: pay 0.01 ETH").click()
    outsider.wait_for_selector('[data-fact="decision"] >> text=Allowed', timeout=30000)
    outsider.wait_for_selector("#instantiate-button:enabled", timeout=5000)
    assert outsider.evaluate("window.notReloaded") is True
    assert "Licence bought under offer #1" in outsider.locator("#licensing-status").inner_text()
    # The offer has one seat per licence; the outsider's is free, so it instantiates.
    outsider.get_by_role("button", name="Instantiate this network service").click()
    outsider.wait_for_url("**/instances/")

    buyer.get_by_role("button", name="Terminate").click()
    buyer.get_by_role("button", name="Confirm: terminate").click()
    buyer.wait_for_selector("text=terminated")
    for page in (provider, buyer, outsider):
        assert page.console_errors == []


def test_the_offer_form_fits_the_kind_and_shows_errors_beside_fields(
    browser, live_server, deployed, chain, developer, tmp_path, indexer
):
    ns = published_ns(developer, chain, tmp_path, indexer)
    provider = sign_in(browser, live_server, developer, chain, f"/packages/{ns.package.pk}/")
    price = provider.get_by_label("Price (ETH)")
    days = provider.get_by_label("Period in days")
    assert price.input_value() == "0.01"
    # A trial is free: the price field is disabled and emptied, so it cannot trap the form.
    provider.get_by_label("Kind").select_option("trial")
    assert price.is_hidden()
    assert price.is_disabled()
    assert price.input_value() == ""
    # A trial without a period: the error is beside the period field, nothing was sent.
    days.fill("")
    provider.get_by_role("button", name="Create the offer with my wallet").click()
    provider.wait_for_selector("#offer-days-error >> text=a trial needs a period in days")
    assert days.get_attribute("aria-invalid") == "true"
    assert "No licence offers yet" in provider.locator("#licences").inner_text()
    # Back to private: the price returns with its default.
    provider.get_by_label("Kind").select_option("private")
    assert price.input_value() == "0.01"
    price.fill("-1")
    provider.get_by_role("button", name="Create the offer with my wallet").click()
    provider.wait_for_selector("#offer-price-error >> text=not an amount of ether")
    screenshot(provider, "licensing-offer-form-errors")
    # The two refusals (400) are the only console lines.
    assert len(provider.console_errors) == 2
    assert all("status of 400" in e for e in provider.console_errors), provider.console_errors
