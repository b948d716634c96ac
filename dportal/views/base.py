"""What every section's views share: htmx detection, the signed-in step runner for wallet calls, the
sign-in redirect, chain time and paging. Lookups by id are marketplace.lookups'."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from dportal.access import signed_in_address
from ledger.client import get_chain_client
from ledger.exceptions import ChainUnavailable
from ledger.selectors import last_known_chain_id


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def until(licence: Any) -> datetime | None:
    """A held licence's expiry as a UTC time, None for none (or no licence)."""
    if licence is None or not licence.expires_at:
        return None
    return datetime.fromtimestamp(licence.expires_at, tz=UTC)


def json_or_error(request: HttpRequest, work: Callable[[str, dict[str, Any]], dict[str, Any]]) -> JsonResponse:
    """Run a wallet step for the signed-in address with its JSON body; the portal's error mapping answers
    its domain errors as JSON."""
    request.wallet_step = True  # type: ignore[attr-defined]  # domain errors answer JSON (dportal/errors.py)
    actor = signed_in_address(request)
    if actor is None:
        return JsonResponse({"error": "sign in with your wallet first"}, status=401)
    try:
        body = json.loads(request.body or b"{}") if request.method == "POST" else {}
    except ValueError:
        return JsonResponse({"error": "the request is not JSON"}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"error": "the request must be a JSON object"}, status=400)
    return JsonResponse(work(actor, body))


def chain_now(*, reading: bool = False) -> tuple[int, int]:
    """The connected chain's id and its latest block time (licence expiry is chain time). `reading`: a page that
    only shows what the database holds answers while the chain node is down, with the chain id of this node's
    deployment and this host's clock (the banner says the chain is down)."""
    return chain_id(reading=reading), _chain_time(reading=reading)


def _chain_time(*, reading: bool) -> int:
    try:
        return get_chain_client().now()
    except ChainUnavailable:
        if not reading:
            raise
        return int(time.time())


# A page that needs chain time asks the node in a thread of this pool while it reads the database, so the node's
# answer (an HTTP round trip) and the reads overlap. The thread only asks the node: no database connection.
_CHAIN_TIME = ThreadPoolExecutor(max_workers=2, thread_name_prefix="chain-time")


def chain_time_meanwhile() -> Callable[[], int]:
    """chain_now(reading=True)'s time, asked now and waited for when the returned function is called."""
    return _CHAIN_TIME.submit(_chain_time, reading=True).result


def chain_id(*, reading: bool = False) -> int:
    """The connected chain's id (asked of the node once), for a page that needs no chain time (chain_now); with
    `reading`, this node's deployment's while the node is down."""
    try:
        return get_chain_client().chain_id()
    except ChainUnavailable:
        known = last_known_chain_id() if reading else None
        if known is None:
            raise
        return known


def page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 else 1


def signin_redirect(request: HttpRequest, next_name: str | None = None, *args: Any) -> HttpResponse:
    """To the sign-in page, coming back to `next_name` (a route, with its args) or to this page."""
    target = reverse(next_name, args=args) if next_name else request.path
    return redirect(f"{reverse('signin')}?next={target}")
