"""Objects by the id in a URL, or 404: one reading of "ObjectId or 404" for the API, SOL005 and the portal."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from django.http import Http404

from marketplace.licensing.models import NsInstance
from marketplace.repository.models import NetworkService, Package, Vnf
from marketplace.repository.origin import visible_to


def object_id_or_404(value: Any, what: str) -> ObjectId:
    try:
        return ObjectId(str(value))
    except (InvalidId, TypeError):
        raise Http404(f"no {what} {value!r}: not a valid id") from None


def package_or_404(package_id: Any, *, viewer: str | None) -> Package:
    """The package, if `viewer` (None: anonymous) may see it; an unlisted upload is as absent as none."""
    found = Package.objects.filter(pk=object_id_or_404(package_id, "package")).first()
    if found is None or not visible_to(found, viewer):
        raise Http404(f"no package {package_id}")
    return found


def descriptor_or_404(
    model: type[Vnf] | type[NetworkService], descriptor_id: Any, *, viewer: str | None
) -> Vnf | NetworkService:
    what = "VNF" if model is Vnf else "network service"
    found = model.objects.filter(pk=object_id_or_404(descriptor_id, what)).select_related("package").first()
    if found is None or not visible_to(found.package, viewer):
        raise Http404(f"no {what} {descriptor_id}")
    return found


def ns_or_404(ns_id: Any, *, viewer: str | None) -> NetworkService:
    found = descriptor_or_404(NetworkService, ns_id, viewer=viewer)
    assert isinstance(found, NetworkService)
    return found


def instance_or_404(instance_id: Any) -> NsInstance:
    found = NsInstance.objects.filter(pk=object_id_or_404(instance_id, "instance")).select_related("ns").first()
    if found is None:
        raise Http404(f"no instance {instance_id}")
    return found
