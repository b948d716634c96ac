"""The chain's answer: read the registration of a digest under the line the file names (direct,
relayed, or proven from a batch) from the registry's events, compare it with what the file claims, and
decide the verdict.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hexbytes import HexBytes

from ledger import artifacts
from ledger.exceptions import LedgerError
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
    from ledger.client import ChainClient
from ledger.offline.verdict import Claim, Mode, Outcome, Proof, Verdict, VerifyError


def verify_digest(
    digest: str,
    *,
    source: str,
    client: ChainClient,
    address: str,
    proof: Proof | None,
    tampered: list[str] | None = None,
    findings: list[str] | None = None,
    claim: Callable[[], Claim | None] | None = None,
    identity: Callable[[], Claim | None] | None = None,
) -> Verdict:
    """The verdict on bytes hashing to `digest`. The registration that counts is the one of the digest
    under the vendor/name line the file's own main descriptor names (what `identity`, else `claim`,
    reads): the same bytes registered under another line are nobody's origin for this file, and a
    batched registration counts only once proven on chain (proveBatched recorded it)."""
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
    said = identity() if identity is not None else None
    claimed: Claim | None = None
    if (said is None or not (said.vendor and said.name)) and claim is not None:
        # The fuller reading may name the package where the quick one could not.
        claimed = claim()
        if said is None or (claimed is not None and claimed.vendor and claimed.name):
            said = claimed
    line = _named_line(verdict, said)
    record = registry.registration_of(digest, line) if line is not None else None
    revoked_because: str | None = None
    if record is not None:
        _recorded(verdict, registry, record, tampered)
        if record.status is PackageStatus.REVOKED:
            revoked_because = "the line owner's key revoked this package"
        if proof is not None:
            _compare_proof(verdict, proof)
        _identity(verdict, registry, said, tampered)
    else:
        where = f"under the line {_label(said)} the file names " if line is not None else ""
        verdict.findings.append(
            f"the digest is not registered {where}in {registry.address} on chain {verdict.chain_id}"
        )
        _elsewhere(verdict, registry, line)
        if proof is not None:
            _unbacked_proof(verdict, proof)
        if claim is not None:
            _claimed(verdict, registry, claimed if claimed is not None else claim(), tampered)
    return _decide(verdict, tampered, revoked_because=revoked_because)


def _label(claim: Claim | None) -> str:
    return f"{claim.vendor}/{claim.name}" if claim is not None else "?"


def _named_line(verdict: Verdict, said: Claim | None) -> str | None:
    """The line (0x name hash) the file's own descriptor names, or None with a finding saying why not."""
    if said is None:
        verdict.findings.append("what the file says it is was not read, so no registration can be its origin")
        return None
    if not (said.vendor and said.name):
        # No registration can be the origin of a file that names no line.
        verdict.findings.append(
            "the file does not say which package it is (its descriptors could not be read)" + _unreadable(said)
        )
        return None
    try:
        return "0x" + name_hash(said.vendor, said.name).hex()
    except LedgerError as exc:
        verdict.findings.append(f"the file names {_label(said)}, which cannot be a registered line: {exc}")
        return None


def _elsewhere(verdict: Verdict, registry: PackageRegistry, line: str | None) -> None:
    """The same bytes registered under other lines: shown, and counted for nothing."""
    for other in registry.registrations_of_digest(verdict.digest):
        if other.name_hash == line:
            continue
        verdict.findings.append(
            f"{other.publisher} registered these bytes under another line ({other.name_hash}) than the file names: "
            "that registration is nobody's origin for this file"
        )


def _claimed(verdict: Verdict, registry: PackageRegistry, claim: Claim | None, tampered: list[str]) -> None:
    """An unregistered digest: is the file a changed copy of a registered package?"""
    if claim is None:
        return
    for problem in claim.integrity_problems:
        tampered.append(f"the package's own manifest or checksums do not match its content: {problem}")
    if not (claim.vendor and claim.name and claim.version):
        return  # _named_line said why
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
    """A registration under the line the file names: its version and main descriptor must be the file's
    too. Only the line's owner key registers in it, so a difference is the bytes disagreeing with what
    that key registered them as."""
    if claim is None or verdict.version is None or not claim.version:
        return
    label = f"{claim.vendor}/{claim.name} {claim.version}"
    registered = f"version {verdict.version_text} (number {verdict.version})"
    differences = []
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
        f"the file says it is {label}, but {verdict.publisher} registered these bytes in its line as {registered}: "
        + "; ".join(differences)
    )
    if number is None or verdict.name_hash is None:
        return
    same = [(d, p) for d, p, version in registry.line_registrations(verdict.name_hash) if version == number]
    for digest, publisher in same:
        if digest != verdict.digest:
            verdict.findings.append(f"{label} is registered by {publisher} with digest {digest}")
    if not same:
        verdict.findings.append(f"nobody has registered {label} (line {verdict.name_hash}) in {registry.address}")


