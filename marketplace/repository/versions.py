"""Orders package versions of one vendor/name line ("0.9" < "0.10" < "1.0-rc1" < "1.0")."""

from __future__ import annotations

import re

_SPLIT = re.compile(r"[.\-+_]")


def version_key(version: str) -> str:
    """A string whose lexical order is the version order: numbers compare as numbers, and a
    pre-release ("1.0-rc1") sorts before its release ("1.0")."""
    release, _, pre = version.strip().partition("-")
    parts = []
    for part in _SPLIT.split(release):
        parts.append(f"n{int(part):012d}" if part.isdigit() else f"s{part.lower()[:24]}")
    key = ".".join(parts)
    # Both end marks sort below "." (so "1.0" < "1.0.1"), and "!" below "#" (so "1.0-rc1" < "1.0").
    return f"{key}!{pre.lower()[:32]}" if pre else f"{key}#"
