"""ODRL licence policies compiled to LicenseManager offer terms, and their canonical hash."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from marketplace.contract_manager.policy import (
    MAX_DEPTH,
    MAX_RULES,
    OfferTerms,
    PolicyError,
    PolicyProblem,
    canonical_bytes,
    terms_hash,
)
from marketplace.contract_manager.policy_compiler import compile_policy
from marketplace.contract_manager.policy_templates import generate_policy

PACKAGE = "urn:nfvm:package:" + "ab" * 32
OTHER_PACKAGE = "urn:nfvm:package:" + "cd" * 32
PROVIDER = "urn:ethereum:0x" + "12" * 20
TOKEN = "0x" + "Ab" * 20
ODRL = "http://www.w3.org/ns/odrl/2/"
ALL_ACTIONS = frozenset({"use", "instantiate", "download"})
NO_PROHIBITIONS: frozenset[str] = frozenset()
LICENCE_PROHIBITIONS = frozenset({"distribute", "modify"})


def terms(**changes: Any) -> OfferTerms:
    base: dict[str, Any] = {
        "kind": "public",
        "price": 0,
        "token": None,
        "duration_s": 0,
        "seats": 0,
        "transferable": False,
        "not_before": None,
        "not_after": None,
        "regions": (),
        "actions": ALL_ACTIONS,
        "prohibited": NO_PROHIBITIONS,
        "attribution": False,
    }
    return OfferTerms(**{**base, **changes})


def problems(document: dict[str, Any], **kwargs: Any) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        compile_policy(document, **kwargs)
    return [str(p) for p in caught.value.problems]


def policy(*permissions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A hand-written Offer in the style of the W3C ODRL examples."""
    return {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Offer",
        "uid": "http://example.com/policy:42",
        "target": PACKAGE,
        "assigner": PROVIDER,
        "permission": list(permissions),
        **extra,
    }


def count(n: Any, operator: str = "lteq") -> dict[str, Any]:
    return {"leftOperand": "count", "operator": operator, "rightOperand": n}


