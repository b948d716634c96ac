"""The shapes every package format produces, so the ingest service treats all formats alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from marketplace.repository.packages.problems import Problem

Kind = Literal["vnf", "ns"]
Format = Literal["etsi", "osm", "5gtango"]


class PackageView(Protocol):
    """Read access to the files of an archive that already passed the archive safety checks."""

    @property
    def paths(self) -> list[str]:
        """Every regular file, as a normalised relative POSIX path, in archive order."""
        ...

    def size(self, path: str) -> int: ...

    def read(self, path: str, max_bytes: int = 4 * 1024 * 1024) -> bytes:
        """The whole file; raises PackageRejected when it is larger than `max_bytes`."""
        ...


@dataclass(frozen=True)
class VnfRef:
    """How an NSD names a constituent VNFD. Formats name them differently: by descriptor id
    (SOL006, SOL001) or by vendor/name/version (5GTANGO)."""

    descriptor_id: str | None = None
    vendor: str | None = None
    name: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        if self.vendor or self.name:
            return f"{self.vendor}/{self.name}/{self.version}"
        return str(self.descriptor_id)


@dataclass
class DescriptorSummary:
    """The normalised, queryable summary of one VNFD or NSD."""

    kind: Kind
    descriptor_id: str
    vendor: str
    name: str
    version: str
    description: str = ""
    # Totals over all VDUs, one instance each (the smallest deployment).
    vcpus: int = 0
    memory_mb: int = 0
    storage_gb: float = 0.0
    images: list[str] = field(default_factory=list)
    connection_points: list[str] = field(default_factory=list)  # external CPs (VNF) or SAPs (NS)
    virtual_links: list[str] = field(default_factory=list)
    constituent_vnfs: list[VnfRef] = field(default_factory=list)  # NS only


@dataclass
class ParsedDescriptor:
    file: str  # path inside the package
    document: dict[str, Any]  # the descriptor as parsed, JSON-compatible
    summary: DescriptorSummary


@dataclass(frozen=True)
class PackageInfo:
    vendor: str
    name: str
    version: str
    kind: Kind  # "ns" when the package holds an NSD, else "vnf"
    description: str = ""
    main_descriptor: str = ""  # path of the descriptor whose digest is anchored on chain


@dataclass
class FormatResult:
    """What a format's validator found. `info` is None when the package is too broken to name."""

    info: PackageInfo | None
    descriptors: list[ParsedDescriptor]
    problems: list[Problem]


# Finds a VNFD that is not in the package (already in the repository), or None.
VnfdLookup = Callable[[VnfRef], ParsedDescriptor | None]


@dataclass(frozen=True)
class Claimed:
    """What an archive says it is, for the verifier."""

    info: PackageInfo | None
    descriptor_digest: str | None  # hex SHA-256 of the main descriptor; None when it could not be read
    problems: list[Problem]
