"""Opening zip and tar (or tar.gz) containers: their directories or headers read and every entry judged
before any file is handed out.
"""

from __future__ import annotations

import io
import itertools
import stat
import struct
import tarfile
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO

from marketplace.repository.packages.problems import PackageRejected, Problem

if TYPE_CHECKING:
    pass
from marketplace.repository.packages.archive_base import (
    CORRUPTION,
    EOCD,
    FATAL,
    MAX_KEPT,
    RATIO_FLOOR,
    ZIP_AES_METHOD,
    ZIP_ENCRYPTED_FLAGS,
    ZIP_LOCAL_HEADER_SIZE,
    ZIP_METHODS,
    Archive,
    ArchiveLimits,
    Entry,
    Listing,
    corrupt,
    human,
    show,
    unknown_format,
)
from marketplace.repository.packages.archive_io import (
    GzipGuard,
    SafeTarInfo,
    TarBackend,
    TarGzBackend,
    ZipBackend,
    checked,
    open_tar_stream,
)

_ZIP_UTF8_FLAG = 0x800


_ZIP64_LOCATOR = struct.Struct("<4sLQL")


_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


def _zip_directory(handle: BinaryIO) -> tuple[int, int] | None:
    """(entry count, central directory offset) from the end records, read before zipfile builds
    an object per entry; None when they cannot be found (zipfile then says why)."""
    try:
        return _read_zip_directory(handle)
    except (OSError, ValueError, OverflowError, struct.error):
        return None


def _read_zip_directory(handle: BinaryIO) -> tuple[int, int] | None:
    end = handle.seek(0, io.SEEK_END)
    handle.seek(max(0, end - (EOCD.size + 0xFFFF)))
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < EOCD.size:
        return None
    fields = EOCD.unpack_from(tail, at)
    count, offset = fields[4], fields[6]
    locator_at = at - _ZIP64_LOCATOR.size
    if (count == 0xFFFF or offset == 0xFFFFFFFF) and locator_at >= 0:
        locator = _ZIP64_LOCATOR.unpack_from(tail, locator_at)
        if locator[0] == b"PK\x06\x07":
            handle.seek(locator[2])
            record = handle.read(_ZIP64_EOCD.size)
            if len(record) == _ZIP64_EOCD.size and record.startswith(b"PK\x06\x06"):
                fields64 = _ZIP64_EOCD.unpack(record)
                count, offset = fields64[7], fields64[9]
    return count, offset


def _zip_name(info: zipfile.ZipInfo) -> tuple[str, bytes]:
    """(name, stored bytes) of a zip entry. zipfile cuts names at NUL and decodes names without
    the UTF-8 flag as cp437, so the stored bytes are recovered from `orig_filename` and decoded
    as UTF-8 (ASCII is UTF-8); bytes that are not UTF-8 come back as surrogates and are rejected."""
    name = info.orig_filename
    if info.flag_bits & _ZIP_UTF8_FLAG:
        return name, name.encode("utf-8")
    raw = name.encode("cp437")  # cp437 maps all 256 bytes, so this gives the stored bytes back
    return raw.decode("utf-8", "surrogateescape"), raw


def open_zip(handle: BinaryIO, limits: ArchiveLimits) -> Archive:
    directory = _zip_directory(handle)
    if directory is not None and directory[0] > limits.max_entries:
        raise PackageRejected(
            [
                Problem(
                    "archive.too-many-entries",
                    f"the archive holds {directory[0]} entries, more than the {limits.max_entries} allowed",
                )
            ]
        )
    handle.seek(0)
    try:
        zf = zipfile.ZipFile(handle)
    except UnicodeDecodeError as error:
        shown = show(bytes(error.object).decode("utf-8", "surrogateescape"))
        raise PackageRejected(
            [
                Problem(
                    "archive.name-encoding",
                    f'entry "{shown}" is marked as a UTF-8 name but is not valid UTF-8',
                    file=shown,
                )
            ]
        ) from error
    except CORRUPTION as error:
        raise corrupt("", error) from error
    try:
        return _list_zip(zf, handle, limits, directory)
    except BaseException:
        zf.close()
        raise


def _list_zip(
    zf: zipfile.ZipFile, handle: BinaryIO, limits: ArchiveLimits, directory: tuple[int, int] | None
) -> Archive:
    listing = Listing(limits)
    infos: dict[str, zipfile.ZipInfo] = {}
    spans: list[tuple[int, int, str]] = []  # (local header offset, least end of its data, shown name)
    for info in zf.infolist():
        if not listing.counted():
            break
        name, raw = _zip_name(info)
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        is_dir = name.endswith("/") or kind == stat.S_IFDIR
        path, shown = listing.name(name, is_dir)
        spans.append(
            (info.header_offset, info.header_offset + ZIP_LOCAL_HEADER_SIZE + len(raw) + info.compress_size, shown)
        )
        if kind == stat.S_IFLNK:
            listing.problems.append(
                Problem(
                    "archive.link", f'entry "{shown}" is a symbolic link; packages hold regular files only', file=shown
                )
            )
            continue
        if kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
            listing.problems.append(
                Problem("archive.special-file", f'entry "{shown}" is a device, fifo or socket', file=shown)
            )
            continue
        if info.flag_bits & ZIP_ENCRYPTED_FLAGS or info.compress_type == ZIP_AES_METHOD:
            listing.problems.append(Problem("archive.encrypted", f'entry "{shown}" is encrypted', file=shown))
        elif info.compress_type not in ZIP_METHODS:
            listing.problems.append(
                Problem(
                    "archive.corrupt",
                    f'entry "{shown}" uses compression method {info.compress_type}; only stored and deflate '
                    "entries are read",
                    file=shown,
                )
            )
        if is_dir:
            continue
        listing.file(path, shown, info.file_size, info.compress_size)
        infos[path] = info
    # Entries sharing compressed data (an "overlapping" zip bomb) or pointing into each other.
    spans.sort()
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        if end > start:
            listing.problems.append(
                Problem("archive.corrupt", f'entry "{second}" overlaps the data of entry "{first}"', file=second)
            )
    if spans and directory is not None and spans[-1][1] > directory[1]:
        listing.problems.append(
            Problem(
                "archive.corrupt",
                f'entry "{spans[-1][2]}" runs into the central directory',
                file=spans[-1][2],
            )
        )
    archive_size = handle.seek(0, io.SEEK_END)
    if (
        listing.total > RATIO_FLOOR
        and listing.total > limits.max_ratio * max(archive_size, 1)
        and not any(p.rule == "archive.compression-ratio" for p in listing.problems)
    ):
        listing.problems.append(
            Problem(
                "archive.compression-ratio",
                f"the archive expands from {human(archive_size)} to {human(listing.total)}, more than "
                f"{limits.max_ratio:g} times; it looks like a decompression bomb",
            )
        )
    listing.check_parents()
    listing.raise_if_any()
    return Archive("zip", listing.entries, ZipBackend(zf, infos), gzipped=False)


