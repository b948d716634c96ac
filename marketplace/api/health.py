"""/healthz: 200 when the database, chain and contracts are usable; 503 naming what is not."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from marketplace.status import system_status


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    status = system_status()
    return JsonResponse(status.as_dict(), status=200 if status.ok else 503)
