"""LicenseManager on a real anvil node: offers, signed licence agreements, ether and token payments,
trials, expiry, renewal, transfer, withdrawals and a re-entering withdrawer."""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger import artifacts
from ledger.exceptions import LedgerError, TransactionFailed
from ledger.licensing import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    LicenceAgreement,
    LicenceStatus,
    LicenseManager,
    OfferKind,
    agreement_from_typed_data,
    agreement_typed_data,
    licence_id_of,
    typed_data_hash,
)
from ledger.registry import package_key
from ledger.services import contracts_deploy
from tests.ledger.licence_market import (
    HOUR,
    LINE,
    OTHER_LINE,
    OTHER_PACKAGE,
    PACKAGE,
    PRICE,
    TERMS,
    TOKEN_PRICE,
    fails,
    sha,
)

# -- agreement payload


def test_the_typed_data_matches_the_contract_domain_and_hash(market, buyer, chain):
    offer = market.private()
    typed = agreement_typed_data(
        chain.chain_id(), market.lm.address, offer.offer_id, TERMS, buyer.address, 3, 30 * 24 * HOUR, 0, 2**40
    )

    assert market.lm.contract.functions.registry().call() == market.registry.address
    domain = market.lm.contract.functions.eip712Domain().call()
    assert (domain[1], domain[2], domain[3], domain[4]) == (DOMAIN_NAME, DOMAIN_VERSION, 31337, market.lm.address)
    assert typed["domain"] == {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": 31337,
        "verifyingContract": market.lm.address,
    }
    agreement = agreement_from_typed_data(typed)
    on_chain = market.lm.contract.functions.agreementHash(agreement.as_args()).call()
    assert "0x" + bytes(on_chain).hex() == typed_data_hash(typed)


def test_the_agreement_to_sign_is_rebuilt_from_the_offer_and_the_pairs_nonce(market, buyer):
    offer = market.private()
    deadline = market.now() + HOUR

    def on_chain() -> LicenceAgreement:
        fields = market.lm.contract.functions.agreementFor(offer.offer_id, buyer.address, deadline).call()
        return LicenceAgreement(fields[0], "0x" + bytes(fields[1]).hex(), *fields[2:])

    assert on_chain() == market.lm.agreement(offer, buyer.address, deadline=deadline)
    assert on_chain().nonce == 0
    market.buy(buyer, offer)
    assert on_chain() == market.lm.agreement(offer, buyer.address, deadline=deadline)
    assert on_chain().nonce == 1
    # An offer that does not exist has no terms to agree to.
    missing = market.lm.contract.functions.agreementFor(999, buyer.address, deadline).call()
    assert (bytes(missing[1]), missing[3], missing[4]) == (bytes(32), 0, 0)


def test_a_deployed_manager_is_recognised_as_the_committed_build(market, chain, operator):
    # Its runtime code varies per deployment only in its immutables (the registry address, the chain id
    # and EIP-712 domain separator it was deployed with), which the check of the committed build masks;
    # otherwise every start would redeploy it.
    outcomes = {o.deployment.name: o for o in contracts_deploy(client=chain, deployer=operator)}
    assert not outcomes["LicenseManager"].created
    assert outcomes["LicenseManager"].deployment.address == market.lm.address
    assert LicenseManager.deployed(chain).address == market.lm.address


def test_the_manager_needs_a_registry_contract(chain, operator, snapshot):
    artifact = artifacts.load("LicenseManager")
    data = chain.factory(artifact).constructor(operator.address).data_in_transaction
    with fails(rf"RegistryNotContract\({operator.address.lower()}\)"):
        chain.transact(operator, {"from": operator.address, "data": data}, abi=artifact.abi)


# -- offers


def test_offers_of_each_kind_are_created_and_announced(market, developer):
    public = market.create(developer, OfferKind.PUBLIC)
    trial = market.trial()
    private = market.private(transferable=True)

    assert (public.kind, public.price, public.seats, public.duration) == (OfferKind.PUBLIC, 0, 0, 0)
    assert (trial.kind, trial.seats, trial.duration) == (OfferKind.TRIAL, 1, 7 * 24 * HOUR)
    assert (private.kind, private.price, private.token, private.transferable) == (OfferKind.PRIVATE, PRICE, None, True)
    assert private.provider == developer.address
    assert private.package_key == package_key(PACKAGE, LINE)
    assert private.name_hash == "0x" + LINE.hex()
    assert private.terms_hash == "0x" + TERMS.hex()
    assert private.open
    assert market.lm.offer(999) is None

    receipt = market.send(
        developer,
        market.lm.create_offer(
            developer.address, digest=PACKAGE, name_hash=LINE, kind=OfferKind.PUBLIC, terms_hash=TERMS
        ),
    )
    (event,) = market.lm.events(receipt, "OfferCreated")
    assert event["provider"] == developer.address
    assert (event["digest"], event["nameHash"]) == (PACKAGE, LINE)
    assert event["kind"] == OfferKind.PUBLIC
    assert event["termsHash"] == TERMS