def period(duration: str) -> dict[str, Any]:
    return {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": duration}


def pay(amount: Any, unit: str) -> dict[str, Any]:
    refinement = {"leftOperand": "payAmount", "operator": "eq", "rightOperand": amount, "unit": unit}
    return {"action": [{"rdf:value": {"@id": "odrl:compensate"}, "refinement": [refinement]}]}


# ------------------------------------------------------------------ generated cases round-trip

GENERATED = [
    pytest.param({"kind": "public"}, terms(), id="public"),
    pytest.param(
        {"kind": "trial", "duration_days": 30, "seats": 2},
        terms(kind="trial", duration_s=30 * 86400, seats=2, prohibited=LICENCE_PROHIBITIONS),
        id="trial",
    ),
    pytest.param(
        {"kind": "private", "price": 5 * 10**17, "seats": 4},
        terms(kind="private", price=5 * 10**17, seats=4, prohibited=LICENCE_PROHIBITIONS),
        id="private-ether",
    ),
    pytest.param(
        {
            "kind": "private",
            "price": 2**200,
            "token": TOKEN,
            "seats": 10,
            "duration_days": 365,
            "transferable": True,
            "regions": ("FR", "DE", "urn:iso:std:iso:3166:-2:ES-CT"),
        },
        terms(
            kind="private",
            price=2**200,
            token=TOKEN.lower(),
            seats=10,
            duration_s=365 * 86400,
            transferable=True,
            regions=("DE", "FR", "urn:iso:std:iso:3166:-2:ES-CT"),
            prohibited=LICENCE_PROHIBITIONS,
        ),
        id="private-token-transferable-regions",
    ),
]


@pytest.mark.parametrize(("arguments", "expected"), GENERATED)
def test_generated_policies_compile_back_to_their_terms(arguments: dict[str, Any], expected: OfferTerms) -> None:
    document = generate_policy(target=PACKAGE, assigner=PROVIDER, **arguments)
    assert compile_policy(document, target=PACKAGE) == expected
    # The document survives a JSON round trip unchanged, hash included.
    reloaded = json.loads(json.dumps(document))
    assert compile_policy(reloaded) == expected
    assert terms_hash(reloaded) == terms_hash(document)


@pytest.mark.parametrize(("arguments", "expected"), GENERATED)
def test_terms_hash_ignores_key_order_and_whitespace(arguments: dict[str, Any], expected: OfferTerms) -> None:
    document = generate_policy(target=PACKAGE, assigner=PROVIDER, **arguments)
    shuffled = json.loads(json.dumps(_reverse_keys(document), indent=4))
    assert list(shuffled) != list(document)
    digest = terms_hash(document)
    assert len(digest) == 32
    assert terms_hash(shuffled) == digest == hashlib.sha256(canonical_bytes(document)).digest()
    assert generate_policy(target=PACKAGE, assigner=PROVIDER, **arguments) == document


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


@pytest.mark.parametrize(
    "changed",
    [
        {"price": 10**18 + 1},
        {"seats": 3},
        {"duration_days": 31},
        {"token": TOKEN},
        {"transferable": True},
        {"regions": ("FR",)},
    ],
)
def test_terms_hash_changes_with_any_term(changed: dict[str, Any]) -> None:
    base: dict[str, Any] = {"kind": "private", "price": 10**18, "seats": 2, "duration_days": 30}
    first = generate_policy(target=PACKAGE, assigner=PROVIDER, **base)
    second = generate_policy(target=PACKAGE, assigner=PROVIDER, **{**base, **changed})
    assert terms_hash(first) != terms_hash(second)
    edited = copy.deepcopy(first)
    edited["permission"][1]["constraint"][0]["rightOperand"] = 3
    assert terms_hash(edited) != terms_hash(first)


def test_explicit_uid_is_kept() -> None:
    document = generate_policy(kind="public", target=PACKAGE, assigner=PROVIDER, uid="urn:uuid:1")
    assert document["uid"] == "urn:uuid:1"


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"kind": "public", "seats": 3}, "public offers have unlimited seats"),
        ({"kind": "public", "price": 5, "seats": 1}, "not a public one"),
        ({"kind": "trial", "duration_days": 7}, "a trial needs a count"),
        ({"kind": "trial", "seats": 1}, "public offers have unlimited seats"),
        ({"kind": "private", "price": 0, "seats": 1}, "a compensate duty of zero"),
        ({"kind": "private", "price": 5}, "a paid offer needs a count"),
        ({"kind": "trial", "seats": 1, "duration_days": 7, "transferable": True}, "only paid offers"),
    ],
)
def test_generate_rejects_arguments_that_make_no_valid_offer(arguments: dict[str, Any], fragment: str) -> None:
    with pytest.raises(PolicyError, match=fragment):
        generate_policy(target=PACKAGE, assigner=PROVIDER, **arguments)


# ------------------------------------------------------------------ hand-written documents


