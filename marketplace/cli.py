"""`nfvm`: the developer's command line. Needs no Django and no database.

nfvm package build DIR --format etsi|osm|5gtango [-o OUT] [--entry FILE]
nfvm package inspect FILE [--vnf PACKAGE ...] [--json]
nfvm package push FILE --url URL --keystore FILE   (password from NFVM_KEYSTORE_PASSWORD or a prompt)
nfvm verify FILE --rpc URL --registry ADDRESS [--proof PROOF.json] [--json]
nfvm verify --package-id ID --url URL --rpc URL [--registry ADDRESS] [--output FILE] [--json]
nfvm provenance show SEQ --url URL [--json]
nfvm provenance verify SEQ --url URL --rpc URL --anchor ADDRESS [--json]
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urlsplit

# Each command imports what it needs when it runs: `nfvm verify` should start in a few tens of
# milliseconds, not load web3 it never uses, nor the package validators (jsonschema, YAML) unless the
# file is an archive whose identity they read (marketplace.repository.packages.identity).
from marketplace.cli_trust import add_trust_commands, trusted

if TYPE_CHECKING:
    from ledger.client import ChainClient
    from ledger.offline.verdict import Claim
    from marketplace.repository.packages.inspect import Inspection
    from marketplace.repository.packages.types import Claimed, ParsedDescriptor, VnfRef


def _local_lookup(paths: list[Path]) -> Any:
    """Resolves NSD references against VNF packages given on the command line."""
    from marketplace.repository.packages.inspect import inspect_package

    known: list[ParsedDescriptor] = []
    for path in paths:
        known += [d for d in inspect_package(path, lookup=lambda ref: None).descriptors if d.summary.kind == "vnf"]

    def lookup(ref: VnfRef) -> ParsedDescriptor | None:
        for d in known:
            s = d.summary
            if (ref.vendor or ref.name) and (ref.vendor, ref.name, ref.version) == (s.vendor, s.name, s.version):
                return d
            if ref.descriptor_id and not (ref.vendor or ref.name) and ref.descriptor_id == s.descriptor_id:
                return d
        return None

    return lookup


def _report(inspection: Inspection) -> dict[str, Any]:
    info = inspection.info
    return {
        "accepted": True,
        "format": inspection.format,
        "kind": info.kind,
        "vendor": info.vendor,
        "name": info.name,
        "version": info.version,
        "main_descriptor": info.main_descriptor,
        "descriptor_sha256": inspection.descriptor_digest,
        "descriptors": [
            {
                "file": d.file,
                "kind": d.summary.kind,
                "id": d.summary.descriptor_id,
                "vcpus": d.summary.vcpus,
                "memory_mb": d.summary.memory_mb,
                "storage_gb": d.summary.storage_gb,
            }
            for d in inspection.descriptors
        ],
        "files": len(inspection.files),
        "checks": [c.as_dict() for c in inspection.checks],
        "warnings": [p.as_dict() for p in inspection.problems],
    }


def cmd_build(args: argparse.Namespace) -> int:
    from marketplace.repository.packages.build import BuildError, build
    from marketplace.repository.packages.problems import PackageRejected

    try:
        out = build(Path(args.dir), args.format, Path(args.output) if args.output else None, entry=args.entry)
    except (BuildError, PackageRejected) as exc:
        print(f"nfvm: cannot build {args.dir}: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from marketplace.repository.packages.inspect import inspect_package
    from marketplace.repository.packages.problems import PackageRejected, Severity

    try:
        lookup = _local_lookup([Path(p) for p in args.vnf])
        inspection = inspect_package(Path(args.file), lookup=lookup)
    except PackageRejected as exc:
        if args.json:
            print(json.dumps({"accepted": False, "problems": [p.as_dict() for p in exc.problems]}, indent=2))
        else:
            print(f"{args.file}: rejected", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            if any(p.rule == "integrity.unresolved-vnf" for p in exc.problems):
                print(
                    "  (an NS's VNFs may be given with --vnf PACKAGE, or already be in the marketplace)",
                    file=sys.stderr,
                )
        return 1
    except OSError as exc:
        print(f"nfvm: {exc}", file=sys.stderr)
        return 2
    report = _report(inspection)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{args.file}: valid {report['format']} {report['kind']} package "
            f"{report['vendor']}/{report['name']} {report['version']}"
        )
        for check in inspection.checks:
            print(f"  {check.check}: {check.result} ({check.detail})")
        for problem in inspection.problems:
            if problem.severity == Severity.WARNING:
                print(f"  {problem}")
    return 0


def _post_json(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        result: dict[str, Any] = json.loads(response.read())
        return result


def sign_in(base: str, keystore: Path, password: str) -> str:
    """Sign-In with Ethereum with a local keystore; returns an API token. The key stays here."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    from ledger.siwe import SiweMessage

    key = Account.decrypt(json.loads(keystore.read_text()), password)
    account = Account.from_key(key)
    start = _post_json(f"{base}/api/v1/auth/nonce")
    message = SiweMessage(
        domain=start["domain"],
        address=account.address,
        statement="Sign in to the NFV marketplace with nfvm.",
        uri=start["uri"],
        chain_id=int(start["chain_id"]),
        nonce=start["nonce"],
        issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).to_text()
    signature = account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    return str(_post_json(f"{base}/api/v1/auth/token", {"message": message, "signature": signature})["token"])


