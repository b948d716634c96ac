"""ETSI NFV-SOL 005 read endpoints (VNF package management, NSD management) over the repository, so an
orchestrator can list and fetch VNF and NS packages; errors are SOL013 ProblemDetails."""

from __future__ import annotations

import functools
import io
import operator as op
import posixpath
import re
import zipfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.http.request import MediaType
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt

from marketplace.repository import blobs, selectors
from marketplace.repository.models import NetworkService, Package, PackageState, Vnf
from marketplace.repository.packages.archive import open_archive
from marketplace.repository.selectors import NsVnfPackages, VnfPackageUsage

JSON = "application/json"
PROBLEM = "application/problem+json"
TEXT = "text/plain"
ZIP = "application/zip"
ARCHIVE_TYPES = (ZIP, "application/gzip", "application/x-tar")
View = Callable[..., HttpResponseBase]


# --- errors ---


@dataclass
class Problem(Exception):
    """An error answer as a SOL013 ProblemDetails."""

    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)


def problem_response(request: HttpRequest, status: int, detail: str) -> JsonResponse:
    body = {
        "type": "about:blank",  # RFC 7807: the HTTP status says it all, `title` is its phrase
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.build_absolute_uri(),
    }
    return JsonResponse(body, status=status, content_type=PROBLEM)