@pytest.mark.parametrize(
    ("kind", "terms", "error"),
    [
        (OfferKind.PUBLIC, {"price": 1}, "PriceNotAllowed"),
        (OfferKind.PUBLIC, {"duration": HOUR}, "DurationNotAllowed"),
        (OfferKind.PUBLIC, {"seats": 5}, "SeatsNotAllowed"),
        (OfferKind.PUBLIC, {"transferable": True}, "TransferNotAllowed"),
        (OfferKind.TRIAL, {"price": 1, "seats": 1, "duration": HOUR}, "PriceNotAllowed"),
        (OfferKind.TRIAL, {"seats": 1}, "DurationRequired"),
        (OfferKind.TRIAL, {"duration": HOUR}, "SeatsRequired"),
        (OfferKind.TRIAL, {"seats": 1, "duration": HOUR, "transferable": True}, "TransferNotAllowed"),
        (OfferKind.PRIVATE, {"price": PRICE}, "SeatsRequired"),
        (OfferKind.PRIVATE, {"seats": 1, "token": "0x" + "11" * 20}, "TokenWithoutPrice"),
        (OfferKind.PRIVATE, {"seats": 1, "price": 1, "token": "0x" + "11" * 20}, "TokenNotContract"),
        (OfferKind.PRIVATE, {"seats": 1, "price": 1, "terms_hash": b"\0" * 32}, "ZeroTermsHash"),
        (OfferKind.PRIVATE, {"seats": 1, "price": 1, "name_hash": sha("unclaimed line")}, "LineNotClaimed"),
    ],
)
def test_invalid_offers_are_refused(market, developer, kind, terms, error):
    with fails(error):
        market.create(developer, kind, **terms)
    assert market.lm.contract.functions.offerCount().call() == 0


def test_only_the_publisher_and_providers_it_authorises_create_offers(market, developer, provider, stranger):
    with fails("NotProvider"):
        market.create(stranger, OfferKind.PUBLIC)
    with fails("NotProvider"):
        market.create(provider, OfferKind.PUBLIC)
    for outsider in (provider, stranger):
        with fails("NotPublisher"):
            market.send(outsider, market.lm.authorise_provider(outsider.address, PACKAGE, LINE, outsider.address))

    receipt = market.send(developer, market.lm.authorise_provider(developer.address, PACKAGE, LINE, provider.address))
    (event,) = market.lm.events(receipt, "ProviderAuthorised")
    assert (event["provider"], event["publisher"], event["authorised"]) == (provider.address, developer.address, True)
    assert market.lm.is_provider(PACKAGE, LINE, provider.address)
    assert not market.lm.is_provider(OTHER_PACKAGE, OTHER_LINE, provider.address)
    offer = market.create(provider, OfferKind.PRIVATE, price=PRICE, seats=2)
    assert offer.provider == provider.address
    # An authorised provider cannot authorise others: only the publisher can.
    with fails("NotPublisher"):
        market.send(provider, market.lm.authorise_provider(provider.address, PACKAGE, LINE, stranger.address))
    with fails("NotProvider"):
        market.create(provider, OfferKind.PUBLIC, digest=OTHER_PACKAGE)

    market.send(developer, market.lm.authorise_provider(developer.address, PACKAGE, LINE, provider.address, False))
    assert not market.lm.is_provider(PACKAGE, LINE, provider.address)
    with fails("NotProvider"):
        market.create(provider, OfferKind.PUBLIC)
    # De-authorisation stops new offers; the provider's existing offer stays open until closed.
    assert market.lm.offer(offer.offer_id).open


def test_a_zero_provider_and_an_unknown_package_are_refused(market, developer):
    with fails("ZeroAddress"):
        market.send(developer, market.lm.authorise_provider(developer.address, PACKAGE, LINE, "0x" + "00" * 20))
    with fails("LineNotClaimed"):
        market.send(
            developer, market.lm.authorise_provider(developer.address, PACKAGE, sha("unclaimed"), developer.address)
        )


# -- purchases


def test_a_purchase_with_the_exact_ether_price_issues_a_licence(market, developer, buyer):
    offer = market.private()
    agreement, signature = market.sign(buyer, offer)
    before = market.ether(market.lm.address)

    receipt = market.send(buyer, market.lm.purchase(buyer.address, offer, agreement, signature))

    licence_id = market.lm.issued_licence_id(receipt)
    licence = market.lm.licence(licence_id)
    assert licence is not None
    assert (licence.offer_id, licence.licensee, licence.seats) == (offer.offer_id, buyer.address, 3)
    assert licence.expires_at == market.now() + offer.duration
    assert licence.status is LicenceStatus.ACTIVE
    assert market.lm.is_valid(licence_id)
    assert market.lm.licence_for(offer.offer_id, buyer.address) == licence_id
    assert licence_id == licence_id_of(offer.offer_id, buyer.address) < 2**63
    assert market.lm.contract.functions.licenceIdOf(offer.offer_id, buyer.address).call() == licence_id
    assert market.lm.has_valid_licence(offer.offer_id, buyer.address)
    assert market.lm.nonce(offer.offer_id, buyer.address) == 1
    assert market.lm.earnings(developer.address) == PRICE
    assert market.ether(market.lm.address) - before == PRICE
    (issued,) = market.lm.events(receipt, "LicenceIssued")
    assert (issued["licenceId"], issued["offerId"], issued["licensee"]) == (licence_id, offer.offer_id, buyer.address)
    assert "0x" + issued["agreementHash"].hex() == typed_data_hash(market.lm.typed_data(agreement))


