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
    provider.get_by_label("Price (ETH, private only)").fill("0.01")
    provider.get_by_label("Concurrent instances").fill("1")
    provider.get_by_role("button", name="Create the offer with my wallet").click()
    provider.wait_for_selector("table.offers", timeout=30000)
    screenshot(provider, "licensing-offer")

    buyer = sign_in(browser, live_server, stranger, chain, package_path)
    buyer.get_by_role("button", name="Buy").click()
    buyer.wait_for_selector("[data-held]", timeout=30000)
    assert "You hold licence #1" in buyer.locator("table.offers").inner_text()
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
    outsider.get_by_role("button", name="Instantiate this network service").click()
    outsider.wait_for_selector("text=Not instantiated")
    assert "buy offer #" in outsider.locator(".messages").inner_text()
    screenshot(outsider, "operation-denied")

    buyer.get_by_role("button", name="Terminate").click()
    buyer.wait_for_selector("text=terminated")
    for page in (provider, buyer, outsider):
        assert page.console_errors == []
