"""dPortal pages: parse input, call one service or selector, render. Reading works without
JavaScript; writes need a wallet-signed session (Sign-In with Ethereum)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dportal import charts, topology
from dportal.access import SESSION_ADDRESS, SESSION_CHAIN, require_address, signed_in_address
from dportal.forms import MetadataForm, ScaleForm, SearchForm, UploadForm
from dportal.sections import descriptor_sections
from ledger.client import get_chain_client
from ledger.devwallet import DevWalletRefused, DevWalletUnavailable, dev_rpc
from ledger.exceptions import LedgerError
from ledger.models import AcquiredLicence
from ledger.selectors import indexed_through
from marketplace.licensing import licences
from marketplace.licensing import selectors as licence_selectors
from marketplace.models import NetworkService, NsInstance, Package, Vnf
from marketplace.repository import selectors, services
from marketplace.repository.packages.problems import PackageRejected
from marketplace.repository.selectors import system_status


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    status = system_status()
    if _is_htmx(request):
        return render(request, "dportal/home.html#status", {"status": status})
    address = signed_in_address(request)
    roles = None
    if address is not None and status.ok:
        roles = selectors.account_roles(address=address, chain_id=get_chain_client().chain_id())
    return render(request, "dportal/home.html", {"status": status, "roles": roles})


# --- sign-in ---


@require_GET
def signin(request: HttpRequest) -> HttpResponse:
    return render(request, "dportal/signin.html", {"next": request.GET.get("next", "")})


@require_POST
def signin_message(request: HttpRequest) -> JsonResponse:
    """Step 1: the wallet's address in, the EIP-4361 text to sign out."""
    try:
        address = json.loads(request.body or b"{}").get("address", "")
        text = services.signin_message(address=address, domain=request.get_host(), uri=request.build_absolute_uri("/"))
    except (ValueError, AttributeError, PackageRejected):
        return JsonResponse({"error": "the wallet did not give a valid Ethereum address"}, status=400)
    except LedgerError as exc:
        return JsonResponse({"error": f"the chain is unavailable: {exc}"}, status=503)
    return JsonResponse({"message": text})


@require_POST
def signin_verify(request: HttpRequest) -> JsonResponse:
    """Step 2: the signed text in; on success the session is bound to the address."""
    try:
        body = json.loads(request.body or b"{}")
        address = services.signin_verify(
            message=str(body.get("message", "")), signature=str(body.get("signature", "")), domain=request.get_host()
        )
    except ValueError:
        return JsonResponse({"error": "the request is not JSON"}, status=400)
    except services.AuthenticationError as exc:
        return JsonResponse({"error": str(exc)}, status=401)
    request.session.cycle_key()  # a new session id at the privilege change
    request.session[SESSION_ADDRESS] = address
    request.session[SESSION_CHAIN] = get_chain_client().chain_id()
    return JsonResponse({"address": address, "next": _safe_next(request, str(body.get("next", "")))})


def _safe_next(request: HttpRequest, target: str) -> str:
    from django.utils.http import url_has_allowed_host_and_scheme

    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("packages")


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    messages.info(request, "Signed out.")
    return redirect("home")


# --- packages ---


@require_GET
def packages(request: HttpRequest) -> HttpResponse:
    """The VNF and NS catalogue: words, filters, sort and pages, as plain GET links and forms."""
    form = SearchForm(request.GET)
    page = selectors.package_catalogue(form.query()) if form.is_valid() else None
    params = request.GET.copy()
    params.pop("page", None)
    context = {"form": form, "page": page, "query_string": params.urlencode(), "filtered": form.has_filters()}
    template = "dportal/packages.html#results" if _is_htmx(request) else "dportal/packages.html"
    return render(request, template, context)


@require_GET
def my_packages(request: HttpRequest) -> HttpResponse:
    address = signed_in_address(request)
    if address is None:
        return redirect(f"{reverse('signin')}?next={reverse('my-packages')}")
    page = selectors.package_search(selectors.PackageQuery(uploader=address, all_versions=True, per_page=100))
    return render(request, "dportal/my_packages.html", {"page": page})


