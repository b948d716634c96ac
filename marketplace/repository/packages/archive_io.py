"""Counted reading of archive members: every byte read is checked against what the headers declared, a
gzip stream is guarded against decompression bombs, and the zip, tar and tar.gz backends read members.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO, Protocol, Self

from marketplace.repository.packages.problems import PackageRejected, Problem

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

from marketplace.repository.packages.archive_base import (
    CHUNK,
    CORRUPTION,
    MAX_TAR_META_HEADER,
    MIB,
    RATIO_FLOOR,
    TAR_META_TYPES,
    TAR_OVERHEAD_PER_ENTRY,
    TAR_STREAM_BUFFER,
    ArchiveLimits,
    Backend,
    Entry,
    corrupt,
    human,
    show,
)


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
        except CORRUPTION as error:
            raise corrupt(self._entry.path, error) from error
        if not data:
            if self._count < self._entry.size:
                raise corrupt(
                    self._entry.path, f"it ends after {self._count} bytes, but its header declares {self._entry.size}"
                )
            self._done = True
            return 0
        self._count += len(data)
        if self._count > self._entry.size:
            raise corrupt(self._entry.path, f"it holds more than the {self._entry.size} bytes its header declares")
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


def checked(source: _Source, entry: Entry, on_close: Callable[[], object] | None = None) -> BinaryIO:
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


class GzipGuard:
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
        except CORRUPTION as error:
            raise corrupt(self.entry, error) from error
        self.produced += len(data)
        where = f'at entry "{self.entry}" ' if self.entry else ""
        if self.produced > self._cap:
            raise PackageRejected(
                [
                    Problem(
                        "archive.too-large",
                        f"the archive decompresses {where}to more than {human(self._cap)}",
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
                        f"the archive expands {where}from {human(consumed)} to {human(self.produced)}, more than "
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


def _iter_by_open(backend: Backend, entries: list[Entry]) -> Iterator[tuple[Entry, BinaryIO]]:
    for entry in entries:
        with backend.open(entry) as stream:
            yield entry, stream


class ZipBackend:
    def __init__(self, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> None:
        self._zf = zf
        self._infos = infos

    def open(self, entry: Entry) -> BinaryIO:
        try:
            source = self._zf.open(self._infos[entry.path])
        except CORRUPTION as error:
            raise corrupt(entry.path, error) from error
        return checked(source, entry)

    def iter_files(self, entries: list[Entry]) -> Iterator[tuple[Entry, BinaryIO]]:
        return _iter_by_open(self, entries)

    def close(self) -> None:
        self._zf.close()


class TarBackend:
    """An uncompressed tar: files are read in place, each reader seeking on its own."""

    def __init__(self, tf: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> None:
        self._tf = tf
        self._members = members

    def open(self, entry: Entry) -> BinaryIO:
        try:
            source = self._tf.extractfile(self._members[entry.path])
        except CORRUPTION as error:
            raise corrupt(entry.path, error) from error
        if source is None:
            raise corrupt(entry.path, "it is not a regular file")
        return checked(source, entry)

    def iter_files(self, entries: list[Entry]) -> Iterator[tuple[Entry, BinaryIO]]:
        return _iter_by_open(self, entries)

    def close(self) -> None:
        self._tf.close()


class TarGzBackend:
    """A tar.gz: every reader decompresses from the start, with the same guards as the listing."""

    def __init__(
        self, source: BinaryIO, limits: ArchiveLimits, data_offsets: dict[str, int], kept: dict[str, bytes]
    ) -> None:
        self._source = source
        self._limits = limits
        self._data_offsets = data_offsets
        self._kept = kept  # files held from the listing pass

    def _scan(self) -> tuple[GzipGuard, tarfile.TarFile]:
        guard = GzipGuard(self._source, self._limits)
        try:
            tf = open_tar_stream(guard)
        except BaseException:
            guard.close()
            raise
        return guard, tf

    def _members(self, guard: GzipGuard, tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
        while True:
            try:
                member = tf.next()
            except PackageRejected:
                raise
            except CORRUPTION as error:
                raise corrupt(guard.entry, error) from error
            if member is None:
                return
            guard.entry = show(member.name)
            yield member

    def open(self, entry: Entry) -> BinaryIO:
        if entry.path in self._kept:
            return checked(io.BytesIO(self._kept[entry.path]), entry)
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
                        return checked(source, entry, on_close=close)
            raise corrupt(entry.path, "it is gone on a second read of the archive")
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
                with checked(source, entry) as stream:
                    yield entry, stream
            if seen != len(by_offset):
                raise corrupt("", "files are missing on a second read of the archive")
        finally:
            tf.close()
            guard.close()

    def close(self) -> None:
        pass


class SafeTarInfo(tarfile.TarInfo):
    """Refuses oversized pax and GNU long-name headers before tarfile reads them into memory."""

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Self:
        info = super().frombuf(buf, encoding, errors)
        if info.type in TAR_META_TYPES and info.size > MAX_TAR_META_HEADER:
            raise PackageRejected(
                [
                    Problem(
                        "archive.corrupt",
                        f"a tar extended header declares {human(info.size)}, more than the "
                        f"{human(MAX_TAR_META_HEADER)} allowed",
                    )
                ]
            )
        return info


def open_tar_stream(guard: GzipGuard) -> tarfile.TarFile:
    try:
        return tarfile.open(
            fileobj=guard,
            mode="r|",
            bufsize=TAR_STREAM_BUFFER,
            tarinfo=SafeTarInfo,
            encoding="utf-8",
            errors="surrogateescape",
        )
    except PackageRejected:
        raise
    except CORRUPTION as error:
        raise corrupt("", error) from error
