"""What every section's views share: htmx detection, lookups that answer 404, the signed-in step runner
for wallet calls, chain time and paging.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from dportal.access import signed_in_address
from ledger.client import get_chain_client
from ledger.exceptions import LedgerError
from marketplace.errors import AuthenticationError, ConflictError, PermissionDeniedError, ValidationFailed
from marketplace.licensing.models import NsInstance
from marketplace.repository.models import Package


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def package_or_404(package_id: str) -> Package:
    try:
        found = Package.objects.filter(pk=ObjectId(package_id)).first()
    except (InvalidId, TypeError):
        found = None
    if found is None:
        raise Http404("no such package")
    return found


def until(licence: Any) -> datetime | None:
    """A held licence's expiry as a UTC time, None for none (or no licence)."""
    if licence is None or not licence.expires_at:
        return None
    return datetime.fromtimestamp(licence.expires_at, tz=UTC)


def json_or_error(request: HttpRequest, work: Callable[[str, dict[str, Any]], dict[str, Any]]) -> JsonResponse:
    """Run a wallet step for the signed-in address, mapping domain errors to JSON answers."""
    actor = signed_in_address(request)
    if actor is None:
        return JsonResponse({"error": "sign in with your wallet first"}, status=401)
    try:
        body = json.loads(request.body or b"{}") if request.method == "POST" else {}
        return JsonResponse(work(actor, body))
    except ValueError:
        return JsonResponse({"error": "the request is not JSON"}, status=400)
    except ValidationFailed as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except AuthenticationError as exc:
        return JsonResponse({"error": str(exc)}, status=401)
    except PermissionDeniedError as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    except ConflictError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    except LedgerError as exc:
        return JsonResponse({"error": f"the chain is unavailable: {exc}"}, status=503)


def instance_or_404(instance_id: str) -> NsInstance:
    try:
        found = NsInstance.objects.select_related("ns").filter(pk=ObjectId(instance_id)).first()
    except (InvalidId, TypeError):
        found = None
    if found is None:
        raise Http404("no such instance")
    return found


def chain_now() -> tuple[int, int]:
    """The connected chain's id and its latest block time (licence expiry is chain time)."""
    client = get_chain_client()
    return client.chain_id(), client.now()


def page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 else 1


def signin_redirect(request: HttpRequest) -> HttpResponse:
    return redirect(f"{reverse('signin')}?next={request.path}")
