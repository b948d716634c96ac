"""Licence offers as ODRL 2.2 policies: the vocabulary, the compiled offer terms, the problems a policy can
have, and the RFC 8785 canonical form whose hash is the on-chain termsHash. The compiler is in
policy_compiler.py, the generated common cases in policy_templates.py."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import rfc8785

__all__ = [
    "CONTEXT",
    "ERC20_PREFIX",
    "ETHER_UNITS",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_RULES",
    "NFVM_ODRL",
    "ODRL",
    "PACKAGE_PREFIX",
    "PROFILE",
    "WEI_UNIT",
    "OfferTerms",
    "PolicyError",
    "PolicyProblem",
    "canonical_bytes",
    "terms_hash",
]


CONTEXT = "http://www.w3.org/ns/odrl.jsonld"


ODRL = "http://www.w3.org/ns/odrl/2/"


# The marketplace's own ODRL profile: the actions ODRL's vocabulary lacks live under this namespace.
NFVM_ODRL = "urn:nfvm:odrl:"


PROFILE = NFVM_ODRL + "profile"


PACKAGE_PREFIX = "urn:nfvm:package:"


WEI_UNIT = "urn:nfvm:currency:wei"


ETHER_UNITS = frozenset({"ETH", "urn:nfvm:currency:ether"})


ERC20_PREFIX = "urn:nfvm:erc20:"


MAX_BYTES = 64 * 1024


MAX_DEPTH = 16


MAX_RULES = 32


Kind = Literal["public", "trial", "private"]


_PROJECT_TERMS = frozenset({"instantiate", "download"})


UINT32 = 2**32 - 1


UINT64 = 2**64 - 1


UINT256 = 2**256 - 1


# RFC 8785 formats numbers as IEEE 754 doubles; beyond 2**53 integers would lose digits, so they must be strings.
_SAFE_INTEGER = 2**53 - 1


SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong with a policy document, at a JSON path such as `permission[0].constraint[1].operator`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class PolicyError(ValueError):
    """A policy document the marketplace cannot turn into offer terms; `problems` lists every reason."""

    def __init__(self, problems: Iterable[PolicyProblem]) -> None:
        self.problems: list[PolicyProblem] = list(problems)
        super().__init__("invalid licence policy:\n" + "\n".join(f"  {p}" for p in self.problems))


@dataclass(frozen=True)
class OfferTerms:
    """What a policy means for `LicenseManager.createOffer`, plus the terms enforced off chain."""

    kind: Kind
    price: int  # wei, or token units when token is set
    token: str | None  # ERC-20 address (lower case), None for ether
    duration_s: int  # 0 = no expiry
    seats: int  # 0 = unlimited (public only)
    transferable: bool
    not_before: datetime | None
    not_after: datetime | None
    regions: tuple[str, ...]
    actions: frozenset[str]
    prohibited: frozenset[str]
    attribution: bool

    @property
    def kind_index(self) -> int:
        """The `OfferKind` enum value createOffer takes."""
        return ("public", "trial", "private").index(self.kind)


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """RFC 8785 canonical form (the rfc8785 library). Numbers are restricted to integers within
    ±(2**53 - 1) so that the ECMAScript number formatting the RFC prescribes is exact; amounts beyond
    that are decimal strings. Every value the form cannot carry is reported with its path first."""
    problems = bounds_problems(document)
    if not problems:
        _json_problems(document, "", problems)
    if problems:
        raise PolicyError(problems)
    data = rfc8785.dumps(document)
    if len(data) > MAX_BYTES:
        raise PolicyError([PolicyProblem("", f"the document is {len(data)} bytes; at most {MAX_BYTES} are allowed")])
    return data


def terms_hash(document: dict[str, Any]) -> bytes:
    """The on-chain termsHash: SHA-256 of the canonical form (32 bytes)."""
    return hashlib.sha256(canonical_bytes(document)).digest()


def matches_terms(document: object, on_chain: str) -> bool:
    """Whether `document` is the policy whose hash an offer carries on chain (0x hex): a stored document
    is only a copy, and a copy edited after the offer was made is not the offer's policy."""
    try:
        return isinstance(document, dict) and "0x" + terms_hash(document).hex() == on_chain.lower()
    except PolicyError:
        return False


