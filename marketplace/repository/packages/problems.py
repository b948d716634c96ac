"""What a check found wrong in a package: which file, where in it, which rule, how bad."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"  # the package is rejected
    WARNING = "warning"  # accepted, but shown to the developer (e.g. a weak hash algorithm)


@dataclass(frozen=True)
class Problem:
    """One finding. `file` is the path inside the package ("" for the archive as a whole);
    `location` is a line ("line 12"), a JSON pointer ("/vdu/0/id") or an entry name;
    `rule` is a stable identifier tests and clients can match (e.g. "archive.path-traversal")."""

    rule: str
    message: str
    file: str = ""
    location: str = ""
    severity: Severity = Severity.ERROR

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    def __str__(self) -> str:
        where = self.file or "package"
        if self.location:
            where += f" ({self.location})"
        return f"{self.severity}: {where}: {self.message} [{self.rule}]"


class PackageRejected(Exception):
    """The package cannot be accepted; `problems` lists every reason found (errors first)."""

    def __init__(self, problems: list[Problem], *, info: Any = None) -> None:
        self.problems = sorted(problems, key=lambda p: p.severity != Severity.ERROR)
        # What the package says it is (a PackageInfo), when its descriptors could be read at all.
        self.info = info
        super().__init__("; ".join(str(p) for p in self.problems[:5]))


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == Severity.ERROR]
