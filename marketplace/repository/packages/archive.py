"""Safe reading of untrusted package archives (zip, tar, tar.gz): every entry is checked before
any file is handed out, and every byte read later is counted against what the headers declared.

The container is recognised by its magic bytes, never by its file name. Opening an archive
lists and judges all its entries and raises PackageRejected with every problem found; an
Archive that opens is safe to read through `open`, `read` and `iter_files`.

How each container is read:
- zip: the central directory gives names, sizes and compressed sizes up front, so the
  compression ratio is judged per entry before anything is decompressed. Each file is read
  through zipfile's streaming reader, capped at its declared size plus one byte.
- tar: the headers are read once with the data skipped; files are read in place.
- tar.gz: a gzip stream holds no sizes until it is decompressed, so opening makes one full
  streaming pass that counts decompressed against compressed bytes and stops at the first
  limit crossed. `open(path)` decompresses again from the start up to that file (one pass
  per call); `iter_files` is the single sequential pass to use when every file is wanted.
"""

from __future__ import annotations

import gzip
import io
import itertools
import re
import stat
import struct
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Literal, Protocol, Self

from marketplace.repository.packages.problems import PackageRejected, Problem

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

    from marketplace.repository.packages.types import PackageView

KIB = 1024
MIB = 1024 * KIB
CHUNK = MIB  # what every reader asks its source for at once
RATIO_FLOOR = MIB  # below this many uncompressed bytes the compression ratio is not judged
ACCEPTED_FORMATS = "an ETSI SOL004 CSAR (zip), a 5GTANGO package (.tgo, zip) or an OSM package (.tar.gz)"

# tarfile reads pax and GNU long-name headers whole into memory; real ones are a few hundred bytes.
MAX_TAR_META_HEADER = 64 * KIB
# tarfile's stream mode reads (and skips) in blocks of this size; larger than its 10 KiB default
# to cut per-call overhead on big packages.
_TAR_STREAM_BUFFER = 256 * KIB
# What a tar.gz listing pass holds in memory for `open_archive(keep=...)`, all files together.
MAX_KEPT = 16 * MIB
# Room in a decompressed tar stream for headers and padding, on top of the files themselves.
TAR_OVERHEAD_PER_ENTRY = 4 * KIB

_TAR_META_TYPES = frozenset(
    {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
)
_ZIP_UTF8_FLAG = 0x800
_ZIP_ENCRYPTED_FLAGS = 0x1 | 0x40  # traditional and strong encryption
_ZIP_AES_METHOD = 99
# bzip2 and lzma are left out on purpose: zipfile decompresses them without an output bound.
_ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_ZIP_LOCAL_HEADER_SIZE = 30
_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_DRIVE = re.compile(r"^[A-Za-z]:")
# After these a tar.gz is not decompressed further.
_FATAL = frozenset({"archive.too-many-entries", "archive.too-large", "archive.file-too-large"})

# What the standard readers raise on damaged or hostile data. ValueError covers a negative seek
# on an in-memory stream, OverflowError a 64-bit offset past what seek accepts.
_CORRUPTION = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    zlib.error,
    struct.error,
    NotImplementedError,
    ValueError,
    OverflowError,
)


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 10_000
    max_total_size: int = 8 * 1024**3  # sum of uncompressed sizes
    max_entry_size: int = 8 * 1024**3
    # uncompressed/compressed, per entry (zip) and overall; only judged above RATIO_FLOOR uncompressed
    max_ratio: float = 100.0
    max_path_length: int = 1024  # UTF-8 bytes of the normalised path
    max_depth: int = 32  # path segments


@dataclass(frozen=True)
class Entry:
    """A regular file of the archive. `compressed_size` is None for tar, whose files are not
    compressed one by one."""

    path: str
    size: int
    compressed_size: int | None


