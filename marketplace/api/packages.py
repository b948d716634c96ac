"""The JSON API (/api/v1/...): thin views that parse input, call one service or selector,
and answer JSON. Domain errors become HTTP answers in one place: `api_view`."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from ledger.client import get_chain_client
from ledger.exceptions import LedgerError
from marketplace.accounts import services as accounts
from marketplace.contract_manager.decisions import LicenceDenied
from marketplace.errors import AuthenticationError, ConflictError, PermissionDeniedError, ValidationFailed
from marketplace.repository import blobs, presenters, registration, selectors, services
from marketplace.repository.models import NetworkService, Package, Vnf
from marketplace.repository.packages.problems import PackageRejected
from marketplace.repository.selectors import PackageQuery, system_status

log = logging.getLogger(__name__)
View = Callable[..., HttpResponse | StreamingHttpResponse]


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        self.status = status
        self.message = message
        self.extra = extra
        super().__init__(message)


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def api_view(methods: tuple[str, ...]) -> Callable[[View], View]:
    """Method check, CSRF exemption (bearer tokens, never cookies, authenticate writes) and
    the single mapping of domain errors to HTTP answers."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse | StreamingHttpResponse:
            if request.method not in methods:
                response = _error(405, f"{request.method} is not allowed here; use {', '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return _error(exc.status, exc.message, **exc.extra)
            except PackageRejected as exc:
                status = 413 if any(p.rule == "upload.too-large" for p in exc.problems) else 422
                return _error(status, "the package was rejected", problems=[p.as_dict() for p in exc.problems])
            except ValidationFailed as exc:
                return _error(400, "invalid input", fields=exc.errors)
            except AuthenticationError as exc:
                return _error(401, str(exc))
            except PermissionDeniedError as exc:
                return _error(403, str(exc))
            except Http404 as exc:
                return _error(404, str(exc) or "not found")
            except ConflictError as exc:
                return _error(409, str(exc))
            except LicenceDenied as exc:
                return _error(403, exc.decision.reason, decision=exc.decision.as_dict())
            except blobs.BlobBusy as exc:
                return _error(409, str(exc))
            except LedgerError as exc:
                return _error(503, f"the chain is unavailable: {exc}")

        return wrapper

    return decorate


def _actor(request: HttpRequest) -> str:
    """The signed-in address: a bearer token from /api/v1/auth/token."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "sign in first: POST /api/v1/auth/nonce, sign the message, POST /api/v1/auth/token",
            hint="send the token as 'Authorization: Bearer <token>'",
        )
    address = selectors.api_token_address(token.strip())
    if address is None:
        raise ApiError(401, "the token is unknown or expired; sign in again")
    return address


def _requester(request: HttpRequest) -> str | None:
    """Who asks, when signing in is optional: a bearer token if one is sent (an unknown one is refused),
    else the portal session's wallet address, else None (anonymous)."""
    if request.headers.get("Authorization"):
        return _actor(request)
    from dportal.access import signed_in_address  # the portal's download links carry its session

    return signed_in_address(request)


def _download_authorise(request: HttpRequest, package: Package, what: str) -> None:
    """The decision point on a download of `package`: 401 for anonymous, 403 for others, with the reason."""
    from marketplace.contract_manager import decisions

    user = _requester(request)
    try:
        decisions.package_download_authorise(package=package, user=user, what=what)
    except LicenceDenied as exc:
        raise ApiError(401 if user is None else 403, exc.decision.reason, decision=exc.decision.as_dict()) from None


def _object_id(value: str) -> ObjectId:
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        raise Http404(f"{value!r} is not a valid id") from None


def _package(package_id: str) -> Package:
    package = Package.objects.filter(pk=_object_id(package_id)).first()
    if package is None:
        raise Http404(f"no package {package_id}")
    return package


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


# --- health ---


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, chain and contracts are usable; 503 naming what is not."""
    status = system_status()
    return JsonResponse(status.as_dict(), status=200 if status.ok else 503)


# --- sign-in ---


@api_view(("POST",))
def auth_nonce(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "nonce": accounts.signin_nonce_issue(),
            "domain": request.get_host(),
            "uri": request.build_absolute_uri("/"),
            "chain_id": get_chain_client().chain_id(),
        },
        status=201,
    )


@api_view(("POST",))
def auth_token(request: HttpRequest) -> JsonResponse:
    body = _json_body(request)
    message, signature = body.get("message"), body.get("signature")
    if not isinstance(message, str) or not isinstance(signature, str):
        raise ValidationFailed({"message": "the signed EIP-4361 text", "signature": "its 0x-hex signature"})
    address = accounts.signin_verify(message=message, signature=signature, domain=request.get_host())
    token, record = accounts.api_token_issue(address=address)
    return JsonResponse({"token": token, "address": address, "expires_at": record.expires_at.isoformat()}, status=201)


# --- packages ---

INT_FILTERS = ("min_vcpus", "max_vcpus", "min_memory_mb", "max_memory_mb", "page", "per_page")
FLOAT_FILTERS = ("min_storage_gb", "max_storage_gb")


MAX_FILTER = 1e12
STATES = ("uploaded", "validated", "published", "deprecated", "revoked")
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_query(params: Any) -> PackageQuery:
    """Search parameters, each checked: a wrong one is named, never silently ignored."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    # An empty value counts as given: `?kind=` is an error, not "any kind" (the portal drops empty fields).
    for key in ("q", "kind", "format", "vendor", "state", "uploader", "sort"):
        value = params.get(key)
        if value is None or (value == "" and key in ("q", "vendor", "uploader")):
            continue
        if len(value) > 200:
            errors[key] = "at most 200 characters"
        values[key] = value
    choices = {
        "kind": ("vnf", "ns"),
        "format": ("etsi", "osm", "5gtango"),
        "state": STATES,
        "sort": tuple(selectors.SORTS),
    }
    for key, allowed in choices.items():
        if key in values and values[key] not in allowed:
            errors[key] = "must be one of " + ", ".join(allowed)
    for key in INT_FILTERS + FLOAT_FILTERS:
        raw = params.get(key)
        if raw is None:
            continue
        try:
            number = int(raw) if key in INT_FILTERS else float(raw)
        except ValueError:
            errors[key] = "must be a number"
            continue
        # Bounded well inside what the database's 64-bit numbers hold.
        if not 0 <= number <= MAX_FILTER or (key == "page" and number < 1):
            errors[key] = f"out of range (0-{MAX_FILTER:.0f})"
            continue
        if key == "per_page" and not 1 <= number <= 100:
            errors[key] = "out of range (1-100)"
            continue
        values[key] = number
    # An empty tag field (a form left blank) means no tag filter.
    tags = [t.strip().lower() for t in params.getlist("tag") if t.strip()] if hasattr(params, "getlist") else []
    if any(len(t) > 64 for t in tags) or len(tags) > 8:
        errors["tag"] = "at most 8 tags of 1-64 characters"
    values["tags"] = tuple(tags)
    flag = params.get("all_versions")
    if flag is not None:
        if flag.lower() not in BOOLEANS:
            errors["all_versions"] = "must be true or false"
        else:
            values["all_versions"] = BOOLEANS[flag.lower()]
    if errors:
        raise ValidationFailed(errors)
    return PackageQuery(**values)


@api_view(("GET", "POST"))
def packages(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        return _upload(request)
    page = selectors.package_search(parse_query(request.GET))
    return JsonResponse(
        {
            "items": [presenters.package_summary(p) for p in page.items],
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "pages": page.pages,
        }
    )


def _upload(request: HttpRequest) -> JsonResponse:
    uploader = _actor(request)
    if request.content_type == "multipart/form-data":
        upload = request.FILES.get("package")
        if upload is None:
            raise ValidationFailed({"package": "attach the archive as the multipart field 'package'"})
        result = services.package_ingest(source=upload, uploader=uploader, filename=upload.name or "")  # type: ignore[arg-type]
    else:
        filename = request.headers.get("X-Filename", "") or request.GET.get("filename", "")
        result = services.package_ingest(source=request, uploader=uploader, filename=filename)  # type: ignore[arg-type]
    body = presenters.package_detail(result.package)
    body["created"] = result.created
    if result.inspection is not None:
        body["warnings"] = [p.as_dict() for p in result.inspection.problems]
    return JsonResponse(body, status=201 if result.created else 200)


@api_view(("GET", "PATCH", "DELETE"))
def package(request: HttpRequest, package_id: str) -> HttpResponse:
    pkg = _package(package_id)
    if request.method == "PATCH":
        services.package_metadata_update(package=pkg, actor=_actor(request), changes=_json_body(request))
    elif request.method == "DELETE":
        services.package_delete(package=pkg, actor=_actor(request))
        return HttpResponse(status=204)
    return JsonResponse(presenters.package_detail(pkg))


@api_view(("POST",))
def package_deprecate(request: HttpRequest, package_id: str) -> JsonResponse:
    pkg = services.package_deprecate(package=_package(package_id), actor=_actor(request))
    return JsonResponse(presenters.package_detail(pkg))


@api_view(("GET",))
def package_versions(request: HttpRequest, package_id: str) -> JsonResponse:
    return JsonResponse(
        {"items": [presenters.package_summary(p) for p in selectors.package_versions(_package(package_id))]}
    )


@api_view(("GET",))
def package_history(request: HttpRequest, package_id: str) -> JsonResponse:
    pkg = _package(package_id)
    changes = pkg.metadatachange_set.order_by("-changed_at")
    return JsonResponse({"items": [presenters.metadata_change(c) for c in changes]})


@api_view(("GET",))
def package_verification(request: HttpRequest, package_id: str) -> JsonResponse:
    pkg = _package(package_id)
    records = pkg.verificationrecord_set.order_by("-checked_at")
    return JsonResponse({"items": [presenters.verification(r) for r in records]})


@api_view(("GET",))
def package_files(request: HttpRequest, package_id: str) -> JsonResponse:
    pkg = _package(package_id)
    return JsonResponse({"items": [presenters.package_file(f) for f in pkg.files]})


@api_view(("GET",))
def package_content(request: HttpRequest, package_id: str) -> FileResponse:
    pkg = _package(package_id)
    _download_authorise(request, pkg, "archive")
    return presenters.archive_response(pkg)


@api_view(("GET",))
def package_file(request: HttpRequest, package_id: str, path: str) -> StreamingHttpResponse:
    pkg = _package(package_id)
    entry = next((f for f in pkg.files if f.path == path), None)
    if entry is None:
        raise Http404(f"package {package_id} has no file {path!r}")
    _download_authorise(request, pkg, f"file {path}")
    return presenters.member_response(pkg, entry)


def _descriptor(model: type[Vnf] | type[NetworkService], descriptor_pk: str) -> Vnf | NetworkService:
    found = model.objects.filter(pk=_object_id(descriptor_pk)).select_related("package").first()
    if found is None:
        raise Http404(f"no {'VNF' if model is Vnf else 'network service'} {descriptor_pk}")
    return found


@api_view(("GET",))
def vnf(request: HttpRequest, vnf_id: str) -> JsonResponse:
    return JsonResponse(presenters.descriptor_detail(_descriptor(Vnf, vnf_id)))


@api_view(("GET",))
def ns(request: HttpRequest, ns_id: str) -> JsonResponse:
    return JsonResponse(presenters.descriptor_detail(_descriptor(NetworkService, ns_id)))


@api_view(("GET",))
def vnf_descriptor(request: HttpRequest, vnf_id: str) -> HttpResponse:
    return presenters.descriptor_document(_descriptor(Vnf, vnf_id), request.GET.get("format", "yaml"))


@api_view(("GET",))
def ns_descriptor(request: HttpRequest, ns_id: str) -> HttpResponse:
    return presenters.descriptor_document(_descriptor(NetworkService, ns_id), request.GET.get("format", "yaml"))


@api_view(("GET",))
def ns_graph(request: HttpRequest, ns_id: str) -> JsonResponse:
    found = _descriptor(NetworkService, ns_id)
    assert isinstance(found, NetworkService)
    return JsonResponse(selectors.ns_graph(found))


@require_GET
def schema(request: HttpRequest) -> JsonResponse:
    from marketplace.api.openapi import document

    return JsonResponse(document())


# --- on-chain registration ---


@api_view(("GET", "POST"))
def package_registration(request: HttpRequest, package_id: str) -> JsonResponse:
    """GET: the EIP-712 payload the uploader's wallet signs. POST: the signed payload, relayed now
    (`mode` "relay") or anchored with the next batch ("batch")."""
    pkg = _package(package_id)
    actor = _actor(request)
    if request.method == "GET":
        return JsonResponse({"typed_data": registration.registration_prepare(package=pkg, actor=actor)})
    body = _json_body(request)
    typed_data, signature, mode = body.get("typed_data"), body.get("signature"), body.get("mode", "relay")
    errors: dict[str, str] = {}
    if not isinstance(typed_data, dict):
        errors["typed_data"] = "the EIP-712 payload from GET, as signed"
    if not isinstance(signature, str):
        errors["signature"] = "the 0x-hex signature of typed_data"
    if not isinstance(mode, str):
        errors["mode"] = "relay or batch"
    if errors or not isinstance(typed_data, dict) or not isinstance(signature, str) or not isinstance(mode, str):
        raise ValidationFailed(errors)
    registration.registration_submit(package=pkg, actor=actor, typed_data=typed_data, signature=signature, mode=mode)
    return JsonResponse(selectors.package_proof(pkg), status=202)


@api_view(("GET",))
def package_proof(request: HttpRequest, package_id: str) -> JsonResponse:
    """Where the package stands on chain, with the evidence to check it independently."""
    return JsonResponse(selectors.package_proof(_package(package_id)))


@api_view(("POST",))
def package_verify(request: HttpRequest, package_id: str) -> JsonResponse:
    """Check the stored package against its digests and the chain again; the record is kept."""
    record = registration.package_reverify(package=_package(package_id))
    return JsonResponse(presenters.verification(record))