def test_w3c_style_offer_with_full_iris() -> None:
    document = {
        "@context": ["http://www.w3.org/ns/odrl.jsonld"],
        "@type": ODRL + "Offer",
        "uid": "http://example.com/policy:1010",
        "profile": {"@id": "urn:nfvm:odrl:profile"},
        "permission": [
            {
                "target": {"@id": PACKAGE},
                "assigner": {"@type": "Party", "uid": "did:web:provider.example"},
                "action": {"@id": ODRL + "use"},
                "constraint": [
                    {
                        "leftOperand": ODRL + "dateTime",
                        "operator": {"@id": ODRL + "gteq"},
                        "rightOperand": {"@value": "2026-01-01T00:00:00Z", "@type": "xsd:dateTime"},
                    },
                    {
                        "leftOperand": "odrl:dateTime",
                        "operator": "odrl:lt",
                        "rightOperand": {"@value": "2026-12-31T12:00:00+01:00", "@type": "xsd:dateTime"},
                    },
                    {"leftOperand": ODRL + "spatial", "operator": ODRL + "isAnyOf", "rightOperand": ["DE", "AT"]},
                ],
                "duty": [
                    {
                        "action": [
                            {
                                "rdf:value": {"@id": ODRL + "compensate"},
                                "refinement": [
                                    {
                                        "leftOperand": ODRL + "payAmount",
                                        "operator": ODRL + "eq",
                                        "rightOperand": {"@value": "0.05", "@type": "xsd:decimal"},
                                        "unit": "ETH",
                                    }
                                ],
                            }
                        ],
                        "compensatedParty": "did:web:provider.example",
                    },
                    {"action": ODRL + "attribute", "attributedParty": "did:web:provider.example"},
                ],
            },
            {
                "target": PACKAGE,
                "action": "urn:nfvm:odrl:instantiate",
                "constraint": [count(3), period("P1W")],
            },
            {"target": PACKAGE, "action": ODRL + "transfer"},
        ],
        "prohibition": [{"target": PACKAGE, "action": ODRL + "distribute"}, {"action": "odrl:modify"}],
    }
    document["assigner"] = "did:web:provider.example"
    assert compile_policy(document, target=PACKAGE) == terms(
        kind="private",
        price=5 * 10**16,
        seats=3,
        duration_s=7 * 86400,
        transferable=True,
        not_before=datetime(2026, 1, 1, tzinfo=UTC),
        not_after=datetime(2026, 12, 31, 11, tzinfo=UTC),
        regions=("AT", "DE"),
        actions=frozenset({"use", "instantiate"}),
        prohibited=LICENCE_PROHIBITIONS,
        attribution=True,
    )


def test_short_names_and_top_level_obligation() -> None:
    document = policy(
        {"action": "use"},
        {"action": "instantiate", "constraint": [count(6, "lt")]},
        {"action": "download"},
        obligation=[pay("1500", "urn:nfvm:currency:wei"), {"action": "attribute"}],
    )
    assert compile_policy(document) == terms(kind="private", price=1500, seats=5, attribution=True)


def test_trial_from_hand_written_set() -> None:
    document = policy(
        {
            "action": "use",
            "constraint": [
                count(1),
                period("PT12H"),
                {"leftOperand": "spatial", "operator": "eq", "rightOperand": {"@id": "urn:iso:std:iso:3166:FR"}},
            ],
        }
    )
    document["@type"] = "Set"
    del document["assigner"]
    assert compile_policy(document) == terms(
        kind="trial", seats=1, duration_s=12 * 3600, regions=("urn:iso:std:iso:3166:FR",), actions=frozenset({"use"})
    )


def test_erc20_price_in_token_units() -> None:
    document = policy({"action": "use", "constraint": [count(2)]}, obligation=[pay(7, "urn:nfvm:erc20:" + TOKEN)])
    assert compile_policy(document) == terms(
        kind="private", price=7, token=TOKEN.lower(), seats=2, actions=frozenset({"use"})
    )


def test_dateTime_bounds_narrow_and_equal_inclusive_bounds_are_one_instant() -> None:
    def at(operator: str, when: str) -> dict[str, Any]:
        return {"leftOperand": "dateTime", "operator": operator, "rightOperand": when}

    document = policy(
        {"action": "use", "constraint": [at("gteq", "2026-01-01T00:00:00Z"), at("lteq", "2026-06-01T00:00:00Z")]},
        {"action": "download", "constraint": [at("gt", "2026-02-01T00:00:00Z"), at("lteq", "2026-02-01T00:00:00Z")]},
    )
    assert problems(document) == [
        "permission[1].constraint[1]: the dateTime window is empty: "
        "it ends before permission[1].constraint[0] lets it start"
    ]
    document["permission"][1]["constraint"][0]["operator"] = "gteq"
    compiled = compile_policy(document)
    assert compiled.not_before == compiled.not_after == datetime(2026, 2, 1, tzinfo=UTC)


# ------------------------------------------------------------------ errors, each with its path

