"""The Licenses Repository's JSON API: offers, agreements, licence status, licences and NS instances."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import Http404, HttpRequest, JsonResponse
from ninja import Field, Query, Router, Schema, Status

from ledger.client import get_chain_client
from ledger.models import AcquiredLicence, LicenceOffer
from marketplace.accounts import services as accounts
from marketplace.api import schemas
from marketplace.api.auth import bearer, viewer
from marketplace.contract_manager import decisions
from marketplace.contract_manager.policy import matches_terms
from marketplace.errors import ConflictError, ValidationFailed
from marketplace.licensing import instances as ns_instances
from marketplace.licensing import offers as licence_offers
from marketplace.licensing.models import LicencePolicy, NsInstance
from marketplace.licensing.presenters import instance_json, licence_json, offer_json
from marketplace.licensing.seats import SeatAuthorisation
from marketplace.lookups import instance_or_404, ns_or_404, package_or_404
from marketplace.repository import origin
from marketplace.repository.packages.problems import PackageRejected

router = Router(tags=["licensing"])
E = schemas.Error
OfferId = Annotated[int, Field(ge=0, le=2**63 - 1)]
MAX_UNITS = 1000


def _chain_id() -> int:
    return get_chain_client().chain_id()


@router.get("/packages/{package_id}/offers", response={200: schemas.Offers, 404: E, 503: E})
def package_offers(request: HttpRequest, package_id: str) -> dict[str, object]:
    """The package's licence offers on chain."""
    found = package_or_404(package_id, viewer=viewer(request))
    offers = origin.package_offers(found, _chain_id()).order_by("offer_id")
    return {"items": [offer_json(o) for o in offers]}


@router.post(
    "/packages/{package_id}/offers", auth=bearer, response={201: dict[str, Any], 400: E, 401: E, 403: E, 404: E, 503: E}
)
def offer_create(request: HttpRequest, package_id: str, body: schemas.OfferRequest) -> Status[Any]:
    """The ODRL policy and the unsigned createOffer transaction for the provider's wallet (the publisher
    or a provider only)."""
    prepared = licence_offers.offer_prepare(
        package=package_or_404(package_id, viewer=viewer(request)),
        provider=str(request.auth),  # type: ignore[attr-defined]
        kind=body.kind,
        price=body.price,
        seats=body.seats,
        duration_days=body.duration_days,
        transferable=body.transferable,
        regions=tuple(body.regions),
    )
    return Status(201, prepared)


