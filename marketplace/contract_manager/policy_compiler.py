"""The ODRL policy compiler: validate a provider's ODRL 2.2 policy against the project's profile and
compile it to the LicenseManager's offer terms, reporting every problem with its path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marketplace.contract_manager.policy import (
    CONTEXT,
    ERC20_PREFIX,
    ETHER_UNITS,
    PACKAGE_PREFIX,
    PROFILE,
    SHA256_HEX,
    UINT32,
    UINT64,
    UINT256,
    WEI_UNIT,
    Kind,
    OfferTerms,
    PolicyError,
    PolicyProblem,
    as_iri,
    as_term,
    bounds_problems,
    canonical_bytes,
    join,
    literal_value,
    show,
    show_value,
    type_name,
)

_PERMITTED = ("download", "instantiate", "transfer", "use")


_PROHIBITED = ("distribute", "modify")


_DUTIES = ("attribute", "compensate")


_LEFT_OPERANDS = ("count", "dateTime", "elapsedTime", "spatial")


_POLICY_TYPES = ("Agreement", "Offer", "Set")


_POLICY_KEYS = (
    "@context",
    "@type",
    "assignee",
    "assigner",
    "obligation",
    "permission",
    "profile",
    "prohibition",
    "target",
    "uid",
)


_RULE_KEYS = ("action", "assignee", "assigner", "constraint", "duty", "target", "uid")


_PROHIBITION_KEYS = ("action", "assignee", "assigner", "target", "uid")


_DUTY_KEYS = ("action", "assignee", "assigner", "attributedParty", "compensatedParty", "uid")


_CONSTRAINT_KEYS = ("dataType", "leftOperand", "operator", "rightOperand", "uid", "unit")


_WEI_PER_ETHER = 10**18


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


_ETHEREUM_PARTY = re.compile(r"urn:ethereum:0x[0-9a-fA-F]{40}")


_DID = re.compile(r"did:[a-z0-9]+:(?:[A-Za-z0-9._%-]*:)*[A-Za-z0-9._%-]+")


_REGION_CODE = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")


_DECIMAL = re.compile(r"\d+(?:\.\d+)?")


_DURATION = re.compile(r"P(?:(?P<w>\d+)W|(?:(?P<d>\d+)D)?(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?)")


def compile_policy(document: dict[str, Any], *, target: str | None = None) -> OfferTerms:
    """Validate an ODRL policy and compile it to offer terms; raises PolicyError listing every problem.
    `target`, when given, is the package URN the policy must be about."""
    problems = bounds_problems(document)
    if problems:
        raise PolicyError(problems)
    # Size and number exactness are the canonical form's limits: a policy must be hashable to be offered.
    try:
        canonical_bytes(document)
    except PolicyError as error:
        raise PolicyError(error.problems) from None
    return _Compiler(document, target).run()


@dataclass
class _Constraint:
    path: str
    operand: str
    operator: str
    value: object


class _Compiler:
    def __init__(self, document: dict[str, Any], target: str | None) -> None:
        self.doc = document
        self.expected_target = target
        self.problems: list[PolicyProblem] = []
        self.assigner: str | None = None
        self.target: str | None = None
        self.permitted: dict[str, str] = {}  # action -> path of its permission
        self.prohibited: dict[str, str] = {}
        self.constraints: list[_Constraint] = []
        self.compensations: list[tuple[str, int, str | None]] = []  # path, amount, token
        self.attribution = False
        self.paid = False

    def problem(self, path: str, message: str) -> None:
        self.problems.append(PolicyProblem(path, message))

    def unsupported(self, path: str, value: object, supported: Iterable[str]) -> None:
        self.problem(path, f"{show(value)} is not supported; supported: {', '.join(sorted(supported))}")

    # -------------------------------------------------------------- document

    def run(self) -> OfferTerms:
        doc = self.doc
        self.check_keys(doc, "", _POLICY_KEYS)
        self.check_context(doc.get("@context"))
        self.check_type(doc.get("@type"))
        self.check_uid(doc.get("uid"), "uid", required=True)
        if "profile" in doc:
            profile = as_iri(doc["profile"])
            if profile != PROFILE:
                self.unsupported("profile", doc["profile"], [PROFILE])
        policy_type = as_term(doc.get("@type"))
        if "assigner" in doc:
            self.assigner = self.party(doc["assigner"], "assigner")
        elif policy_type in ("Offer", "Agreement"):
            self.problem("assigner", f"an {policy_type} needs an assigner: the provider, as urn:ethereum:0x… or a DID")
        if "assignee" in doc:
            self.party(doc["assignee"], "assignee")
        elif policy_type == "Agreement":
            self.problem("assignee", "an Agreement needs an assignee: the licensee")
        if "target" in doc:
            self.target = self.package(doc["target"], "target")

        for i, rule in enumerate(self.rule_list("permission")):
            self.permission(rule, f"permission[{i}]")
        for i, rule in enumerate(self.rule_list("prohibition")):
            self.prohibition(rule, f"prohibition[{i}]")
        for i, rule in enumerate(self.rule_list("obligation")):
            self.duty(rule, f"obligation[{i}]")

        if self.target is None:
            self.problem("target", f"the policy needs a target: the package, as {PACKAGE_PREFIX}<sha256>")
        if not {"use", "instantiate", "download"} & self.permitted.keys():
            self.problem("permission", "the policy must permit at least one of: download, instantiate, use")
        for action, path in self.prohibited.items():
            if action in self.permitted:
                self.problem(path, f'"{action}" is both permitted ({self.permitted[action]}) and prohibited')
        terms = self.terms()
        if self.problems or terms is None:
            raise PolicyError(self.problems)
        return terms

    def check_keys(self, obj: dict[str, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in obj:
            if key not in allowed:
                self.unsupported(join(path, str(key)), key, allowed)

    def check_context(self, context: object) -> None:
        if context == CONTEXT or context == [CONTEXT]:
            return
        if context is None:
            self.problem("@context", f'the policy needs "@context": "{CONTEXT}"')
        else:
            self.unsupported("@context", context, [CONTEXT])

    def check_type(self, value: object) -> None:
        if value is None:
            self.problem("@type", "the policy needs an @type: Agreement, Offer or Set")
        elif as_term(value) not in _POLICY_TYPES:
            self.unsupported("@type", value, _POLICY_TYPES)

    def check_uid(self, value: object, path: str, *, required: bool) -> None:
        if value is None:
            if required:
                self.problem(path, "the policy needs a uid (an IRI)")
            return
        uid = as_iri(value)
        if uid is None or ":" not in uid or any(c.isspace() for c in uid):
            self.problem(path, f"{show(value)} is not an IRI")

    def party(self, value: object, path: str) -> str | None:
        party = as_iri(value)
        if isinstance(value, dict) and party is None and set(value) <= {"uid", "@type"}:
            party = value.get("uid") if isinstance(value.get("uid"), str) else None
        if party is not None and _ETHEREUM_PARTY.fullmatch(party):
            return "urn:ethereum:" + party[len("urn:ethereum:") :].lower()
        if party is not None and _DID.fullmatch(party):
            return party
        self.problem(path, f"{show(value)} is not a party: use urn:ethereum:0x<40 hex digits> or a DID")
        return None

    def package(self, value: object, path: str) -> str | None:
        target = as_iri(value)
        if target is None or not (
            target.startswith(PACKAGE_PREFIX) and SHA256_HEX.fullmatch(target[len(PACKAGE_PREFIX) :])
        ):
            self.problem(path, f"{show(value)} is not a package: use {PACKAGE_PREFIX}<64 lower-case hex digits>")
            return None
        if self.expected_target is not None and target != self.expected_target:
            self.problem(path, f'the policy is about "{target}", not the package "{self.expected_target}"')
        if self.target is not None and target != self.target:
            self.problem(path, f'"{target}" differs from the policy\'s target "{self.target}"')
        return target

    def rule_list(self, key: str) -> list[object]:
        value = self.doc.get(key)
        if value is None:
            return []
        if isinstance(value, dict):
            return [value]
        if isinstance(value, list):
            return value
        self.problem(key, f"{key} must be a list of rules, not {type_name(value)}")
        return []

    def rule_common(self, rule: dict[str, Any], path: str) -> None:
        if "uid" in rule:
            self.check_uid(rule["uid"], join(path, "uid"), required=False)
        if "target" in rule:
            target = self.package(rule["target"], join(path, "target"))
            self.target = self.target or target
        if "assigner" in rule:
            assigner = self.party(rule["assigner"], join(path, "assigner"))
            if assigner is not None and self.assigner is not None and assigner != self.assigner:
                self.problem(join(path, "assigner"), "differs from the policy's assigner")
        if "assignee" in rule:
            self.party(rule["assignee"], join(path, "assignee"))

    # -------------------------------------------------------------- rules

    def permission(self, rule: object, path: str) -> None:
        if not isinstance(rule, dict):
            self.problem(path, f"a permission is an object, not {type_name(rule)}")
            return
        self.check_keys(rule, path, _RULE_KEYS)
        self.rule_common(rule, path)
        action, raw, _, action_path = self.action(rule, path)
        if action is not None:
            if action not in _PERMITTED:
                self.unsupported(action_path, raw, _PERMITTED)
            if action in self.permitted:
                self.problem(action_path, f'"{action}" is already permitted by {self.permitted[action]}')
            else:
                self.permitted[action] = path
        for i, item in enumerate(self.items(rule, "constraint", path)):
            self.constraint(item, f"{path}.constraint[{i}]")
        for i, item in enumerate(self.items(rule, "duty", path)):
            self.duty(item, f"{path}.duty[{i}]")

    def prohibition(self, rule: object, path: str) -> None:
        if not isinstance(rule, dict):
            self.problem(path, f"a prohibition is an object, not {type_name(rule)}")
            return
        # Constraints and remedies on prohibitions are outside the subset: the keys check names them.
        self.check_keys(rule, path, _PROHIBITION_KEYS)
        self.rule_common(rule, path)
        action, raw, _, action_path = self.action(rule, path)
        if action is not None:
            if action not in _PROHIBITED:
                self.unsupported(action_path, raw, _PROHIBITED)
            if action in self.prohibited:
                self.problem(action_path, f'"{action}" is already prohibited by {self.prohibited[action]}')
            else:
                self.prohibited[action] = path

    def duty(self, rule: object, path: str) -> None:
        if not isinstance(rule, dict):
            self.problem(path, f"a duty is an object, not {type_name(rule)}")
            return
        self.check_keys(rule, path, _DUTY_KEYS)
        self.rule_common(rule, path)
        for key in ("compensatedParty", "attributedParty"):
            if key in rule:
                party = self.party(rule[key], join(path, key))
                if key == "compensatedParty" and party and self.assigner and party != self.assigner:
                    self.problem(join(path, key), "payments go to the offer's provider: it must be the assigner")
        action, raw, refinements, action_path = self.action(rule, path)
        if action is None:
            return
        if action not in _DUTIES:
            self.unsupported(action_path, raw, _DUTIES)
            return
        if action == "attribute":
            if refinements is not None:
                self.problem(join(action_path, "refinement"), "attribute takes no refinement")
            self.attribution = True
            return
        # A compensate duty makes the offer paid even when its amount is wrong, so the kind rules stay quiet.
        self.paid = True
        self.compensate(refinements, action_path, path)

    def action(self, rule: dict[str, Any], path: str) -> tuple[str | None, object, list[object] | None, str]:
        """The rule's action as a short name, the value as written, its refinements if any, and its path."""
        path = join(path, "action")
        value = rule.get("action")
        if value is None:
            self.problem(path, "the rule needs an action")
            return None, None, None, path
        if isinstance(value, list):
            if len(value) != 1:
                self.problem(path, "a rule has exactly one action")
                return None, value, None, path
            value, path = value[0], f"{path}[0]"
        refinements: list[object] | None = None
        raw = value
        if isinstance(value, dict) and "rdf:value" in value:
            for key in value:
                if key not in ("rdf:value", "refinement"):
                    self.unsupported(join(path, str(key)), key, ["rdf:value", "refinement"])
            raw = value["rdf:value"]
            if "refinement" in value:
                ref = value["refinement"]
                refinements = ref if isinstance(ref, list) else [ref]
        name = as_term(raw)
        if name is None:
            self.problem(path, f"{show(raw)} is not an action name or IRI")
        return name, raw, refinements, path

    def items(self, rule: dict[str, Any], key: str, path: str) -> list[object]:
        value = rule.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        if isinstance(value, dict):
            return [value]
        self.problem(join(path, key), f"{key} must be a list of objects, not {type_name(value)}")
        return []

    # -------------------------------------------------------------- constraints

    def constraint(self, item: object, path: str) -> None:
        if not isinstance(item, dict):
            self.problem(path, f"a constraint is an object, not {type_name(item)}")
            return
        if {"and", "or", "xone", "andSequence"} & item.keys():
            self.problem(path, "logical constraints (and, or, xone, andSequence) are not supported")
            return
        self.check_keys(item, path, _CONSTRAINT_KEYS)
        operand = self.operand(item, path, _LEFT_OPERANDS)
        operator = self.operator(item, path)
        if operand is None or operator is None:
            return
        if "unit" in item:
            self.problem(join(path, "unit"), f"{operand} takes no unit")
        value = item.get("rightOperand")
        rpath = join(path, "rightOperand")
        if value is None:
            self.problem(rpath, "the constraint needs a rightOperand")
            return
        parsed: object = None
        if operand == "count":
            if self.allowed(path, operator, ("lt", "lteq")):
                parsed = self.integer(value, rpath)
                if isinstance(parsed, int):
                    parsed = parsed - 1 if operator == "lt" else parsed
                    if parsed < 1:
                        self.problem(rpath, "the count allows no instance at all")
                    elif parsed > UINT32:
                        self.problem(rpath, f"at most {UINT32} concurrent instances can be offered")
        elif operand == "dateTime":
            if self.allowed(path, operator, ("gt", "gteq", "lt", "lteq")):
                parsed = self.date_time(value, rpath)
        elif operand == "elapsedTime":
            if self.allowed(path, operator, ("lteq",)):
                parsed = self.duration(value, rpath)
        elif self.allowed(path, operator, ("eq", "isAnyOf")):
            parsed = self.regions(value, rpath, operator)
        if parsed is not None:
            self.constraints.append(_Constraint(path, operand, operator, parsed))

    def operand(self, item: dict[str, Any], path: str, supported: tuple[str, ...]) -> str | None:
        value = item.get("leftOperand")
        if value is None:
            self.problem(join(path, "leftOperand"), "the constraint needs a leftOperand")
            return None
        name = as_term(value)
        if name not in supported:
            self.unsupported(join(path, "leftOperand"), value, supported)
            return None
        return name

    def operator(self, item: dict[str, Any], path: str) -> str | None:
        value = item.get("operator")
        if value is None:
            self.problem(join(path, "operator"), "the constraint needs an operator")
            return None
        name = as_term(value)
        if name is None:
            self.problem(join(path, "operator"), f"{show(value)} is not an operator")
        return name

    def allowed(self, path: str, operator: str, supported: tuple[str, ...]) -> bool:
        if operator in supported:
            return True
        self.unsupported(join(path, "operator"), operator, supported)
        return False

    def integer(self, value: object, path: str) -> int | None:
        literal = literal_value(value)
        if isinstance(literal, int) and not isinstance(literal, bool):
            return literal
        if isinstance(literal, str) and literal.isascii() and literal.isdigit():
            return int(literal)
        self.problem(path, f"{show(value)} is not a non-negative integer")
        return None

    def date_time(self, value: object, path: str) -> datetime | None:
        literal = literal_value(value)
        try:
            if not isinstance(literal, str):
                raise ValueError
            parsed = datetime.fromisoformat(literal)
        except ValueError:
            self.problem(path, f"{show(value)} is not an xsd:dateTime such as 2026-01-31T00:00:00Z")
            return None
        if parsed.tzinfo is None:
            self.problem(path, f"{show(value)} has no time zone; add Z or an offset")
            return None
        return parsed.astimezone(UTC)

    def duration(self, value: object, path: str) -> int | None:
        literal = literal_value(value)
        match = _DURATION.fullmatch(literal) if isinstance(literal, str) else None
        if match is None or literal == "P":
            hint = " (years and months have no fixed length: use days)" if isinstance(literal, str) else ""
            self.problem(path, f"{show(value)} is not an ISO 8601 duration such as P30D or PT12H{hint}")
            return None
        weeks, days, hours, minutes, seconds = (int(match[g] or 0) for g in "wdhms")
        total = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds
        if total == 0:
            self.problem(path, "the period is empty")
            return None
        if total > UINT64:
            self.problem(path, "the period is too long for a licence")
            return None
        return total

    def regions(self, value: object, path: str, operator: str) -> frozenset[str] | None:
        values: list[object]
        if operator == "isAnyOf":
            literal = value.get("@list") if isinstance(value, dict) and set(value) == {"@list"} else value
            if not isinstance(literal, list) or not literal:
                self.problem(path, "isAnyOf takes a non-empty list of regions")
                return None
            values = literal
        else:
            values = [value]
        regions: set[str] = set()
        for i, item in enumerate(values):
            ipath = f"{path}[{i}]" if operator == "isAnyOf" else path
            region = as_iri(item)
            is_code = region is not None and _REGION_CODE.fullmatch(region) is not None
            is_iri = region is not None and ":" in region and not any(c.isspace() for c in region)
            if region is not None and (is_code or is_iri):
                regions.add(region)
            else:
                self.problem(ipath, f"{show(item)} is not a region: use an ISO 3166 code such as DE or an IRI")
        return frozenset(regions) if len(regions) == len(values) else None

    # -------------------------------------------------------------- compensation

    def compensate(self, refinements: list[object] | None, path: str, duty_path: str) -> None:
        if not refinements:
            self.problem(path, "compensate needs a payAmount refinement with a unit")
            return
        found = False
        for i, item in enumerate(refinements):
            rpath = f"{path}.refinement[{i}]"
            if not isinstance(item, dict):
                self.problem(rpath, f"a refinement is an object, not {type_name(item)}")
                continue
            self.check_keys(item, rpath, _CONSTRAINT_KEYS)
            operand = self.operand(item, rpath, ("payAmount",))
            operator = self.operator(item, rpath)
            if operand is None or operator is None or not self.allowed(rpath, operator, ("eq",)):
                continue
            if found:
                self.problem(rpath, "compensate takes one payAmount")
                continue
            found = True
            amount = self.decimal(item.get("rightOperand"), join(rpath, "rightOperand"))
            unit = item.get("unit")
            if unit is None:
                self.problem(join(rpath, "unit"), f"payAmount needs a unit: {WEI_UNIT}, ETH or {ERC20_PREFIX}0x…")
            elif amount is not None:
                priced = self.price(amount, unit, join(rpath, "unit"), join(rpath, "rightOperand"))
                if priced is not None:
                    self.compensations.append((duty_path, *priced))
        if not found and not any(pr.path.startswith(path + ".refinement") for pr in self.problems):
            self.problem(path, "compensate needs a payAmount refinement with a unit")

    def decimal(self, value: object, path: str) -> Decimal | None:
        literal = literal_value(value)
        if isinstance(literal, int) and not isinstance(literal, bool) and literal >= 0:
            return Decimal(literal)
        if isinstance(literal, str) and literal.isascii() and _DECIMAL.fullmatch(literal):
            try:
                return Decimal(literal)
            except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
                pass
        self.problem(path, f"{show(value)} is not a non-negative decimal such as 0.05 (write decimals as strings)")
        return None

    def price(
        self, amount: Decimal, unit_value: object, unit_path: str, amount_path: str
    ) -> tuple[int, str | None] | None:
        unit = as_iri(unit_value)
        token: str | None = None
        if unit == WEI_UNIT:
            scaled = amount
        elif unit in ETHER_UNITS:
            scaled = amount * _WEI_PER_ETHER
        elif unit is not None and unit.startswith(ERC20_PREFIX) and _ADDRESS.fullmatch(unit[len(ERC20_PREFIX) :]):
            scaled, token = amount, unit[len(ERC20_PREFIX) :].lower()
        else:
            self.unsupported(unit_path, unit_value, [WEI_UNIT, *sorted(ETHER_UNITS), ERC20_PREFIX + "0x<address>"])
            return None
        if scaled != scaled.to_integral_value():
            what = "wei" if token is None else "token units"
            self.problem(amount_path, f"{amount} is not a whole number of {what}")
            return None
        price = int(scaled)
        if price == 0:
            self.problem(amount_path, "a compensate duty of zero: omit the duty for a free offer")
            return None
        if price > UINT256:
            self.problem(amount_path, "the price does not fit in uint256")
            return None
        return price, token

    # -------------------------------------------------------------- merging into offer terms

    def single(self, operand: str) -> tuple[_Constraint | None, bool]:
        """The one value a term takes across all permissions; differing values are a contradiction."""
        found = [c for c in self.constraints if c.operand == operand]
        for other in found[1:]:
            if other.value != found[0].value:
                self.problem(other.path, f"{operand} {show_value(other.value)} contradicts {found[0].path}")
                return None, False
        return (found[0] if found else None), True

    def terms(self) -> OfferTerms | None:
        count, ok_count = self.single("count")
        period, ok_period = self.single("elapsedTime")
        spatial, ok_spatial = self.single("spatial")
        not_before, not_after, ok_window = self.window()
        if len(self.compensations) > 1:
            self.problem(self.compensations[1][0], f"a second compensate duty; {self.compensations[0][0]} has one")
        seats = int(count.value) if count is not None and isinstance(count.value, int) else 0
        duration = int(period.value) if period is not None and isinstance(period.value, int) else 0
        transferable = "transfer" in self.permitted
        kind: Kind
        price, token = (self.compensations[0][1], self.compensations[0][2]) if self.compensations else (0, None)
        if self.paid:
            kind = "private"
            if count is None and ok_count:
                self.problem("permission", "a paid offer needs a count constraint: the concurrent instances it allows")
        elif period is not None or not ok_period:
            kind = "trial"
            if count is None and ok_count:
                self.problem("permission", "a trial needs a count constraint: the concurrent instances it allows")
        else:
            kind = "public"
            if count is not None:
                self.problem(
                    count.path,
                    "a free offer without an elapsedTime period is public, and public offers have unlimited seats:"
                    " add an elapsedTime period (trial) or a compensate duty (private)",
                )
        if transferable and kind != "private":
            self.problem(self.permitted["transfer"], f"only paid offers can be transferable; this one is {kind}")
        if not (ok_count and ok_period and ok_spatial and ok_window) or self.problems:
            return None
        regions = tuple(sorted(spatial.value)) if spatial is not None and isinstance(spatial.value, frozenset) else ()
        return OfferTerms(
            kind=kind,
            price=price,
            token=token,
            duration_s=duration,
            seats=seats,
            transferable=transferable,
            not_before=not_before,
            not_after=not_after,
            regions=regions,
            actions=frozenset(self.permitted) - {"transfer"},
            prohibited=frozenset(self.prohibited),
            attribution=self.attribution,
        )

    def window(self) -> tuple[datetime | None, datetime | None, bool]:
        # Several bounds narrow the window; an exclusive bound only matters when the window shrinks to an instant.
        lower: tuple[datetime, bool, str] | None = None
        upper: tuple[datetime, bool, str] | None = None
        for c in self.constraints:
            if c.operand != "dateTime" or not isinstance(c.value, datetime):
                continue
            strict = c.operator in ("gt", "lt")
            if c.operator in ("gt", "gteq"):
                if lower is None or c.value > lower[0] or (c.value == lower[0] and strict):
                    lower = (c.value, strict, c.path)
            elif upper is None or c.value < upper[0] or (c.value == upper[0] and strict):
                upper = (c.value, strict, c.path)
        if lower and upper and (lower[0] > upper[0] or (lower[0] == upper[0] and (lower[1] or upper[1]))):
            self.problem(upper[2], f"the dateTime window is empty: it ends before {lower[2]} lets it start")
            return None, None, False
        return (lower[0] if lower else None), (upper[0] if upper else None), True
