from __future__ import annotations

from django.apps import AppConfig


class DportalConfig(AppConfig):
    name = "dportal"
    verbose_name = "dPortal"
