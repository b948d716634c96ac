"""One account, many senders: the web server's workers and the indexer worker are separate processes that all
sign with the operator key. Each ChainClient below has its own in-process lock, as each process does; only
the host-wide sending lock keeps them from signing two transactions with one nonce."""

from __future__ import annotations

import threading

from web3 import Web3

from ledger.client import ChainClient


def test_senders_with_their_own_clients_never_share_a_nonce(chain, snapshot, operator, stranger):
    url = chain.w3.provider.endpoint_uri
    receipts: list[object] = []
    failures: list[str] = []
    start = threading.Barrier(8)

    def send() -> None:
        client = ChainClient(url)  # a fresh client, as another process would have
        start.wait()
        try:
            tx = {"to": Web3.to_checksum_address(stranger.address), "value": 1, "gas": 21000}
            receipts.append(client.transact(operator, tx))  # type: ignore[arg-type]
        except Exception as exc:  # collected and asserted below
            failures.append(str(exc))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    nonces = [chain.w3.eth.get_transaction(r["transactionHash"])["nonce"] for r in receipts]  # type: ignore[index]
    assert len(set(nonces)) == 8
