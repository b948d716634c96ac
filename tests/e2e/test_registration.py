"""A developer registers a package on chain from its page: the wallet signs, the indexer confirms, and the
page follows in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.indexer import Indexer
from ledger.projections import projections
from marketplace.repository.packages.build import build
from marketplace.repository.services import package_ingest
from tests.e2e.conftest import screenshot
from tests.e2e.wallet import install
from tests.factories import reveal_claims

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
DEMO = Path(__file__).resolve().parents[2] / "demo" / "packages"


def test_a_developer_registers_a_package_and_sees_the_proof(page, live_server, developer, chain, deployed, tmp_path):
    archive = build(DEMO / "osm" / "nfvm_demo_amf_vnf", "osm", tmp_path / "amf.tar.gz")
    with archive.open("rb") as source:
        package = package_ingest(source=source, uploader=developer.address).package
    install(page, developer, chain)
    page.goto(live_server.url + f"/signin?next=/packages/{package.pk}/")
    page.get_by_role("button", name="Sign in with wallet").click()
    page.wait_for_url(live_server.url + f"/packages/{package.pk}/")

    assert page.locator('[data-fact="chain-state"]').inner_text() == "not registered"
    assert "No licence offers yet" in page.locator("#licences").inner_text()
    assert page.locator("#offer-form").count() == 0
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Sign and register on chain").click()
    page.wait_for_selector("text=Pending")
    assert "its claim is committed on chain" in page.locator("#proof").inner_text()
    reveal_claims(chain)  # the worker reveals the line's claim, then relays the registration
    Indexer(chain, projections, confirmations=0).step()

    page.wait_for_selector('[data-fact="proof"]', timeout=15000)
    assert "Registered on chain" in page.locator("#proof").inner_text()
    assert developer.address in page.locator("#proof").inner_text()
    # The whole page follows, in place: the badge, the licences part with the offer form, and a
    # message that stays.
    assert page.evaluate("window.notReloaded") is True, "the page was not reloaded"
    page.wait_for_selector('[data-fact="chain-state"] >> text=published')
    assert page.locator("#offer-form").is_visible()
    assert "Registered on chain" in page.locator("#registration-status").inner_text()
    assert page.console_errors == []
    screenshot(page, "packages-registered")
