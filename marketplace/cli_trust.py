"""`nfvm trust`: the contracts the verifier trusts, pinned per chain id in the user's own trust file
(ledger.offline.trust), and how `nfvm verify` and `nfvm provenance verify` pick the one to trust."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any, Literal

EXIT_USAGE = 2


def trusted(args: argparse.Namespace, client: Any, role: Literal["registry", "anchor"]) -> tuple[str | None, str]:
    """The contract the user trusts for `role`: given on the command line, or pinned in their trust file
    for the node's chain (ledger.offline.trust), with where it was pinned; (None, why) when neither."""
    from ledger.offline import trust

    given = getattr(args, role, None)
    if given:
        return given, "the command line"
    pins = trust.load(Path(args.trust_file) if args.trust_file else None)
    chain_id = int(client.chain_id())
    pinned = pins.pinned(chain_id, role)
    if pinned:
        return pinned, str(pins.path)
    return None, trust.not_pinned(chain_id, role, named_by_marketplace(args, role))


def named_by_marketplace(args: argparse.Namespace, role: str) -> str | None:
    """What the marketplace says the contract is, to quote in the refusal (never to trust)."""
    url = getattr(args, "url", None)
    if not url or (role == "registry" and not getattr(args, "package_id", None)):
        return None
    target = (
        f"{url.rstrip('/')}/api/v1/packages/{args.package_id}/proof"
        if role == "registry"
        else f"{url.rstrip('/')}/api/v1/provenance/{args.seq}/proof"
    )
    try:
        with urllib.request.urlopen(target, timeout=10) as answer:  # noqa: S310 (an http(s) URL: the command checked it)
            named = json.loads(answer.read()).get("registry" if role == "registry" else "contract")
    except (OSError, ValueError, AttributeError):
        return None
    # Quoted to the user only when it is an address: a hostile answer could carry terminal controls.
    from ledger.offline.abi import is_address

    return named if isinstance(named, str) and is_address(named) else None


def add_trust_commands(commands: Any) -> None:
    trust_cmd = commands.add_parser(
        "trust",
        help="pin the contracts `nfvm verify` trusts, per chain id",
        description="The verifier's root of trust: the PackageRegistry and ProvenanceAnchor addresses you pinned "
        "for each chain id, in a file of your own. Check an address out of band (the project's announcement, a "
        "second node) before pinning it; re-pinning a chain to another address needs --replace.",
    )
    trust_actions = trust_cmd.add_subparsers(dest="action", required=True)
    tp = trust_actions.add_parser("pin", help="pin a registry and/or anchor address for a chain id")
    tp.add_argument("--chain-id", type=int, required=True)
    tp.add_argument("--registry")
    tp.add_argument("--anchor")
    tp.add_argument("--replace", action="store_true", help="replace an address already pinned for the chain")
    ts = trust_actions.add_parser("show", help="what is pinned")
    tu = trust_actions.add_parser("unpin", help="forget a chain's pins")
    tu.add_argument("--chain-id", type=int, required=True)
    for sub in (tp, ts, tu):
        sub.add_argument("--trust-file", help="the trust file (default: $NFVM_TRUST_FILE or ~/.config/nfvm/trust.json)")
        sub.set_defaults(func=cmd_trust)


def cmd_trust(args: argparse.Namespace) -> int:
    from ledger.offline import trust
    from ledger.offline.verdict import VerifyError

    path = Path(args.trust_file) if args.trust_file else None
    try:
        if args.action == "pin":
            if not (args.registry or args.anchor):
                print("nfvm trust pin: give --registry and/or --anchor", file=sys.stderr)
                return EXIT_USAGE
            pins = trust.load(path)
            for role in trust.ROLES:
                address = getattr(args, role)
                if address:
                    pins = trust.pin(args.chain_id, role, address, path=path, replace=args.replace)
                    print(f"pinned {trust.WHAT[role]} {pins.pinned(args.chain_id, role)} for chain {args.chain_id}")
            print(f"in {pins.path}")
        elif args.action == "unpin":
            pins = trust.unpin(args.chain_id, path=path)
            print(f"chain {args.chain_id} unpinned in {pins.path}")
        else:
            pins = trust.load(path)
            print(f"trust file {pins.path}")
            for chain_id, roles in sorted(pins.chains.items()):
                for name, address in roles.items():
                    print(f"  chain {chain_id}  {trust.WHAT[name]:<17}{address}")
            if not pins.chains:
                print("  nothing pinned")
    except VerifyError as exc:
        print(f"nfvm trust: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0
