"""Content-addressed blob store: a blob's id is the SHA-256 of its bytes, so identical content is
stored once. Writes stream in chunks; nothing is held in memory.

settings.BLOB_STORE chooses where the bytes live:
- "files" (the embedded default): one read-only file per blob, BLOB_DIR/sha256/<ab>/<digest>, as OCI
  registries keep blobs. A blob is written under BLOB_DIR/incoming, flushed to disk, then hard-linked to its
  name. The link is atomic and fails when the name exists, so two writers of one content need no lock and no
  reader ever sees half a blob. An upload already spooled (and hashed) on the same filesystem is linked in
  without a copy: ingest then costs one write of the archive, not two.
- "gridfs" (the default with MONGODB_URI): chunks in the database, so every server of a deployment reads them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import gridfs
from bson import Binary
from django.conf import settings
from django.db import connection
from gridfs.errors import NoFile
from pymongo.errors import DuplicateKeyError

BUCKET = "blobs"
LOCKS = "blob_writes"
STALE_LOCK = timedelta(hours=1)
CHUNK = 1024 * 1024
BATCH_CHUNKS = 8  # chunks per insert: bounds the memory an upload holds, whatever its size
INCOMING = "incoming"


class BlobIntegrityError(Exception):
    """The bytes stored under a digest do not hash to it."""


class BlobBusy(Exception):
    """Another upload is writing the same content right now."""


class BlobMissing(FileNotFoundError):
    """No blob is stored under this digest."""


def _files() -> bool:
    return settings.BLOB_STORE == "files"


def _checked(digest: str) -> str:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"{digest!r} is not a SHA-256 digest in lower-case hex")
    return digest


# --- the public operations, whichever store holds the bytes ---


def blob_exists(digest: str) -> bool:
    return _file_path(digest).is_file() if _files() else _gridfs_exists(digest)


def blob_put(*, digest: str, source: BinaryIO, filename: str = "") -> bool:
    """Store `source` under `digest` unless already there; True when stored now.

    The bytes are hashed while they stream in; a mismatch stores nothing and raises BlobIntegrityError.
    """
    _checked(digest)
    if _files():
        return _file_put(digest, source)
    with _writing(digest) as mine:
        if not mine:
            raise BlobBusy(f"blob {digest} is being written by another upload; retry")
        if _gridfs_exists(digest):
            return False
        return _upload(digest, source, filename)


def blob_adopt(*, digest: str, path: Path, filename: str = "") -> bool:
    """Store the file at `path`, which this process wrote and hashed to `digest`, unless already stored;
    True when stored now. The file store links it in (same filesystem) without reading it again; the
    caller still removes `path`, which then only drops a second name."""
    _checked(digest)
    if not _files():
        with path.open("rb") as source:
            return blob_put(digest=digest, source=source, filename=filename)
    final = _file_path(digest)
    if final.is_file():
        return False
    with path.open("rb") as written:
        os.fsync(written.fileno())  # on disk before any document refers to it
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(path, final)
    except FileExistsError:
        return False
    except OSError:  # another filesystem: copy, hashing again
        with path.open("rb") as source:
            return _file_put(digest, source)
    os.chmod(final, 0o444)
    _fsync_dir(final.parent)
    return True


def blob_open(digest: str) -> BinaryIO:
    """A seekable reader of the blob; BlobMissing when none is stored."""
    if _files():
        try:
            return _file_path(digest).open("rb")
        except FileNotFoundError:
            raise BlobMissing(f"no blob {digest} is stored") from None
    try:
        return _bucket().open_download_stream(digest)
    except NoFile:
        raise BlobMissing(f"no blob {digest} is stored") from None


def blob_delete(digest: str) -> None:
    if _files():
        _file_path(digest).unlink(missing_ok=True)
        return
    with contextlib.suppress(NoFile):
        _bucket().delete(digest)


def blob_orphans(*, referenced: set[str], older_than: timedelta) -> list[str]:
    """Blobs no package refers to, stored more than `older_than` ago (an ingest still running
    between its blob write and its commit is younger than that). In the file store, also any younger one no
    live ingest holds: the ingest keeps its spooled file, which is the blob's inode, locked until it commits."""
    if _files():
        cutoff = time.time() - older_than.total_seconds()
        return [
            path.name
            for path in _file_blobs()
            if path.name not in referenced
            and (path.stat().st_mtime < cutoff or not file_in_use(path))  # the link keeps the spool's time
        ]
    return _gridfs_orphans(referenced=referenced, cutoff=datetime.now(UTC) - older_than)


