"""The marketplace's routes: the portal (dportal/urls.py), the JSON API on django-ninja with its generated
document at /api/schema (marketplace/api/app.py), and the SOL005 read endpoints."""

from __future__ import annotations

from django.urls import include, path

from marketplace.api import sol005
from marketplace.api.app import api
from marketplace.api.health import healthz, livez

urlpatterns = [
    path("", include("dportal.urls")),
    path("healthz", healthz, name="healthz"),
    path("livez", livez, name="livez"),
    path("api/", api.urls),
    # ETSI NFV-SOL 005 reads for orchestrators (VNF package and NSD management).
    path("vnfpkgm/v1/", include(sol005.vnfpkgm_urls)),
    path("nsd/v1/", include(sol005.nsd_urls)),
]
