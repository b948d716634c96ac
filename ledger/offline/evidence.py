"""The chain's answer: read a digest's registration (direct or batched) from the registry and its event
logs, compare it with what the file claims, and decide the verdict.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hexbytes import HexBytes

from ledger import artifacts
from ledger.exceptions import ChainUnavailable, LedgerError
from ledger.offline.abi import is_address, to_checksum_address
from ledger.offline.eip712 import recover_typed_data_signer
from ledger.registry import (
    CONTRACT_NAME,
    Batch,
    PackageRecord,
    PackageRegistry,
    PackageStatus,
    Registration,
    name_hash,
    typed_data_for,
    version_number,
)

# The verifier imports neither web3 nor Django: `nfvm verify` hands it a ledger.offline.rpc.RpcClient, which
# answers every read made here and in PackageRegistry; the marketplace hands it its ChainClient.
if TYPE_CHECKING:
    from web3.types import FilterParams

    from ledger.client import ChainClient
from ledger.offline.verdict import BatchProof, Claim, Mode, Outcome, Proof, Verdict, VerifyError


def verify_digest(
    digest: str,
    *,
    source: str,
    client: ChainClient,
    address: str,
    proof: Proof | None,
    trusted_proof: bool,
    tampered: list[str] | None = None,
    findings: list[str] | None = None,
    claim: Callable[[], Claim | None] | None = None,
    identity: Callable[[], Claim | None] | None = None,
) -> Verdict:
    tampered = list(tampered or [])
    registry = _registry(client, address)
    verdict = Verdict(
        outcome=Outcome.UNKNOWN,
        reason="",
        source=source,
        digest=digest,
        chain_id=client.chain_id(),
        registry=registry.address,
        findings=list(findings or []),
    )

    record = registry.registration_of(digest)
    revoked_because: str | None = None
    if record is not None:
        _recorded(verdict, registry, record, tampered)
        if record.status is PackageStatus.REVOKED:
            revoked_because = "the line owner's key revoked this package"
        if proof is not None:
            _compare_proof(verdict, proof)
        if identity is not None:
            _identity(verdict, registry, identity(), tampered)
    elif proof is not None and proof.batch is not None and proof.registration is not None and proof.signature:
        revoked_because = _batched(
            verdict, registry, proof.registration, proof.signature, proof.batch, proof.digest, tampered
        )
        if identity is not None:
            _identity(verdict, registry, identity(), tampered)
    else:
        verdict.findings.append(f"the digest is not registered in {registry.address} on chain {verdict.chain_id}")
        if proof is not None:
            _unbacked_proof(verdict, proof, trusted_proof)
        if claim is not None:
            _claimed(verdict, registry, claim(), tampered)
    return _decide(verdict, tampered, revoked_because=revoked_because)


def _claimed(verdict: Verdict, registry: PackageRegistry, claim: Claim | None, tampered: list[str]) -> None:
    """An unregistered digest: is the file a changed copy of a registered package?"""
    if claim is None:
        return
    for problem in claim.integrity_problems:
        tampered.append(f"the package's own manifest or checksums do not match its content: {problem}")
    if not (claim.vendor and claim.name and claim.version):
        verdict.findings.append(
            "the file does not say which package it is (its descriptors could not be read)" + _unreadable(claim)
        )
        return
    label = f"{claim.vendor}/{claim.name} {claim.version}"
    try:
        line, number = name_hash(claim.vendor, claim.name), version_number(claim.version)
    except LedgerError as exc:
        verdict.findings.append(f"the file says it is {label}, which cannot be a registered line: {exc}")
        return
    registered = registry.line_registrations(line)
    same = [(digest, publisher) for digest, publisher, version in registered if version == number]
    for digest, publisher in same:
        tampered.append(
            f"the file says it is {label}, which {publisher} registered with digest {digest}; "
            f"this file's digest is {verdict.digest}: its bytes were changed"
        )
        _compare_descriptor(verdict, registry, digest, claim)
    if not same:
        versions = sorted({version_text(version) for _, _, version in registered})
        verdict.findings.append(
            f"the file says it is {label}; "
            + (
                f"that line has registered versions {', '.join(versions)}, not this one"
                if versions
                else "that line has no registration"
            )
        )


def _unreadable(claim: Claim) -> str:
    """Why a file's descriptors could not be read, the first three reasons, as a suffix to a finding."""
    shown = claim.unreadable[:3] + ([f"{len(claim.unreadable) - 3} more"] if len(claim.unreadable) > 3 else [])
    return f": {'; '.join(shown)}" if shown else ""


