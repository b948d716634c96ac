"""Property-based tests of the marketplace contracts on the session's anvil: hypothesis generates
sequences of licensing and registration operations, a small Python model predicts every outcome
(including which custom error a refused call reverts with), and the contracts' invariants are
checked after each step. Block timestamps are pinned, so the model knows each transaction's time."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from config.embedded import ANVIL_DEV_KEYS
from ledger import artifacts
from ledger.client import ChainClient
from ledger.exceptions import TransactionFailed
from ledger.licensing import LicenseManager, Offer, OfferKind, licence_id_of, typed_data_for
from ledger.registry import PackageRegistry, Registration
from tests.factories import claim_line

HOUR = 3600
SETTINGS = settings(
    max_examples=15,
    deadline=None,
    # Deterministic in CI; gas estimation runs at the latest block's time, so an operation landing exactly
    # on an expiry second can differ from the model (a harness artefact, not a contract fault).
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def sha(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


PACKAGE = sha("acme/firewall 1.0 package")
LINE = sha("acme/firewall")
TERMS = sha("acme licence policy v1")


def account(key: str | bytes) -> LocalAccount:
    acct: LocalAccount = Account.from_key(key)
    return acct


def reverted_with(exc: TransactionFailed) -> str | None:
    """The custom error a refused transaction reverted with (None when it is not a decoded custom error)."""
    match = re.search(r"reverted with (\w+)\(", str(exc))
    return match.group(1) if match else None


class Clock:
    """Chain time under the test's control: every transaction is mined at a timestamp the model knows."""

    def __init__(self, chain: ChainClient) -> None:
        self.chain = chain
        self.now = int(chain.w3.eth.get_block("latest")["timestamp"])

    def rpc(self, method: str, params: list[Any]) -> Any:
        return self.chain.w3.provider.make_request(method, params)  # type: ignore[arg-type]

    def next_block(self) -> int:
        """Pin the next block one second later; returns its timestamp."""
        self.now += 1
        self.rpc("evm_setNextBlockTimestamp", [self.now])
        return self.now

    def travel(self, seconds: int) -> None:
        self.now += seconds

    def mine(self) -> int:
        at = self.next_block()
        self.rpc("evm_mine", [])
        return at


@contextmanager
def clean_chain(chain: ChainClient) -> Iterator[Clock]:
    """Each generated example starts from the same chain state and leaves none behind."""
    snap = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        yield Clock(chain)
    finally:
        chain.w3.provider.make_request("evm_revert", [snap])  # type: ignore[arg-type]


def outcome(send: Any) -> tuple[Any, str | None]:
    """(receipt, None) when the transaction succeeds, (None, error name) when it reverts."""
    try:
        return send(), None
    except TransactionFailed as exc:
        name = reverted_with(exc)
        if name is None:
            pytest.fail(f"revert without a decoded custom error: {exc}")
        return None, name


# ---------------------------------------------------------------- licensing


@dataclass
class OfferState:
    offer: Offer
    closed: bool = False


@dataclass
class LicenceState:
    offer_id: int
    licensee: str
    expires_at: int  # 0: no expiry
    transferred: bool = False  # handed on: it continues under the recipient's id

    def valid_at(self, t: int) -> bool:
        return not self.transferred and (self.expires_at == 0 or t < self.expires_at)


