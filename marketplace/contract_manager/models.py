"""The provenance log: an append-only hash chain of usage events, anchored on chain in ranges."""

from __future__ import annotations

from django.db import models


class ProvenanceEntry(models.Model):
    """One entry of the append-only, hash-chained provenance log (licence decisions, usage events).

    entry_hash is defined in ledger.provenance_verify.entry_hash; ranges of entry hashes are anchored
    on chain by ProvenanceAnchor. Only marketplace.contract_manager.provenance writes these."""

    seq = models.BigIntegerField(unique=True)  # 1, 2, 3, ... without gaps
    kind = models.CharField(max_length=32)
    actor = models.CharField(max_length=64)
    subject = models.CharField(max_length=255)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=66)
    entry_hash = models.CharField(max_length=66)
    # Set once the range holding this entry was sent to ProvenanceAnchor; the chain stays the authority.
    anchor_chain_id = models.BigIntegerField(null=True)
    anchor_id = models.BigIntegerField(null=True)
    anchor_from_seq = models.BigIntegerField(null=True)
    anchor_to_seq = models.BigIntegerField(null=True)
    anchor_tx_hash = models.CharField(max_length=66, blank=True)

    class Meta:
        indexes = [
            # The unique constraint on seq is a partial index (seq of type long) that a query on seq alone
            # cannot use; this one serves every read by seq (a page is a range of seqs).
            models.Index(fields=["seq"], name="provenance_seq"),
            models.Index(fields=["subject", "seq"], name="provenance_subject"),
            models.Index(fields=["kind", "seq"], name="provenance_kind"),
            models.Index(fields=["anchor_id", "seq"], name="provenance_anchor"),
        ]

    def __str__(self) -> str:
        return f"provenance {self.seq} {self.kind} {self.subject}"
