"""The two blob stores keep one contract: content-addressed, stored once, verified on the way in,
never half-visible, swept when nothing refers to them."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from datetime import timedelta

import pytest

from marketplace.repository import blobs
from marketplace.repository.packages.build import build
from marketplace.repository.services import DEMO_DIR, blobs_sweep, package_ingest
from tests.factories import new_account

pytestmark = pytest.mark.django_db

CONTENT = os.urandom(3 * blobs.CHUNK + 12345)  # several chunks and a short last one
DIGEST = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture(params=["files", "gridfs"])
def store(request, settings, tmp_path):
    settings.BLOB_STORE = request.param
    settings.BLOB_DIR = tmp_path / "blobs"
    return request.param


def read(digest: str) -> bytes:
    with blobs.blob_open(digest) as blob:
        return blob.read()


def test_a_blob_is_stored_once_and_reads_back_seekable(store):
    assert blobs.blob_put(digest=DIGEST, source=io.BytesIO(CONTENT)) is True
    assert blobs.blob_put(digest=DIGEST, source=io.BytesIO(CONTENT)) is False

    assert blobs.blob_exists(DIGEST)
    assert blobs.blob_digests() == [DIGEST]
    with blobs.blob_open(DIGEST) as blob:
        blob.seek(blobs.CHUNK + 7)
        assert blob.read(10) == CONTENT[blobs.CHUNK + 7 : blobs.CHUNK + 17]
    assert read(DIGEST) == CONTENT


def test_bytes_that_do_not_hash_to_the_digest_store_nothing(store, settings):
    with pytest.raises(blobs.BlobIntegrityError, match="hashed to"):
        blobs.blob_put(digest="0" * 64, source=io.BytesIO(CONTENT))

    assert blobs.blob_digests() == []
    assert not blobs.blob_exists("0" * 64)
    if store == "files":
        assert list((settings.BLOB_DIR / blobs.INCOMING).iterdir()) == []


def test_a_digest_that_is_not_hex_names_no_path(store):
    for bad in ("../../etc/passwd", "A" * 64, "0" * 63):
        with pytest.raises(ValueError, match="not a SHA-256 digest"):
            blobs.blob_put(digest=bad, source=io.BytesIO(b"x"))


def test_a_missing_blob_is_named(store):
    with pytest.raises(blobs.BlobMissing, match=DIGEST):
        blobs.blob_open(DIGEST)


def test_a_spooled_file_is_adopted_and_outlives_its_spool_name(store, tmp_path):
    spooled = tmp_path / "upload-1"
    spooled.write_bytes(CONTENT)

    assert blobs.blob_adopt(digest=DIGEST, path=spooled) is True
    spooled.unlink()  # what the ingest does with its spool afterwards

    assert read(DIGEST) == CONTENT
    again = tmp_path / "upload-2"
    again.write_bytes(CONTENT)
    assert blobs.blob_adopt(digest=DIGEST, path=again) is False


def test_concurrent_writers_of_one_content_store_it_once_and_whole(store):
    results: list[object] = []

    def write() -> None:
        from django.db import connection

        try:
            results.append(blobs.blob_put(digest=DIGEST, source=io.BytesIO(CONTENT)))
        except blobs.BlobBusy as busy:
            results.append(busy)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count(True) == 1, results
    # The file store needs no lock (the link is atomic); GridFS tells the others to retry.
    assert all(r is False or r is True or isinstance(r, blobs.BlobBusy) for r in results)
    if store == "files":
        assert results.count(False) == 5
    assert read(DIGEST) == CONTENT


def test_the_sweep_removes_unreferenced_blobs_once_old_enough(store):
    blobs.blob_put(digest=DIGEST, source=io.BytesIO(CONTENT))

    # GridFS cannot tell a young blob's ingest is dead; the file store can (no live writer holds it).
    young = blobs.blob_orphans(referenced=set(), older_than=timedelta(hours=1))
    assert young == ([DIGEST] if store == "files" else [])
    assert blobs.blob_orphans(referenced={DIGEST}, older_than=timedelta(seconds=-1)) == []
    assert blobs.blob_orphans(referenced=set(), older_than=timedelta(seconds=-1)) == [DIGEST]
    blobs.blob_delete(DIGEST)
    blobs.blob_delete(DIGEST)  # twice is harmless
    assert not blobs.blob_exists(DIGEST)


def test_an_ingest_stores_its_archive_once_on_either_store(store, tmp_path):
    developer = new_account()
    archive = build(DEMO_DIR / "osm" / "nfvm_demo_amf_vnf", "osm", tmp_path / "amf.tar.gz")
    with archive.open("rb") as source:
        first = package_ingest(source=source, uploader=developer.address)
    with archive.open("rb") as source:
        second = package_ingest(source=source, uploader=developer.address)

    assert first.created
    assert not second.created
    assert blobs.blob_digests() == [first.package.digest]
    assert read(first.package.digest) == archive.read_bytes()


def test_a_stored_file_blob_is_read_only(settings, tmp_path):
    settings.BLOB_STORE = "files"
    settings.BLOB_DIR = tmp_path / "blobs"
    blobs.blob_put(digest=DIGEST, source=io.BytesIO(CONTENT))

    path = settings.BLOB_DIR / "sha256" / DIGEST[:2] / DIGEST
    assert path.stat().st_mode & 0o777 == 0o444


def test_what_a_killed_write_or_upload_left_is_swept_unless_its_writer_lives(settings, tmp_path):
    import fcntl

    settings.BLOB_STORE = "files"
    settings.BLOB_DIR = tmp_path / "blobs"
    settings.UPLOAD_TMP_DIR = tmp_path / "tmp"
    settings.UPLOAD_TMP_DIR.mkdir()
    (settings.BLOB_DIR / blobs.INCOMING).mkdir(parents=True)
    half_blob = settings.BLOB_DIR / blobs.INCOMING / "blob-killed"
    half_blob.write_bytes(CONTENT[:100])
    half_upload = settings.UPLOAD_TMP_DIR / "upload-killed"
    half_upload.write_bytes(CONTENT[:100])
    live_upload = settings.UPLOAD_TMP_DIR / "upload-live"
    live_upload.write_bytes(CONTENT[:100])

    with live_upload.open("rb") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)  # as a live ingest holds its spool
        blobs_sweep(older_than=timedelta(hours=1))
        assert live_upload.exists()

    assert not half_blob.exists()  # nobody holds them: their writers died
    assert not half_upload.exists()
    blobs_sweep(older_than=timedelta(hours=1))
    assert not live_upload.exists()  # its writer is gone now


def test_an_unreferenced_blob_is_kept_while_its_ingest_holds_it(settings, tmp_path):
    import fcntl

    settings.BLOB_STORE = "files"
    settings.BLOB_DIR = tmp_path / "blobs"
    spooled = tmp_path / "upload-1"
    spooled.write_bytes(CONTENT)
    with spooled.open("rb") as ingest:
        fcntl.flock(ingest.fileno(), fcntl.LOCK_EX)
        blobs.blob_adopt(digest=DIGEST, path=spooled)
        # Between the blob write and the commit: not an orphan while its ingest lives.
        assert blobs.blob_orphans(referenced=set(), older_than=timedelta(hours=1)) == []
    assert blobs.blob_orphans(referenced=set(), older_than=timedelta(hours=1)) == [DIGEST]
