"""The Licenses Repository's stored objects: network-service instances, the ODRL policies offers
were made with, and the signed agreements licensees hold.
"""

from __future__ import annotations

from django.db import models

from marketplace.repository.models import NetworkService, Package


class InstanceState(models.TextChoices):
    INSTANTIATING = "instantiating"
    RUNNING = "running"
    TERMINATING = "terminating"
    TERMINATED = "terminated"
    FAILED = "failed"


class NsInstance(models.Model):
    """A network service instance an end-user started under a licence (or a public offer)."""

    ns = models.ForeignKey(NetworkService, on_delete=models.PROTECT)
    owner = models.CharField(max_length=42)
    chain_id = models.BigIntegerField()
    offer_id = models.BigIntegerField()
    licence_id = models.BigIntegerField(null=True)  # None under a public offer
    # Its licence's number under its offer when it started (AcquiredLicence.number): the name it ran under stays
    # when the licence later moves to another holder or its id is bought again. 0: unknown (use the licence's).
    licence_number = models.BigIntegerField(default=0)
    seat_key = models.CharField(max_length=128, blank=True)  # the seat counter this instance holds seats of
    # How many NS units run (1 when instantiated; scaling changes it): each unit holds one seat of seat_key.
    units = models.PositiveIntegerField(default=1)
    state = models.CharField(max_length=16, choices=InstanceState.choices, default=InstanceState.INSTANTIATING)
    driver = models.CharField(max_length=32)
    deploys = models.BooleanField(default=False)  # False: tracking only, nothing was deployed
    orchestrator_id = models.CharField(max_length=128, blank=True)
    integrity = models.CharField(max_length=16, default="unknown")  # verified / mismatch / unknown
    integrity_detail = models.TextField(blank=True)
    licence_expired = models.BooleanField(default=False)
    # Seats this node holds on chain (LicenseManager.openSeats) for this instance's live units, or is opening
    # for them; and seats opened for it that must be closed (ended units), which seats_settle closes.
    chain_seats = models.PositiveIntegerField(default=0)
    seats_to_close = models.PositiveIntegerField(default=0)
    # Why the licence no longer covers this instance, from the chain (the licensee closed its seat, or the
    # licence moved); such an instance is stopped by the node, and its owner reads why.
    licence_notice = models.TextField(blank=True)
    error = models.TextField(blank=True)
    # The process carrying the instance through its current step (instantiating, terminating): when it is
    # gone before the step ends, the worker ends the step (config.steps, instances_recover_interrupted).
    handled_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="instance_owner"),
            models.Index(fields=["seat_key", "state"], name="instance_seat"),
            models.Index(fields=["state", "updated_at"], name="instance_state"),
        ]

    def __str__(self) -> str:
        return f"instance of {self.ns} for {self.owner} ({self.state})"


class LicencePolicy(models.Model):
    """The ODRL policy document behind an on-chain offer; its hash is the offer's terms hash."""

    package = models.ForeignKey(Package, on_delete=models.PROTECT)
    provider = models.CharField(max_length=42)
    document = models.JSONField()
    terms_hash = models.CharField(max_length=66, unique=True)
    kind = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} policy {self.terms_hash[:12]}"


class SignedAgreement(models.Model):
    """The EIP-712 licence agreement a licensee signed, as posted to the marketplace.

    The chain keeps only its digest (LicenceIssued's agreementHash), so this is what lets a licensee or
    provider show the terms that were signed; it belongs to a licence when the digests are equal.
    typed_data is canonical JSON text (uint256 values can exceed what a database integer holds)."""

    chain_id = models.BigIntegerField()
    offer_id = models.BigIntegerField()
    licensee = models.CharField(max_length=42)
    agreement_hash = models.CharField(max_length=66, unique=True)  # lowercase 0x-hex EIP-712 digest
    typed_data = models.TextField()
    signature = models.CharField(max_length=140)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["licensee", "offer_id"], name="agreement_licensee")]

    def __str__(self) -> str:
        return f"agreement {self.agreement_hash[:12]} by {self.licensee} for offer {self.offer_id}"
