"""Template filters of the portal: presentation only."""

from __future__ import annotations

from django import template

from marketplace.repository.presenters import ether as ether_text

register = template.Library()


@register.filter
def ether(wei: int | str) -> str:
    """`{{ offer.price|ether }}`: a wei amount as "0.01 ETH", "free" for zero."""
    try:
        amount = int(wei)
    except (TypeError, ValueError):
        return ""
    return "free" if amount == 0 else f"{ether_text(amount)} ETH"
