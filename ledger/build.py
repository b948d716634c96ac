"""Compiles contracts/*.sol into the committed artifacts under contracts/build/.

Build-time only (needs Node and the npm `solc` package): the running app reads the
artifacts and never compiles. `python -m ledger.build` rebuilds; `sources_digest()` lets a
test notice sources that changed without a rebuild.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = ROOT / "contracts"
BUILD_DIR = CONTRACTS_DIR / "build"
SOLC_WRAPPER = CONTRACTS_DIR / "tools" / "solc"
DIGEST_FILE = BUILD_DIR / "sources.sha256"

SOLC_VERSION = "0.8.30"
# Pinned so the bytecode does not change with the compiler's default fork. The optimizer is tuned for
# calls, not deployment size: contracts are deployed once and called for every registration and licence
# (about 200-400 gas less per call than runs=200; all three stay far below the 24 KiB code limit).
COMPILER_SETTINGS: dict[str, Any] = {
    "evmVersion": "cancun",
    "optimizer": {"enabled": True, "runs": 1_000_000},
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.deployedBytecode.object",
                "evm.deployedBytecode.immutableReferences",
                "devdoc",
                "userdoc",
            ]
        }
    },
}


def source_files() -> list[Path]:
    # contracts/test/ holds test-only contracts (tokens, attackers); compiled so tests can deploy them.
    candidates = [*CONTRACTS_DIR.glob("*.sol"), *(CONTRACTS_DIR / "test").glob("*.sol")]
    return sorted(p for p in candidates if p.is_file())


def sources_digest() -> str:
    """SHA-256 over compiler version, settings and every source (name and bytes)."""
    h = hashlib.sha256()
    h.update(SOLC_VERSION.encode())
    h.update(json.dumps(COMPILER_SETTINGS, sort_keys=True).encode())
    for path in source_files():
        h.update(path.name.encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def compile_all() -> dict[str, dict[str, Any]]:
    import solcx  # build-time dependency only

    sources = {p.name: {"content": p.read_text()} for p in source_files()}
    output = solcx.compile_standard(
        {"language": "Solidity", "sources": sources, "settings": COMPILER_SETTINGS},
        solc_binary=SOLC_WRAPPER,
    )
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise SystemExit("\n".join(e["formattedMessage"] for e in errors))
    artifacts: dict[str, dict[str, Any]] = {}
    for source_name in sources:
        for contract_name, out in output["contracts"].get(source_name, {}).items():
            artifacts[contract_name] = {
                "contractName": contract_name,
                "sourceName": source_name,
                "compiler": SOLC_VERSION,
                "evmVersion": COMPILER_SETTINGS["evmVersion"],
                "abi": out["abi"],
                "bytecode": "0x" + out["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + out["evm"]["deployedBytecode"]["object"],
                # Where the runtime code holds immutables (zero here, set per deployment).
                "immutableReferences": out["evm"]["deployedBytecode"].get("immutableReferences", {}),
                "devdoc": out.get("devdoc", {}),
                "userdoc": out.get("userdoc", {}),
            }
    return artifacts


def main() -> int:
    if not SOLC_WRAPPER.exists():
        print(f"missing {SOLC_WRAPPER}", file=sys.stderr)
        return 1
    artifacts = compile_all()
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    for stale in BUILD_DIR.glob("*.json"):
        if stale.stem not in artifacts:
            stale.unlink()
    for name, artifact in sorted(artifacts.items()):
        (BUILD_DIR / f"{name}.json").write_text(json.dumps(artifact, indent=2, sort_keys=True) + "\n")
        print(f"contracts/build/{name}.json")
    DIGEST_FILE.write_text(sources_digest() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
