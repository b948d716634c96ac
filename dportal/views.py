"""dPortal pages: parse input, call one service or selector, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from marketplace.selectors import system_status


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    status = system_status()
    template = "dportal/home.html#status" if getattr(request, "htmx", False) else "dportal/home.html"
    return render(request, template, {"status": status})
