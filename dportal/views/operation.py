"""Operation: instantiate a network service under a licence, my instances, scale, verify, terminate."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from dportal.access import require_address, signed_in_address
from dportal.forms import ScaleForm
from dportal.views.base import json_or_error, signin_redirect
from ledger.exceptions import LedgerError
from marketplace.contract_manager import decisions
from marketplace.errors import ConflictError, PermissionDeniedError, ValidationFailed, outage
from marketplace.licensing import instances as ns_instances
from marketplace.licensing import selectors as licence_selectors
from marketplace.licensing.models import NsInstance
from marketplace.licensing.seats import SeatAuthorisation, SeatAuthorisationRequired, seat_authorisation_of
from marketplace.lookups import instance_or_404, ns_or_404


def _seat_opening(request: HttpRequest) -> SeatAuthorisation | None:
    """The licensee's signed SeatOpening the page's script put in the form (static/js/instantiate.js)."""
    typed, signature = request.POST.get("seat_typed_data"), request.POST.get("seat_signature")
    if not typed or not signature:
        return None
    try:
        body = json.loads(typed)
    except ValueError:
        body = None
    return seat_authorisation_of({"typed_data": body, "signature": signature})


SIGN_THE_SEAT = "your wallet must sign the seat opening first (the page's script asks it; it needs JavaScript)"


@require_GET
def ns_seat_opening(request: HttpRequest, ns_id: str) -> JsonResponse:
    """The SeatOpening to sign before instantiating (null when no seat is opened on chain)."""

    def work(actor: str, _: dict[str, Any]) -> dict[str, Any]:
        return {"typed_data": ns_instances.seat_opening_for(user=actor, ns=ns_or_404(ns_id, viewer=actor))}

    return json_or_error(request, work)


@require_GET
def instance_seat_opening(request: HttpRequest, instance_id: str) -> JsonResponse:
    """The SeatOpening to sign before scaling out to ?units=N (null when no seat is opened on chain)."""

    def work(actor: str, _: dict[str, Any]) -> dict[str, Any]:
        units = request.GET.get("units", "")
        if not (units.isascii() and units.isdigit() and 0 < len(units) < 5):
            raise ValidationFailed({"units": "a number of units, 1 or more"})
        typed = ns_instances.seat_opening_for(user=actor, instance=instance_or_404(instance_id), units=int(units))
        return {"typed_data": typed}

    return json_or_error(request, work)


def _named(instance: NsInstance) -> str:
    """An instance as messages name it: "nfvm-demo-core-ns 1.0, instance 2"."""
    return f"{instance.ns.name} {instance.ns.version}, {licence_selectors.instance_name(instance)}"


@require_POST
def ns_instantiate(request: HttpRequest, ns_id: str) -> HttpResponse:
    actor = signed_in_address(request)
    if actor is None:
        return signin_redirect(request, "ns-detail", ns_id)
    ns = ns_or_404(ns_id, viewer=signed_in_address(request))
    try:
        instance = ns_instances.instance_create(ns=ns, user=actor, seat_opening=_seat_opening(request))
    except decisions.LicenceDenied as exc:
        messages.error(request, f"Not instantiated: {exc.decision.reason}.")
        return redirect("ns-detail", descriptor_id=ns_id)
    except SeatAuthorisationRequired:
        messages.error(request, f"Not instantiated: {SIGN_THE_SEAT}.")
        return redirect("ns-detail", descriptor_id=ns_id)
    except ValidationFailed as exc:
        messages.error(request, f"Not instantiated: {exc}.")
        return redirect("ns-detail", descriptor_id=ns_id)
    if instance.state == "failed":
        messages.error(request, f"The instantiation failed: {instance.error}")
    else:
        messages.success(request, f"{_named(instance)} is {instance.state}.")
    return redirect("my-instances")


@require_GET
def my_instances(request: HttpRequest) -> HttpResponse:
    actor = signed_in_address(request)
    if actor is None:
        return signin_redirect(request, "my-instances")
    return _instances_page(request, actor)


@require_POST
def instance_terminate(request: HttpRequest, instance_id: str) -> HttpResponse:
    actor = require_address(request)
    instance = instance_or_404(instance_id)
    try:
        ns_instances.instance_terminate(instance=instance, actor=actor)
        messages.success(request, f"{_named(instance)} terminated; its seat is free again.")
    except PermissionDeniedError as exc:
        messages.error(request, str(exc))
    return redirect("my-instances")


def _scale_preview(instance: NsInstance, units: int) -> decisions.Decision | None:
    """The decision on running `units` units, for showing before the owner submits; None when there is
    nothing to decide (same number) or the chain cannot be asked now."""
    if units == instance.units or units < 1:
        return None
    try:
        return decisions.scale_decide(instance=instance, change=units - instance.units)
    except LedgerError:
        return None


def _instances_page(
    request: HttpRequest, actor: str, bound: tuple[str, ScaleForm, str] | None = None, status: int = 200
) -> HttpResponse:
    """My instances; `bound` is (instance id, the submitted form, the refusal) for the row whose scaling was
    refused, shown beside its field."""
    found = list(NsInstance.objects.filter(owner=actor).select_related("ns").order_by("-created_at")[:100])
    seen: dict[Any, int] = {}
    for i in reversed(found):  # oldest first: "instance 1" is the first of the network service
        seen[i.ns.pk] = seen.get(i.ns.pk, 0) + 1
        i.number = seen[i.ns.pk]  # type: ignore[attr-defined]
    # The number each instance's licence had when it started; an instance from before numbers were kept reads its
    # licence's number now.
    numbers: dict[int, int] = {}
    unnumbered = [i for i in found if i.licence_id and not i.licence_number]
    for chain_id in {i.chain_id for i in unnumbered}:
        numbers |= licence_selectors.licence_numbers(
            chain_id=chain_id, licence_ids={int(i.licence_id or 0) for i in unnumbered if i.chain_id == chain_id}
        )
    for i in found:
        number = int(i.licence_number) or numbers.get(int(i.licence_id or 0), 0)
        i.licence_name = (  # type: ignore[attr-defined]
            licence_selectors.licence_name(number, int(i.offer_id or 0)) if i.licence_id else ""
        )
    for i in found:
        form, refusal, preview = None, "", None
        if i.state == "running" and bound is not None and bound[0] == str(i.pk):
            form, refusal = bound[1], bound[2]
        elif i.state == "running":
            form = ScaleForm(initial={"units": i.units + 1}, auto_id=f"id_%s_{i.pk}")
            preview = _scale_preview(i, i.units + 1)
        i.scale_form, i.scale_refusal, i.scale_preview = form, refusal, preview  # type: ignore[attr-defined]
    return render(request, "dportal/instances.html", {"instances": found}, status=status)


@require_POST
def instance_scale(request: HttpRequest, instance_id: str) -> HttpResponse:
    """Scale an instance to the submitted number of units (the API's service); refusals beside the field."""
    actor = signed_in_address(request)
    if actor is None:
        return signin_redirect(request, "my-instances")
    instance = instance_or_404(instance_id)
    form = ScaleForm(request.POST, auto_id=f"id_%s_{instance.pk}")
    if not form.is_valid():
        return _instances_page(request, actor, (instance_id, form, ""), status=400)
    units = int(form.cleaned_data["units"])
    try:
        scaled = ns_instances.instance_scale(
            instance=instance, actor=actor, target=units, seat_opening=_seat_opening(request)
        )
    except SeatAuthorisationRequired:
        return _instances_page(request, actor, (instance_id, form, f"Not scaled: {SIGN_THE_SEAT}."), status=428)
    except decisions.LicenceDenied as exc:
        return _instances_page(request, actor, (instance_id, form, f"Not scaled: {exc.decision.reason}."), status=403)
    except PermissionDeniedError as exc:
        messages.error(request, f"Not scaled: {exc}.")
        return _instances_page(request, actor, status=403)
    except ValidationFailed as exc:
        refusal = "; ".join(exc.errors.values())
        return _instances_page(request, actor, (instance_id, form, f"Not scaled: {refusal}."), status=400)
    except ConflictError as exc:
        messages.error(request, f"Not scaled: {exc}.")
        return _instances_page(request, actor, (instance_id, form, f"Not scaled: {exc}."), status=409)
    except ns_instances.ScaleFailed as exc:
        messages.error(request, f"Scaling stopped part way: {exc}; {_named(instance)} runs {exc.instance.units}.")
        return redirect("my-instances")
    except LedgerError as exc:
        messages.error(request, f"Not scaled: {outage(exc)}")
        return redirect("my-instances")
    messages.success(request, f"{_named(scaled)} now runs {scaled.units} unit{'s' if scaled.units > 1 else ''}.")
    return redirect("my-instances")


@require_GET
def instance_scale_preview(request: HttpRequest, instance_id: str) -> HttpResponse:
    """The decision on the units typed into the scale form, before submitting (htmx fragment)."""
    actor = signed_in_address(request)
    if actor is None:
        return HttpResponse("sign in with your wallet first", status=401)
    instance = instance_or_404(instance_id)
    if actor != instance.owner:
        return HttpResponse(f"only {instance.owner} may scale instance {instance.pk}", status=403)
    form = ScaleForm(request.GET)
    preview = _scale_preview(instance, int(form.cleaned_data["units"])) if form.is_valid() else None
    return render(request, "dportal/instances.html#scale-preview", {"i": instance, "preview": preview})


@require_POST
def instance_verify(request: HttpRequest, instance_id: str) -> HttpResponse:
    """Verify again: what the orchestrator holds against the chain, now."""
    actor = signed_in_address(request)
    if actor is None:
        return signin_redirect(request, "my-instances")
    instance = instance_or_404(instance_id)
    try:
        checked = ns_instances.instance_verify(instance=instance, actor=actor)
    except PermissionDeniedError as exc:
        messages.error(request, f"Not verified: {exc}.")
        return _instances_page(request, actor, status=403)
    except LedgerError as exc:
        messages.error(request, f"Not verified: {outage(exc)}")
        return redirect("my-instances")
    level = messages.success if checked.integrity == "verified" else messages.warning
    level(request, f"{_named(checked)}: {checked.integrity}; {checked.integrity_detail}.")
    return redirect("my-instances")
