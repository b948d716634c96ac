"""Untrusted package archives: hostile zips and tars are refused with every reason found,
good ones are read in constant memory."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import struct
import tarfile
import tracemalloc
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from marketplace.repository.packages.archive import open_archive
from marketplace.repository.packages.archive_base import CHUNK, ArchiveLimits, Entry
from marketplace.repository.packages.problems import PackageRejected

MIB = 1024 * 1024
Member = tuple[tarfile.TarInfo, bytes]
PACKAGES = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "packages"


# --- building archives -------------------------------------------------------------------------


def make_zip(
    path: Path, files: Sequence[tuple[str | zipfile.ZipInfo, bytes]], method: int = zipfile.ZIP_DEFLATED
) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicates some tests want
        with zipfile.ZipFile(path, "w", compression=method) as zf:
            for name, data in files:
                zf.writestr(name, data)
    return path


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, linkname: str = "") -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info, data


def make_tar(path: Path, members: list[Member], gz: bool = True, fmt: int = tarfile.PAX_FORMAT) -> Path:
    with tarfile.open(path, "w:gz" if gz else "w", format=fmt, encoding="utf-8", errors="surrogateescape") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def patch_central(path: Path, name: bytes, offset: int, fmt: str, value: int) -> None:
    """Overwrites one field of the central directory header of entry `name`."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length] == name:
            struct.pack_into(fmt, data, at + offset, value)
            path.write_bytes(bytes(data))
            return
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"no central directory header for {name!r}")


def rejection(source: Path, limits: ArchiveLimits | None = None) -> PackageRejected:
    with pytest.raises(PackageRejected) as caught:
        open_archive(source, limits).close()
    return caught.value


def only(rejected: PackageRejected, rule: str):
    found = [p for p in rejected.problems if p.rule == rule]
    assert len(found) == 1, rejected.problems
    return found[0]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- happy paths -------------------------------------------------------------------------------


def test_it_reads_a_zip_with_nested_folders(tmp_path):
    source = make_zip(
        tmp_path / "p.csar",
        [
            ("TOSCA-Metadata/", b""),
            ("TOSCA-Metadata/TOSCA.meta", b"TOSCA-Meta-File-Version: 1.0\n"),
            ("Definitions/vnfd/top.yaml", b"tosca_definitions_version: x\n" * 50),
            ("manifest.mf", b"metadata:\n"),
        ],
    )
    with open_archive(source) as archive:
        assert archive.kind == "zip"
        assert archive.paths == ["TOSCA-Metadata/TOSCA.meta", "Definitions/vnfd/top.yaml", "manifest.mf"]
        assert archive.size("Definitions/vnfd/top.yaml") == 29 * 50
        assert archive.read("TOSCA-Metadata/TOSCA.meta") == b"TOSCA-Meta-File-Version: 1.0\n"
        top = archive.entries[1]
        assert top.compressed_size is not None
        assert top.compressed_size < top.size


def test_it_reads_a_tar_gz_with_nested_folders_and_normalises_paths(tmp_path):
    source = make_tar(
        tmp_path / "ns.tar.gz",
        [
            member("./", kind=tarfile.DIRTYPE),
            member("./ns/", kind=tarfile.DIRTYPE),
            member("./ns/nsd.yaml", b"nsd: {}\n"),
            member("ns//charms/a/b.py", b"print(1)\n"),
            member("ns/checksums.txt", b"abc  nsd.yaml\n"),
        ],
    )
    with open_archive(source) as archive:
        assert (archive.kind, archive.gzipped) == ("tar", True)
        assert archive.paths == ["ns/nsd.yaml", "ns/charms/a/b.py", "ns/checksums.txt"]
        assert archive.entries[0] == Entry("ns/nsd.yaml", 8, None)
        assert archive.read("ns/charms/a/b.py") == b"print(1)\n"
        assert archive.read("./ns/nsd.yaml") == b"nsd: {}\n"  # looked up by its normalised path


