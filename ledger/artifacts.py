"""Compiled contracts, read from the committed artifacts in contracts/build/ (no Node needed)."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.exceptions import ArtifactError

BUILD_DIR = Path(__file__).resolve().parent.parent / "contracts" / "build"

# Contracts the marketplace deploys, in deployment order.
DEPLOYED_CONTRACTS = ("PackageRegistry", "LicenseManager", "ProvenanceAnchor")


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str

    @property
    def code_hash(self) -> str:
        """SHA-256 of the runtime code, to tell whether a deployment runs this build."""
        return hashlib.sha256(bytes.fromhex(self.deployed_bytecode.removeprefix("0x"))).hexdigest()


@functools.cache
def load(name: str) -> Artifact:
    path = BUILD_DIR / f"{name}.json"
    try:
        data = json.loads(path.read_text())
        return Artifact(
            name=name, abi=data["abi"], bytecode=data["bytecode"], deployed_bytecode=data["deployedBytecode"]
        )
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path} is missing; run `make contracts`") from exc
    except (KeyError, ValueError) as exc:
        raise ArtifactError(f"{path} is not a valid contract artifact ({exc}); run `make contracts`") from exc
