"""API tokens: the signed-in address creates and revokes bearer tokens for the CLI and scripts."""

from __future__ import annotations

import re
import time

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dportal.access import SESSION_SIGNED_AT, require_address, signed_in_address
from dportal.views.base import signin_redirect
from marketplace.accounts import selectors as accounts_selectors
from marketplace.accounts import services as accounts
from marketplace.errors import ValidationFailed

# How recently the wallet must have signed in for this session to create a token.
FRESH_SIGN_IN_S = 600


@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The address's tokens; a POST creates one, shown once on the answer and never again."""
    address = signed_in_address(request)
    if address is None:
        return signin_redirect(request, "api-tokens")
    context: dict[str, object] = {"lifetimes": accounts.TOKEN_LIFETIMES_DAYS, "label": "", "days": 30}
    status = 200
    if request.method == "POST":
        label = request.POST.get("label", "")
        raw_days = request.POST.get("days", "")
        days = int(raw_days) if re.fullmatch(r"[0-9]{1,3}", raw_days) else -1
        context |= {"label": label, "days": days}
        signed_at = request.session.get(SESSION_SIGNED_AT)
        if not isinstance(signed_at, int) or time.time() - signed_at > FRESH_SIGN_IN_S:
            # A token lives for days, a session cookie for hours: a cookie alone does not mint one.
            context["stale"] = True
            context["tokens"] = accounts_selectors.api_tokens_of(address)
            return render(request, "dportal/tokens.html", context, status=403)
        try:
            token, record = accounts.api_token_issue(address=address, label=label, days=days)
        except ValidationFailed as exc:
            context["errors"] = exc.errors
            status = 400
        else:
            context |= {"created": token, "created_record": record, "label": ""}
            status = 201
    context["tokens"] = accounts_selectors.api_tokens_of(address)
    response = render(request, "dportal/tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page may carry a token
    return response


@require_POST
def api_token_revoke(request: HttpRequest, token_id: str) -> HttpResponse:
    accounts.api_token_revoke(address=require_address(request), token_id=token_id)
    messages.success(request, "The token is revoked: the API refuses it from now on.")
    return redirect("api-tokens")