def test_it_reads_a_plain_tar(tmp_path):
    source = make_tar(tmp_path / "p.tar", [member("a/x.txt", b"x"), member("a/y.txt", b"yy")], gz=False)
    with open_archive(source) as archive:
        assert (archive.kind, archive.gzipped) == ("tar", False)
        assert [(e.path, e.size) for e in archive.entries] == [("a/x.txt", 1), ("a/y.txt", 2)]
        assert archive.read("a/y.txt") == b"yy"


def test_it_recognises_the_format_by_its_bytes_not_its_name(tmp_path):
    source = make_zip(tmp_path / "misleading.tar.gz", [("a.txt", b"a")])
    with open_archive(source) as archive:
        assert archive.kind == "zip"


def test_it_reads_from_an_open_stream_and_leaves_it_open(tmp_path):
    stream = io.BytesIO(make_zip(tmp_path / "p.zip", [("a.txt", b"hello")]).read_bytes())
    stream.seek(3)  # read from the start whatever the position
    with open_archive(stream) as archive:
        assert archive.read("a.txt") == b"hello"
    assert not stream.closed


def test_it_refuses_a_path_it_does_not_hold(tmp_path):
    with open_archive(make_zip(tmp_path / "p.zip", [("a.txt", b"a")])) as archive, pytest.raises(KeyError):
        archive.open("b.txt")


def test_read_refuses_a_file_larger_than_asked_for(tmp_path):
    source = make_zip(tmp_path / "p.zip", [("big/data.bin", os.urandom(5000))])
    with open_archive(source) as archive, pytest.raises(PackageRejected) as caught:
        archive.read("big/data.bin", max_bytes=4096)
    problem = only(caught.value, "archive.file-too-large")
    assert problem.file == "big/data.bin"
    assert '"big/data.bin"' in problem.message


@pytest.mark.parametrize("name", ["p.zip", "p.tar.gz", "p.tar"])
def test_open_streams_a_file_larger_than_the_chunk(tmp_path, name):
    payload = os.urandom(2 * CHUNK + 12345)
    files = [("pkg/small.txt", b"small"), ("pkg/image.qcow2", payload), ("pkg/after.txt", b"after")]
    if name == "p.zip":
        source = make_zip(tmp_path / name, files)
    else:
        source = make_tar(tmp_path / name, [member(n, d) for n, d in files], gz=name.endswith(".gz"))
    with open_archive(source) as archive, archive.open("pkg/image.qcow2") as stream:
        chunks = list(iter(lambda: stream.read(64 * 1024), b""))
    assert len(chunks) > 2 * CHUNK // (64 * 1024)
    assert all(len(chunk) <= 64 * 1024 for chunk in chunks)
    assert sha256(b"".join(chunks)) == sha256(payload)


@pytest.mark.parametrize("name", ["p.zip", "p.tar.gz", "p.tar"])
def test_iter_files_gives_every_file_once_in_archive_order(tmp_path, name):
    files = [(f"d{i % 3}/f{i}.bin", os.urandom(1000 * i)) for i in range(1, 8)]
    if name == "p.zip":
        source = make_zip(tmp_path / name, files)
    else:
        source = make_tar(tmp_path / name, [member(n, d) for n, d in files], gz=name.endswith(".gz"))
    with open_archive(source) as archive:
        seen: list[tuple[str, str | None]] = []
        for entry, stream in archive.iter_files():
            if entry.path == "d2/f2.bin":
                stream.read(10)  # a file left half read does not disturb the next
                seen.append((entry.path, None))
                continue
            seen.append((entry.path, sha256(stream.read())))
    assert seen == [(n, None if n == "d2/f2.bin" else sha256(d)) for n, d in files]