def _package(package_id: str) -> Package:
    try:
        found = Package.objects.filter(pk=ObjectId(package_id)).first()
    except (InvalidId, TypeError):
        found = None
    if found is None:
        raise Http404("no such package")
    return found


def _until(licence: Any) -> datetime | None:
    """A held licence's expiry as a UTC time, None for none (or no licence)."""
    if licence is None or not licence.expires_at:
        return None
    return datetime.fromtimestamp(licence.expires_at, tz=UTC)


@require_GET
def package_detail(request: HttpRequest, package_id: str) -> HttpResponse:
    package = _package(package_id)
    vnfs, services_ = selectors.package_descriptors(package)
    address = signed_in_address(request)
    context = {
        "package": package,
        "vnfs": vnfs,
        "network_services": services_,
        "versions": selectors.package_versions(package),
        "history": package.metadatachange_set.order_by("-changed_at")[:20],
        "verification": package.verificationrecord_set.order_by("-checked_at").first(),
        "is_owner": address == package.uploader,
        "metadata_form": MetadataForm(
            initial={"description": package.description, "category": package.category, "tags": ", ".join(package.tags)}
        ),
        "references": selectors.package_references(package),
        "download": licences.download_hint(package=package, user=address),
    }
    offers = selectors.package_offers(package)
    held = selectors.licences_held(offers=offers, licensee=address)
    context["offers"] = [(offer, held.get(offer.offer_id), _until(held.get(offer.offer_id))) for offer in offers]
    context.update(_proof_context(request, package))
    return render(request, "dportal/package_detail.html", context)


@require_http_methods(["GET", "POST"])
def package_upload(request: HttpRequest) -> HttpResponse:
    address = signed_in_address(request)
    if address is None:
        if _is_htmx(request):
            return render(request, "dportal/upload.html#report", {"signed_out": True}, status=401)
        return redirect(f"{reverse('signin')}?next={reverse('package-upload')}")
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
            if _is_htmx(request):
                # The drag-and-drop upload (static/js/upload.js) shows the report in place.
                context |= {"result": result, "verb": verb}
                return render(request, "dportal/upload.html#report", context)
            messages.success(request, f"{result.package} {verb}.")
            return redirect("package-detail", package_id=str(result.package.pk))
    status = 422 if context["problems"] or form.errors else 200
    template = "dportal/upload.html#report" if _is_htmx(request) else "dportal/upload.html"
    return render(request, template, context, status=status)


@require_POST
def package_metadata(request: HttpRequest, package_id: str) -> HttpResponse:
    package = _package(package_id)
    actor = require_address(request)
    form = MetadataForm(request.POST)
    if form.is_valid():
        try:
            services.package_metadata_update(package=package, actor=actor, changes=form.changes())
            messages.success(request, "Metadata saved; the package digest is unchanged.")
        except services.ValidationFailed as exc:
            for field, error in exc.errors.items():
                messages.error(request, f"{field}: {error}")
        except services.PermissionDeniedError as exc:
            messages.error(request, str(exc))
    else:
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {'; '.join(str(e) for e in errors)}")
    return redirect("package-detail", package_id=package_id)


@require_POST
def package_deprecate(request: HttpRequest, package_id: str) -> HttpResponse:
    package = _package(package_id)
    try:
        services.package_deprecate(package=package, actor=require_address(request))
        messages.success(request, "The package is deprecated: still available, no longer recommended.")
    except (services.PermissionDeniedError, services.ConflictError) as exc:
        messages.error(request, str(exc))
    return redirect("package-detail", package_id=package_id)


