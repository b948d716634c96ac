"""Packages: the catalogue, my packages, a package's page, upload, metadata, deprecation, registration
and its proof.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dportal.access import require_address, signed_in_address
from dportal.forms import MetadataForm, SearchForm, UploadForm
from dportal.views.base import is_htmx, json_or_error, signin_redirect, until
from ledger.exceptions import LedgerError
from marketplace.contract_manager import decisions
from marketplace.errors import ConflictError, PermissionDeniedError, ValidationFailed
from marketplace.lookups import package_or_404
from marketplace.repository import catalogue_pages, registration, selectors, services
from marketplace.repository.models import Package
from marketplace.repository.packages.problems import PackageRejected


@require_GET
def packages(request: HttpRequest) -> HttpResponse:
    """The VNF and NS catalogue: words, filters, sort and pages, as plain GET links and forms."""
    form = SearchForm(request.GET)
    page = catalogue_pages.package_catalogue(form.query(viewer=signed_in_address(request))) if form.is_valid() else None
    params = request.GET.copy()
    params.pop("page", None)
    context = {"form": form, "page": page, "query_string": params.urlencode(), "filtered": form.has_filters()}
    template = "dportal/packages.html#results" if is_htmx(request) else "dportal/packages.html"
    return render(request, template, context)


@require_GET
def my_packages(request: HttpRequest) -> HttpResponse:
    address = signed_in_address(request)
    if address is None:
        return signin_redirect(request, "my-packages")
    page = selectors.package_search(
        selectors.PackageQuery(uploader=address, all_versions=True, per_page=100, viewer=address)
    )
    return render(request, "dportal/my_packages.html", {"page": page})


@require_GET
def package_detail(request: HttpRequest, package_id: str) -> HttpResponse:
    address = signed_in_address(request)
    package = package_or_404(package_id, viewer=address)
    vnfs, services_ = selectors.package_descriptors(package)
    context = {
        "package": package,
        "vnfs": vnfs,
        "network_services": services_,
        "versions": selectors.package_versions(package, viewer=address),
        "history": package.metadatachange_set.order_by("-changed_at")[:20],
        "verification": package.verificationrecord_set.order_by("-checked_at").first(),
        "is_owner": address == package.uploader,
        "metadata_form": MetadataForm(
            initial={"description": package.description, "category": package.category, "tags": ", ".join(package.tags)}
        ),
        "references": selectors.package_references(package),
        "no_manifest": selectors.package_declares_no_hashes(package),
        "download": decisions.download_hint(package=package, user=address),
        "rpc_url": settings.PUBLIC_RPC_URL,
    }
    context.update(_proof_context(request, package))
    context.update(_licences_context(request, package))
    return render(request, "dportal/package_detail.html", context)


def _licences_context(request: HttpRequest, package: Package) -> dict[str, object]:
    """The package page's licences part: its offers (on chain, as indexed), with the licence the
    signed-in address holds under each."""
    offers = selectors.package_offers(package)
    held = selectors.licences_held(offers=offers, licensee=signed_in_address(request))
    return {"offers": [(offer, held.get(offer.offer_id), until(held.get(offer.offer_id))) for offer in offers]}


@require_GET
def package_licences_fragment(request: HttpRequest, package_id: str) -> HttpResponse:
    """The licences part alone, for the page to swap in after an offer, a purchase or a registration."""
    package = package_or_404(package_id, viewer=signed_in_address(request))
    context = _proof_context(request, package) | _licences_context(request, package)
    return render(request, "dportal/package_detail.html#licences", context)


@require_http_methods(["GET", "POST"])
def package_upload(request: HttpRequest) -> HttpResponse:
    address = signed_in_address(request)
    if address is None:
        if is_htmx(request):
            return render(request, "dportal/upload.html#report", {"signed_out": True}, status=401)
        return signin_redirect(request, "package-upload")
    form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
    context: dict[str, Any] = {"form": form, "problems": None}
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["package"]
        try:
            result = services.package_ingest(source=upload, uploader=address, filename=upload.name or "")
        except PackageRejected as exc:
            context["problems"] = exc.problems
        else:
            verb = "stored" if result.created else "was already in the repository"
            if is_htmx(request):
                # The drag-and-drop upload (static/js/upload.js) shows the report in place.
                context |= {"result": result, "verb": verb}
                return render(request, "dportal/upload.html#report", context)
            messages.success(request, f"{result.package} {verb}.")
            return redirect("package-detail", package_id=str(result.package.pk))
    status = 422 if context["problems"] or form.errors else 200
    template = "dportal/upload.html#report" if is_htmx(request) else "dportal/upload.html"
    return render(request, template, context, status=status)


@require_POST
def package_metadata(request: HttpRequest, package_id: str) -> HttpResponse:
    package = package_or_404(package_id, viewer=signed_in_address(request))
    actor = require_address(request)
    form = MetadataForm(request.POST)
    if form.is_valid():
        try:
            services.package_metadata_update(package=package, actor=actor, changes=form.changes())
            messages.success(request, "Metadata saved; the package digest is unchanged.")
        except ValidationFailed as exc:
            for field, error in exc.errors.items():
                messages.error(request, f"{field}: {error}")
        except PermissionDeniedError as exc:
            messages.error(request, str(exc))
    else:
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {'; '.join(str(e) for e in errors)}")
    return redirect("package-detail", package_id=package_id)


@require_POST
def package_deprecate(request: HttpRequest, package_id: str) -> HttpResponse:
    package = package_or_404(package_id, viewer=signed_in_address(request))
    try:
        services.package_deprecate(package=package, actor=require_address(request))
        messages.success(request, "The package is deprecated: still available, no longer recommended.")
    except (PermissionDeniedError, ConflictError) as exc:
        messages.error(request, str(exc))
    return redirect("package-detail", package_id=package_id)


@require_http_methods(["GET", "POST"])
def package_registration(request: HttpRequest, package_id: str) -> JsonResponse:
    """The wallet-signing step of on-chain registration, for the signed-in uploader (JSON)."""
    package = package_or_404(package_id, viewer=signed_in_address(request))

    def work(actor: str, body: dict[str, Any]) -> dict[str, Any]:
        if request.method == "GET":
            return registration.registration_prepare(package=package, actor=actor)
        typed, claim = body.get("typed_data"), body.get("claim_typed_data")
        registration.registration_submit(
            package=package,
            actor=actor,
            typed_data=typed if isinstance(typed, dict) else {},
            signature=str(body.get("signature", "")),
            mode=str(body.get("mode", "relay")),
            claim_typed_data=claim if isinstance(claim, dict) else None,
            claim_signature=str(body["claim_signature"]) if body.get("claim_signature") else None,
        )
        return selectors.package_proof(package)

    return json_or_error(request, work)


@require_GET
def package_proof_fragment(request: HttpRequest, package_id: str) -> HttpResponse:
    package = package_or_404(package_id, viewer=signed_in_address(request))
    context = _proof_context(request, package)
    if context["chain_state"] == "published" and request.GET.get("pending"):
        # The registration the page was following is on chain now: the badge and the licences part (the
        # offer form appears for the owner) change with it, swapped in place beside the proof (htmx oob).
        context |= _licences_context(request, package) | {"oob": True}
        return render(request, "dportal/package_proof_update.html", context)
    return render(request, "dportal/package_detail.html#proof", context)


def _proof_context(request: HttpRequest, package: Package) -> dict[str, object]:
    try:
        proof = selectors.package_proof(package)
    except LedgerError as exc:
        proof = {"state": "unavailable", "error": str(exc)}
    return {
        "package": package,
        "proof": proof,
        "chain_state": chain_state(proof),
        "is_owner": signed_in_address(request) == package.uploader,
    }


def chain_state(proof: dict[str, Any]) -> str:
    """The package's badge, from the chain evidence the proof checked (never the database's state field)."""
    state = proof.get("state")
    if state == "anchored":
        return {"active": "published"}.get(str(proof.get("status")), str(proof.get("status")))
    if state in ("chain-reset", "unverifiable"):
        return "not verifiable"
    if state == "unavailable":
        return "chain unavailable"
    return "not registered"


@require_POST
def package_verify(request: HttpRequest, package_id: str) -> HttpResponse:
    try:
        record = registration.package_reverify_as(
            package=package_or_404(package_id, viewer=signed_in_address(request)), actor=require_address(request)
        )
    except PermissionDeniedError as exc:
        messages.error(request, f"Not verified: {exc}.")
        return redirect("package-detail", package_id=package_id)
    level = messages.success if record.result == "verified" else messages.warning
    level(request, f"Verification: {record.result}.")
    return redirect("package-detail", package_id=package_id)
