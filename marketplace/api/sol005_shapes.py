"""The SOL005 representations of repository objects: VnfPkgInfo with its software images, NsdInfo."""

from __future__ import annotations

import posixpath
import re
from collections import deque
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from marketplace.repository.models import NetworkService, Package, PackageState, Vnf
from marketplace.repository.sol005_reads import NsVnfPackages, VnfPackageUsage


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
