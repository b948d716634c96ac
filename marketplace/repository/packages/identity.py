"""What a package says it is, read from as little of it as the verifier needs: the archive's listing and
the files that name it. Imports the package validators only once the archive opens, so `nfvm verify` of a
file that is no package never loads them (jsonschema, the descriptor schemas)."""

from __future__ import annotations

from typing import BinaryIO

from marketplace.repository.packages.archive import open_archive
from marketplace.repository.packages.archive_base import ArchiveLimits
from marketplace.repository.packages.problems import PackageRejected
from marketplace.repository.packages.types import Claimed


def package_identity(source: BinaryIO, *, limits: ArchiveLimits | None = None) -> Claimed:
    """What the archive in `source` (a seekable stream) says it is: vendor, name, version and its main
    descriptor's digest, with the problems that kept them from being read. A zip is read at its central
    directory and the entries that name it; a tar.gz in one pass, holding the YAML files an OSM package is
    named by (`sol006.validate_osm`) on the way."""
    try:
        archive = open_archive(source, limits, keep=_names_an_osm_package)
    except PackageRejected as exc:
        return Claimed(exc.info, None, exc.problems)
    from marketplace.repository.packages.inspect import archive_identity

    with archive:
        return archive_identity(archive)


def _names_an_osm_package(path: str, size: int) -> bool:
    """YAML right under the one top folder: the files `sol006.validate_osm` reads to name an OSM package."""
    return path.count("/") == 1 and path.lower().endswith((".yaml", ".yml"))