@router.get(
    "/offers/{offer_id}/policy", url_name="offer-policy", response={200: dict[str, Any], 400: E, 404: E, 409: E, 503: E}
)
def offer_policy(request: HttpRequest, offer_id: OfferId) -> JsonResponse:
    """The offer's ODRL policy document (JSON-LD)."""
    offer = LicenceOffer.objects.filter(chain_id=_chain_id(), offer_id=offer_id).first()
    policy = LicencePolicy.objects.filter(terms_hash=offer.terms_hash.lower()).first() if offer else None
    if policy is None:
        raise Http404(f"no policy document for offer {offer_id}")
    if offer is not None and not matches_terms(policy.document, offer.terms_hash):
        raise ConflictError(
            f"the stored policy of offer {offer_id} does not hash to its terms on chain ({offer.terms_hash}): "
            "it was changed after the offer was made"
        )
    response = JsonResponse(policy.document, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="offer-{offer_id}-policy.jsonld"'
    return response


@router.get("/offers/{offer_id}/agreement", auth=bearer, response={200: dict[str, Any], 400: E, 401: E, 503: E})
def agreement_get(request: HttpRequest, offer_id: OfferId) -> dict[str, Any]:
    """The EIP-712 licence agreement for the signed-in user to sign; 400: a closed or unknown offer."""
    return licence_offers.agreement_prepare(offer_id=offer_id, licensee=str(request.auth))  # type: ignore[attr-defined]


@router.post(
    "/offers/{offer_id}/agreement",
    auth=bearer,
    response={200: dict[str, Any], 201: dict[str, Any], 400: E, 401: E, 409: E, 503: E},
)
def agreement_post(request: HttpRequest, offer_id: OfferId, body: schemas.SignedAgreement) -> Status[Any]:
    """The signed agreement: a trial is activated (relayed, 201); a purchase comes back as the unsigned
    transaction the licensee's wallet sends (200). 409: refused by the licence manager."""
    kind, answer = licence_offers.agreement_submit(
        offer_id=offer_id,
        licensee=str(request.auth),  # type: ignore[attr-defined]
        typed_data=body.typed_data,
        signature=body.signature,
    )
    return Status(201 if kind == "trial" else 200, answer)


class StatusQuery(Schema):
    ns: schemas.ObjectIdText = Field(description="the network service")
    user: Annotated[str, Field(max_length=200)] = Field("", description="the user's address (none: anonymous)")


@router.get("/licences/status", response={200: schemas.Decision, 400: E, 404: E, 503: E})
def licence_status(request: HttpRequest, query: Query[StatusQuery]) -> dict[str, Any]:
    """For orchestrators and portals: may `user` instantiate `ns` now, and why (backed by the chain)."""
    # The package digest alone: the decision needs no more of the NS, and this is the busiest licence call.
    digest = decisions.ns_package_digest(query.ns)
    if digest is None:
        raise Http404(f"no network service {query.ns}")
    try:
        address = accounts.normalise_address(query.user) if query.user else ""
    except PackageRejected:
        raise ValidationFailed({"user": f"{query.user!r} is not an Ethereum address"}) from None
    return decisions.package_licence_status(digest=digest, user=address).as_dict()


@router.get("/licences", auth=bearer, response={200: schemas.Licences, 401: E, 503: E})
def my_licences(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's licences."""
    held = AcquiredLicence.objects.filter(chain_id=_chain_id(), licensee=str(request.auth))  # type: ignore[attr-defined]
    return {"items": [licence_json(lic) for lic in held.order_by("-block_number")]}


@router.post(
    "/licences/{licence_id}/transfer",
    auth=bearer,
    response={200: schemas.Transfer, 400: E, 401: E, 403: E, 404: E, 503: E},
)
def licence_transfer(request: HttpRequest, licence_id: OfferId, body: schemas.TransferRequest) -> dict[str, Any]:
    """The decision on transferring a licence and, when permitted, the unsigned transferLicence transaction
    for the holder's wallet; 403: denied, with the reason (not the holder, not transferable, instances
    running...)."""
    try:
        address = accounts.normalise_address(body.to)
    except PackageRejected:
        address = ""
    if not address:
        raise ValidationFailed({"to": f"{body.to!r} is not an Ethereum address"})
    licence = AcquiredLicence.objects.filter(chain_id=_chain_id(), licence_id=licence_id).first()
    if licence is None:
        raise Http404(f"no licence #{licence_id} on the connected chain")
    holder = str(request.auth)  # type: ignore[attr-defined]
    return licence_offers.licence_transfer_prepare(licence=licence, holder=holder, recipient=address)


# --- instances ---


@router.get("/instances", auth=bearer, response={200: schemas.Instances, 401: E})
def instances(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's NS instances."""
    mine = NsInstance.objects.filter(owner=str(request.auth)).order_by("-created_at")  # type: ignore[attr-defined]
    return {"items": [instance_json(i) for i in mine]}


@router.post(
    "/instances",
    auth=bearer,
    response={
        201: schemas.Instance,
        400: E,
        401: E,
        403: E,
        404: E,
        428: schemas.SeatOpeningNeeded,
        502: schemas.Instance,
        503: E,
    },
)
def instance_create(request: HttpRequest, body: schemas.InstanceRequest) -> Status[Any]:
    """Instantiate an NS: policy decision, seat reservation here, the seat opened on chain under the
    licensee's signed SeatOpening, integrity check, orchestrator. 428: sign the answer's typed_data and send
    it back as seat_opening; 403: denied, by the policy or the chain, with the reason; 502: the orchestrator
    failed and the seat is released."""
    user = str(request.auth)  # type: ignore[attr-defined]
    instance = ns_instances.instance_create(
        ns=ns_or_404(body.ns_id, viewer=user),
        user=user,
        region=body.region,
        seat_opening=_seat_opening(body.seat_opening),
    )
    return Status(201 if instance.state != "failed" else 502, instance_json(instance))


@router.get("/instances/{instance_id}", auth=bearer, response={200: schemas.Instance, 401: E, 403: E, 404: E})
def instance(request: HttpRequest, instance_id: str) -> dict[str, Any]:
    """One instance (the owner only)."""
    actor = str(request.auth)  # type: ignore[attr-defined]
    return instance_json(ns_instances.instance_readable(instance=instance_or_404(instance_id), actor=actor))


@router.post(
    "/instances/{instance_id}/terminate",
    auth=bearer,
    response={200: schemas.Instance, 401: E, 403: E, 404: E, 502: E, 503: E},
)
def instance_terminate(request: HttpRequest, instance_id: str) -> dict[str, Any]:
    """Terminate (the owner only); the seat is released."""
    actor = str(request.auth)  # type: ignore[attr-defined]
    return instance_json(ns_instances.instance_terminate(instance=instance_or_404(instance_id), actor=actor))


def _scale_request(value: int | str) -> tuple[int | None, int | None]:
    """(change, target) from a target number of units, or a change "+N" / "-N"."""
    wrong = ValidationFailed({"instances": 'a target number of units (1 or more), or "+N" / "-N"'})
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_UNITS:
            raise wrong
        return None, value
    if isinstance(value, str):
        change = int(value)
        if change and abs(change) <= MAX_UNITS:
            return change, None
    raise wrong


@router.post(
    "/instances/{instance_id}/scale",
    auth=bearer,
    response={
        200: schemas.Instance,
        400: E,
        401: E,
        403: E,
        404: E,
        409: E,
        428: schemas.SeatOpeningNeeded,
        502: schemas.ScaleFailure,
        503: E,
    },
)
def instance_scale(request: HttpRequest, instance_id: str, body: schemas.ScaleRequest) -> dict[str, Any]:
    """Scale an instance (the owner only): out takes extra seats of the licence atomically, in releases
    them; one orchestrator scaling step per unit. 428: scaling out needs the licensee's signed SeatOpening
    for the extra seats (sign the answer's typed_data, send it back as seat_opening); 409: not running, or
    its orchestrator cannot scale it; 502: the orchestrator failed part way, the instance holds the units
    that started."""
    found = instance_or_404(instance_id)
    change, target = _scale_request(body.instances)
    actor = str(request.auth)  # type: ignore[attr-defined]
    scaled = ns_instances.instance_scale(
        instance=found, actor=actor, change=change, target=target, seat_opening=_seat_opening(body.seat_opening)
    )
    return instance_json(scaled)


def _seat_opening(signed: schemas.SeatOpeningSigned | None) -> SeatAuthorisation | None:
    return None if signed is None else SeatAuthorisation(typed_data=signed.typed_data, signature=signed.signature)


@router.post(
    "/instances/{instance_id}/verify", auth=bearer, response={200: schemas.Instance, 401: E, 403: E, 404: E, 503: E}
)
def instance_verify(request: HttpRequest, instance_id: str) -> dict[str, Any]:
    """Verify the instance again (the owner only): the packages must still be registered and not revoked
    on chain, and the checksums the orchestrator holds must equal the anchored digests."""
    actor = str(request.auth)  # type: ignore[attr-defined]
    return instance_json(ns_instances.instance_verify(instance=instance_or_404(instance_id), actor=actor))
