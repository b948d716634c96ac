"""JSON API of the Licenses Repository: offers, agreements, licence status and NS instances."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from django.http import Http404, HttpRequest, JsonResponse

from ledger.client import get_chain_client
from ledger.models import AcquiredLicence, LicenceOffer
from marketplace.accounts import services as accounts
from marketplace.api.packages import _actor, _json_body, _package, api_view
from marketplace.contract_manager import decisions
from marketplace.errors import ValidationFailed
from marketplace.licensing import instances as ns_instances
from marketplace.licensing import offers as licence_offers
from marketplace.licensing.models import LicencePolicy, NsInstance
from marketplace.repository.models import NetworkService
from marketplace.repository.packages.problems import PackageRejected


def _ns(ns_id: Any) -> NetworkService:
    try:
        found = NetworkService.objects.filter(pk=ObjectId(str(ns_id))).select_related("package").first()
    except (InvalidId, TypeError):
        found = None
    if found is None:
        raise Http404(f"no network service {ns_id}")
    return found


def _int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed({name: "must be an integer"}) from None
    if number < 0:
        raise ValidationFailed({name: "must not be negative"})
    return number


def _instance_json(i: NsInstance) -> dict[str, Any]:
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


def _offer_json(o: LicenceOffer) -> dict[str, Any]:
    return {
        "offer_id": o.offer_id,
        "digest": o.digest,
        "provider": o.provider,
        "kind": decisions.KINDS.get(o.kind),
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


@api_view(("GET", "POST"))
def package_offers(request: HttpRequest, package_id: str) -> JsonResponse:
    """GET: the package's offers on chain. POST: the policy and unsigned createOffer for the provider."""
    package = _package(package_id)
    if request.method == "GET":
        offers = LicenceOffer.objects.filter(chain_id=get_chain_client().chain_id(), digest="0x" + package.digest)
        return JsonResponse({"items": [_offer_json(o) for o in offers.order_by("offer_id")]})
    provider = _actor(request)
    body = _json_body(request)
    kind = body.get("kind")
    if kind not in ("public", "trial", "private"):
        raise ValidationFailed({"kind": "public, trial or private"})
    regions = body.get("regions") or []
    if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
        raise ValidationFailed({"regions": "a list of region codes"})
    prepared = licence_offers.offer_prepare(
        package=package,
        provider=provider,
        kind=kind,
        price=_int(body.get("price", 0), "price"),
        seats=_int(body["seats"], "seats") if body.get("seats") is not None else None,
        duration_days=_int(body["duration_days"], "duration_days") if body.get("duration_days") is not None else None,
        transferable=bool(body.get("transferable", False)),
        regions=tuple(regions),
    )
    return JsonResponse(prepared, status=201)


