"""Package versions order as developers expect."""

from __future__ import annotations

import pytest

from marketplace.repository.versions import version_key

ORDERED = ["0.1", "0.9", "0.10", "1.0-alpha", "1.0-rc1", "1.0-rc2", "1.0", "1.0.1", "1.0.10", "1.1", "2", "10.0"]


def test_versions_sort_in_release_order():
    assert sorted(ORDERED, key=version_key) == ORDERED


@pytest.mark.parametrize(("lower", "higher"), [("1.0", "1.0.1"), ("1.0-rc1", "1.0.0"), ("1.9", "1.10")])
def test_pairs(lower, higher):
    assert version_key(lower) < version_key(higher)
