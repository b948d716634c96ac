"""The NFV Repository's stored objects (MongoDB through django-mongodb-backend).

Package, Vnf, NetworkService, VerificationRecord (verification information), the metadata history
and relayed registrations. Business rules live in services.py and selectors.py; these classes only
describe what is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django_mongodb_backend.fields import ArrayField, EmbeddedModelArrayField, ObjectIdField
from django_mongodb_backend.models import EmbeddedModel

from marketplace.repository.catalogue_stamp import catalogue_changed


class PackageFormat(models.TextChoices):
    ETSI = "etsi", "ETSI SOL004 CSAR"
    OSM = "osm", "OSM (SOL006)"
    TANGO = "5gtango", "5GTANGO"


class PackageKind(models.TextChoices):
    VNF = "vnf", "VNF package"
    NS = "ns", "NS package"


class PackageState(models.TextChoices):
    UPLOADED = "uploaded"
    VALIDATED = "validated"
    PUBLISHED = "published"
    DEPRECATED = "deprecated"
    REVOKED = "revoked"


class PackageFile(EmbeddedModel):  # type: ignore[misc]  # the backend ships no type information
    """One file of a package archive, as indexed at ingest."""

    path: models.CharField[str, str] = models.CharField(max_length=1024)
    size: models.BigIntegerField[int, int] = models.BigIntegerField()
    sha256: models.CharField[str, str] = models.CharField(max_length=64)
    media_type: models.CharField[str, str] = models.CharField(max_length=128)


class PackageQuerySet(models.QuerySet["Package"]):
    """Bulk writes to packages tell the catalogue's search index (marketplace.repository.catalogue) which
    packages changed; single saves and deletes do so through signals registered there."""

    def update(self, **kwargs: Any) -> int:
        ids = list(self.values_list("pk", flat=True))
        changed = super().update(**kwargs)
        if changed:
            catalogue_changed(ids)
        return changed

    def delete(self) -> tuple[int, dict[str, int]]:
        ids = list(self.values_list("pk", flat=True))
        deleted = super().delete()
        catalogue_changed(ids)
        return deleted

    def bulk_create(self, objs: Iterable[Package], *args: Any, **kwargs: Any) -> list[Package]:
        created = super().bulk_create(objs, *args, **kwargs)
        ids = [p.pk for p in created]
        catalogue_changed(None if None in ids else ids)
        return created

    def bulk_update(self, objs: Iterable[Package], *args: Any, **kwargs: Any) -> int:
        objs = list(objs)
        changed = super().bulk_update(objs, *args, **kwargs)
        catalogue_changed([p.pk for p in objs])
        return changed


class Package(models.Model):
    format = models.CharField(max_length=16, choices=PackageFormat.choices)
    kind = models.CharField(max_length=8, choices=PackageKind.choices)
    vendor = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    version = models.CharField(max_length=128)
    # Orders versions of one vendor/name line (see marketplace.repository.versions.version_key).
    version_key = models.CharField(max_length=255)
    is_latest = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=PackageState.choices, default=PackageState.VALIDATED)

    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the archive; also its blob id")
    size = models.BigIntegerField()
    filename = models.CharField(max_length=255, blank=True)
    main_descriptor = models.CharField(max_length=1024)
    descriptor_digest = models.CharField(max_length=64, help_text="SHA-256 of the main descriptor file")
    files = EmbeddedModelArrayField(PackageFile, default=list)
    uploader = models.CharField(max_length=42, help_text="address of the developer who uploaded it")
    # keccak256("vendor/name"): the on-chain line the main descriptor names ("" when it names none).
    line_hash = models.CharField(max_length=66, blank=True)
    # Shown to others than the uploader only once its line is claimed on chain or it is registered
    # (repository.projections sets it from the indexer's events): until then nobody learns its digest
    # or its line early enough to race its author for them.
    listed = models.BooleanField(default=False)
    # Resource totals of the package's VNFs (of the NS's constituents for an NS package), for filters.
    vcpus = models.IntegerField(default=0)
    memory_mb = models.IntegerField(default=0)
    storage_gb = models.FloatField(default=0)

    # Metadata the developer may change without touching the digest (history in MetadataChange).
    description = models.TextField(blank=True)
    category = models.CharField(max_length=64, blank=True)
    tags = ArrayField(models.CharField(max_length=64), default=list)
    links = models.JSONField(default=list)

    # Normalised words of name, vendor, description and tags: the embedded store has no
    # text indexes, so search matches these through an ordinary multikey index.
    search_tokens = ArrayField(models.CharField(max_length=64), default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PackageQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vendor", "name", "version", "uploader"], name="package_unique_version")
        ]
        indexes = [
            models.Index(fields=["search_tokens"], name="package_search_tokens"),
            models.Index(fields=["is_latest", "kind", "state", "-created_at"], name="package_latest_kind"),
            models.Index(fields=["vendor", "name", "version_key"], name="package_line"),
            models.Index(fields=["uploader", "-created_at"], name="package_uploader"),
            models.Index(fields=["line_hash"], name="package_line_hash"),
            models.Index(fields=["format"], name="package_format"),
            models.Index(fields=["tags"], name="package_tags"),
            models.Index(fields=["vcpus", "memory_mb"], name="package_resources"),
        ]

    def __str__(self) -> str:
        return f"{self.vendor}/{self.name}@{self.version}"


class DescriptorBase(models.Model):
    """Fields common to VNF and NS objects: the descriptor as a queryable document plus a summary."""

    package = models.ForeignKey(Package, on_delete=models.PROTECT)
    file = models.CharField(max_length=1024)
    descriptor_id = models.CharField(max_length=255)
    vendor = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    version = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    document = models.JSONField()
    connection_points = ArrayField(models.CharField(max_length=255), default=list)
    virtual_links = ArrayField(models.CharField(max_length=255), default=list)
    search_tokens = ArrayField(models.CharField(max_length=64), default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.vendor}/{self.name}@{self.version}"


class Vnf(DescriptorBase):
    vcpus = models.IntegerField(default=0)
    memory_mb = models.IntegerField(default=0)
    storage_gb = models.FloatField(default=0)
    images = ArrayField(models.CharField(max_length=1024), default=list)

    class Meta:
        indexes = [
            models.Index(fields=["descriptor_id"], name="vnf_descriptor_id"),
            models.Index(fields=["vendor", "name", "version"], name="vnf_vendor_name_version"),
            models.Index(fields=["search_tokens"], name="vnf_search_tokens"),
            models.Index(fields=["vcpus", "memory_mb"], name="vnf_resources"),
        ]


class NetworkService(DescriptorBase):
    # How the NSD names its VNFs (as written), and the VNF objects they resolved to at ingest.
    constituent_refs = models.JSONField(default=list)
    vnf_ids = ArrayField(ObjectIdField(), default=list)
    vcpus = models.IntegerField(default=0)
    memory_mb = models.IntegerField(default=0)
    storage_gb = models.FloatField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["descriptor_id"], name="ns_descriptor_id"),
            models.Index(fields=["vnf_ids"], name="ns_vnf_ids"),
            models.Index(fields=["search_tokens"], name="ns_search_tokens"),
        ]


class VerificationRecord(models.Model):
    """What was checked on a package, when, with which result and digests."""

    package = models.ForeignKey(Package, on_delete=models.PROTECT)
    checked_at = models.DateTimeField(auto_now_add=True)
    result = models.CharField(max_length=16)  # "accepted"
    checks = models.JSONField(default=list)  # [{"check": ..., "result": "pass"|"warn", "detail": ...}]
    problems = models.JSONField(default=list)  # warnings kept with the package
    digests = models.JSONField(default=dict)  # {"package": sha256, "descriptor": sha256, "files": n}

    class Meta:
        indexes = [models.Index(fields=["package", "-checked_at"], name="verification_package")]

    def __str__(self) -> str:
        return f"{self.result} at {self.checked_at:%Y-%m-%d %H:%M}"


class MetadataChange(models.Model):
    """One change of a package's metadata: who, when, before and after."""

    package = models.ForeignKey(Package, on_delete=models.PROTECT)
    actor = models.CharField(max_length=42)
    changed_at = models.DateTimeField(auto_now_add=True)
    before = models.JSONField()
    after = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["package", "-changed_at"], name="metadata_change_package")]

    def __str__(self) -> str:
        return f"metadata change by {self.actor}"


