from __future__ import annotations

from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "marketplace"
    verbose_name = "Smart NFV Marketplace"

    def ready(self) -> None:
        # The indexer folds registry events into the repository through these handlers.
        from marketplace.repository import projections  # noqa: F401

        # Saves and deletes of packages mark the catalogue's search index stale.
        from marketplace.repository.catalogue import connect_signals

        connect_signals()
