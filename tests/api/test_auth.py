"""Bearer-token auth is django-ninja's auth class: a missing token is told how to sign in, an unknown one is
refused, also where signing in is optional (a refused token is never read as anonymous)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db
SOME_ID = "0" * 24


def test_a_write_without_a_token_is_told_how_to_sign_in(client):
    response = client.post("/api/v1/instances", {"ns_id": SOME_ID}, content_type="application/json")
    assert response.status_code == 401
    assert response.json() == {
        "error": "sign in first: POST /api/v1/auth/nonce, sign the message, POST /api/v1/auth/token",
        "hint": "send the token as 'Authorization: Bearer <token>'",
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/api/v1/instances"), ("get", "/api/v1/licences"), ("get", f"/api/v1/packages/{SOME_ID}/content")],
)
def test_an_unknown_token_is_refused_even_where_anonymous_may_ask(client, method, path):
    response = getattr(client, method)(path, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401
    assert response.json()["error"] == "the token is unknown or expired; sign in again"


def test_anonymous_may_ask_for_an_archive_and_meets_the_404(client):
    response = client.get(f"/api/v1/packages/{SOME_ID}/content")
    assert response.status_code == 404
    assert response.json()["error"] == f"no package {SOME_ID}"