UNSUPPORTED = [
    pytest.param(
        lambda d: (
            d["permission"][0]
            .setdefault("constraint", [count(1), {}])[1]
            .update(leftOperand="spatialCoordinates", operator="eq", rightOperand="x")
        ),
        'permission[0].constraint[1].leftOperand: "spatialCoordinates" is not supported; '
        "supported: count, dateTime, elapsedTime, spatial",
        id="left-operand",
    ),
    pytest.param(
        lambda d: d["permission"].append({"action": "reproduce"}),
        'permission[1].action: "reproduce" is not supported; supported: download, instantiate, transfer, use',
        id="permission-action",
    ),
    pytest.param(
        lambda d: d.update(prohibition=[{"action": ODRL + "play"}]),
        f'prohibition[0].action: "{ODRL}play" is not supported; supported: distribute, modify',
        id="prohibition-action",
    ),
    pytest.param(
        lambda d: d.update(obligation=[{"action": "inform"}]),
        'obligation[0].action: "inform" is not supported; supported: attribute, compensate',
        id="duty-action",
    ),
    pytest.param(
        lambda d: d["permission"][0].update(constraint=[count(2, "gteq")]),
        'permission[0].constraint[0].operator: "gteq" is not supported; supported: lt, lteq',
        id="count-operator",
    ),
    pytest.param(
        lambda d: d["permission"][0].update(constraint=[{**period("P3D"), "operator": "eq"}]),
        'permission[0].constraint[0].operator: "eq" is not supported; supported: lteq',
        id="elapsed-operator",
    ),
    pytest.param(
        lambda d: d.update(conflict="perm"),
        'conflict: "conflict" is not supported; supported: @context, @type, assignee, assigner, obligation, '
        "permission, profile, prohibition, target, uid",
        id="policy-key",
    ),
    pytest.param(
        lambda d: d.update(prohibition=[{"action": "modify", "remedy": [{"action": "delete"}]}]),
        'prohibition[0].remedy: "remedy" is not supported; supported: action, assignee, assigner, target, uid',
        id="remedy",
    ),
    pytest.param(
        lambda d: d["permission"][0].update(constraint=[{"and": [count(1)]}]),
        "permission[0].constraint[0]: logical constraints (and, or, xone, andSequence) are not supported",
        id="logical-constraint",
    ),
    pytest.param(
        lambda d: d.update(obligation=[pay("1", "http://dbpedia.org/resource/Euro")]),
        'obligation[0].action[0].refinement[0].unit: "http://dbpedia.org/resource/Euro" is not supported; '
        "supported: ETH, urn:nfvm:currency:ether, urn:nfvm:currency:wei, urn:nfvm:erc20:0x<address>",
        id="currency",
    ),
    pytest.param(
        lambda d: d.update(profile="http://example.com/odrl:profile:01"),
        'profile: "http://example.com/odrl:profile:01" is not supported; supported: urn:nfvm:odrl:profile',
        id="profile",
    ),
    pytest.param(
        lambda d: d.update({"@context": "https://schema.org"}),
        '@context: "https://schema.org" is not supported; supported: http://www.w3.org/ns/odrl.jsonld',
        id="context",
    ),
    pytest.param(
        lambda d: d.update({"@type": "Request"}),
        '@type: "Request" is not supported; supported: Agreement, Offer, Set',
        id="policy-type",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), UNSUPPORTED)
def test_unsupported_terms_are_named_with_their_path(edit: Any, expected: str) -> None:
    document = policy({"action": "use"})
    edit(document)
    assert expected in problems(document)