@dataclass
class Market:
    chain: ChainClient
    clock: Clock
    lm: LicenseManager
    publisher: LocalAccount
    providers: list[LocalAccount]
    buyers: list[LocalAccount]
    relayer: LocalAccount
    offers: list[OfferState] = field(default_factory=list)
    licences: dict[int, LicenceState] = field(default_factory=dict)
    current: dict[tuple[int, str], int] = field(default_factory=dict)
    earnings: dict[str, int] = field(default_factory=dict)
    paid: int = 0
    withdrawn: int = 0
    trials_issued: dict[tuple[int, str], int] = field(default_factory=dict)
    base_balance: int = 0
    steps: list[str] = field(default_factory=list)

    def send(self, sender: LocalAccount, tx: Any) -> Any:
        self.clock.next_block()
        return self.chain.transact(sender, tx, abi=self.lm.abi)

    def sign(self, signer: LocalAccount, offer: Offer) -> tuple[Any, bytes]:
        agreement = self.lm.agreement(offer, signer.address, deadline=self.clock.now + 10 * 24 * HOUR)
        typed = typed_data_for(agreement, chain_id=self.chain.chain_id(), manager_address=self.lm.address)
        return agreement, bytes(signer.sign_typed_data(full_message=typed).signature)

    def ether(self, address: str) -> int:
        return int(self.chain.w3.eth.get_balance(address))  # type: ignore[arg-type]

    # -- offers

    def create(self, kind: OfferKind, seats: int, duration: int, price: int, transferable: bool, by: int) -> None:
        provider = self.providers[by % len(self.providers)]
        terms: dict[str, Any] = {"seats": seats, "duration": duration, "terms_hash": TERMS}
        if kind is OfferKind.PRIVATE:
            terms |= {"price": price, "transferable": transferable}
        receipt = self.send(
            provider, self.lm.create_offer(provider.address, digest=PACKAGE, name_hash=LINE, kind=kind, **terms)
        )
        (created,) = self.lm.events(receipt, "OfferCreated")
        offer = self.lm.offer(created["offerId"])
        assert offer is not None
        assert offer.seats == seats
        self.offers.append(OfferState(offer))

    # -- operations; each predicts its outcome, sends, and updates the model

    def expect(self, error: str | None, got: str | None, step: str) -> None:
        self.steps.append(f"{step} -> {got or 'ok'}")
        event(f"{step.split('(')[0]} -> {got or 'ok'}")
        assert got == error, f"model expected {error or 'success'}, contract gave {got or 'success'}: {self.steps}"

    def purchase(self, b: int, o: int) -> None:
        buyer, state = self.buyers[b], self.offers[o % len(self.offers)]
        offer = state.offer
        agreement, signature = self.sign(buyer, offer)
        t = self.clock.now + 1
        held = self.current.get((offer.offer_id, buyer.address))
        error = None
        if offer.kind is not OfferKind.PRIVATE:
            error = "WrongOfferKind"
        elif state.closed:
            error = "OfferNotOpen"
        elif held is not None and self.licences[held].valid_at(t):
            error = "AlreadyLicensed"
        receipt, got = outcome(lambda: self.send(buyer, self.lm.purchase(buyer.address, offer, agreement, signature)))
        self.expect(error, got, f"purchase(buyer{b}, offer{offer.offer_id})")
        if receipt is not None:
            self._issued(receipt, offer, buyer.address, t)
            self.paid += offer.price
            self.earnings[offer.provider] = self.earnings.get(offer.provider, 0) + offer.price

    def activate_trial(self, b: int, o: int, relayed: bool) -> None:
        buyer, state = self.buyers[b], self.offers[o % len(self.offers)]
        offer = state.offer
        sender = self.relayer if relayed else buyer
        agreement, signature = self.sign(buyer, offer)
        t = self.clock.now + 1
        error = None
        if offer.kind is not OfferKind.TRIAL:
            error = "WrongOfferKind"
        elif state.closed:
            error = "OfferNotOpen"
        elif (offer.offer_id, buyer.address) in self.current:
            error = "TrialAlreadyUsed"
        receipt, got = outcome(lambda: self.send(sender, self.lm.activate_trial(sender.address, agreement, signature)))
        self.expect(error, got, f"trial(buyer{b}, offer{offer.offer_id}, relayed={relayed})")
        if receipt is not None:
            self._issued(receipt, offer, buyer.address, t)
            key = (offer.offer_id, buyer.address)
            self.trials_issued[key] = self.trials_issued.get(key, 0) + 1

    def renew(self, b: int, pick: int) -> None:
        buyer = self.buyers[b]
        held = sorted(i for i, lic in self.licences.items() if lic.licensee == buyer.address)
        t = self.clock.now + 1
        if not held:
            # A licence id nobody holds yet.
            licence_id = len(self.licences) + 1
            state = self.offers[0]
            error: str | None = "LicenceNotFound"
        else:
            licence_id = held[pick % len(held)]
            lic = self.licences[licence_id]
            state = next(s for s in self.offers if s.offer.offer_id == lic.offer_id)
            error = None
            if lic.transferred:
                error = "NotLicensee"
            elif state.offer.kind is not OfferKind.PRIVATE:
                error = "WrongOfferKind"
            elif state.closed:
                error = "OfferNotOpen"
            elif state.offer.duration == 0:
                error = "NotRenewable"
        offer = state.offer
        agreement, signature = self.sign(buyer, offer)
        receipt, got = outcome(
            lambda: self.send(buyer, self.lm.renew(buyer.address, licence_id, offer, agreement, signature))
        )
        self.expect(error, got, f"renew(buyer{b}, licence{licence_id})")
        if receipt is not None:
            lic = self.licences[licence_id]
            lic.expires_at = max(lic.expires_at, t) + offer.duration
            (renewed,) = self.lm.events(receipt, "LicenceRenewed")
            assert renewed["expiresAt"] == lic.expires_at
            self.paid += offer.price
            self.earnings[offer.provider] = self.earnings.get(offer.provider, 0) + offer.price

    def transfer(self, b: int, o: int, to: int) -> None:
        buyer, recipient = self.buyers[b], self.buyers[to]
        offer = self.offers[o % len(self.offers)].offer
        licence_id = self.current.get((offer.offer_id, buyer.address))
        if licence_id is None:
            return
        t = self.clock.now + 1
        theirs = self.current.get((offer.offer_id, recipient.address))
        error = None
        if not offer.transferable:
            error = "NotTransferable"
        elif recipient.address == buyer.address:
            error = "InvalidRecipient"
        elif not self.licences[licence_id].valid_at(t):
            error = "LicenceExpired"
        elif theirs is not None and self.licences[theirs].valid_at(t):
            error = "AlreadyLicensed"
        receipt, got = outcome(
            lambda: self.send(buyer, self.lm.transfer_licence(buyer.address, licence_id, recipient.address))
        )
        self.expect(error, got, f"transfer(licence{licence_id}, buyer{b} -> buyer{to})")
        if receipt is not None:
            moved = self.licences[licence_id]
            moved.transferred = True
            moved_id = self.lm.transferred_licence_id(receipt)
            assert moved_id == licence_id_of(offer.offer_id, recipient.address)
            self.licences[moved_id] = LicenceState(offer.offer_id, recipient.address, moved.expires_at)
            del self.current[(offer.offer_id, buyer.address)]
            self.current[(offer.offer_id, recipient.address)] = moved_id

    def close(self, o: int) -> None:
        state = self.offers[o % len(self.offers)]
        error = "OfferNotOpen" if state.closed else None
        receipt, got = outcome(
            lambda: self.send(self.publisher, self.lm.close_offer(self.publisher.address, state.offer.offer_id))
        )
        self.expect(error, got, f"close(offer{state.offer.offer_id})")
        if receipt is not None:
            state.closed = True

    def withdraw(self, p: int) -> None:
        provider = self.providers[p % len(self.providers)]
        due = self.earnings.get(provider.address, 0)
        before = self.ether(provider.address)
        receipt, got = outcome(lambda: self.send(provider, self.lm.withdraw(provider.address)))
        self.expect("NothingToWithdraw" if due == 0 else None, got, f"withdraw(provider{p})")
        if receipt is not None:
            fee = int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])
            assert self.ether(provider.address) == before - fee + due
            self.withdrawn += due
            self.earnings[provider.address] = 0

    def travel(self, seconds: int) -> None:
        self.steps.append(f"travel({seconds})")
        self.clock.travel(seconds)

    def _issued(self, receipt: Any, offer: Offer, licensee: str, t: int) -> None:
        (issued,) = self.lm.events(receipt, "LicenceIssued")
        licence_id = int(issued["licenceId"])
        assert licence_id == licence_id_of(offer.offer_id, licensee)
        assert issued["licensee"] == licensee
        expires_at = t + offer.duration if offer.duration else 0
        assert issued["expiresAt"] == expires_at
        self.licences[licence_id] = LicenceState(offer.offer_id, licensee, expires_at)
        self.current[(offer.offer_id, licensee)] = licence_id

    # -- invariants

    def check_licences(self) -> None:
        # Views run against the latest block, so mine one at a known time first.
        t = self.clock.mine()
        by_offer = {s.offer.offer_id: s.offer for s in self.offers}
        valid_held: dict[tuple[int, str], int] = {}
        for licence_id, model in self.licences.items():
            on_chain = self.lm.licence(licence_id)
            assert on_chain is not None
            offer = by_offer[model.offer_id]
            assert on_chain.offer_id == model.offer_id
            assert on_chain.seats == offer.seats, (
                f"licence {licence_id} has {on_chain.seats} seats, offer {offer.seats}"
            )
            assert on_chain.licensee == model.licensee
            assert (on_chain.expires_at or 0) == model.expires_at
            assert on_chain.valid == model.valid_at(t), f"licence {licence_id} at {t}: {model}: {self.steps}"
            if on_chain.valid:
                key = (model.offer_id, model.licensee)
                valid_held[key] = valid_held.get(key, 0) + 1
        assert all(count == 1 for count in valid_held.values()), f"two valid licences under one offer: {valid_held}"
        for state in self.offers:
            for buyer in self.buyers:
                key = (state.offer.offer_id, buyer.address)
                assert self.lm.has_valid_licence(*key) == (key in valid_held)
                assert self.lm.licence_for(*key) == self.current.get(key)
        assert all(count == 1 for count in self.trials_issued.values())

    def check_payments(self) -> None:
        balance = self.ether(self.lm.address) - self.base_balance
        on_chain = {p.address: self.lm.earnings(p.address) for p in self.providers}
        assert on_chain == {p.address: self.earnings.get(p.address, 0) for p in self.providers}
        assert balance == sum(on_chain.values()), f"manager holds {balance} wei, owes {sum(on_chain.values())}"
        assert self.paid == sum(on_chain.values()) + self.withdrawn

    def apply(self, op: tuple[Any, ...]) -> None:
        name, *args = op
        getattr(self, name)(*args)


