"""Template filters of the portal: presentation only."""

from __future__ import annotations

import dataclasses
import re

from django import template
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from marketplace.licensing.selectors import TimelineEntry
from marketplace.repository.presenters import ether as ether_text

register = template.Library()


@register.filter
def ether(wei: int | str) -> str:
    """`{{ offer.price|ether }}`: a wei amount as "0.01 ETH", "free" for zero."""
    try:
        amount = int(wei)
    except (TypeError, ValueError):
        return ""
    return "free" if amount == 0 else f"{ether_text(amount)} ETH"


_HEX_RUN = re.compile(r"\b[0-9a-f]{32,128}\b")


@register.filter
def hashes_marked(message: str) -> SafeString:
    """A problem's text with its hashes' differing characters marked: `{{ p.message|hashes_marked }}`.

    Each hash is compared with the last hash of the same length in the text (a mismatch says "declared
    X, actual Y"; a conflict lists the declarations, then the actual hash), and the characters where they
    differ are wrapped in <mark>. Everything else is escaped."""
    text = str(message)
    found = list(_HEX_RUN.finditer(text))
    last: dict[int, int] = {len(m.group()): i for i, m in enumerate(found)}  # the reference of each length
    out: list[str] = []
    at = 0
    for i, match in enumerate(found):
        value = match.group()
        reference = found[last[len(value)]].group()
        if i == last[len(value)]:  # the reference itself: against the first hash that differs from it
            reference = next((m.group() for m in found if len(m.group()) == len(value) and m.group() != value), value)
        out.append(str(escape(text[at : match.start()])))
        out.append("".join(f"<mark>{c}</mark>" if c != r else c for c, r in zip(value, reference, strict=True)))
        at = match.end()
    out.append(str(escape(text[at:])))
    return mark_safe("".join(out))  # noqa: S308  (every piece of the text is escaped; <mark> is ours)


# A page of the log renders 50 items of the same shape; the same item is shown again and again (first and last
# pages, each visitor). The rendered item is kept under everything it shows, so an item renders once per
# content (Russian-doll caching), and a changed anchoring state, subject name or even an edited row shows anew.
_EVENTS_KEPT = 20_000
_events: dict[tuple[object, ...], SafeString] = {}
_SHOWN = tuple(f.name for f in dataclasses.fields(TimelineEntry) if f.name != "anchor")


@register.simple_tag
def timeline_event(entry: TimelineEntry) -> SafeString:
    key = (*(getattr(entry, name) for name in _SHOWN), tuple(sorted((entry.anchor or {}).items())))
    html = _events.get(key)
    if html is None:
        html = mark_safe(render_to_string("dportal/timeline_event.html", {"e": entry}))  # noqa: S308 - a template's output
        if len(_events) >= _EVENTS_KEPT:
            _events.clear()
        _events[key] = html
    return html
