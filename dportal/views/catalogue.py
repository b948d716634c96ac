"""VNFs & NSs: the list of VNFs and NSs, and a descriptor's page, with resources, topology, versions, offers
and its proof."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dportal import topology
from dportal.access import signed_in_address
from dportal.sections import descriptor_sections
from dportal.views.base import page_number
from ledger.exceptions import LedgerError
from marketplace.contract_manager import decisions
from marketplace.lookups import descriptor_or_404
from marketplace.repository import selectors
from marketplace.repository.models import NetworkService, Vnf


@require_GET
def descriptor_detail(request: HttpRequest, kind: str, descriptor_id: str) -> HttpResponse:
    """A VNF or NS page: resources, topology (NS), versions, offers, proof and the descriptor."""
    model = Vnf if kind == "vnf" else NetworkService
    found = descriptor_or_404(model, descriptor_id, viewer=signed_in_address(request))
    decision = None
    trial = None
    actor = signed_in_address(request)
    if isinstance(found, NetworkService) and actor is not None:
        try:
            decision = decisions.licence_decide(ns=found, user=actor)
        except LedgerError:
            decision = None
    offers = selectors.package_offers(found.package)
    if decision is not None and not decision.permit and decision.trial_available:
        # An unused trial is activated by the first instantiation itself (static/js/instantiate.js).
        trial = next((o for o in offers if o.offer_id == decision.offer_id), None)
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
        "decision": decision,
        "trial": trial,
        "kind": kind,
        "sections": descriptor_sections(found.document) if readable else [],
        "resources": selectors.descriptor_resources(found, graph),
        "graph": graph,
        "diagram": diagram,
        "versions": selectors.descriptor_versions(found, viewer=signed_in_address(request)),
        "offers": offers,
        "proof": proof,
    }
    return render(request, "dportal/descriptor.html", context)


@require_GET
def descriptors(request: HttpRequest) -> HttpResponse:
    """The VNFs & NSs section: every VNF and NS of the catalogue's packages, by name."""
    q = request.GET.get("q", "")[:200]
    kind = request.GET.get("kind", "")
    kind = kind if kind in ("vnf", "ns") else ""
    page = selectors.descriptor_catalogue(q=q, kind=kind, viewer=signed_in_address(request), page=page_number(request))
    return render(request, "dportal/descriptors.html", {"page": page, "q": q, "kind": kind})