@require_GET
def descriptor_detail(request: HttpRequest, kind: str, descriptor_id: str) -> HttpResponse:
    """A VNF or NS page: resources, topology (NS), versions, offers, proof and the descriptor."""
    model = Vnf if kind == "vnf" else NetworkService
    try:
        found = model.objects.filter(pk=ObjectId(descriptor_id)).select_related("package").first()
    except (InvalidId, TypeError):
        found = None
    if found is None:
        raise Http404("no such descriptor")
    decision = None
    trial = None
    actor = signed_in_address(request)
    if isinstance(found, NetworkService) and actor is not None:
        try:
            decision = licences.licence_decide(ns=found, user=actor)
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
    context = {
        "d": found,
        "decision": decision,
        "trial": trial,
        "kind": kind,
        "sections": descriptor_sections(found.document),
        "resources": selectors.descriptor_resources(found, graph),
        "graph": graph,
        "diagram": diagram,
        "versions": selectors.descriptor_versions(found),
        "offers": offers,
        "proof": proof,
    }
    return render(request, "dportal/descriptor.html", context)


@require_http_methods(["GET", "POST"])
def package_registration(request: HttpRequest, package_id: str) -> JsonResponse:
    """The wallet-signing step of on-chain registration, for the signed-in uploader (JSON)."""
    package = _package(package_id)

    def work(actor: str, body: dict[str, Any]) -> dict[str, Any]:
        if request.method == "GET":
            return {"typed_data": services.registration_prepare(package=package, actor=actor)}
        typed = body.get("typed_data")
        services.registration_submit(
            package=package,
            actor=actor,
            typed_data=typed if isinstance(typed, dict) else {},
            signature=str(body.get("signature", "")),
            mode=str(body.get("mode", "relay")),
        )
        return selectors.package_proof(package)

    return _json_or_error(request, work)


@require_GET
def package_proof_fragment(request: HttpRequest, package_id: str) -> HttpResponse:
    package = _package(package_id)
    return render(request, "dportal/package_detail.html#proof", _proof_context(request, package))


def _proof_context(request: HttpRequest, package: Package) -> dict[str, object]:
    try:
        proof = selectors.package_proof(package)
    except LedgerError as exc:
        proof = {"state": "unavailable", "error": str(exc)}
    return {"package": package, "proof": proof, "is_owner": signed_in_address(request) == package.uploader}


@require_POST
def package_verify(request: HttpRequest, package_id: str) -> HttpResponse:
    record = services.package_reverify(package=_package(package_id))
    level = messages.success if record.result == "verified" else messages.warning
    level(request, f"Verification: {record.result}.")
    return redirect("package-detail", package_id=package_id)


# --- The development wallet (embedded mode): its node calls, relayed ---


@require_POST
def dev_wallet_rpc(request: HttpRequest) -> JsonResponse:
    """One JSON-RPC call of the in-browser development wallet. It signs in the browser; this relays
    reads, fee data and already-signed transactions to the node, and nothing else."""
    try:
        call = json.loads(request.body or b"")
    except ValueError:
        call = None
    if not isinstance(call, dict):
        return JsonResponse(
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "the body is not a JSON-RPC object"}},
            status=400,
        )
    reply: dict[str, Any] = {"jsonrpc": "2.0", "id": call.get("id")}
    try:
        reply |= dev_rpc(
            get_chain_client(), enabled=settings.DEV_WALLET, method=call.get("method"), params=call.get("params", [])
        )
    except DevWalletUnavailable as exc:
        return JsonResponse(reply | {"error": {"code": -32601, "message": str(exc)}}, status=404)
    except DevWalletRefused as exc:
        return JsonResponse(reply | {"error": {"code": -32601, "message": str(exc)}}, status=403)
    except LedgerError as exc:
        return JsonResponse(
            reply | {"error": {"code": -32603, "message": f"the chain is unavailable: {exc}"}}, status=503
        )
    return JsonResponse(reply)


@require_GET
def indexer_progress(request: HttpRequest) -> JsonResponse:
    """Whether the indexer has read block `block` yet: page scripts follow a mined transaction
    until the marketplace's view of the chain includes it."""
    try:
        block = int(request.GET.get("block", ""))
    except ValueError:
        return JsonResponse({"error": "block: an integer block number is required"}, status=400)
    try:
        through = indexed_through(get_chain_client().chain_id())
    except LedgerError as exc:
        return JsonResponse({"error": f"the chain is unavailable: {exc}"}, status=503)
    return JsonResponse({"block": block, "indexed_through": through, "indexed": through >= block})