@pytest.fixture
def licensing(snapshot, deployed, chain: ChainClient, developer: LocalAccount, operator: LocalAccount) -> Any:
    """A registered package, its publisher, an authorised provider and funded buyers; each example
    then runs from this state in a chain snapshot of its own."""
    registry = chain.bound(artifacts.load("PackageRegistry"), deployed["PackageRegistry"])
    claim_line(chain, PackageRegistry(chain, registry.address), developer, LINE)
    chain.send(developer, registry.functions.register(PACKAGE, LINE, 1, sha("acme/firewall vnfd")))
    lm = LicenseManager(chain, deployed["LicenseManager"])
    provider = account(ANVIL_DEV_KEYS[3])
    chain.transact(developer, lm.authorise_provider(developer.address, PACKAGE, LINE, provider.address), abi=lm.abi)
    buyers = [account(sha(f"licence buyer {i}")) for i in range(3)]
    for buyer in buyers:
        chain.w3.provider.make_request("anvil_setBalance", [buyer.address, hex(10**21)])  # type: ignore[arg-type]

    def market(clock: Clock) -> Market:
        m = Market(chain, clock, lm, developer, [developer, provider], buyers, operator)
        m.base_balance = m.ether(lm.address) - sum(lm.earnings(p.address) for p in m.providers)
        return m

    return market