def _identity(verdict: Verdict, registry: PackageRegistry, claim: Claim | None, tampered: list[str]) -> None:
    """A registered digest: the registration must name the package the file says it is. Anyone may register
    any bytes under a line of their own, so a changed copy that still says "acme/firewall 1.0" could otherwise
    verify as someone else's registration while it presents itself as acme's."""
    if claim is None or verdict.name_hash is None or verdict.version is None:
        return
    if not (claim.vendor and claim.name and claim.version):
        # Not tampered: the registry records any bytes, and this reader's rules and limits may be stricter than
        # those a package met when it was registered (the marketplace's inspection of its day, or none at all).
        # A file that names no package cannot claim another's identity either; the verdict says whose
        # registration it is, and this finding that the file's own words were not compared with it.
        verdict.findings.append(
            "what the file says it is could not be read, so it was not compared with the registration"
            + _unreadable(claim)
        )
        return
    label = f"{claim.vendor}/{claim.name} {claim.version}"
    registered = f"line {verdict.name_hash} version {verdict.version_text} (number {verdict.version})"
    try:
        line = "0x" + name_hash(claim.vendor, claim.name).hex()
    except LedgerError as exc:
        # name_hash refuses only what no line could be registered from ("/" in the vendor): the file names
        # a package no registration can be of.
        tampered.append(
            f"the file says it is {label}, which cannot be a registered line ({exc}); "
            f"{verdict.publisher} registered these bytes as {registered}"
        )
        return
    differences = []
    if line != verdict.name_hash:
        differences.append(f"its line is {line}, the registration's {verdict.name_hash}")
    number: int | None = None
    try:
        number = version_number(claim.version)
    except LedgerError as exc:
        differences.append(f"its version cannot be registered ({exc}), the registration's is {verdict.version_text}")
    if number is not None and number != verdict.version:
        differences.append(
            f"its version number is {number} ({version_text(number)}), the registration's {verdict.version} "
            f"({verdict.version_text})"
        )
    if (
        claim.descriptor_digest is not None
        and verdict.descriptor_digest is not None
        and claim.descriptor_digest != verdict.descriptor_digest
    ):
        differences.append(
            f"its main descriptor's digest is {claim.descriptor_digest}, the registration's {verdict.descriptor_digest}"
        )
    if not differences:
        verdict.findings.append(f"the file says it is {label}, the package this registration names")
        return
    tampered.append(
        f"the file says it is {label}, but {verdict.publisher} registered these bytes as {registered}: "
        + "; ".join(differences)
    )
    if number is None:
        return
    same = [
        (digest, publisher) for digest, publisher, version in registry.line_registrations(line) if version == number
    ]
    for digest, publisher in same:
        if digest != verdict.digest:
            verdict.findings.append(f"{label} is registered by {publisher} with digest {digest}")
    if not same:
        verdict.findings.append(f"nobody has registered {label} (line {line}) in {registry.address}")


def _compare_descriptor(verdict: Verdict, registry: PackageRegistry, digest: str, claim: Claim) -> None:
    """Where a changed copy differs: the record anchors the main descriptor's digest besides the archive's,
    so a repacked archive (same descriptor, other bytes around it) is told from an edited descriptor."""
    record = registry.registration_of(digest)
    if record is None or claim.descriptor_digest is None:
        return
    if record.descriptor_digest == claim.descriptor_digest:
        verdict.findings.append(
            f"its main descriptor is the one registered with {digest} (descriptor digest {record.descriptor_digest}): "
            "the change lies in its other files or in how the archive was packed"
        )
    else:
        verdict.findings.append(
            f"its main descriptor differs from the one registered with {digest}: descriptor digest "
            f"{claim.descriptor_digest}, registered {record.descriptor_digest}"
        )