CONTRADICTIONS = [
    pytest.param(
        policy({"action": "use"}, obligation=[pay("5", "urn:nfvm:currency:wei")]) | {},
        "permission: a paid offer needs a count constraint: the concurrent instances it allows",
        id="private-without-count",
    ),
    pytest.param(
        policy({"action": "use", "constraint": [period("P30D")]}),
        "permission: a trial needs a count constraint: the concurrent instances it allows",
        id="trial-without-count",
    ),
    pytest.param(
        policy({"action": "use", "constraint": [count(2)]}),
        "permission[0].constraint[0]: a free offer without an elapsedTime period is public, and public offers have "
        "unlimited seats: add an elapsedTime period (trial) or a compensate duty (private)",
        id="public-with-count",
    ),
    pytest.param(
        policy(
            {"action": "use", "constraint": [count(2), period("P1D")]},
            {"action": "instantiate", "constraint": [count(3)]},
        ),
        "permission[1].constraint[0]: count 3 contradicts permission[0].constraint[0]",
        id="two-counts",
    ),
    pytest.param(
        policy({"action": "use", "constraint": [count(2), period("P1D")]}, {"action": "transfer"}),
        "permission[1]: only paid offers can be transferable; this one is trial",
        id="transferable-trial",
    ),
    pytest.param(
        policy({"action": "use"}, {"action": "distribute"}, prohibition=[{"action": "distribute"}]),
        'prohibition[0]: "distribute" is both permitted (permission[1]) and prohibited',
        id="permitted-and-prohibited",
    ),
    pytest.param(
        policy({"action": "use"}, {"action": ODRL + "use"}),
        'permission[1].action: "use" is already permitted by permission[0]',
        id="duplicate-permission",
    ),
    pytest.param(
        policy({"action": "transfer"}),
        "permission: the policy must permit at least one of: download, instantiate, use",
        id="nothing-permitted",
    ),
    pytest.param(
        policy(
            {"action": "use", "constraint": [count(1)]},
            obligation=[pay("1", "ETH"), pay("2", "ETH")],
        ),
        "obligation[1]: a second compensate duty; obligation[0] has one",
        id="two-prices",
    ),
    pytest.param(
        policy({"action": "use", "constraint": [count(1)]}, obligation=[pay("0", "ETH")]),
        "obligation[0].action[0].refinement[0].rightOperand: a compensate duty of zero: omit the duty for a free offer",
        id="zero-price",
    ),
    pytest.param(
        policy({"action": "use", "constraint": [count(1)]}, obligation=[pay("1.5", "urn:nfvm:currency:wei")]),
        "obligation[0].action[0].refinement[0].rightOperand: 1.5 is not a whole number of wei",
        id="fractional-wei",
    ),
    pytest.param(
        policy({"action": "use", "constraint": [count(1)]}, obligation=[pay("0.0000000000000000001", "ETH")]),
        "obligation[0].action[0].refinement[0].rightOperand: 1E-19 is not a whole number of wei",
        id="sub-wei-ether",
    ),
    pytest.param(
        policy({"action": "use", "constraint": [count(1)]}, obligation=[{"action": "compensate"}]),
        "obligation[0].action: compensate needs a payAmount refinement with a unit",
        id="compensate-without-amount",
    ),
    pytest.param(
        policy({"action": "use", "constraint": [count(1), period("P1M")]}),
        'permission[0].constraint[1].rightOperand: "P1M" is not an ISO 8601 duration such as P30D or PT12H '
        "(years and months have no fixed length: use days)",
        id="month-period",
    ),
    pytest.param(
        policy({"action": "use", "constraint": [count(1, "lt"), period("P1D")]}),
        "permission[0].constraint[0].rightOperand: the count allows no instance at all",
        id="zero-seats",
    ),
    pytest.param(
        policy(
            {
                "action": "use",
                "constraint": [{"leftOperand": "dateTime", "operator": "lt", "rightOperand": "2026-01-01T00:00:00"}],
            }
        ),
        'permission[0].constraint[0].rightOperand: "2026-01-01T00:00:00" has no time zone; add Z or an offset',
        id="naive-datetime",
    ),
    pytest.param(
        policy(
            {"action": "use", "constraint": [{"leftOperand": "spatial", "operator": "isAnyOf", "rightOperand": ["de"]}]}
        ),
        'permission[0].constraint[0].rightOperand[0]: "de" is not a region: use an ISO 3166 code such as DE or an IRI',
        id="bad-region",
    ),
    pytest.param(
        policy({"action": "use"}) | {"target": "urn:nfvm:package:xyz"},
        'target: "urn:nfvm:package:xyz" is not a package: use urn:nfvm:package:<64 lower-case hex digits>',
        id="bad-target",
    ),
    pytest.param(
        policy({"action": "use"}) | {"assigner": "0x" + "12" * 20},
        f'assigner: "0x{"12" * 20}" is not a party: use urn:ethereum:0x<40 hex digits> or a DID',
        id="bad-assigner",
    ),
    pytest.param(
        policy({"action": "use", "target": OTHER_PACKAGE}),
        f'permission[0].target: "{OTHER_PACKAGE}" differs from the policy\'s target "{PACKAGE}"',
        id="two-targets",
    ),
    pytest.param(
        {k: v for k, v in policy({"action": "use"}).items() if k != "uid"},
        "uid: the policy needs a uid (an IRI)",
        id="no-uid",
    ),
    pytest.param(
        policy({"action": "use"}, obligation=[pay("1", "ETH") | {"compensatedParty": "did:web:someone.else"}]),
        "obligation[0].compensatedParty: payments go to the offer's provider: it must be the assigner",
        id="someone-else-paid",
    ),
]


