"""Reads behind the ETSI SOL005 endpoints (marketplace/api/sol005.py), each in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketplace.repository.models import NetworkService, Package, Vnf
from marketplace.repository.origin import visible_to


@dataclass(frozen=True)
class VnfPackageUsage:
    package: Package
    vnfs: list[Vnf]  # the VNF of the package's main descriptor first
    in_use: bool  # a network service of another package uses one of its VNFs


def sol005_vnf_packages(package_pk: object | None = None, *, viewer: str | None) -> list[VnfPackageUsage]:
    """Every VNF package `viewer` may see, oldest first (all versions; deprecated and revoked ones too,
    which SOL005 shows as DISABLED), or only the one whose pk is `package_pk`."""
    packages = Package.objects.filter(kind="vnf")
    if package_pk is not None:
        packages = packages.filter(pk=package_pk)
    found = [p for p in packages.order_by("created_at", "pk") if visible_to(p, viewer)]
    vnfs: dict[Any, list[Vnf]] = {p.pk: [] for p in found}
    if vnfs:
        for vnf in Vnf.objects.filter(package__in=found).select_related("package").order_by("created_at", "pk"):
            vnfs[vnf.package.pk].append(vnf)
    used = _sol005_packages_in_use({v.pk: p.pk for p in found for v in vnfs[p.pk]})
    return [VnfPackageUsage(p, _main_first(vnfs[p.pk], p.main_descriptor), p.pk in used) for p in found]


def _main_first(vnfs: list[Vnf], main_descriptor: str) -> list[Vnf]:
    # The main descriptor's VNF is the one SOL005's single-VNFD fields describe.
    return sorted(vnfs, key=lambda v: v.file != main_descriptor)


def _sol005_packages_in_use(owners: dict[Any, Any]) -> set[Any]:
    """The packages among `owners` (VNF pk -> package pk) one of whose VNFs a network service of
    another package uses (the rule package_references applies to deletion)."""
    if not owners:
        return set()
    used: set[Any] = set()
    users = NetworkService.objects.filter(vnf_ids__overlap=list(owners)).values_list("package_id", "vnf_ids")
    for ns_package, vnf_ids in users:
        used.update(owners[v] for v in vnf_ids if v in owners and owners[v] != ns_package)
    return used


@dataclass(frozen=True)
class NsVnfPackages:
    ns: NetworkService
    vnf_package_pks: list[Any]  # VNF packages (kind "vnf") its constituent VNFs resolved to, in NSD order


def sol005_network_services(ns_pk: object | None = None, *, viewer: str | None) -> list[NsVnfPackages]:
    """Every network service `viewer` may see, oldest first, or only the one whose pk is `ns_pk`. A
    constituent VNF that lives inside the NS package itself has no VNF package, so it adds no pk."""
    services = NetworkService.objects.select_related("package")
    if ns_pk is not None:
        services = services.filter(pk=ns_pk)
    found = [ns for ns in services.order_by("created_at", "pk") if visible_to(ns.package, viewer)]
    vnf_ids = list({v for ns in found for v in ns.vnf_ids})
    owners: dict[Any, Any] = {}
    if vnf_ids:
        owners = dict(Vnf.objects.filter(pk__in=vnf_ids, package__kind="vnf").values_list("pk", "package_id"))
    return [NsVnfPackages(ns, list(dict.fromkeys(owners[v] for v in ns.vnf_ids if v in owners))) for ns in found]
