"""Offers and agreements: the transactions a provider signs to create or close an offer, the EIP-712
agreement a licensee signs to buy or activate a trial, and licence transfers.
"""

from __future__ import annotations

import json
from decimal import Decimal, DecimalException
from typing import Any, Literal

from ledger.client import get_chain_client
from ledger.exceptions import LedgerError
from ledger.models import AcquiredLicence, LicenceOffer
from ledger.registry import PackageRegistry, PackageStatus
from marketplace.contract_manager.decisions import KINDS, LicenceDenied, transfer_decide
from marketplace.contract_manager.policy import PolicyError
from marketplace.contract_manager.policy_compiler import compile_policy
from marketplace.contract_manager.provenance import provenance_append, provenance_record_event
from marketplace.errors import AuthenticationError, ConflictError, PermissionDeniedError, ValidationFailed
from marketplace.licensing.models import LicencePolicy, SignedAgreement
from marketplace.repository.models import Package


def licence_transfer_prepare(*, licence: AcquiredLicence, holder: str, recipient: str) -> dict[str, Any]:
    """Decide the transfer and, when permitted, return the unsigned transferLicence transaction for the
    holder's wallet. The indexer moves the licence once the chain has it. Raises LicenceDenied."""
    decision = transfer_decide(licence=licence, holder=holder, recipient=recipient)
    payload = {**decision.as_dict(), "recipient": recipient}
    provenance_append(kind="decision", actor=holder, subject=f"licence:{licence.licence_id}", payload=payload)
    if not decision.permit:
        raise LicenceDenied(decision)
    tx = _manager().transfer_licence(holder, licence.licence_id, recipient)
    return {"decision": decision.as_dict(), "transaction": _jsonable_tx(tx)}


def licence_transfer_record(
    *,
    chain_id: int,
    licence_id: int,
    sender: str,
    recipient: str,
    tx_hash: str,
    log_index: int = 0,
    to_licence_id: int | None = None,
) -> None:
    """Log a transfer the chain made (the indexer saw LicenceTransferred), once per transaction: replaying
    events after a reorganisation must not log it twice."""
    payload = {
        "chain_id": chain_id,
        "from": sender,
        "to": recipient,
        "to_licence_id": to_licence_id,
        "summary": f"licence #{licence_id} transferred from {sender} to {recipient}",
    }
    provenance_record_event(
        kind="transfer",
        actor=sender,
        subject=f"licence:{licence_id}",
        payload=payload,
        tx_hash=tx_hash,
        log_index=log_index,
    )


def _manager() -> Any:
    from ledger.licensing import LicenseManager

    return LicenseManager.deployed(get_chain_client())


