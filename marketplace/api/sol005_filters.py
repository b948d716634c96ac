"""SOL013 attribute-based filtering and attribute selectors over the SOL005 list representations."""

from __future__ import annotations

import operator as op
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class FilterError(ValueError):
    """A filter or attribute selector SOL013 does not allow, named in the message (HTTP 400)."""


SINGLE_VALUE_OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte")


MULTI_VALUE_OPERATORS = ("in", "nin", "cont", "ncont")


NEGATIONS = {"neq": "eq", "nin": "in", "ncont": "cont"}


ORDERINGS: dict[str, Callable[[str, str], bool]] = {"gt": op.gt, "gte": op.ge, "lt": op.lt, "lte": op.le}


# A value is bare (no , ; ( ) or ') or in single quotes with '' for a quote (SOL013 attribute-based filtering).
_VALUE = r"(?:'(?:[^']|'')*'|[^,;()']*)"


_QUOTED_OR_BARE = re.compile(r"(?:^|,)('(?:[^']|'')*'|[^,']*)")


_EXPRESSION = re.compile(r"\(([a-z]+),([A-Za-z_.]+),((?:'(?:[^']|'')*'|[^;()'])*)\)")


_LOOSE_EXPRESSION = re.compile(r"\(([^,()]*),([^,()]*)")


@dataclass(frozen=True)
class Resource:
    """What the list endpoints of one resource type accept: filterable attributes (dotted paths into
    the representation) and the complex attributes attribute selectors may name."""

    filterable: tuple[str, ...]
    complex: tuple[str, ...]
    excluded_by_default: tuple[str, ...]

    @property
    def filter_pattern(self) -> str:
        attribute = "(?:" + "|".join(re.escape(a) for a in self.filterable) + ")"
        single = f"(?:{'|'.join(SINGLE_VALUE_OPERATORS)}),{attribute},{_VALUE}"
        multi = f"(?:{'|'.join(MULTI_VALUE_OPERATORS)}),{attribute},{_VALUE}(?:,{_VALUE})*"
        expression = rf"\((?:{single}|{multi})\)"
        return f"^{expression}(?:;{expression})*$"

    @property
    def fields_pattern(self) -> str:
        name = "(?:" + "|".join(re.escape(a) for a in self.complex) + ")"
        return f"^{name}(?:,{name})*$"


VNF_PACKAGE = Resource(
    filterable=(
        "id",
        "vnfdId",
        "vnfProvider",
        "vnfProductName",
        "vnfSoftwareVersion",
        "vnfdVersion",
        "packageSecurityOption",
        "onboardingState",
        "operationalState",
        "usageState",
        "checksum.algorithm",
        "checksum.hash",
        "softwareImages.id",
        "softwareImages.name",
        "userDefinedData.category",
        "userDefinedData.tags",
    ),
    complex=("checksum", "softwareImages", "additionalArtifacts", "userDefinedData"),
    # SOL005 leaves these out of a list unless all_fields, fields or exclude_fields asks for them.
    excluded_by_default=("checksum", "softwareImages", "additionalArtifacts", "userDefinedData"),
)


NS_DESCRIPTOR = Resource(
    filterable=(
        "id",
        "nsdId",
        "nsdName",
        "nsdVersion",
        "nsdDesigner",
        "nsdInvariantId",
        "nsdOnboardingState",
        "nsdOperationalState",
        "nsdUsageState",
        "vnfPkgIds",
        "userDefinedData.category",
        "userDefinedData.tags",
    ),
    complex=("vnfPkgIds", "pnfdInfoIds", "nestedNsdInfoIds", "userDefinedData"),
    excluded_by_default=("userDefinedData",),  # likewise for NsdInfo
)


Expression = tuple[str, str, list[str]]


