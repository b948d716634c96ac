"""A developer signs in with a wallet, uploads a package, finds it, and edits it, in Chromium."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.wallet import install
from tests.factories import shared_package

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, account, chain):
    install(page, account, chain)
    page.goto(live_server.url + "/signin?next=/packages/upload")
    page.get_by_role("button", name="Sign in with wallet").click()
    page.wait_for_url(live_server.url + "/packages/upload")


def test_a_developer_signs_in_uploads_and_finds_the_package(page, live_server, developer, chain):
    sign_in(page, live_server, developer, chain)
    assert developer.address[:6] in page.locator(".address").inner_text()

    page.get_by_label("Package archive").set_input_files(str(shared_package("5gtango/5gtango-ns-package-example.tgo")))
    page.get_by_role("button", name="Upload and validate").click()
    page.get_by_role("link", name="Open the package page").click()
    page.wait_for_url("**/packages/*/")
    assert page.get_by_role("heading", name="5gtango-project-sample").is_visible()
    screenshot(page, "packages-detail")

    page.goto(live_server.url + "/packages/")
    page.get_by_label("Search").fill("sample")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("text=1 package")
    screenshot(page, "packages-catalogue")

    page.get_by_role("link", name="5gtango-project-sample").click()
    page.get_by_label("Tags").fill("5g, demo")
    page.get_by_role("button", name="Save metadata").click()
    page.wait_for_selector("text=Metadata saved")
    assert page.locator(".tags .tag").all_inner_texts() == ["5g", "demo"]
    assert page.console_errors == []


def test_a_dropped_archive_uploads_with_progress_and_a_report(page, live_server, developer, chain):
    sign_in(page, live_server, developer, chain)
    content = shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo").read_bytes()
    assert page.locator("#drop-hint").is_visible()
    dropped = page.evaluate_handle(
        """(bytes) => {
          const data = new DataTransfer();
          data.items.add(new File([new Uint8Array(bytes)], "vnf.tgo", { type: "application/zip" }));
          return data;
        }""",
        list(content),
    )

    page.locator("#dropzone").dispatch_event("drop", {"dataTransfer": dropped})
    assert "vnf.tgo" in page.locator("#upload-chosen").inner_text()
    page.get_by_role("button", name="Upload and validate").click()

    page.wait_for_selector(".report.ok")
    assert "stored" in page.locator("#report-title").inner_text()
    assert page.locator("#upload-report .checks li").count() >= 1
    assert page.locator("#upload-progress").is_hidden()
    screenshot(page, "packages-upload-report")
    assert page.console_errors == []


def test_a_rejected_upload_shows_the_problems(page, live_server, developer, chain):
    sign_in(page, live_server, developer, chain)
    bad = shared_package("5gtango/5gtango-ns-package-example-bad-checksum.tgo")
    page.get_by_label("Package archive").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and validate").click()
    page.wait_for_selector("text=The package was rejected")
    assert "Definitions/myvnfd.yaml" in page.locator(".problems").inner_text()
    # One root cause (the file's hash declared twice, differently), one finding, with the differing
    # characters of the hashes marked, and a File column wide enough to read.
    rows = page.locator(".problems tbody tr")
    assert rows.count() == 1
    assert "integrity.conflicting-declarations" in rows.inner_text()
    assert rows.locator("mark").count() >= 2
    file_cell = rows.locator('td[data-label="File"]').bounding_box()
    assert file_cell is not None
    assert file_cell["width"] >= 150, f"the File column is {file_cell['width']} px wide"
    screenshot(page, "packages-upload-rejected")


def test_without_a_wallet_the_page_says_how_to_get_one(page, live_server):
    page.goto(live_server.url + "/signin")
    assert page.get_by_text("No Ethereum wallet found in this browser").is_visible()
    assert page.get_by_role("button", name="Sign in with wallet").is_disabled()
    assert page.console_errors == []


def test_api_tokens_are_made_and_revoked_in_the_portal(page, live_server, developer, chain, deployed):
    sign_in(page, live_server, developer, chain)
    page.get_by_role("link", name="API tokens").click()
    page.wait_for_url(live_server.url + "/account/tokens")
    page.get_by_label("Name (what it is for)").fill("laptop CLI")
    page.get_by_label("Valid for").select_option("7")
    page.get_by_role("button", name="Create token").click()
    token = page.locator('[data-fact="new-token"]').inner_text()
    assert len(token) > 30
    row = page.locator("table.tokens tr", has_text="laptop CLI")
    assert row.count() == 1
    screenshot(page, "api-tokens")
    row.get_by_role("button", name="Revoke").click()
    page.wait_for_selector("text=The token is revoked")
    assert page.locator("table.tokens tr", has_text="laptop CLI").count() == 0
    assert page.console_errors == []
