"""`.env.example` lists every variable the settings read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_variable_read_is_listed_in_env_example():
    read = set()
    for path in (ROOT / "config").glob("*.py"):
        read |= set(re.findall(r'env_[a-z]+\(\s*"([A-Z_]+)"', path.read_text()))
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), flags=re.M))
    assert read, "no variables found; did the env helpers move?"
    assert read - listed == set(), "variables read but missing from .env.example"