def test_a_wrong_ether_amount_is_refused(market, buyer):
    offer = market.private()
    agreement, signature = market.sign(buyer, offer)
    for value in (0, PRICE - 1, PRICE + 1):
        tx = market.lm.purchase(buyer.address, offer, agreement, signature)
        tx["value"] = value
        with fails(rf"WrongPayment\({PRICE}, {value}\)"):
            market.send(buyer, tx)
    assert market.lm.nonce(offer.offer_id, buyer.address) == 0
    assert market.lm.licence(licence_id_of(offer.offer_id, buyer.address)) is None


def test_a_purchase_paid_by_someone_other_than_the_licensee_is_refused(market, buyer, stranger):
    offer = market.private()
    agreement, signature = market.sign(buyer, offer)
    with pytest.raises(LedgerError, match=f"the payer {stranger.address} is not the licensee {buyer.address}"):
        market.lm.purchase(stranger.address, offer, agreement, signature)
    # On chain the payer is the licensee: the buyer's signature does not sign the stranger's agreement.
    with fails(rf"AgreementNotSigned\({offer.offer_id}, {stranger.address.lower()}, 0\)"):
        market.raw(stranger, "purchase", offer.offer_id, agreement.deadline, signature, value=PRICE)
    assert market.lm.licence(licence_id_of(offer.offer_id, buyer.address)) is None


def test_a_purchase_in_an_erc20_token_pulls_the_exact_amount(market, developer, provider, buyer):
    token = market.deploy(buyer, "TestToken", buyer.address, 1000 * 10**18, 0)
    market.send(developer, market.lm.authorise_provider(developer.address, PACKAGE, LINE, provider.address))
    offer = market.create(provider, OfferKind.PRIVATE, price=TOKEN_PRICE, token=token.address, seats=2)
    assert offer.token == token.address
    agreement, signature = market.sign(buyer, offer)

    # The token's own ERC20InsufficientAllowance (selector 0xfb8f41b2) comes through undecoded.
    with pytest.raises(TransactionFailed, match="reverted with unknown error 0xfb8f41b2"):
        market.send(buyer, market.lm.purchase(buyer.address, offer, agreement, signature))
    market.send(buyer, market.lm.approve_payment(buyer.address, offer))
    ether_on_top = market.lm.purchase(buyer.address, offer, agreement, signature)
    ether_on_top["value"] = 1
    with fails(r"WrongPayment\(0, 1\)"):
        market.send(buyer, ether_on_top)

    receipt = market.send(buyer, market.lm.purchase(buyer.address, offer, agreement, signature))

    assert market.lm.is_valid(market.lm.issued_licence_id(receipt))
    assert token.functions.balanceOf(buyer.address).call() == 1000 * 10**18 - TOKEN_PRICE
    assert token.functions.balanceOf(market.lm.address).call() == TOKEN_PRICE
    assert market.lm.earnings(provider.address, token.address) == TOKEN_PRICE
    assert market.lm.earnings(provider.address) == 0
    assert market.lm.earnings(developer.address, token.address) == 0

    receipt = market.send(provider, market.lm.withdraw(provider.address, token.address))
    assert token.functions.balanceOf(provider.address).call() == TOKEN_PRICE
    (withdrawn,) = market.lm.events(receipt, "Withdrawn")
    assert (withdrawn["provider"], withdrawn["token"], withdrawn["amount"]) == (
        provider.address,
        token.address,
        TOKEN_PRICE,
    )
    with fails("NothingToWithdraw"):
        market.send(provider, market.lm.withdraw(provider.address, token.address))