def blob_sweep_unfinished(*, older_than: timedelta) -> int:
    """Remove what writes that died left in the file store's incoming folder (older than `older_than`, or held
    by no live writer); how many files went."""
    if not _files():
        return 0
    cutoff = time.time() - older_than.total_seconds()
    removed = 0
    for path in (settings.BLOB_DIR / INCOMING).glob("*"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff or not file_in_use(path):
                path.unlink()
                removed += 1
    return removed


def file_in_use(path: Path) -> bool:
    """Whether a live process holds the file's lock (its writer, until it is done with it)."""
    try:
        with path.open("rb") as probe:
            fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except FileNotFoundError:
        return False
    return False


def blob_digests() -> list[str]:
    """Every digest the store holds."""
    if _files():
        return sorted(path.name for path in _file_blobs())
    connection.ensure_connection()
    return [str(d["_id"]) for d in connection.database[f"{BUCKET}.files"].find({}, {"_id": 1})]  # type: ignore[attr-defined]


# --- files ---


def _file_path(digest: str) -> Path:
    return settings.BLOB_DIR / "sha256" / digest[:2] / _checked(digest)


def _file_blobs() -> Iterator[Path]:
    root = settings.BLOB_DIR / "sha256"
    return (p for p in root.glob("*/*") if p.is_file()) if root.is_dir() else iter(())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_put(digest: str, source: BinaryIO) -> bool:
    final = _file_path(digest)
    if final.is_file():
        return False
    incoming = settings.BLOB_DIR / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=incoming, prefix="blob-", delete=False)  # noqa: SIM115
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when closed: the sweep leaves a live write alone
    temporary = Path(handle.name)
    try:
        hasher = hashlib.sha256()
        with handle:
            while data := source.read(CHUNK):
                hasher.update(data)
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if hasher.hexdigest() != digest:
            raise BlobIntegrityError(f"blob stored as {digest} hashed to {hasher.hexdigest()}")
        return blob_adopt(digest=digest, path=temporary)
    finally:
        temporary.unlink(missing_ok=True)


# --- GridFS ---


def _bucket() -> gridfs.GridFSBucket:
    connection.ensure_connection()
    return gridfs.GridFSBucket(connection.database, bucket_name=BUCKET, chunk_size_bytes=CHUNK)  # type: ignore[attr-defined]


def _gridfs_exists(digest: str) -> bool:
    connection.ensure_connection()
    files = connection.database[f"{BUCKET}.files"]  # type: ignore[attr-defined]
    return bool(files.count_documents({"_id": digest}, limit=1))


@contextmanager
def _writing(digest: str) -> Iterator[bool]:
    """Claim the right to write `digest`; yields False when another writer holds it.

    GridFS aborts a failed upload by deleting every chunk of its id, which would destroy a
    concurrent writer's blob of the same digest: hence one writer per digest.
    """
    locks = connection.database[LOCKS]  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    locks.delete_many({"_id": digest, "at": {"$lt": now - STALE_LOCK}})
    try:
        locks.insert_one({"_id": digest, "at": now})
    except DuplicateKeyError:
        yield False
        return
    try:
        yield True
    finally:
        locks.delete_one({"_id": digest})


def _read_full(source: BinaryIO, size: int) -> bytes:
    """Exactly `size` bytes unless the stream ends: GridFS chunks must all be full but the last."""
    parts = []
    wanted = size
    while wanted:
        data = source.read(wanted)
        if not data:
            break
        parts.append(data)
        wanted -= len(data)
    return b"".join(parts)


_indexed: set[str] = set()


def _ensure_indexes() -> None:
    # GridFS readers look chunks up by (files_id, n); created once per process.
    alias = connection.alias
    if alias not in _indexed:
        database = connection.database  # type: ignore[attr-defined]
        database[f"{BUCKET}.chunks"].create_index([("files_id", 1), ("n", 1)], unique=True)
        database[f"{BUCKET}.files"].create_index([("filename", 1), ("uploadDate", 1)])
        _indexed.add(alias)


def _upload(digest: str, source: BinaryIO, filename: str) -> bool:
    """Write the GridFS chunks and then the files document, hashing as the bytes stream by.

    Written here rather than with pymongo's GridIn: that one probes the chunks collection on
    every upload (a full scan on the embedded store) and batches up to 48 MB in memory."""
    connection.ensure_connection()
    _ensure_indexes()
    database = connection.database  # type: ignore[attr-defined]
    chunks = database[f"{BUCKET}.chunks"]
    hasher = hashlib.sha256()
    batch: list[dict[str, object]] = []
    number = length = 0
    try:
        while data := _read_full(source, CHUNK):
            hasher.update(data)
            batch.append({"files_id": digest, "n": number, "data": Binary(data)})
            number += 1
            length += len(data)
            if len(batch) >= BATCH_CHUNKS:
                chunks.insert_many(batch, ordered=True)
                batch = []
        if batch:
            chunks.insert_many(batch, ordered=True)
        if hasher.hexdigest() != digest:
            raise BlobIntegrityError(f"blob stored as {digest} hashed to {hasher.hexdigest()}")
        database[f"{BUCKET}.files"].insert_one(
            {
                "_id": digest,
                "length": length,
                "chunkSize": CHUNK,
                "uploadDate": datetime.now(UTC),
                "filename": filename or digest,
                "metadata": {"sha256": digest},
            }
        )
    except BaseException:
        chunks.delete_many({"files_id": digest})
        raise
    return True


def _gridfs_orphans(*, referenced: set[str], cutoff: datetime) -> list[str]:
    connection.ensure_connection()
    files = connection.database[f"{BUCKET}.files"]  # type: ignore[attr-defined]
    return [
        str(d["_id"]) for d in files.find({"uploadDate": {"$lt": cutoff}}, {"_id": 1}) if d["_id"] not in referenced
    ]