def _decide(verdict: Verdict, tampered: list[str], *, revoked_because: str | None) -> Verdict:
    anchored = verdict.recorded or verdict.mode is Mode.BATCH
    if tampered:
        verdict.outcome, verdict.reason = Outcome.TAMPERED, tampered[0]
        verdict.findings[:0] = tampered
    elif not anchored:
        verdict.outcome, verdict.reason = Outcome.UNKNOWN, "the digest is not anchored in the registry"
    elif revoked_because is not None:
        verdict.outcome, verdict.reason = Outcome.REVOKED, revoked_because
    elif (
        verdict.latest_version is not None and verdict.version is not None and verdict.latest_version > verdict.version
    ):
        verdict.outcome = Outcome.SUPERSEDED
        verdict.reason = (
            f"version {verdict.latest_version_text} of the line is registered, newer than this {verdict.version_text}"
        )
    else:
        verdict.outcome = Outcome.VERIFIED
        if not verdict.recorded:
            verdict.reason = (
                f"{verdict.publisher} signed these bytes as version {verdict.version_text}, and batch "
                f"{verdict.batch_id} anchors that signature (not recorded on chain yet)"
            )
        else:
            how = {
                Mode.DIRECT: "directly",
                Mode.RELAYED: "with a relayed signature",
                Mode.BATCH: f"through batch {verdict.batch_id}",
            }
            verdict.reason = (
                f"{verdict.publisher} registered these bytes as version {verdict.version_text}"
                f"{' ' + how[verdict.mode] if verdict.mode else ''}"
            )
        if verdict.status == PackageStatus.DEPRECATED.name.lower():
            verdict.findings.append("deprecated by the line owner's key: still valid, no longer recommended")
    return verdict


def _recorded(verdict: Verdict, registry: PackageRegistry, record: PackageRecord, tampered: list[str]) -> None:
    """Evidence for a digest the registry has a record of."""
    verdict.recorded = True
    verdict.status = record.status.name.lower()
    verdict.publisher = record.publisher
    verdict.version, verdict.version_text = record.version, version_text(record.version)
    verdict.name_hash = record.name_hash
    verdict.descriptor_digest = record.descriptor_digest
    verdict.registered_at = record.registered_at
    verdict.publishing_key = registry.publishing_key_for(record.digest)
    verdict.latest_version = registry.latest_version(record.name_hash)
    verdict.latest_version_text = version_text(verdict.latest_version)
    if verdict.publishing_key != record.publisher:
        verdict.findings.append(
            f"the line's owner has rotated keys since: {verdict.publishing_key} may deprecate or revoke it now"
        )
    if record.batch_id is not None:
        verdict.mode = Mode.BATCH
        _batch_facts(verdict, registry, record.batch_id)

    log = _event_log(registry, "PackageRegistered", record.digest)
    if log is None:
        verdict.findings.append(
            "the node returned no PackageRegistered event for this digest: the transaction and signer are not known"
        )
        return
    verdict.tx_hash = HexBytes(log["transactionHash"]).to_0x_hex()
    verdict.block_number = int(log["blockNumber"])
    args = registry.contract.events.PackageRegistered().process_log(log)["args"]
    if (to_checksum_address(args["publisher"]), int(args["version"])) != (record.publisher, record.version):
        tampered.append("the PackageRegistered event disagrees with the registration record")

    tx = registry.client.call(lambda: registry.client.w3.eth.get_transaction(log["transactionHash"]))
    sender = to_checksum_address(str(tx["from"]))
    if tx.get("to") is None or to_checksum_address(str(tx["to"])) != registry.address:
        # A registration made from inside another contract's call: its input is not ours to decode.
        verdict.findings.append(
            f"transaction {verdict.tx_hash} called another contract ({tx.get('to')}); the signer was not recovered"
        )
        verdict.mode = verdict.mode or Mode.DIRECT
        return
    try:
        function, params = registry.contract.decode_function_input(tx["input"])
    except _decoding_errors() as exc:
        verdict.findings.append(f"the input of transaction {verdict.tx_hash} cannot be decoded: {exc}")
        return
    if function.fn_name == "register":
        verdict.mode, verdict.signer = Mode.DIRECT, sender
    elif function.fn_name in ("registerWithSignature", "proveBatched"):
        verdict.mode = Mode.RELAYED if function.fn_name == "registerWithSignature" else Mode.BATCH
        registration = _registration_arg(params["r"])
        verdict.signer = _signer(verdict, registration, HexBytes(params["signature"]).to_0x_hex())
        if verdict.mode is Mode.BATCH:
            verdict.batch_index = int(params["index"])
        if registration.digest != record.digest:
            tampered.append("the registering transaction carries another digest than the record")
        relayer = "the operator or a relayer" if verdict.mode is Mode.RELAYED else "the batch prover"
        verdict.findings.append(f"sent by {sender} ({relayer}); signed by {verdict.signer}")
    else:
        verdict.findings.append(
            f"transaction {verdict.tx_hash} called {function.fn_name}; the signer was not recovered"
        )
    if verdict.signer is not None and verdict.signer != record.publisher:
        tampered.append(f"the registration was signed by {verdict.signer}, but the record names {record.publisher}")


