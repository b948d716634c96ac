"""Template context every portal page gets."""

from __future__ import annotations

from django.http import HttpRequest

from dportal.access import signed_in_address


def portal(request: HttpRequest) -> dict[str, object]:
    return {"signed_in_address": signed_in_address(request)}
