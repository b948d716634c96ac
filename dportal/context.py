"""Template context every portal page gets."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from dportal.access import signed_in_address
from dportal.navigation import here
from ledger.client import get_chain_client
from ledger.devwallet import dev_wallet_config
from ledger.exceptions import LedgerError
from marketplace.status import outages


def _chain_id() -> int | None:
    try:
        return get_chain_client().chain_id()
    except LedgerError:
        return None  # the home page says why; pages still render without a chain


def _dev_wallet() -> dict[str, Any] | None:
    try:
        config = dev_wallet_config(get_chain_client(), enabled=settings.DEV_WALLET)
    except LedgerError:
        return None
    if config is not None:
        config["rpcUrl"] = reverse("dev-wallet-rpc")
    return config


def portal(request: HttpRequest) -> dict[str, object]:
    # Callables: a template evaluates them only where it uses them (the base layout, once).
    address = signed_in_address(request)
    return {
        "signed_in_address": address,
        "nav": here(request, signed_in=address is not None),
        "chain_id": _chain_id,
        "dev_wallet": _dev_wallet,
        "outages": outages,
    }
