"""An in-memory PackageView for the format validators' tests, built from folders and archives."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path
from typing import BinaryIO

from marketplace.repository.packages.problems import PackageRejected, Problem


class MemoryView:
    """A PackageView over a dict of files, which also counts how it is read."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.reads: list[str] = []
        self.opened: list[str] = []

    @property
    def paths(self) -> list[str]:
        return list(self.files)

    def size(self, path: str) -> int:
        return len(self.files[path])

    def read(self, path: str, max_bytes: int = 4 * 1024 * 1024) -> bytes:
        self.reads.append(path)
        if len(self.files[path]) > max_bytes:
            raise PackageRejected([Problem("archive.too-large", "too large", file=path)])
        return self.files[path]

    def open(self, path: str) -> BinaryIO:
        self.opened.append(path)
        return io.BytesIO(self.files[path])


def folder_view(folder: Path, *, top: str | None = None) -> MemoryView:
    """The folder's files; under one top folder `top` when given (as OSM packs a folder)."""
    prefix = f"{top}/" if top else ""
    return MemoryView(
        {prefix + p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    )


def zip_view(archive: Path) -> MemoryView:
    with zipfile.ZipFile(archive) as z:
        return MemoryView({i.filename: z.read(i) for i in z.infolist() if not i.is_dir()})


def tar_view(archive: Path) -> MemoryView:
    files: dict[str, bytes] = {}
    with tarfile.open(archive, "r:gz") as t:
        for member in t.getmembers():
            stream = t.extractfile(member) if member.isfile() else None
            if stream is not None:
                files[member.name] = stream.read()
    return MemoryView(files)
