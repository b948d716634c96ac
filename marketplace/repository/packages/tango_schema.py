"""5GTANGO's JSON schemas (NAPD, VNFD, NSD) and their violations as problems, each at its JSON pointer."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator, TypeChecker, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from marketplace.repository.packages import values
from marketplace.repository.packages.problems import Problem

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas" / "5gtango"


SchemaName = Literal["napd", "vnfd", "nsd"]


def _is_integer(checker: TypeChecker, instance: object) -> bool:
    # The official schemas are draft-04, where 2.0 is not an integer; keep that so both agree.
    return isinstance(instance, int) and not isinstance(instance, bool)


_TangoValidator = extend(  # type: ignore[no-untyped-call]  # the jsonschema stubs leave extend() untyped
    Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
)


@functools.cache
def schema_validator(name: SchemaName) -> Validator:
    """The compiled validator for our NAPD, VNFD or NSD schema (built once per process)."""
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    validator: Validator = _TangoValidator(schema)
    return validator


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short(value: object, limit: int = 60) -> str:
    return _clip(repr(value), limit)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _explain(error: ValidationError) -> Iterator[tuple[str, str]]:
    """(location, message) pairs for one schema error; short, without echoing whole subtrees."""
    where = list(error.absolute_path)
    keyword = str(error.validator)
    instance = error.instance
    if keyword == "required" and isinstance(instance, dict) and isinstance(error.validator_value, list):
        # Point at the missing field itself: that is where the developer has to add something.
        for name in error.validator_value:
            if name not in instance:
                yield values.pointer(*[*where, name]), f"required field {name!r} is missing"
    elif keyword == "additionalProperties" and isinstance(instance, dict) and isinstance(error.schema, dict):
        allowed = error.schema.get("properties", {})
        for name in instance:
            if name not in allowed:
                yield values.pointer(*[*where, name]), f"field {short(name)} is not allowed here"
    elif keyword == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        yield values.pointer(*where), f"expected {' or '.join(map(str, expected))}, found {_json_type(instance)}"
    elif keyword == "enum" and isinstance(error.validator_value, list):
        yield values.pointer(*where), f"{short(instance)} is not one of {', '.join(map(str, error.validator_value))}"
    elif keyword in ("anyOf", "oneOf"):
        reasons = sorted({_clip(c.message, 120) for c in error.context or []})[:3]
        yield values.pointer(*where), "matches none of the allowed forms: " + "; ".join(reasons)
    elif keyword == "pattern":
        yield values.pointer(*where), f"{short(instance)} does not match {error.validator_value}"
    else:
        yield values.pointer(*where), _clip(error.message, 200)


def _location_key(problem: Problem) -> tuple[list[tuple[int, int | str]], str]:
    parts = problem.location.split("/")[1:]
    return [(0, int(p)) if p.isdigit() else (1, p) for p in parts], problem.rule


def schema_problems(name: SchemaName, document: Any, file: str) -> list[Problem]:
    """Every violation of our `name` schema, in document order; rule "schema.<keyword>", location the
    JSON pointer of the failing value (of the missing or unexpected field for required/additionalProperties)."""
    found: dict[tuple[str, str, str], Problem] = {}
    for error in schema_validator(name).iter_errors(document):
        rule = f"schema.{error.validator}"
        for location, message in _explain(error):
            found.setdefault((rule, location, message), Problem(rule, message, file=file, location=location))
    return sorted(found.values(), key=_location_key)