def sol005_get(view: View) -> View:
    """Like require_GET, but every refusal and error is a ProblemDetails. CSRF-exempt so that a POST
    meets the 405 rather than the CSRF check: these endpoints never change anything."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            if request.method != "GET":
                raise Problem(405, f"{request.method} is not supported: this interface only reads", {"Allow": "GET"})
            return view(request, *args, **kwargs)
        except Problem as exc:
            response = problem_response(request, exc.status, exc.detail)
            for name, value in exc.headers.items():
                response[name] = value
            return response

    return wrapper


def _negotiate(request: HttpRequest, offered: Sequence[str], why: str = "") -> str:
    """The offered media type the Accept header prefers (the first offered on a tie), else 406."""
    header = request.headers.get("Accept", "")
    if not header.strip():
        return offered[0]
    # Django drops q=0 ranges before matching, so "text/plain;q=0, */*" would still pick text/plain.
    refused = {f"{m.main_type}/{m.sub_type}" for t in header.split(",") if (m := MediaType(t)).quality == 0}
    chosen = request.get_preferred_type([o for o in offered if o not in refused])
    if chosen is None:
        raise Problem(406, f"cannot answer in any type the Accept header allows; offered: {', '.join(offered)}{why}")
    return str(chosen)


def _object_id(value: str, what: str) -> ObjectId:
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        raise Problem(404, f"no {what} {value!r}: not a valid id") from None


def _vnf_package(vnf_pkg_id: str) -> VnfPackageUsage:
    found = selectors.sol005_vnf_packages(_object_id(vnf_pkg_id, "VNF package"))
    if not found:
        raise Problem(404, f"no VNF package {vnf_pkg_id}")
    return found[0]


def _network_service(nsd_info_id: str) -> NsVnfPackages:
    found = selectors.sol005_network_services(_object_id(nsd_info_id, "NS descriptor"))
    if not found:
        raise Problem(404, f"no NS descriptor {nsd_info_id}")
    return found[0]


# --- SOL013 attribute filters and selectors ---

SINGLE_VALUE_OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte")
MULTI_VALUE_OPERATORS = ("in", "nin", "cont", "ncont")
NEGATIONS = {"neq": "eq", "nin": "in", "ncont": "cont"}
ORDERINGS: dict[str, Callable[[str, str], bool]] = {"gt": op.gt, "gte": op.ge, "lt": op.lt, "lte": op.le}
# A value is bare (no , ; ( ) or ') or in single quotes with '' for a quote (SOL013 attribute-based filtering).
_VALUE = r"(?:'(?:[^']|'')*'|[^,;()']*)"
_QUOTED_OR_BARE = re.compile(r"(?:^|,)('(?:[^']|'')*'|[^,']*)")
_EXPRESSION = re.compile(r"\(([a-z]+),([A-Za-z_.]+),((?:'(?:[^']|'')*'|[^;()'])*)\)")
_LOOSE_EXPRESSION = re.compile(r"\(([^,()]*),([^,()]*)")


@dataclass(frozen=True)
class Resource:
    """What the list endpoints of one resource type accept: filterable attributes (dotted paths into
    the representation) and the complex attributes attribute selectors may name."""

    filterable: tuple[str, ...]
    complex: tuple[str, ...]
    excluded_by_default: tuple[str, ...]

    @property
    def filter_pattern(self) -> str:
        attribute = "(?:" + "|".join(re.escape(a) for a in self.filterable) + ")"
        single = f"(?:{'|'.join(SINGLE_VALUE_OPERATORS)}),{attribute},{_VALUE}"
        multi = f"(?:{'|'.join(MULTI_VALUE_OPERATORS)}),{attribute},{_VALUE}(?:,{_VALUE})*"
        expression = rf"\((?:{single}|{multi})\)"
        return f"^{expression}(?:;{expression})*$"

    @property
    def fields_pattern(self) -> str:
        name = "(?:" + "|".join(re.escape(a) for a in self.complex) + ")"
        return f"^{name}(?:,{name})*$"


VNF_PACKAGE = Resource(
    filterable=(
        "id",
        "vnfdId",
        "vnfProvider",
        "vnfProductName",
        "vnfSoftwareVersion",
        "vnfdVersion",
        "packageSecurityOption",
        "onboardingState",
        "operationalState",
        "usageState",
        "checksum.algorithm",
        "checksum.hash",
        "softwareImages.id",
        "softwareImages.name",
        "userDefinedData.category",
        "userDefinedData.tags",
    ),
    complex=("checksum", "softwareImages", "additionalArtifacts", "userDefinedData"),
    # SOL005 leaves these out of a list unless all_fields, fields or exclude_fields asks for them.
    excluded_by_default=("checksum", "softwareImages", "additionalArtifacts", "userDefinedData"),
)
NS_DESCRIPTOR = Resource(
    filterable=(
        "id",
        "nsdId",
        "nsdName",
        "nsdVersion",
        "nsdDesigner",
        "nsdInvariantId",
        "nsdOnboardingState",
        "nsdOperationalState",
        "nsdUsageState",
        "vnfPkgIds",
        "userDefinedData.category",
        "userDefinedData.tags",
    ),
    complex=("vnfPkgIds", "pnfdInfoIds", "nestedNsdInfoIds", "userDefinedData"),
    excluded_by_default=("userDefinedData",),  # likewise for NsdInfo
)

Expression = tuple[str, str, list[str]]


def parse_filter(text: str | None, resource: Resource) -> list[Expression]:
    """The (operator, attribute, values) of a SOL013 `filter`; 400 naming what is wrong.

    The grammar is exactly the pattern the OpenAPI document publishes, so what it admits is served."""
    if text is None:
        return []
    if not re.fullmatch(resource.filter_pattern, text):
        raise Problem(400, _filter_mistake(text, resource))
    found: list[Expression] = []
    for match in _EXPRESSION.finditer(text):
        operator, attribute, values = match.groups()
        found.append((operator, attribute, [_unquote(v) for v in _QUOTED_OR_BARE.findall(values)]))
    return found


def _unquote(value: str) -> str:
    return value[1:-1].replace("''", "'") if value.startswith("'") else value


def _filter_mistake(text: str, resource: Resource) -> str:
    """Why `text` is not a filter we serve, naming the attribute or operator when one is at fault."""
    shown = text if len(text) <= 120 else text[:120] + "..."
    for operator, attribute in _LOOSE_EXPRESSION.findall(text):
        if attribute not in resource.filterable:
            return (
                f"filter attribute {attribute!r} is not one this resource can be filtered on; "
                f"supported: {', '.join(resource.filterable)}"
            )
        if operator not in SINGLE_VALUE_OPERATORS + MULTI_VALUE_OPERATORS:
            return f"filter operator {operator!r} (on {attribute!r}) is unknown; supported: " + ", ".join(
                SINGLE_VALUE_OPERATORS + MULTI_VALUE_OPERATORS
            )
    return (
        f"filter {shown!r} is not a SOL013 filter: write (op,attribute,value) expressions joined by ';'; "
        f"{', '.join(SINGLE_VALUE_OPERATORS)} take one value, {', '.join(MULTI_VALUE_OPERATORS)} a comma-"
        "separated list; quote a value holding , ; ( or ) in single quotes, doubling a quote inside"
    )


def matches(item: Mapping[str, Any], expressions: Sequence[Expression]) -> bool:
    """SOL013 semantics: expressions are ANDed; an attribute inside an array matches when any element
    does; a negated operator (neq, nin, ncont) matches when the positive one matches no element."""
    for operator, attribute, values in expressions:
        positive = NEGATIONS.get(operator, operator)
        hit = any(_compare(positive, found, values) for found in _values_at(item, attribute.split(".")))
        if hit == (operator in NEGATIONS):
            return False
    return True


def _values_at(node: Any, steps: list[str]) -> Iterator[str]:
    if isinstance(node, list):
        for element in node:
            yield from _values_at(element, steps)
    elif not steps:
        if isinstance(node, bool):
            yield "true" if node else "false"
        elif isinstance(node, (str, int, float)):
            yield str(node)
    elif isinstance(node, dict) and steps[0] in node:
        yield from _values_at(node[steps[0]], steps[1:])


def _compare(operator: str, found: str, values: list[str]) -> bool:
    if operator in ("eq", "in"):
        return found in values
    if operator == "cont":
        return any(v in found for v in values)
    # The attributes offered for filtering are strings: the order is the strings' order.
    return bool(ORDERINGS[operator](found, values[0]))


def excluded_attributes(params: Mapping[str, str], resource: Resource) -> set[str]:
    """The complex attributes to leave out, per SOL013 attribute selectors. Combinations SOL013 does
    not list are not refused: all_fields wins, then exclude_fields, then fields/exclude_default."""
    for name in ("exclude_fields", "fields"):
        value = params.get(name)
        if value is not None and not re.fullmatch(resource.fields_pattern, value):
            unknown = [a for a in value.split(",") if a not in resource.complex]
            raise Problem(
                400,
                f"{name} names {', '.join(repr(a) for a in unknown) or 'no attribute'}; "
                f"the complex attributes are {', '.join(resource.complex)}",
            )
    if "all_fields" in params:
        return set()
    if "exclude_fields" in params:
        return set(params["exclude_fields"].split(","))
    if "fields" in params:
        listed = set(params["fields"].split(","))
        kept_out = resource.excluded_by_default if "exclude_default" in params else resource.complex
        return set(kept_out) - listed
    return set(resource.excluded_by_default)


def _list(request: HttpRequest, resource: Resource, items: Sequence[dict[str, Any]]) -> JsonResponse:
    expressions = parse_filter(request.GET.get("filter"), resource)
    leave_out = excluded_attributes(request.GET, resource)
    body = [{k: v for k, v in item.items() if k not in leave_out} for item in items if matches(item, expressions)]
    return JsonResponse(body, safe=False)


# --- shapes ---


def _link(request: HttpRequest, name: str, **kwargs: str) -> dict[str, str]:
    return {"href": request.build_absolute_uri(reverse(name, kwargs=kwargs))}


def _operational_state(package: Package) -> str:
    return "DISABLED" if package.state in (PackageState.DEPRECATED, PackageState.REVOKED) else "ENABLED"


def _user_defined_data(package: Package) -> dict[str, Any]:
    return {"category": package.category, "tags": list(package.tags)}


def _dicts(document: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in a descriptor document, breadth first (the descriptor body before its parts)."""
    queue = deque([document])
    while queue:
        node = queue.popleft()
        if isinstance(node, dict):
            yield node
            queue.extend(node.values())
        elif isinstance(node, list):
            queue.extend(node)


