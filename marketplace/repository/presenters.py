"""How repository objects look in JSON and downloads; shared by the JSON API and the portal."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import yaml
from django.http import HttpResponse

from marketplace.errors import ValidationFailed
from marketplace.repository.models import MetadataChange, NetworkService, Package, PackageFile, VerificationRecord, Vnf


def package_summary(p: Package) -> dict[str, Any]:
    return {
        "id": str(p.pk),
        "format": p.format,
        "kind": p.kind,
        "vendor": p.vendor,
        "name": p.name,
        "version": p.version,
        "is_latest": p.is_latest,
        "state": p.state,
        "description": p.description,
        "category": p.category,
        "tags": list(p.tags),
        "digest": {"algorithm": "SHA-256", "hash": p.digest},
        "size": p.size,
        "resources": {"vcpus": p.vcpus, "memory_mb": p.memory_mb, "storage_gb": p.storage_gb},
        "uploader": p.uploader,
        "created_at": p.created_at.isoformat(),
    }


def package_detail(p: Package) -> dict[str, Any]:
    body = package_summary(p)
    body.update(
        {
            "links": list(p.links),
            "filename": p.filename,
            "main_descriptor": p.main_descriptor,
            "descriptor_digest": {"algorithm": "SHA-256", "hash": p.descriptor_digest},
            "updated_at": p.updated_at.isoformat(),
            "vnfs": [descriptor_summary(v) for v in Vnf.objects.filter(package=p)],
            "network_services": [descriptor_summary(n) for n in NetworkService.objects.filter(package=p)],
            "files_count": len(p.files),
        }
    )
    return body


def descriptor_summary(d: Vnf | NetworkService) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(d.pk),
        "kind": "vnf" if isinstance(d, Vnf) else "ns",
        "descriptor_id": d.descriptor_id,
        "vendor": d.vendor,
        "name": d.name,
        "version": d.version,
        "file": d.file,
        "connection_points": list(d.connection_points),
        "virtual_links": list(d.virtual_links),
        "resources": {"vcpus": d.vcpus, "memory_mb": d.memory_mb, "storage_gb": d.storage_gb},
    }
    if isinstance(d, Vnf):
        body["images"] = list(d.images)
    else:
        body["constituent_vnfs"] = list(d.constituent_refs)
        body["resolved_vnf_ids"] = [str(v) for v in d.vnf_ids]
    return body


def descriptor_detail(d: Vnf | NetworkService) -> dict[str, Any]:
    body = descriptor_summary(d)
    body["package"] = package_summary(d.package)
    body["description"] = d.description
    return body


def descriptor_document(d: Vnf | NetworkService, fmt: str) -> HttpResponse:
    base = f"{d.vendor}-{d.name}-{d.version}".replace("/", "_")
    if fmt == "json":
        response = HttpResponse(json.dumps(d.document, indent=2), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{base}.json"'
    elif fmt == "yaml":
        text = yaml.safe_dump(d.document, sort_keys=False, allow_unicode=True)
        response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{base}.yaml"'
    else:
        raise ValidationFailed({"format": "yaml or json"})
    return response


def package_file(f: PackageFile) -> dict[str, Any]:
    return {
        "path": f.path,
        "size": f.size,
        "checksum": {"algorithm": "SHA-256", "hash": f.sha256},
        "media_type": f.media_type,
    }


def metadata_change(c: MetadataChange) -> dict[str, Any]:
    return {"actor": c.actor, "changed_at": c.changed_at.isoformat(), "before": c.before, "after": c.after}


def verification(r: VerificationRecord) -> dict[str, Any]:
    return {
        "checked_at": r.checked_at.isoformat(),
        "result": r.result,
        "checks": r.checks,
        "warnings": r.problems,
        "digests": r.digests,
    }


def ether(wei: int | str) -> str:
    """An amount of wei as ether without trailing zeros ("0.001"); exact, no float."""
    amount = Decimal(int(wei)) / Decimal(10**18)
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