@pytest.mark.parametrize(("document", "expected"), CONTRADICTIONS)
def test_contradictions_and_bad_values_are_named_with_their_path(document: dict[str, Any], expected: str) -> None:
    assert expected in problems(document)


def test_every_problem_is_reported_at_once() -> None:
    document = policy(
        {"action": "use", "constraint": [{"leftOperand": "spatialCoordinates", "operator": "eq", "rightOperand": 1}]},
        {"action": "reproduce"},
        prohibition=[{"action": "use"}],
    )
    del document["uid"]
    with pytest.raises(PolicyError) as caught:
        compile_policy(document)
    error = caught.value
    paths = [p.path for p in error.problems]
    assert paths == [
        "uid",
        "permission[0].constraint[0].leftOperand",
        "permission[1].action",
        "prohibition[0].action",
        "prohibition[0]",
    ]
    assert all(isinstance(p, PolicyProblem) for p in error.problems)
    assert all(str(p) in str(error) for p in error.problems)
    assert isinstance(error, ValueError)


def test_target_must_be_the_expected_package() -> None:
    assert problems(policy({"action": "use"}), target=OTHER_PACKAGE) == [
        f'target: the policy is about "{PACKAGE}", not the package "{OTHER_PACKAGE}"'
    ]


def test_offer_needs_an_assigner_and_agreement_an_assignee() -> None:
    document = policy({"action": "use"})
    del document["assigner"]
    assert problems(document) == ["assigner: an Offer needs an assigner: the provider, as urn:ethereum:0x… or a DID"]
    document = policy({"action": "use"}) | {"@type": "Agreement"}
    assert problems(document) == ["assignee: an Agreement needs an assignee: the licensee"]
    document["assignee"] = "urn:ethereum:0x" + "34" * 20
    assert compile_policy(document).kind == "public"


# ------------------------------------------------------------------ canonical JSON and bounds


def test_canonical_json_sorts_keys_by_utf16_and_keeps_unicode_literal() -> None:
    document = {
        "b": [1, {"z": None, "a": True}, -7],
        "a": 'caf\u00e9 \U0001f600 \u2028 "q" \\ \n\t\x01\x7f',
        "\ufb01": 1,  # U+FB01 sorts after U+1F600 by code point but before it by UTF-16 code unit (0xD83D).
        "\U0001f600": 2,
        "": {},
    }
    expected = (
        '{"":{},"a":"caf\u00e9 \U0001f600 \u2028 \\"q\\" \\\\ \\n\\t\\u0001\x7f",'
        '"b":[1,{"a":true,"z":null},-7],"\U0001f600":2,"\ufb01":1}'
    )
    assert canonical_bytes(document) == expected.encode("utf-8")


