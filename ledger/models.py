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