def parse_filter(text: str | None, resource: Resource) -> list[Expression]:
    """The (operator, attribute, values) of a SOL013 `filter`; 400 naming what is wrong.

    The grammar is exactly the pattern the OpenAPI document publishes, so what it admits is served."""
    if text is None:
        return []
    if not re.fullmatch(resource.filter_pattern, text):
        raise FilterError(_filter_mistake(text, resource))
    found: list[Expression] = []
    for match in _EXPRESSION.finditer(text):
        operator, attribute, values = match.groups()
        found.append((operator, attribute, [_unquote(v) for v in _QUOTED_OR_BARE.findall(values)]))
    return found


def _unquote(value: str) -> str:
    return value[1:-1].replace("''", "'") if value.startswith("'") else value


def _filter_mistake(text: str, resource: Resource) -> str:
    """Why `text` is not a filter we serve, naming the attribute or operator when one is at fault."""
    shown = text if len(text) <= 120 else text[:120] + "..."
    for operator, attribute in _LOOSE_EXPRESSION.findall(text):
        if attribute not in resource.filterable:
            return (
                f"filter attribute {attribute!r} is not one this resource can be filtered on; "
                f"supported: {', '.join(resource.filterable)}"
            )
        if operator not in SINGLE_VALUE_OPERATORS + MULTI_VALUE_OPERATORS:
            return f"filter operator {operator!r} (on {attribute!r}) is unknown; supported: " + ", ".join(
                SINGLE_VALUE_OPERATORS + MULTI_VALUE_OPERATORS
            )
    return (
        f"filter {shown!r} is not a SOL013 filter: write (op,attribute,value) expressions joined by ';'; "
        f"{', '.join(SINGLE_VALUE_OPERATORS)} take one value, {', '.join(MULTI_VALUE_OPERATORS)} a comma-"
        "separated list; quote a value holding , ; ( or ) in single quotes, doubling a quote inside"
    )


def matches(item: Mapping[str, Any], expressions: Sequence[Expression]) -> bool:
    """SOL013 semantics: expressions are ANDed; an attribute inside an array matches when any element
    does; a negated operator (neq, nin, ncont) matches when the positive one matches no element."""
    for operator, attribute, values in expressions:
        positive = NEGATIONS.get(operator, operator)
        hit = any(_compare(positive, found, values) for found in _values_at(item, attribute.split(".")))
        if hit == (operator in NEGATIONS):
            return False
    return True


def _values_at(node: Any, steps: list[str]) -> Iterator[str]:
    if isinstance(node, list):
        for element in node:
            yield from _values_at(element, steps)
    elif not steps:
        if isinstance(node, bool):
            yield "true" if node else "false"
        elif isinstance(node, (str, int, float)):
            yield str(node)
    elif isinstance(node, dict) and steps[0] in node:
        yield from _values_at(node[steps[0]], steps[1:])


def _compare(operator: str, found: str, values: list[str]) -> bool:
    if operator in ("eq", "in"):
        return found in values
    if operator == "cont":
        return any(v in found for v in values)
    # The attributes offered for filtering are strings: the order is the strings' order.
    return bool(ORDERINGS[operator](found, values[0]))


def excluded_attributes(params: Mapping[str, str], resource: Resource) -> set[str]:
    """The complex attributes to leave out, per SOL013 attribute selectors. Combinations SOL013 does
    not list are not refused: all_fields wins, then exclude_fields, then fields/exclude_default."""
    for name in ("exclude_fields", "fields"):
        value = params.get(name)
        if value is not None and not re.fullmatch(resource.fields_pattern, value):
            unknown = [a for a in value.split(",") if a not in resource.complex]
            raise FilterError(
                f"{name} names {', '.join(repr(a) for a in unknown) or 'no attribute'}; "
                f"the complex attributes are {', '.join(resource.complex)}",
            )
    if "all_fields" in params:
        return set()
    if "exclude_fields" in params:
        return set(params["exclude_fields"].split(","))
    if "fields" in params:
        listed = set(params["fields"].split(","))
        kept_out = resource.excluded_by_default if "exclude_default" in params else resource.complex
        return set(kept_out) - listed
    return set(resource.excluded_by_default)
