"""`nfvm verify` and ledger.offline.verify on anvil: direct, relayed and batched registrations, each outcome, and a
stand-in marketplace over http.server that the verifier must not trust."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
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
from ledger.offline.verify import verify_file, verify_marketplace_package
from ledger.registry import PackageRegistry, Registration, batch_tree, name_hash, version_number
from marketplace.repository.packages.build import build
from tests.factories import nfvm, nfvm_verify
from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def cli_claim(path: Path) -> Any:
    from marketplace.cli import _claim

    return _claim(path)


LINE = name_hash("acme", "verified-fw")
HOUR = 3600
# An address without code: a registry the marketplace made up.
NO_CODE = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture
def reg(snapshot, deployed, chain: ChainClient) -> PackageRegistry:
    return PackageRegistry(chain, deployed["PackageRegistry"])


def package(tmp_path: Path, label: str) -> tuple[Path, str]:
    path = tmp_path / f"{label}.tar.gz"
    path.write_bytes(f"package {label}\n".encode() * 1000)
    return path, "0x" + hashlib.sha256(path.read_bytes()).hexdigest()


def descriptor(label: str) -> str:
    return "0x" + hashlib.sha256(f"{label}.vnfd".encode()).hexdigest()


def send(chain: ChainClient, reg: PackageRegistry, account: LocalAccount, tx):
    return chain.transact(account, tx, abi=reg.abi)


def register(chain, reg, account, digest: str, version: str, line: bytes = LINE):
    tx = reg.register(account.address, digest, line, version_number(version), descriptor(digest))
    return send(chain, reg, account, tx)


def signed(
    chain, reg, signer: LocalAccount, digest: str, version: str, *, nonce=None, publisher=None, line: bytes = LINE
) -> tuple[Registration, bytes]:
    """A registration signed by `signer` (the developer's wallet); `publisher` may name someone else."""
    publisher = publisher or signer.address
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
    path, digest = package(tmp_path, "relayed")
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


def test_a_batched_registration_verifies_by_its_inclusion_proof_then_by_its_record(
    tmp_path, chain, reg, developer, operator, stranger
):
    files = [package(tmp_path, f"batched-{i}") for i in range(5)]
    items = [signed(chain, reg, developer, digest, f"3.{i}", nonce=i) for i, (_, digest) in enumerate(files)]
    batch_id, tree = anchor(chain, reg, operator, items)
    path, _ = files[2]
    proof_path = tmp_path / "proof.json"
    proof_path.write_text(json.dumps(proof_document(chain, reg, items, 2, batch_id, tree)))

    # Not recorded on chain: without the proof the registry knows nothing of it.
    assert verify_file(path, client=chain, registry_address=reg.address).outcome is Outcome.UNKNOWN
    verdict = verify_file(path, client=chain, registry_address=reg.address, proof=json.loads(proof_path.read_text()))
    assert verdict.outcome is Outcome.VERIFIED, verdict.findings
    assert (verdict.mode, verdict.recorded) == (Mode.BATCH, False)
    assert verdict.signer == verdict.publisher == developer.address
    assert (verdict.batch_id, verdict.batch_index, verdict.batch_size) == (batch_id, 2, 5)
    assert verdict.batch_root == "0x" + tree.root.hex()
    assert verdict.tx_hash is not None  # the BatchAnchored transaction
    assert verdict.latest_version == 0
    assert "not recorded on chain yet" in verdict.reason

    args = (str(path), "--rpc", chain.rpc_url, "--registry", reg.address)
    assert nfvm_verify(*args).returncode == 10
    code, report = nfvm_json(*args, "--proof", str(proof_path))
    assert (code, report["mode"], report["recorded"], report["batch"]["index"]) == (0, "batch", False, 2)

    # Anyone records it; then the record alone verifies it, and the signer comes from proveBatched's input.
    # Nonces are spent in order, so leaves 0 and 1 go first.
    for index in range(3):
        registration, signature = items[index]
        tx = reg.prove_batched(stranger.address, batch_id, registration, signature, tree.proof(index), index)
        receipt = send(chain, reg, stranger, tx)
    verdict = verify_file(path, client=chain, registry_address=reg.address)
    assert verdict.outcome is Outcome.VERIFIED
    assert (verdict.mode, verdict.recorded, verdict.batch_id, verdict.batch_index) == (Mode.BATCH, True, batch_id, 2)
    assert verdict.signer == developer.address
    assert verdict.tx_hash == receipt["transactionHash"].to_0x_hex()
    assert nfvm_verify(*args).returncode == 0


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
    send(chain, reg, developer, reg.revoke(developer.address, digest))
    verdict = verify_file(path, client=chain, registry_address=reg.address)
    assert (verdict.outcome, verdict.status, verdict.publisher) == (Outcome.REVOKED, "revoked", developer.address)
    assert nfvm_verify(str(path), "--rpc", chain.rpc_url, "--registry", reg.address).returncode == 11


def test_an_older_version_is_superseded_and_a_deprecated_one_still_verifies(tmp_path, chain, reg, developer):
    (old, old_digest), (new, new_digest) = package(tmp_path, "v1"), package(tmp_path, "v2")
    register(chain, reg, developer, old_digest, "1.0")
    register(chain, reg, developer, new_digest, "1.1")
    verdict = verify_file(old, client=chain, registry_address=reg.address)
    assert verdict.outcome is Outcome.SUPERSEDED
    assert (verdict.version_text, verdict.latest_version_text) == ("1.0.0", "1.1.0")
    assert "1.1.0" in verdict.reason
    assert nfvm_verify(str(old), "--rpc", chain.rpc_url, "--registry", reg.address).returncode == 12

    send(chain, reg, developer, reg.deprecate(developer.address, new_digest))
    verdict = verify_file(new, client=chain, registry_address=reg.address)
    assert (verdict.outcome, verdict.status) == (Outcome.VERIFIED, "deprecated")
    assert any("deprecated" in f for f in verdict.findings)


def test_a_key_rotation_leaves_recorded_packages_verified_and_retires_unrecorded_signatures(
    tmp_path, chain, reg, developer, operator
):
    (first, first_digest), (second, second_digest) = package(tmp_path, "r1"), package(tmp_path, "r2")
    register(chain, reg, developer, first_digest, "1.0")
    items = [signed(chain, reg, developer, second_digest, "2.0")]
    batch_id, tree = anchor(chain, reg, operator, items)
    proof = proof_document(chain, reg, items, 0, batch_id, tree)
    assert verify_file(second, client=chain, registry_address=reg.address, proof=proof).outcome is Outcome.VERIFIED

    new_key = Account.create()
    send(chain, reg, developer, reg.rotate_key(developer.address, new_key.address))
    verdict = verify_file(first, client=chain, registry_address=reg.address)
    assert (verdict.outcome, verdict.publisher, verdict.publishing_key) == (
        Outcome.VERIFIED,
        developer.address,
        new_key.address,
    )
    assert any("rotated" in f for f in verdict.findings)
    # The batched signature by the retired key can never be recorded now.
    verdict = verify_file(second, client=chain, registry_address=reg.address, proof=proof)
    assert verdict.outcome is Outcome.REVOKED
    assert "retired" in verdict.reason


# ---------------------------------------------------------------- TAMPERED batch proofs


@pytest.fixture
def batch(tmp_path, chain, reg, developer, operator, stranger):
    """Four leaves: the developer's three signed registrations, and one naming the developer as publisher
    but signed by the stranger."""
    files = [package(tmp_path, f"leaf-{i}") for i in range(4)]
    items = [signed(chain, reg, developer, files[i][1], f"4.{i}", nonce=i) for i in range(3)]
    items.append(signed(chain, reg, stranger, files[3][1], "4.3", nonce=3, publisher=developer.address))
    batch_id, tree = anchor(chain, reg, operator, items)
    return files, items, batch_id, tree


def tampered(chain, reg, tmp_path, path: Path, proof: dict[str, Any]) -> tuple[str, subprocess.CompletedProcess[str]]:
    verdict = verify_file(path, client=chain, registry_address=reg.address, proof=proof)
    assert verdict.outcome is Outcome.TAMPERED, verdict
    proof_path = tmp_path / "tampered-proof.json"
    proof_path.write_text(json.dumps(proof))
    return verdict.reason, nfvm_verify(
        str(path), "--rpc", chain.rpc_url, "--registry", reg.address, "--proof", str(proof_path)
    )


def test_a_proof_whose_registration_names_another_digest_is_tampered(tmp_path, chain, reg, batch):
    files, items, batch_id, tree = batch
    reason, result = tampered(chain, reg, tmp_path, files[0][0], proof_document(chain, reg, items, 1, batch_id, tree))
    assert "digest" in reason
    assert result.returncode == 13
    assert result.stdout.startswith("TAMPERED: ")


def test_a_proof_signed_by_another_key_is_tampered(tmp_path, chain, reg, batch, stranger, developer):
    files, items, batch_id, tree = batch
    # The leaf is in the batch: the inclusion holds, but the signature is not the publisher's.
    proof = proof_document(chain, reg, items, 3, batch_id, tree)
    assert reg.verify_batched(batch_id, items[3][0], items[3][1], tree.proof(3), 3)
    reason, result = tampered(chain, reg, tmp_path, files[3][0], proof)
    assert stranger.address in reason
    assert developer.address in reason
    assert result.returncode == 13


def test_a_wrong_inclusion_proof_is_tampered(tmp_path, chain, reg, batch):
    files, items, batch_id, tree = batch
    reason, result = tampered(
        chain, reg, tmp_path, files[2][0], proof_document(chain, reg, items, 2, batch_id, tree, path_of=1)
    )
    assert "inclusion proof" in reason
    assert result.returncode == 13
    missing = proof_document(chain, reg, items, 2, batch_id, tree)
    missing["batch"]["batch_id"] = 99
    assert (
        "batch 99 does not exist"
        in verify_file(files[2][0], client=chain, registry_address=reg.address, proof=missing).reason
    )


def test_a_batched_signature_for_a_line_someone_else_owns_is_tampered(
    tmp_path, chain, reg, developer, stranger, operator
):
    (_, owned_digest), (squat, squat_digest) = package(tmp_path, "owned"), package(tmp_path, "squat")
    register(chain, reg, developer, owned_digest, "1.0")
    items = [signed(chain, reg, stranger, squat_digest, "9.0")]
    batch_id, tree = anchor(chain, reg, operator, items)
    verdict = verify_file(
        squat, client=chain, registry_address=reg.address, proof=proof_document(chain, reg, items, 0, batch_id, tree)
    )
    assert verdict.outcome is Outcome.TAMPERED
    assert "does not publish this line" in verdict.reason


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
    allowed = nfvm_verify(*args, "--token", "nfvm_secret")

    assert refused.returncode == 3
    assert "HTTP 401" in refused.stderr
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

    # A batched registration not yet recorded verifies through the proof the marketplace serves.
    batched, batched_digest = package(tmp_path, "served-batched")
    items = [signed(chain, reg, developer, batched_digest, "2.0")]
    batch_id, tree = anchor(chain, reg, operator, items)
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
    assert (code, report["mode"], report["recorded"], report["pinned_in"]) == (0, "batch", False, None)
    assert saved.read_bytes() == batched.read_bytes()

    trust = tmp_path / "trust.json"
    pinned = nfvm("trust", "pin", "--chain-id", "31337", "--registry", reg.address, "--trust-file", str(trust))
    assert pinned.returncode == 0, pinned.stderr
    args = ("--package-id", "good", "--url", marketplace.base_url, "--rpc", chain.rpc_url)
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


def test_a_marketplace_serving_a_package_registered_as_another_is_tampered(
    tmp_path, chain, reg, developer, stranger, marketplace
):
    from marketplace.cli import _identity
    from marketplace.repository.packages.inspect import package_claimed

    path = build(ROOT / "demo/packages/osm/nfvm_demo_amf_vnf", "osm", tmp_path / "amf.tar.gz")
    claimed = package_claimed(path)
    assert claimed.info is not None
    assert claimed.descriptor_digest is not None
    digest = "0x" + hashlib.sha256(path.read_bytes()).hexdigest()
    # The demo says it is "NFV Marketplace Demo/nfvm-demo-amf 1.0"; the stranger registers it under its own line.
    line = name_hash("Mallory Networks", claimed.info.name)
    tx = reg.register(stranger.address, digest, line, version_number("1.0"), "0x" + claimed.descriptor_digest)
    send(chain, reg, stranger, tx)
    marketplace.serve(
        "p", claimed=digest, content=path.read_bytes(), proof=anchored_proof(chain, reg, digest, stranger.address)
    )

    verdict = verify_marketplace_package(
        "p", base_url=marketplace.base_url, client=chain, registry_address=reg.address, identity=_identity
    )
    assert verdict.outcome is Outcome.TAMPERED
    assert verdict.reason.startswith(
        f"the file says it is NFV Marketplace Demo/nfvm-demo-amf 1.0, but {stranger.address}"
    )
    assert "0x" + line.hex() in verdict.reason
    saved = tmp_path / "saved.tar.gz"
    result = nfvm_verify(
        "--package-id",
        "p",
        "--url",
        marketplace.base_url,
        "--rpc",
        chain.rpc_url,
        "--registry",
        reg.address,
        "--output",
        str(saved),
    )
    assert result.returncode == 13, result.stdout + result.stderr
    assert result.stdout.startswith("TAMPERED: the file says it is NFV Marketplace Demo/nfvm-demo-amf 1.0")
    assert not saved.exists()
    assert not list(tmp_path.glob(".nfvm-verify-*"))


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
        operator, factory.constructor(operator.address).build_transaction({"from": operator.address})
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
