"""A stored descriptor as readable sections for its portal page: one per top-level key, each as
YAML, so the page can fold them (`<details>`). The template escapes the text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Section:
    title: str
    text: str


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False).rstrip()


def descriptor_sections(document: Any) -> list[Section]:
    """The document's top-level sections. A document that wraps everything in one key (OSM's
    `vnfd:` or `nsd: nsd: [one]`) is opened one level down, so its real sections fold separately."""
    body, prefix = document, ""
    for _ in range(3):
        if isinstance(body, dict) and len(body) == 1:
            ((key, value),) = body.items()
            if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
                value = value[0]
            if not isinstance(value, dict):
                break
            body, prefix = value, f"{prefix}{key} / "
        else:
            break
    if not isinstance(body, dict):
        return [Section("document", _dump(document))]
    return [Section(f"{prefix}{key}", _dump({key: value})) for key, value in body.items()]
