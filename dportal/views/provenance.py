"""Provenance: the usage timeline, its charts, and a package's or a licence's history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dportal import charts
from dportal.access import signed_in_address
from dportal.views.base import chain_id, chain_now, chain_time_meanwhile, is_htmx, page_number
from marketplace.licensing import selectors as licence_selectors
from marketplace.lookups import package_or_404


def _timeline_page(
    request: HttpRequest, template_context: dict[str, Any], timeline: licence_selectors.Timeline
) -> HttpResponse:
    context = {**template_context, "timeline": timeline}
    if is_htmx(request):
        return render(request, "dportal/provenance.html#timeline", context)
    return render(request, "dportal/provenance.html", context)


def _charts(chain_id: int, now: int, *, offer_ids: list[int] | None, ns_ids: list[str] | None) -> dict[str, Any]:

    today = datetime.fromtimestamp(now, UTC).date()
    return {
        "sales_chart": charts.sales_chart(
            licence_selectors.sales_per_day(chain_id=chain_id, today=today, offer_ids=offer_ids)
        ),
        "instances_chart": charts.instances_chart(licence_selectors.instances_per_day(today=today, ns_ids=ns_ids)),
        "seats_chart": charts.seats_chart(
            licence_selectors.seats_per_licence(chain_id=chain_id, now=now, offer_ids=offer_ids)
        ),
    }


def _charted_page(
    request: HttpRequest,
    context: dict[str, Any],
    charts: Callable[[], dict[str, Any]],
    timeline: Callable[[], licence_selectors.Timeline],
) -> HttpResponse:
    """A timeline page and its charts. The charts aggregate the whole log, so a page of events never waits for
    them: the page loads them after the timeline (htmx, `?charts=1`), and a browser without JavaScript follows
    the page's link to `?charts=1`, which shows both at once."""
    if request.GET.get("charts") != "1":
        page = page_number(request)
        charts_url = f"{context['base_url']}?charts=1" + (f"&page={page}" if page > 1 else "")
        return _timeline_page(request, {**context, "charts_url": charts_url}, timeline())
    context.update(charts())
    if is_htmx(request):
        return render(request, "dportal/provenance.html#charts", context)
    return _timeline_page(request, context, timeline())


@require_GET
def provenance(request: HttpRequest) -> HttpResponse:
    chain = chain_id(reading=True)
    return _charted_page(
        request,
        {"scope": "all", "base_url": reverse("provenance")},
        lambda: _charts(*chain_now(reading=True), offer_ids=None, ns_ids=None),
        lambda: licence_selectors.provenance_timeline(
            chain_id=chain, page=page_number(request), viewer=signed_in_address(request)
        ),
    )


@require_GET
def package_provenance(request: HttpRequest, package_id: str) -> HttpResponse:
    package = package_or_404(package_id, viewer=signed_in_address(request))
    chain = chain_id(reading=True)

    def package_charts() -> dict[str, Any]:
        offer_ids = licence_selectors.package_offer_ids(package=package, chain_id=chain)
        ns_ids = licence_selectors.package_ns_ids(package=package)
        return _charts(*chain_now(reading=True), offer_ids=offer_ids, ns_ids=ns_ids)

    return _charted_page(
        request,
        {"scope": "package", "package": package, "base_url": reverse("package-provenance", args=[package_id])},
        package_charts,
        lambda: licence_selectors.package_timeline(
            package=package, chain_id=chain, page=page_number(request), viewer=signed_in_address(request)
        ),
    )


@require_GET
def licence_provenance(request: HttpRequest, licence_id: int) -> HttpResponse:
    chain, now = chain_id(reading=True), chain_time_meanwhile()  # the node answers while the database does
    view = licence_selectors.licence_view(licence_id=licence_id, chain_id=chain, now=now, details=False)
    if view is None:
        raise Http404("no such licence")
    timeline = licence_selectors.licence_timeline(
        licence=view.licence, page=page_number(request), viewer=signed_in_address(request), package=view.package
    )
    context: dict[str, Any] = {
        "scope": "licence",
        "lic": view,
        "base_url": reverse("licence-provenance", args=[licence_id]),
    }
    return _timeline_page(request, context, timeline)