def test_iter_files_reads_a_tar_gz_in_one_pass(tmp_path):
    class CountingStream(io.BytesIO):
        consumed = 0

        def read(self, size=-1, /):
            data = super().read(size)
            self.consumed += len(data)
            return data

    files = [(f"f{i}.bin", os.urandom(100_000)) for i in range(10)]
    data = make_tar(tmp_path / "p.tar.gz", [member(n, d) for n, d in files]).read_bytes()
    stream = CountingStream(data)
    with open_archive(stream) as archive:
        stream.consumed = 0
        for _, file in archive.iter_files():
            file.read()
        assert stream.consumed <= len(data) + 64 * 1024
        stream.consumed = 0
        for path in archive.paths:  # open() rescans from the start: the slow way, documented
            archive.read(path)
        assert stream.consumed > 3 * len(data)


@pytest.mark.parametrize("name", ["big.zip", "big.tar.gz", "big.tar"])
def test_a_50_mib_file_streams_through_open_in_bounded_memory(tmp_path, name):
    block = bytes(range(256)) * 4096  # 1 MiB
    content = tmp_path / "disk.img"
    expected = hashlib.sha256()
    with content.open("wb") as out:
        for _ in range(50):
            out.write(block)
            expected.update(block)
    source = tmp_path / name
    if name.endswith(".zip"):
        with zipfile.ZipFile(source, "w") as zf:  # stored: the test is about streaming, not deflate
            zf.write(content, "images/disk.img")
    else:
        with tarfile.open(source, "w:gz", compresslevel=1) if name.endswith(".gz") else tarfile.open(source, "w") as tf:
            tf.add(content, "images/disk.img")
    limits = ArchiveLimits(max_ratio=10_000)  # the repeated block compresses far beyond real packages
    with open_archive(source, limits) as archive:
        assert archive.size("images/disk.img") == 50 * MIB
        tracemalloc.start()
        try:
            digest = hashlib.sha256()
            with archive.open("images/disk.img") as stream:
                while chunk := stream.read(256 * 1024):
                    digest.update(chunk)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert digest.hexdigest() == expected.hexdigest()
    assert peak < 16 * MIB


def test_two_files_of_a_tar_gz_stream_side_by_side(tmp_path):
    first, second = os.urandom(3 * CHUNK), os.urandom(3 * CHUNK)
    source = make_tar(tmp_path / "p.tar.gz", [member("a.bin", first), member("b.bin", second)])
    with open_archive(source) as archive, archive.open("a.bin") as a, archive.open("b.bin") as b:
        parts_a, parts_b = [], []
        while True:
            chunk_a, chunk_b = a.read(100_000), b.read(100_000)
            if not chunk_a and not chunk_b:
                break
            parts_a.append(chunk_a)
            parts_b.append(chunk_b)
    assert b"".join(parts_a) == first
    assert b"".join(parts_b) == second


def test_it_opens_an_empty_zip(tmp_path):
    with open_archive(make_zip(tmp_path / "empty.zip", [])) as archive:
        assert archive.paths == []
        assert list(archive.iter_files()) == []


# --- hostile names -----------------------------------------------------------------------------


def test_it_rejects_a_zip_slip_entry(tmp_path):
    rejected = rejection(make_zip(tmp_path / "p.zip", [("ok.txt", b"ok"), ("../../etc/passwd", b"root")]))
    problem = only(rejected, "archive.path-traversal")
    assert problem.file == "../../etc/passwd"
    assert problem.message == 'entry "../../etc/passwd" leaves the package folder'


def test_it_rejects_a_tar_slip_entry(tmp_path):
    rejected = rejection(make_tar(tmp_path / "p.tar.gz", [member("pkg/../../evil.sh", b"rm")]))
    assert only(rejected, "archive.path-traversal").file == "pkg/../../evil.sh"


def test_it_rejects_absolute_paths_of_every_kind_and_lists_them_all(tmp_path):
    names = ["/etc/passwd", "C:\\Windows\\evil.dll", "\\\\server\\share\\x"]
    rejected = rejection(make_zip(tmp_path / "p.zip", [(n, b"x") for n in names]))
    absolute = [p for p in rejected.problems if p.rule == "archive.path-absolute"]
    assert [p.file for p in absolute] == names
    assert all(f'"{p.file}"' in p.message for p in absolute)


