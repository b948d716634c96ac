"""A real Chromium (Debian's) driven by Playwright against a live marketplace server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Playwright's sync API runs an event loop in this thread; the live server's database
# work happens in its own thread, and the test's fixtures are synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; `make test` installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is missing; run `make test`, which installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    path = ARTIFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def indexer(chain: Any, deployed: Any) -> Iterator[Any]:
    """The indexer beside the live server, as `make run` has it: pages that follow a transaction
    wait for it. Yields `catch_up()`, which waits until it has read the latest block."""
    import threading
    import time

    from django.db import connections

    from ledger.indexer import Indexer
    from ledger.models import IndexerState
    from ledger.projections import projections

    stop = threading.Event()
    failures: list[BaseException] = []

    def work() -> None:
        # Steps only: the worker's anchoring ticks would send operator transactions under the test.
        indexer = Indexer(chain, projections, confirmations=0)
        try:
            while not stop.is_set():
                indexer.step()
                stop.wait(0.2)
        except BaseException as exc:  # surfaced by catch_up() and at teardown
            failures.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, name="indexer", daemon=True)
    thread.start()

    def catch_up(timeout: float = 30.0) -> None:
        target = chain.w3.eth.block_number
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert not failures, f"the indexer stopped: {failures[0]!r}"
            state = IndexerState.objects.filter(chain_id=chain.chain_id()).first()
            if state is not None and state.last_block >= target:
                return
            time.sleep(0.1)
        raise AssertionError(f"the indexer did not reach block {target} within {timeout} s")

    yield catch_up
    stop.set()
    thread.join(timeout=15)
    assert not failures, f"the indexer stopped: {failures[0]!r}"
