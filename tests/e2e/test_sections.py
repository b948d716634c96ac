"""Every section of the portal in Chromium, on a laptop and on a phone, with data present: each page
renders under the Content-Security-Policy without a console error, nothing is wider than the screen
(the document, and every table inside its container and the content column), the phone's header is
compact with its navigation folded, and each page is saved as a screenshot."""

from __future__ import annotations

import pytest

from marketplace.licensing.offers import agreement_prepare, offer_prepare, purchase_prepare
from marketplace.repository.models import Vnf
from tests.e2e.conftest import screenshot
from tests.e2e.test_licensing import published_ns, sign_in
from tests.factories import instantiate, shared_package

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LAPTOP = ("laptop", 1280, 900)
PHONE = ("phone", 375, 812)

# What sticks out: the document past the viewport; a table past its container (a scrolling box hides
# columns) or past the content column. Tables folded in a closed <details> are not laid out.
OVERFLOW = """() => {
  const out = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) out.push(`the page is ${root.scrollWidth} px wide in ${root.clientWidth}`);
  const main = document.querySelector("main").getBoundingClientRect();
  for (const table of document.querySelectorAll("main table")) {
    if (table.offsetParent === null) continue;
    const name = (table.className || "table").trim();
    const box = table.parentElement;
    if (box.scrollWidth > box.clientWidth + 1) {
      out.push(`${name}: ${box.scrollWidth} px in a ${box.clientWidth} px container`);
    }
    const right = table.getBoundingClientRect().right;
    if (right > main.right + 1) {
      out.push(`${name} ends at ${Math.round(right)} px, past the content column (${main.right} px)`);
    }
  }
  for (const el of document.querySelectorAll("main section.errors, main .report")) {
    if (el.getBoundingClientRect().right > main.right + 1) out.push(`${el.className} sticks out of the content column`);
  }
  return out;
}"""


def test_each_section_fits_a_laptop_and_a_phone_with_data_present(
    browser, live_server, deployed, chain, developer, stranger, tmp_path, indexer
):
    ns = published_ns(developer, chain, tmp_path, indexer)
    offer = offer_prepare(
        package=ns.package, provider=developer.address, kind="private", price=10**15, seats=3, duration_days=30
    )
    chain.transact(developer, offer["transaction"])
    indexer()
    typed = agreement_prepare(offer_id=1, licensee=stranger.address)["typed_data"]
    signature = stranger.sign_typed_data(full_message=typed).signature.to_0x_hex()
    purchase = purchase_prepare(offer_id=1, licensee=stranger.address, typed_data=typed, signature=signature)
    chain.transact(stranger, {**purchase["transaction"], "value": int(purchase["transaction"]["value"], 16)})
    indexer()
    assert instantiate(ns, stranger).state == "running"
    vnf = Vnf.objects.filter(package__uploader=developer.address).first()
    assert vnf is not None

    sections = {
        developer: {
            "home": "/",
            "packages": "/packages/",
            "my-packages": "/packages/mine",
            "upload": "/packages/upload",
            "package": f"/packages/{ns.package.pk}/",
            "vnfs-and-nss": "/catalogue/",
            "vnf": f"/vnfs/{vnf.pk}/",
            "ns-topology": f"/nss/{ns.pk}/",
            "my-offers": "/offers/",
            "provenance-package": f"/packages/{ns.package.pk}/provenance",
            "api-tokens": "/account/tokens",
        },
        stranger: {
            "my-licences": "/licences/",
            "my-instances": "/instances/",
            "provenance": "/provenance/",
            "licence-provenance": f"/licences/{ns_licence(stranger)}/provenance",
        },
    }
    problems: list[str] = []
    for account, pages in sections.items():
        page = sign_in(browser, live_server, account, chain, "/")
        for name, path in pages.items():
            for device, width, height in (LAPTOP, PHONE):
                page.set_viewport_size({"width": width, "height": height})
                page.goto(live_server.url + path)
                assert page.locator("main h1").count() == 1, f"{path}: one page heading"
                problems += [f"{path} on a {device}: {p}" for p in page.evaluate(OVERFLOW)]
                screenshot(page, f"section-{name}-{device}")
        assert page.console_errors == [], page.console_errors
        # The rejection report (answered 422): a package whose manifest does not match, at both widths.
        page.goto(live_server.url + "/packages/upload")
        page.get_by_label("Package archive").set_input_files(
            str(shared_package("5gtango/5gtango-ns-package-example-bad-checksum.tgo"))
        )
        page.get_by_role("button", name="Upload and validate").click()
        page.wait_for_selector("text=The package was rejected")
        for device, width, height in (LAPTOP, PHONE):
            page.set_viewport_size({"width": width, "height": height})
            problems += [f"the rejection report on a {device}: {p}" for p in page.evaluate(OVERFLOW)]
            screenshot(page, f"section-upload-rejected-{device}")
    assert problems == [], "\n".join(problems)


def ns_licence(account) -> int:
    from ledger.models import AcquiredLicence

    return int(AcquiredLicence.objects.filter(licensee=account.address).values_list("licence_id", flat=True)[0])


def test_the_phone_header_is_compact_and_its_menus_fold(browser, live_server, deployed, chain, stranger):
    page = sign_in(browser, live_server, stranger, chain, "/packages/")
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(live_server.url + "/packages/")
    header = page.locator(".site-header").bounding_box()
    assert header is not None
    assert header["height"] <= 0.12 * 812, f"the header takes {header['height']} px of an 812 px screen"
    sections = page.get_by_role("navigation", name="Sections")
    assert sections.is_hidden()
    assert page.locator("#site-account").is_hidden()
    page.get_by_role("button", name="Menu").click()
    assert sections.is_visible()
    assert page.get_by_role("button", name="Menu").get_attribute("aria-expanded") == "true"
    # The wallet opens as a menu of its own, and opening it folds the sections away.
    page.locator(".account-toggle").click()
    assert page.get_by_role("button", name="Sign out").is_visible()
    assert sections.is_hidden()
    page.get_by_role("button", name="Menu").click()
    sections.get_by_role("link", name="Licensing").click()
    page.wait_for_url(live_server.url + "/licences/")
    screenshot(page, "phone-menu")
    # On a laptop the same header shows everything, with no menu buttons.
    page.set_viewport_size({"width": 1280, "height": 900})
    assert sections.is_visible()
    assert page.get_by_role("button", name="Menu").is_hidden()
    assert page.console_errors == []


def test_the_api_documentation_runs_under_the_content_security_policy(page, live_server, deployed):
    page.goto(live_server.url + "/packages/")
    page.get_by_role("link", name="API documentation").click()
    page.wait_for_url(live_server.url + "/api/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "NFV Marketplace API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() > 10, "the operations are listed"
    screenshot(page, "api-docs")
    assert page.console_errors == [], page.console_errors
