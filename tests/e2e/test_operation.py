"""The Operation section in Chromium with the injected test wallet: a licensee scales an instance from
My instances (the decision shows before submitting), verifies it again, and transfers the licence to
another address from My licences with their wallet once no instance runs under it."""

from __future__ import annotations

import pytest

from ledger.models import AcquiredLicence
from marketplace.licensing.offers import agreement_prepare, offer_prepare, purchase_prepare
from tests.e2e.conftest import screenshot
from tests.e2e.test_licensing import published_ns, sign_in
from tests.factories import instantiate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_scales_an_instance_and_transfers_the_licence(
    browser, live_server, deployed, chain, developer, stranger, operator, tmp_path, indexer
):
    ns = published_ns(developer, chain, tmp_path, indexer)
    offer = offer_prepare(
        package=ns.package, provider=developer.address, kind="private", price=10**15, seats=2, transferable=True
    )
    chain.transact(developer, {**offer["transaction"], "value": 0})
    indexer()
    typed = agreement_prepare(offer_id=1, licensee=stranger.address)["typed_data"]
    signature = stranger.sign_typed_data(full_message=typed).signature.to_0x_hex()
    purchase = purchase_prepare(offer_id=1, licensee=stranger.address, typed_data=typed, signature=signature)
    chain.transact(stranger, {**purchase["transaction"], "value": int(purchase["transaction"]["value"], 16)})
    indexer()
    instance = instantiate(ns, stranger)
    assert instance.state == "running"

    page = sign_in(browser, live_server, stranger, chain, "/instances/")
    row = page.locator(f'tr[data-instance="{instance.pk}"]')
    units = row.get_by_label("Units")
    units.fill("3")
    row.locator('[data-fact="scale-decision"] >> text=Not allowed').wait_for(timeout=10_000)
    assert "scaling out by 2 needs 3" in row.locator('[data-fact="scale-decision"]').inner_text()
    units.fill("2")
    row.locator('[data-fact="scale-decision"] >> text=Allowed').wait_for(timeout=10_000)
    row.get_by_role("button", name="Scale").click()
    page.wait_for_selector("text=nfvm-demo-core-ns 1.0, instance 1 now runs 2 units.")
    assert "2 units" in page.locator(f'tr[data-instance="{instance.pk}"] [data-fact="units"]').inner_text()
    screenshot(page, "operation-scale")

    page.locator(f'tr[data-instance="{instance.pk}"]').get_by_role("button", name="Verify again").click()
    page.wait_for_selector("text=nfvm-demo-core-ns 1.0, instance 1: verified")

    licence = AcquiredLicence.objects.get(offer_id=1, licensee=stranger.address)
    page.goto(live_server.url + "/licences/")
    card = page.locator(f'[data-licence="{licence.licence_id}"]')
    card.get_by_label("Transfer to (recipient address)").fill(operator.address)
    card.get_by_role("button", name="Transfer with my wallet").click()
    error = card.locator('[data-fact="transfer-error"]')
    error.locator(f"text=terminate {instance.pk} first").wait_for(timeout=10_000)
    screenshot(page, "licensing-transfer-refused")

    page.goto(live_server.url + "/instances/")
    row = page.locator(f'tr[data-instance="{instance.pk}"]')
    row.get_by_role("button", name="Terminate").click()
    row.get_by_role("button", name="Confirm: terminate").click()
    page.wait_for_selector("text=terminated")
    page.goto(live_server.url + "/licences/")
    card = page.locator(f'[data-licence="{licence.licence_id}"]')
    card.get_by_label("Transfer to (recipient address)").fill(operator.address)
    screenshot(page, "licensing-transfer")
    card.get_by_role("button", name="Transfer with my wallet").click()
    page.wait_for_selector("text=You hold no licences yet.", timeout=30_000)
    screenshot(page, "licensing-transfer-done")
    (moved,) = AcquiredLicence.objects.filter(offer_id=1)
    assert moved.licensee == operator.address
    # The one refusal asked for above answers 403, which Chromium logs as a failed load.
    assert page.console_errors == ["Failed to load resource: the server responded with a status of 403 (Forbidden)"]
