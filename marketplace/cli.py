"""`nfvm`: the developer's command line. Needs no Django and no database.

nfvm package build DIR --format etsi|osm|5gtango [-o OUT] [--entry FILE]
nfvm package inspect FILE [--vnf PACKAGE ...] [--json]
nfvm package push FILE --url URL --keystore FILE   (password from NFVM_KEYSTORE_PASSWORD or a prompt)
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
from typing import Any
from urllib.parse import urlsplit

from marketplace.packages.build import BuildError, build
from marketplace.packages.inspect import Inspection, inspect_package
from marketplace.packages.problems import PackageRejected, Severity
from marketplace.packages.types import ParsedDescriptor, VnfRef


def _local_lookup(paths: list[Path]) -> Any:
    """Resolves NSD references against VNF packages given on the command line."""
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
    try:
        out = build(Path(args.dir), args.format, Path(args.output) if args.output else None, entry=args.entry)
    except (BuildError, PackageRejected) as exc:
        print(f"nfvm: cannot build {args.dir}: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
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
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
