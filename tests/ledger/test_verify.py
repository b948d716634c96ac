"""`nfvm verify` and ledger.offline.verify on anvil: direct, relayed and batched registrations, each outcome, and a
stand-in marketplace over http.server that the verifier must not trust. The registration that counts for a
file is the one under the line its own main descriptor names, so every file here is a real package."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.client import ChainClient
from ledger.exceptions import ChainUnavailable
from ledger.offline.evidence import version_text
from ledger.offline.merkle import MerkleTree
from ledger.offline.verdict import MarketplaceUnavailable, Mode, Outcome, VerifyError
from ledger.offline.verify import verify_file as verify_file_with
from ledger.offline.verify import verify_marketplace_package as verify_marketplace_package_with
from ledger.registry import PackageRegistry, Registration, batch_tree, name_hash, version_number
from marketplace.repository.packages.build import build
from tests.factories import claim_line, nfvm, nfvm_verify, package_facts
from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def verify_file(path: Path, **kwargs: Any) -> Any:
    """ledger.offline.verify.verify_file as `nfvm verify` calls it: with the package reader that tells the
    line the file names (the verifier itself imports no package reader)."""
    from marketplace.cli import _identity

    return verify_file_with(path, identity=_identity, **kwargs)


def verify_marketplace_package(package_id: str, **kwargs: Any) -> Any:
    from marketplace.cli import _identity

    kwargs.setdefault("identity", _identity)
    return verify_marketplace_package_with(package_id, **kwargs)


def cli_claim(path: Path) -> Any:
    from marketplace.cli import _claim

    return _claim(path)


DEMO_AMF = ROOT / "demo/packages/osm/nfvm_demo_amf_vnf"
# The line the demo AMF's descriptor names (provider and product-name).
LINE = name_hash("NFV Marketplace Demo", "nfvm-demo-amf")
HOUR = 3600
# Main descriptor digest of each package built here, by archive digest.
DESCRIPTORS: dict[str, str] = {}
# An address without code: a registry the marketplace made up.
NO_CODE = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture
def reg(snapshot, deployed, chain: ChainClient) -> PackageRegistry:
    return PackageRegistry(chain, deployed["PackageRegistry"])


def package(tmp_path: Path, label: str, version: str = "1.0") -> tuple[Path, str]:
    """The demo AMF at `version`, its description carrying `label` so that each is other bytes."""
    source = tmp_path / f"src-{label}"
    shutil.copytree(DEMO_AMF, source)
    vnfd = source / "nfvm_demo_amf_vnfd.yaml"
    vnfd.write_text(
        vnfd.read_text().replace("one VM", f"one VM ({label})").replace("version: '1.0'", f"version: '{version}'")
    )
    path = build(source, "osm", tmp_path / f"{label}.tar.gz")
    facts = package_facts(path)
    DESCRIPTORS[facts.digest] = facts.descriptor_digest
    return path, facts.digest


def descriptor(digest: str) -> str:
    return DESCRIPTORS.get(digest) or "0x" + hashlib.sha256(f"{digest}.vnfd".encode()).hexdigest()


def own_line(chain, reg: PackageRegistry, account: LocalAccount, line: bytes) -> None:
    if reg.line_owner(line) is None:
        claim_line(chain, reg, account, line)


def send(chain: ChainClient, reg: PackageRegistry, account: LocalAccount, tx):
    return chain.transact(account, tx, abi=reg.abi)


def register(chain, reg, account, digest: str, version: str, line: bytes = LINE):
    own_line(chain, reg, account, line)
    tx = reg.register(account.address, digest, line, version_number(version), descriptor(digest))
    return send(chain, reg, account, tx)


def signed(
    chain, reg, signer: LocalAccount, digest: str, version: str, *, nonce=None, publisher=None, line: bytes = LINE
) -> tuple[Registration, bytes]:
    """A registration signed by `signer` (the developer's wallet); `publisher` may name someone else."""
    publisher = publisher or signer.address
    own_line(chain, reg, signer, line)
    registration = Registration(
        digest=digest,
        name_hash="0x" + line.hex(),
        version=version_number(version),
        descriptor_digest=descriptor(digest),
        publisher=publisher,
        nonce=reg.line_nonce(line) if nonce is None else nonce,
        deadline=int(chain.w3.eth.get_block("latest")["timestamp"]) + HOUR,
    )
    signature = Account.sign_typed_data(signer.key, full_message=reg.typed_data(registration)).signature
    return registration, bytes(signature)


def anchor(chain, reg, operator, items) -> tuple[int, MerkleTree]:
    tree = batch_tree(items)
    receipt = send(chain, reg, operator, reg.anchor_batch(operator.address, tree.root, tree.size))
    return reg.anchored_batch_id(receipt), tree


def proof_document(
    chain, reg, items, index: int, batch_id: int, tree: MerkleTree, *, path_of: int | None = None
) -> dict[str, Any]:
    """The marketplace's proof format for leaf `index` (with the audit path of leaf `path_of`, if given)."""
    registration, signature = items[index]
    return {
        "package_id": f"pkg-{index}",
        "digest": registration.digest,
        "chain_id": chain.chain_id(),
        "registry": reg.address,
        "state": "submitted",
        "mode": "batch",
        "publisher": registration.publisher,
        "registration": registration.message(),
        "signature": "0x" + signature.hex(),
        "tx_hash": None,
        "block_number": None,
        "batch": {
            "batch_id": batch_id,
            "root": "0x" + tree.root.hex(),
            "size": tree.size,
            "index": index,
            "proof": ["0x" + p.hex() for p in tree.proof(index if path_of is None else path_of)],
        },
    }


def nfvm_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = nfvm_verify(*args, "--json")
    return result.returncode, json.loads(result.stdout)


# ---------------------------------------------------------------- VERIFIED, one per way of registering


def test_a_directly_registered_demo_package_verifies(tmp_path, chain, reg, developer):
    from marketplace.repository.packages.inspect import package_claimed

    path = build(ROOT / "demo/packages/osm/nfvm_demo_amf_vnf", "osm", tmp_path / "amf.tar.gz")
    digest = "0x" + hashlib.sha256(path.read_bytes()).hexdigest()
    # Under the line, version and main descriptor the package names, as the marketplace registers it:
    # `nfvm verify` compares them with what the file says it is.
    claimed = package_claimed(path)
    assert claimed.info is not None
    assert claimed.descriptor_digest is not None
    line = name_hash(claimed.info.vendor, claimed.info.name)
    own_line(chain, reg, developer, line)
    tx = reg.register(
        developer.address, digest, line, version_number(claimed.info.version), "0x" + claimed.descriptor_digest
    )
    receipt = send(chain, reg, developer, tx)

    verdict = verify_file(path, client=chain, registry_address=reg.address)
    assert verdict.outcome is Outcome.VERIFIED
    assert verdict.mode is Mode.DIRECT
    assert verdict.digest == digest
    assert (verdict.publisher, verdict.signer, verdict.publishing_key) == (developer.address,) * 3
    assert verdict.tx_hash == receipt["transactionHash"].to_0x_hex()
    assert verdict.block_number == receipt["blockNumber"]
    assert (verdict.version, verdict.version_text) == (version_number("1.0"), "1.0.0")
    assert verdict.name_hash == "0x" + line.hex()
    assert verdict.descriptor_digest == "0x" + claimed.descriptor_digest
    assert verdict.latest_version == version_number("1.0")
    assert (verdict.chain_id, verdict.registry, verdict.recorded, verdict.status) == (
        31337,
        reg.address,
        True,
        "active",
    )

    code, report = nfvm_json(str(path), "--rpc", chain.rpc_url, "--registry", reg.address)
    assert code == 0, report
    assert report["outcome"] == "verified"
    assert (report["mode"], report["signer"], report["tx_hash"]) == ("direct", developer.address, verdict.tx_hash)
    human = nfvm_verify(str(path), "--rpc", chain.rpc_url, "--registry", reg.address)
    assert human.returncode == 0
    assert human.stdout.startswith("VERIFIED: ")
    assert verdict.tx_hash in human.stdout


def test_a_relayed_registration_verifies_with_the_signer_recovered(tmp_path, chain, reg, developer, operator):
    path, digest = package(tmp_path, "relayed", "2.1")
    registration, signature = signed(chain, reg, developer, digest, "2.1")
    receipt = send(chain, reg, operator, reg.register_with_signature(operator.address, registration, signature))

    verdict = verify_file(path, client=chain, registry_address=reg.address)
    assert verdict.outcome is Outcome.VERIFIED
    assert verdict.mode is Mode.RELAYED
    # The operator sent the transaction; the signature recovered from its input is the developer's.
    assert verdict.signer == verdict.publisher == developer.address
    assert verdict.tx_hash == receipt["transactionHash"].to_0x_hex()
    assert any(operator.address in f and "signed by" in f for f in verdict.findings)

    code, report = nfvm_json(str(path), "--rpc", chain.rpc_url, "--registry", reg.address)
    assert (code, report["mode"], report["signer"]) == (0, "relayed", developer.address)


def test_a_batched_registration_counts_only_once_proven_on_chain(tmp_path, chain, reg, developer, operator, stranger):
    files = [package(tmp_path, f"batched-{i}", f"3.{i}") for i in range(5)]
    items = [signed(chain, reg, developer, digest, f"3.{i}", nonce=i) for i, (_, digest) in enumerate(files)]
    batch_id, tree = anchor(chain, reg, operator, items)
    path, _ = files[2]
    proof_path = tmp_path / "proof.json"
    proof_path.write_text(json.dumps(proof_document(chain, reg, items, 2, batch_id, tree)))

    # Anchored but not proven: a batch root is no registration, with or without the marketplace's proof.
    assert verify_file(path, client=chain, registry_address=reg.address).outcome is Outcome.UNKNOWN
    verdict = verify_file(path, client=chain, registry_address=reg.address, proof=json.loads(proof_path.read_text()))
    assert verdict.outcome is Outcome.UNKNOWN, verdict.findings
    assert any("counts only once it is proven on chain" in f for f in verdict.findings), verdict.findings
    args = (str(path), "--rpc", chain.rpc_url, "--registry", reg.address)
    assert nfvm_verify(*args, "--proof", str(proof_path)).returncode == 10

    # Anyone records it; then the record verifies it, and the signer comes from proveBatched's input.
    # Nonces are spent in order, so leaves 0 and 1 go first.
    for index in range(3):
        registration, signature = items[index]
        tx = reg.prove_batched(stranger.address, batch_id, registration, signature, tree.proof(index), index)
        receipt = send(chain, reg, stranger, tx)
    verdict = verify_file(path, client=chain, registry_address=reg.address)
    assert verdict.outcome is Outcome.VERIFIED
    assert (verdict.mode, verdict.recorded, verdict.batch_id, verdict.batch_index) == (Mode.BATCH, True, batch_id, 2)
    assert (verdict.batch_size, verdict.batch_root) == (5, "0x" + tree.root.hex())
    assert verdict.signer == developer.address
    assert verdict.tx_hash == receipt["transactionHash"].to_0x_hex()
    code, report = nfvm_json(*args)
    assert (code, report["mode"], report["recorded"], report["batch"]["index"]) == (0, "batch", True, 2)


# ---------------------------------------------------------------- UNKNOWN, REVOKED, SUPERSEDED


def test_an_unregistered_file_is_unknown(tmp_path, chain, reg):
    path, _ = package(tmp_path, "never-registered")
    verdict = verify_file(path, client=chain, registry_address=reg.address)
    assert verdict.outcome is Outcome.UNKNOWN
    assert (verdict.publisher, verdict.mode, verdict.tx_hash) == (None, None, None)
    result = nfvm_verify(str(path), "--rpc", chain.rpc_url, "--registry", reg.address)
    assert result.returncode == 10
    assert result.stdout.startswith("UNKNOWN: ")


def registered_demo(tmp_path, chain, reg, developer) -> tuple[Path, Path, str]:
    """The demo AMF registered under its own line and version, and a copy of its folder to change."""
    import shutil

    from marketplace.repository.packages.inspect import package_claimed

    source = tmp_path / "amf"
    shutil.copytree(ROOT / "demo/packages/osm/nfvm_demo_amf_vnf", source)
    path = build(source, "osm", tmp_path / "amf.tar.gz")
    claimed = package_claimed(path)
    info = claimed.info
    assert info is not None
    assert claimed.descriptor_digest is not None
    digest = "0x" + hashlib.sha256(path.read_bytes()).hexdigest()
    own_line(chain, reg, developer, name_hash(info.vendor, info.name))
    tx = reg.register(
        developer.address,
        digest,
        name_hash(info.vendor, info.name),
        version_number(info.version),
        "0x" + claimed.descriptor_digest,
    )
    send(chain, reg, developer, tx)
    return path, source, digest


def test_a_changed_copy_of_a_registered_package_is_tampered_not_unknown(tmp_path, chain, reg, developer):
    original, source, digest = registered_demo(tmp_path, chain, reg, developer)
    descriptor_file = source / "nfvm_demo_amf_vnfd.yaml"
    # A consistent, valid package that says it is the registered one, with one word changed.
    descriptor_file.write_text(descriptor_file.read_text().replace("one VM", "one virtual machine"))
    changed = build(source, "osm", tmp_path / "changed.tar.gz")

    verdict = verify_file(changed, client=chain, registry_address=reg.address, claim=lambda: cli_claim(changed))

    assert verdict.outcome is Outcome.TAMPERED
    assert digest in verdict.reason
    assert developer.address in verdict.reason
    result = nfvm_verify(str(changed), "--rpc", chain.rpc_url, "--registry", reg.address)
    assert result.returncode == 13
    assert result.stdout.startswith("TAMPERED: ")
    assert nfvm_verify(str(original), "--rpc", chain.rpc_url, "--registry", reg.address).returncode == 0


def test_a_package_whose_own_checksums_do_not_match_is_tampered(tmp_path, chain, reg):
    from tests.factories import shared_package

    bad = shared_package("5gtango/5gtango-ns-package-example-bad-checksum.tgo")

    result = nfvm_verify(str(bad), "--rpc", chain.rpc_url, "--registry", reg.address, "--json")

    assert result.returncode == 13, result.stdout
    report = json.loads(result.stdout)
    assert "do not match its content" in report["reason"]
    assert "Definitions/myvnfd.yaml" in report["reason"]


def test_an_unregistered_version_of_a_registered_line_is_unknown_and_says_which_versions_exist(
    tmp_path, chain, reg, developer
):
    _, source, _ = registered_demo(tmp_path, chain, reg, developer)
    descriptor_file = source / "nfvm_demo_amf_vnfd.yaml"
    descriptor_file.write_text(descriptor_file.read_text().replace("version: '1.0'", "version: '1.1'"))
    newer = build(source, "osm", tmp_path / "newer.tar.gz")

    verdict = verify_file(newer, client=chain, registry_address=reg.address, claim=lambda: cli_claim(newer))

    assert verdict.outcome is Outcome.UNKNOWN
    assert any("registered versions 1.0.0, not this one" in f for f in verdict.findings), verdict.findings


def test_a_revoked_package_is_revoked(tmp_path, chain, reg, developer):
    path, digest = package(tmp_path, "revoked")
    register(chain, reg, developer, digest, "1.0")
    send(chain, reg, developer, reg.revoke(developer.address, digest, LINE))
    verdict = verify_file(path, client=chain, registry_address=reg.address)
    assert (verdict.outcome, verdict.status, verdict.publisher) == (Outcome.REVOKED, "revoked", developer.address)
    assert nfvm_verify(str(path), "--rpc", chain.rpc_url, "--registry", reg.address).returncode == 11


def test_an_older_version_is_superseded_and_a_deprecated_one_still_verifies(tmp_path, chain, reg, developer):
    (old, old_digest), (new, new_digest) = package(tmp_path, "v1"), package(tmp_path, "v2", "1.1")
    register(chain, reg, developer, old_digest, "1.0")
    register(chain, reg, developer, new_digest, "1.1")
    verdict = verify_file(old, client=chain, registry_address=reg.address)
    assert verdict.outcome is Outcome.SUPERSEDED
    assert (verdict.version_text, verdict.latest_version_text) == ("1.0.0", "1.1.0")
    assert "1.1.0" in verdict.reason
    assert nfvm_verify(str(old), "--rpc", chain.rpc_url, "--registry", reg.address).returncode == 12

    send(chain, reg, developer, reg.deprecate(developer.address, new_digest, LINE))
    verdict = verify_file(new, client=chain, registry_address=reg.address)
    assert (verdict.outcome, verdict.status) == (Outcome.VERIFIED, "deprecated")
    assert any("deprecated" in f for f in verdict.findings)


def test_a_key_rotation_leaves_recorded_packages_verified(tmp_path, chain, reg, developer):
    first, first_digest = package(tmp_path, "r1")
    register(chain, reg, developer, first_digest, "1.0")

    new_key = Account.create()
    send(chain, reg, developer, reg.rotate_key(developer.address, new_key.address))
    verdict = verify_file(first, client=chain, registry_address=reg.address)
    assert (verdict.outcome, verdict.publisher, verdict.publishing_key) == (
        Outcome.VERIFIED,
        developer.address,
        new_key.address,
    )
    assert any("rotated" in f for f in verdict.findings)


# ---------------------------------------------------------------- proofs of unproven batch leaves


@pytest.mark.parametrize("how", ["as built", "another leaf's path", "signed by another key", "another line's owner"])
def test_attack_a_proof_of_an_unproven_batch_leaf_counts_for_nothing(
    tmp_path, chain, reg, developer, operator, stranger, how
):
    """Finding 5: a batch root on chain once let a database row (or a proof document) make a package read
    as anchored. Whatever proof a marketplace serves for a leaf nobody proved, the file stays unknown."""
    files = [package(tmp_path, f"leaf-{i}", f"4.{i}") for i in range(3)]
    items = [signed(chain, reg, developer, files[i][1], f"4.{i}", nonce=i) for i in range(2)]
    if how == "another line's owner":
        items.append(signed(chain, reg, stranger, files[2][1], "4.2", nonce=2, line=name_hash("Mallory", "amf")))
    else:
        signer = stranger if how == "signed by another key" else developer
        items.append(signed(chain, reg, signer, files[2][1], "4.2", nonce=2, publisher=developer.address))
    batch_id, tree = anchor(chain, reg, operator, items)
    proof = proof_document(chain, reg, items, 2, batch_id, tree, path_of=1 if how == "another leaf's path" else None)

    verdict = verify_file(files[2][0], client=chain, registry_address=reg.address, proof=proof)

    assert verdict.outcome is Outcome.UNKNOWN, verdict
    assert any("counts only once it is proven on chain" in f for f in verdict.findings)
    proof_path = tmp_path / "proof.json"
    proof_path.write_text(json.dumps(proof))
    result = nfvm_verify(
        str(files[2][0]), "--rpc", chain.rpc_url, "--registry", reg.address, "--proof", str(proof_path)
    )
    assert result.returncode == 10
    assert result.stdout.startswith("UNKNOWN: ")


# ---------------------------------------------------------------- errors


def test_an_unreachable_node_exits_3_naming_it(tmp_path, reg):
    path, _ = package(tmp_path, "any")
    url = f"http://127.0.0.1:{free_port()}"
    result = nfvm_verify(str(path), "--rpc", url, "--registry", reg.address)
    assert result.returncode == 3
    assert url in result.stderr
    with pytest.raises(ChainUnavailable, match=re.escape(url)):
        verify_file(path, client=ChainClient(url), registry_address=reg.address)


def test_usage_errors_exit_2(tmp_path, chain, reg, deployed):
    path, _ = package(tmp_path, "any")
    rpc = chain.rpc_url
    unpinned = nfvm_verify(str(path), "--rpc", rpc)
    assert unpinned.returncode == 4
    assert "registry not pinned for chain 31337: give --registry ADDRESS" in unpinned.stderr
    cases = [
        (str(path), "--rpc", rpc, "--registry", "0x1234"),  # not an address
        (str(path), "--rpc", rpc, "--registry", deployed["LicenseManager"]),  # not a PackageRegistry
        (str(tmp_path / "missing"), "--rpc", rpc, "--registry", reg.address),
        (str(path), "--rpc", rpc, "--registry", reg.address, "--proof", str(path)),  # not JSON
        ("--package-id", "x", "--rpc", rpc),  # no --url
        (str(path), "--package-id", "x", "--url", "http://127.0.0.1:1", "--rpc", rpc),
        (str(path), "--rpc", "ftp://node", "--registry", reg.address),
    ]
    for args in cases:
        result = nfvm_verify(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("nfvm verify: ")
    with pytest.raises(VerifyError, match="does not run the PackageRegistry code"):
        verify_file(path, client=chain, registry_address=deployed["LicenseManager"])


# ---------------------------------------------------------------- URL mode, against a marketplace not trusted


@dataclass
class Marketplace:
    """A stand-in third party: it answers the three endpoints with whatever the test gives it."""

    base_url: str
    routes: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # path -> the bearer token it requires

    def serve(self, package_id: str, *, claimed: str, content: bytes, proof: dict[str, Any] | None) -> None:
        base = f"/api/v1/packages/{package_id}"
        body = {"id": package_id, "digest": {"algorithm": "SHA-256", "hash": claimed.removeprefix("0x")}}
        self.routes[base] = ("application/json", json.dumps(body).encode())
        self.routes[f"{base}/content"] = ("application/octet-stream", content)
        if proof is not None:
            self.routes[f"{base}/proof"] = ("application/json", json.dumps(proof).encode())


@pytest.fixture
def marketplace() -> Iterator[Marketplace]:
    routes: dict[str, tuple[str, bytes]] = {}
    tokens: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = routes.get(self.path)
            if found is None:
                self.send_error(404)
                return
            if self.path in tokens and self.headers.get("Authorization") != f"Bearer {tokens[self.path]}":
                self.send_error(401)
                return
            kind, body = found
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Marketplace(f"http://127.0.0.1:{server.server_address[1]}", routes, tokens)
    finally:
        server.shutdown()
        server.server_close()


def anchored_proof(chain, reg, digest: str, publisher: str, **changes: Any) -> dict[str, Any]:
    return {
        "package_id": "p",
        "digest": digest,
        "chain_id": chain.chain_id(),
        "registry": reg.address,
        "state": "anchored",
        "mode": "direct",
        "publisher": publisher,
        "registration": None,
        "signature": None,
        "tx_hash": None,
        "block_number": None,
        "batch": None,
        **changes,
    }


def test_a_licensed_only_package_is_downloaded_with_the_users_api_token(tmp_path, chain, reg, developer, marketplace):
    path, digest = package(tmp_path, "licensed")
    register(chain, reg, developer, digest, "1.0")
    marketplace.serve(
        "licensed",
        claimed=digest,
        content=path.read_bytes(),
        proof=anchored_proof(chain, reg, digest, developer.address),
    )
    marketplace.tokens["/api/v1/packages/licensed/content"] = "nfvm_secret"
    args = (
        "--package-id",
        "licensed",
        "--url",
        marketplace.base_url,
        "--rpc",
        chain.rpc_url,
        "--registry",
        reg.address,
    )

    refused = nfvm_verify(*args)
    wrong = nfvm_verify(*args, "--token", "nfvm_expired")
    allowed = nfvm_verify(*args, "--token", "nfvm_secret")

    assert refused.returncode == 3
    assert "HTTP 401" in refused.stderr
    assert "set NFVM_TOKEN (or pass --token TOKEN)" in refused.stderr, "a 401 says how to get in"
    assert "API tokens page" in refused.stderr
    assert wrong.returncode == 3
    assert "the token is unknown or expired" in wrong.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith("VERIFIED: ")


def test_a_marketplace_serving_the_anchored_bytes_verifies(tmp_path, chain, reg, developer, operator, marketplace):
    path, digest = package(tmp_path, "served")
    register(chain, reg, developer, digest, "1.0")
    marketplace.serve(
        "good", claimed=digest, content=path.read_bytes(), proof=anchored_proof(chain, reg, digest, developer.address)
    )

    verdict = verify_marketplace_package(
        "good", base_url=marketplace.base_url, client=chain, registry_address=reg.address
    )
    assert verdict.outcome is Outcome.VERIFIED
    assert verdict.source == f"{marketplace.base_url}/api/v1/packages/good/content"

    # A batched registration verifies once proven on chain.
    batched, batched_digest = package(tmp_path, "served-batched", "2.0")
    items = [signed(chain, reg, developer, batched_digest, "2.0")]
    batch_id, tree = anchor(chain, reg, operator, items)
    registration, signature = items[0]
    send(chain, reg, operator, reg.prove_batched(operator.address, batch_id, registration, signature, [], 0))
    marketplace.serve(
        "batched",
        claimed=batched_digest,
        content=batched.read_bytes(),
        proof=proof_document(chain, reg, items, 0, batch_id, tree),
    )
    saved = tmp_path / "saved.tar.gz"
    code, report = nfvm_json(
        "--package-id",
        "batched",
        "--url",
        marketplace.base_url,
        "--rpc",
        chain.rpc_url,
        "--registry",
        reg.address,
        "--output",
        str(saved),
    )
    assert (code, report["mode"], report["recorded"], report["pinned_in"]) == (0, "batch", True, None)
    assert saved.read_bytes() == batched.read_bytes()

    trust = tmp_path / "trust.json"
    pinned = nfvm("trust", "pin", "--chain-id", "31337", "--registry", reg.address, "--trust-file", str(trust))
    assert pinned.returncode == 0, pinned.stderr
    # (The batched 2.0 is the line's latest now: the 1.0 served as "good" reads superseded.)
    args = ("--package-id", "batched", "--url", marketplace.base_url, "--rpc", chain.rpc_url)
    code, report = nfvm_json(*args, "--trust-file", str(trust))
    assert (code, report["outcome"], report["registry"], report["pinned_in"]) == (
        0,
        "verified",
        reg.address,
        str(trust),
    )


def test_a_marketplace_serving_other_bytes_is_tampered(tmp_path, chain, reg, developer, marketplace):
    (path, digest), (other, _) = package(tmp_path, "anchored"), package(tmp_path, "swapped")
    register(chain, reg, developer, digest, "1.0")
    proof = anchored_proof(chain, reg, digest, developer.address)
    # Claims the anchored digest, serves other bytes.
    marketplace.serve("swap", claimed=digest, content=other.read_bytes(), proof=proof)
    saved = tmp_path / "saved"
    verdict = verify_marketplace_package(
        "swap", base_url=marketplace.base_url, client=chain, registry_address=reg.address, save_to=saved
    )
    assert verdict.outcome is Outcome.TAMPERED
    assert "serves bytes that differ from the anchored digest" in verdict.reason
    assert not saved.exists()
    assert list(tmp_path.glob(".nfvm-verify-*")) == []
    result = nfvm_verify(
        "--package-id", "swap", "--url", marketplace.base_url, "--rpc", chain.rpc_url, "--registry", reg.address
    )
    assert result.returncode == 13
    assert "serves bytes that differ" in result.stdout

    # Claims the digest of the bytes it serves, while its proof is for the anchored ones.
    served = other.read_bytes()
    marketplace.serve("swap2", claimed="0x" + hashlib.sha256(served).hexdigest(), content=served, proof=proof)
    verdict = verify_marketplace_package(
        "swap2", base_url=marketplace.base_url, client=chain, registry_address=reg.address
    )
    assert verdict.outcome is Outcome.TAMPERED

    # Names another registry: it is not asked; the pinned one decides, and the claim is reported.
    marketplace.serve("fake", claimed=digest, content=path.read_bytes(), proof={**proof, "registry": NO_CODE})
    verdict = verify_marketplace_package(
        "fake", base_url=marketplace.base_url, client=chain, registry_address=reg.address
    )
    assert verdict.outcome is Outcome.VERIFIED
    assert f"the marketplace names registry {NO_CODE}; the pinned one is used" in verdict.findings


def test_the_registry_is_not_taken_from_a_marketplace_on_another_chain(tmp_path, chain, reg, developer, marketplace):
    path, digest = package(tmp_path, "other-chain")
    register(chain, reg, developer, digest, "1.0")
    proof = anchored_proof(chain, reg, digest, developer.address, chain_id=1)
    marketplace.serve("p", claimed=digest, content=path.read_bytes(), proof=proof)
    unpinned = nfvm_verify("--package-id", "p", "--url", marketplace.base_url, "--rpc", chain.rpc_url)
    assert unpinned.returncode == 4
    assert "registry not pinned for chain 31337" in unpinned.stderr
    # Given the registry, the node alone decides; the mismatch is reported.
    verdict = verify_marketplace_package("p", base_url=marketplace.base_url, client=chain, registry_address=reg.address)
    assert verdict.outcome is Outcome.VERIFIED
    assert any("chain 1" in f for f in verdict.findings)


def test_a_marketplace_without_a_proof_or_answer(tmp_path, chain, reg, developer, marketplace):
    path, digest = package(tmp_path, "no-proof")
    register(chain, reg, developer, digest, "1.0")
    marketplace.serve("p", claimed=digest, content=path.read_bytes(), proof=None)
    verdict = verify_marketplace_package("p", base_url=marketplace.base_url, client=chain, registry_address=reg.address)
    assert verdict.outcome is Outcome.VERIFIED
    assert any("no proof" in f for f in verdict.findings)

    with pytest.raises(MarketplaceUnavailable, match="HTTP 404"):
        verify_marketplace_package("absent", base_url=marketplace.base_url, client=chain, registry_address=reg.address)
    closed = f"http://127.0.0.1:{free_port()}"
    result = nfvm_verify("--package-id", "p", "--url", closed, "--rpc", chain.rpc_url, "--registry", reg.address)
    assert result.returncode == 3
    assert closed in result.stderr


def test_attack_bytes_registered_under_another_line_are_nobodys_origin(
    tmp_path, chain, reg, developer, stranger, marketplace
):
    """Finding 1: the stranger registers the demo's bytes under a line of its own before its author does.
    That registration is nobody's origin for a file that names the demo's line; the author's registration
    of the same bytes, made after it, is the one that counts."""
    from marketplace.cli import _identity

    path = build(DEMO_AMF, "osm", tmp_path / "amf.tar.gz")
    facts = package_facts(path)
    digest = facts.digest
    squat = name_hash("Mallory Networks", "nfvm-demo-amf")
    own_line(chain, reg, stranger, squat)
    send(
        chain,
        reg,
        stranger,
        reg.register(stranger.address, digest, squat, facts.version, facts.descriptor_digest),
    )
    marketplace.serve(
        "p", claimed=digest, content=path.read_bytes(), proof=anchored_proof(chain, reg, digest, stranger.address)
    )
    args = ("--package-id", "p", "--url", marketplace.base_url, "--rpc", chain.rpc_url, "--registry", reg.address)

    verdict = verify_marketplace_package(
        "p", base_url=marketplace.base_url, client=chain, registry_address=reg.address, identity=_identity
    )
    assert verdict.outcome is Outcome.UNKNOWN
    assert verdict.publisher is None
    assert any(stranger.address in f and "nobody's origin" in f for f in verdict.findings), verdict.findings
    saved = tmp_path / "saved.tar.gz"
    result = nfvm_verify(*args, "--output", str(saved))
    assert result.returncode == 10, result.stdout + result.stderr
    assert not saved.exists()

    # The author registers the same bytes under its own line afterwards: nothing blocks it, and it counts.
    own_line(chain, reg, developer, LINE)
    send(
        chain,
        reg,
        developer,
        reg.register(developer.address, digest, LINE, facts.version, facts.descriptor_digest),
    )
    verdict = verify_marketplace_package(
        "p", base_url=marketplace.base_url, client=chain, registry_address=reg.address, identity=_identity
    )
    assert (verdict.outcome, verdict.publisher) == (Outcome.VERIFIED, developer.address)
    assert nfvm_verify(*args).returncode == 0


def test_version_numbers_read_back():
    assert version_text(version_number("1.2.3")) == "1.2.3"
    assert version_text(version_number("2.0-rc1")) == "2.0.0-pre"


# ---------------------------------------------------------------- the root of trust is what the user pinned


def test_attack_operator_registry_named_in_proof_is_not_trusted(tmp_path, chain, reg, developer, operator, marketplace):
    """Finding 2: an operator deploys a registry of its own (the same code as every deployment), registers
    tampered bytes there under the real line, and names that registry in /proof. The verifier never asks
    it: unpinned, it refuses; against the pinned registry, the tampered bytes are unknown."""
    from ledger import artifacts

    genuine, digest = package(tmp_path, "genuine")
    register(chain, reg, developer, digest, "1.0")
    tampered_path, tampered_digest = package(tmp_path, "tampered")
    factory = chain.factory(artifacts.load("PackageRegistry"))
    receipt = chain.transact(
        operator, factory.constructor(operator.address, 1).build_transaction({"from": operator.address})
    )
    own = PackageRegistry(chain, str(receipt["contractAddress"]))
    register(chain, own, operator, tampered_digest, "1.0")
    proof = anchored_proof(chain, own, tampered_digest, operator.address) | {"registry": own.address}
    marketplace.serve("p", claimed=tampered_digest, content=tampered_path.read_bytes(), proof=proof)
    args = ("--package-id", "p", "--url", marketplace.base_url, "--rpc", chain.rpc_url)

    unpinned = nfvm_verify(*args)
    assert unpinned.returncode == 4
    assert "registry not pinned for chain 31337" in unpinned.stderr
    assert f"the marketplace names {own.address}: check it out of band" in unpinned.stderr
    assert "VERIFIED" not in unpinned.stdout

    trust = tmp_path / "trust.json"
    assert (
        nfvm("trust", "pin", "--chain-id", "31337", "--registry", reg.address, "--trust-file", str(trust)).returncode
        == 0
    )
    pinned = nfvm_verify(*args, "--trust-file", str(trust))
    assert pinned.returncode == 10, pinned.stdout + pinned.stderr
    assert pinned.stdout.startswith("UNKNOWN: ")
    assert f"the marketplace names registry {own.address}; the pinned one is used" in pinned.stdout
    del genuine


def test_a_pin_changes_only_on_purpose(tmp_path, reg):
    trust = tmp_path / "nested" / "trust.json"
    first = nfvm("trust", "pin", "--chain-id", "31337", "--registry", reg.address, "--trust-file", str(trust))
    assert first.returncode == 0, first.stderr
    other = "0x" + "12" * 20
    refused = nfvm("trust", "pin", "--chain-id", "31337", "--registry", other, "--trust-file", str(trust))
    assert refused.returncode == 2
    assert f"chain 31337 already pins PackageRegistry {reg.address}; re-pin only on purpose, with --replace" in (
        refused.stderr
    )
    assert json.loads(trust.read_text())["chains"]["31337"]["registry"] == reg.address
    replaced = nfvm("trust", "pin", "--chain-id", "31337", "--registry", other, "--replace", "--trust-file", str(trust))
    assert replaced.returncode == 0
    shown = nfvm("trust", "show", "--trust-file", str(trust))
    assert "chain 31337  PackageRegistry  0x1212121212121212121212121212121212121212" in shown.stdout
    assert nfvm("trust", "unpin", "--chain-id", "31337", "--trust-file", str(trust)).returncode == 0
    assert json.loads(trust.read_text()) == {"version": 1, "chains": {}}


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("not json", "cannot be read"),
        ('{"version": 2, "chains": {}}', 'is not {"version": 1'),
        ('{"version": 1, "chains": {"x": {}}}', "chains.x is not a chain id"),
        ('{"version": 1, "chains": {"01": {}}}', "chains.01 is not a chain id"),
        ('{"version": 1, "chains": {"\u00b2": {}}}', "is not a chain id"),
        ('{"version": 1, "chains": {"1": {"registry": "0x12"}}}', "chains.1.registry is not a pinned address"),
    ],
)
def test_a_broken_trust_file_is_named_not_ignored(tmp_path, chain, content, why):
    path, _ = package(tmp_path, "any")
    trust = tmp_path / "trust.json"
    trust.write_text(content)
    result = nfvm_verify(str(path), "--rpc", chain.rpc_url, "--trust-file", str(trust))
    assert result.returncode == 2
    assert why in result.stderr