class Archive:
    """An archive whose entries all passed the safety checks. Satisfies types.PackageView.

    File objects from `open` and `iter_files` must be closed before the archive is."""

    def __init__(self, kind: Literal["zip", "tar"], entries: list[Entry], backend: _Backend, gzipped: bool) -> None:
        self.kind: Literal["zip", "tar"] = kind
        self.gzipped = gzipped
        self.entries = entries
        self._backend = backend
        self._by_path = {entry.path: entry for entry in entries}
        self._on_close: list[Callable[[], object]] = []

    @property
    def paths(self) -> list[str]:
        return [entry.path for entry in self.entries]

    def entry(self, path: str) -> Entry:
        found = self._by_path.get(_normalise(path))
        if found is None:
            raise KeyError(f"no file {path!r} in the archive")
        return found

    def size(self, path: str) -> int:
        return self.entry(path).size

    def open(self, path: str) -> BinaryIO:
        """A streaming reader of one file, in constant memory. Reading raises PackageRejected
        ("archive.corrupt") when the data differs from its header: more or fewer bytes than
        declared, a bad checksum, a truncated stream. For tar.gz this decompresses the archive
        from its start up to the file."""
        return self._backend.open(self.entry(path))

    def read(self, path: str, max_bytes: int = 4 * MIB) -> bytes:
        entry = self.entry(path)
        if entry.size > max_bytes:
            raise PackageRejected(
                [
                    Problem(
                        "archive.file-too-large",
                        f'file "{entry.path}" is {_human(entry.size)}, more than the {_human(max_bytes)} read at once',
                        file=entry.path,
                    )
                ]
            )
        with self.open(entry.path) as stream:
            return stream.read()

    def iter_files(self) -> Iterator[tuple[Entry, BinaryIO]]:
        """Every file in archive order, in one sequential pass. Each file object is valid until
        the iteration moves on."""
        return self._backend.iter_files(self.entries)

    def close(self) -> None:
        self._backend.close()
        for close in self._on_close:
            close()
        self._on_close.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def open_archive(
    source: Path | str | BinaryIO,
    limits: ArchiveLimits | None = None,
    *,
    keep: Callable[[str, int], bool] | None = None,
) -> Archive:
    """Open and judge the archive at `source` (a path, or a seekable binary stream read from its
    start and left open for the caller to close). Raises PackageRejected listing every problem.

    `keep(path, size)` names small files of a tar.gz to hold in memory from the listing pass, so
    reading them later does not decompress the archive again (up to MAX_KEPT bytes in all)."""
    limits = limits or ArchiveLimits()
    if isinstance(source, (str, Path)):
        handle: BinaryIO = Path(source).open("rb")  # noqa: SIM115 - the archive closes it
        owned = True
    else:
        handle = source
        owned = False
        if not handle.seekable():
            raise ValueError("open_archive needs a seekable stream")
    try:
        handle.seek(0)
        head = handle.read(512)
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            archive = _open_zip(handle, limits)
        elif head.startswith(b"\x1f\x8b"):
            archive = _open_tar(handle, limits, gzipped=True, keep=keep)
        elif head[257:262] == b"ustar":
            archive = _open_tar(handle, limits, gzipped=False)
        else:
            raise PackageRejected([_unknown_format("the file is not a zip, tar or gzip archive")])
    except BaseException:
        if owned:
            handle.close()
        raise
    if owned:
        archive._on_close.append(handle.close)
    return archive


# ---------------------------------------------------------------------------------------------
# Names


def _normalise(name: str) -> str:
    """The relative POSIX path of an entry: without "./", empty or "." segments and trailing "/"."""
    return "/".join(segment for segment in name.split("/") if segment not in ("", "."))


def _show(name: str, limit: int = 300) -> str:
    """The name as it can be printed: undecodable bytes and control characters escaped."""
    out = []
    for char in name[:limit]:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte surrogateescape could not decode
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cs"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out) + ("…" if len(name) > limit else "")


def _has_surrogates(name: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in name)


