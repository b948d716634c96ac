"""VNFs & NSs: the list of VNFs and NSs, and a descriptor's page, with resources, topology, versions, offers
and its proof."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dportal import topology
from dportal.access import signed_in_address
from dportal.sections import descriptor_sections
from dportal.templatetags.portal import ether
from dportal.views.base import page_number
from ledger.exceptions import LedgerError
from marketplace.contract_manager import decisions
from marketplace.lookups import descriptor_or_404
from marketplace.repository import catalogue_pages, selectors
from marketplace.repository.models import NetworkService, Vnf


@require_GET
def descriptor_detail(request: HttpRequest, kind: str, descriptor_id: str) -> HttpResponse:
    """A VNF or NS page: resources, topology (NS), versions, offers, proof and the descriptor."""
    model = Vnf if kind == "vnf" else NetworkService
    found = descriptor_or_404(model, descriptor_id, viewer=signed_in_address(request))
    actor = signed_in_address(request)
    offers = selectors.package_offers(found.package)
    graph = selectors.ns_graph(found) if isinstance(found, NetworkService) else None
    diagram = None
    if graph is not None:
        hrefs = {n["id"]: reverse("vnf-detail", args=[n["id"]]) for n in graph["nodes"] if n.get("resolved")}
        diagram = topology.layout(graph, hrefs)
    try:
        proof: dict[str, Any] = selectors.package_proof(found.package)
    except LedgerError as exc:
        proof = {"state": "unavailable", "error": str(exc)}
    # The descriptor document is package content: shown as a download of the package would be decided.
    download = decisions.download_hint(package=found.package, user=actor)
    readable = download is not None and download.permit
    context = {
        "d": found,
        "download": download,
        "kind": kind,
        "sections": descriptor_sections(found.document) if readable else [],
        "resources": selectors.descriptor_resources(found, graph),
        "graph": graph,
        "diagram": diagram,
        "versions": selectors.descriptor_versions(found, viewer=signed_in_address(request)),
        "offers": offers,
        "proof": proof,
    }
    if isinstance(found, NetworkService):
        context |= _decision_context(found, actor, offers)
    return render(request, "dportal/descriptor.html", context)


def _decision_context(ns: NetworkService, actor: str | None, offers: list[Any]) -> dict[str, Any]:
    """Whether `actor` may instantiate `ns` now, and when not, the step that would let it."""
    decision = None
    trial = None
    if actor is not None:
        try:
            decision = decisions.licence_decide(ns=ns, user=actor)
        except LedgerError:
            decision = None
    if decision is not None and not decision.permit and decision.trial_available:
        # An unused trial is activated by the first instantiation itself (static/js/instantiate.js).
        trial = next((o for o in offers if o.offer_id == decision.offer_id), None)
    blocked = decision is not None and not decision.permit and trial is None
    return {
        "d": ns,
        "decision": decision,
        "trial": trial,
        "blocked": blocked,
        "remedy": next_step(decision, offers) if blocked else None,
    }


@dataclass(frozen=True)
class NextStep:
    """What resolves a refusal, as a button beside it: buy (or buy again) an offer, or free a seat."""

    label: str
    offer: Any = None  # the offer to buy: the button is the package page's Buy (static/js/licensing.js)
    href: str = ""  # else a page to go to


def next_step(decision: decisions.Decision | None, offers: list[Any]) -> NextStep | None:
    """The action that resolves `decision`'s refusal, read from its facts; None when none does (every
    offer closed, a policy's time or place)."""
    if decision is None or decision.permit or decision.offer_id is None:
        return None
    offer = next((o for o in offers if o.offer_id == decision.offer_id), None)
    if decision.licence_id is not None and decision.seats and decision.in_use >= decision.seats:
        return NextStep(f"Terminate an instance ({decision.in_use} running)", href=reverse("my-instances"))
    if offer is None or offer.closed or offer.kind != 2 or str(offer.token).lower() != "0x" + "00" * 20:
        return None  # only an open private offer in ether is bought from this page
    price = ether(offer.price)
    if decision.licence_id is not None:
        if not decision.expires_at:
            return None  # a held licence its policy refuses here and now: buying it again changes nothing
        return NextStep(f"Renew: buy offer #{offer.offer_id} again ({price})", offer=offer)
    return NextStep(f"Buy offer #{offer.offer_id} ({price})", offer=offer)


@require_GET
def ns_decision_fragment(request: HttpRequest, ns_id: str) -> HttpResponse:
    """The NS page's decision and its next step, for the page to swap in after a purchase; the
    Instantiate button comes with it (htmx out-of-band), enabled or not."""
    ns = descriptor_or_404(NetworkService, ns_id, viewer=signed_in_address(request))
    assert isinstance(ns, NetworkService)
    context = _decision_context(ns, signed_in_address(request), selectors.package_offers(ns.package))
    return render(request, "dportal/ns_decision_update.html", context | {"oob": True})


@require_GET
def descriptors(request: HttpRequest) -> HttpResponse:
    """The VNFs & NSs section: every VNF and NS of the catalogue's packages, by name."""
    q = request.GET.get("q", "")[:200]
    kind = request.GET.get("kind", "")
    kind = kind if kind in ("vnf", "ns") else ""
    page = catalogue_pages.descriptor_catalogue(
        q=q, kind=kind, viewer=signed_in_address(request), page=page_number(request)
    )
    return render(request, "dportal/descriptors.html", {"page": page, "q": q, "kind": kind})