class LineClaimState(models.TextChoices):
    COMMITTED = "committed"  # commitLine sent; the reveal waits for the commitment's minimum age
    CLAIMED = "claimed"  # claimLine sent
    FAILED = "failed"


class LineClaimRequest(models.Model):
    """A developer's signed claim of a vendor/name line, as the marketplace relays it: commitLine now,
    claimLine once the commitment is old enough. Whether the line *is* claimed, and by whom, comes from
    the indexer (ledger.LineOwnership)."""

    chain_id = models.BigIntegerField()
    registry = models.CharField(max_length=42)
    name_hash = models.CharField(max_length=66)
    line = models.CharField(max_length=512, help_text='"vendor/name"')
    claimant = models.CharField(max_length=42)
    deadline = models.BigIntegerField()
    signature = models.CharField(max_length=140)
    commitment = models.CharField(max_length=66)
    state = models.CharField(max_length=16, choices=LineClaimState.choices, default=LineClaimState.COMMITTED)
    committed_at = models.BigIntegerField(default=0, help_text="chain time of the commitment")
    tx_hash = models.CharField(max_length=66, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "created_at"], name="line_claim_queue"),
            models.Index(fields=["chain_id", "name_hash"], name="line_claim_line"),
        ]

    def __str__(self) -> str:
        return f"claim of {self.line} by {self.claimant} ({self.state})"


class RegistrationState(models.TextChoices):
    SIGNED = "signed"  # the developer signed; waiting for its line's claim, or to be relayed or batched
    SUBMITTED = "submitted"  # sent on chain (relayed transaction, or included in an anchored batch)
    FAILED = "failed"


class RegistrationRequest(models.Model):
    """A developer's EIP-712-signed registration of a package, as the marketplace relays or batches it.

    Whether the package *is* registered comes from the indexer (ledger.PackageAnchor and
    ledger.RegistryBatch), never from this record alone."""

    package = models.ForeignKey(Package, on_delete=models.PROTECT)
    chain_id = models.BigIntegerField()
    registry = models.CharField(max_length=42)
    mode = models.CharField(max_length=8)  # "relay" or "batch"
    registration = models.JSONField()  # the EIP-712 message, numbers as decimal strings
    signature = models.CharField(max_length=140)
    publisher = models.CharField(max_length=42)
    state = models.CharField(max_length=16, choices=RegistrationState.choices, default=RegistrationState.SIGNED)
    tx_hash = models.CharField(max_length=66, blank=True)
    batch_id = models.BigIntegerField(null=True)
    leaf_index = models.IntegerField(null=True)
    inclusion_proof = models.JSONField(default=list)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["package", "-created_at"], name="registration_package"),
            models.Index(fields=["state", "mode", "created_at"], name="registration_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.mode} registration of {self.package_id} ({self.state})"  # type: ignore[attr-defined]
