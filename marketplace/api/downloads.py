"""Package bytes over HTTP, for the JSON API and SOL005 alike: the archive typed by its bytes with one
byte range on request (RFC 9110), one member file streamed from the archive, and Accept negotiation."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.http.request import MediaType

from marketplace.errors import NotAcceptable, RangeNotSatisfiable
from marketplace.repository import blobs
from marketplace.repository.models import Package, PackageFile
from marketplace.repository.packages.archive import open_archive

ZIP = "application/zip"
ARCHIVE_TYPES = (ZIP, "application/gzip", "application/x-tar")
CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})")


def negotiate(request: HttpRequest, offered: Sequence[str], why: str = "") -> str:
    """The offered media type the Accept header prefers (the first offered on a tie); NotAcceptable else."""
    header = request.headers.get("Accept", "")
    if not header.strip():
        return offered[0]
    # Django drops q=0 ranges before matching, so "text/plain;q=0, */*" would still pick text/plain.
    refused = {f"{m.main_type}/{m.sub_type}" for t in header.split(",") if (m := MediaType(t)).quality == 0}
    chosen = request.get_preferred_type([o for o in offered if o not in refused])
    if chosen is None:
        raise NotAcceptable(f"cannot answer in any type the Accept header allows; offered: {', '.join(offered)}{why}")
    return str(chosen)


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The (first, last) byte a single `Range: bytes=a-b` asks for; None to send everything (no Range,
    several ranges or a malformed one: RFC 9110 lets a server ignore those); RangeNotSatisfiable when
    it selects nothing."""
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable("a suffix range of 0 bytes selects nothing", size)
        return max(0, size - length), size - 1
    start, end = int(first), int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(f"the range starts at byte {start}; the archive has {size}", size)
    return start, min(end, size - 1)


def _archive_type(head: bytes) -> str:
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP
    if head.startswith(b"\x1f\x8b"):
        return "application/gzip"
    return "application/x-tar"  # ingest accepts nothing else


class _Slice:
    """`length` bytes of a blob from `start`, read in chunks; closing it closes the blob."""

    def __init__(self, stream: Any, start: int, length: int) -> None:
        self._stream = stream
        self._left = length
        stream.seek(start)

    def read(self, size: int = -1) -> bytes:
        wanted = self._left if size < 0 else min(size, self._left)
        data: bytes = self._stream.read(wanted) if wanted > 0 else b""
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._stream.close()


def archive_response(request: HttpRequest, package: Package, *, negotiated: bool = True) -> HttpResponseBase:
    """The package archive as stored, typed by its bytes (zip, gzip, tar); one byte range on request.
    `negotiated`: an Accept header that excludes the type is refused (SOL005 asks this); the JSON API
    serves the archive whatever a client accepts."""
    stream = blobs.blob_open(package.digest)
    try:
        media_type = _archive_type(stream.read(512))
        if negotiated:
            negotiate(request, (media_type,))
        span = byte_range(request.headers.get("Range", ""), package.size)
    except BaseException:
        stream.close()
        raise
    start, end = span or (0, package.size - 1)
    suffix = {ZIP: ".zip", "application/gzip": ".tar.gz"}.get(media_type, ".tar")
    filename = package.filename or f"{package.name}-{package.version}{suffix}".replace("/", "_")
    response = FileResponse(
        _Slice(stream, start, end - start + 1),
        status=206 if span else 200,
        content_type=media_type,
        as_attachment=True,
        filename=filename,
    )
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    if span:
        response["Content-Range"] = f"bytes {start}-{end}/{package.size}"
    else:
        response["Digest"] = f"sha-256={package.digest}"
    return response


def member_response(package: Package, entry: PackageFile) -> StreamingHttpResponse:
    """One file of the package, streamed out of the stored archive."""

    def chunks() -> Iterator[bytes]:
        with blobs.blob_open(package.digest) as blob, open_archive(blob) as archive, archive.open(entry.path) as member:
            while chunk := member.read(CHUNK):
                yield chunk

    response = StreamingHttpResponse(chunks(), content_type=entry.media_type)
    response["Content-Length"] = str(entry.size)
    response["Content-Disposition"] = f'attachment; filename="{entry.path.rsplit("/", 1)[-1]}"'
    response["Digest"] = f"sha-256={entry.sha256}"
    return response
