"""What the indexer derives from our contracts' events. Each handler folds one event into the
derived records; `projections.rebuild` replays all events after a reorg."""

from __future__ import annotations

from ledger.indexer import Projections

projections = Projections()