def test_it_rejects_backslashes_and_control_characters_in_names(tmp_path):
    rejected = rejection(make_zip(tmp_path / "p.zip", [("dir\\file.txt", b"x"), ("bell\x07.txt", b"x")]))
    invalid = [p for p in rejected.problems if p.rule == "archive.path-invalid"]
    assert [p.file for p in invalid] == ["dir\\file.txt", "bell\\x07.txt"]
    assert "backslash" in invalid[0].message
    assert "control character" in invalid[1].message


def test_it_rejects_over_long_and_over_deep_paths(tmp_path):
    limits = ArchiveLimits(max_path_length=40, max_depth=4)
    deep = "a/b/c/d/e.txt"
    long = "x" * 41
    rejected = rejection(make_tar(tmp_path / "p.tar.gz", [member(deep, b"x"), member(long, b"x")]), limits)
    invalid = {p.file: p.message for p in rejected.problems if p.rule == "archive.path-invalid"}
    assert "5 path segments" in invalid[deep]
    assert "41 bytes" in invalid[long]


def test_it_rejects_a_tar_name_that_is_not_utf8(tmp_path):
    name = b"pkg/caf\xe9.txt".decode("utf-8", "surrogateescape")
    rejected = rejection(make_tar(tmp_path / "p.tar.gz", [member(name, b"x")], fmt=tarfile.GNU_FORMAT))
    problem = only(rejected, "archive.name-encoding")
    assert problem.file == "pkg/caf\\xe9.txt"
    assert '"pkg/caf\\xe9.txt"' in problem.message


def test_it_rejects_a_zip_name_without_the_utf8_flag_that_is_not_utf8(tmp_path):
    source = make_zip(tmp_path / "p.zip", [("cafX.txt", b"x")])
    source.write_bytes(source.read_bytes().replace(b"cafX.txt", b"caf\xe9.txt"))
    problem = only(rejection(source), "archive.name-encoding")
    assert problem.file == "caf\\xe9.txt"
    assert '"caf\\xe9.txt"' in problem.message


def test_it_rejects_a_zip_name_flagged_utf8_that_is_not(tmp_path):
    source = make_zip(tmp_path / "p.zip", [("café.txt", b"x")])
    source.write_bytes(source.read_bytes().replace("café".encode(), b"caf\xff\xa9"))
    problem = only(rejection(source), "archive.name-encoding")
    assert "caf\\xff\\xa9.txt" in problem.message


def test_it_accepts_a_zip_name_without_the_utf8_flag_that_decodes_as_utf8(tmp_path):
    source = make_zip(tmp_path / "p.zip", [("cafXY.txt", b"x")])
    source.write_bytes(source.read_bytes().replace(b"cafXY.txt", "café.txt".encode()))
    with open_archive(source) as archive:
        assert archive.paths == ["café.txt"]
        assert archive.read("café.txt") == b"x"


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_it_rejects_duplicate_entries(tmp_path, kind):
    names = ["pkg/a.yaml", "./pkg//a.yaml"]
    if kind == "zip":
        source = make_zip(tmp_path / "p.zip", [(n, b"x") for n in [*names, "pkg/a.yaml"]])
    else:
        source = make_tar(tmp_path / "p.tar.gz", [member(n, b"x") for n in [*names, "pkg/a.yaml"]])
    duplicates = [p for p in rejection(source).problems if p.rule == "archive.duplicate"]
    assert [p.file for p in duplicates] == ["./pkg//a.yaml", "pkg/a.yaml"]
    assert duplicates[0].message.startswith('entry "./pkg//a.yaml" has the same path as entry "pkg/a.yaml"')


def test_it_rejects_a_file_that_is_also_a_folder(tmp_path):
    problem = only(rejection(make_zip(tmp_path / "p.zip", [("a/b/c.txt", b"x"), ("a/b", b"x")])), "archive.duplicate")
    assert problem.file == "a/b/c.txt"
    assert '"a/b", which is a file' in problem.message