def _compare_descriptor(verdict: Verdict, registry: PackageRegistry, digest: str, claim: Claim) -> None:
    """Where a changed copy differs: the record anchors the main descriptor's digest besides the archive's,
    so a repacked archive (same descriptor, other bytes around it) is told from an edited descriptor."""
    if not (claim.vendor and claim.name):
        return
    record = registry.registration_of(digest, name_hash(claim.vendor, claim.name))
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
    anchored = verdict.recorded
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
        how = {
            Mode.DIRECT: "directly",
            Mode.RELAYED: "with a relayed signature",
            Mode.BATCH: f"through batch {verdict.batch_id}",
        }
        verdict.reason = (
            f"{verdict.publisher} registered these bytes in their line as version {verdict.version_text}"
            f"{' ' + how[verdict.mode] if verdict.mode else ''}"
        )
        if verdict.status == PackageStatus.DEPRECATED.name.lower():
            verdict.findings.append("deprecated by the line owner's key: still valid, no longer recommended")
    return verdict


def _recorded(verdict: Verdict, registry: PackageRegistry, record: PackageRecord, tampered: list[str]) -> None:
    """Evidence for a registration under the file's line: its event, and the transaction that emitted it."""
    verdict.recorded = True
    verdict.status = record.status.name.lower()
    verdict.publisher = record.publisher
    verdict.version, verdict.version_text = record.version, version_text(record.version)
    verdict.name_hash = record.name_hash
    verdict.descriptor_digest = record.descriptor_digest
    verdict.registered_at = record.registered_at
    verdict.publishing_key = registry.line_key(record.name_hash)
    verdict.latest_version = registry.latest_version(record.name_hash)
    verdict.latest_version_text = version_text(verdict.latest_version)
    verdict.tx_hash, verdict.block_number = record.tx_hash, record.block_number
    if verdict.publishing_key != record.publisher:
        verdict.findings.append(
            f"the line's owner has rotated keys since: {verdict.publishing_key} may deprecate or revoke it now"
        )
    if record.batch_id is not None:
        verdict.mode = Mode.BATCH
        _batch_facts(verdict, registry, record.batch_id)

    tx = registry.client.call(lambda: registry.client.w3.eth.get_transaction(HexBytes(record.tx_hash)))
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
        if (registration.digest, registration.name_hash) != (record.digest, record.name_hash):
            tampered.append("the registering transaction carries another digest or line than its event")
        relayer = "the operator or a relayer" if verdict.mode is Mode.RELAYED else "the batch prover"
        verdict.findings.append(f"sent by {sender} ({relayer}); signed by {verdict.signer}")
    else:
        verdict.findings.append(
            f"transaction {verdict.tx_hash} called {function.fn_name}; the signer was not recovered"
        )
    if verdict.signer is not None and verdict.signer != record.publisher:
        tampered.append(f"the registration was signed by {verdict.signer}, but its event names {record.publisher}")


def _batch_facts(verdict: Verdict, registry: PackageRegistry, batch_id: int) -> Batch | None:
    batch = registry.batch(batch_id)
    verdict.batch_id = batch_id
    if batch is not None:
        verdict.batch_root, verdict.batch_size = batch.root, batch.size
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


def _unbacked_proof(verdict: Verdict, proof: Proof) -> None:
    if proof.state == "anchored":
        where = f" in transaction {proof.tx_hash}" if proof.tx_hash else ""
        verdict.findings.append(
            f"the proof claims a registration{where}, but the registry has no record of this digest"
        )
    elif proof.state:
        verdict.findings.append(f"the proof's state is {proof.state!r}")
    if proof.batch is not None:
        verdict.findings.append(
            f"the proof names batch {proof.batch.batch_id}: a batched registration counts only once it is "
            "proven on chain, and this one is not"
        )


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
