"""The LicenseManager market's fixtures (tests/ledger/licence_market.py holds its helpers)."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger import artifacts
from ledger.client import ChainClient
from ledger.licensing import LicenseManager
from ledger.registry import PackageRegistry
from tests.factories import claim_line
from tests.ledger.licence_market import LINE, OTHER_LINE, OTHER_PACKAGE, PACKAGE, Market, dev_account, sha


@pytest.fixture
def provider() -> LocalAccount:
    return dev_account(3)


@pytest.fixture
def buyer() -> LocalAccount:
    # A key of its own, funded by the market fixture, so purchases never collide with other fixtures.
    account: LocalAccount = Account.from_key(sha("licence buyer"))
    return account


@pytest.fixture
def market(snapshot, deployed, chain: ChainClient, developer: LocalAccount, buyer: LocalAccount) -> Market:
    chain.w3.provider.make_request("anvil_setBalance", [buyer.address, hex(100 * 10**18)])  # type: ignore[arg-type]
    registry = chain.bound(artifacts.load("PackageRegistry"), deployed["PackageRegistry"])
    bindings = PackageRegistry(chain, deployed["PackageRegistry"])
    for digest, line in ((PACKAGE, LINE), (OTHER_PACKAGE, OTHER_LINE)):
        claim_line(chain, bindings, developer, line)
        chain.send(developer, registry.functions.register(digest, line, 1, sha(f"{line.hex()} vnfd")))
    return Market(chain, LicenseManager(chain, deployed["LicenseManager"]), registry, developer)
