"""Declared digests (SOL004 manifest, TOSCA.meta, 5GTANGO NAPD, OSM checksums.txt) and their verification."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from marketplace.repository.packages import yamlsafe
from marketplace.repository.packages.manifest_sol004 import parse_sol004_manifest
from marketplace.repository.packages.manifests import (
    DeclaredDigest,
    normalise_algorithm,
    normalise_path,
    parse_napd_content,
    parse_osm_checksums,
    parse_tosca_meta,
    verify,
)
from marketplace.repository.packages.problems import Problem, Severity
from tests.memory_view import MemoryView, folder_view, tar_view, zip_view

PACKAGES = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "packages"
needs_testdata = pytest.mark.skipif(
    not PACKAGES.is_dir(), reason=f"the shared test data is not checked out at {PACKAGES}"
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rules(problems: list[Problem]) -> list[str]:
    return [p.rule for p in problems]


METADATA = b"""metadata:
vnf_provider_id: acme
vnf_product_name: firewall
vnf_package_version: 1.0
vnf_release_date_time: 2024-01-02T03:04:05+00:00
"""


def manifest(*entries: tuple[str, str, str]) -> bytes:
    body = "".join(f"\nSource: {s}\nAlgorithm: {a}\nHash: {h}\n" for s, a, h in entries)
    return METADATA + body.encode()


# --- the real packages ----------------------------------------------------------------------------------


@needs_testdata
def test_helloworld3_verifies_every_present_file_and_names_only_the_missing_image():
    view = folder_view(PACKAGES / "etsi-sol004" / "helloworld3")
    _, digests, _ = parse_sol004_manifest(view.read("manifest.mf"), "manifest.mf")
    assert [d.path for d in digests] == [
        "Files/images/cirros-0.5.2-x86_64-disk.img",
        "Scripts/install.sh",
        "Files/kubernetes/deployment.yaml",
    ]

    problems = verify(view, digests, open_stream=view.open)

    assert len(problems) == 1
    (missing,) = problems
    assert missing.rule == "integrity.missing-file"
    assert (missing.file, missing.location) == ("manifest.mf", "line 1")
    assert "manifest.mf line 1 lists Files/images/cirros-0.5.2-x86_64-disk.img, which is not in the package" in str(
        missing
    )
    assert sorted(view.opened) == ["Files/kubernetes/deployment.yaml", "Scripts/install.sh"]


@needs_testdata
def test_the_tacker_manifests_have_no_metadata_block():
    view = folder_view(PACKAGES / "etsi-sol004" / "helloworld3")
    metadata, _, problems = parse_sol004_manifest(view.read("manifest.mf"), "manifest.mf")
    assert rules(problems) == ["manifest.missing-metadata"]
    assert metadata.kind is None


@needs_testdata
def test_it_reads_the_entries_of_the_helloworld3_tosca_meta():
    view = folder_view(PACKAGES / "etsi-sol004" / "helloworld3")
    meta, problems = parse_tosca_meta(view.read("TOSCA-Metadata/TOSCA.meta"), "TOSCA-Metadata/TOSCA.meta")
    assert problems == []
    assert meta is not None
    assert meta.entry_definitions == "Definitions/helloworld3_top.vnfd.yaml"
    assert meta.entry_manifest == "manifest.mf"
    assert (meta.meta_file_version, meta.csar_version, meta.created_by) == ("1.0", "1.1", "dummy_user")
    assert meta.blocks == ()  # its one block gives a Content-Type, no digest
    assert meta.content_types == {"Files/images/cirros-0.5.2-x86_64-disk.img": "application/x-iso9066-image"}


@needs_testdata
def test_it_names_the_file_whose_tosca_meta_hash_is_false():
    # The "false" hash in this sample is the true one with its last digit cut off: 63 hex digits. That is
    # reported as a malformed SHA-256 hash (more precise than a mismatch), still naming Scripts/install.sh.
    view = folder_view(PACKAGES / "etsi-sol004" / "false-hash")
    meta, problems = parse_tosca_meta(view.read("TOSCA-Metadata/TOSCA.meta"), "TOSCA-Metadata/TOSCA.meta")
    assert problems == []
    assert meta is not None
    assert [(d.path, d.location) for d in meta.blocks] == [("Scripts/install.sh", "line 6")]

    problems = verify(view, list(meta.blocks))

    assert len(problems) == 1
    assert problems[0].rule == "integrity.malformed-hash"
    assert (problems[0].file, problems[0].location) == ("TOSCA-Metadata/TOSCA.meta", "line 6")
    assert "Scripts/install.sh" in problems[0].message
    assert "63 hex digits" in problems[0].message


@needs_testdata
def test_a_false_hash_of_the_right_length_is_a_mismatch_naming_the_file():
    view = folder_view(PACKAGES / "etsi-sol004" / "false-hash")
    meta, _ = parse_tosca_meta(view.read("TOSCA-Metadata/TOSCA.meta"), "TOSCA-Metadata/TOSCA.meta")
    assert meta is not None
    padded = [DeclaredDigest(d.path, d.algorithm, d.value + "0", d.declared_in, d.location) for d in meta.blocks]

    (problem,) = verify(view, padded)

    assert problem.rule == "integrity.hash-mismatch"
    assert "Scripts/install.sh" in problem.message
    assert "SHA-256" in problem.message
    assert padded[0].value in problem.message
    assert sha256(view.files["Scripts/install.sh"]) in problem.message
    assert "TOSCA-Metadata/TOSCA.meta line 6" in problem.message


@needs_testdata
def test_the_5gtango_ns_example_napd_and_manifest_all_verify():
    view = zip_view(PACKAGES / "5gtango" / "5gtango-ns-package-example.tgo")
    napd = yamlsafe.load(view.read("TOSCA-Metadata/NAPD.yaml"), file="TOSCA-Metadata/NAPD.yaml")
    napd_digests, napd_problems = parse_napd_content(napd, "TOSCA-Metadata/NAPD.yaml")
    metadata, mf_digests, mf_problems = parse_sol004_manifest(view.read("etsi_manifest.mf"), "etsi_manifest.mf")

    assert napd_problems == mf_problems == []
    assert {d.path for d in napd_digests} == {
        "Definitions/sources/vnfd/vnfd-sample.yml",
        "Definitions/sources/nsd/nsd-sample.yml",
    }
    assert (metadata.kind, metadata.provider, metadata.product_name) == ("ns", "eu.5gtango", "5gtango-project-sample")
    must_list = [p for p in view.paths if not p.startswith("TOSCA-Metadata/") and p != "etsi_manifest.mf"]
    assert verify(view, napd_digests + mf_digests, must_list=must_list) == []


@needs_testdata
def test_the_5gtango_tosca_meta_uses_the_older_key_names():
    view = zip_view(PACKAGES / "5gtango" / "5gtango-ns-package-example-bad-checksum.tgo")
    meta, problems = parse_tosca_meta(view.read("TOSCA-Metadata/TOSCA.meta"), "TOSCA-Metadata/TOSCA.meta")
    assert problems == []
    assert meta is not None
    assert meta.meta_file_version == "1.0"  # written TOSCA-Meta-Version
    assert (meta.entry_definitions, meta.entry_manifest) == ("Definitions/mynsd.yaml", "mynsd.mf")
    assert (meta.entry_change_log, meta.entry_licenses) == ("ChangeLog.txt", "Licenses")


@needs_testdata
def test_it_names_the_file_whose_napd_hash_does_not_match():
    view = zip_view(PACKAGES / "5gtango" / "5gtango-ns-package-example-bad-checksum.tgo")
    napd = yamlsafe.load(view.read("TOSCA-Metadata/NAPD.yaml"), file="TOSCA-Metadata/NAPD.yaml")
    digests, problems = parse_napd_content(napd, "TOSCA-Metadata/NAPD.yaml")
    assert problems == []

    (problem,) = verify(view, digests)

    assert problem.rule == "integrity.hash-mismatch"
    assert problem.message.startswith("Definitions/myvnfd.yaml ")
    assert (problem.file, problem.location) == ("TOSCA-Metadata/NAPD.yaml", "/package_content/1")
    assert sha256(view.files["Definitions/myvnfd.yaml"]) in problem.message


@needs_testdata
def test_the_bad_checksum_package_contradicts_its_own_manifest():
    # Its ETSI manifest holds the true hash of Definitions/myvnfd.yaml; only NAPD.yaml is wrong.
    view = zip_view(PACKAGES / "5gtango" / "5gtango-ns-package-example-bad-checksum.tgo")
    napd = yamlsafe.load(view.read("TOSCA-Metadata/NAPD.yaml"), file="TOSCA-Metadata/NAPD.yaml")
    napd_digests, _ = parse_napd_content(napd, "TOSCA-Metadata/NAPD.yaml")
    _, mf_digests, mf_problems = parse_sol004_manifest(view.read("mynsd.mf"), "mynsd.mf")
    assert mf_problems == []
    assert verify(view, mf_digests) == []

    problems = verify(view, napd_digests + mf_digests)

    # One root cause (two declarations disagree, the file matches one), one finding.
    assert rules(problems) == ["integrity.conflicting-declarations"]
    assert "Definitions/myvnfd.yaml" in problems[0].message
    assert problems[0].message.endswith("as mynsd.mf line 10 declares")


@needs_testdata
def test_the_5gtango_vnf_example_lists_every_file():
    view = zip_view(PACKAGES / "5gtango" / "eu.5gtango.vnf-package-example.0.1.tgo")
    napd = yamlsafe.load(view.read("TOSCA-Metadata/NAPD.yaml"), file="TOSCA-Metadata/NAPD.yaml")
    napd_digests, _ = parse_napd_content(napd, "TOSCA-Metadata/NAPD.yaml")
    metadata, mf_digests, _ = parse_sol004_manifest(view.read("etsi_manifest.mf"), "etsi_manifest.mf")
    assert (metadata.kind, metadata.package_version) == ("vnf", "0.1")
    must_list = [p for p in view.paths if not p.startswith("TOSCA-Metadata/") and p != "etsi_manifest.mf"]
    assert verify(view, napd_digests + mf_digests, must_list=must_list) == []


@needs_testdata
def test_the_osm_md5_checksums_verify_without_a_warning():
    view = tar_view(PACKAGES / "osm" / "monitoring-ns.tar.gz")
    digests, problems = parse_osm_checksums(
        view.read("monitoring-ns/checksums.txt"), "monitoring-ns/checksums.txt", top="monitoring-ns"
    )
    assert problems == []
    assert sorted(d.path for d in digests) == ["monitoring-ns/README.md", "monitoring-ns/monitoring-nsd.yaml"]

    # MD5 is what OSM's checksums.txt holds: checked, and no warning the developer could act on (the
    # package's integrity is its archive's SHA-256, registered on chain).
    assert verify(view, digests, weak_ok=True, open_stream=view.open) == []


@needs_testdata
def test_the_osm_md5_checksums_are_errors_where_md5_is_not_allowed():
    view = tar_view(PACKAGES / "osm" / "monitoring-ns.tar.gz")
    digests, _ = parse_osm_checksums(
        view.read("monitoring-ns/checksums.txt"), "monitoring-ns/checksums.txt", top="monitoring-ns"
    )
    problems = verify(view, digests)
    assert rules(problems) == ["integrity.weak-algorithm"] * 2
    assert all(p.severity == Severity.ERROR for p in problems)
    assert [p.location for p in problems] == ["line 2", "line 1"]  # by path: README.md sorts first


# --- algorithms and hashes -------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["SHA-256", "SHA256", "sha_256", "sha-256", " Sha256 "])
def test_it_accepts_the_common_spellings_of_sha_256(spelling):
    assert normalise_algorithm(spelling) == "sha-256"
    view = MemoryView({"a.txt": b"hello"})
    _, digests, problems = parse_sol004_manifest(manifest(("a.txt", spelling, sha256(b"hello"))), "m.mf")
    assert problems == []
    assert verify(view, digests) == []


@pytest.mark.parametrize("algorithm", ["SHA-224", "SHA-384", "SHA-512"])
def test_it_verifies_the_other_sha2_lengths(algorithm):
    data = b"payload"
    value = hashlib.new(algorithm.replace("-", "").lower(), data).hexdigest().upper()
    digest = DeclaredDigest("f", algorithm, value.lower(), "m.mf", "line 7")
    assert verify(MemoryView({"f": data}), [digest]) == []
    wrong = DeclaredDigest("f", algorithm, "0" * len(value), "m.mf", "line 7")
    assert rules(verify(MemoryView({"f": data}), [wrong])) == ["integrity.hash-mismatch"]


def test_it_reports_an_unknown_algorithm_with_its_name_and_line():
    view = MemoryView({"a.txt": b"x"})
    _, digests, problems = parse_sol004_manifest(manifest(("a.txt", "CRC32", "8cdc1683")), "m.mf")
    assert problems == []

    (problem,) = verify(view, digests)

    assert problem.rule == "integrity.unknown-algorithm"
    assert "'CRC32'" in problem.message
    assert (problem.file, problem.location) == ("m.mf", "line 7")


def test_it_rejects_a_weak_algorithm_unless_the_format_mandates_it():
    data = b"abc"
    md5 = DeclaredDigest("a", "MD5", hashlib.md5(data).hexdigest(), "m.mf", "line 3")  # noqa: S324
    sha1 = DeclaredDigest("b", "SHA-1", hashlib.sha1(data).hexdigest(), "m.mf", "line 7")  # noqa: S324
    view = MemoryView({"a": data, "b": data})

    strict = verify(view, [md5, sha1])
    assert rules(strict) == ["integrity.weak-algorithm"] * 2
    assert [p.severity for p in strict] == [Severity.ERROR] * 2
    assert "MD5" in strict[0].message
    assert "SHA-1" in strict[1].message

    assert verify(view, [md5, sha1], weak_ok=True) == []


def test_a_weak_digest_that_is_allowed_must_still_match():
    view = MemoryView({"a": b"abc"})
    problems = verify(view, [DeclaredDigest("a", "md5", "0" * 32, "checksums.txt", "line 1")], weak_ok=True)
    assert [(p.rule, p.severity) for p in problems] == [("integrity.hash-mismatch", Severity.ERROR)]


@pytest.mark.parametrize(
    ("value", "says"),
    [("zz" * 32, "not hexadecimal"), ("ab" * 31, "62 hex digits"), ("ab" * 64, "128 hex digits"), ("", "not hex")],
)
def test_it_reports_a_malformed_hash(value, says):
    view = MemoryView({"a.txt": b"x"})
    digests = [DeclaredDigest("a.txt", "sha-256", value, "m.mf", "line 9")]
    (problem,) = verify(view, digests)
    assert problem.rule == "integrity.malformed-hash"
    assert says in problem.message
    assert "a.txt" in problem.message
    assert view.reads == []  # nothing to compare it with, so the file is not read


def test_it_reports_conflicting_declarations_of_one_file():
    data = b"same file"
    view = MemoryView({"a.txt": data})
    declared = [
        DeclaredDigest("a.txt", "sha-256", sha256(data), "manifest.mf", "line 7"),
        DeclaredDigest("a.txt", "sha-256", sha256(b"other"), "TOSCA-Metadata/TOSCA.meta", "line 9"),
    ]

    problems = verify(view, declared)

    assert rules(problems) == ["integrity.conflicting-declarations"]
    assert "manifest.mf line 7" in problems[0].message
    assert "TOSCA-Metadata/TOSCA.meta line 9" in problems[0].message
    assert problems[0].message.endswith(f"its actual hash is {sha256(data)}, as manifest.mf line 7 declares")
    # When neither declaration matches, the one finding says so.
    other = [DeclaredDigest("a.txt", "sha-256", sha256(b"x"), "m.mf", "line 1"), *declared[1:]]
    (problem,) = verify(view, other)
    assert problem.message.endswith("which none of them declares")


def test_the_same_file_under_two_algorithms_is_no_conflict_and_is_read_once():
    data = b"same file"
    view = MemoryView({"a.txt": data})
    declared = [
        DeclaredDigest("a.txt", "sha-256", sha256(data), "manifest.mf", "line 7"),
        DeclaredDigest("a.txt", "sha-512", hashlib.sha512(data).hexdigest(), "TOSCA-Metadata/TOSCA.meta", "line 9"),
        DeclaredDigest("a.txt", "SHA256", sha256(data), "NAPD.yaml", "/package_content/0"),
    ]
    assert verify(view, declared) == []
    assert view.reads == ["a.txt"]


# --- paths and listing -----------------------------------------------------------------------------------


def test_it_reports_files_the_format_requires_to_be_listed():
    view = MemoryView({"manifest.mf": b"", "a.txt": b"a", "b.txt": b"b", "TOSCA-Metadata/TOSCA.meta": b""})
    declared = [DeclaredDigest("a.txt", "sha-256", sha256(b"a"), "manifest.mf", "line 7")]

    problems = verify(view, declared, must_list=view.paths, exempt=["manifest.mf", "TOSCA-Metadata/TOSCA.meta"])

    assert rules(problems) == ["integrity.unlisted-file"]
    assert problems[0].file == "b.txt"
    assert "b.txt" in problems[0].message


def test_it_rejects_a_path_that_climbs_out_of_the_package():
    data = manifest(("../etc/passwd", "SHA-256", "0" * 64), ("Files/../../x", "SHA-256", "0" * 64))
    _, digests, problems = parse_sol004_manifest(data, "m.mf")
    assert problems == []

    found = verify(MemoryView({}), digests)

    assert rules(found) == ["integrity.path-invalid"] * 2
    assert "'../etc/passwd'" in found[0].message
    assert [p.location for p in found] == ["line 7", "line 11"]


def test_it_normalises_leading_dot_and_slash_in_paths():
    assert normalise_path("./Files//a/./b.txt") == "Files/a/b.txt"
    assert normalise_path("/Scripts/install.sh") == "Scripts/install.sh"
    data = b"content"
    view = MemoryView({"Files/a.txt": data, "Scripts/b.sh": data})
    _, digests, _ = parse_sol004_manifest(
        manifest(("./Files/a.txt", "SHA-256", sha256(data)), ("/Scripts/b.sh", "SHA-256", sha256(data))), "m.mf"
    )
    assert [d.path for d in digests] == ["Files/a.txt", "Scripts/b.sh"]
    assert verify(view, digests, must_list=view.paths) == []


def test_it_reports_every_problem_ordered_by_path():
    view = MemoryView({"b.txt": b"b", "d.txt": b"d", "e.txt": b"e"})
    declared = [
        DeclaredDigest("d.txt", "sha-256", "0" * 64, "m.mf", "line 30"),
        DeclaredDigest("c.txt", "sha-256", "0" * 64, "m.mf", "line 20"),
        DeclaredDigest("a.txt", "whirlpool", "0" * 128, "m.mf", "line 10"),
    ]
    problems = verify(view, declared, must_list=["e.txt", "b.txt"])
    assert [
        (p.rule, p.message.split()[0] if p.rule == "integrity.unlisted-file" else p.location) for p in problems
    ] == [
        ("integrity.unknown-algorithm", "line 10"),
        ("integrity.unlisted-file", "b.txt"),
        ("integrity.missing-file", "line 20"),
        ("integrity.hash-mismatch", "line 30"),
        ("integrity.unlisted-file", "e.txt"),
    ]


# --- reading -----------------------------------------------------------------------------------------------


def test_it_streams_large_files_when_it_can():
    big = bytes(range(256)) * (5 * 4096)  # 5 MiB: more than view.read gives by default
    view = MemoryView({"Files/image.qcow2": big})
    digest = DeclaredDigest("Files/image.qcow2", "sha-512", hashlib.sha512(big).hexdigest(), "m.mf", "line 7")

    assert verify(view, [digest], open_stream=view.open) == []
    assert view.opened == ["Files/image.qcow2"]
    assert view.reads == []

    assert verify(view, [digest]) == []  # without a stream, it reads the whole file
    assert view.reads == ["Files/image.qcow2"]


# --- manifest syntax -------------------------------------------------------------------------------------


def test_an_empty_manifest_has_no_metadata():
    metadata, digests, problems = parse_sol004_manifest(b"", "m.mf")
    assert digests == []
    assert rules(problems) == ["manifest.missing-metadata"]
    assert metadata.kind is None


def test_it_reports_a_syntax_error_with_its_line():
    data = manifest(("a.txt", "SHA-256", "0" * 64)) + b"\nthis line is no key value pair\n"
    _, digests, problems = parse_sol004_manifest(data, "m.mf")
    assert len(digests) == 1
    assert rules(problems) == ["manifest.syntax"]
    assert problems[0].location == "line 11"
    assert "this line is no key value pair" in problems[0].message


def test_it_reports_a_source_without_hash_and_a_hash_without_source():
    data = METADATA + b"\nSource: a.txt\nAlgorithm: SHA-256\n\nHash: " + b"0" * 64 + b"\n"
    _, digests, problems = parse_sol004_manifest(data, "m.mf")
    assert digests == []
    assert [(p.rule, p.location) for p in problems] == [
        ("manifest.incomplete-entry", "line 7"),
        ("manifest.incomplete-entry", "line 10"),
    ]
    assert "has no Hash" in problems[0].message


def test_it_reports_missing_metadata_fields():
    data = b"vnf_provider_id: acme\nvnf_product_name: fw\n\nSource: a\nAlgorithm: SHA-256\nHash: " + b"0" * 64
    metadata, _, problems = parse_sol004_manifest(data, "m.mf")
    assert metadata.kind == "vnf"
    assert rules(problems) == ["manifest.missing-metadata"]
    assert "vnf_package_version, vnf_release_date_time" in problems[0].message


def test_it_reads_ns_metadata_artifact_sets_and_keeps_the_signature():
    data = (
        b"""metadata:
nsd_designer: acme
nsd_invariant_id: 1111-2222
nsd_name: edge
nsd_file_structure_version: 1.0
nsd_release_date_time: 2024-01-02T03:04:05+00:00
compatible_specification_versions: 2.7.1

non_mano_artifact_sets:
  prometheus_rule:
    Source: Artifacts/prometheus/rules.yaml

Source: Definitions/nsd.yaml
Algorithm: SHA-256
Hash: """
        + b"a" * 64
        + b"""
Signature: MIIB
Certificate: Files/certs/nsd.cert

-----BEGIN CMS-----
MIIBsignature
-----END CMS-----
"""
    )
    metadata, digests, problems = parse_sol004_manifest(data, "nsd.mf")
    assert problems == []
    assert (metadata.kind, metadata.provider, metadata.product_name) == ("ns", "acme", "edge")
    assert (metadata.package_version, metadata.fields["nsd_invariant_id"]) == ("1.0", "1111-2222")
    assert metadata.non_mano_artifact_sets == {"prometheus_rule": ("Artifacts/prometheus/rules.yaml",)}
    assert [(d.path, d.location) for d in digests] == [("Definitions/nsd.yaml", "line 13")]
    assert metadata.signature == "-----BEGIN CMS-----\nMIIBsignature\n-----END CMS-----\n"
    assert metadata.signature_location == "line 19"


def test_it_reports_an_unterminated_signature_and_text_after_it():
    unterminated = manifest(("a", "SHA-256", "0" * 64)) + b"\n-----BEGIN CMS-----\nMIIB\n"
    _, _, problems = parse_sol004_manifest(unterminated, "m.mf")
    assert [(p.rule, p.location) for p in problems] == [("manifest.syntax", "line 11")]

    trailing = manifest(("a", "SHA-256", "0" * 64)) + b"\n-----BEGIN CMS-----\nMIIB\n-----END CMS-----\nSource: b\n"
    _, _, problems = parse_sol004_manifest(trailing, "m.mf")
    assert [(p.rule, p.location) for p in problems] == [("manifest.syntax", "line 14")]


def test_an_external_artifact_is_a_warning_not_a_digest():
    _, digests, problems = parse_sol004_manifest(
        manifest(("https://example.org/image.qcow2", "SHA-256", "0" * 64)), "m"
    )
    assert digests == []
    assert [(p.rule, p.severity) for p in problems] == [("integrity.external-artifact", Severity.WARNING)]


def test_a_manifest_that_is_not_utf8_is_reported():
    _, _, problems = parse_sol004_manifest(b"vnf_provider_id: \xff\n", "m.mf")
    assert [(p.rule, p.location) for p in problems] == [("manifest.encoding", "byte 17")]


# --- TOSCA.meta ------------------------------------------------------------------------------------------


def test_tosca_meta_without_entry_definitions_is_reported():
    meta, problems = parse_tosca_meta(b"TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-By: me\n", "T.meta")
    assert meta is not None
    assert meta.entry_definitions is None
    assert rules(problems) == ["tosca-meta.missing-entry"]


def test_tosca_meta_reads_etsi_entries_continuations_and_blocks():
    data = b"""TOSCA-Meta-File-Version: 1.0