# --- Licensing and operation ---


def _json_or_error(request: HttpRequest, work: Callable[[str, dict[str, Any]], dict[str, Any]]) -> JsonResponse:
    """Run a wallet step for the signed-in address, mapping domain errors to JSON answers."""
    actor = signed_in_address(request)
    if actor is None:
        return JsonResponse({"error": "sign in with your wallet first"}, status=401)
    try:
        body = json.loads(request.body or b"{}") if request.method == "POST" else {}
        return JsonResponse(work(actor, body))
    except ValueError:
        return JsonResponse({"error": "the request is not JSON"}, status=400)
    except services.ValidationFailed as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except services.AuthenticationError as exc:
        return JsonResponse({"error": str(exc)}, status=401)
    except services.PermissionDeniedError as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    except services.ConflictError as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    except LedgerError as exc:
        return JsonResponse({"error": f"the chain is unavailable: {exc}"}, status=503)


@require_POST
def package_offer(request: HttpRequest, package_id: str) -> JsonResponse:
    """The provider's offer form: the generated policy and the transaction their wallet sends."""
    package = _package(package_id)

    def work(actor: str, body: dict[str, Any]) -> dict[str, Any]:
        kind = body.get("kind")
        if kind not in ("public", "trial", "private"):
            raise services.ValidationFailed({"kind": "public, trial or private"})
        try:
            price_eth = Decimal(str(body.get("price_eth") or "0"))
            seats = int(body["seats"]) if body.get("seats") not in (None, "") else None
            days = int(body["duration_days"]) if body.get("duration_days") not in (None, "") else None
        except (InvalidOperation, ValueError) as exc:
            raise services.ValidationFailed({"terms": f"not a number: {exc}"}) from None
        return licences.offer_prepare(
            package=package,
            provider=actor,
            kind=kind,
            price=int(price_eth * 10**18),
            seats=seats,
            duration_days=days,
            transferable=bool(body.get("transferable")),
        )

    return _json_or_error(request, work)


@require_http_methods(["GET", "POST"])
def offer_agreement(request: HttpRequest, offer_id: int) -> JsonResponse:
    """The end-user's agreement: GET the typed data to sign; POST it signed (a trial is activated,
    a purchase comes back as the transaction the wallet sends)."""

    def work(actor: str, body: dict[str, Any]) -> dict[str, Any]:
        if request.method == "GET":
            return licences.agreement_prepare(offer_id=offer_id, licensee=actor)
        typed, signature = body.get("typed_data"), body.get("signature")
        if not isinstance(typed, dict) or not isinstance(signature, str):
            raise services.ValidationFailed({"typed_data": "the signed agreement", "signature": "its signature"})
        if int(body.get("kind", -1)) == 1:
            return {
                "licence_id": licences.trial_activate(
                    offer_id=offer_id, licensee=actor, typed_data=typed, signature=signature
                )
            }
        return licences.purchase_prepare(offer_id=offer_id, licensee=actor, typed_data=typed, signature=signature)

    return _json_or_error(request, work)


@require_POST
def ns_instantiate(request: HttpRequest, ns_id: str) -> HttpResponse:
    actor = signed_in_address(request)
    if actor is None:
        return redirect(f"{reverse('signin')}?next={reverse('ns-detail', args=[ns_id])}")
    try:
        ns = NetworkService.objects.select_related("package").get(pk=ObjectId(ns_id))
    except (InvalidId, NetworkService.DoesNotExist):
        raise Http404("no such network service") from None
    try:
        instance = licences.instance_create(ns=ns, user=actor)
    except licences.LicenceDenied as exc:
        messages.error(request, f"Not instantiated: {exc.decision.reason}.")
        return redirect("ns-detail", descriptor_id=ns_id)
    if instance.state == "failed":
        messages.error(request, f"The instantiation failed: {instance.error}")
    else:
        messages.success(request, f"Instance {instance.pk} is {instance.state}.")
    return redirect("my-instances")