def test_a_folder_listed_twice_is_harmless(tmp_path):
    source = make_tar(tmp_path / "p.tar.gz", [member("d", kind=tarfile.DIRTYPE)] * 2 + [member("d/f", b"f")])
    with open_archive(source) as archive:
        assert archive.paths == ["d/f"]


# --- links and special files -------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "word"), [(tarfile.SYMTYPE, "symbolic"), (tarfile.LNKTYPE, "hard")])
def test_it_rejects_links_in_a_tar(tmp_path, kind, word):
    source = make_tar(
        tmp_path / "p.tar.gz", [member("pkg/a.txt", b"a"), member("pkg/link", kind=kind, linkname="/etc/passwd")]
    )
    problem = only(rejection(source), "archive.link")
    assert problem.file == "pkg/link"
    assert problem.message.startswith(f'entry "pkg/link" is a {word} link to "/etc/passwd"')


def test_it_rejects_a_zip_entry_marked_as_a_symlink(tmp_path):
    info = zipfile.ZipInfo("pkg/link")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    problem = only(rejection(make_zip(tmp_path / "p.zip", [(info, b"/etc/passwd")])), "archive.link")
    assert problem.file == "pkg/link"
    assert '"pkg/link"' in problem.message


@pytest.mark.parametrize(
    ("kind", "word"),
    [(tarfile.CHRTYPE, "character device"), (tarfile.BLKTYPE, "block device"), (tarfile.FIFOTYPE, "fifo")],
)
def test_it_rejects_devices_and_fifos_in_a_tar(tmp_path, kind, word):
    problem = only(
        rejection(make_tar(tmp_path / "p.tar", [member("dev/x", kind=kind)], gz=False)), "archive.special-file"
    )
    assert problem.message == f'entry "dev/x" is a {word}'


# --- encryption, sizes, bombs ------------------------------------------------------------------


def test_it_rejects_an_encrypted_zip_entry(tmp_path):
    source = make_zip(tmp_path / "p.zip", [("plain.txt", b"p"), ("secret.key", b"s")])
    patch_central(source, b"secret.key", 8, "<H", 0x1)
    problem = only(rejection(source), "archive.encrypted")
    assert problem.message == 'entry "secret.key" is encrypted'


def test_it_rejects_too_many_zip_entries_before_listing_them(tmp_path):
    source = make_zip(tmp_path / "p.zip", [(f"f{i}", b"") for i in range(11)])
    problem = only(rejection(source, ArchiveLimits(max_entries=10)), "archive.too-many-entries")
    assert "11 entries" in problem.message
    assert "10 allowed" in problem.message


def test_it_rejects_too_many_tar_entries(tmp_path):
    source = make_tar(tmp_path / "p.tar.gz", [member(f"f{i}", b"") for i in range(11)])
    problem = only(rejection(source, ArchiveLimits(max_entries=10)), "archive.too-many-entries")
    assert "10 entries allowed" in problem.message


def test_it_rejects_an_entry_larger_than_allowed(tmp_path):
    source = make_zip(tmp_path / "p.zip", [("small", b"s"), ("big.bin", os.urandom(3000))])
    problem = only(rejection(source, ArchiveLimits(max_entry_size=2000)), "archive.file-too-large")
    assert problem.file == "big.bin"
    assert problem.message.startswith('entry "big.bin" is 2.9 KiB')


def test_it_rejects_files_adding_up_to_more_than_allowed(tmp_path):
    files = [member(f"f{i}.bin", os.urandom(400 * 1024)) for i in range(4)]
    problem = only(
        rejection(make_tar(tmp_path / "p.tar.gz", files), ArchiveLimits(max_total_size=MIB)), "archive.too-large"
    )
    assert problem.file == "f2.bin"
    assert '"f2.bin"' in problem.message


