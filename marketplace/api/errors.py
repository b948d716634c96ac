"""The JSON API's one mapping of domain errors to HTTP answers ({"error": ..., and details}).
SOL005 maps the same errors to ProblemDetails in marketplace/api/sol005.py, the portal in
dportal/errors.py; the outage wording is marketplace.errors.outage's."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from marketplace.contract_manager.decisions import LicenceDenied
from marketplace.errors import (
    AuthenticationError,
    ConflictError,
    NotAcceptable,
    PermissionDeniedError,
    RangeNotSatisfiable,
    SignInRequired,
    ValidationFailed,
    outage,
)
from marketplace.licensing.instances import ScaleFailed
from marketplace.licensing.presenters import instance_json
from marketplace.licensing.seats import SeatAuthorisationRequired
from marketplace.repository.blobs import BlobBusy
from marketplace.repository.packages.problems import PackageRejected

SIGN_IN = "sign in first: POST /api/v1/auth/nonce, sign the message, POST /api/v1/auth/token"
SIGN_IN_HINT = "send the token as 'Authorization: Bearer <token>'"


def error_answer(exc: Exception) -> tuple[int, dict[str, Any]] | None:
    """(status, body) for a domain error, or None for an error that is a bug (a 500)."""
    if isinstance(exc, PackageRejected):
        status = 413 if any(p.rule == "upload.too-large" for p in exc.problems) else 422
        return status, {"error": "the package was rejected", "problems": [p.as_dict() for p in exc.problems]}
    if isinstance(exc, ValidationFailed):
        return 400, {"error": f"invalid input: {exc}", "fields": exc.errors}
    if isinstance(exc, SignInRequired):
        return 401, {"error": str(exc) or SIGN_IN, "hint": SIGN_IN_HINT}
    if isinstance(exc, AuthenticationError):
        return 401, {"error": str(exc)}
    if isinstance(exc, PermissionDeniedError):
        return 403, {"error": str(exc)}
    if isinstance(exc, LicenceDenied):
        return 401 if exc.anonymous else 403, {
            "error": exc.decision.reason,
            "decision": exc.decision.as_dict(),
        }
    if isinstance(exc, Http404):
        return 404, {"error": str(exc) or "not found"}
    if isinstance(exc, ConflictError | BlobBusy):
        return 409, {"error": str(exc)}
    if isinstance(exc, NotAcceptable):
        return 406, {"error": str(exc)}
    if isinstance(exc, RangeNotSatisfiable):
        return 416, {"error": str(exc)}
    if isinstance(exc, SeatAuthorisationRequired):
        return 428, {"error": str(exc), "typed_data": exc.typed_data}
    if isinstance(exc, ScaleFailed):
        return 502, {"error": str(exc), "instance": instance_json(exc.instance)}
    down = outage(exc)
    if down is not None:
        return 503, {"error": down}
    return None