def test_a_token_that_takes_a_fee_on_transfer_is_refused(market, developer, buyer):
    token = market.deploy(buyer, "TestToken", buyer.address, 1000 * 10**18, 100)
    offer = market.create(developer, OfferKind.PRIVATE, price=TOKEN_PRICE, token=token.address, seats=1)
    agreement, signature = market.sign(buyer, offer)
    market.send(buyer, market.lm.approve_payment(buyer.address, offer))
    with fails("TokenAmountMismatch"):
        market.send(buyer, market.lm.purchase(buyer.address, offer, agreement, signature))


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        ({"signed_by": "stranger"}, "AgreementNotSigned"),
        ({"deadline": "past"}, "AgreementExpired"),
        ({"chain_id": 1}, "AgreementNotSigned"),
        ({"manager": "0x" + "22" * 20}, "AgreementNotSigned"),
        ({"nonce": 5}, "AgreementNotSigned"),
    ],
)
def test_an_agreement_that_does_not_match_is_refused(market, buyer, stranger, tamper, error):
    offer = market.private()
    changes = dict(tamper)
    signer = stranger if changes.pop("signed_by", None) else buyer
    if changes.get("deadline") == "past":
        changes["deadline"] = market.now() - 1
    agreement, signature = market.sign(signer, offer, **changes)
    if signer is stranger:
        agreement = dataclasses.replace(agreement, licensee=buyer.address)
    with fails(error):
        market.send(buyer, market.lm.purchase(buyer.address, offer, agreement, signature))
    assert market.lm.nonce(offer.offer_id, buyer.address) == 0


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("terms_hash", "0x" + sha("other terms").hex(), "termsHash is 0x"),
        ("seats", 10, "seats is 10, offer {offer} has 3"),
        ("duration", 365 * 24 * HOUR, f"duration is {365 * 24 * HOUR}, offer {{offer}} has {30 * 24 * HOUR}"),
        ("offer_id", "other", "offerId is {other}, offer {offer} has {offer}"),
    ],
)
def test_an_agreement_for_other_terms_is_refused_before_and_on_chain(market, buyer, field, value, said):
    offer = market.private()
    other = market.private(price=PRICE * 2)
    agreement, signature = market.sign(buyer, offer, **{field: other.offer_id if value == "other" else value})

    # The binding names the field that differs from the offer...
    with pytest.raises(LedgerError, match=said.format(offer=offer.offer_id, other=other.offer_id)):
        market.lm.purchase(buyer.address, offer, agreement, signature)
    # ...and the chain, which rebuilds the agreement from the offer, finds the signature is not of it.
    with fails(rf"AgreementNotSigned\({offer.offer_id}, {buyer.address.lower()}, 0\)"):
        market.raw(buyer, "purchase", offer.offer_id, agreement.deadline, signature, value=PRICE)
    assert market.lm.nonce(offer.offer_id, buyer.address) == 0


def test_a_used_nonce_cannot_be_replayed(market, buyer):
    first = market.private(duration=HOUR)
    second = market.private(duration=HOUR, price=PRICE * 2)
    agreement, signature = market.sign(buyer, first, deadline=market.now() + 10 * HOUR)
    licence_id = market.lm.issued_licence_id(
        market.send(buyer, market.lm.purchase(buyer.address, first, agreement, signature))
    )

    # Nonces count the agreements of one licensee under one offer: another offer starts at 0.
    with fails(rf"AgreementNotSigned\({second.offer_id}, {buyer.address.lower()}, 0\)"):
        market.buy(buyer, second, nonce=1)
    market.buy(buyer, second, nonce=0)
    # Once the first licence has lapsed, the very same signed agreement still cannot buy it again.
    market.travel(HOUR + 1)
    with fails(rf"AgreementNotSigned\({first.offer_id}, {buyer.address.lower()}, 1\)"):
        market.send(buyer, market.lm.purchase(buyer.address, first, agreement, signature))
    assert market.buy(buyer, first) == licence_id
    assert market.lm.nonce(first.offer_id, buyer.address) == 2


def test_a_second_licence_while_the_first_is_valid_is_refused(market, buyer):
    offer = market.private()
    licence_id = market.buy(buyer, offer)
    with fails(rf"AlreadyLicensed\({offer.offer_id}, {buyer.address.lower()}, {licence_id}\)"):
        market.buy(buyer, offer)


def test_public_offers_need_no_licence_and_sell_none(market, developer, buyer, stranger):
    public = market.create(developer, OfferKind.PUBLIC)
    assert market.lm.has_valid_licence(public.offer_id, stranger.address)
    assert not market.lm.has_valid_licence(999, stranger.address)
    agreement, signature = market.sign(buyer, public)
    with fails("WrongOfferKind"):
        market.send(buyer, market.lm.purchase(buyer.address, public, agreement, signature))
    with fails("WrongOfferKind"):
        market.send(buyer, market.lm.activate_trial(buyer.address, agreement, signature))
    market.send(developer, market.lm.close_offer(developer.address, public.offer_id))
    assert not market.lm.has_valid_licence(public.offer_id, stranger.address)


# -- trials


def test_a_trial_is_activated_once_per_address_and_may_be_relayed(market, operator, buyer):
    trial = market.trial()
    user = Account.create()  # holds no ether: the operator relays its signed agreement
    agreement, signature = market.sign(user, trial)

    receipt = market.send(operator, market.lm.activate_trial(operator.address, agreement, signature))

    licence_id = market.lm.issued_licence_id(receipt)
    licence = market.lm.licence(licence_id)
    assert licence is not None
    assert (licence.licensee, licence.seats) == (user.address, 1)
    assert licence.expires_at == market.now() + 7 * 24 * HOUR
    assert licence_id == licence_id_of(trial.offer_id, user.address)
    assert receipt["from"] == operator.address
    assert market.lm.earnings(operator.address) == market.lm.earnings(market.publisher.address) == 0

    again, again_signature = market.sign(user, trial)
    with fails("TrialAlreadyUsed"):
        market.send(operator, market.lm.activate_trial(operator.address, again, again_signature))
    with fails("TrialAlreadyUsed"):
        market.send(operator, market.lm.activate_trial(operator.address, agreement, signature))
    market.travel(7 * 24 * HOUR + 1)
    assert not market.lm.is_valid(licence_id)
    with fails("TrialAlreadyUsed"):
        market.send(operator, market.lm.activate_trial(operator.address, again, again_signature))

    other, other_signature = market.sign(buyer, trial)
    market.send(buyer, market.lm.activate_trial(buyer.address, other, other_signature))
    assert market.lm.has_valid_licence(trial.offer_id, buyer.address)


