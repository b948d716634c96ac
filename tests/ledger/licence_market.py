"""A LicenseManager market on the test chain: the publisher's two registered packages, a funded buyer,
and helpers to create offers, sign agreements and seat openings, and buy. Fixtures in conftest.py."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from config.embedded import ANVIL_DEV_KEYS
from ledger import artifacts
from ledger.binding import unsigned_tx
from ledger.client import ChainClient
from ledger.exceptions import TransactionFailed
from ledger.licensing import LicenceAgreement, LicenseManager, Offer, OfferKind, typed_data_for
from ledger.offline.abi import keccak

PRICE = 10**16
TOKEN_PRICE = 250 * 10**18
HOUR = 3600


def sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


PACKAGE = sha("acme/firewall 1.0 package")
OTHER_PACKAGE = sha("acme/router 1.0 package")
LINE = keccak(text="acme/firewall")
OTHER_LINE = keccak(text="acme/router")
LINE_OF = {PACKAGE: LINE, OTHER_PACKAGE: OTHER_LINE}
TERMS = sha("acme licence policy v1")


def dev_account(index: int) -> LocalAccount:
    account: LocalAccount = Account.from_key(ANVIL_DEV_KEYS[index])
    return account


@dataclass
class Market:
    chain: ChainClient
    lm: LicenseManager
    registry: Any
    publisher: LocalAccount

    def send(self, account: LocalAccount, tx: Any) -> Any:
        return self.chain.transact(account, tx, abi=self.lm.abi)

    def now(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def travel(self, seconds: int) -> None:
        self.chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def create(self, account: LocalAccount, kind: OfferKind, digest: bytes = PACKAGE, **terms: Any) -> Offer:
        terms.setdefault("terms_hash", TERMS)
        terms.setdefault("name_hash", LINE_OF.get(digest, LINE))
        receipt = self.send(account, self.lm.create_offer(account.address, digest=digest, kind=kind, **terms))
        (created,) = self.lm.events(receipt, "OfferCreated")
        offer = self.lm.offer(created["offerId"])
        assert offer is not None
        return offer

    def private(self, **terms: Any) -> Offer:
        terms = {"price": PRICE, "seats": 3, "duration": 30 * 24 * HOUR, **terms}
        return self.create(self.publisher, OfferKind.PRIVATE, **terms)

    def trial(self, **terms: Any) -> Offer:
        return self.create(self.publisher, OfferKind.TRIAL, **{"seats": 1, "duration": 7 * 24 * HOUR, **terms})

    def sign(
        self,
        signer: LocalAccount,
        offer: Offer,
        *,
        chain_id: int | None = None,
        manager: str | None = None,
        **changes: Any,
    ) -> tuple[LicenceAgreement, bytes]:
        agreement = self.lm.agreement(offer, signer.address, deadline=self.now() + HOUR)
        agreement = dataclasses.replace(agreement, **changes)
        typed = typed_data_for(
            agreement, chain_id=chain_id or self.chain.chain_id(), manager_address=manager or self.lm.address
        )
        return agreement, bytes(signer.sign_typed_data(full_message=typed).signature)

    def raw(self, account: LocalAccount, function: str, *args: Any, value: int = 0) -> Any:
        """Send a LicenseManager call as encoded, past the binding's own checks: what the chain does."""
        data = self.lm.contract.encode_abi(function, args=list(args))
        return self.send(account, unsigned_tx(account.address, self.lm.address, data, self.chain.chain_id(), value))

    def buy(self, account: LocalAccount, offer: Offer, **changes: Any) -> int:
        agreement, signature = self.sign(account, offer, **changes)
        receipt = self.send(account, self.lm.purchase(account.address, offer, agreement, signature))
        return self.lm.issued_licence_id(receipt)

    def deploy(self, account: LocalAccount, name: str, *args: Any) -> Any:
        artifact = artifacts.load(name)
        tx = self.chain.factory(artifact).constructor(*args).build_transaction({"from": account.address})
        receipt = self.chain.transact(account, tx)
        return self.chain.bound(artifact, str(receipt["contractAddress"]))

    def seats(self, licensee: LocalAccount, node: LocalAccount, licence_id: int, count: int = 1, **changes: Any) -> Any:
        """Open `count` seats of the licence with `node`, under the licensee's signed SeatOpening."""
        opening = self.lm.seat_opening(licence_id, node.address, count, deadline=self.now() + HOUR)
        opening = dataclasses.replace(opening, **changes)
        signature = licensee.sign_typed_data(full_message=self.lm.seat_typed_data(opening)).signature
        return self.send(node, self.lm.open_seats(node.address, opening, signature))

    def ether(self, address: str) -> int:
        return int(self.chain.w3.eth.get_balance(address))  # type: ignore[arg-type]


def fails(error: str) -> Any:
    """Expect a revert with the named custom error (a regex; may include its arguments)."""
    return pytest.raises(TransactionFailed, match=rf"reverted with (?:{error})(?:\(|$)")
