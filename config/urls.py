from __future__ import annotations

from django.contrib import admin
from django.urls import path

from dportal import views as portal
from marketplace import apis

urlpatterns = [
    path("", portal.home, name="home"),
    path("healthz", apis.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
