"""The catalogue's in-process index: it refetches just the packages a write names, rebuilds when
it cannot tell what changed, and an older index keeps answering its own consistent view."""

from __future__ import annotations

import pytest

from marketplace.repository import catalogue, catalogue_stamp, selectors, services
from marketplace.repository.models import Package
from tests.factories import package_row

pytestmark = pytest.mark.django_db


def describe(package: Package, text: str) -> None:
    """The uploader edits the description (the service re-indexes the search words and saves)."""
    services.package_metadata_update(package=package, actor=package.uploader, changes={"description": text})


def matches(q: str) -> list[str]:
    return [p.name for p in selectors.package_search(selectors.PackageQuery(q=q, sort="name")).items]


def test_it_refetches_only_the_package_a_save_names():
    rows = [package_row(name) for name in ("alpha", "bravo", "charlie")]
    before = catalogue.catalogue_index()
    describe(rows[1], "now a firewall")
    after = catalogue.catalogue_index()
    assert after is not before
    assert after.ids is before.ids
    assert len(after) == 3
    assert len(after.ids) == 4
    assert matches("firewall") == ["bravo"]
    assert catalogue.catalogue_index() is after  # nothing changed since: no work


def test_an_older_index_keeps_its_own_view():
    row = package_row("alpha")
    before = catalogue.catalogue_index()
    describe(row, "router")
    package_row("bravo", description="router")
    catalogue.catalogue_index()
    old_view = catalogue.catalogue_match(
        before, tokens=["router"], tags=[], equal={}, states=None, exclude_states=set(), ranges={}, sort=(("name", 1),)
    )
    assert old_view == []
    assert matches("router") == ["alpha", "bravo"]


def test_it_rebuilds_when_it_fell_further_behind_than_the_stamp_remembers(monkeypatch):
    monkeypatch.setattr(catalogue_stamp, "RECENT", 2)
    package_row("alpha")
    before = catalogue.catalogue_index()
    for name in ("bravo", "charlie", "delta"):
        package_row(name)
    after = catalogue.catalogue_index()
    assert after.ids is not before.ids
    assert len(after.ids) == 4


def test_it_rebuilds_after_a_change_it_cannot_name():
    package_row("alpha")
    before = catalogue.catalogue_index()
    Package.objects.bulk_create([])  # nothing created: nothing to name, nothing to do
    assert catalogue.catalogue_index() is before
    catalogue_stamp.catalogue_changed(None)
    assert catalogue.catalogue_index().ids is not before.ids


def test_a_queryset_update_and_delete_name_their_packages():
    rows = [package_row(name) for name in ("alpha", "bravo")]
    before = catalogue.catalogue_index()
    Package.objects.filter(pk=rows[0].pk).update(state="published")
    assert [p.name for p in selectors.package_search(selectors.PackageQuery(state="published")).items] == ["alpha"]
    assert catalogue.catalogue_index().ids is before.ids
    Package.objects.filter(pk=rows[1].pk).delete()
    assert matches("") == ["alpha"]
    assert catalogue.catalogue_index().ids is before.ids