def _name_problems(name: str, shown: str, normalised: str, limits: ArchiveLimits) -> list[Problem]:
    problems = []

    def add(rule: str, message: str) -> None:
        problems.append(Problem(rule, f'entry "{shown}" {message}', file=shown))

    if _has_surrogates(name):
        add("archive.name-encoding", "has a name that is not valid UTF-8")
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        add("archive.path-absolute", "has an absolute path; package paths are relative to the package folder")
    elif "\\" in name:
        add("archive.path-invalid", 'has a backslash in its name; package paths separate folders with "/"')
    if ".." in re.split(r"[/\\]", name):
        add("archive.path-traversal", "leaves the package folder")
    if any(unicodedata.category(char) == "Cc" for char in name):
        add("archive.path-invalid", "has a control character in its name")
    length = len(normalised.encode("utf-8", "surrogatepass"))
    if length > limits.max_path_length:
        add("archive.path-invalid", f"has a path of {length} bytes, longer than the {limits.max_path_length} allowed")
    depth = normalised.count("/") + 1
    if depth > limits.max_depth:
        add("archive.path-invalid", f"has {depth} path segments, more than the {limits.max_depth} allowed")
    return problems


class _Listing:
    """Collects entries and problems while an archive's entries are judged one by one."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.problems: list[Problem] = []
        self.entries: list[Entry] = []
        self.count = 0
        self.total = 0
        self._seen: dict[str, tuple[str, bool]] = {}  # normalised path -> (shown name, is a directory)

    def counted(self) -> bool:
        """Counts one more entry; False once there are more than allowed."""
        self.count += 1
        if self.count > self.limits.max_entries:
            self.problems.append(
                Problem(
                    "archive.too-many-entries",
                    f"the archive holds more than the {self.limits.max_entries} entries allowed",
                )
            )
            return False
        return True

    def name(self, name: str, is_dir: bool) -> tuple[str, str]:
        """Judges an entry's name; returns (normalised path, printable name)."""
        shown = _show(name)
        normalised = _normalise(name)
        self.problems += _name_problems(name, shown, normalised, self.limits)
        if not normalised:
            if not is_dir:
                self.problems.append(Problem("archive.path-invalid", f'entry "{shown}" has no file name', file=shown))
            return normalised, shown
        earlier = self._seen.get(normalised)
        if earlier is None:
            self._seen[normalised] = (shown, is_dir)
        elif not (is_dir and earlier[1]):  # a folder listed twice is harmless
            self.problems.append(
                Problem(
                    "archive.duplicate",
                    f'entry "{shown}" has the same path as entry "{earlier[0]}" ("{_show(normalised)}")',
                    file=shown,
                )
            )
        return normalised, shown

    def file(self, path: str, shown: str, size: int, compressed_size: int | None) -> bool:
        """Judges a regular file's size; returns False when a size limit is crossed."""
        fits = True
        if size > self.limits.max_entry_size:
            self.problems.append(
                Problem(
                    "archive.file-too-large",
                    f'entry "{shown}" is {_human(size)}, larger than the {_human(self.limits.max_entry_size)} allowed',
                    file=shown,
                )
            )
            fits = False
        self.total += size
        if self.total > self.limits.max_total_size:
            if not any(p.rule == "archive.too-large" for p in self.problems):
                self.problems.append(
                    Problem(
                        "archive.too-large",
                        f'the files up to entry "{shown}" add up to {_human(self.total)}, more than the '
                        f"{_human(self.limits.max_total_size)} allowed",
                        file=shown,
                    )
                )
            fits = False
        if (
            compressed_size is not None
            and size > RATIO_FLOOR
            and size > self.limits.max_ratio * max(compressed_size, 1)
        ):
            self.problems.append(
                Problem(
                    "archive.compression-ratio",
                    f'entry "{shown}" expands from {_human(compressed_size)} to {_human(size)}, more than '
                    f"{self.limits.max_ratio:g} times; it looks like a decompression bomb",
                    file=shown,
                )
            )
        self.entries.append(Entry(path, size, compressed_size))
        return fits

    def check_parents(self) -> None:
        """A path under a file would need that file to be a folder too."""
        files = {path for path, (_, is_dir) in self._seen.items() if not is_dir}
        for path, (shown, _) in self._seen.items():
            parts = path.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent in files:
                    self.problems.append(
                        Problem(
                            "archive.duplicate",
                            f'entry "{shown}" lies inside "{self._seen[parent][0]}", which is a file',
                            file=shown,
                        )
                    )
                    break

    def raise_if_any(self) -> None:
        if self.problems:
            raise PackageRejected(self.problems)


