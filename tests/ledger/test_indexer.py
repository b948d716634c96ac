"""The indexer on a real anvil: confirmations, idempotence, resuming, reorgs and chain resets."""

from __future__ import annotations

import hashlib

import pytest
from web3 import Web3

from ledger import artifacts
from ledger.indexer import Indexer, Projections
from ledger.models import ChainEvent, IndexerState
from ledger.registry import PackageRegistry
from tests.factories import claim_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry(deployed, chain, snapshot):
    return chain.bound(artifacts.load("PackageRegistry"), deployed["PackageRegistry"])


@pytest.fixture
def seen():
    """A projection that records the digests of registrations, as derived state would."""
    digests: list[str] = []
    projections = Projections()
    projections.on("PackageRegistry", "PackageRegistered")(lambda e: digests.append(e.args["digest"]))
    projections.resets.append(digests.clear)
    return projections, digests


def registered():
    return ChainEvent.objects.filter(contract="PackageRegistry", event="PackageRegistered")


def register(chain, registry, account, label: str, version: int = 1) -> str:
    digest = hashlib.sha256(label.encode()).digest()
    line = Web3.keccak(text=f"acme/{label}")
    claim_line(chain, PackageRegistry(chain, registry.address), account, line)
    fn = registry.functions.register(digest, line, version, hashlib.sha256(b"d").digest())
    chain.send(account, fn)
    return "0x" + digest.hex()


def mine(chain, blocks: int = 1) -> None:
    for _ in range(blocks):
        chain.w3.provider.make_request("evm_mine", [])


def test_it_indexes_confirmed_events_once(chain, registry, developer, seen):
    projections, digests = seen
    first = register(chain, registry, developer, "one")
    indexer = Indexer(chain, projections, confirmations=0)

    result = indexer.step()
    again = indexer.step()

    assert result.events >= 1
    assert again.events == 0
    assert digests == [first]
    event = registered().get()
    assert (event.contract, event.event) == ("PackageRegistry", "PackageRegistered")
    assert event.args["publisher"] == developer.address


def test_it_waits_for_confirmations(chain, registry, developer, seen):
    projections, _ = seen
    register(chain, registry, developer, "one")
    indexer = Indexer(chain, projections, confirmations=2)

    indexer.step()
    assert registered().count() == 0
    mine(chain, 2)
    indexer.step()
    assert registered().count() == 1


def test_a_new_indexer_resumes_from_the_checkpoint(chain, registry, developer, seen):
    projections, _ = seen
    register(chain, registry, developer, "one")
    Indexer(chain, projections, confirmations=0).step()
    register(chain, registry, developer, "two")

    resumed = Indexer(chain, projections, confirmations=0).step()

    assert resumed.events >= 1
    assert registered().count() == 2


def test_a_lost_checkpoint_does_not_duplicate_events(chain, registry, developer, seen):
    projections, _ = seen
    register(chain, registry, developer, "one")
    Indexer(chain, projections, confirmations=0).step()
    state = IndexerState.objects.get()
    state.last_block -= 1  # as if the process died after storing events but before the checkpoint
    state.save()

    Indexer(chain, projections, confirmations=0).step()

    assert registered().count() == 1


def test_it_follows_a_reorg(chain, registry, developer, seen):
    projections, digests = seen
    fork_point = chain.w3.provider.make_request("evm_snapshot", [])["result"]
    orphaned = register(chain, registry, developer, "orphaned")
    indexer = Indexer(chain, projections, confirmations=0)
    indexer.step()
    assert digests == [orphaned]

    chain.w3.provider.make_request("evm_revert", [fork_point])
    mine(chain)  # the competing branch grows past the old one
    canonical = register(chain, registry, developer, "canonical")
    result = indexer.step()

    assert result.reorged_from is not None
    assert digests == [canonical]
    assert [e.args["digest"] for e in registered()] == [canonical]
    assert IndexerState.objects.get().reorgs == 1


def test_it_says_so_when_the_chain_was_reset(chain, registry, developer, seen):
    projections, _ = seen
    register(chain, registry, developer, "one")
    indexer = Indexer(chain, projections, confirmations=0)
    indexer.step()
    IndexerState.objects.update(genesis_hash="0x" + "ab" * 32)  # the chain it indexed had another genesis

    result = indexer.step()

    assert result.reset
    state = IndexerState.objects.get()
    assert state.reset_detected
    assert "reset" in state.reset_detail


def test_the_worker_command_indexes_once(chain, registry, developer, capsys, settings):
    settings.INDEXER_CONFIRMATIONS = 0
    from django.core.management import call_command

    register(chain, registry, developer, "one")
    call_command("index_chain", "--once")
    assert "indexed up to block" in capsys.readouterr().out
    assert registered().count() == 1


def test_offers_licences_and_provenance_ranges_are_derived(chain, registry, deployed, developer, stranger, operator):
    from ledger.licensing import LicenseManager, OfferKind, typed_data_for
    from ledger.models import AcquiredLicence, LicenceOffer, ProvenanceRange
    from ledger.projections import projections as real
    from ledger.provenance_anchor import ProvenanceAnchor

    digest = register(chain, registry, developer, "licensed")
    lm = LicenseManager(chain, deployed["LicenseManager"])
    receipt = chain.transact(
        developer,
        lm.create_offer(
            developer.address,
            digest=digest,
            name_hash=Web3.keccak(text="acme/licensed"),
            kind=OfferKind.TRIAL,
            terms_hash=b"\x01" * 32,
            duration=3600,
            seats=1,
        ),
        abi=lm.abi,
    )
    (created,) = lm.events(receipt, "OfferCreated")
    offer = lm.offer(created["offerId"])
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    assert offer is not None
    agreement = lm.agreement(offer, stranger.address, deadline=now + 600)
    typed = typed_data_for(agreement, chain_id=chain.chain_id(), manager_address=lm.address)
    signature = stranger.sign_typed_data(full_message=typed).signature
    chain.transact(operator, lm.activate_trial(operator.address, agreement, signature), abi=lm.abi)
    anchor = ProvenanceAnchor(chain, deployed["ProvenanceAnchor"])
    chain.transact(operator, anchor.anchor(operator.address, 1, 4, b"\x02" * 32), abi=anchor.abi)

    Indexer(chain, real, confirmations=0).step()

    stored_offer = LicenceOffer.objects.get()
    assert (stored_offer.digest, stored_offer.kind, stored_offer.seats) == (digest, int(OfferKind.TRIAL), 1)
    licence = AcquiredLicence.objects.get()
    assert licence.licensee == stranger.address
    assert licence.expires_at > now
    assert (ProvenanceRange.objects.get().from_seq, ProvenanceRange.objects.get().to_seq) == (1, 4)
