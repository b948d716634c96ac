"""Sign-in with an Ethereum wallet (EIP-4361) and sign-out."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dportal.access import SESSION_ADDRESS, SESSION_CHAIN, SESSION_SIGNED_AT
from dportal.errors import wallet_step
from ledger.client import get_chain_client
from marketplace.accounts import services as accounts
from marketplace.repository.packages.problems import PackageRejected


@require_GET
def signin(request: HttpRequest) -> HttpResponse:
    return render(request, "dportal/signin.html", {"next": request.GET.get("next", "")})


@require_POST
@wallet_step
def signin_message(request: HttpRequest) -> JsonResponse:
    """Step 1: the wallet's address in, the EIP-4361 text to sign out."""
    try:
        address = json.loads(request.body or b"{}").get("address", "")
        text = accounts.signin_message(address=address, domain=request.get_host(), uri=request.build_absolute_uri("/"))
    except (ValueError, AttributeError, PackageRejected):
        return JsonResponse({"error": "the wallet did not give a valid Ethereum address"}, status=400)
    return JsonResponse({"message": text})


@require_POST
@wallet_step
def signin_verify(request: HttpRequest) -> JsonResponse:
    """Step 2: the signed text in; on success the session is bound to the address."""
    try:
        body = json.loads(request.body or b"{}")
        address = accounts.signin_verify(
            message=str(body.get("message", "")), signature=str(body.get("signature", "")), domain=request.get_host()
        )
    except ValueError:
        return JsonResponse({"error": "the request is not JSON"}, status=400)
    request.session.cycle_key()  # a new session id at the privilege change
    request.session[SESSION_ADDRESS] = address
    request.session[SESSION_SIGNED_AT] = int(time.time())  # a token outlives the session: see views/tokens.py
    request.session[SESSION_CHAIN] = get_chain_client().chain_id()
    return JsonResponse({"address": address, "next": _safe_next(request, str(body.get("next", "")))})


def _safe_next(request: HttpRequest, target: str) -> str:
    from django.utils.http import url_has_allowed_host_and_scheme

    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("packages")


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    """Ends the session. When the wallet switched to another account (static/vendor/nfvm-wallet.js), the
    session of the old one ends and the sign-in page offers the new one, coming back to the same page."""
    was = request.session.get(SESSION_ADDRESS)
    request.session.flush()
    if request.POST.get("why") == "account-switched":
        messages.info(
            request,
            f"Signed out of {was}: your wallet switched to another account. Sign in with it to go on.",
        )
        back = _safe_next(request, request.POST.get("next", ""))
        return redirect(f"{reverse('signin')}?{urlencode({'next': back})}")
    messages.info(request, "Signed out.")
    return redirect("home")