def offer_prepare(
    *,
    package: Package,
    provider: str,
    kind: Literal["public", "trial", "private"],
    price: int = 0,
    seats: int | None = None,
    duration_days: int | None = None,
    transferable: bool = False,
    regions: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Write the ODRL policy for an offer, keep it (its hash is the on-chain terms hash) and return
    the unsigned createOffer transaction for the provider's wallet."""
    from ledger.licensing import OfferKind
    from marketplace.contract_manager.policy import terms_hash
    from marketplace.contract_manager.policy_templates import generate_policy

    registry = PackageRegistry.deployed(get_chain_client())
    digest, line = "0x" + package.digest, package.line_hash
    manager = _manager()
    if not line or registry.registration_of(digest, line) is None:
        raise ValidationFailed(
            {"package": "register the package on chain (under its own line) before offering licences for it"}
        )
    key = registry.line_key(line)
    if provider != key and not manager.is_provider(digest, line, provider):
        raise PermissionDeniedError(
            f"{provider} is neither the key of the owner of line {package.vendor}/{package.name} ({key}) "
            f"nor a provider it authorised for package {package.pk}"
        )
    target = f"urn:nfvm:package:{package.digest}"
    try:
        document = generate_policy(
            kind=kind,
            target=target,
            assigner=f"urn:ethereum:{provider}",
            price=price,
            duration_days=duration_days,
            seats=seats,
            transferable=transferable,
            regions=regions,
        )
        terms = compile_policy(document, target=target)
    except (PolicyError, ValueError, TypeError) as exc:
        raise ValidationFailed({"policy": str(exc)}) from exc
    terms_digest = terms_hash(document)
    LicencePolicy.objects.update_or_create(
        terms_hash="0x" + terms_digest.hex(),
        defaults={"package": package, "provider": provider, "document": document, "kind": terms.kind},
    )
    tx = manager.create_offer(
        provider,
        digest=digest,
        name_hash=line,
        kind=OfferKind[terms.kind.upper()],
        terms_hash=terms_digest,
        price=terms.price,
        token=terms.token,
        duration=terms.duration_s,
        seats=terms.seats,
        transferable=terms.transferable,
    )
    return {"policy": document, "terms_hash": "0x" + terms_digest.hex(), "transaction": _jsonable_tx(tx)}


def agreement_prepare(*, offer_id: int, licensee: str) -> dict[str, Any]:
    """The EIP-712 licence agreement the end-user's wallet signs for `offer_id`."""

    manager = _manager()
    offer = manager.offer(offer_id)
    if offer is None or not offer.open:
        raise ValidationFailed({"offer_id": f"offer {offer_id} does not exist or is closed"})
    agreement = manager.agreement(offer, licensee, deadline=get_chain_client().now() + 3600)
    return {
        "typed_data": manager.typed_data(agreement),
        "offer": {
            "offer_id": offer.offer_id,
            "kind": int(offer.kind),
            "price": str(offer.price),
            "seats": offer.seats,
            "duration": offer.duration,
        },
    }


def offer_form_terms(kind: str, form: dict[str, Any]) -> dict[str, Any]:
    """The terms of an offer form (the portal's), each field checked on its own so that its error is shown
    beside it: a price belongs to a private offer only, a trial needs a period, a public offer has neither
    a limit nor a period."""
    errors: dict[str, str] = {}
    numbers: dict[str, int | None] = {}
    for name, what in (("seats", "concurrent instances"), ("duration_days", "days")):
        raw = str(form.get(name) if form.get(name) is not None else "").strip()
        if not raw:
            numbers[name] = None
        elif raw.isascii() and raw.isdigit() and 0 < int(raw) <= 65535:
            numbers[name] = int(raw)
        else:
            errors[name] = f"{raw!r} is not a number of {what} from 1 to 65535"
    price = 0
    try:
        price = ether_to_wei(form.get("price_eth"))
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if kind != "private" and price:
        errors["price_eth"] = f"a {kind} offer is free: leave the price empty"
    if kind == "private" and not price and "price_eth" not in errors:
        errors["price_eth"] = "a private offer needs a price above 0 ETH"
    if kind == "trial" and numbers.get("duration_days") is None and "duration_days" not in errors:
        errors["duration_days"] = "a trial needs a period in days"
    if kind == "public":
        for name in ("seats", "duration_days"):
            if numbers.get(name) is not None:
                errors[name] = "a public offer has no limit and no end: leave it empty"
    if errors:
        raise ValidationFailed(errors)
    return {
        "price": price,
        "seats": numbers["seats"],
        "duration_days": numbers["duration_days"],
        "transferable": bool(form.get("transferable")),
    }


MAX_UINT256 = 2**256 - 1


def ether_to_wei(amount: object) -> int:
    """An amount of ether as the portal's form gives it ("0.02", "" for none) in wei, exactly."""
    try:
        value = Decimal(str(amount or "0"))
        if not value.is_finite():
            raise ValidationFailed({"price_eth": f"{amount!r} is not a number"})
        wei = value * 10**18
        exact = wei == wei.to_integral_value()
    except DecimalException:  # not a number, or beyond what a Decimal holds
        raise ValidationFailed({"price_eth": f"{amount!r} is not a number"}) from None
    if wei < 0 or not exact or wei > MAX_UINT256:
        raise ValidationFailed({"price_eth": f"{amount!r} is not an amount of ether (at most 18 decimals)"})
    return int(wei)


def agreement_submit(
    *, offer_id: int, licensee: str, typed_data: dict[str, Any], signature: str
) -> tuple[Literal["trial", "purchase"], dict[str, Any]]:
    """A signed agreement for `offer_id`, as its kind on chain says: a trial is activated now (relayed)
    and its licence id returned; a purchase comes back as the transaction the licensee's wallet sends."""
    offer = LicenceOffer.objects.filter(chain_id=get_chain_client().chain_id(), offer_id=offer_id).first()
    if offer is not None and KINDS.get(offer.kind) == "trial":
        licence_id = trial_activate(offer_id=offer_id, licensee=licensee, typed_data=typed_data, signature=signature)
        return "trial", {"licence_id": licence_id}
    return "purchase", purchase_prepare(
        offer_id=offer_id, licensee=licensee, typed_data=typed_data, signature=signature
    )


def purchase_prepare(*, offer_id: int, licensee: str, typed_data: dict[str, Any], signature: str) -> dict[str, Any]:
    """The unsigned purchase transaction (exact price as value) the licensee's wallet sends itself."""
    manager = _manager()
    offer, agreement = _signed_agreement(manager, offer_id, licensee, typed_data, signature)
    return {"transaction": _jsonable_tx(manager.purchase(licensee, offer, agreement, signature))}


def trial_activate(*, offer_id: int, licensee: str, typed_data: dict[str, Any], signature: str) -> int:
    """Relay the licensee's signed trial agreement with the operator's key; returns the licence id.

    LicenseManager does not ask the registry when a trial is activated (a trial sells nothing); the
    operator does not relay trials of revoked packages."""
    from ledger.signer import operator_account

    manager = _manager()
    offer, agreement = _signed_agreement(manager, offer_id, licensee, typed_data, signature)
    try:
        status = PackageRegistry.deployed(get_chain_client()).status_of_key(offer.package_key)
    except LedgerError as exc:
        raise ConflictError(f"the registry cannot be read: {exc}") from exc
    if status == PackageStatus.REVOKED:
        raise ConflictError(
            f"the line owner revoked the package of offer #{offer_id} on chain: its trial cannot be activated"
        )
    operator = operator_account()
    try:
        receipt = get_chain_client().transact(
            operator, manager.activate_trial(operator.address, agreement, signature), abi=manager.abi
        )
    except LedgerError as exc:
        raise ConflictError(f"the licence manager refused the trial: {exc}") from exc
    licence_id = int(manager.issued_licence_id(receipt))
    provenance_append(
        kind="licence",
        actor=licensee,
        subject=f"offer:{offer_id}",
        payload={"licence_id": licence_id, "kind": "trial", "relayed_by": operator.address},
    )
    return licence_id


def _signed_agreement(
    manager: Any, offer_id: int, licensee: str, typed_data: dict[str, Any], signature: str
) -> tuple[Any, Any]:
    """(offer, agreement) once `typed_data` is a signed agreement of `licensee` for the offer's very
    terms, kept for the portal; LicenseManager rebuilds the agreement from the offer, so an agreement
    for other terms would only fail on chain."""
    from ledger.licensing import agreement_from_typed_data, agreement_mismatches

    offer = manager.offer(offer_id)
    if offer is None:
        raise ValidationFailed({"offer_id": f"offer {offer_id} does not exist"})
    try:
        agreement = agreement_from_typed_data(typed_data)
    except LedgerError as exc:
        raise ValidationFailed({"typed_data": str(exc)}) from exc
    mismatches = agreement_mismatches(agreement, offer)
    if mismatches:
        raise ValidationFailed({"typed_data": "the agreement does not match the offer: " + "; ".join(mismatches)})
    _agreement_keep(manager=manager, offer_id=offer_id, agreement=agreement, licensee=licensee, signature=signature)
    return offer, agreement


def _agreement_keep(*, manager: Any, offer_id: int, agreement: Any, licensee: str, signature: str) -> None:
    """Check that `licensee` signed `agreement` for `offer_id`, and keep the signed typed data.

    Kept under its EIP-712 digest, which LicenseManager emits as the licence's agreementHash: the
    portal shows a licence's agreement only when the digests are equal."""

    from eth_account import Account
    from eth_account.messages import encode_typed_data

    from ledger.licensing import typed_data_hash

    if agreement.offer_id != offer_id or agreement.licensee != licensee:
        raise ValidationFailed({"typed_data": "the agreement is for another offer or another licensee"})
    typed = manager.typed_data(agreement)
    try:
        signer = Account.recover_message(encode_typed_data(full_message=typed), signature=signature)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed({"signature": f"cannot be read: {exc}"}) from exc
    if signer != licensee:
        raise AuthenticationError(f"the agreement is signed by {signer}, not by {licensee}")
    SignedAgreement.objects.update_or_create(
        agreement_hash=typed_data_hash(typed).lower(),
        defaults={
            "chain_id": int(typed["domain"]["chainId"]),
            "offer_id": offer_id,
            "licensee": licensee,
            "typed_data": json.dumps(typed, sort_keys=True, separators=(",", ":")),
            "signature": signature,
        },
    )


def offer_close_prepare(*, offer_id: int, actor: str) -> dict[str, Any]:
    """The unsigned closeOffer transaction for the provider's wallet (or the package's publishing key,
    which LicenseManager.closeOffer also accepts); anyone else is refused with the reason."""

    manager = _manager()
    offer = manager.offer(offer_id)
    if offer is None:
        raise ValidationFailed({"offer_id": f"offer {offer_id} does not exist"})
    if actor != offer.provider:
        key = PackageRegistry.deployed(get_chain_client()).line_key(offer.name_hash)
        if actor != key:
            raise PermissionDeniedError(
                f"only the offer's provider {offer.provider} or the key of the package's line owner ({key}) "
                f"may close offer #{offer_id}"
            )
    if offer.closed:
        raise ConflictError(f"offer #{offer_id} is already closed")
    return {"offer_id": offer_id, "transaction": _jsonable_tx(manager.close_offer(actor, offer_id))}


def _jsonable_tx(tx: Any) -> dict[str, Any]:
    return {k: (hex(v) if isinstance(v, int) and k in ("value",) else v) for k, v in dict(tx).items()}
