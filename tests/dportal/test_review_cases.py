"""Edge cases of the portal's licence presentation: offers priced in a token are neither shown nor sold
as ether, a licence its policy refuses is not offered for renewal, and a chain event mined again at
another log index (a reorganisation) is logged once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dportal.views.catalogue import next_step
from marketplace.contract_manager.decisions import Decision
from marketplace.licensing.presenters import offer_terms_text
from tests.factories import package_row

TOKEN = "0x" + "ab" * 20
ETHER = "0x" + "00" * 20


def offer(**fields):
    values = {"offer_id": 3, "kind": 2, "closed": False, "price": str(2 * 10**16), "token": ETHER}
    return SimpleNamespace(**{**values, **fields})


def test_a_token_priced_offer_is_described_in_its_token_not_in_ether():
    args = {"kind": 2, "price": 5, "seats": 2, "duration": 30 * 86400, "token": TOKEN}
    assert offer_terms_text(args) == f"private, 5 units of token {TOKEN}, 2 instances, 30 days"
    assert offer_terms_text({**args, "token": ETHER, "price": 2 * 10**16}) == "private, 0.02 ETH, 2 instances, 30 days"


def test_the_next_step_buys_only_what_resolves_the_refusal():
    no_licence = Decision(False, "no licence", offer_id=3, kind="private")
    buy = next_step(no_licence, [offer()])
    assert buy is not None
    assert buy.label == "Buy offer #3 (0.02 ETH)"
    assert next_step(no_licence, [offer(token=TOKEN)]) is None, "a token-priced offer is not bought in ether"
    assert next_step(no_licence, [offer(closed=True)]) is None
    lapsed = Decision(False, "ended", offer_id=3, licence_id=7, kind="private", expires_at=1)
    renew = next_step(lapsed, [offer()])
    assert renew is not None
    assert renew.label == "Renew: buy offer #3 again (0.02 ETH)"
    refused_here = Decision(False, "outside the licensed region", offer_id=3, licence_id=7)
    assert next_step(refused_here, [offer()]) is None, "buying again changes nothing"
    assert next_step(Decision(True, "allowed", offer_id=3), [offer()]) is None


@pytest.mark.django_db
def test_a_token_priced_offer_neither_prices_a_card_nor_passes_a_price_filter():
    from ledger.models import LicenceOffer
    from marketplace.repository.offer_terms import offer_terms

    row = package_row("token-fn", line_hash="0x" + "cd" * 32)
    LicenceOffer.objects.create(
        chain_id=31337,
        offer_id=9,
        digest="0x" + row.digest,
        name_hash=row.line_hash,
        provider=ETHER,
        kind=2,
        price="5",
        token=TOKEN,
        duration=0,
        seats=1,
        terms_hash="0x" + "00" * 32,
        transferable=False,
        tx_hash="0x" + "11" * 32,
        block_number=1,
    )
    assert offer_terms([(row.pk, row.digest, row.line_hash)], chain_id=31337) == {}


@pytest.mark.django_db
def test_a_chain_event_mined_again_at_another_log_index_is_logged_once():
    from marketplace.contract_manager.models import ProvenanceEntry
    from marketplace.contract_manager.provenance import provenance_record_event

    for log_index in (0, 4):
        provenance_record_event(
            kind="offer-closed",
            actor=ETHER,
            subject="offer:3",
            payload={"offer_id": 3},
            tx_hash="0x" + "22" * 32,
            log_index=log_index,
        )
    assert ProvenanceEntry.objects.filter(kind="offer-closed", subject="offer:3").count() == 1