def test_trial_and_private_offers_are_not_interchangeable(market, buyer):
    trial = market.trial()
    private = market.private()
    agreement, signature = market.sign(buyer, trial)
    with fails("WrongOfferKind"):
        market.send(buyer, market.lm.purchase(buyer.address, trial, agreement, signature))
    agreement, signature = market.sign(buyer, private)
    with fails("WrongOfferKind"):
        market.send(buyer, market.lm.activate_trial(buyer.address, agreement, signature))


def test_a_trial_with_a_forged_signature_is_refused(market, operator, stranger):
    trial = market.trial()
    victim = Account.create()
    agreement, signature = market.sign(stranger, trial)
    forged = dataclasses.replace(agreement, licensee=victim.address)
    with fails(rf"AgreementNotSigned\({trial.offer_id}, {victim.address.lower()}, 0\)"):
        market.send(operator, market.lm.activate_trial(operator.address, forged, signature))


def test_a_contract_wallet_agrees_through_erc1271(market, operator, stranger):
    trial = market.trial()
    wallet = market.deploy(stranger, "ContractWallet")
    agreement = market.lm.agreement(trial, wallet.address, deadline=market.now() + HOUR)
    digest = bytes.fromhex(typed_data_hash(market.lm.typed_data(agreement))[2:])
    # Not approved yet: no key can sign for a contract, and the wallet does not vouch for the digest.
    with fails("AgreementNotSigned"):
        market.send(operator, market.lm.activate_trial(operator.address, agreement, b"\x01" * 65))
    market.chain.transact(stranger, wallet.functions.approve(digest).build_transaction({"from": stranger.address}))

    receipt = market.send(operator, market.lm.activate_trial(operator.address, agreement, b""))

    licence = market.lm.licence(market.lm.issued_licence_id(receipt))
    assert licence is not None
    assert licence.licensee == wallet.address


# -- closing, expiry, revocation


def test_a_closed_offer_sells_nothing_and_keeps_its_licences(market, developer, provider, buyer, stranger):
    market.send(developer, market.lm.authorise_provider(developer.address, PACKAGE, LINE, provider.address))
    market.send(developer, market.lm.authorise_provider(developer.address, PACKAGE, LINE, stranger.address))
    offer = market.create(provider, OfferKind.PRIVATE, price=PRICE, seats=2)
    licence_id = market.buy(buyer, offer)
    # Another provider of the same package, and an outsider, cannot close this provider's offer.
    for outsider in (stranger, buyer):
        with fails("NotOfferManager"):
            market.send(outsider, market.lm.close_offer(outsider.address, offer.offer_id))
    with fails("OfferNotFound"):
        market.send(provider, market.lm.close_offer(provider.address, 999))

    receipt = market.send(provider, market.lm.close_offer(provider.address, offer.offer_id))

    (closed,) = market.lm.events(receipt, "OfferClosed")
    assert (closed["offerId"], closed["closedBy"]) == (offer.offer_id, provider.address)
    assert market.lm.offer(offer.offer_id).closed
    assert market.lm.is_valid(licence_id)
    with fails("OfferNotOpen"):
        market.buy(stranger, offer)
    with fails("OfferNotOpen"):
        market.send(provider, market.lm.close_offer(provider.address, offer.offer_id))
    # The publisher may close any offer on its package.
    second = market.create(provider, OfferKind.PRIVATE, price=PRICE, seats=2)
    market.send(developer, market.lm.close_offer(developer.address, second.offer_id))
    assert market.lm.offer(second.offer_id).closed


def test_a_licence_expires_with_chain_time(market, buyer):
    offer = market.private(duration=HOUR)
    licence_id = market.buy(buyer, offer)
    assert market.lm.is_valid(licence_id)

    market.travel(HOUR + 1)

    assert not market.lm.is_valid(licence_id)
    licence = market.lm.licence(licence_id)
    assert licence is not None
    assert licence.status is LicenceStatus.EXPIRED
    assert not market.lm.has_valid_licence(offer.offer_id, buyer.address)
    # Once lapsed it can be bought again: the licensee's licence under the offer is issued anew.
    receipt = market.send(buyer, market.lm.purchase(buyer.address, offer, *market.sign(buyer, offer)))
    assert market.lm.issued_licence_id(receipt) == licence_id
    assert market.lm.licence_for(offer.offer_id, buyer.address) == licence_id
    assert market.lm.licence(licence_id).expires_at == market.now() + HOUR
    assert market.lm.is_valid(licence_id)