def _batched(
    verdict: Verdict,
    registry: PackageRegistry,
    registration: Registration,
    signature: str,
    leaf: BatchProof,
    proof_digest: str | None,
    tampered: list[str],
) -> str | None:
    """Evidence for a leaf of an anchored batch that nobody has recorded with `proveBatched` yet. Returns why
    it can never take effect when the line's owner retired the key that signed it."""
    verdict.mode = Mode.BATCH
    verdict.publisher = registration.publisher
    verdict.version, verdict.version_text = registration.version, version_text(registration.version)
    verdict.name_hash = registration.name_hash
    verdict.descriptor_digest = registration.descriptor_digest
    verdict.batch_index = leaf.index
    verdict.findings.append(
        "not recorded on chain: a signed registration in an anchored batch, shown by the proof's inclusion path"
    )
    if proof_digest is not None and proof_digest != verdict.digest:
        tampered.append(f"the proof is for digest {proof_digest}, not for these bytes")
    if registration.digest != verdict.digest:
        tampered.append(f"the proof's registration names digest {registration.digest}, not these bytes")
    verdict.signer = _signer(verdict, registration, signature)
    if verdict.signer is None:
        tampered.append("the proof's signature does not recover to any key")
    elif verdict.signer != registration.publisher:
        tampered.append(
            f"the proof's signature is by {verdict.signer}, "
            f"not by the registration's publisher {registration.publisher}"
        )
    anchored = _batch_facts(verdict, registry, leaf.batch_id)
    if anchored is None:
        tampered.append(f"batch {leaf.batch_id} does not exist in the registry")
        return None
    if leaf.root is not None and leaf.root != verdict.batch_root:
        verdict.findings.append(f"the proof says the batch root is {leaf.root}; the chain's is {verdict.batch_root}")
    if not registry.verify_batched(leaf.batch_id, registration, signature, leaf.path, leaf.index):
        tampered.append(
            f"the inclusion proof does not lead from the signed registration at index {leaf.index} "
            f"to batch {leaf.batch_id}'s root"
        )
    if tampered:
        return None

    # The batch proves what the publisher signed; the registry's line rules decide whether it can still take effect.
    verdict.latest_version = registry.latest_version(registration.name_hash)
    verdict.latest_version_text = version_text(verdict.latest_version)
    owner = registry.line_owner(registration.name_hash)
    retired: str | None = None
    if owner is None:
        verdict.findings.append("the line is unclaimed: recording this registration would make its signer the owner")
    else:
        verdict.publishing_key = registry.publishing_key(owner)
        if verdict.publishing_key != registration.publisher:
            signer_owner = _address_or_none(
                registry.client.call(registry.contract.functions.ownerOfKey(registration.publisher).call)
            )
            if signer_owner == owner:
                retired = (
                    f"signed with {registration.publisher}, a key the line's owner {owner} has retired "
                    f"for {verdict.publishing_key}: it can no longer be recorded"
                )
            else:
                tampered.append(
                    f"signed by {registration.publisher}, who does not publish this line: its owner {owner} "
                    f"publishes with {verdict.publishing_key}, and the registry would refuse it"
                )
    if verdict.latest_version == registration.version:
        verdict.findings.append(f"version {verdict.version_text} of the line is already recorded for another package")
    nonce = registry.line_nonce(registration.name_hash)
    if nonce > registration.nonce:
        verdict.findings.append(
            f"nonce {registration.nonce} of the line is spent (now {nonce}): it can no longer be "
            "recorded on chain; the anchored batch remains the evidence"
        )
    if verdict.registered_at is not None and registration.deadline < int(verdict.registered_at.timestamp()):
        verdict.findings.append("the batch was anchored after the signature's deadline: it cannot be recorded")
    return retired


def _batch_facts(verdict: Verdict, registry: PackageRegistry, batch_id: int) -> Batch | None:
    batch = registry.batch(batch_id)
    verdict.batch_id = batch_id
    if batch is None:
        return None
    verdict.batch_root, verdict.batch_size = batch.root, batch.size
    if not verdict.recorded:
        verdict.registered_at = batch.anchored_at
        log = _event_log(registry, "BatchAnchored", batch_id)
        if log is not None:
            verdict.tx_hash = HexBytes(log["transactionHash"]).to_0x_hex()
            verdict.block_number = int(log["blockNumber"])
    return batch


