"""ETSI NFV-SOL 005 read endpoints (VNF package management, NSD management) over the repository, so an
orchestrator can list and fetch VNF and NS packages; errors are SOL013 ProblemDetails."""

from __future__ import annotations

import functools
import io
import zipfile
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from marketplace.api.auth import bearer_address, viewer
from marketplace.api.downloads import ZIP, archive_response, negotiate
from marketplace.api.sol005_filters import (
    NS_DESCRIPTOR,
    VNF_PACKAGE,
    FilterError,
    Resource,
    excluded_attributes,
    matches,
    parse_filter,
)
from marketplace.api.sol005_shapes import nsd_info, vnf_pkg_info, vnfd_files
from marketplace.contract_manager import decisions
from marketplace.contract_manager.decisions import LicenceDenied
from marketplace.errors import AuthenticationError, NotAcceptable, RangeNotSatisfiable, outage
from marketplace.lookups import object_id_or_404
from marketplace.repository import blobs, sol005_reads
from marketplace.repository.models import Package
from marketplace.repository.packages.archive import open_archive
from marketplace.repository.sol005_reads import NsVnfPackages, VnfPackageUsage

JSON = "application/json"
PROBLEM = "application/problem+json"
TEXT = "text/plain"
View = Callable[..., HttpResponseBase]


# --- errors: the one mapping of this surface's refusals and domain errors to ProblemDetails ---


def problem_response(request: HttpRequest, status: int, detail: str) -> JsonResponse:
    body = {
        "type": "about:blank",  # RFC 7807: the HTTP status says it all, `title` is its phrase
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.build_absolute_uri(),
    }
    return JsonResponse(body, status=status, content_type=PROBLEM)


def _problem(exc: Exception) -> tuple[int, str, dict[str, str]] | None:
    """(status, detail, headers) of a ProblemDetails for `exc`, or None for a bug (a 500)."""
    if isinstance(exc, Http404):
        return 404, str(exc) or "not found", {}
    if isinstance(exc, FilterError):
        return 400, str(exc), {}
    if isinstance(exc, NotAcceptable):
        return 406, str(exc), {}
    if isinstance(exc, RangeNotSatisfiable):
        return 416, str(exc), {"Content-Range": f"bytes */{exc.size}"}
    if isinstance(exc, AuthenticationError):
        return 401, "the bearer token is unknown or expired: sign in again", {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, LicenceDenied):
        if exc.anonymous:
            return 401, exc.decision.reason, {"WWW-Authenticate": "Bearer"}
        return 403, exc.decision.reason, {}
    down = outage(exc)
    if down is not None:
        return 503, down, {}
    return None


