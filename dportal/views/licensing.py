"""Licensing: offers a provider makes and closes, agreements a licensee signs, my licences, my offers,
and licence transfers.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dportal.access import signed_in_address
from dportal.errors import wallet_step
from dportal.views.base import chain_now, json_or_error, signin_redirect
from ledger.client import get_chain_client
from ledger.models import AcquiredLicence
from marketplace.accounts import services as accounts
from marketplace.errors import ValidationFailed
from marketplace.licensing import offers as licence_offers
from marketplace.licensing import selectors as licence_selectors
from marketplace.lookups import package_or_404
from marketplace.repository.packages.problems import PackageRejected


@require_POST
def package_offer(request: HttpRequest, package_id: str) -> JsonResponse:
    """The provider's offer form: the generated policy and the transaction their wallet sends."""
    package = package_or_404(package_id, viewer=signed_in_address(request))

    def work(actor: str, body: dict[str, Any]) -> dict[str, Any]:
        kind = body.get("kind")
        if kind not in ("public", "trial", "private"):
            raise ValidationFailed({"kind": "public, trial or private"})
        terms = licence_offers.offer_form_terms(kind, body)
        return licence_offers.offer_prepare(package=package, provider=actor, kind=kind, **terms)

    return json_or_error(request, work)


@require_http_methods(["GET", "POST"])
def offer_agreement(request: HttpRequest, offer_id: int) -> JsonResponse:
    """The end-user's agreement: GET the typed data to sign; POST it signed (a trial is activated,
    a purchase comes back as the transaction the wallet sends)."""

    def work(actor: str, body: dict[str, Any]) -> dict[str, Any]:
        if request.method == "GET":
            return licence_offers.agreement_prepare(offer_id=offer_id, licensee=actor)
        typed, signature = body.get("typed_data"), body.get("signature")
        if not isinstance(typed, dict) or not isinstance(signature, str):
            raise ValidationFailed({"typed_data": "the signed agreement", "signature": "its signature"})
        _, answer = licence_offers.agreement_submit(
            offer_id=offer_id, licensee=actor, typed_data=typed, signature=signature
        )
        return answer

    return json_or_error(request, work)


@require_POST
def licence_transfer(request: HttpRequest, licence_id: int) -> JsonResponse:
    """The decision on transferring a licence to {"to": ADDRESS} and, when permitted, the unsigned
    transferLicence transaction the holder's wallet sends (static/js/licensing.js)."""

    def work(actor: str, body: dict[str, Any]) -> dict[str, Any]:
        recipient = body.get("to")
        try:
            address = accounts.normalise_address(recipient.strip()) if isinstance(recipient, str) else ""
        except PackageRejected:
            address = ""
        if not address:
            raise ValidationFailed({"to": f"{recipient!r} is not an Ethereum address"})
        held = AcquiredLicence.objects.filter(chain_id=get_chain_client().chain_id(), licence_id=licence_id).first()
        if held is None:
            raise Http404(f"no licence #{licence_id} on the connected chain")
        return licence_offers.licence_transfer_prepare(licence=held, holder=actor, recipient=address)

    return json_or_error(request, work)


@require_GET
def my_licences(request: HttpRequest) -> HttpResponse:
    actor = signed_in_address(request)
    if actor is None:
        return signin_redirect(request)
    chain_id, now = chain_now(reading=True)
    held = licence_selectors.licences_of(user=actor, chain_id=chain_id, now=now)
    return render(request, "dportal/licences.html", {"licences": held})


@require_GET
@wallet_step
def licence_agreement(request: HttpRequest, licence_id: int) -> JsonResponse:
    """The signed EIP-712 agreement behind a licence, as a JSON download: for the licensee and the
    offer's provider only."""
    actor = signed_in_address(request)
    if actor is None:
        return JsonResponse({"error": "sign in with your wallet first"}, status=401)
    chain_id, now = chain_now()
    view = licence_selectors.licence_view(licence_id=licence_id, chain_id=chain_id, now=now)
    if view is None:
        return JsonResponse({"error": f"no licence #{licence_id} on chain {chain_id}"}, status=404)
    provider = view.offer.provider if view.offer else None
    if actor not in (view.licence.licensee, provider):
        return JsonResponse(
            {"error": f"only the licensee or the offer's provider may read the agreement of licence #{licence_id}"},
            status=403,
        )
    if view.agreement is None:
        return JsonResponse(
            {"error": f"the agreement of licence #{licence_id} was not signed through this marketplace"}, status=404
        )
    body = {
        "licence_id": licence_id,
        "chain_id": chain_id,
        "licensee": view.licence.licensee,
        "agreement_hash": view.agreement.agreement_hash,
        "typed_data": json.loads(view.agreement.typed_data),
        "signature": view.agreement.signature,
    }
    response = JsonResponse(body, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="licence-{licence_id}-agreement.json"'
    return response


@require_GET
def my_offers(request: HttpRequest) -> HttpResponse:
    actor = signed_in_address(request)
    if actor is None:
        return signin_redirect(request)
    chain_id, _ = chain_now(reading=True)
    offers = licence_selectors.offers_of(address=actor, chain_id=chain_id)
    return render(request, "dportal/offers.html", {"offers": offers})


@require_POST
def offer_close(request: HttpRequest, offer_id: int) -> JsonResponse:
    """The unsigned closeOffer transaction for the provider's wallet; others get 403 with the reason."""
    return json_or_error(
        request, lambda actor, _body: licence_offers.offer_close_prepare(offer_id=offer_id, actor=actor)
    )


@require_GET
def offer_state(request: HttpRequest, offer_id: int) -> HttpResponse:
    """An offer's state as the indexer has it; with ?sent=1 it polls itself until the offer is closed."""
    chain_id, _ = chain_now()
    offer = licence_selectors.offer_state(offer_id=offer_id, chain_id=chain_id)
    if offer is None:
        raise Http404("no such offer")
    context = {"o": offer, "sent": request.GET.get("sent") == "1"}
    return render(request, "dportal/offers.html#offer-state", context)
