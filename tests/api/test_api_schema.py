"""The JSON API against its own OpenAPI document: schemathesis generates requests (valid and
not) for every operation and checks each answer's status, content type and body."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

schema = schemathesis.openapi.from_wsgi("/api/schema", get_wsgi_application())


def test_the_schema_is_served_and_valid_openapi(client):
    document = client.get("/api/schema").json()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/packages" in document["paths"]


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case):
    case.call_and_validate()