def test_it_rejects_a_zip_bomb_from_its_central_directory(tmp_path):
    source = make_zip(tmp_path / "p.zip", [("ok.txt", b"ok"), ("bomb.bin", bytes(5 * MIB))])
    problem = only(rejection(source, ArchiveLimits(max_ratio=50)), "archive.compression-ratio")
    assert problem.file == "bomb.bin"
    assert problem.message.startswith('entry "bomb.bin" expands from ')


def test_it_rejects_a_zip_whose_entries_share_their_data(tmp_path):
    source = make_zip(tmp_path / "p.zip", [("a.bin", os.urandom(1000)), ("b.bin", os.urandom(1000))])
    patch_central(source, b"b.bin", 42, "<L", 0)  # b.bin's data now starts where a.bin's does
    problem = only(rejection(source), "archive.corrupt")
    assert "overlaps" in problem.message
    assert '"a.bin"' in problem.message


def test_it_detects_a_gzip_tar_bomb_while_streaming(tmp_path):
    source = make_tar(tmp_path / "p.tar.gz", [member("ok.txt", b"ok"), member("bomb.bin", bytes(5 * MIB))])
    problem = only(rejection(source, ArchiveLimits(max_ratio=50)), "archive.compression-ratio")
    assert problem.file == "bomb.bin"
    assert 'at entry "bomb.bin"' in problem.message


def test_it_detects_data_hidden_after_the_end_of_a_tar_gz(tmp_path):
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as tf:
        info, data = member("a.txt", b"a")
        tf.addfile(info, io.BytesIO(data))
    source = tmp_path / "p.tar.gz"
    source.write_bytes(gzip.compress(tar.getvalue() + os.urandom(2 * MIB)))
    limits = ArchiveLimits(max_total_size=100 * 1024, max_entries=10)
    problem = only(rejection(source, limits), "archive.too-large")
    assert "decompresses to more than" in problem.message


def test_it_refuses_an_oversized_tar_extended_header_before_reading_it(tmp_path):
    info, data = member("a.txt", b"a")
    info.pax_headers = {"comment": "x" * 100_000}
    problem = only(rejection(make_tar(tmp_path / "p.tar", [(info, data)], gz=False)), "archive.corrupt")
    assert "extended header" in problem.message


# --- lying and broken archives -----------------------------------------------------------------


def test_it_rejects_a_zip_whose_header_declares_fewer_bytes_than_it_holds(tmp_path):
    payload = os.urandom(50_000)
    source = make_zip(tmp_path / "p.zip", [("data.bin", payload)])
    patch_central(source, b"data.bin", 24, "<L", 1000)
    with open_archive(source) as archive:
        assert archive.size("data.bin") == 1000
        with pytest.raises(PackageRejected) as caught, archive.open("data.bin") as stream:
            stream.read()
    problem = only(caught.value, "archive.corrupt")
    assert problem.file == "data.bin"
    assert '"data.bin"' in problem.message


def test_it_rejects_a_zip_whose_header_declares_more_bytes_than_it_holds(tmp_path):
    source = make_zip(tmp_path / "p.zip", [("data.bin", os.urandom(1000))])
    patch_central(source, b"data.bin", 24, "<L", 5000)
    with open_archive(source) as archive:
        files = archive.iter_files()
        _, stream = next(files)
        with pytest.raises(PackageRejected) as caught:
            stream.read()
    problem = only(caught.value, "archive.corrupt")
    assert problem.message == 'entry "data.bin" cannot be read: it ends after 1000 bytes, but its header declares 5000'


def test_it_rejects_a_zip_entry_with_a_bad_checksum(tmp_path):
    source = make_zip(tmp_path / "p.zip", [("data.bin", b"A" * 1000)], method=zipfile.ZIP_STORED)
    source.write_bytes(source.read_bytes().replace(b"A" * 1000, b"A" * 999 + b"B"))
    with open_archive(source) as archive, pytest.raises(PackageRejected) as caught:
        archive.read("data.bin")
    assert "CRC" in only(caught.value, "archive.corrupt").message