CSAR-Version: 1.1
Created-By: acme
Entry-Definitions: ./Definitions/main.yaml
ETSI-Entry-Manifest: main.mf
ETSI-Entry-Certificate: Files/main.cert

Name: Scripts/install.sh
Content-Type: text/x-shellscript
Algorithm: SHA-256
Hash: 0123456789abcdef0123456789abcdef
 0123456789ABCDEF0123456789ABCDEF

Name: Files/only-hash.bin
Hash: 00

Content-Type: text/plain
"""
    meta, problems = parse_tosca_meta(data, "TOSCA-Metadata/TOSCA.meta")
    assert meta is not None
    assert meta.entry_definitions == "Definitions/main.yaml"
    assert (meta.entry_manifest, meta.entry_certificate) == ("main.mf", "Files/main.cert")
    assert [(d.path, d.algorithm, d.value) for d in meta.blocks] == [
        ("Scripts/install.sh", "sha-256", "0123456789abcdef" * 4)
    ]
    assert [(p.rule, p.location) for p in problems] == [
        ("tosca-meta.incomplete-entry", "line 14"),
        ("tosca-meta.incomplete-entry", "line 17"),
    ]


def test_tosca_meta_syntax_errors_and_path_escapes_name_their_line():
    data = b"TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nEntry-Definitions: ../outside.yaml\nnot a pair\n"
    _, problems = parse_tosca_meta(data, "T.meta")
    assert [(p.rule, p.location) for p in problems] == [
        ("integrity.path-invalid", "line 3"),
        ("tosca-meta.syntax", "line 4"),
    ]


def test_an_empty_tosca_meta_gives_nothing_to_read():
    meta, problems = parse_tosca_meta(b"\n\n", "T.meta")
    assert meta is None
    assert rules(problems) == ["tosca-meta.missing-entry"]


# --- NAPD and OSM ----------------------------------------------------------------------------------------


def test_a_napd_content_entry_without_source_or_hash_is_reported():
    napd = {
        "package_content": [
            {"source": "a.yaml", "algorithm": "SHA-256", "content-type": "text/plain"},
            {"hash": "0" * 64, "algorithm": "SHA-256"},
            {"source": "b.yaml", "algorithm": "SHA-256", "hash": 12345},
            "not a mapping",
            {"source": "./c.yaml", "algorithm": "SHA-256", "hash": "A" * 64},
        ]
    }
    digests, problems = parse_napd_content(napd, "TOSCA-Metadata/NAPD.yaml")
    assert [(d.path, d.value, d.location) for d in digests] == [("c.yaml", "a" * 64, "/package_content/4")]
    assert [(p.rule, p.location) for p in problems] == [
        ("napd.content-entry", f"/package_content/{i}") for i in range(4)
    ]
    assert "a.yaml has no hash" in problems[0].message
    assert "has no source" in problems[1].message


def test_osm_checksum_paths_are_made_package_relative():
    data = b"d41d8cd98f00b204e9800998ecf8427e  icons/osm.png\nd41d8cd98f00b204e9800998ecf8427e\tpkg/pkg.yaml\n"
    data += b"\n0cc175b9c0f1b6a831c399e269772661 *./a.txt\nnot-a-checksum-line\n"
    digests, problems = parse_osm_checksums(data, "pkg/checksums.txt", top="pkg")
    assert [d.path for d in digests] == ["pkg/icons/osm.png", "pkg/pkg.yaml", "pkg/a.txt"]
    assert all(d.algorithm == "md5" for d in digests)
    assert [(p.rule, p.location) for p in problems] == [("checksums.syntax", "line 5")]
