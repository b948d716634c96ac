"""The home page, the development wallet's relayed node calls and the indexer's progress."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from dportal.access import signed_in_address
from dportal.errors import wallet_step
from dportal.views.base import is_htmx
from ledger.client import get_chain_client
from ledger.devwallet import DevWalletRefused, DevWalletUnavailable, dev_rpc
from ledger.exceptions import LedgerError
from ledger.selectors import indexed_through
from marketplace.accounts.roles import account_roles
from marketplace.errors import outage
from marketplace.status import system_status


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    status = system_status()
    if is_htmx(request):
        return render(request, "dportal/home.html#status", {"status": status})
    address = signed_in_address(request)
    roles = None
    if address is not None and status.ok:
        roles = account_roles(address=address, chain_id=get_chain_client().chain_id())
    return render(request, "dportal/home.html", {"status": status, "roles": roles})


@require_POST
def dev_wallet_rpc(request: HttpRequest) -> JsonResponse:
    """One JSON-RPC call of the in-browser development wallet. It signs in the browser; this relays
    reads, fee data and already-signed transactions to the node, and nothing else."""
    try:
        call = json.loads(request.body or b"")
    except ValueError:
        call = None
    if not isinstance(call, dict):
        return JsonResponse(
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "the body is not a JSON-RPC object"}},
            status=400,
        )
    reply: dict[str, Any] = {"jsonrpc": "2.0", "id": call.get("id")}
    try:
        reply |= dev_rpc(
            get_chain_client(), enabled=settings.DEV_WALLET, method=call.get("method"), params=call.get("params", [])
        )
    except DevWalletUnavailable as exc:
        return JsonResponse(reply | {"error": {"code": -32601, "message": str(exc)}}, status=404)
    except DevWalletRefused as exc:
        return JsonResponse(reply | {"error": {"code": -32601, "message": str(exc)}}, status=403)
    except LedgerError as exc:
        return JsonResponse(reply | {"error": {"code": -32603, "message": outage(exc)}}, status=503)
    return JsonResponse(reply)


@require_GET
@wallet_step
def indexer_progress(request: HttpRequest) -> JsonResponse:
    """Whether the indexer has read block `block` yet: page scripts follow a mined transaction
    until the marketplace's view of the chain includes it."""
    try:
        block = int(request.GET.get("block", ""))
    except ValueError:
        return JsonResponse({"error": "block: an integer block number is required"}, status=400)
    through = indexed_through(get_chain_client().chain_id())
    return JsonResponse({"block": block, "indexed_through": through, "indexed": through >= block})
