"""The NFV Repository's JSON API (/api/v1/...): sign-in, packages, VNFs and network services, on-chain
registration and proofs. Thin operations: parse (the typed schemas do), call one service or selector,
answer; domain errors become answers in marketplace/api/errors.py."""

from __future__ import annotations

from typing import Any, Literal

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from ninja import Query, Router, Status

from ledger.client import get_chain_client
from marketplace.accounts import services as accounts
from marketplace.api import schemas
from marketplace.api.auth import OPTIONAL, bearer, requester, viewer
from marketplace.api.downloads import ARCHIVE_TYPES, archive_response, member_response
from marketplace.contract_manager import decisions
from marketplace.errors import ValidationFailed
from marketplace.lookups import descriptor_or_404, package_or_404
from marketplace.repository import presenters, registration, selectors, services
from marketplace.repository.filters import PackageFilters
from marketplace.repository.models import NetworkService, Package, Vnf

router = Router()
E = schemas.Error
DOWNLOAD_RULE = (
    "A licensed-only package (at least one open trial or private offer on chain, no open public offer) is "
    "downloaded by its uploader or publisher, or by the holder of a valid licence whose policy permits "
    "download; the requester is the bearer token's address or the portal session's."
)
DOWNLOAD_ERRORS = {
    401: E,  # a licensed-only package and nobody signed in: the reason says what is needed
    403: E,  # the requester may not download this licensed-only package: the reason says why
    404: E,
    503: E,  # the chain, which the licence decision needs, is unavailable
}
MEMBER = {
    "200": {
        "description": "the file, typed as the package lists it",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    }
}
SIGNED_IN_OR_NOT: list[dict[str, list[str]]] = [
    {}
]  # added to the Bearer requirement django-ninja writes: anonymous is allowed too
ARCHIVE = {
    "200": {
        "description": "the archive as uploaded, typed by its bytes; 206 with one byte range on request",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in ARCHIVE_TYPES},
    }
}


# --- sign-in ---


@router.post("/auth/nonce", response={201: schemas.Nonce, 503: E}, tags=["sign-in"])
def auth_nonce(request: HttpRequest) -> Status[Any]:
    """Start a Sign-In with Ethereum: a one-time nonce, the domain and chain to sign for."""
    return Status(
        201,
        {
            "nonce": accounts.signin_nonce_issue(),
            "domain": request.get_host(),
            "uri": request.build_absolute_uri("/"),
            "chain_id": get_chain_client().chain_id(),
        },
    )


@router.post("/auth/token", response={201: schemas.Token, 400: E, 401: E, 503: E}, tags=["sign-in"])
def auth_token(request: HttpRequest, body: schemas.SignIn) -> Status[Any]:
    """Exchange a signed EIP-4361 message for a bearer token."""
    address = accounts.signin_verify(message=body.message, signature=body.signature, domain=request.get_host())
    token, record = accounts.api_token_issue(address=address)
    return Status(201, {"token": token, "address": address, "expires_at": record.expires_at.isoformat()})


# --- packages ---


