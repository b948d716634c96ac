"""How offers, licences and instances look in JSON; shared by the JSON API and the portal."""

from __future__ import annotations

from typing import Any

from ledger.models import AcquiredLicence, LicenceOffer
from marketplace.contract_manager.decisions import KINDS
from marketplace.licensing.models import LicencePolicy, NsInstance


def instance_json(i: NsInstance) -> dict[str, Any]:
    return {
        "id": str(i.pk),
        "ns_id": str(i.ns.pk),
        "owner": i.owner,
        "state": i.state,
        "offer_id": i.offer_id,
        "licence_id": i.licence_id,
        "driver": i.driver,
        "deploys": i.deploys,
        "orchestrator_id": i.orchestrator_id,
        "integrity": i.integrity,
        "integrity_detail": i.integrity_detail,
        "licence_expired": i.licence_expired,
        "error": i.error,
        "units": i.units,
        "created_at": i.created_at.isoformat(),
    }


def offer_json(o: LicenceOffer) -> dict[str, Any]:
    return {
        "offer_id": o.offer_id,
        "digest": o.digest,
        "provider": o.provider,
        "kind": KINDS.get(o.kind),
        "price": o.price,
        "token": o.token,
        "duration": o.duration,
        "seats": o.seats,
        "terms_hash": o.terms_hash,
        "transferable": o.transferable,
        "closed": o.closed,
        "tx_hash": o.tx_hash,
        "block_number": o.block_number,
        "has_policy": LicencePolicy.objects.filter(terms_hash=o.terms_hash.lower()).exists(),
    }


def licence_json(lic: AcquiredLicence) -> dict[str, Any]:
    return {
        "licence_id": lic.licence_id,
        "offer_id": lic.offer_id,
        "expires_at": lic.expires_at,
        "agreement_hash": lic.agreement_hash,
        "tx_hash": lic.tx_hash,
    }


def offer_terms_text(args: Any) -> str:
    """An offer's on-chain terms (OfferCreated's arguments) in words: "private, 0.02 ETH, 2 instances, 30 days"."""
    from marketplace.repository.presenters import ether

    kind = KINDS.get(int(args["kind"]), "private")
    price = int(args["price"])
    seats = int(args["seats"])
    days = int(args["duration"]) // 86400
    token = str(args.get("token") or "0x" + "00" * 20).lower()
    if token != "0x" + "00" * 20:
        cost = f"{price} units of token {token}"
    else:
        cost = f"{ether(price)} ETH" if price else "free"
    parts = [kind, cost]
    parts.append(f"{seats} instance{'s' if seats != 1 else ''}" if seats else "unlimited instances")
    parts.append(f"{days} day{'s' if days != 1 else ''}" if days else "no expiry")
    return ", ".join(parts)
