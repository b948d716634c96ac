"""The portal's one mapping of domain errors to answers: a JSON body for the wallet steps the page's
scripts call (views marked with `wallet_step`), an error page for everything else. The statuses and
wording are the JSON API's (marketplace/api/errors.py), the outage text marketplace.errors.outage's."""

from __future__ import annotations

import functools
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from marketplace.api.errors import error_answer
from marketplace.status import outage_seen

SURFACES_OF_THEIR_OWN = ("/api/", "/vnfpkgm/", "/nsd/", "/healthz", "/livez")
View = Callable[..., HttpResponse]


def wallet_step(view: View) -> View:
    """Mark a view the page's scripts call: its errors are answered as JSON {"error": ...}."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.wallet_step = True  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


class PortalErrors:
    """Middleware: turns a domain error a portal view raised into the answer the user sees."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if request.path.startswith(SURFACES_OF_THEIR_OWN):
            return None
        wallet = getattr(request, "wallet_step", False)
        if isinstance(exc, Http404) and not wallet:
            return None  # Django's own not-found page
        answer = error_answer(exc)
        if answer is None:
            return None
        status, body = answer
        if status == 503:
            outage_seen(exc)  # the error page's banner probes again
        if wallet:
            return JsonResponse(body, status=status)
        context = {"title": HTTPStatus(status).phrase, "message": body["error"]}
        return render(request, "dportal/error.html", context, status=status)
