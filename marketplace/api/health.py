"""/healthz: 200 when the database, chain and contracts are usable; 503 naming what is not. /livez: 200
while the process serves requests, whatever its dependencies (a load balancer's liveness probe, which must
not restart a server because the chain node is down; also the trivial view the entitlement benchmark
measures its floor with)."""

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


@require_GET
@never_cache
def livez(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})
