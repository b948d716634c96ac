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
    # (start, length) of each immutable in the runtime code: zero in the build, set by the constructor.
    immutable_ranges: tuple[tuple[int, int], ...] = ()

    @property
    def code_hash(self) -> str:
        """SHA-256 of the runtime code (immutables zero), to tell whether a deployment runs this build."""
        return hashlib.sha256(bytes.fromhex(self.deployed_bytecode.removeprefix("0x"))).hexdigest()

    def runs_this_build(self, code: bytes) -> bool:
        """Whether deployed runtime `code` is this build's, whatever values its immutables hold."""
        masked = bytearray(code)
        for start, length in self.immutable_ranges:
            if start + length > len(masked):
                return False
            masked[start : start + length] = bytes(length)
        return hashlib.sha256(masked).hexdigest() == self.code_hash


@functools.cache
def load(name: str) -> Artifact:
    path = BUILD_DIR / f"{name}.json"
    try:
        data = json.loads(path.read_text())
        ranges = tuple(
            (int(ref["start"]), int(ref["length"]))
            for refs in data.get("immutableReferences", {}).values()
            for ref in refs
        )
        return Artifact(
            name=name,
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            immutable_ranges=ranges,
        )
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path} is missing; run `make contracts`") from exc
    except (KeyError, ValueError) as exc:
        raise ArtifactError(f"{path} is not a valid contract artifact ({exc}); run `make contracts`") from exc
