"""Reading 5GTANGO descriptors: their entries, ids and strings as the schema types them, duplicate ids,
version constraints and links that point nowhere.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import Any

from marketplace.repository.packages import yamlsafe
from marketplace.repository.packages.problems import PackageRejected, Problem
from marketplace.repository.packages.tango_schema import short
from marketplace.repository.packages.types import (
    PackageView,
)

VERSION_CONSTRAINT = re.compile(r"^(==|>=|<=|!=) (.+)$")


def load(view: PackageView, path: str, problems: list[Problem]) -> tuple[bool, Any]:
    """(True, document) or (False, None) with the reasons added to `problems`."""
    try:
        return True, yamlsafe.load(view.read(path), file=path)
    except PackageRejected as rejected:
        problems.extend(rejected.problems)
        return False, None


def package_path(source: str) -> str:
    return posixpath.normpath(source.lstrip("/"))


def entries(document: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    """The (index, entry) pairs of a list of mappings; anything else was already reported by the schema."""
    value = document.get(key)
    if not isinstance(value, list):
        return []
    return [(i, entry) for i, entry in enumerate(value) if isinstance(entry, dict)]


def string(value: object) -> str:
    """A JSON string as itself, anything else as "" (5GTANGO's schema types its fields strictly)."""
    return value if isinstance(value, str) else ""


def ids(entries: Iterable[tuple[int, dict[str, Any]]]) -> list[tuple[int, str]]:
    return [(i, entry["id"]) for i, entry in entries if isinstance(entry.get("id"), str)]


def duplicates(ids: Iterable[tuple[str, str]], what: str, file: str) -> list[Problem]:
    """One problem per repeated id (given as (id, pointer of its "id" field)), at the repetition."""
    first: dict[str, str] = {}
    problems = []
    for ident, pointer in ids:
        if ident in first:
            problems.append(
                Problem(
                    "integrity.duplicate-id",
                    f"{what} id {ident!r} is used more than once (first at {first[ident]})",
                    file=file,
                    location=pointer,
                )
            )
        else:
            first[ident] = pointer
    return problems


def add_unique(values: list[str], value: object) -> None:
    if isinstance(value, str) and value and value not in values:
        values.append(value)


def descriptor_id(document: dict[str, Any]) -> str:
    own = document.get("id")
    if isinstance(own, str) and own:
        return own
    return f"{string(document.get('vendor'))}/{string(document.get('name'))}/{string(document.get('version'))}"


def dangling(link: dict[str, Any], endpoints: set[str], pointer: str, file: str) -> list[Problem]:
    if len(endpoints) >= 2:
        return []
    return [
        Problem(
            "topology.dangling-link",
            f"virtual link {short(link.get('id'))} joins {len(endpoints)} connection point(s); a link needs two",
            file=file,
            location=f"{pointer}/connection_points_reference",
        )
    ]
