"""ODRL offers for the common cases (public, trial, private), generated from a few arguments."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from marketplace.contract_manager.policy import (
    CONTEXT,
    ERC20_PREFIX,
    NFVM_ODRL,
    PROFILE,
    WEI_UNIT,
    Kind,
    PolicyError,
    PolicyProblem,
    canonical_bytes,
)
from marketplace.contract_manager.policy_compiler import compile_policy


def generate_policy(
    *,
    kind: Kind,
    target: str,
    assigner: str,
    price: int = 0,
    token: str | None = None,
    duration_days: int | None = None,
    seats: int | None = None,
    transferable: bool = False,
    regions: Iterable[str] = (),
    uid: str | None = None,
) -> dict[str, Any]:
    """An ODRL Offer for the common cases: public; trial of N days and M instances; private at a price
    (wei, or token units with `token`) for M instances, optionally for N days. Raises PolicyError when
    the arguments do not make a valid offer. Without `uid`, the uid is derived from the content, so the
    same arguments give the same document and the same termsHash."""
    actions = ["use", NFVM_ODRL + "instantiate", NFVM_ODRL + "download"]
    limits: list[dict[str, Any]] = []
    if duration_days is not None:
        limits.append({"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": f"P{duration_days}D"})
    region_list = sorted(set(regions))
    if len(region_list) == 1:
        limits.append({"leftOperand": "spatial", "operator": "eq", "rightOperand": region_list[0]})
    elif region_list:
        limits.append({"leftOperand": "spatial", "operator": "isAnyOf", "rightOperand": region_list})
    permissions: list[dict[str, Any]] = []
    for action in actions:
        rule: dict[str, Any] = {"action": action}
        constraints = list(limits)
        if action.endswith("instantiate") and seats is not None:
            # Seats are concurrent instances, so the count belongs to instantiation.
            constraints.insert(0, {"leftOperand": "count", "operator": "lteq", "rightOperand": seats})
        if constraints:
            rule["constraint"] = constraints
        permissions.append(rule)
    if transferable:
        permissions.append({"action": "transfer"})
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "Offer",
        "profile": PROFILE,
        "target": target,
        "assigner": assigner,
        "permission": permissions,
    }
    if kind != "public":
        document["prohibition"] = [{"action": "distribute"}, {"action": "modify"}]
    if price or token is not None or kind == "private":
        unit = WEI_UNIT if token is None else ERC20_PREFIX + token.lower()
        refinement = {
            "leftOperand": "payAmount",
            "operator": "eq",
            "rightOperand": {"@value": str(price), "@type": "xsd:decimal"},
            "unit": unit,
        }
        document["obligation"] = [
            {"action": [{"rdf:value": {"@id": "odrl:compensate"}, "refinement": [refinement]}], "assigner": assigner}
        ]
    if uid is None:
        uid = "urn:nfvm:policy:" + hashlib.sha256(canonical_bytes(document)).hexdigest()
    document = {"uid": uid, **document}
    terms = compile_policy(document, target=target)
    if terms.kind != kind:
        raise PolicyError([PolicyProblem("", f"these arguments make a {terms.kind} offer, not a {kind} one")])
    return document
