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

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from marketplace.repository.packages.problems import PackageRejected

if TYPE_CHECKING:
    pass
from marketplace.repository.packages.archive_base import Archive, ArchiveLimits, unknown_format
from marketplace.repository.packages.archive_formats import open_tar, open_zip


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
            archive = open_zip(handle, limits)
        elif head.startswith(b"\x1f\x8b"):
            archive = open_tar(handle, limits, gzipped=True, keep=keep)
        elif head[257:262] == b"ustar":
            archive = open_tar(handle, limits, gzipped=False)
        else:
            raise PackageRejected([unknown_format("the file is not a zip, tar or gzip archive")])
    except BaseException:
        if owned:
            handle.close()
        raise
    if owned:
        archive._on_close.append(handle.close)
    return archive