def test_a_licence_without_expiry_stays_valid(market, buyer):
    offer = market.private(duration=0)
    licence_id = market.buy(buyer, offer)
    market.travel(10 * 365 * 24 * HOUR)
    licence = market.lm.licence(licence_id)
    assert licence is not None
    assert licence.expires_at is None
    assert licence.valid


def test_a_revoked_package_gets_no_new_offers_or_sales(market, developer, buyer, stranger):
    private = market.private()
    trial = market.trial()
    licence_id = market.buy(buyer, private)

    market.chain.send(developer, market.registry.functions.revoke(PACKAGE, LINE))
    assert not market.lm.is_provider(PACKAGE, LINE, developer.address)

    with fails("PackageRevoked"):
        market.create(developer, OfferKind.PUBLIC)
    with fails("PackageRevoked"):
        market.buy(stranger, private)
    renewal, renewal_signature = market.sign(buyer, private)
    with fails("PackageRevoked"):
        market.send(buyer, market.lm.renew(buyer.address, licence_id, private, renewal, renewal_signature))
    assert market.lm.is_valid(licence_id)
    # A trial takes no payment, and its activation does not ask the registry: whether a revoked package
    # may be used is the registry's answer at use (the marketplace does not relay such trials either).
    agreement, signature = market.sign(stranger, trial)
    market.send(stranger, market.lm.activate_trial(stranger.address, agreement, signature))


# -- renewal


def test_renewal_extends_a_private_licence_from_its_expiry(market, developer, buyer, stranger):
    offer = market.private(duration=HOUR)
    licence_id = market.buy(buyer, offer)
    expires_at = market.lm.licence(licence_id).expires_at

    agreement, signature = market.sign(buyer, offer)
    underpaid = market.lm.renew(buyer.address, licence_id, offer, agreement, signature)
    underpaid["value"] = PRICE - 1
    with fails("WrongPayment"):
        market.send(buyer, underpaid)
    with pytest.raises(LedgerError, match="is not the licensee"):
        market.lm.renew(stranger.address, licence_id, offer, agreement, signature)
    with fails("NotLicensee"):
        market.raw(stranger, "renew", licence_id, agreement.deadline, signature, value=PRICE)
    theirs, their_signature = market.sign(stranger, offer)
    with fails("NotLicensee"):
        market.send(stranger, market.lm.renew(stranger.address, licence_id, offer, theirs, their_signature))

    receipt = market.send(buyer, market.lm.renew(buyer.address, licence_id, offer, agreement, signature))

    assert market.lm.licence(licence_id).expires_at == expires_at + HOUR
    # Each accepted agreement moves the pair's nonce on: the renewal's signature cannot be used again.
    assert market.lm.nonce(offer.offer_id, buyer.address) == 2
    with fails(rf"AgreementNotSigned\({offer.offer_id}, {buyer.address.lower()}, 2\)"):
        market.send(buyer, market.lm.renew(buyer.address, licence_id, offer, agreement, signature))
    (renewed,) = market.lm.events(receipt, "LicenceRenewed")
    assert (renewed["licenceId"], renewed["expiresAt"]) == (licence_id, expires_at + HOUR)
    assert market.lm.earnings(developer.address) == 2 * PRICE

    market.travel(3 * HOUR)
    assert not market.lm.is_valid(licence_id)
    market.send(buyer, market.lm.renew(buyer.address, licence_id, offer, *market.sign(buyer, offer)))
    assert market.lm.licence(licence_id).expires_at == market.now() + HOUR
    assert market.lm.is_valid(licence_id)


def test_only_an_expiring_licence_of_an_open_offer_renews(market, developer, buyer):
    forever = market.private(duration=0)
    licence_id = market.buy(buyer, forever)
    with fails("NotRenewable"):
        market.send(buyer, market.lm.renew(buyer.address, licence_id, forever, *market.sign(buyer, forever)))

    monthly = market.private()
    monthly_id = market.buy(buyer, monthly)
    market.send(developer, market.lm.close_offer(developer.address, monthly.offer_id))
    with fails("OfferNotOpen"):
        market.send(buyer, market.lm.renew(buyer.address, monthly_id, monthly, *market.sign(buyer, monthly)))
    with fails("LicenceNotFound"):
        market.send(buyer, market.lm.renew(buyer.address, 999, monthly, *market.sign(buyer, monthly)))

    trial = market.trial()
    agreement, signature = market.sign(buyer, trial)
    trial_id = market.lm.issued_licence_id(
        market.send(buyer, market.lm.activate_trial(buyer.address, agreement, signature))
    )
    with fails("WrongOfferKind"):
        market.send(buyer, market.lm.renew(buyer.address, trial_id, trial, *market.sign(buyer, trial)))


# -- transfer


