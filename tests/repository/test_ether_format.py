"""Prices shown in ether, exactly."""

from __future__ import annotations

import pytest

from dportal.templatetags.portal import ether as ether_filter
from marketplace.repository.presenters import ether


@pytest.mark.parametrize(
    ("wei", "text"),
    [
        (0, "0"),
        (1, "0.000000000000000001"),
        (10**15, "0.001"),
        (10**18, "1"),
        (25 * 10**17, "2.5"),
        ("12" + "0" * 18, "12"),
    ],
)
def test_it_shows_wei_as_ether_without_trailing_zeros(wei, text):
    assert ether(wei) == text


def test_the_template_filter_says_free_for_zero_and_nothing_for_garbage():
    assert ether_filter("0") == "free"
    assert ether_filter("10000000000000000") == "0.01 ETH"
    assert ether_filter("not a number") == ""
