"""Content-addressed blob store in GridFS: a blob's id is the SHA-256 of its bytes, so
identical content is stored once. Writes stream in chunks; nothing is held in memory."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import gridfs
from bson import Binary
from django.db import connection
from gridfs.errors import NoFile
from pymongo.errors import DuplicateKeyError

BUCKET = "blobs"
LOCKS = "blob_writes"
STALE_LOCK = timedelta(hours=1)
CHUNK = 1024 * 1024
BATCH_CHUNKS = 8  # chunks per insert: bounds the memory an upload holds, whatever its size


class BlobIntegrityError(Exception):
    """The bytes stored under a digest do not hash to it."""


class BlobBusy(Exception):
    """Another upload is writing the same content right now."""


def _bucket() -> gridfs.GridFSBucket:
    connection.ensure_connection()
    return gridfs.GridFSBucket(connection.database, bucket_name=BUCKET, chunk_size_bytes=CHUNK)  # type: ignore[attr-defined]


def blob_exists(digest: str) -> bool:
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


def blob_put(*, digest: str, source: BinaryIO, filename: str = "") -> bool:
    """Store `source` under `digest` unless already there; True when stored now.

    The bytes are hashed while they stream in; a mismatch deletes the partial blob.
    """
    with _writing(digest) as mine:
        if not mine:
            raise BlobBusy(f"blob {digest} is being written by another upload; retry")
        if blob_exists(digest):
            return False
        return _upload(digest, source, filename)


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


def blob_open(digest: str) -> gridfs.GridOut:
    """A seekable reader of the blob."""
    return _bucket().open_download_stream(digest)


def blob_delete(digest: str) -> None:
    with contextlib.suppress(NoFile):
        _bucket().delete(digest)


def blob_orphans(*, referenced: set[str], older_than: timedelta) -> list[str]:
    """Blobs no package refers to, stored more than `older_than` ago (an ingest still running
    between its blob write and its commit is younger than that)."""
    connection.ensure_connection()
    files = connection.database[f"{BUCKET}.files"]  # type: ignore[attr-defined]
    cutoff = datetime.now(UTC) - older_than
    return [
        str(d["_id"]) for d in files.find({"uploadDate": {"$lt": cutoff}}, {"_id": 1}) if d["_id"] not in referenced
    ]
