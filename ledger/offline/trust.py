"""The verifier's root of trust: contract addresses the user pinned, per chain id, in a trust file of
their own (as TUF's root of trust is the client's, never the repository's). `nfvm verify` believes only
a registry given on the command line or pinned here; a marketplace's word for it is a claim to check.

The file is JSON, {"version": 1, "chains": {"<chain id>": {"registry": "0x…", "anchor": "0x…"}}}, at
$NFVM_TRUST_FILE, else $XDG_CONFIG_HOME/nfvm/trust.json (~/.config/nfvm/trust.json). Re-pinning a
different address for a chain is refused unless asked for (`replace`): a root changes only on purpose.
Hand-written: a dozen lines of JSON with atomic replacement; no library models a pin file."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ledger.offline.abi import is_address, to_checksum_address
from ledger.offline.verdict import VerifyError

Role = Literal["registry", "anchor"]
ROLES: tuple[Role, ...] = ("registry", "anchor")
WHAT = {"registry": "PackageRegistry", "anchor": "ProvenanceAnchor"}


def default_path() -> Path:
    explicit = os.environ.get("NFVM_TRUST_FILE")
    if explicit:
        return Path(explicit)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "nfvm" / "trust.json"


@dataclass(frozen=True)
class Trust:
    path: Path
    chains: dict[int, dict[str, str]]

    def pinned(self, chain_id: int, role: Role) -> str | None:
        return self.chains.get(chain_id, {}).get(role)


def load(path: Path | None = None) -> Trust:
    """The pins in `path` (none when the file does not exist); VerifyError naming what is wrong otherwise."""
    path = path or default_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Trust(path, {})
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise VerifyError(f"the trust file {path} cannot be read: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("version") != 1 or not isinstance(raw.get("chains"), dict):
        raise VerifyError(f'the trust file {path} is not {{"version": 1, "chains": {{...}}}}')
    chains: dict[int, dict[str, str]] = {}
    for key, pins in raw["chains"].items():
        if not (isinstance(key, str) and key.isascii() and key.isdigit() and key == str(int(key))):
            raise VerifyError(f"the trust file {path}: chains.{key} is not a chain id with its pins")
        if not isinstance(pins, dict):
            raise VerifyError(f"the trust file {path}: chains.{key} is not a chain id with its pins")
        kept: dict[str, str] = {}
        for role, address in pins.items():
            if role not in ROLES or not isinstance(address, str) or not is_address(address):
                raise VerifyError(f"the trust file {path}: chains.{key}.{role} is not a pinned address")
            kept[role] = to_checksum_address(address)
        chains[int(key)] = kept
    return Trust(path, chains)


def pin(chain_id: int, role: Role, address: str, *, path: Path | None = None, replace: bool = False) -> Trust:
    """Pin `address` as the chain's `role` contract; re-pinning another address needs `replace`."""
    if chain_id < 1:
        raise VerifyError(f"{chain_id} is not a chain id")
    if not is_address(address):
        raise VerifyError(f"{address!r} is not an address")
    trust = load(path)
    address = to_checksum_address(address)
    current = trust.pinned(chain_id, role)
    if current is not None and current != address and not replace:
        raise VerifyError(
            f"chain {chain_id} already pins {WHAT[role]} {current}; re-pin only on purpose, with --replace"
        )
    chains = {cid: dict(pins) for cid, pins in trust.chains.items()}
    chains.setdefault(chain_id, {})[role] = address
    _write(trust.path, chains)
    return Trust(trust.path, chains)


def unpin(chain_id: int, *, path: Path | None = None) -> Trust:
    trust = load(path)
    chains = {cid: dict(pins) for cid, pins in trust.chains.items() if cid != chain_id}
    _write(trust.path, chains)
    return Trust(trust.path, chains)


def _write(path: Path, chains: dict[int, dict[str, str]]) -> None:
    body: dict[str, Any] = {"version": 1, "chains": {str(cid): pins for cid, pins in sorted(chains.items())}}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".trust-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(body, out, indent=2)
        out.write("\n")
    os.replace(temporary, path)


def not_pinned(chain_id: int, role: Role, named: str | None) -> str:
    """The refusal when nothing the user pinned names the contract to trust."""
    said = f"; the marketplace names {named}: check it out of band before pinning it" if named else ""
    flag = "--registry" if role == "registry" else "--anchor"
    return (
        f"{role} not pinned for chain {chain_id}: give {flag} ADDRESS, or pin it once with "
        f"`nfvm trust pin --chain-id {chain_id} {flag} ADDRESS`{said}"
    )