@router.get("/packages", response={200: schemas.PackagePage, 400: E}, tags=["packages"])
def packages(request: HttpRequest, filters: Query[PackageFilters]) -> dict[str, object]:
    """Search packages: words, filters, sort and pages; the latest version of each line by default."""
    page = selectors.package_search(filters.to_query(viewer=viewer(request)))
    return {
        "items": [presenters.package_summary(p) for p in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": page.pages,
    }


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["package"],
                    "properties": {"package": {"type": "string", "format": "binary"}},
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.post(
    "/packages",
    auth=bearer,
    response={200: schemas.Package, 201: schemas.Package, 400: E, 401: E, 409: E, 413: E, 422: E},
    openapi_extra=UPLOAD_BODY,
    tags=["packages"],
)
def package_upload(request: HttpRequest) -> Status[Any]:
    """Upload a package: the multipart field 'package', or the archive as the raw body (X-Filename names it).
    200: the identical archive was already stored; 409: the same content is being uploaded right now;
    422: rejected, `problems` lists every reason."""
    uploader = str(request.auth)  # type: ignore[attr-defined]
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
    return Status(201 if result.created else 200, body)


@router.get("/packages/{package_id}", response={200: schemas.Package, 404: E}, tags=["packages"])
def package(request: HttpRequest, package_id: str) -> dict[str, object]:
    """A package."""
    return presenters.package_detail(package_or_404(package_id, viewer=viewer(request)))


@router.patch(
    "/packages/{package_id}",
    auth=bearer,
    response={200: schemas.Package, 400: E, 401: E, 403: E, 404: E},
    tags=["packages"],
)
def package_metadata(request: HttpRequest, package_id: str, body: schemas.Metadata) -> dict[str, object]:
    """Change metadata (uploader only); the digest is untouched."""
    found = package_or_404(package_id, viewer=viewer(request))
    changes = body.model_dump(exclude_unset=True)
    services.package_metadata_update(package=found, actor=str(request.auth), changes=changes)  # type: ignore[attr-defined]
    return presenters.package_detail(found)


@router.delete(
    "/packages/{package_id}", auth=bearer, response={204: None, 401: E, 403: E, 404: E, 409: E}, tags=["packages"]
)
def package_delete(request: HttpRequest, package_id: str) -> HttpResponse:
    """Delete a package nothing refers to (uploader only); 409: referenced, deprecate it instead."""
    services.package_delete(package=package_or_404(package_id, viewer=viewer(request)), actor=str(request.auth))  # type: ignore[attr-defined]
    return HttpResponse(status=204)


@router.post(
    "/packages/{package_id}/deprecate",
    auth=bearer,
    response={200: schemas.Package, 401: E, 403: E, 404: E, 409: E},
    tags=["packages"],
)
def package_deprecate(request: HttpRequest, package_id: str) -> dict[str, object]:
    """Deprecate (uploader only); 409: revoked packages stay revoked."""
    actor = str(request.auth)  # type: ignore[attr-defined]
    found = services.package_deprecate(package=package_or_404(package_id, viewer=actor), actor=actor)
    return presenters.package_detail(found)


@router.get("/packages/{package_id}/versions", response={200: schemas.Summaries, 404: E}, tags=["packages"])
def package_versions(request: HttpRequest, package_id: str) -> dict[str, object]:
    """Every version of the package's vendor/name line, newest first."""
    who = viewer(request)
    versions = selectors.package_versions(package_or_404(package_id, viewer=who), viewer=who)
    return {"items": [presenters.package_summary(p) for p in versions]}


@router.get("/packages/{package_id}/history", response={200: schemas.Items, 404: E}, tags=["packages"])
def package_history(request: HttpRequest, package_id: str) -> dict[str, object]:
    """Metadata changes: who, when, before, after."""
    changes = package_or_404(package_id, viewer=viewer(request)).metadatachange_set.order_by("-changed_at")
    return {"items": [presenters.metadata_change(c) for c in changes]}


@router.get("/packages/{package_id}/verification", response={200: schemas.Items, 404: E}, tags=["packages"])
def package_verification(request: HttpRequest, package_id: str) -> dict[str, object]:
    """What was checked at ingest and since, with the digests."""
    records = package_or_404(package_id, viewer=viewer(request)).verificationrecord_set.order_by("-checked_at")
    return {"items": [presenters.verification(r) for r in records]}


@router.get(
    "/packages/{package_id}/files", url_name="package-files", response={200: schemas.Files, 404: E}, tags=["packages"]
)
def package_files(request: HttpRequest, package_id: str) -> dict[str, object]:
    """The package's files."""
    return {"items": [presenters.package_file(f) for f in package_or_404(package_id, viewer=viewer(request)).files]}


def _download_authorise(request: HttpRequest, found: Package, what: str) -> None:
    decisions.package_download_authorise(package=found, user=requester(request), what=what)


@router.get(
    "/packages/{package_id}/content",
    url_name="package-content",
    auth=OPTIONAL,
    response={**DOWNLOAD_ERRORS, 206: None, 416: E},
    openapi_extra={"responses": ARCHIVE, "description": DOWNLOAD_RULE, "security": SIGNED_IN_OR_NOT},
    tags=["packages"],
)
def package_content(request: HttpRequest, package_id: str) -> HttpResponseBase:
    """Download the whole archive (one byte range on request)."""
    found = package_or_404(package_id, viewer=viewer(request))
    _download_authorise(request, found, "archive")
    return archive_response(request, found, negotiated=False)


@router.get(
    "/packages/{package_id}/files/{path:path}",
    url_name="package-file",
    auth=OPTIONAL,
    response=DOWNLOAD_ERRORS,
    openapi_extra={"responses": MEMBER, "description": DOWNLOAD_RULE, "security": SIGNED_IN_OR_NOT},
    tags=["packages"],
)
def package_file(request: HttpRequest, package_id: str, path: str) -> HttpResponseBase:
    """Download one file."""
    found = package_or_404(package_id, viewer=viewer(request))
    entry = next((f for f in found.files if f.path == path), None)
    if entry is None:
        raise Http404(f"package {package_id} has no file {path!r}")
    _download_authorise(request, found, f"file {path}")
    return member_response(found, entry)


# --- VNFs and network services ---


@router.get("/vnfs/{vnf_id}", response={200: schemas.Descriptor, 404: E}, tags=["descriptors"])
def vnf(request: HttpRequest, vnf_id: str) -> dict[str, object]:
    """A VNF."""
    return presenters.descriptor_detail(descriptor_or_404(Vnf, vnf_id, viewer=viewer(request)))


@router.get("/nss/{ns_id}", response={200: schemas.Descriptor, 404: E}, tags=["descriptors"])
def ns(request: HttpRequest, ns_id: str) -> dict[str, object]:
    """A network service."""
    return presenters.descriptor_detail(descriptor_or_404(NetworkService, ns_id, viewer=viewer(request)))


DOCUMENT = {
    "responses": {
        "200": {
            "description": "the descriptor",
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    }
}


DESCRIPTOR_DOCUMENT: dict[str, Any] = {
    "auth": OPTIONAL,
    "response": {**DOWNLOAD_ERRORS, 400: E},
    "openapi_extra": {**DOCUMENT, "description": DOWNLOAD_RULE, "security": SIGNED_IN_OR_NOT},
    "tags": ["descriptors"],
}


def _descriptor_document(
    request: HttpRequest, model: type[Vnf] | type[NetworkService], pk: str, fmt: str
) -> HttpResponse:
    """A descriptor document is package content: its download is decided as the package's would be."""
    found = descriptor_or_404(model, pk, viewer=viewer(request))
    _download_authorise(request, found.package, f"descriptor {found.file}")
    return presenters.descriptor_document(found, fmt)


@router.get("/vnfs/{vnf_id}/descriptor", url_name="vnf-descriptor", **DESCRIPTOR_DOCUMENT)
def vnf_descriptor(request: HttpRequest, vnf_id: str, format: Literal["yaml", "json"] = "yaml") -> HttpResponse:
    """The VNF's descriptor document, YAML (the default) or JSON."""
    return _descriptor_document(request, Vnf, vnf_id, format)


@router.get("/nss/{ns_id}/descriptor", url_name="ns-descriptor", **DESCRIPTOR_DOCUMENT)
def ns_descriptor(request: HttpRequest, ns_id: str, format: Literal["yaml", "json"] = "yaml") -> HttpResponse:
    """The network service's descriptor document, YAML (the default) or JSON."""
    return _descriptor_document(request, NetworkService, ns_id, format)


@router.get("/nss/{ns_id}/graph", response={200: schemas.Graph, 404: E}, tags=["descriptors"])
def ns_graph(request: HttpRequest, ns_id: str) -> dict[str, object]:
    """The NS-to-VNF dependency graph, with the NSD's virtual links and their wiring."""
    found = descriptor_or_404(NetworkService, ns_id, viewer=viewer(request))
    assert isinstance(found, NetworkService)
    return selectors.ns_graph(found)


# --- on-chain registration ---


@router.get(
    "/packages/{package_id}/registration",
    auth=bearer,
    response={200: schemas.RegistrationToSign, 401: E, 403: E, 404: E, 409: E, 503: E},
    tags=["registration"],
)
def registration_get(request: HttpRequest, package_id: str) -> dict[str, object]:
    """The EIP-712 registration the uploader's wallet signs (uploader only), and the claim of the package's
    line while it has no owner; 409: the package cannot be registered (no vendor, a version that cannot be
    encoded, or a line another key owns)."""
    found = package_or_404(package_id, viewer=viewer(request))
    return registration.registration_prepare(package=found, actor=str(request.auth))  # type: ignore[attr-defined]


@router.post(
    "/packages/{package_id}/registration",
    auth=bearer,
    response={202: schemas.Proof, 400: E, 401: E, 403: E, 404: E, 409: E, 503: E},
    tags=["registration"],
)
def registration_post(request: HttpRequest, package_id: str, body: schemas.SignedRegistration) -> Status[Any]:
    """Submit the signed registration: relayed now, or anchored with the next batch. 202: accepted; the
    proof follows once the indexer confirms it. 409: already registered or queued, or refused."""
    found = package_or_404(package_id, viewer=viewer(request))
    registration.registration_submit(
        package=found,
        actor=str(request.auth),  # type: ignore[attr-defined]
        typed_data=body.typed_data,
        signature=body.signature,
        mode=body.mode,
        claim_typed_data=body.claim_typed_data,
        claim_signature=body.claim_signature,
    )
    return Status(202, selectors.package_proof(found))


@router.get(
    "/packages/{package_id}/proof",
    url_name="package-proof",
    response={200: schemas.Proof, 404: E, 503: E},
    tags=["registration"],
)
def package_proof(request: HttpRequest, package_id: str) -> dict[str, object]:
    """Where the package stands on chain, with the evidence to verify it independently."""
    return selectors.package_proof(package_or_404(package_id, viewer=viewer(request)))


@router.post(
    "/packages/{package_id}/verify",
    auth=bearer,
    response={200: schemas.Verification, 401: E, 403: E, 404: E, 503: E},
    tags=["registration"],
)
def package_verify(request: HttpRequest, package_id: str) -> dict[str, object]:
    """Check the stored package against its digests and the chain again (the record is kept): its uploader
    or registered publisher only; anyone can check the package with `nfvm verify`."""
    actor = str(request.auth)  # type: ignore[attr-defined]
    return presenters.verification(
        registration.package_reverify_as(package=package_or_404(package_id, viewer=viewer(request)), actor=actor)
    )