def test_canonical_json_nested_objects() -> None:
    assert canonical_bytes({"x": {"y": {"b": [], "a": [{"d": "1.50", "c": 0}]}}}) == (
        b'{"x":{"y":{"a":[{"c":0,"d":"1.50"}],"b":[]}}}'
    )


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (1.5, "x: number 1.5 is not an integer; write decimals as strings"),
        (2**53, f"x: integer {2**53} is too large to be exact; write it as a string"),
        ("\ud800", "x: string contains a lone surrogate"),
    ],
)
def test_canonical_json_rejects_inexact_or_invalid_values(value: Any, fragment: str) -> None:
    with pytest.raises(PolicyError) as caught:
        canonical_bytes({"x": value})
    assert any(fragment in str(p) for p in caught.value.problems)


def test_float_amount_in_policy_is_rejected() -> None:
    document = policy({"action": "use", "constraint": [count(1)]}, obligation=[pay(0.05, "ETH")])
    assert problems(document) == [
        "obligation[0].action[0].refinement[0].rightOperand: number 0.05 is not an integer; write decimals as strings"
    ]


def test_size_bound() -> None:
    document = policy({"action": "use"})
    document["uid"] = "urn:x:" + "a" * (64 * 1024)
    assert problems(document)[0].startswith("the document is ")
    assert "at most 65536 are allowed" in problems(document)[0]


def test_depth_bound() -> None:
    nested: Any = "deep"
    for _ in range(MAX_DEPTH):
        nested = [nested]
    document = policy({"action": "use"})
    document["uid"] = nested
    found = problems(document)
    assert found == [f"uid{'[0]' * (MAX_DEPTH - 1)}: nesting deeper than {MAX_DEPTH} levels is not allowed"]
    with pytest.raises(PolicyError):
        terms_hash(document)
    # Far beyond the bound, still a PolicyError rather than a RecursionError.
    for _ in range(100_000):
        nested = [nested]
    document["uid"] = nested
    with pytest.raises(PolicyError):
        compile_policy(document)


def test_rule_bound() -> None:
    rules = [{"action": "use"}] + [{"action": "use", "duty": [{"action": "attribute"}]}] * (MAX_RULES // 2)
    assert problems(policy(*rules)) == [
        f"the policy has {1 + MAX_RULES} rules and duties; at most {MAX_RULES} are allowed"
    ]


def test_non_object_policy() -> None:
    with pytest.raises(PolicyError, match="a policy is a JSON object, not a list"):
        compile_policy([])  # type: ignore[arg-type]


_ASSIGNER = "urn:ethereum:0x" + "ab" * 20
_TARGET = "urn:nfvm:package:" + "cd" * 32


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"kind": "public"}, "03c2a299681eab5be26327d665165884847f0565f78eb484304630aa6a4bffaf"),
        (
            {"kind": "trial", "duration_days": 14, "seats": 1},
            "70c2d323b93a1c2e69efbfbfc3476bfbb3ecb3f2128e6ea79793e2446af16eb6",
        ),
        (
            {"kind": "private", "price": 20_000_000_000_000_000, "seats": 2},
            "457f266756d560db129a556e5aafe3466ab6fe2a15e7dc192430e88e81be6459",
        ),
        (
            {
                "kind": "private",
                "price": 5,
                "token": "0x" + "ef" * 20,
                "seats": 3,
                "duration_days": 30,
                "transferable": True,
                "regions": ["DE", "FR"],
            },
            "f1e8a75fd345f9ed88d7822efac97aa0423084e18209a68dbcf9568699c74e44",
        ),
    ],
    ids=["public", "trial", "private-ether", "private-token-transferable-regions"],
)
def test_terms_hash_is_the_one_offers_were_made_with(arguments, expected):
    """The hashes the hand-written canonical form gave before the rfc8785 library replaced it."""
    assert terms_hash(generate_policy(target=_TARGET, assigner=_ASSIGNER, **arguments)).hex() == expected


def test_canonical_form_orders_keys_and_escapes_as_before():
    odd = {
        "uid": "urn:x",
        "z": 'é\u2028\t"\\',
        "a": [1, -2, 2**53 - 1, True, None],
        "\u00e9": {"\U0001f600": "x", "b": ""},
        "A": {},
    }
    assert terms_hash(odd).hex() == "627e22381b0b52da3afc3e3fa3e7a79d57031fbd145d7fee07f473ffc80c6e6e"