def cmd_push(args: argparse.Namespace) -> int:
    base = args.url.rstrip("/")
    if urlsplit(base).scheme not in ("http", "https"):
        print(f"nfvm: --url {args.url!r} must be an http(s) URL", file=sys.stderr)
        return 2
    password = os.environ.get("NFVM_KEYSTORE_PASSWORD") or getpass.getpass(f"password for {args.keystore}: ")
    path = Path(args.file)
    try:
        token = sign_in(base, Path(args.keystore), password)
        with path.open("rb") as body:
            request = urllib.request.Request(  # noqa: S310
                f"{base}/api/v1/packages",
                data=body,
                method="POST",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(path.stat().st_size),
                    "X-Filename": path.name,
                },
            )
            with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
                result = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        try:
            body_json = json.loads(detail)
            print(f"nfvm: {exc.code}: {body_json.get('error')}", file=sys.stderr)
            for problem in body_json.get("problems", []):
                print(
                    f"  {problem['severity']}: {problem['file'] or 'package'} {problem['location']}: "
                    f"{problem['message']} [{problem['rule']}]",
                    file=sys.stderr,
                )
        except ValueError:
            print(f"nfvm: {exc.code}: {detail[:500]}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"nfvm: {exc}", file=sys.stderr)
        return 2
    verb = "stored" if result.get("created") else "already there"
    print(f"{result['vendor']}/{result['name']} {result['version']} {verb}: {base}/api/v1/packages/{result['id']}")
    return 0


# `nfvm verify` exit codes, one per outcome; 2 and 3 are a usage error and an unreachable node or marketplace.
VERIFY_EXIT = {"verified": 0, "unknown": 10, "revoked": 11, "superseded": 12, "tampered": 13}
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_PINNED = 4


def _verify_usage(args: argparse.Namespace) -> str | None:
    if bool(args.file) == bool(args.package_id):
        return "give either FILE or --package-id"
    if urlsplit(args.rpc).scheme not in ("http", "https"):
        return f"--rpc {args.rpc!r} must be an http(s) URL"
    if args.file:
        if args.url or args.output:
            return "--url and --output go with --package-id"
    else:
        if not args.url:
            return "--package-id needs --url MARKETPLACE_URL"
        if args.proof:
            return "--proof goes with FILE; with --package-id the marketplace's proof is fetched"
    return None


def _print_verdict(verdict: dict[str, Any]) -> None:
    print(f"{verdict['outcome'].upper()}: {verdict['reason']}")
    batch, recorded = verdict["batch"], verdict["recorded"]
    latest = verdict["latest_version"]
    if latest:
        latest = f"{verdict['latest_version_text']} (number {latest})"
    elif latest == 0:
        latest = "none recorded"
    chain = f"{verdict['chain_id']}, registry {verdict['registry']}"
    rows = [
        ("source", verdict["source"]),
        ("digest", f"sha256 {verdict['digest']}"),
        ("chain", chain + (f" (pinned in {verdict['pinned_in']})" if verdict.get("pinned_in") else "")),
        ("status", verdict["status"] or ("not recorded" if verdict["mode"] else None)),
        ("mode", verdict["mode"]),
        ("publisher", verdict["publisher"]),
        ("signer", verdict["signer"]),
        ("version", f"{verdict['version_text']} (number {verdict['version']})" if verdict["version"] else None),
        ("line", verdict["name_hash"]),
        ("line latest", latest),
        ("descriptor", verdict["descriptor_digest"]),
        ("registered" if recorded else "anchored", verdict["registered_at"]),
        (
            "transaction" if recorded else "anchoring tx",
            f"{verdict['tx_hash']} in block {verdict['block_number']}" if verdict["tx_hash"] else None,
        ),
        (
            "batch",
            f"{batch['batch_id']} root {batch['root']} size {batch['size']} index {batch['index']}" if batch else None,
        ),
        ("key now", verdict["publishing_key"]),
    ]
    for label, value in rows:
        if value is not None:
            print(f"  {label:<13}{value}")
    for finding in verdict["findings"]:
        print(f"  - {finding}")


def _claim(path: Path) -> Claim:
    """What the file says it is, with its manifest or checksums checked: the whole package is inspected
    (asked for only for an unregistered digest)."""
    from marketplace.repository.packages.inspect import package_claimed

    return _as_claim(package_claimed(path))


def _identity(stream: BinaryIO) -> Claim:
    """What the file says it is, read from its listing and descriptors only, in the pass that hashes it."""
    from marketplace.repository.packages.identity import package_identity

    return _as_claim(package_identity(stream))


def _as_claim(claimed: Claimed) -> Claim:
    from ledger.offline.verdict import Claim

    failed = [p for p in claimed.problems if p.severity == "error"]
    integrity = [str(p) for p in failed if p.rule.startswith("integrity")]
    info = claimed.info
    if info is None:
        # An archive refused as unsafe or unreadable says nothing about itself: the verdict names why.
        return Claim(
            None, None, None, integrity, unreadable=[str(p) for p in failed if not p.rule.startswith("integrity")]
        )
    descriptor = "0x" + claimed.descriptor_digest if claimed.descriptor_digest else None
    return Claim(info.vendor, info.name, info.version, integrity, descriptor_digest=descriptor)


def cmd_verify(args: argparse.Namespace) -> int:
    problem = _verify_usage(args)
    if problem:
        print(f"nfvm verify: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from ledger.exceptions import LedgerError
    from ledger.offline.rpc import RpcClient
    from ledger.offline.verdict import MarketplaceUnavailable, VerifyError, load_proof
    from ledger.offline.verify import verify_file, verify_marketplace_package

    # The light client answers every read the verifier makes, without web3's start-up (ledger.offline.rpc).
    client = cast("ChainClient", RpcClient(args.rpc, timeout=30.0))
    try:
        registry, pinned_in = trusted(args, client, "registry")
        if registry is None:
            return _verify_failed(args, pinned_in, EXIT_NOT_PINNED)
        if args.file:
            proof = load_proof(Path(args.proof)) if args.proof else None
            verdict = verify_file(
                Path(args.file),
                client=client,
                registry_address=registry,
                proof=proof,
                claim=lambda: _claim(Path(args.file)),
                identity=_identity,
            )
        else:
            verdict = verify_marketplace_package(
                args.package_id,
                base_url=args.url,
                client=client,
                registry_address=registry,
                save_to=Path(args.output) if args.output else None,
                token=args.token or os.environ.get("NFVM_TOKEN") or None,
                identity=_identity,
            )
    except VerifyError as exc:
        return _verify_failed(args, str(exc), EXIT_USAGE)
    except MarketplaceUnavailable as exc:
        return _verify_failed(args, str(exc) + _token_hint(exc.status, args), EXIT_UNREACHABLE)
    except LedgerError as exc:
        # ChainUnavailable and node errors name the node's URL.
        return _verify_failed(args, str(exc), EXIT_UNREACHABLE)
    report = verdict.as_dict() | {"pinned_in": None if args.registry else pinned_in}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_verdict(report)
    return VERIFY_EXIT[verdict.outcome.value]


def _token_hint(status: int | None, args: argparse.Namespace) -> str:
    """What to do about a refused download: a token, or a licence for the token's address."""
    given = bool(args.token or os.environ.get("NFVM_TOKEN"))
    if status == 401 and not given:
        return (
            "; this package is downloaded only with a licence: set NFVM_TOKEN (or pass --token TOKEN) to "
            "a token from the portal's API tokens page"
        )
    if status == 401:
        return "; the token is unknown or expired: create a new one on the portal's API tokens page"
    if status == 403:
        return "; the token's address holds no licence that allows downloading this package"
    return ""


def _verify_failed(args: argparse.Namespace, message: str, code: int) -> int:
    print(f"nfvm verify: {message}", file=sys.stderr)
    if args.json:
        print(json.dumps({"outcome": None, "error": message, "exit": code}, indent=2))
    return code


def _get_json(url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        result: dict[str, Any] = json.loads(response.read())
        return result


def cmd_licence(args: argparse.Namespace) -> int:
    """Sign the licence agreement with a local keystore: a trial is activated by the marketplace's
    relay; a purchase is paid from this key, sent to --rpc by this command."""
    from eth_account import Account

    base = args.url.rstrip("/")
    if urlsplit(base).scheme not in ("http", "https"):
        print(f"nfvm: --url {args.url!r} must be an http(s) URL", file=sys.stderr)
        return 2
    if args.action == "buy" and not args.rpc:
        print("nfvm: licence buy needs --rpc: the purchase is paid from your key", file=sys.stderr)
        return 2
    password = os.environ.get("NFVM_KEYSTORE_PASSWORD") or getpass.getpass(f"password for {args.keystore}: ")
    try:
        account = Account.from_key(Account.decrypt(json.loads(Path(args.keystore).read_text()), password))
        token = sign_in(base, Path(args.keystore), password)
        agreement = _get_json(f"{base}/api/v1/offers/{args.offer}/agreement", token)
        kind = agreement["offer"]["kind"]
        if (args.action == "activate") != (kind == 1):
            print(
                f"nfvm: offer {args.offer} is {'a trial: use activate' if kind == 1 else 'not a trial: use buy'}",
                file=sys.stderr,
            )
            return 2
        typed = agreement["typed_data"]
        signature = account.sign_typed_data(full_message=typed).signature.to_0x_hex()
        answer = _post_json(
            f"{base}/api/v1/offers/{args.offer}/agreement", {"typed_data": typed, "signature": signature}, token
        )
        if "licence_id" in answer:
            print(f"trial licence #{answer['licence_id']} activated for {account.address}")
            return 0
        from ledger.client import ChainClient

        tx = dict(answer["transaction"])
        if isinstance(tx.get("value"), str):
            tx["value"] = int(tx["value"], 16)
        receipt = ChainClient(args.rpc).transact(account, tx)  # type: ignore[arg-type]
        print(
            f"licence bought for {account.address}: transaction 0x{bytes(receipt['transactionHash']).hex()} "
            f"in block {receipt['blockNumber']}"
        )
        return 0
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        print(f"nfvm: {exc.code}: {detail[:500]}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        print(f"nfvm: {exc}", file=sys.stderr)
        return 3


# `nfvm provenance verify` exit codes; 2 and 3 as for `nfvm verify`.
PROVENANCE_EXIT = {"verified": 0, "unanchored": 20, "mismatch": 21, "unknown": 22}


def _fetch_proof(base: str, seq: int) -> dict[str, Any] | None:
    """The marketplace's proof document of entry `seq`, or None when it has no such entry."""
    request = urllib.request.Request(f"{base}/api/v1/provenance/{seq}/proof", headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    if not isinstance(body, dict):
        raise ValueError("the marketplace's proof is not a JSON object")
    return body


def _link_problem(proof: dict[str, Any]) -> str | None:
    """Why the entry's hash or its links to its neighbours do not hold, from the proof document alone."""
    from ledger.provenance_verify import GENESIS_PREV_HASH, entry_hash

    entry = proof.get("entry")
    if not isinstance(entry, dict) or not isinstance(entry.get("seq"), int):
        return "the proof holds no entry"
    seq = entry["seq"]
    try:
        recomputed = entry_hash(entry)
    except (KeyError, TypeError, ValueError) as exc:
        return f"the hash of entry {seq} cannot be recomputed: {exc}"
    if recomputed != str(entry.get("entry_hash", "")).lower():
        return f"entry {seq} hashes to {recomputed}, not to the entry_hash {entry.get('entry_hash')} it claims"
    previous, following = proof.get("previous"), proof.get("next")
    expected = GENESIS_PREV_HASH if seq == 1 else previous.get("entry_hash") if isinstance(previous, dict) else None
    if expected is not None and str(entry.get("prev_hash", "")).lower() != str(expected).lower():
        return f"entry {seq} links to {entry.get('prev_hash')}, but entry {seq - 1} hashes to {expected}"
    if isinstance(following, dict) and str(following.get("prev_hash", "")).lower() != recomputed:
        return f"entry {seq + 1} links to {following.get('prev_hash')}, not to entry {seq}'s hash {recomputed}"
    return None


def _provenance_usage(args: argparse.Namespace) -> str | None:
    if args.seq < 1:
        return "SEQ is a sequence number from 1"
    if urlsplit(args.url).scheme not in ("http", "https"):
        return f"--url {args.url!r} must be an http(s) URL"
    if args.action == "verify":
        from eth_utils.address import is_address

        if urlsplit(args.rpc).scheme not in ("http", "https"):
            return f"--rpc {args.rpc!r} must be an http(s) URL"
        if args.anchor is not None and not is_address(args.anchor):
            return f"--anchor {args.anchor!r} is not a contract address"
    return None


def _provenance_report(args: argparse.Namespace, outcome: str, reason: str, proof: dict[str, Any] | None) -> int:
    code = PROVENANCE_EXIT[outcome]
    if args.json:
        print(json.dumps({"outcome": outcome, "reason": reason, "exit": code, "proof": proof}, indent=2))
    else:
        print(f"{outcome.upper()}: {reason}")
    return code


def cmd_provenance(args: argparse.Namespace) -> int:
    """show: one provenance entry and its proof as the marketplace gives them. verify: check them without
    trusting the marketplace: the entry's hash, its links to its neighbours, and its inclusion proof
    against the root the ProvenanceAnchor contract holds on chain."""
    problem = _provenance_usage(args)
    if problem:
        print(f"nfvm provenance: {problem}", file=sys.stderr)
        return EXIT_USAGE
    base = args.url.rstrip("/")
    try:
        proof = _fetch_proof(base, args.seq)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"nfvm provenance: the marketplace at {base} cannot be read: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if proof is None:
        if args.action == "show":
            print(f"nfvm provenance: {base} has no provenance entry {args.seq}", file=sys.stderr)
            return PROVENANCE_EXIT["unknown"]
        return _provenance_report(args, "unknown", f"{base} has no provenance entry {args.seq}", None)
    if args.action == "show":
        if args.json:
            print(json.dumps(proof, indent=2))
        else:
            _print_proof(proof)
        return 0
    return _provenance_verify(args, proof)


def _print_proof(proof: dict[str, Any]) -> None:
    entry, anchor = proof["entry"], proof.get("anchor")
    print(f"entry {entry['seq']}: {entry['kind']} by {entry['actor']} on {entry['subject']} at {entry['created_at']}")
    print(f"  payload      {json.dumps(entry['payload'], sort_keys=True)}")
    print(f"  entry hash   {entry['entry_hash']}")
    print(f"  prev hash    {entry['prev_hash']}")
    print(f"  state        {proof['state']}")
    if anchor:
        print(
            f"  anchored     range {anchor['from_seq']}-{anchor['to_seq']} (anchor {anchor['anchor_id']}), "
            f"root {anchor['root']}"
        )
        print(f"  transaction  {anchor['tx_hash']} in block {anchor['block_number']}")
        print(f"  contract     {proof['contract']} on chain {proof['chain_id']}")


def _provenance_verify(args: argparse.Namespace, proof: dict[str, Any]) -> int:
    from ledger.client import ChainClient
    from ledger.exceptions import LedgerError
    from ledger.provenance_anchor import ProvenanceAnchor
    from ledger.provenance_verify import verify_entry_proof

    broken = _link_problem(proof)
    if broken:
        return _provenance_report(args, "mismatch", broken, proof)
    client = ChainClient(args.rpc, timeout=30.0)
    seq = args.seq
    try:
        anchor, pinned_in = trusted(args, client, "anchor")
        if anchor is None:
            print(f"nfvm provenance: {pinned_in}", file=sys.stderr)
            return EXIT_NOT_PINNED
        if not isinstance(proof.get("anchor"), dict):
            on_chain = ProvenanceAnchor(client, anchor).anchor_of(seq)
            if on_chain is None:
                return _provenance_report(args, "unanchored", f"entry {seq} is not anchored on chain yet", proof)
            reason = (
                f"entry {seq} is anchored on chain in range {on_chain.from_seq}-{on_chain.to_seq}, but the "
                "marketplace gives no inclusion proof for it yet"
            )
            return _provenance_report(args, "unanchored", reason, proof)
        accepted, reason = verify_entry_proof(proof, client=client, anchor_address=anchor)
        if not accepted and reason.startswith("the chain could not be asked"):
            print(f"nfvm provenance: {reason}", file=sys.stderr)
            return EXIT_UNREACHABLE
    except LedgerError as exc:
        print(f"nfvm provenance: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    return _provenance_report(args, "verified" if accepted else "mismatch", reason, proof)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="nfvm", description="NFV marketplace developer tool")
    commands = root.add_subparsers(dest="command", required=True)
    package = commands.add_parser("package", help="build, inspect and push VNF/NS packages")
    actions = package.add_subparsers(dest="action", required=True)
    b = actions.add_parser("build", help="build a package archive from a folder")
    b.add_argument("dir")
    b.add_argument("--format", required=True, choices=["etsi", "osm", "5gtango"])
    b.add_argument("-o", "--output")
    b.add_argument("--entry", help="ETSI: the entry definitions file (Definitions/...yaml)")
    b.set_defaults(func=cmd_build)
    i = actions.add_parser("inspect", help="validate a package locally, as the marketplace does")
    i.add_argument("file")
    i.add_argument("--vnf", action="append", default=[], help="a VNF package an NS package refers to")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_inspect)
    p = actions.add_parser("push", help="upload a package to a marketplace")
    p.add_argument("file")
    p.add_argument("--url", required=True)
    p.add_argument("--keystore", required=True, help="encrypted key file of the developer's address")
    p.set_defaults(func=cmd_push)
    v = commands.add_parser(
        "verify",
        help="check a package against the chain alone",
        description="Check a package file, or a package a marketplace serves, against the PackageRegistry on "
        "a chain node, trusting neither the marketplace's server nor its database. Exit codes: 0 verified, "
        "10 unknown, 11 revoked, 12 superseded, 13 tampered, 2 usage error, 3 chain node or marketplace error, "
        "4 registry not pinned.",
    )
    v.add_argument("file", nargs="?", help="a package file")
    v.add_argument("--rpc", required=True, help="the chain node's JSON-RPC URL: the only source of truth")
    v.add_argument(
        "--registry",
        help="the PackageRegistry address to trust (default: the one pinned for the node's chain with `nfvm trust "
        "pin`); a marketplace's word for it is never taken",
    )
    v.add_argument(
        "--trust-file",
        help="the trust file of pinned addresses (default: $NFVM_TRUST_FILE or ~/.config/nfvm/trust.json)",
    )
    v.add_argument(
        "--proof", help="FILE mode: the marketplace's proof JSON, for a batched registration not yet recorded"
    )
    v.add_argument("--package-id", help="a package id at the marketplace --url")
    v.add_argument("--url", help="the marketplace's base URL")
    v.add_argument("--output", help="with --package-id: keep the downloaded bytes here when they are verified")
    v.add_argument(
        "--token",
        help="with --package-id: an API token of the marketplace (or NFVM_TOKEN), for a licensed-only package",
    )
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify)
    licence = commands.add_parser("licence", help="buy or activate a licence with your own key")
    licence_actions = licence.add_subparsers(dest="action", required=True)
    for action, text in (
        ("buy", "buy a private licence (paid from your key)"),
        ("activate", "activate a trial (relayed by the marketplace)"),
    ):
        sub = licence_actions.add_parser(action, help=text)
        sub.add_argument("--offer", required=True, type=int)
        sub.add_argument("--url", required=True, help="the marketplace's base URL")
        sub.add_argument("--keystore", required=True, help="encrypted key file of your address")
        sub.add_argument("--rpc", help="the chain node's JSON-RPC URL (needed to pay for a purchase)")
        sub.set_defaults(func=cmd_licence)
    provenance = commands.add_parser(
        "provenance",
        help="show or verify a provenance log entry",
        description="Show a provenance log entry with its proof, or verify it without trusting the marketplace: "
        "the entry's hash, its links to its neighbours, and its Merkle inclusion proof against the root the "
        "ProvenanceAnchor contract holds. Exit codes of verify: 0 verified, 20 not anchored yet, 21 mismatch, "
        "22 no such entry, 2 usage error, 3 chain node or marketplace error.",
    )
    provenance_actions = provenance.add_subparsers(dest="action", required=True)
    show = provenance_actions.add_parser("show", help="the entry and its proof as the marketplace gives them")
    check = provenance_actions.add_parser("verify", help="check the entry against the chain")
    for sub in (show, check):
        sub.add_argument("seq", type=int, help="the entry's sequence number")
        sub.add_argument("--url", required=True, help="the marketplace's base URL")
        sub.add_argument("--json", action="store_true")
        sub.set_defaults(func=cmd_provenance)
    check.add_argument("--rpc", required=True, help="the chain node's JSON-RPC URL: the only source of truth")
    check.add_argument(
        "--anchor", help="the ProvenanceAnchor address to trust (default: the one pinned for the node's chain)"
    )
    check.add_argument("--trust-file", help="the trust file of pinned addresses")
    add_trust_commands(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