@api_view(("GET",))
def offer_policy(request: HttpRequest, offer_id: str) -> JsonResponse:
    offer = LicenceOffer.objects.filter(
        chain_id=get_chain_client().chain_id(), offer_id=_int(offer_id, "offer_id")
    ).first()
    policy = LicencePolicy.objects.filter(terms_hash=offer.terms_hash.lower()).first() if offer else None
    if policy is None:
        raise Http404(f"no policy document for offer {offer_id}")
    response = JsonResponse(policy.document, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="offer-{offer_id}-policy.jsonld"'
    return response


@api_view(("GET", "POST"))
def offer_agreement(request: HttpRequest, offer_id: str) -> JsonResponse:
    """GET: the EIP-712 agreement to sign. POST {typed_data, signature}: a trial is relayed and
    activated; for a private offer the unsigned purchase transaction comes back for the wallet."""
    user = _actor(request)
    number = _int(offer_id, "offer_id")
    if request.method == "GET":
        return JsonResponse(licence_offers.agreement_prepare(offer_id=number, licensee=user))
    body = _json_body(request)
    typed, signature = body.get("typed_data"), body.get("signature")
    if not isinstance(typed, dict) or not isinstance(signature, str):
        raise ValidationFailed({"typed_data": "the signed agreement", "signature": "its 0x-hex signature"})
    offer = LicenceOffer.objects.filter(chain_id=get_chain_client().chain_id(), offer_id=number).first()
    if offer is not None and offer.kind == 1:
        licence_id = licence_offers.trial_activate(
            offer_id=number, licensee=user, typed_data=typed, signature=signature
        )
        return JsonResponse({"licence_id": licence_id}, status=201)
    return JsonResponse(
        licence_offers.purchase_prepare(offer_id=number, licensee=user, typed_data=typed, signature=signature)
    )


@api_view(("GET",))
def licence_status(request: HttpRequest) -> JsonResponse:
    """For orchestrators and portals: may `user` instantiate `ns` now, and why (backed by the chain)."""
    user = request.GET.get("user", "")
    ns_id = request.GET.get("ns")
    # The package digest alone: the decision needs no more of the NS, and this is the busiest licence call.
    digest = decisions.ns_package_digest(ns_id)
    if digest is None:
        raise Http404(f"no network service {ns_id}")
    try:
        address = accounts.normalise_address(user) if user else ""
    except PackageRejected:
        raise ValidationFailed({"user": f"{user!r} is not an Ethereum address"}) from None
    decision = decisions.package_licence_decide(digest=digest, user=address)
    return JsonResponse(decision.as_dict())


@api_view(("GET",))
def my_licences(request: HttpRequest) -> JsonResponse:
    user = _actor(request)
    held = AcquiredLicence.objects.filter(chain_id=get_chain_client().chain_id(), licensee=user).order_by(
        "-block_number"
    )
    return JsonResponse(
        {
            "items": [
                {
                    "licence_id": lic.licence_id,
                    "offer_id": lic.offer_id,
                    "expires_at": lic.expires_at,
                    "agreement_hash": lic.agreement_hash,
                    "tx_hash": lic.tx_hash,
                }
                for lic in held
            ]
        }
    )


@api_view(("GET", "POST"))
def instances(request: HttpRequest) -> JsonResponse:
    user = _actor(request)
    if request.method == "GET":
        return JsonResponse(
            {"items": [_instance_json(i) for i in NsInstance.objects.filter(owner=user).order_by("-created_at")]}
        )
    body = _json_body(request)
    try:
        instance = ns_instances.instance_create(ns=_ns(body.get("ns_id")), user=user, region=body.get("region"))
    except decisions.LicenceDenied as exc:
        return JsonResponse({"error": exc.decision.reason, "decision": exc.decision.as_dict()}, status=403)
    return JsonResponse(_instance_json(instance), status=201 if instance.state != "failed" else 502)


def _instance(instance_id: str) -> NsInstance:
    try:
        found = NsInstance.objects.filter(pk=ObjectId(instance_id)).first()
    except (InvalidId, TypeError):
        found = None
    if found is None:
        raise Http404(f"no instance {instance_id}")
    return found


@api_view(("GET",))
def instance(request: HttpRequest, instance_id: str) -> JsonResponse:
    return JsonResponse(_instance_json(_instance(instance_id)))


@api_view(("POST",))
def instance_terminate(request: HttpRequest, instance_id: str) -> JsonResponse:
    return JsonResponse(
        _instance_json(ns_instances.instance_terminate(instance=_instance(instance_id), actor=_actor(request)))
    )


def _scale_request(body: dict[str, Any]) -> tuple[int | None, int | None]:
    """(change, target) from {"instances": N} (the target) or {"instances": "+N" / "-N"} (the change)."""
    value = body.get("instances")
    wrong = ValidationFailed({"instances": 'a target number of units (1 or more), or "+N" / "-N"'})
    if isinstance(value, bool):
        raise wrong
    if isinstance(value, int):
        if not 1 <= value <= MAX_UNITS:
            raise wrong
        return None, value
    if isinstance(value, str) and value[:1] in "+-" and value[1:].isascii() and value[1:].isdigit():
        change = int(value)
        if change and abs(change) <= MAX_UNITS:
            return change, None
    raise wrong


MAX_UNITS = 1000


@api_view(("POST",))
def instance_scale(request: HttpRequest, instance_id: str) -> JsonResponse:
    """Scale out (the extra seats are decided and taken atomically) or in (seats are released)."""
    actor = _actor(request)
    found = _instance(instance_id)
    change, target = _scale_request(_json_body(request))
    try:
        scaled = ns_instances.instance_scale(instance=found, actor=actor, change=change, target=target)
    except ns_instances.ScaleFailed as exc:
        return JsonResponse({"error": str(exc), "instance": _instance_json(exc.instance)}, status=502)
    return JsonResponse(_instance_json(scaled))


@api_view(("POST",))
def instance_verify(request: HttpRequest, instance_id: str) -> JsonResponse:
    """Recheck the packages the orchestrator holds for the instance against the chain (the owner only)."""
    actor = _actor(request)
    return JsonResponse(_instance_json(ns_instances.instance_verify(instance=_instance(instance_id), actor=actor)))


@api_view(("POST",))
def licence_transfer(request: HttpRequest, licence_id: str) -> JsonResponse:
    """The decision on transferring a licence to {"to": ADDRESS} and, when permitted, the unsigned
    transferLicence transaction for the holder's wallet."""
    holder = _actor(request)
    number = _int(licence_id, "licence_id")
    recipient = _json_body(request).get("to")
    try:
        address = accounts.normalise_address(recipient) if isinstance(recipient, str) else ""
    except PackageRejected:
        address = ""
    if not address:
        raise ValidationFailed({"to": f"{recipient!r} is not an Ethereum address"})
    licence = AcquiredLicence.objects.filter(chain_id=get_chain_client().chain_id(), licence_id=number).first()
    if licence is None:
        raise Http404(f"no licence #{number} on the connected chain")
    return JsonResponse(licence_offers.licence_transfer_prepare(licence=licence, holder=holder, recipient=address))


def licence_paths() -> dict[str, Any]:
    """The OpenAPI description of these endpoints (merged into marketplace.api.openapi.document)."""
    from marketplace.api.openapi import BEARER, JSON, NOT_FOUND, PACKAGE_ID, _error, _json

    obj: dict[str, Any] = {"type": "object"}
    items = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array"}}}
    offer_id = {"name": "offer_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
    instance_id = {
        "name": "instance_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
    }
    chain_down = _error("the chain is unavailable")
    return {
        "/api/v1/packages/{package_id}/offers": {
            "parameters": [PACKAGE_ID],
            "get": {
                "summary": "The package's licence offers on chain",
                "responses": {"200": _json(items, "offers"), "404": NOT_FOUND, "503": chain_down},
            },
            "post": {
                "summary": "The ODRL policy and the unsigned createOffer transaction for the provider's wallet",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["kind"],
                                "properties": {
                                    "kind": {"type": "string", "enum": ["public", "trial", "private"]},
                                    "price": {"type": "integer", "minimum": 0},
                                    "seats": {"type": "integer", "minimum": 0},
                                    "duration_days": {"type": "integer", "minimum": 0},
                                    "transferable": {"type": "boolean"},
                                    "regions": {"type": "array", "items": {"type": "string"}},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json(obj, "policy, terms hash and transaction"),
                    "400": _error("bad terms"),
                    "401": _error("not signed in"),
                    "403": _error("not the publisher or a provider"),
                    "404": NOT_FOUND,
                    "503": chain_down,
                },
            },
        },
        "/api/v1/offers/{offer_id}/policy": {
            "parameters": [offer_id],
            "get": {
                "summary": "The offer's ODRL policy document (JSON-LD)",
                "responses": {
                    "200": _json(obj, "the policy"),
                    "400": _error("bad id"),
                    "404": NOT_FOUND,
                    "503": chain_down,
                },
            },
        },
        "/api/v1/offers/{offer_id}/agreement": {
            "parameters": [offer_id],
            "get": {
                "summary": "The EIP-712 licence agreement for the signed-in user to sign",
                "security": BEARER,
                "responses": {
                    "200": _json(obj, "typed data"),
                    "400": _error("closed or unknown offer"),
                    "401": _error("not signed in"),
                    "503": chain_down,
                },
            },
            "post": {
                "summary": "The signed agreement: a trial is activated (relayed); a purchase comes back as the "
                "unsigned transaction the licensee's wallet sends",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["typed_data", "signature"],
                                "properties": {"typed_data": obj, "signature": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(obj, "the purchase transaction"),
                    "201": _json(obj, "the trial licence"),
                    "400": _error("malformed"),
                    "401": _error("not signed in or signed by another key"),
                    "409": _error("refused by the licence manager"),
                    "503": chain_down,
                },
            },
        },
        "/api/v1/licences/status": {
            "get": {
                "summary": "May `user` instantiate `ns` now, and why (backed by the chain)",
                "parameters": [
                    {
                        "name": "ns",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
                    },
                    {"name": "user", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json({"type": "object", "required": ["allowed_to_instantiate", "reason"]}, "the decision"),
                    "400": _error("bad user address"),
                    "404": NOT_FOUND,
                    "503": chain_down,
                },
            },
        },
        "/api/v1/licences": {
            "get": {
                "summary": "The signed-in user's licences",
                "security": BEARER,
                "responses": {"200": _json(items, "licences"), "401": _error("not signed in"), "503": chain_down},
            },
        },
        "/api/v1/instances": {
            "get": {
                "summary": "The signed-in user's NS instances",
                "security": BEARER,
                "responses": {"200": _json(items, "instances"), "401": _error("not signed in")},
            },
            "post": {
                "summary": "Instantiate an NS: policy decision, seat reservation, integrity check, orchestrator",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["ns_id"],
                                "properties": {"ns_id": {"type": "string"}, "region": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json(obj, "running"),
                    "401": _error("not signed in"),
                    "403": _error("denied, with the reason"),
                    "404": NOT_FOUND,
                    "502": _json(obj, "the orchestrator failed; the seat is released"),
                    "503": chain_down,
                },
            },
        },
        "/api/v1/instances/{instance_id}": {
            "parameters": [instance_id],
            "get": {"summary": "One instance", "responses": {"200": _json(obj, "instance"), "404": NOT_FOUND}},
        },
        "/api/v1/instances/{instance_id}/scale": {
            "parameters": [instance_id],
            "post": {
                "summary": "Scale an instance (the owner only): out takes extra seats of the licence atomically, in "
                "releases them; one orchestrator scaling step per unit",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["instances"],
                                "properties": {
                                    "instances": {
                                        "oneOf": [
                                            {"type": "integer", "minimum": 1, "maximum": MAX_UNITS},
                                            {"type": "string", "pattern": "^[+-][0-9]{1,4}$"},
                                        ],
                                        "description": 'the target number of units, or a change "+N" / "-N"',
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(obj, "scaled"),
                    "400": _error("bad change or target"),
                    "401": _error("not signed in"),
                    "403": _error("not the owner, or denied by the licence, with the reason"),
                    "404": NOT_FOUND,
                    "409": _error("the instance is not running, or its orchestrator cannot scale it"),
                    "502": _json(obj, "the orchestrator failed part way; the instance holds the units that started"),
                    "503": chain_down,
                },
            },
        },
        "/api/v1/licences/{licence_id}/transfer": {
            "parameters": [
                {"name": "licence_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
            ],
            "post": {
                "summary": "The decision on transferring a licence and, when permitted, the unsigned transferLicence "
                "transaction for the holder's wallet",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["to"],
                                "properties": {"to": {"type": "string", "description": "the recipient's address"}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {"type": "object", "required": ["decision", "transaction"]}, "the decision and transaction"
                    ),
                    "400": _error("bad licence id or recipient address"),
                    "401": _error("not signed in"),
                    "403": _error("denied, with the reason (not the holder, not transferable, instances running...)"),
                    "404": NOT_FOUND,
                    "503": chain_down,
                },
            },
        },
        "/api/v1/instances/{instance_id}/verify": {
            "parameters": [instance_id],
            "post": {
                "summary": "Verify the instance again (the owner only): the packages must still be registered and not "
                "revoked on chain, and the checksums the orchestrator holds must equal the anchored digests",
                "security": BEARER,
                "responses": {
                    "200": _json(
                        {"type": "object", "required": ["integrity", "integrity_detail"]},
                        "the instance with integrity verified, mismatch or unknown",
                    ),
                    "401": _error("not signed in"),
                    "403": _error("not the owner"),
                    "404": NOT_FOUND,
                    "503": chain_down,
                },
            },
        },
        "/api/v1/instances/{instance_id}/terminate": {
            "parameters": [instance_id],
            "post": {
                "summary": "Terminate (the owner only); the seat is released",
                "security": BEARER,
                "responses": {
                    "200": _json(obj, "terminated"),
                    "401": _error("not signed in"),
                    "403": _error("not the owner"),
                    "404": NOT_FOUND,
                },
            },
        },
    }