def sol005_get(view: View) -> View:
    """Like require_GET, but every refusal and error is a ProblemDetails. CSRF-exempt so that a POST
    meets the 405 rather than the CSRF check: these endpoints never change anything."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method != "GET":
            response = problem_response(request, 405, f"{request.method} is not supported: this interface only reads")
            response["Allow"] = "GET"
            return response
        try:
            return view(request, *args, **kwargs)
        except Exception as exc:
            answer = _problem(exc)
            if answer is None:
                raise
            status, detail, headers = answer
            response = problem_response(request, status, detail)
            for name, value in headers.items():
                response[name] = value
            return response

    return wrapper


def _vnf_package(request: HttpRequest, vnf_pkg_id: str) -> VnfPackageUsage:
    found = sol005_reads.sol005_vnf_packages(object_id_or_404(vnf_pkg_id, "VNF package"), viewer=viewer(request))
    if not found:
        raise Http404(f"no VNF package {vnf_pkg_id}")
    return found[0]


def _network_service(request: HttpRequest, nsd_info_id: str) -> NsVnfPackages:
    found = sol005_reads.sol005_network_services(object_id_or_404(nsd_info_id, "NS descriptor"), viewer=viewer(request))
    if not found:
        raise Http404(f"no NS descriptor {nsd_info_id}")
    return found[0]


def _list(request: HttpRequest, resource: Resource, items: Sequence[dict[str, Any]]) -> JsonResponse:
    expressions = parse_filter(request.GET.get("filter"), resource)
    leave_out = excluded_attributes(request.GET, resource)
    body = [{k: v for k, v in item.items() if k not in leave_out} for item in items if matches(item, expressions)]
    return JsonResponse(body, safe=False)


def _read_files(package: Package, paths: Sequence[str]) -> dict[str, bytes]:
    with blobs.blob_open(package.digest) as blob, open_archive(blob) as archive:
        return {p: archive.read(p) for p in paths}


def _zip(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _download_authorise(request: HttpRequest, package: Package, what: str) -> None:
    """The licence decision on fetching `package`'s archive: an orchestrator sends the licensee's API token
    (Authorization: Bearer, from /api/v1/auth/token); a licensed-only package needs it (401 without, 403
    when its holder may not download), with the reason."""
    decisions.package_download_authorise(package=package, user=bearer_address(request), what=what)


# --- views ---


@sol005_get
def vnf_packages(request: HttpRequest) -> JsonResponse:
    negotiate(request, (JSON,))
    return _list(
        request,
        VNF_PACKAGE,
        [vnf_pkg_info(request, u) for u in sol005_reads.sol005_vnf_packages(viewer=viewer(request))],
    )


@sol005_get
def vnf_package(request: HttpRequest, vnf_pkg_id: str) -> JsonResponse:
    usage = _vnf_package(request, vnf_pkg_id)
    negotiate(request, (JSON,))
    return JsonResponse(vnf_pkg_info(request, usage))


@sol005_get
def vnf_package_content(request: HttpRequest, vnf_pkg_id: str) -> HttpResponseBase:
    package = _vnf_package(request, vnf_pkg_id).package
    _download_authorise(request, package, "archive (SOL005 package_content)")
    return archive_response(request, package)


@sol005_get
def vnf_package_vnfd(request: HttpRequest, vnf_pkg_id: str) -> HttpResponse:
    """The VNFD: one YAML file as text/plain, or a zip of its files (SOL005: a
    VNFD of several files is only served zipped)."""
    usage = _vnf_package(request, vnf_pkg_id)
    _download_authorise(request, usage.package, "VNFD (SOL005 vnfd)")
    paths = vnfd_files(usage)
    if len(paths) == 1:
        chosen = negotiate(request, (TEXT, ZIP))
    else:
        chosen = negotiate(request, (ZIP,), f" (this VNFD is {len(paths)} files, served only as a zip)")
    files = _read_files(usage.package, paths)
    if chosen == TEXT:
        return HttpResponse(files[paths[0]], content_type=f"{TEXT}; charset=utf-8")
    response = HttpResponse(_zip(files), content_type=ZIP)
    response["Content-Disposition"] = f'attachment; filename="vnfd-{usage.package.pk}.zip"'
    return response


@sol005_get
def ns_descriptors(request: HttpRequest) -> JsonResponse:
    negotiate(request, (JSON,))
    return _list(
        request,
        NS_DESCRIPTOR,
        [nsd_info(request, n) for n in sol005_reads.sol005_network_services(viewer=viewer(request))],
    )


@sol005_get
def ns_descriptor(request: HttpRequest, nsd_info_id: str) -> JsonResponse:
    found = _network_service(request, nsd_info_id)
    negotiate(request, (JSON,))
    return JsonResponse(nsd_info(request, found))


@sol005_get
def nsd_content(request: HttpRequest, nsd_info_id: str) -> HttpResponseBase:
    package = _network_service(request, nsd_info_id).ns.package
    _download_authorise(request, package, "archive (SOL005 nsd_content)")
    return archive_response(request, package)


vnfpkgm_urls = [
    path("vnf_packages", vnf_packages, name="sol005-vnf-packages"),
    path("vnf_packages/<str:vnf_pkg_id>", vnf_package, name="sol005-vnf-package"),
    path("vnf_packages/<str:vnf_pkg_id>/package_content", vnf_package_content, name="sol005-vnf-package-content"),
    path("vnf_packages/<str:vnf_pkg_id>/vnfd", vnf_package_vnfd, name="sol005-vnf-package-vnfd"),
]


nsd_urls = [
    path("ns_descriptors", ns_descriptors, name="sol005-ns-descriptors"),
    path("ns_descriptors/<str:nsd_info_id>", ns_descriptor, name="sol005-ns-descriptor"),
    path("ns_descriptors/<str:nsd_info_id>/nsd_content", nsd_content, name="sol005-nsd-content"),
]
