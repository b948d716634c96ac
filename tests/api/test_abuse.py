"""Cheap abuse closed (finding 9): reading someone else's instance, making the server re-hash any package,
and filling the nonce table are each refused to the user they would serve."""

from __future__ import annotations

import pytest

from marketplace.accounts import services as accounts
from marketplace.accounts.models import SignInNonce
from tests.factories import instantiate, signed_in_token
from tests.licensing.test_licensing_journey import auth, network_service, offer  # noqa: F401

pytestmark = pytest.mark.django_db


def test_attack_reading_someone_elses_instance(client, chain, developer, stranger, operator, network_service):  # noqa: F811
    offer(client, chain, developer, network_service, kind="public")
    instance = instantiate(network_service, stranger)
    url = f"/api/v1/instances/{instance.pk}"
    assert client.get(url).status_code == 401
    other = client.get(url, headers=auth(signed_in_token(client, operator)))
    assert other.status_code == 403
    assert other.json()["error"] == f"only the owner of instance {instance.pk} may read it"
    mine = client.get(url, headers=auth(signed_in_token(client, stranger)))
    assert mine.status_code == 200
    assert mine.json()["owner"] == stranger.address


def test_attack_anyone_makes_the_server_rehash_a_package(client, developer, stranger, network_service):  # noqa: F811
    package = network_service.package
    url = f"/api/v1/packages/{package.pk}/verify"
    assert client.post(url).status_code == 401
    refused = client.post(url, headers=auth(signed_in_token(client, stranger)))
    assert refused.status_code == 403
    assert "only the uploader or the registered publisher may re-verify" in refused.json()["error"]
    portal = client.post(f"/packages/{package.pk}/verify")
    assert portal.status_code == 403  # the portal's form needs a signed-in owner too
    assert package.verificationrecord_set.count() == 1  # the record of ingest, no more
    allowed = client.post(url, headers=auth(signed_in_token(client, developer)))
    assert allowed.status_code == 200
    assert allowed.json()["result"] == "verified"


def test_attack_filling_the_nonce_table(client, developer):
    """Asking for nonces writes nothing; a nonce is recorded only once a signature over it verified."""
    for _ in range(50):
        assert client.post("/api/v1/auth/nonce").status_code == 201
    assert SignInNonce.objects.count() == 0
    token = signed_in_token(client, developer)
    assert token
    assert SignInNonce.objects.count() == 1


def test_attack_a_nonce_this_server_did_not_issue(client, developer):
    from eth_account.messages import encode_defunct

    from ledger.siwe import SiweMessage

    start = client.post("/api/v1/auth/nonce").json()
    forged = start["nonce"][:-1] + ("0" if start["nonce"][-1] != "0" else "1")
    message = SiweMessage(
        domain=start["domain"],
        address=developer.address,
        statement="Sign in to the NFV marketplace.",
        uri=start["uri"],
        chain_id=start["chain_id"],
        nonce=forged,
        issued_at="2026-01-01T00:00:00Z",
    ).to_text()
    signature = developer.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    answer = client.post(
        "/api/v1/auth/token", {"message": message, "signature": signature}, content_type="application/json"
    )
    assert answer.status_code == 401
    assert "unknown, expired or already used" in answer.json()["error"]
    assert SignInNonce.objects.count() == 0


def test_attack_signing_in_again_and_again_grows_no_token_table(client, developer, monkeypatch):
    from marketplace.accounts.models import ApiToken

    monkeypatch.setattr(accounts, "MAX_TOKENS_PER_ADDRESS", 3)
    tokens = [signed_in_token(client, developer) for _ in range(5)]
    assert ApiToken.objects.filter(address=developer.address).count() == 3
    assert client.get("/api/v1/licences", headers=auth(tokens[-1])).status_code in (200, 503)
    assert client.get("/api/v1/licences", headers=auth(tokens[0])).status_code == 401
