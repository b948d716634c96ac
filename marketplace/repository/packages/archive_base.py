"""What an opened archive is (its entries, limits and the Archive handed to readers) and how entry names
are judged and listed; shared by the zip and tar readers (see archive.py for the whole design).
"""

from __future__ import annotations

import re
import struct
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Literal, Protocol, Self

from marketplace.repository.packages.problems import PackageRejected, Problem

if TYPE_CHECKING:
    pass


KIB = 1024


MIB = 1024 * KIB


CHUNK = MIB  # what every reader asks its source for at once


RATIO_FLOOR = MIB  # below this many uncompressed bytes the compression ratio is not judged


ACCEPTED_FORMATS = "an ETSI SOL004 CSAR (zip), a 5GTANGO package (.tgo, zip) or an OSM package (.tar.gz)"


# tarfile reads pax and GNU long-name headers whole into memory; real ones are a few hundred bytes.
MAX_TAR_META_HEADER = 64 * KIB


# tarfile's stream mode reads (and skips) in blocks of this size; larger than its 10 KiB default
# to cut per-call overhead on big packages.
TAR_STREAM_BUFFER = 256 * KIB


# What a tar.gz listing pass holds in memory for `open_archive(keep=...)`, all files together.
MAX_KEPT = 16 * MIB


# Room in a decompressed tar stream for headers and padding, on top of the files themselves.
TAR_OVERHEAD_PER_ENTRY = 4 * KIB


TAR_META_TYPES = frozenset(
    {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
)


ZIP_ENCRYPTED_FLAGS = 0x1 | 0x40  # traditional and strong encryption


ZIP_AES_METHOD = 99


# bzip2 and lzma are left out on purpose: zipfile decompresses them without an output bound.
ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


ZIP_LOCAL_HEADER_SIZE = 30


EOCD = struct.Struct("<4s4H2LH")


_DRIVE = re.compile(r"^[A-Za-z]:")


# After these a tar.gz is not decompressed further.
FATAL = frozenset({"archive.too-many-entries", "archive.too-large", "archive.file-too-large"})


# What the standard readers raise on damaged or hostile data. ValueError covers a negative seek
# on an in-memory stream, OverflowError a 64-bit offset past what seek accepts.
CORRUPTION = (
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

    def __init__(self, kind: Literal["zip", "tar"], entries: list[Entry], backend: Backend, gzipped: bool) -> None:
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
                        f'file "{entry.path}" is {human(entry.size)}, more than the {human(max_bytes)} read at once',
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


def _normalise(name: str) -> str:
    """The relative POSIX path of an entry: without "./", empty or "." segments and trailing "/"."""
    return "/".join(segment for segment in name.split("/") if segment not in ("", "."))


def show(name: str, limit: int = 300) -> str:
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


class Listing:
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
        shown = show(name)
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
                    f'entry "{shown}" has the same path as entry "{earlier[0]}" ("{show(normalised)}")',
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
                    f'entry "{shown}" is {human(size)}, larger than the {human(self.limits.max_entry_size)} allowed',
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
                        f'the files up to entry "{shown}" add up to {human(self.total)}, more than the '
                        f"{human(self.limits.max_total_size)} allowed",
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
                    f'entry "{shown}" expands from {human(compressed_size)} to {human(size)}, more than '
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


def human(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def unknown_format(why: str) -> Problem:
    return Problem("archive.unknown-format", f"{why}; a package must be {ACCEPTED_FORMATS}")


def corrupt(shown: str, error: BaseException | str) -> PackageRejected:
    where = f'entry "{shown}"' if shown else "the archive"
    return PackageRejected([Problem("archive.corrupt", f"{where} cannot be read: {error}", file=shown)])


class Backend(Protocol):
    def open(self, entry: Entry) -> BinaryIO: ...
    def iter_files(self, entries: list[Entry]) -> Iterator[tuple[Entry, BinaryIO]]: ...
    def close(self) -> None: ...