def test_a_licence_transfers_only_when_transferable_and_only_by_its_licensee(
    market, developer, buyer, stranger, operator
):
    fixed = market.private()
    fixed_id = market.buy(buyer, fixed)
    with fails("NotTransferable"):
        market.send(buyer, market.lm.transfer_licence(buyer.address, fixed_id, stranger.address))

    offer = market.private(transferable=True)
    licence_id = market.buy(buyer, offer)
    for outsider in (stranger, developer, operator):
        with fails("NotLicensee"):
            market.send(outsider, market.lm.transfer_licence(outsider.address, licence_id, outsider.address))
    for recipient in ("0x" + "00" * 20, buyer.address):
        with fails("InvalidRecipient"):
            market.send(buyer, market.lm.transfer_licence(buyer.address, licence_id, recipient))

    expires_at = market.lm.licence(licence_id).expires_at
    receipt = market.send(buyer, market.lm.transfer_licence(buyer.address, licence_id, stranger.address))

    # The licence continues, with its expiry, under the recipient's id; the sender's id records the hand-over.
    moved_id = market.lm.transferred_licence_id(receipt)
    assert moved_id == licence_id_of(offer.offer_id, stranger.address) != licence_id
    (moved,) = market.lm.events(receipt, "LicenceTransferred")
    assert (moved["licenceId"], moved["from"], moved["to"], moved["offerId"], moved["expiresAt"]) == (
        licence_id,
        buyer.address,
        stranger.address,
        offer.offer_id,
        expires_at,
    )
    moved_licence = market.lm.licence(moved_id)
    assert (moved_licence.licensee, moved_licence.expires_at, moved_licence.status) == (
        stranger.address,
        expires_at,
        LicenceStatus.ACTIVE,
    )
    old = market.lm.licence(licence_id)
    assert (old.licensee, old.status) == (buyer.address, LicenceStatus.TRANSFERRED)
    assert not market.lm.is_valid(licence_id)
    assert market.lm.licence_for(offer.offer_id, buyer.address) is None
    assert market.lm.licence_for(offer.offer_id, stranger.address) == moved_id
    assert market.lm.has_valid_licence(offer.offer_id, stranger.address)
    assert not market.lm.has_valid_licence(offer.offer_id, buyer.address)
    with fails("NotLicensee"):
        market.send(buyer, market.lm.transfer_licence(buyer.address, licence_id, operator.address))
    # The new holder renews it; the former holder cannot.
    with fails("NotLicensee"):
        market.send(buyer, market.lm.renew(buyer.address, licence_id, offer, *market.sign(buyer, offer)))
    market.send(stranger, market.lm.renew(stranger.address, moved_id, offer, *market.sign(stranger, offer)))

    # Nobody receives a second valid licence under the same offer.
    buyer_again = market.buy(buyer, offer)
    assert buyer_again == licence_id
    with fails("AlreadyLicensed"):
        market.send(stranger, market.lm.transfer_licence(stranger.address, moved_id, buyer.address))
    assert market.lm.licence_for(offer.offer_id, buyer.address) == buyer_again


def test_an_expired_licence_does_not_transfer(market, buyer, stranger):
    offer = market.private(duration=HOUR, transferable=True)
    licence_id = market.buy(buyer, offer)
    market.travel(HOUR + 1)
    with fails("LicenceExpired"):
        market.send(buyer, market.lm.transfer_licence(buyer.address, licence_id, stranger.address))


# -- earnings


def test_a_provider_withdraws_exactly_its_earnings_and_others_nothing(market, developer, provider, buyer, stranger):
    market.send(developer, market.lm.authorise_provider(developer.address, PACKAGE, LINE, provider.address))
    offer = market.create(provider, OfferKind.PRIVATE, price=PRICE, seats=1)
    market.buy(buyer, offer)
    market.buy(stranger, offer)
    assert market.lm.earnings(provider.address) == 2 * PRICE

    for outsider in (developer, buyer, stranger):
        with fails("NothingToWithdraw"):
            market.send(outsider, market.lm.withdraw(outsider.address))

    before = market.ether(provider.address)
    receipt = market.send(provider, market.lm.withdraw(provider.address))
    fee = int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])
    assert market.ether(provider.address) == before - fee + 2 * PRICE
    assert market.lm.earnings(provider.address) == 0
    assert market.ether(market.lm.address) == 0
    (withdrawn,) = market.lm.events(receipt, "Withdrawn")
    assert (withdrawn["provider"], withdrawn["amount"]) == (provider.address, 2 * PRICE)
    with fails("NothingToWithdraw"):
        market.send(provider, market.lm.withdraw(provider.address))


def test_a_re_entering_withdrawer_is_paid_once(market, developer, buyer, stranger):
    attacker = market.deploy(stranger, "ReentrantWithdrawer", market.lm.address)
    market.send(developer, market.lm.authorise_provider(developer.address, PACKAGE, LINE, attacker.address))
    create = market.lm.create_offer(
        attacker.address, digest=PACKAGE, name_hash=LINE, kind=OfferKind.PRIVATE, price=PRICE, seats=1, terms_hash=TERMS
    )
    market.chain.send(stranger, attacker.functions.forward(bytes.fromhex(create["data"][2:])))
    offer = market.lm.offer(1)
    assert offer is not None
    assert offer.provider == attacker.address
    market.buy(buyer, offer)
    honest = market.private()  # other ether the attacker would like to drain
    market.buy(stranger, honest)
    assert market.ether(market.lm.address) == 2 * PRICE

    market.chain.send(stranger, attacker.functions.attack())

    assert attacker.functions.received().call() == PRICE
    assert attacker.functions.reentryRefused().call()
    refusal = bytes(attacker.functions.refusal().call())
    assert refusal == market.chain.w3.keccak(text="ReentrancyGuardReentrantCall()")[:4]
    assert market.lm.earnings(attacker.address) == 0
    assert market.ether(market.lm.address) == PRICE
    assert market.lm.earnings(developer.address) == PRICE
    with fails("NotOwner"):
        market.chain.send(buyer, attacker.functions.attack())


