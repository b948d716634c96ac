"""What the marketplace records about the chain it talks to."""

from __future__ import annotations

from django.db import models


class ContractDeployment(models.Model):
    """Where one of our contracts lives on one chain (told apart by chain id and genesis hash)."""

    name = models.CharField(max_length=64)
    chain_id = models.BigIntegerField()
    genesis_hash = models.CharField(max_length=66)
    address = models.CharField(max_length=42)
    code_hash = models.CharField(max_length=64, help_text="SHA-256 of the runtime bytecode deployed")
    tx_hash = models.CharField(max_length=66)
    block_number = models.BigIntegerField()
    deployer = models.CharField(max_length=42)
    deployed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "genesis_hash", "name"], name="one_deployment_per_chain")
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.address} on chain {self.chain_id}"


class ChainEvent(models.Model):
    """One event log of our contracts, as the indexer saw it (confirmed, on the canonical chain)."""

    chain_id = models.BigIntegerField()
    contract = models.CharField(max_length=64)
    address = models.CharField(max_length=42)
    event = models.CharField(max_length=64)
    block_number = models.BigIntegerField()
    block_hash = models.CharField(max_length=66)
    tx_hash = models.CharField(max_length=66)
    log_index = models.IntegerField()
    args = models.JSONField()
    indexed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "tx_hash", "log_index"], name="chain_event_unique_log")
        ]
        indexes = [
            models.Index(fields=["chain_id", "block_number", "log_index"], name="chain_event_order"),
            models.Index(fields=["contract", "event"], name="chain_event_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.contract}.{self.event} in block {self.block_number}"


class IndexerState(models.Model):
    """How far the indexer got on one chain, and whether that chain is still the one it indexed."""

    chain_id = models.BigIntegerField(unique=True)
    genesis_hash = models.CharField(max_length=66)
    last_block = models.BigIntegerField(default=-1)
    reset_detected = models.BooleanField(default=False)
    reset_detail = models.TextField(blank=True)
    reorgs = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"indexer at block {self.last_block} of chain {self.chain_id}"


class IndexedBlock(models.Model):
    """Hashes of blocks the indexer went through, to notice when the chain reorganised under it."""

    chain_id = models.BigIntegerField()
    number = models.BigIntegerField()
    hash = models.CharField(max_length=66)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "number"], name="indexed_block_unique")]

    def __str__(self) -> str:
        return f"block {self.number} {self.hash[:10]}"


class PackageAnchor(models.Model):
    """A registration of a digest in a line, from its PackageRegistered event (the indexer's projection).
    The same digest in another line is another row: only the row of the line a package's own descriptor
    names is that package's origin."""

    chain_id = models.BigIntegerField()
    registry = models.CharField(max_length=42)
    digest = models.CharField(max_length=66)
    publisher = models.CharField(max_length=42)
    name_hash = models.CharField(max_length=66)
    version_number = models.CharField(max_length=32)
    descriptor_digest = models.CharField(max_length=66)
    batch_id = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, default="active")
    tx_hash = models.CharField(max_length=66)
    block_number = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "digest", "name_hash"], name="package_anchor_line_unique")
        ]

    def __str__(self) -> str:
        return f"{self.digest[:12]} anchored in block {self.block_number}"


class LineOwnership(models.Model):
    """A vendor/name line's owner, from its LineClaimed event: whose key may register, offer and revoke in it."""

    chain_id = models.BigIntegerField()
    registry = models.CharField(max_length=42)
    name_hash = models.CharField(max_length=66)
    owner = models.CharField(max_length=42)
    claimant = models.CharField(max_length=42)
    key = models.CharField(max_length=42, help_text="the owner's current publishing key (PublishingKeyRotated)")
    tx_hash = models.CharField(max_length=66)
    block_number = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "name_hash"], name="line_ownership_unique")]
        indexes = [models.Index(fields=["chain_id", "owner"], name="line_ownership_owner")]

    def __str__(self) -> str:
        return f"line {self.name_hash[:12]} owned by {self.owner}"


class RegistryBatch(models.Model):
    """A Merkle root of signed registrations the operator anchored (from BatchAnchored events)."""

    chain_id = models.BigIntegerField()
    batch_id = models.BigIntegerField()
    root = models.CharField(max_length=66)
    size = models.BigIntegerField()
    tx_hash = models.CharField(max_length=66)
    block_number = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "batch_id"], name="registry_batch_unique")]

    def __str__(self) -> str:
        return f"batch {self.batch_id} of {self.size}"


class LicenceOffer(models.Model):
    """A licence offer as the LicenseManager records it (from OfferCreated / OfferClosed). It is an offer
    of the package (digest, name_hash): the line's owner key, or a provider it authorised, made it."""

    chain_id = models.BigIntegerField()
    offer_id = models.BigIntegerField()
    digest = models.CharField(max_length=66)
    name_hash = models.CharField(max_length=66, default="")
    provider = models.CharField(max_length=42)
    kind = models.IntegerField()  # 0 public, 1 trial, 2 private
    price = models.CharField(max_length=80)  # uint256 as decimal text
    token = models.CharField(max_length=42)
    duration = models.BigIntegerField()
    seats = models.BigIntegerField()
    terms_hash = models.CharField(max_length=66)
    transferable = models.BooleanField()
    closed = models.BooleanField(default=False)
    # How many licences of the offer the chain has issued (distinct ids, in LicenceIssued order): the last
    # licence number given (AcquiredLicence.number).
    issued = models.BigIntegerField(default=0)
    tx_hash = models.CharField(max_length=66)
    block_number = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "offer_id"], name="licence_offer_unique")]
        indexes = [models.Index(fields=["digest", "name_hash"], name="licence_offer_package")]

    def __str__(self) -> str:
        return f"offer {self.offer_id} for {self.digest[:12]}"


class AcquiredLicence(models.Model):
    """A licence as the LicenseManager records it (issued, renewed, transferred)."""

    chain_id = models.BigIntegerField()
    licence_id = models.BigIntegerField()
    offer_id = models.BigIntegerField()
    licensee = models.CharField(max_length=42)
    expires_at = models.BigIntegerField()  # unix seconds; 0 = no expiry
    agreement_hash = models.CharField(max_length=66)
    # "licence 3 of offer #2": its place among the offer's licences in the order the chain first issued them,
    # kept when it is bought again and when it moves to another licensee's id (LicenceTransferred); 0: unknown.
    number = models.BigIntegerField(default=0)
    tx_hash = models.CharField(max_length=66)
    block_number = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "licence_id"], name="acquired_licence_unique")]
        indexes = [models.Index(fields=["licensee"], name="acquired_licence_licensee")]

    def __str__(self) -> str:
        return f"licence {self.licence_id} of {self.licensee}"


class ProvenanceRange(models.Model):
    """A range of the provenance log whose Merkle root the operator anchored (RangeAnchored)."""

    chain_id = models.BigIntegerField()
    anchor_id = models.BigIntegerField()
    from_seq = models.BigIntegerField()
    to_seq = models.BigIntegerField()
    root = models.CharField(max_length=66)
    tx_hash = models.CharField(max_length=66)
    block_number = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "anchor_id"], name="provenance_range_unique")]

    def __str__(self) -> str:
        return f"provenance {self.from_seq}-{self.to_seq}"