BUYER = st.integers(0, 2)
OFFER = st.integers(0, 3)
TRAVEL = st.sampled_from([1, 59, HOUR - 2, HOUR - 1, HOUR, 2 * HOUR, 6 * HOUR, 3 * 24 * HOUR])

offer_specs = st.lists(
    st.tuples(
        st.sampled_from([OfferKind.TRIAL, OfferKind.PRIVATE]),
        st.integers(1, 5),  # seats
        st.sampled_from([0, HOUR, 2 * HOUR, 24 * HOUR]),  # duration (a trial needs one: 0 becomes an hour)
        st.integers(1, 10**17),  # price of a private offer, in wei
        st.booleans(),  # transferable (private offers only)
        st.integers(0, 1),  # which provider offers it
    ),
    min_size=1,
    max_size=4,
)

PURCHASE = st.tuples(st.just("purchase"), BUYER, OFFER)
TRIAL = st.tuples(st.just("activate_trial"), BUYER, OFFER, st.booleans())
TRANSFER = st.tuples(st.just("transfer"), BUYER, OFFER, BUYER)
TRAVEL_OP = st.tuples(st.just("travel"), TRAVEL)


def at_most_one_close(ops: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Later closes become short waits: closing every offer early would leave nothing to exercise."""
    closes = [i for i, op in enumerate(ops) if op[0] == "close"]
    return [("travel", 1) if i in closes[1:] else op for i, op in enumerate(ops)]


licensing_ops = st.lists(
    st.one_of(
        PURCHASE,
        PURCHASE,
        PURCHASE,
        TRIAL,
        TRIAL,
        st.tuples(st.just("renew"), BUYER, st.integers(0, 7)),
        TRANSFER,
        TRANSFER,
        TRAVEL_OP,
        TRAVEL_OP,
        st.tuples(st.just("close"), OFFER),
    ),
    min_size=1,
    max_size=25,
).map(at_most_one_close)

payment_ops = st.lists(
    st.one_of(
        st.tuples(st.just("purchase"), BUYER, OFFER),
        st.tuples(st.just("renew"), BUYER, st.integers(0, 7)),
        st.tuples(st.just("withdraw"), st.integers(0, 1)),
        st.tuples(st.just("travel"), TRAVEL),
    ),
    min_size=1,
    max_size=25,
)


def create_offers(market: Market, specs: list[tuple[Any, ...]], *, private_only: bool = False) -> None:
    for kind, seats, duration, price, transferable, by in specs:
        if private_only:
            kind = OfferKind.PRIVATE
        if kind is OfferKind.TRIAL:
            market.create(kind, seats, duration or HOUR, 0, False, by)
        else:
            market.create(kind, seats, duration, price, transferable, by)


@settings(SETTINGS, max_examples=25)
@given(specs=offer_specs, ops=licensing_ops)
@example(
    # A transferable monthly offer and a trial: a second purchase, transfers both ways, a second
    # trial, expiry exactly at its second, renewal of a lapsed and of a replaced licence.
    specs=[(OfferKind.PRIVATE, 3, HOUR, 10**16, True, 0), (OfferKind.TRIAL, 2, HOUR, 0, False, 1)],
    ops=[
        ("purchase", 0, 0),
        ("purchase", 0, 0),
        ("transfer", 0, 0, 1),
        ("purchase", 0, 0),
        ("transfer", 1, 0, 0),
        ("activate_trial", 2, 1, True),
        ("activate_trial", 2, 1, False),
        ("purchase", 2, 1),
        ("travel", HOUR - 8),
        ("transfer", 0, 0, 2),
        ("renew", 1, 0),
        ("travel", HOUR),
        ("transfer", 1, 0, 2),
        ("purchase", 1, 0),
        ("renew", 1, 0),
        ("renew", 1, 1),
        ("renew", 2, 0),
        ("activate_trial", 2, 1, False),
        ("close", 0),
        ("purchase", 2, 0),
        ("renew", 1, 1),
    ],
)
def test_seats_and_expiry_are_never_exceeded(licensing, chain, specs, ops):
    with clean_chain(chain) as clock:
        market: Market = licensing(clock)
        create_offers(market, specs)
        for op in ops:
            market.apply(op)
            market.check_licences()
        market.check_payments()


@SETTINGS
@given(specs=offer_specs, ops=payment_ops)
def test_ether_paid_by_buyers_is_held_or_withdrawn_by_providers(licensing, chain, specs, ops):
    with clean_chain(chain) as clock:
        market: Market = licensing(clock)
        create_offers(market, specs, private_only=True)
        market.check_payments()
        for op in ops:
            market.apply(op)
            market.check_payments()
        market.check_licences()


# ---------------------------------------------------------------- registry

LINES = [sha(f"line {i}") for i in range(3)]


@dataclass
class Registrar:
    chain: ChainClient
    clock: Clock
    reg: PackageRegistry
    publishers: list[LocalAccount]
    relayer: LocalAccount
    owners: dict[bytes, str] = field(default_factory=dict)
    latest: dict[bytes, int] = field(default_factory=dict)
    registered: list[bytes] = field(default_factory=list)
    first: dict[tuple[bytes, bytes], int] = field(default_factory=dict)  # (digest, line) -> version that counts
    steps: list[str] = field(default_factory=list)

    def attempt(self, p: int, line_index: int, version: int, relayed: bool, reuse: bool, signer: int) -> None:
        publisher = self.publishers[p]
        line = LINES[line_index]
        if reuse and self.registered:
            digest = self.registered[version % len(self.registered)]
        else:
            digest = sha(f"package {len(self.steps)}")
        before = self.snapshot()
        nonce_before = self.reg.line_nonce(line)
        error: str | None = None
        if relayed and signer != p:
            error = "WrongSigner"
        elif line not in self.owners:
            error = "LineNotClaimed"
        elif self.owners[line] != publisher.address:
            error = "NotLineOwner"
        elif version <= self.latest.get(line, 0):
            error = "VersionNotIncreasing"
        descriptor = sha(f"descriptor of {digest.hex()}")
        if relayed:
            registration = Registration(
                digest="0x" + digest.hex(),
                name_hash="0x" + line.hex(),
                version=version,
                descriptor_digest="0x" + descriptor.hex(),
                publisher=publisher.address,
                nonce=nonce_before,
                deadline=self.clock.now + HOUR,
            )
            key = self.publishers[signer].key
            signature = bytes(Account.sign_typed_data(key, full_message=self.reg.typed_data(registration)).signature)
            tx = self.reg.register_with_signature(self.relayer.address, registration, signature)
            sender = self.relayer
        else:
            tx = self.reg.register(publisher.address, digest, line, version, descriptor)
            sender = publisher

        def send() -> Any:
            self.clock.next_block()
            return self.chain.transact(sender, tx, abi=self.reg.abi)

        receipt, got = outcome(send)
        step = f"{'relayed' if relayed else 'direct'}(publisher{p}, line{line_index}, v{version}) -> {got or 'ok'}"
        self.steps.append(step)
        event(f"{'relayed' if relayed else 'direct'} -> {got or 'ok'}")
        assert got == error, f"model expected {error or 'success'}: {self.steps}"
        if receipt is None:
            assert self.snapshot() == before, f"a refused registration changed the registry: {self.steps}"
            assert self.reg.line_nonce(line) == nonce_before
            return
        assert version > before[line_index][1], f"accepted v{version} after v{before[line_index][1]}"
        assert self.owners[line] == publisher.address, "a key other than the line owner's registered in the line"
        self.latest[line] = version
        self.registered.append(digest)
        # The same digest may be registered again (in another line, or at a later version of its line):
        # in each line, its first registration is the one that counts.
        self.first.setdefault((digest, line), version)
        record = self.reg.registration_of(digest, line)
        assert record is not None
        assert (record.publisher, record.version, record.name_hash) == (
            publisher.address,
            self.first[(digest, line)],
            "0x" + line.hex(),
        )
        # Every registration in the line, direct or signed, counts towards its nonce.
        assert self.reg.line_nonce(line) == nonce_before + 1

    def snapshot(self) -> list[tuple[str | None, int]]:
        return [(self.reg.line_owner(line), self.reg.latest_version(line)) for line in LINES]

    def check(self, previous: list[tuple[str | None, int]]) -> list[tuple[str | None, int]]:
        now = self.snapshot()
        for line, (before, after) in enumerate(zip(previous, now, strict=True)):
            assert after[1] >= before[1], f"latestVersion of line {line} went down: {before[1]} -> {after[1]}"
            assert after == (self.owners.get(LINES[line]), self.latest.get(LINES[line], 0))
        return now


@pytest.fixture
def registrar(snapshot, deployed, chain: ChainClient, developer: LocalAccount, stranger: LocalAccount, operator) -> Any:
    publishers = [developer, stranger, account(ANVIL_DEV_KEYS[3])]
    reg = PackageRegistry(chain, deployed["PackageRegistry"])
    for line in LINES:
        assert reg.line_owner(line) is None
    # Two lines claimed (by commit-reveal) before the examples run, the third left unclaimed.
    owners = {LINES[0]: publishers[0].address, LINES[1]: publishers[1].address}
    for line, publisher in zip(LINES[:2], publishers[:2], strict=True):
        claim_line(chain, reg, publisher, line)
    return lambda clock: Registrar(chain, clock, reg, publishers, operator, owners=dict(owners))


register_ops = st.lists(
    st.tuples(
        st.integers(0, 2),  # publisher
        st.integers(0, 2),  # line
        st.integers(0, 6),  # version
        st.booleans(),  # relayed (signed) rather than sent by the publisher
        st.booleans(),  # re-use an already registered digest
        st.one_of(st.none(), st.none(), st.integers(0, 2)),  # who signs a relayed one (None: the publisher)
    ),
    min_size=1,
    max_size=25,
)


@SETTINGS
@given(ops=register_ops)
def test_line_versions_only_increase_and_only_for_the_line_owner(registrar, chain, ops):
    with clean_chain(chain) as clock:
        registry: Registrar = registrar(clock)
        state = registry.snapshot()
        for p, line, version, relayed, reuse, signer in ops:
            registry.attempt(p, line, version, relayed, reuse, p if signer is None else signer)
            state = registry.check(state)