@require_GET
def my_instances(request: HttpRequest) -> HttpResponse:
    actor = signed_in_address(request)
    if actor is None:
        return redirect(f"{reverse('signin')}?next={reverse('my-instances')}")
    return _instances_page(request, actor)


@require_POST
def instance_terminate(request: HttpRequest, instance_id: str) -> HttpResponse:
    actor = require_address(request)
    try:
        instance = NsInstance.objects.get(pk=ObjectId(instance_id))
    except (InvalidId, NsInstance.DoesNotExist):
        raise Http404("no such instance") from None
    try:
        licences.instance_terminate(instance=instance, actor=actor)
        messages.success(request, f"Instance {instance.pk} terminated; its seat is free again.")
    except services.PermissionDeniedError as exc:
        messages.error(request, str(exc))
    return redirect("my-instances")


# --- Operation: scale and verify an instance (My instances), transfer a licence (My licences) ---


def _instance_of(instance_id: str) -> NsInstance:
    try:
        found = NsInstance.objects.select_related("ns").filter(pk=ObjectId(instance_id)).first()
    except (InvalidId, TypeError):
        found = None
    if found is None:
        raise Http404("no such instance")
    return found


def _scale_preview(instance: NsInstance, units: int) -> licences.Decision | None:
    """The decision on running `units` units, for showing before the owner submits; None when there is
    nothing to decide (same number) or the chain cannot be asked now."""
    if units == instance.units or units < 1:
        return None
    try:
        return licences.scale_decide(instance=instance, change=units - instance.units)
    except LedgerError:
        return None


def _instances_page(
    request: HttpRequest, actor: str, bound: tuple[str, ScaleForm, str] | None = None, status: int = 200
) -> HttpResponse:
    """My instances; `bound` is (instance id, the submitted form, the refusal) for the row whose scaling was
    refused, shown beside its field."""
    found = list(NsInstance.objects.filter(owner=actor).select_related("ns").order_by("-created_at")[:100])
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
        return redirect(f"{reverse('signin')}?next={reverse('my-instances')}")
    instance = _instance_of(instance_id)
    form = ScaleForm(request.POST, auto_id=f"id_%s_{instance.pk}")
    if not form.is_valid():
        return _instances_page(request, actor, (instance_id, form, ""), status=400)
    units = int(form.cleaned_data["units"])
    try:
        scaled = licences.instance_scale(instance=instance, actor=actor, target=units)
    except licences.LicenceDenied as exc:
        return _instances_page(request, actor, (instance_id, form, f"Not scaled: {exc.decision.reason}."), status=403)
    except services.PermissionDeniedError as exc:
        messages.error(request, f"Not scaled: {exc}.")
        return _instances_page(request, actor, status=403)
    except services.ValidationFailed as exc:
        refusal = "; ".join(exc.errors.values())
        return _instances_page(request, actor, (instance_id, form, f"Not scaled: {refusal}."), status=400)
    except services.ConflictError as exc:
        messages.error(request, f"Not scaled: {exc}.")
        return _instances_page(request, actor, (instance_id, form, f"Not scaled: {exc}."), status=409)
    except licences.ScaleFailed as exc:
        messages.error(request, f"Scaling stopped part way: {exc}; instance {instance.pk} runs {exc.instance.units}.")
        return redirect("my-instances")
    except LedgerError as exc:
        messages.error(request, f"Not scaled: the chain is unavailable: {exc}")
        return redirect("my-instances")
    messages.success(request, f"Instance {scaled.pk} now runs {scaled.units} unit{'s' if scaled.units > 1 else ''}.")
    return redirect("my-instances")


