"""Small readings of descriptor values shared by the format validators and the descriptor facts: JSON
pointers to a value, YAML data as JSON data, and scalars as text or numbers."""

from __future__ import annotations

import datetime
from typing import Any


def pointer(*parts: object) -> str:
    """A JSON pointer (RFC 6901) from path components."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def plain(value: Any) -> Any:
    """The value as JSON data: YAML timestamps become ISO strings, mapping keys strings."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return value


def text(value: Any) -> str:
    """A scalar as text; "" for nothing, a mapping or a list."""
    return "" if value is None or isinstance(value, dict | list) else str(value)


def number(value: Any) -> float | None:
    """A number, or a string that reads as one; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def number_or(value: Any, default: float) -> float:
    found = number(value)
    return default if found is None else found
