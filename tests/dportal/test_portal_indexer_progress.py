"""Page scripts follow a mined transaction until the indexer has read its block."""

from __future__ import annotations

import pytest

from ledger.indexer import Indexer
from ledger.projections import projections

pytestmark = pytest.mark.django_db


def test_it_says_whether_the_indexer_has_read_a_block(client, chain, deployed):
    chain.w3.provider.make_request("evm_mine", [])
    block = chain.w3.eth.block_number

    before = client.get(f"/indexer/progress?block={block}").json()
    Indexer(chain, projections, confirmations=0).step()
    after = client.get(f"/indexer/progress?block={block}").json()

    assert before["indexed"] is False
    assert after == {"block": block, "indexed_through": after["indexed_through"], "indexed": True}
    assert after["indexed_through"] >= block


@pytest.mark.parametrize("query", ["", "?block=", "?block=abc", "?block=1.5"])
def test_it_needs_an_integer_block_number(client, chain, query):
    response = client.get(f"/indexer/progress{query}")

    assert response.status_code == 400
    assert "block" in response.json()["error"]