def _human(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _unknown_format(why: str) -> Problem:
    return Problem("archive.unknown-format", f"{why}; a package must be {ACCEPTED_FORMATS}")


def _corrupt(shown: str, error: BaseException | str) -> PackageRejected:
    where = f'entry "{shown}"' if shown else "the archive"
    return PackageRejected([Problem("archive.corrupt", f"{where} cannot be read: {error}", file=shown)])


# ---------------------------------------------------------------------------------------------
# Readers


class _Source(Protocol):
    def read(self, size: int, /) -> bytes: ...
    def close(self) -> object: ...


class _CheckedReader(io.RawIOBase):
    """One file's bytes, counted against its declared size: never more than declared + 1 are
    asked for, and both more and fewer than declared are rejected."""

    def __init__(self, source: _Source, entry: Entry, on_close: Callable[[], object] | None = None) -> None:
        super().__init__()
        self._source = source
        self._entry = entry
        self._on_close = on_close
        self._count = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readall(self) -> bytes:
        # io's default reads 8 KiB at a time; the size was bounded when the archive was opened.
        parts = []
        while chunk := self.read(CHUNK):
            parts.append(chunk)
        return b"".join(parts)

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._done:
            return 0
        view = memoryview(buffer).cast("B")
        want = min(len(view), CHUNK, self._entry.size + 1 - self._count)
        try:
            data = self._source.read(want)
        except PackageRejected:
            raise
        except _CORRUPTION as error:
            raise _corrupt(self._entry.path, error) from error
        if not data:
            if self._count < self._entry.size:
                raise _corrupt(
                    self._entry.path, f"it ends after {self._count} bytes, but its header declares {self._entry.size}"
                )
            self._done = True
            return 0
        self._count += len(data)
        if self._count > self._entry.size:
            raise _corrupt(self._entry.path, f"it holds more than the {self._entry.size} bytes its header declares")
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._source.close()
            finally:
                if self._on_close is not None:
                    self._on_close()
        super().close()


def _checked(source: _Source, entry: Entry, on_close: Callable[[], object] | None = None) -> BinaryIO:
    return io.BufferedReader(_CheckedReader(source, entry, on_close), buffer_size=CHUNK)


class _SourceView:
    """A private read position on a shared seekable source, so several readers can stream from
    it at once; counts the bytes it hands out."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._position = 0
        self.consumed = 0

    def read(self, size: int = -1, /) -> bytes:
        self._source.seek(self._position)
        data = self._source.read(CHUNK if size < 0 else size)
        self._position += len(data)
        self.consumed += len(data)
        return data

    def seek(self, position: int, whence: int = 0, /) -> int:
        # gzip only rewinds, which it never does while reading forward once.
        if whence == io.SEEK_SET:
            self._position = position
        elif whence == io.SEEK_CUR:
            self._position += position
        else:
            raise ValueError("a source view cannot seek from the end")
        return self._position

    def close(self) -> None:
        pass


class _GzipGuard:
    """The decompressed stream of a .tar.gz, judged while it flows: sizes in a gzip are unknown
    until read, so decompressed bytes are counted against compressed bytes consumed."""

    def __init__(self, source: BinaryIO, limits: ArchiveLimits) -> None:
        self._view = _SourceView(source)
        self._gzip = gzip.GzipFile(fileobj=self._view, mode="rb")
        self._limits = limits
        self._cap = limits.max_total_size + TAR_OVERHEAD_PER_ENTRY * limits.max_entries + MIB
        self.produced = 0
        self.entry = ""  # the entry whose bytes are flowing, named in problems

    def read(self, size: int = -1, /) -> bytes:
        try:
            data = self._gzip.read(CHUNK if size < 0 else min(size, CHUNK))
        except _CORRUPTION as error:
            raise _corrupt(self.entry, error) from error
        self.produced += len(data)
        where = f'at entry "{self.entry}" ' if self.entry else ""
        if self.produced > self._cap:
            raise PackageRejected(
                [
                    Problem(
                        "archive.too-large",
                        f"the archive decompresses {where}to more than {_human(self._cap)}",
                        file=self.entry,
                    )
                ]
            )
        consumed = max(self._view.consumed, 1)
        if self.produced > RATIO_FLOOR and self.produced > self._limits.max_ratio * consumed:
            raise PackageRejected(
                [
                    Problem(
                        "archive.compression-ratio",
                        f"the archive expands {where}from {_human(consumed)} to {_human(self.produced)}, more than "
                        f"{self._limits.max_ratio:g} times; it looks like a decompression bomb",
                        file=self.entry,
                    )
                ]
            )
        return data

    def drain(self) -> None:
        """Reads to the end, so the gzip checksum is verified and trailing data judged."""
        while self.read(CHUNK):
            pass

    def close(self) -> None:
        self._gzip.close()

    # tarfile's type hints ask for these; in stream mode it only reads.
    def write(self, data: bytes, /) -> int:
        raise io.UnsupportedOperation("read only")

    def tell(self) -> int:
        return self.produced

    def seek(self, position: int, /) -> int:
        raise io.UnsupportedOperation("not seekable")


# ---------------------------------------------------------------------------------------------
# Backends


class _Backend(Protocol):
    def open(self, entry: Entry) -> BinaryIO: ...
    def iter_files(self, entries: list[Entry]) -> Iterator[tuple[Entry, BinaryIO]]: ...
    def close(self) -> None: ...


def _iter_by_open(backend: _Backend, entries: list[Entry]) -> Iterator[tuple[Entry, BinaryIO]]:
    for entry in entries:
        with backend.open(entry) as stream:
            yield entry, stream


class _ZipBackend:
    def __init__(self, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> None:
        self._zf = zf
        self._infos = infos

    def open(self, entry: Entry) -> BinaryIO:
        try:
            source = self._zf.open(self._infos[entry.path])
        except _CORRUPTION as error:
            raise _corrupt(entry.path, error) from error
        return _checked(source, entry)

    def iter_files(self, entries: list[Entry]) -> Iterator[tuple[Entry, BinaryIO]]:
        return _iter_by_open(self, entries)

    def close(self) -> None:
        self._zf.close()


class _TarBackend:
    """An uncompressed tar: files are read in place, each reader seeking on its own."""

    def __init__(self, tf: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> None:
        self._tf = tf
        self._members = members

    def open(self, entry: Entry) -> BinaryIO:
        try:
            source = self._tf.extractfile(self._members[entry.path])
        except _CORRUPTION as error:
            raise _corrupt(entry.path, error) from error
        if source is None:
            raise _corrupt(entry.path, "it is not a regular file")
        return _checked(source, entry)

    def iter_files(self, entries: list[Entry]) -> Iterator[tuple[Entry, BinaryIO]]:
        return _iter_by_open(self, entries)

    def close(self) -> None:
        self._tf.close()


class _TarGzBackend:
    """A tar.gz: every reader decompresses from the start, with the same guards as the listing."""

    def __init__(
        self, source: BinaryIO, limits: ArchiveLimits, data_offsets: dict[str, int], kept: dict[str, bytes]
    ) -> None:
        self._source = source
        self._limits = limits
        self._data_offsets = data_offsets
        self._kept = kept  # files held from the listing pass

    def _scan(self) -> tuple[_GzipGuard, tarfile.TarFile]:
        guard = _GzipGuard(self._source, self._limits)
        try:
            tf = _open_tar_stream(guard)
        except BaseException:
            guard.close()
            raise
        return guard, tf

    def _members(self, guard: _GzipGuard, tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
        while True:
            try:
                member = tf.next()
            except PackageRejected:
                raise
            except _CORRUPTION as error:
                raise _corrupt(guard.entry, error) from error
            if member is None:
                return
            guard.entry = _show(member.name)
            yield member

    def open(self, entry: Entry) -> BinaryIO:
        if entry.path in self._kept:
            return _checked(io.BytesIO(self._kept[entry.path]), entry)
        guard, tf = self._scan()

        def close() -> None:
            tf.close()
            guard.close()

        try:
            offset = self._data_offsets[entry.path]
            for member in self._members(guard, tf):
                if member.offset_data == offset and member.isreg():
                    source = tf.extractfile(member)
                    if source is not None:
                        return _checked(source, entry, on_close=close)
            raise _corrupt(entry.path, "it is gone on a second read of the archive")
        except BaseException:
            close()
            raise

    def iter_files(self, entries: list[Entry]) -> Iterator[tuple[Entry, BinaryIO]]:
        by_offset = {self._data_offsets[entry.path]: entry for entry in entries}
        guard, tf = self._scan()
        seen = 0
        try:
            for member in self._members(guard, tf):
                entry = by_offset.get(member.offset_data)
                if entry is None or not member.isreg():
                    continue
                source = tf.extractfile(member)
                if source is None:
                    continue
                seen += 1
                with _checked(source, entry) as stream:
                    yield entry, stream
            if seen != len(by_offset):
                raise _corrupt("", "files are missing on a second read of the archive")
        finally:
            tf.close()
            guard.close()

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Zip


def _zip_directory(handle: BinaryIO) -> tuple[int, int] | None:
    """(entry count, central directory offset) from the end records, read before zipfile builds
    an object per entry; None when they cannot be found (zipfile then says why)."""
    try:
        return _read_zip_directory(handle)
    except (OSError, ValueError, OverflowError, struct.error):
        return None


def _read_zip_directory(handle: BinaryIO) -> tuple[int, int] | None:
    end = handle.seek(0, io.SEEK_END)
    handle.seek(max(0, end - (_EOCD.size + 0xFFFF)))
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        return None
    fields = _EOCD.unpack_from(tail, at)
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


def _open_zip(handle: BinaryIO, limits: ArchiveLimits) -> Archive:
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
        shown = _show(bytes(error.object).decode("utf-8", "surrogateescape"))
        raise PackageRejected(
            [
                Problem(
                    "archive.name-encoding",
                    f'entry "{shown}" is marked as a UTF-8 name but is not valid UTF-8',
                    file=shown,
                )
            ]
        ) from error
    except _CORRUPTION as error:
        raise _corrupt("", error) from error
    try:
        return _list_zip(zf, handle, limits, directory)
    except BaseException:
        zf.close()
        raise


def _list_zip(
    zf: zipfile.ZipFile, handle: BinaryIO, limits: ArchiveLimits, directory: tuple[int, int] | None
) -> Archive:
    listing = _Listing(limits)
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
            (info.header_offset, info.header_offset + _ZIP_LOCAL_HEADER_SIZE + len(raw) + info.compress_size, shown)
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
        if info.flag_bits & _ZIP_ENCRYPTED_FLAGS or info.compress_type == _ZIP_AES_METHOD:
            listing.problems.append(Problem("archive.encrypted", f'entry "{shown}" is encrypted', file=shown))
        elif info.compress_type not in _ZIP_METHODS:
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
                f"the archive expands from {_human(archive_size)} to {_human(listing.total)}, more than "
                f"{limits.max_ratio:g} times; it looks like a decompression bomb",
            )
        )
    listing.check_parents()
    listing.raise_if_any()
    return Archive("zip", listing.entries, _ZipBackend(zf, infos), gzipped=False)


# ---------------------------------------------------------------------------------------------
# Tar


class _SafeTarInfo(tarfile.TarInfo):
    """Refuses oversized pax and GNU long-name headers before tarfile reads them into memory."""

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Self:
        info = super().frombuf(buf, encoding, errors)
        if info.type in _TAR_META_TYPES and info.size > MAX_TAR_META_HEADER:
            raise PackageRejected(
                [
                    Problem(
                        "archive.corrupt",
                        f"a tar extended header declares {_human(info.size)}, more than the "
                        f"{_human(MAX_TAR_META_HEADER)} allowed",
                    )
                ]
            )
        return info


def _open_tar_stream(guard: _GzipGuard) -> tarfile.TarFile:
    try:
        return tarfile.open(
            fileobj=guard,
            mode="r|",
            bufsize=_TAR_STREAM_BUFFER,
            tarinfo=_SafeTarInfo,
            encoding="utf-8",
            errors="surrogateescape",
        )
    except PackageRejected:
        raise
    except _CORRUPTION as error:
        raise _corrupt("", error) from error


def _open_tar(
    handle: BinaryIO, limits: ArchiveLimits, gzipped: bool, keep: Callable[[str, int], bool] | None = None
) -> Archive:
    guard: _GzipGuard | None = None
    if gzipped:
        guard = _GzipGuard(handle, limits)
        try:
            first = guard.read(512)
        except PackageRejected:
            guard.close()
            raise
        if first[257:262] != b"ustar":
            guard.close()
            raise PackageRejected([_unknown_format("the gzip stream does not hold a tar archive")])
        guard.close()
        guard = _GzipGuard(handle, limits)
        try:
            tf = _open_tar_stream(guard)
        except BaseException:
            guard.close()
            raise
    else:
        handle.seek(0)
        try:
            tf = tarfile.open(  # noqa: SIM115 - the archive closes it
                fileobj=handle, mode="r:", tarinfo=_SafeTarInfo, encoding="utf-8", errors="surrogateescape"
            )
        except PackageRejected:
            raise
        except _CORRUPTION as error:
            raise _corrupt("", error) from error
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
        return Archive("tar", listing.entries, _TarGzBackend(handle, limits, offsets, kept), gzipped=True)
    return Archive("tar", listing.entries, _TarBackend(tf, members), gzipped=False)


def _list_tar(
    tf: tarfile.TarFile,
    limits: ArchiveLimits,
    guard: _GzipGuard | None,
    keep: Callable[[str, int], bool] | None = None,
    kept: dict[str, bytes] | None = None,
) -> tuple[_Listing, dict[str, tarfile.TarInfo]]:
    """Judges every entry. With `guard` (a tar.gz), the files `keep` names are read into `kept` on the way."""
    listing = _Listing(limits)
    members: dict[str, tarfile.TarInfo] = {}
    shown = ""
    room = MAX_KEPT
    try:
        while True:
            try:
                member = tf.next()
            except PackageRejected:
                raise
            except _CORRUPTION as error:
                raise _corrupt(shown, error) from error
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
                        f'entry "{shown}" is a {kind} link to "{_show(member.linkname)}"; packages hold regular '
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
        if guard is not None and not any(p.rule in _FATAL for p in listing.problems):
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
        raise _corrupt(shown, "it is not a regular file")
    with _checked(source, Entry(shown, member.size, None)) as stream:
        return stream.read()


if TYPE_CHECKING:

    def _satisfies_package_view(archive: Archive) -> PackageView:
        return archive