@require_GET
def instance_scale_preview(request: HttpRequest, instance_id: str) -> HttpResponse:
    """The decision on the units typed into the scale form, before submitting (htmx fragment)."""
    actor = signed_in_address(request)
    if actor is None:
        return HttpResponse("sign in with your wallet first", status=401)
    instance = _instance_of(instance_id)
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
        return redirect(f"{reverse('signin')}?next={reverse('my-instances')}")
    instance = _instance_of(instance_id)
    try:
        checked = licences.instance_verify(instance=instance, actor=actor)
    except services.PermissionDeniedError as exc:
        messages.error(request, f"Not verified: {exc}.")
        return _instances_page(request, actor, status=403)
    except LedgerError as exc:
        messages.error(request, f"Not verified: the chain is unavailable: {exc}")
        return redirect("my-instances")
    level = messages.success if checked.integrity == "verified" else messages.warning
    level(request, f"Instance {checked.pk}: {checked.integrity}; {checked.integrity_detail}.")
    return redirect("my-instances")


@require_POST
def licence_transfer(request: HttpRequest, licence_id: int) -> JsonResponse:
    """The decision on transferring a licence to {"to": ADDRESS} and, when permitted, the unsigned
    transferLicence transaction the holder's wallet sends (static/js/licensing.js)."""

    def work(actor: str, body: dict[str, Any]) -> dict[str, Any]:
        recipient = body.get("to")
        try:
            address = services.normalise_address(recipient.strip()) if isinstance(recipient, str) else ""
        except PackageRejected:
            address = ""
        if not address:
            raise services.ValidationFailed({"to": f"{recipient!r} is not an Ethereum address"})
        held = AcquiredLicence.objects.filter(chain_id=get_chain_client().chain_id(), licence_id=licence_id).first()
        if held is None:
            raise Http404(f"no licence #{licence_id} on the connected chain")
        return licences.licence_transfer_prepare(licence=held, holder=actor, recipient=address)

    try:
        return _json_or_error(request, work)
    except licences.LicenceDenied as exc:
        return JsonResponse({"error": exc.decision.reason, "decision": exc.decision.as_dict()}, status=403)
    except Http404 as exc:
        return JsonResponse({"error": str(exc)}, status=404)


# --- Licensing: my licences, my offers; Provenance: timelines and charts ---


def _chain_now() -> tuple[int, int]:
    """The connected chain's id and its latest block time (licence expiry is chain time)."""
    client = get_chain_client()
    return client.chain_id(), client.now()


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 else 1


def _signin_redirect(request: HttpRequest) -> HttpResponse:
    return redirect(f"{reverse('signin')}?next={request.path}")


@require_GET
def my_licences(request: HttpRequest) -> HttpResponse:
    actor = signed_in_address(request)
    if actor is None:
        return _signin_redirect(request)
    try:
        chain_id, now = _chain_now()
    except LedgerError as exc:
        return render(request, "dportal/licences.html", {"unavailable": str(exc)}, status=503)
    held = licence_selectors.licences_of(user=actor, chain_id=chain_id, now=now)
    return render(request, "dportal/licences.html", {"licences": held})


@require_GET
def licence_agreement(request: HttpRequest, licence_id: int) -> JsonResponse:
    """The signed EIP-712 agreement behind a licence, as a JSON download: for the licensee and the
    offer's provider only."""
    actor = signed_in_address(request)
    if actor is None:
        return JsonResponse({"error": "sign in with your wallet first"}, status=401)
    try:
        chain_id, now = _chain_now()
    except LedgerError as exc:
        return JsonResponse({"error": f"the chain is unavailable: {exc}"}, status=503)
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
        return _signin_redirect(request)
    try:
        chain_id, _ = _chain_now()
    except LedgerError as exc:
        return render(request, "dportal/offers.html", {"unavailable": str(exc)}, status=503)
    offers = licence_selectors.offers_of(address=actor, chain_id=chain_id)
    return render(request, "dportal/offers.html", {"offers": offers})


@require_POST
def offer_close(request: HttpRequest, offer_id: int) -> JsonResponse:
    """The unsigned closeOffer transaction for the provider's wallet; others get 403 with the reason."""
    return _json_or_error(request, lambda actor, _body: licences.offer_close_prepare(offer_id=offer_id, actor=actor))


