"""Search tokens: the embedded store has no text indexes, so text search matches normalised
words (and their prefixes, for search-as-you-type) stored in an indexed array field."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_WORD = re.compile(r"[a-z0-9]+")
MIN_PREFIX = 2
MAX_TOKEN = 32
MAX_TOKENS = 600


def words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return [w[:MAX_TOKEN] for w in _WORD.findall(folded)]


def index_tokens(texts: Iterable[str]) -> list[str]:
    """Every word of `texts` and each of its prefixes of at least two characters."""
    tokens: dict[str, None] = {}
    for text in texts:
        for word in words(text):
            for end in range(min(MIN_PREFIX, len(word)), len(word) + 1):
                tokens.setdefault(word[:end], None)
                if len(tokens) >= MAX_TOKENS:
                    return list(tokens)
    return list(tokens)


def query_tokens(query: str) -> list[str]:
    """The words a query must all match (each against the stored words and prefixes)."""
    return list(dict.fromkeys(w for w in words(query) if w))
