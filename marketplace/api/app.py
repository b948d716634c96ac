"""The JSON API as one django-ninja application: its routers, its auth, its one error mapping
(marketplace/api/errors.py), the generated OpenAPI document at /api/schema, into which the SOL005 read
endpoints' description (marketplace/api/sol005_openapi.py) is merged, and its interactive documentation
at /api/docs."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError as NinjaAuthenticationError
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError

from marketplace.api import licences, packages, provenance
from marketplace.api.errors import SIGN_IN, SIGN_IN_HINT, error_answer
from marketplace.api.sol005_openapi import sol005_paths, sol005_schemas
from marketplace.repository.filters import filter_errors


class MarketplaceApi(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        document = super().get_openapi_schema(*args, **kwargs)
        document["paths"].update(sol005_paths())
        document["components"].setdefault("schemas", {}).update(sol005_schemas())
        return document


api = MarketplaceApi(
    title="NFV Marketplace API",
    version="1.0.0",
    description="NFV Repository and Licenses Repository: packages, VNFs, network services, offers, licences, "
    "instances and the provenance log; and the ETSI SOL005 read endpoints.",
    urls_namespace="api",
    openapi_url="/schema",
    docs_url="/docs",
    # Served from the app's static files, under the portal's Content-Security-Policy: no online validator.
    docs=Swagger(settings={"validatorUrl": None, "deepLinking": True}),
)
api.add_router("/v1/", packages.router)
api.add_router("/v1/", licences.router)
api.add_router("/v1/", provenance.router)


def _json(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, body, status=status)


@api.exception_handler(NinjaValidationError)
def _invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields = filter_errors(exc)
    detail = "; ".join(f"{name}: {message}" for name, message in fields.items())
    return _json(request, 400, {"error": f"invalid input: {detail}", "fields": fields})


@api.exception_handler(NinjaAuthenticationError)
def _unauthenticated(request: HttpRequest, exc: NinjaAuthenticationError) -> HttpResponse:
    return _json(request, 401, {"error": SIGN_IN, "hint": SIGN_IN_HINT})


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _json(request, exc.status_code, {"error": str(exc)})


@api.exception_handler(Http404)
@api.exception_handler(Exception)
def _domain_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    answer = error_answer(exc)
    if answer is None:
        raise exc
    return _json(request, *answer)