@require_GET
def offer_state(request: HttpRequest, offer_id: int) -> HttpResponse:
    """An offer's state as the indexer has it; with ?sent=1 it polls itself until the offer is closed."""
    try:
        chain_id, _ = _chain_now()
    except LedgerError as exc:
        return HttpResponse(f"the chain is unavailable: {exc}", status=503)
    offer = licence_selectors.offer_state(offer_id=offer_id, chain_id=chain_id)
    if offer is None:
        raise Http404("no such offer")
    context = {"o": offer, "sent": request.GET.get("sent") == "1"}
    return render(request, "dportal/offers.html#offer-state", context)


def _timeline_page(
    request: HttpRequest, template_context: dict[str, Any], timeline: licence_selectors.Timeline
) -> HttpResponse:
    context = {**template_context, "timeline": timeline}
    if _is_htmx(request):
        return render(request, "dportal/provenance.html#timeline", context)
    return render(request, "dportal/provenance.html", context)


def _charts(*, chain_id: int, now: int, offer_ids: list[int] | None, ns_ids: list[str] | None) -> dict[str, Any]:
    from datetime import UTC, datetime

    today = datetime.fromtimestamp(now, UTC).date()
    return {
        "sales_chart": charts.sales_chart(
            licence_selectors.sales_per_day(chain_id=chain_id, today=today, offer_ids=offer_ids)
        ),
        "instances_chart": charts.instances_chart(licence_selectors.instances_per_day(today=today, ns_ids=ns_ids)),
        "seats_chart": charts.seats_chart(
            licence_selectors.seats_per_licence(chain_id=chain_id, now=now, offer_ids=offer_ids)
        ),
    }


@require_GET
def provenance(request: HttpRequest) -> HttpResponse:
    try:
        chain_id, now = _chain_now()
    except LedgerError as exc:
        return render(request, "dportal/provenance.html", {"unavailable": str(exc)}, status=503)
    timeline = licence_selectors.provenance_timeline(chain_id=chain_id, page=_page_number(request))
    context: dict[str, Any] = {"scope": "all", "base_url": reverse("provenance")}
    if not _is_htmx(request):
        context.update(_charts(chain_id=chain_id, now=now, offer_ids=None, ns_ids=None))
    return _timeline_page(request, context, timeline)


@require_GET
def package_provenance(request: HttpRequest, package_id: str) -> HttpResponse:
    package = _package(package_id)
    try:
        chain_id, now = _chain_now()
    except LedgerError as exc:
        return render(request, "dportal/provenance.html", {"unavailable": str(exc), "package": package}, status=503)
    timeline = licence_selectors.package_timeline(package=package, chain_id=chain_id, page=_page_number(request))
    context: dict[str, Any] = {
        "scope": "package",
        "package": package,
        "base_url": reverse("package-provenance", args=[package_id]),
    }
    if not _is_htmx(request):
        offer_ids = licence_selectors.package_offer_ids(package=package, chain_id=chain_id)
        ns_ids = licence_selectors.package_ns_ids(package=package)
        context.update(_charts(chain_id=chain_id, now=now, offer_ids=offer_ids, ns_ids=ns_ids))
    return _timeline_page(request, context, timeline)


@require_GET
def licence_provenance(request: HttpRequest, licence_id: int) -> HttpResponse:
    try:
        chain_id, now = _chain_now()
    except LedgerError as exc:
        return render(request, "dportal/provenance.html", {"unavailable": str(exc)}, status=503)
    view = licence_selectors.licence_view(licence_id=licence_id, chain_id=chain_id, now=now)
    if view is None:
        raise Http404("no such licence")
    timeline = licence_selectors.licence_timeline(licence=view.licence, page=_page_number(request))
    context: dict[str, Any] = {
        "scope": "licence",
        "lic": view,
        "base_url": reverse("licence-provenance", args=[licence_id]),
    }
    return _timeline_page(request, context, timeline)