def _compare_proof(verdict: Verdict, proof: Proof) -> None:
    """The chain has the record: a marketplace proof can only agree or be noted as wrong."""
    if proof.digest is not None and proof.digest != verdict.digest:
        verdict.findings.append(f"the proof is for digest {proof.digest}, not these bytes; the record decides")
    claims = {
        "publisher": (proof.publisher, verdict.publisher),
        "transaction": (proof.tx_hash.lower() if proof.tx_hash else None, verdict.tx_hash),
        "block": (proof.block_number, verdict.block_number),
    }
    for what, (claimed, actual) in claims.items():
        if claimed is not None and actual is not None and claimed != actual:
            verdict.findings.append(f"the proof's {what} {claimed} differs from the chain's {actual}")
    if proof.state is not None and proof.state != "anchored":
        verdict.findings.append(f"the proof's state is {proof.state!r}, but the registry has the record")


def _unbacked_proof(verdict: Verdict, proof: Proof, trusted: bool) -> None:
    if proof.state == "anchored":
        where = f" in transaction {proof.tx_hash}" if proof.tx_hash else ""
        verdict.findings.append(
            f"the proof claims a registration{where}, but the registry has no record of this digest"
        )
    elif proof.state:
        verdict.findings.append(f"the proof's state is {proof.state!r}: no batch inclusion to check")
    if trusted and proof.batch is not None and (proof.registration is None or not proof.signature):
        verdict.findings.append("the proof names a batch but lacks the registration or the signature")


def _signer(verdict: Verdict, registration: Registration, signature: str) -> str | None:
    payload = typed_data_for(registration, chain_id=verdict.chain_id, registry_address=verdict.registry)
    try:
        return recover_typed_data_signer(payload, signature)
    except LedgerError:
        return None


def _registry(client: ChainClient, address: str) -> PackageRegistry:
    """The pinned registry at `address`; VerifyError when no contract, or one with other code, is there
    (it could answer anything: only the committed build is believed)."""
    if not is_address(address):
        raise VerifyError(f"{address!r} is not an address")
    code = client.code_at(address)
    expected = artifacts.load(CONTRACT_NAME).code_hash
    why = None
    if not code:
        why = f"there is no contract at {to_checksum_address(address)} on chain {client.chain_id()}"
    elif hashlib.sha256(code).hexdigest() != expected:
        why = (
            f"the contract at {to_checksum_address(address)} does not run the {CONTRACT_NAME} code this verifier knows"
        )
    if why is None:
        return PackageRegistry(client, address)
    raise VerifyError(f"{why} (node {client.display_url})")


def _event_log(registry: PackageRegistry, event: str, indexed: str | int) -> dict[str, Any] | None:
    """The one log of `event` whose first indexed argument is `indexed` (a digest, or a batch id)."""
    topic = HexBytes(indexed).to_0x_hex() if isinstance(indexed, str) else "0x" + f"{indexed:064x}"
    params: FilterParams = {
        "address": registry.address,
        "topics": [registry.contract.events[event].topic, topic],
        "fromBlock": 0,
        "toBlock": "latest",
    }
    try:
        logs = registry.client.call(lambda: registry.client.w3.eth.get_logs(params))
    except ChainUnavailable:
        raise
    except LedgerError:
        # A node that limits log ranges: the record stands without its transaction.
        return None
    return dict(logs[0]) if logs else None


def version_text(number: int) -> str:
    """The version string `ledger.registry.version_number` encodes, as far as it can be read back."""
    if number == 0:
        return "0"
    mask = (1 << 20) - 1
    text = f"{number >> 41 & mask}.{number >> 21 & mask}.{number >> 1 & mask}"
    # Pre-releases of one version all encode alike, so their label cannot be read back.
    return text if number & 1 else text + "-pre"


def _registration_arg(value: dict[str, Any]) -> Registration:
    return Registration(
        digest=HexBytes(value["digest"]).to_0x_hex(),
        name_hash=HexBytes(value["nameHash"]).to_0x_hex(),
        version=int(value["version"]),
        descriptor_digest=HexBytes(value["descriptorDigest"]).to_0x_hex(),
        publisher=to_checksum_address(value["publisher"]),
        nonce=int(value["nonce"]),
        deadline=int(value["deadline"]),
    )


def _decoding_errors() -> tuple[type[Exception], ...]:
    """What decoding a transaction's input raises: ValueError (ledger.offline.abi's AbiError is one), and
    eth_abi's DecodingError when web3 decoded it (imported only then: the light path has no eth_abi)."""
    if "eth_abi" not in sys.modules:
        return (ValueError,)
    from eth_abi.exceptions import DecodingError

    return (ValueError, DecodingError)


def _address_or_none(value: str) -> str | None:
    return None if int(value, 16) == 0 else to_checksum_address(value)
