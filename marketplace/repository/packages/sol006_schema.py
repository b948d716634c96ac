"""The ETSI SOL006 YANG-derived JSON schemas of OSM descriptors, and the reading helpers the OSM checks
share: entries, scalar leaves, ids and the checker that collects problems.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from marketplace.repository.packages import values
from marketplace.repository.packages.problems import Problem, Severity
from marketplace.repository.packages.types import (
    Kind,
)

_SCHEMA_DIR = Path(__file__).with_name("schemas") / "sol006"


VNFD_KEYS = ("vnfd", "etsi-nfv-vnfd:vnfd")


NSD_KEYS = ("nsd", "etsi-nfv-nsd:nsd")


# OSM before release NINE wrote its own information model under these keys; it is not SOL006.
LEGACY_KEYS = ("vnfd:vnfd-catalog", "vnfd-catalog", "nsd:nsd-catalog", "nsd-catalog")


_MAX_SCHEMA_PROBLEMS = 50


# OSM attaches a virtual link with any of these to a network that exists outside the NS.
EXTERNAL_VL_KEYS = ("mgmt-network", "vim-network-name", "vim-network-id")


Json = dict[str, Any]


@cache
def _schema(kind: Kind) -> Json:
    loaded: Json = json.loads((_SCHEMA_DIR / f"{kind}d.json").read_text(encoding="utf-8"))
    return loaded


@cache
def _validator(kind: Kind) -> Draft202012Validator:
    return Draft202012Validator(_schema(kind))


def schema_problems(kind: Kind, document: Any, file: str) -> list[Problem]:
    """Every way `document` breaks the SOL006 schema of `kind`, each at its JSON pointer."""
    found = sorted(_validator(kind).iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [
        Problem("syntax.schema", _schema_message(e), file=file, location=values.pointer(*e.absolute_path) or "/")
        for e in found[:_MAX_SCHEMA_PROBLEMS]
    ]
    if len(found) > _MAX_SCHEMA_PROBLEMS:
        problems.append(
            Problem("syntax.schema", f"{len(found) - _MAX_SCHEMA_PROBLEMS} more schema errors not shown", file=file)
        )
    return problems


def _schema_message(error: Any) -> str:
    if error.validator == "not" and isinstance(error.instance, dict):
        # The schema writes a YANG choice as "not two of these at once"; say that instead of dumping it.
        names = sorted(set(_required_names(error.validator_value)) & set(error.instance))
        return f"{' and '.join(names)} are alternatives (a YANG choice); give only one"
    return str(error.message)


def _required_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "required" and isinstance(value, list):
                yield from (str(v) for v in value)
            else:
                yield from _required_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _required_names(item)


def entries(node: Any, key: str) -> list[tuple[int, Json]]:
    """The mapping entries of the list `key` of `node`, with their indexes; junk is skipped."""
    value = node.get(key) if isinstance(node, dict) else None
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def scalars(node: Any, key: str) -> list[tuple[int, str]]:
    value = node.get(key) if isinstance(node, dict) else None
    if not isinstance(value, list):
        return []
    return [(i, values.text(item)) for i, item in enumerate(value) if _is_scalar(item)]


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def leaf_text(node: Any, key: str) -> str | None:
    value = node.get(key) if isinstance(node, dict) else None
    return values.text(value) if _is_scalar(value) else None


def ids(node: Any, key: str, leaf: str = "id") -> set[str]:
    return {v for _, e in entries(node, key) if (v := leaf_text(e, leaf)) is not None}


@dataclass
class Found:
    file: str
    kind: Kind
    key: str  # the top-level key the descriptor sits under
    document: Json

    @property
    def bodies(self) -> list[tuple[str, Json]]:
        """(pointer, body) of each VNFD or NSD the document holds."""
        body = self.document.get(self.key)
        if self.kind == "vnf":
            return [(values.pointer(self.key), body)] if isinstance(body, dict) else []
        return [(values.pointer(self.key, "nsd", i), nsd) for i, nsd in entries(body, "nsd")]


class Checker:
    """Collects problems for one descriptor file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, rule: str, message: str, location: str, severity: Severity = Severity.ERROR) -> None:
        self.problems.append(Problem(rule, message, file=self.file, location=location, severity=severity))

    def ref(self, known: set[str], value: str | None, what: str, owner: str, location: str) -> bool:
        """Report `value` unless it names one of `known`; True when it resolves (or is absent)."""
        if value is None or value in known:
            return True
        self.add("integrity.unresolved-ref", f"{owner} names {what} {value!r}, which is not defined", location)
        return False


def check_keys(checker: Checker, kind: Kind, document: Json) -> None:
    """Duplicate keys in every YANG list, found by walking the document along its schema."""
    defs: Json = _schema(kind).get("$defs", {})

    def walk(node: Any, value: Any, where: tuple[object, ...]) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            walk(defs.get(str(node["$ref"]).rsplit("/", 1)[-1]), value, where)
        for sub in node.get("allOf", []):
            walk(sub, value, where)
        if isinstance(value, dict):
            for name, sub in node.get("properties", {}).items():
                if name in value:
                    walk(sub, value[name], (*where, name))
        elif isinstance(value, list) and "items" in node:
            key = node.get("x-yang-key")
            seen: dict[tuple[str, ...], int] = {}
            for i, item in enumerate(value):
                if key and isinstance(item, dict) and all(_is_scalar(item.get(k)) for k in key):
                    ident = tuple(values.text(item[k]) for k in key)
                    if ident in seen:
                        shown = ident[0] if len(ident) == 1 else str(ident)
                        checker.add(
                            "integrity.duplicate-id",
                            f"{where[-1]} {'+'.join(key)} {shown!r} appears twice "
                            f"(first at {values.pointer(*where, seen[ident])})",
                            values.pointer(*where, i, key[0]),
                        )
                    else:
                        seen[ident] = i
                walk(node["items"], item, (*where, i))

    walk(_schema(kind), document, ())