def open_tar(
    handle: BinaryIO, limits: ArchiveLimits, gzipped: bool, keep: Callable[[str, int], bool] | None = None
) -> Archive:
    guard: GzipGuard | None = None
    if gzipped:
        guard = GzipGuard(handle, limits)
        try:
            first = guard.read(512)
        except PackageRejected:
            guard.close()
            raise
        if first[257:262] != b"ustar":
            guard.close()
            raise PackageRejected([unknown_format("the gzip stream does not hold a tar archive")])
        guard.close()
        guard = GzipGuard(handle, limits)
        try:
            tf = open_tar_stream(guard)
        except BaseException:
            guard.close()
            raise
    else:
        handle.seek(0)
        try:
            tf = tarfile.open(  # noqa: SIM115 - the archive closes it
                fileobj=handle, mode="r:", tarinfo=SafeTarInfo, encoding="utf-8", errors="surrogateescape"
            )
        except PackageRejected:
            raise
        except CORRUPTION as error:
            raise corrupt("", error) from error
    kept: dict[str, bytes] = {}
    try:
        listing, members = _list_tar(tf, limits, guard, keep, kept)
    except BaseException:
        tf.close()
        raise
    finally:
        if guard is not None:
            guard.close()
    if guard is not None:
        # Every later read of a tar.gz starts its own pass; this one is over.
        tf.close()
        offsets = {path: member.offset_data for path, member in members.items()}
        return Archive("tar", listing.entries, TarGzBackend(handle, limits, offsets, kept), gzipped=True)
    return Archive("tar", listing.entries, TarBackend(tf, members), gzipped=False)


def _list_tar(
    tf: tarfile.TarFile,
    limits: ArchiveLimits,
    guard: GzipGuard | None,
    keep: Callable[[str, int], bool] | None = None,
    kept: dict[str, bytes] | None = None,
) -> tuple[Listing, dict[str, tarfile.TarInfo]]:
    """Judges every entry. With `guard` (a tar.gz), the files `keep` names are read into `kept` on the way."""
    listing = Listing(limits)
    members: dict[str, tarfile.TarInfo] = {}
    shown = ""
    room = MAX_KEPT
    try:
        while True:
            try:
                member = tf.next()
            except PackageRejected:
                raise
            except CORRUPTION as error:
                raise corrupt(shown, error) from error
            if member is None:
                break
            if not listing.counted():
                break
            path, shown = listing.name(member.name, member.isdir())
            if guard is not None:
                guard.entry = shown
            if member.issym() or member.islnk():
                kind = "symbolic" if member.issym() else "hard"
                listing.problems.append(
                    Problem(
                        "archive.link",
                        f'entry "{shown}" is a {kind} link to "{show(member.linkname)}"; packages hold regular '
                        "files only",
                        file=shown,
                    )
                )
            elif member.ischr() or member.isblk() or member.isfifo():
                what = "character device" if member.ischr() else "block device" if member.isblk() else "fifo"
                listing.problems.append(Problem("archive.special-file", f'entry "{shown}" is a {what}', file=shown))
            elif member.issparse():
                listing.problems.append(
                    Problem("archive.special-file", f'entry "{shown}" is a sparse file', file=shown)
                )
            elif member.isreg():
                members[path] = member
                if not listing.file(path, shown, member.size, None) and guard is not None:
                    break  # reading on would mean decompressing past a limit
                if (
                    guard is not None
                    and keep is not None
                    and kept is not None
                    and member.size <= room
                    and keep(path, member.size)
                ):
                    kept[path] = _read_member(tf, member, shown)
                    room -= member.size
            elif not member.isdir():
                listing.problems.append(
                    Problem(
                        "archive.special-file",
                        f'entry "{shown}" has tar type {member.type!r}, not a file or folder',
                        file=shown,
                    )
                )
        if guard is not None and not any(p.rule in FATAL for p in listing.problems):
            guard.entry = ""
            guard.drain()
    except PackageRejected as rejected:
        listing.problems += rejected.problems
    listing.check_parents()
    listing.raise_if_any()
    return listing, members


def _read_member(tf: tarfile.TarFile, member: tarfile.TarInfo, shown: str) -> bytes:
    """A file of a tar stream read where the listing stands, checked against its declared size."""
    source = tf.extractfile(member)
    if source is None:
        raise corrupt(shown, "it is not a regular file")
    with checked(source, Entry(shown, member.size, None)) as stream:
        return stream.read()