def _json_problems(value: object, path: str, problems: list[PolicyProblem]) -> None:
    """What in `value` has no exact canonical form: floats, unsafe integers, lone surrogates, non-JSON
    types and non-string keys. Depth is bounded by bounds_problems before this recursion runs."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > _SAFE_INTEGER:
            problems.append(PolicyProblem(path, f"integer {value} is too large to be exact; write it as a string"))
    elif isinstance(value, str):
        _string_problems(value, path, problems)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _json_problems(item, f"{path}[{i}]", problems)
    elif isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                problems.append(PolicyProblem(path, f"object key {k!r} is not a string"))
                continue
            _string_problems(k, path, problems)
            _json_problems(item, join(path, k), problems)
    elif isinstance(value, float):
        problems.append(PolicyProblem(path, f"number {value!r} is not an integer; write decimals as strings"))
    else:
        problems.append(PolicyProblem(path, f"{type(value).__name__} is not a JSON value"))


def _string_problems(text: str, path: str, problems: list[PolicyProblem]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        problems.append(PolicyProblem(path, "string contains a lone surrogate, which is not valid Unicode"))


def bounds_problems(document: object) -> list[PolicyProblem]:
    """Depth and rule-count limits, checked without recursion so hostile input cannot exhaust the stack."""
    if not isinstance(document, dict):
        return [PolicyProblem("", f"a policy is a JSON object, not {type_name(document)}")]
    problems: list[PolicyProblem] = []
    stack: list[tuple[object, str, int]] = [(document, "", 1)]
    deepest: tuple[str, int] | None = None
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            if deepest is None or depth > deepest[1]:
                deepest = (path, depth)
            continue
        if isinstance(value, dict):
            stack.extend((v, join(path, str(k)), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
    if deepest is not None:
        problems.append(PolicyProblem(deepest[0], f"nesting deeper than {MAX_DEPTH} levels is not allowed"))
    rules = 0
    for key in ("permission", "prohibition", "obligation"):
        items = document.get(key)
        items = items if isinstance(items, list) else [items] if isinstance(items, dict) else []
        rules += len(items)
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("duty"), list | dict):
                duty = item["duty"]
                rules += len(duty) if isinstance(duty, list) else 1
    if rules > MAX_RULES:
        problems.append(PolicyProblem("", f"the policy has {rules} rules and duties; at most {MAX_RULES} are allowed"))
    return problems


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def as_iri(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"@id"} and isinstance(value["@id"], str):
        return value["@id"]
    return None


def as_term(value: object) -> str | None:
    """An ODRL or project term as its short name; both full IRIs and short names are accepted."""
    iri = as_iri(value)
    if iri is None:
        return None
    for prefix in (ODRL, "odrl:"):
        if iri.startswith(prefix):
            return iri[len(prefix) :]
    if iri.startswith(NFVM_ODRL) and iri[len(NFVM_ODRL) :] in _PROJECT_TERMS:
        return iri[len(NFVM_ODRL) :]
    return iri


def literal_value(value: object) -> object:
    if isinstance(value, dict) and "@value" in value and set(value) <= {"@value", "@type"}:
        return value["@value"]
    return value


def show(value: object) -> str:
    text = (
        json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        if not isinstance(value, str)
        else f'"{value}"'
    )
    return text if len(text) <= 80 else text[:77] + "..."


def show_value(value: object) -> str:
    if isinstance(value, frozenset):
        return "[" + ", ".join(sorted(value)) + "]"
    return str(value)


def type_name(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