@pytest.mark.parametrize("name", ["p.tar.gz", "p.tar"])
def test_it_rejects_a_truncated_tar(tmp_path, name):
    source = make_tar(
        tmp_path / name, [member("a.bin", os.urandom(200_000)), member("b.txt", b"b")], gz=name.endswith(".gz")
    )
    source.write_bytes(source.read_bytes()[:100_000])
    only(rejection(source), "archive.corrupt")


def test_it_collects_every_problem_before_rejecting(tmp_path):
    link = zipfile.ZipInfo("link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    source = make_zip(tmp_path / "p.zip", [("../up", b"x"), ("/abs", b"x"), (link, b"x"), ("fine.txt", b"x")])
    rejected = rejection(source)
    assert [(p.rule, p.file) for p in rejected.problems] == [
        ("archive.path-traversal", "../up"),
        ("archive.path-absolute", "/abs"),
        ("archive.link", "link"),
    ]


@pytest.mark.parametrize(
    "content",
    [b"just some text\n" * 40, b"\x89PNG\r\n\x1a\n" + bytes(600), b"", gzip.compress(b"not a tar at all\n" * 100)],
    ids=["text", "png", "empty", "gzip-without-tar"],
)
def test_it_rejects_an_unknown_format(tmp_path, content):
    source = tmp_path / "package.zip"
    source.write_bytes(content)
    problem = only(rejection(source), "archive.unknown-format")
    for accepted in ("ETSI SOL004 CSAR (zip)", "5GTANGO package (.tgo, zip)", "OSM package (.tar.gz)"):
        assert accepted in problem.message


# --- the shared test packages ------------------------------------------------------------------

TANGO = {
    "5gtango-ns-package-example.tgo": [
        "etsi_manifest.mf",
        "TOSCA-Metadata/TOSCA.meta",
        "TOSCA-Metadata/NAPD.yaml",
        "Definitions/sources/vnfd/vnfd-sample.yml",
        "Definitions/sources/nsd/nsd-sample.yml",
    ],
    "5gtango-ns-package-example-bad-checksum.tgo": [
        "Definitions/mynsd.yaml",
        "Definitions/.DS_Store",
        "Definitions/myvnfd.yaml",
        "Icons/upb_logo.png",
        "Images/mycloudimage.ref",
        "Licenses/LICENSE",
        "Scripts/cloud.init",
        "TOSCA-Metadata/TOSCA.meta",
        "TOSCA-Metadata/NAPD.yaml",
        "mynsd.mf",
    ],
    "eu.5gtango.vnf-package-example.0.1.tgo": [
        "etsi_manifest.mf",
        "TOSCA-Metadata/TOSCA.meta",
        "TOSCA-Metadata/NAPD.yaml",
        "Licenses/LICENSE",
        "Images/mycloudimage.ref",
        "Icons/upb_logo.png",
        "Scripts/cloud.init",
        "Definitions/Definitions/myvnfd.yaml",
    ],
}


def shared(relative: str) -> Path:
    path = PACKAGES / relative
    if not path.exists():
        pytest.skip(f"the shared test packages are not at {PACKAGES}")
    return path


@pytest.mark.parametrize("name", sorted(TANGO))
def test_the_5gtango_examples_open_cleanly(name):
    with open_archive(shared(f"5gtango/{name}")) as archive:
        assert archive.kind == "zip"
        assert archive.paths == TANGO[name]
        for entry, stream in archive.iter_files():
            assert len(stream.read()) == entry.size


def test_the_osm_example_opens_cleanly():
    with open_archive(shared("osm/monitoring-ns.tar.gz")) as archive:
        assert (archive.kind, archive.gzipped) == ("tar", True)
        assert archive.paths == [
            "monitoring-ns/README.md",
            "monitoring-ns/checksums.txt",
            "monitoring-ns/monitoring-nsd.yaml",
        ]
        assert b"nsd" in archive.read("monitoring-ns/monitoring-nsd.yaml")
