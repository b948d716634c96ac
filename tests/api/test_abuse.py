"""Cheap abuse closed (finding 9): reading someone else's instance, making the server re-hash any package,
and filling the nonce table are each refused to the user they would serve."""

from __future__ import annotations

import pytest

from marketplace.accounts import services as accounts
from marketplace.accounts.models import SignInNonce
from marketplace.licensing.instances import instance_create
from tests.factories import signed_in_token
from tests.licensing.test_licensing_journey import auth, network_service, offer  # noqa: F401

pytestmark = pytest.mark.django_db


def test_attack_reading_someone_elses_instance(client, chain, developer, stranger, operator, network_service):  # noqa: F811
    offer(client, chain, developer, network_service, kind="public")
    instance = instance_create(ns=network_service, user=stranger.address)
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


def test_attack_filling_the_nonce_table(client, monkeypatch):
    monkeypatch.setattr(accounts, "MAX_OUTSTANDING_NONCES", 3)
    for _ in range(3):
        assert client.post("/api/v1/auth/nonce").status_code == 201
    refused = client.post("/api/v1/auth/nonce")
    assert refused.status_code == 503
    assert "3 sign-ins are waiting for a signature; try again in" in refused.json()["error"]
    assert SignInNonce.objects.count() == 3
    used = SignInNonce.objects.first()
    assert used is not None
    SignInNonce.objects.filter(pk=used.pk).update(used_at="2026-01-01T00:00:00Z")
    assert client.post("/api/v1/auth/nonce").status_code == 201  # a used nonce is dropped, making room
    assert SignInNonce.objects.count() == 3