# -- gas


def test_gas_stays_within_the_field_anchors(market, developer, buyer, stranger, request):
    token = market.deploy(buyer, "TestToken", buyer.address, 1000 * 10**18, 0)
    gas: dict[str, int] = {}

    receipt = market.send(
        developer,
        market.lm.create_offer(
            developer.address,
            digest=PACKAGE,
            name_hash=LINE,
            kind=OfferKind.PRIVATE,
            price=PRICE,
            seats=3,
            duration=HOUR,
            terms_hash=TERMS,
        ),
    )
    gas["createOffer"] = int(receipt["gasUsed"])
    ether_offer = market.lm.offer(1)
    token_offer = market.create(developer, OfferKind.PRIVATE, price=TOKEN_PRICE, token=token.address, seats=3)
    trial = market.trial()

    agreement, signature = market.sign(buyer, ether_offer)
    gas["purchase (ether)"] = int(
        market.send(buyer, market.lm.purchase(buyer.address, ether_offer, agreement, signature))["gasUsed"]
    )
    market.send(buyer, market.lm.approve_payment(buyer.address, token_offer))
    agreement, signature = market.sign(buyer, token_offer)
    gas["purchase (ERC-20)"] = int(
        market.send(buyer, market.lm.purchase(buyer.address, token_offer, agreement, signature))["gasUsed"]
    )
    agreement, signature = market.sign(stranger, trial)
    gas["activateTrial"] = int(
        market.send(stranger, market.lm.activate_trial(stranger.address, agreement, signature))["gasUsed"]
    )
    gas["withdraw (ether)"] = int(market.send(developer, market.lm.withdraw(developer.address))["gasUsed"])
    gas["withdraw (ERC-20)"] = int(
        market.send(developer, market.lm.withdraw(developer.address, token.address))["gasUsed"]
    )

    for name, used in gas.items():
        request.node.user_properties.append((name, used))
        print(f"gas {name}: {used}")
    # Anchors: an Unlock key purchase costs 228k-271k gas, an EIP-712 voucher + mint 127k. A licence
    # is one fresh slot; these are the first licences of the contract and of the provider's earnings.
    assert gas["purchase (ether)"] < 100_000
    assert gas["purchase (ERC-20)"] < 150_000
    assert gas["activateTrial"] < 80_000
    assert gas["createOffer"] < 228_000
    assert gas["withdraw (ether)"] < 60_000


def test_after_a_key_rotation_only_the_new_publishing_key_manages_offers(market, developer, stranger, chain):
    new_key: LocalAccount = Account.from_key(sha("rotated publishing key"))
    chain.w3.provider.make_request("anvil_setBalance", [new_key.address, hex(10**18)])
    offer = market.private()
    chain.send(developer, market.registry.functions.rotateKey(new_key.address))

    with fails("NotProvider"):
        market.create(developer, OfferKind.PUBLIC)
    with fails("NotPublisher"):
        market.send(developer, market.lm.authorise_provider(developer.address, PACKAGE, LINE, stranger.address))
    assert not market.lm.is_provider(PACKAGE, LINE, developer.address)
    assert market.lm.is_provider(PACKAGE, LINE, new_key.address)
    market.create(new_key, OfferKind.PUBLIC)
    # The rotated-out key made this offer as its provider: it may still close it; the new key may too.
    market.send(new_key, market.lm.close_offer(new_key.address, offer.offer_id))


def test_attack_a_provider_authorised_by_a_stolen_key_loses_its_rights_at_the_rotation(
    market, developer, provider, chain
):
    """Whoever held the line's key authorised a provider of its own; the owner rotates the key out. The
    authorisation was the old key's: the provider can no longer offer (and so not give away) the package."""
    market.send(developer, market.lm.authorise_provider(developer.address, PACKAGE, LINE, provider.address))
    assert market.lm.is_provider(PACKAGE, LINE, provider.address)
    new_key: LocalAccount = Account.from_key(sha("key after the theft"))
    chain.w3.provider.make_request("anvil_setBalance", [new_key.address, hex(10**18)])
    chain.send(developer, market.registry.functions.rotateKey(new_key.address))

    assert not market.lm.is_provider(PACKAGE, LINE, provider.address)
    with fails("NotProvider"):
        market.create(provider, OfferKind.PUBLIC)
    # The new key may authorise it again, on purpose.
    market.send(new_key, market.lm.authorise_provider(new_key.address, PACKAGE, LINE, provider.address))
    assert market.create(provider, OfferKind.PUBLIC).provider == provider.address