def _descriptor_node(document: Any, descriptor_id: str) -> dict[str, Any]:
    """The VNFD/NSD body inside a stored document: SOL006 names it by `id`, SOL001 by `descriptor_id`
    (5GTANGO descriptors are the document itself)."""
    for node in _dicts(document):
        if node.get("id") == descriptor_id or node.get("descriptor_id") == descriptor_id:
            return node
    return document if isinstance(document, dict) else {}


def _text(value: Any) -> str:
    return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""


_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*")
# TOSCA scalar-unit.size units (SOL001); a bare number is in `default_unit`.
_UNITS = {
    "b": 1,
    "kb": 10**3,
    "kib": 2**10,
    "mb": 10**6,
    "mib": 2**20,
    "gb": 10**9,
    "gib": 2**30,
    "tb": 10**12,
    "tib": 2**40,
}


def _bytes(value: Any, default_unit: str = "b") -> int:
    """A size as SOL005 states it (bytes) from a descriptor's number or scalar-unit string; 0 if absent."""
    match = _SIZE.fullmatch(_text(value))
    if match is None or match.group(2).lower() not in (*_UNITS, ""):
        return 0
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        return 0
    return int(number * _UNITS[match.group(2).lower() or default_unit])


def _checksum(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {"algorithm": "", "hash": ""}  # the descriptor gives none
    # SOL006 names algorithms like sha-256; SOL005 writes them as SOL004 does: SHA-256.
    return {"algorithm": _text(value.get("algorithm")).upper(), "hash": _text(value.get("hash"))}


CONTAINER_FORMATS = ("AKI", "AMI", "ARI", "BARE", "DOCKER", "OVA", "OVF")
DISK_FORMATS = ("AKI", "AMI", "ARI", "ISO", "QCOW2", "RAW", "VDI", "VHD", "VHDX", "VMDK")


def _image(
    vnf: Vnf,
    package: Package,
    *,
    image_id: str,
    name: str,
    location: str = "",
    provider: str = "",
    version: str = "",
    checksum: Any = None,
    container_format: str = "",
    disk_format: str = "",
    min_disk: int = 0,
    min_ram: int = 0,
    size: int = 0,
) -> dict[str, Any]:
    """A VnfPackageSoftwareImageInfo. Unstated formats take the SOL006 defaults (bare, qcow2); the
    provider defaults to the VNF's, as SOL006 says; unstated sizes are 0."""
    container = container_format.upper() if container_format.upper() in CONTAINER_FORMATS else "BARE"
    disk = disk_format.upper() if disk_format.upper() in DISK_FORMATS else "QCOW2"
    info: dict[str, Any] = {
        "id": image_id or name,
        "name": name or image_id,
        "provider": provider or vnf.vendor,
        "version": version,
        "checksum": _checksum(checksum),
        "isEncrypted": False,
        "containerFormat": container,
        "diskFormat": disk,
        "createdAt": package.created_at.isoformat(),
        "minDisk": min_disk,
        "minRam": min_ram,
        "size": size,
    }
    in_package = _package_path(package, vnf, location)
    if in_package:
        info["imagePath"] = in_package
    elif "://" in location:
        info["imageUri"] = location
    return info


def _package_path(package: Package, vnf: Vnf, location: str) -> str:
    """The package file an image reference names (relative to the package root, its top folder or
    the descriptor), or ""."""
    if not location or "://" in location:
        return ""
    paths = {f.path for f in package.files}
    top = package.main_descriptor.split("/", 1)[0] + "/" if "/" in package.main_descriptor else ""
    for candidate in (location, top + location, posixpath.join(posixpath.dirname(vnf.file), location)):
        normal = posixpath.normpath(candidate)
        if normal in paths:
            return normal
    return ""


def software_images(vnf: Vnf, package: Package) -> list[dict[str, Any]]:
    """What the stored descriptor says of each software image: SOL006 sw-image-desc, SOL001
    sw_image_data, 5GTANGO deployment units; otherwise the image names of the summary."""
    body = _descriptor_node(vnf.document, vnf.descriptor_id)
    images: list[dict[str, Any]] = []
    for entry in body.get("sw-image-desc") or []:
        if isinstance(entry, dict):
            images.append(
                _image(
                    vnf,
                    package,
                    image_id=_text(entry.get("id")),
                    name=_text(entry.get("name")),
                    location=_text(entry.get("image")),
                    provider=_text(entry.get("provider")),
                    version=_text(entry.get("version")),
                    checksum=entry.get("checksum"),
                    container_format=_text(entry.get("container-format")),
                    disk_format=_text(entry.get("disk-format")),
                    min_disk=_bytes(entry.get("min-disk"), "gb"),  # SOL006 states these in GB
                    min_ram=_bytes(entry.get("min-ram"), "gb"),
                    size=_bytes(entry.get("size"), "gb"),
                )
            )
    if not images and package.format == "etsi":
        images = _sol001_images(vnf, package)
    if not images and package.format == "5gtango":
        images = _tango_images(vnf, package)
    if not images:
        images = [_image(vnf, package, image_id=name, name=name, location=name) for name in vnf.images]
    return list({image["id"]: image for image in images}.values())


def _sol001_images(vnf: Vnf, package: Package) -> list[dict[str, Any]]:
    # Sees only a VNFD of one file: the stored document is the top-level file, not its imports.
    images: list[dict[str, Any]] = []
    for node in _dicts(vnf.document):
        for template_name, template in node.items():
            properties = template.get("properties") if isinstance(template, dict) else None
            data = properties.get("sw_image_data") if isinstance(properties, dict) else None
            if not isinstance(data, dict):
                continue
            images.append(
                _image(
                    vnf,
                    package,
                    image_id=str(template_name),  # SOL001: the VDU or storage node the image is for
                    name=_text(data.get("name")),
                    provider=_text(data.get("provider")),
                    version=_text(data.get("version")),
                    checksum=data.get("checksum"),
                    container_format=_text(data.get("container_format")),
                    disk_format=_text(data.get("disk_format")),
                    min_disk=_bytes(data.get("min_disk")),
                    min_ram=_bytes(data.get("min_ram")),
                    size=_bytes(data.get("size")),
                )
            )
    return images


def _tango_images(vnf: Vnf, package: Package) -> list[dict[str, Any]]:
    images: list[dict[str, Any]] = []
    for unit in vnf.document.get("virtual_deployment_units") or []:
        if isinstance(unit, dict) and _text(unit.get("vm_image")):
            image_format = _text(unit.get("vm_image_format")).upper()
            md5 = _text(unit.get("vm_image_md5"))
            images.append(
                _image(
                    vnf,
                    package,
                    image_id=_text(unit.get("id")),
                    name=_text(unit.get("vm_image")),
                    location=_text(unit.get("vm_image")),
                    checksum={"algorithm": "MD5", "hash": md5} if md5 else None,
                    container_format=image_format if image_format in CONTAINER_FORMATS else "",
                    # A container image is no disk image: RAW, SOL005's "unstructured", says so best.
                    disk_format="RAW" if image_format == "DOCKER" else image_format,
                )
            )
    for unit in vnf.document.get("cloudnative_deployment_units") or []:
        if isinstance(unit, dict) and _text(unit.get("image")):
            name = _text(unit.get("image"))
            images.append(
                _image(
                    vnf,
                    package,
                    image_id=_text(unit.get("id")),
                    name=name,
                    container_format="DOCKER",
                    disk_format="RAW",
                )
            )
    return images


def vnfd_files(usage: VnfPackageUsage) -> list[str]:
    """The files that make up the VNFD: for a SOL004 CSAR every YAML file beside the main descriptor
    (its imports live there), otherwise each VNFD file of the package."""
    package = usage.package
    folder = posixpath.dirname(package.main_descriptor)
    if package.format == "etsi" and folder:
        return sorted(
            f.path for f in package.files if f.path.startswith(folder + "/") and f.path.endswith((".yaml", ".yml"))
        )
    return sorted({v.file for v in usage.vnfs} or {package.main_descriptor})


def _package_metadata(path: str) -> bool:
    """Files that describe the package rather than being artifacts of the VNF."""
    name = posixpath.basename(path)
    return "TOSCA-Metadata" in path.split("/") or name == "checksums.txt" or ("/" not in path and name.endswith(".mf"))


def vnf_pkg_info(request: HttpRequest, usage: VnfPackageUsage) -> dict[str, Any]:
    """A SOL005 VnfPkgInfo. `_id` repeats `id` because the OSM NBI schema requires it."""
    package = usage.package
    vnf = usage.vnfs[0] if usage.vnfs else None
    body = _descriptor_node(vnf.document, vnf.descriptor_id) if vnf else {}
    images = software_images(vnf, package) if vnf else []
    not_artifacts = set(vnfd_files(usage)) | {i["imagePath"] for i in images if "imagePath" in i}
    pk = str(package.pk)
    info: dict[str, Any] = {
        "id": pk,
        "_id": pk,
        "vnfdId": vnf.descriptor_id if vnf else "",
        "vnfProvider": vnf.vendor if vnf else package.vendor,
        "vnfProductName": vnf.name if vnf else package.name,
        "vnfSoftwareVersion": _text(body.get("software-version") or body.get("software_version"))
        or (vnf.version if vnf else package.version),
        "vnfdVersion": vnf.version if vnf else package.version,
        "checksum": {"algorithm": "SHA-256", "hash": package.digest},
        "packageSecurityOption": "OPTION_1",
        "softwareImages": images,
        "additionalArtifacts": [
            {
                "artifactPath": f.path,
                "checksum": {"algorithm": "SHA-256", "hash": f.sha256},
                "isEncrypted": False,
                "metadata": {"mediaType": f.media_type},
            }
            for f in package.files
            if f.path not in not_artifacts and not _package_metadata(f.path)
        ],
        "onboardingState": "ONBOARDED",
        "operationalState": _operational_state(package),
        "usageState": "IN_USE" if usage.in_use else "NOT_IN_USE",
        "userDefinedData": _user_defined_data(package),
        "_links": {
            "self": _link(request, "sol005-vnf-package", vnf_pkg_id=pk),
            "vnfd": _link(request, "sol005-vnf-package-vnfd", vnf_pkg_id=pk),
            "packageContent": _link(request, "sol005-vnf-package-content", vnf_pkg_id=pk),
        },
    }
    vnfm_info = body.get("vnfm-info") or body.get("vnfm_info")
    if isinstance(vnfm_info, list) and vnfm_info:
        info["vnfmInfo"] = [_text(v) for v in vnfm_info]
    return info


def _invariant_id(ns: NetworkService) -> str:
    """The NSD's invariant id when it states one; else its id without a version it embeds (5GTANGO
    ids are vendor/name/version), which names every version of the NSD alike."""
    body = _descriptor_node(ns.document, ns.descriptor_id)
    stated = _text(body.get("invariant-id") or body.get("invariant_id"))
    if stated:
        return stated
    suffix = "/" + ns.version
    return ns.descriptor_id.removesuffix(suffix) if ns.version else ns.descriptor_id


def nsd_info(request: HttpRequest, found: NsVnfPackages) -> dict[str, Any]:
    """A SOL005 NsdInfo. The repository holds no NS instances, PNFDs or nested NSDs: the usage state
    is NOT_IN_USE and those lists are empty. `_id` repeats `id` because the OSM NBI schema requires it."""
    ns = found.ns
    pk = str(ns.pk)
    return {
        "id": pk,
        "_id": pk,
        "nsdId": ns.descriptor_id,
        "nsdName": ns.name,
        "nsdVersion": ns.version,
        "nsdDesigner": ns.vendor,
        "nsdInvariantId": _invariant_id(ns),
        "vnfPkgIds": [str(p) for p in found.vnf_package_pks],
        "pnfdInfoIds": [],
        "nestedNsdInfoIds": [],
        "nsdOnboardingState": "ONBOARDED",
        "nsdOperationalState": _operational_state(ns.package),
        "nsdUsageState": "NOT_IN_USE",
        "userDefinedData": _user_defined_data(ns.package),
        "_links": {
            "self": _link(request, "sol005-ns-descriptor", nsd_info_id=pk),
            "nsd_content": _link(request, "sol005-nsd-content", nsd_info_id=pk),
        },
    }


# --- downloads ---


def _archive_type(head: bytes) -> str:
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP
    if head.startswith(b"\x1f\x8b"):
        return "application/gzip"
    return "application/x-tar"  # ingest accepts nothing else


_RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})")


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The (first, last) byte a single `Range: bytes=a-b` asks for; None to send everything (no Range,
    several ranges or a malformed one: RFC 9110 lets a server ignore those); 416 when unsatisfiable."""
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:
        length = int(last)
        if length == 0:
            raise Problem(416, "a suffix range of 0 bytes selects nothing", {"Content-Range": f"bytes */{size}"})
        return max(0, size - length), size - 1
    start, end = int(first), int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise Problem(
            416, f"the range starts at byte {start}; the archive has {size}", {"Content-Range": f"bytes */{size}"}
        )
    return start, min(end, size - 1)


class _Slice:
    """`length` bytes of a blob from `start`, read in chunks; closing it closes the blob."""

    def __init__(self, stream: Any, start: int, length: int) -> None:
        self._stream = stream
        self._left = length
        stream.seek(start)

    def read(self, size: int = -1) -> bytes:
        wanted = self._left if size < 0 else min(size, self._left)
        data: bytes = self._stream.read(wanted) if wanted > 0 else b""
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._stream.close()


def archive_response(request: HttpRequest, package: Package) -> HttpResponseBase:
    """The package archive as stored, typed by its bytes (zip, gzip, tar); one byte range on request."""
    stream = blobs.blob_open(package.digest)
    try:
        media_type = _archive_type(stream.read(512))
        _negotiate(request, (media_type,))
        span = byte_range(request.headers.get("Range", ""), package.size)
    except BaseException:
        stream.close()
        raise
    start, end = span or (0, package.size - 1)
    suffix = {ZIP: ".zip", "application/gzip": ".tar.gz"}.get(media_type, ".tar")
    filename = package.filename or f"{package.name}-{package.version}{suffix}".replace("/", "_")
    response = FileResponse(
        _Slice(stream, start, end - start + 1),
        status=206 if span else 200,
        content_type=media_type,
        as_attachment=True,
        filename=filename,
    )
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    if span:
        response["Content-Range"] = f"bytes {start}-{end}/{package.size}"
    else:
        response["Digest"] = f"sha-256={package.digest}"
    return response


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
    from ledger.exceptions import LedgerError
    from marketplace.contract_manager import decisions

    user = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        user = selectors.api_token_address(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if user is None:
            raise Problem(401, "the bearer token is unknown or expired: sign in again", {"WWW-Authenticate": "Bearer"})
    try:
        decisions.package_download_authorise(package=package, user=user, what=what)
    except decisions.LicenceDenied as exc:
        if user is None:
            raise Problem(401, exc.decision.reason, {"WWW-Authenticate": "Bearer"}) from None
        raise Problem(403, exc.decision.reason) from None
    except LedgerError as exc:
        raise Problem(503, f"the licence decision needs the chain, which is unavailable: {exc}") from None


# --- views ---


@sol005_get
def vnf_packages(request: HttpRequest) -> JsonResponse:
    _negotiate(request, (JSON,))
    return _list(request, VNF_PACKAGE, [vnf_pkg_info(request, u) for u in selectors.sol005_vnf_packages()])


@sol005_get
def vnf_package(request: HttpRequest, vnf_pkg_id: str) -> JsonResponse:
    usage = _vnf_package(vnf_pkg_id)
    _negotiate(request, (JSON,))
    return JsonResponse(vnf_pkg_info(request, usage))


@sol005_get
def vnf_package_content(request: HttpRequest, vnf_pkg_id: str) -> HttpResponseBase:
    package = _vnf_package(vnf_pkg_id).package
    _download_authorise(request, package, "archive (SOL005 package_content)")
    return archive_response(request, package)


@sol005_get
def vnf_package_vnfd(request: HttpRequest, vnf_pkg_id: str) -> HttpResponse:
    """The VNFD: one YAML file as text/plain, or a zip of its files (SOL005: a
    VNFD of several files is only served zipped)."""
    usage = _vnf_package(vnf_pkg_id)
    paths = vnfd_files(usage)
    if len(paths) == 1:
        chosen = _negotiate(request, (TEXT, ZIP))
    else:
        chosen = _negotiate(request, (ZIP,), f" (this VNFD is {len(paths)} files, served only as a zip)")
    files = _read_files(usage.package, paths)
    if chosen == TEXT:
        return HttpResponse(files[paths[0]], content_type=f"{TEXT}; charset=utf-8")
    response = HttpResponse(_zip(files), content_type=ZIP)
    response["Content-Disposition"] = f'attachment; filename="vnfd-{usage.package.pk}.zip"'
    return response


@sol005_get
def ns_descriptors(request: HttpRequest) -> JsonResponse:
    _negotiate(request, (JSON,))
    return _list(request, NS_DESCRIPTOR, [nsd_info(request, n) for n in selectors.sol005_network_services()])


@sol005_get
def ns_descriptor(request: HttpRequest, nsd_info_id: str) -> JsonResponse:
    found = _network_service(nsd_info_id)
    _negotiate(request, (JSON,))
    return JsonResponse(nsd_info(request, found))


@sol005_get
def nsd_content(request: HttpRequest, nsd_info_id: str) -> HttpResponseBase:
    package = _network_service(nsd_info_id).ns.package
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


# --- OpenAPI (merged into marketplace/openapi.py's document) ---


def _schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem_doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _schema_ref("Sol005ProblemDetails")}}}


def _list_parameters(resource: Resource, what: str) -> list[dict[str, Any]]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    complex_names = ", ".join(resource.complex)
    return [
        query(
            "filter",
            {"type": "string", "pattern": resource.filter_pattern},
            f"SOL013 attribute filter over the {what} representation, e.g. (eq,{resource.filterable[3]},x);"
            "(neq,id,y). Operators eq, neq, gt, gte, lt, lte (one value), in, nin, cont, ncont (a list); "
            f"attributes: {', '.join(resource.filterable)}. An attribute inside an array matches when any "
            "element does; values are compared as strings.",
        ),
        query("all_fields", {"type": "string"}, "include every attribute (the value is ignored)"),
        query("fields", {"type": "string", "pattern": resource.fields_pattern}, f"include these of {complex_names}"),
        query(
            "exclude_fields",
            {"type": "string", "pattern": resource.fields_pattern},
            f"leave out these of {complex_names}",
        ),
        query(
            "exclude_default",
            {"type": "string"},
            f"leave out {', '.join(resource.excluded_by_default)} (the default; the value is ignored)",
        ),
    ]


def _id_parameter(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"id of the {what} (any other string is answered 404)",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
    }


def _archive_doc() -> dict[str, Any]:
    binary = {t: {"schema": {"type": "string", "format": "binary"}} for t in ARCHIVE_TYPES}
    content_range = {"Content-Range": {"required": True, "schema": {"type": "string"}}}
    return {
        "summary": "The package archive as uploaded: application/zip (SOL004 CSAR, 5GTANGO) or application/gzip (OSM)",
        "parameters": [
            {
                "name": "Range",
                "in": "header",
                "required": False,
                "description": "one byte range, bytes=first-last, bytes=first- or bytes=-suffix; others are ignored",
                "schema": {"type": "string"},
            }
        ],
        "responses": {
            "200": {"description": "the archive", "content": binary},
            "206": {"description": "the requested byte range", "headers": content_range, "content": binary},
            "401": _problem_doc("a licensed-only package and no (valid) bearer token: the reason says which"),
            "403": _problem_doc("the token's address may not download this licensed-only package, and why"),
            "404": _problem_doc("no such package"),
            "406": _problem_doc("the Accept header excludes the archive's type"),
            "416": _problem_doc("the range lies beyond the archive"),
            "503": _problem_doc("the chain, which the licence decision needs, is unavailable"),
        },
    }


def sol005_paths() -> dict[str, Any]:
    """The SOL005 endpoints for the OpenAPI document of our API."""
    vnf_id = _id_parameter("vnfPkgId", "VNF package (the marketplace package id)")
    ns_id = _id_parameter("nsdInfoId", "NS descriptor (the marketplace network service id)")
    not_acceptable = _problem_doc("the Accept header excludes application/json")

    def json_ok(schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"description": description, "content": {JSON: {"schema": schema}}}

    return {
        "/vnfpkgm/v1/vnf_packages": {
            "get": {
                "summary": "SOL005: every VNF package (all versions), as VnfPkgInfo",
                "parameters": _list_parameters(VNF_PACKAGE, "VnfPkgInfo"),
                "responses": {
                    "200": json_ok({"type": "array", "items": _schema_ref("Sol005VnfPkgInfo")}, "VNF packages"),
                    "400": _problem_doc("a bad filter or attribute selector, naming the attribute"),
                    "406": not_acceptable,
                },
            }
        },
        "/vnfpkgm/v1/vnf_packages/{vnfPkgId}": {
            "parameters": [vnf_id],
            "get": {
                "summary": "SOL005: one VNF package",
                "responses": {
                    "200": json_ok(_schema_ref("Sol005VnfPkgInfo"), "the VNF package"),
                    "404": _problem_doc("no such VNF package"),
                    "406": not_acceptable,
                },
            },
        },
        "/vnfpkgm/v1/vnf_packages/{vnfPkgId}/package_content": {"parameters": [vnf_id], "get": _archive_doc()},
        "/vnfpkgm/v1/vnf_packages/{vnfPkgId}/vnfd": {
            "parameters": [vnf_id],
            "get": {
                "summary": "SOL005: the VNFD, text/plain when it is one file, else (or on Accept: application/zip) "
                "a zip of its files",
                "responses": {
                    "200": {
                        "description": "the VNFD",
                        "content": {
                            TEXT: {"schema": {"type": "string"}},
                            ZIP: {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    "404": _problem_doc("no such VNF package"),
                    "406": _problem_doc("neither text/plain (one-file VNFD) nor application/zip is acceptable"),
                },
            },
        },
        "/nsd/v1/ns_descriptors": {
            "get": {
                "summary": "SOL005: every NS descriptor, as NsdInfo",
                "parameters": _list_parameters(NS_DESCRIPTOR, "NsdInfo"),
                "responses": {
                    "200": json_ok({"type": "array", "items": _schema_ref("Sol005NsdInfo")}, "NS descriptors"),
                    "400": _problem_doc("a bad filter or attribute selector, naming the attribute"),
                    "406": not_acceptable,
                },
            }
        },
        "/nsd/v1/ns_descriptors/{nsdInfoId}": {
            "parameters": [ns_id],
            "get": {
                "summary": "SOL005: one NS descriptor",
                "responses": {
                    "200": json_ok(_schema_ref("Sol005NsdInfo"), "the NS descriptor"),
                    "404": _problem_doc("no such NS descriptor"),
                    "406": not_acceptable,
                },
            },
        },
        "/nsd/v1/ns_descriptors/{nsdInfoId}/nsd_content": {"parameters": [ns_id], "get": _archive_doc()},
    }


def sol005_schemas() -> dict[str, Any]:
    """Component schemas of the SOL005 endpoints, named Sol005*."""
    text = {"type": "string"}
    link = _schema_ref("Sol005Link")
    strings = {"type": "array", "items": text}
    user_data = {"type": "object", "properties": {"category": text, "tags": strings}}
    operational = {"type": "string", "enum": ["ENABLED", "DISABLED"]}
    usage = {"type": "string", "enum": ["IN_USE", "NOT_IN_USE"]}
    size = {"type": "integer", "minimum": 0, "description": "bytes"}
    return {
        "Sol005ProblemDetails": {
            "type": "object",
            "required": ["status", "detail"],
            "properties": {
                "type": text,
                "title": text,
                "status": {"type": "integer"},
                "detail": text,
                "instance": text,
            },
        },
        "Sol005Link": {"type": "object", "required": ["href"], "properties": {"href": text}},
        "Sol005Checksum": {
            "type": "object",
            "required": ["algorithm", "hash"],
            "properties": {"algorithm": text, "hash": text},
        },
        "Sol005SoftwareImage": {
            "type": "object",
            "required": [
                "id",
                "name",
                "provider",
                "version",
                "checksum",
                "isEncrypted",
                "containerFormat",
                "diskFormat",
                "createdAt",
                "minDisk",
                "minRam",
                "size",
            ],
            "properties": {
                "id": text,
                "name": text,
                "provider": text,
                "version": text,
                "checksum": _schema_ref("Sol005Checksum"),
                "isEncrypted": {"type": "boolean"},
                "containerFormat": {"type": "string", "enum": list(CONTAINER_FORMATS)},
                "diskFormat": {"type": "string", "enum": list(DISK_FORMATS)},
                "createdAt": {"type": "string", "format": "date-time"},
                "minDisk": size,
                "minRam": size,
                "size": size,
                "imagePath": text,
                "imageUri": text,
            },
        },
        "Sol005Artifact": {
            "type": "object",
            "required": ["artifactPath", "checksum", "isEncrypted"],
            "properties": {
                "artifactPath": text,
                "checksum": _schema_ref("Sol005Checksum"),
                "isEncrypted": {"type": "boolean"},
                "metadata": {"type": "object"},
            },
        },
        "Sol005VnfPkgInfo": {
            "type": "object",
            "required": [
                "id",
                "_id",
                "vnfdId",
                "vnfProvider",
                "vnfProductName",
                "vnfSoftwareVersion",
                "vnfdVersion",
                "packageSecurityOption",
                "onboardingState",
                "operationalState",
                "usageState",
                "_links",
            ],
            "properties": {
                "id": text,
                "_id": {"type": "string", "description": "the same as id (the OSM NBI schema requires it)"},
                "vnfdId": text,
                "vnfProvider": text,
                "vnfProductName": text,
                "vnfSoftwareVersion": text,
                "vnfdVersion": text,
                "checksum": _schema_ref("Sol005Checksum"),
                "packageSecurityOption": {"type": "string", "enum": ["OPTION_1", "OPTION_2"]},
                "softwareImages": {"type": "array", "items": _schema_ref("Sol005SoftwareImage")},
                "additionalArtifacts": {"type": "array", "items": _schema_ref("Sol005Artifact")},
                "onboardingState": {"type": "string", "enum": ["CREATED", "UPLOADING", "PROCESSING", "ONBOARDED"]},
                "operationalState": operational,
                "usageState": usage,
                "vnfmInfo": strings,
                "userDefinedData": user_data,
                "_links": {
                    "type": "object",
                    "required": ["self", "vnfd", "packageContent"],
                    "properties": {"self": link, "vnfd": link, "packageContent": link},
                },
            },
        },
        "Sol005NsdInfo": {
            "type": "object",
            "required": [
                "id",
                "_id",
                "nsdId",
                "nsdName",
                "nsdVersion",
                "nsdDesigner",
                "nsdInvariantId",
                "nsdOnboardingState",
                "nsdOperationalState",
                "nsdUsageState",
                "_links",
            ],
            "properties": {
                "id": text,
                "_id": {"type": "string", "description": "the same as id (the OSM NBI schema requires it)"},
                "nsdId": text,
                "nsdName": text,
                "nsdVersion": text,
                "nsdDesigner": text,
                "nsdInvariantId": text,
                "vnfPkgIds": strings,
                "pnfdInfoIds": strings,
                "nestedNsdInfoIds": strings,
                "nsdOnboardingState": {"type": "string", "enum": ["CREATED", "UPLOADING", "PROCESSING", "ONBOARDED"]},
                "nsdOperationalState": operational,
                "nsdUsageState": usage,
                "userDefinedData": user_data,
                "_links": {
                    "type": "object",
                    "required": ["self", "nsd_content"],
                    "properties": {"self": link, "nsd_content": link},
                },
            },
        },
    }
