"""The provenance log's public, read-only JSON API (/api/v1/provenance...) and its OpenAPI paths."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, JsonResponse

from marketplace.api.packages import api_view
from marketplace.contract_manager import provenance
from marketplace.errors import ValidationFailed

JSON = "application/json"
SEQ_MAX = 2**63 - 1  # the database's integers


def _seq(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 19 or not 1 <= int(value) <= SEQ_MAX:
        raise Http404(f"{value!r} is not a sequence number")
    return int(value)


def _text(request: HttpRequest, name: str, limit: int) -> str | None:
    value = request.GET.get(name)
    if value is not None and len(value) > limit:
        raise ValidationFailed({name: f"at most {limit} characters"})
    return value or None


@api_view(("GET",))
def provenance_list(request: HttpRequest) -> JsonResponse:
    raw_page = request.GET.get("page", "1")
    if not raw_page.isascii() or not raw_page.isdigit() or len(raw_page) > 9 or int(raw_page) < 1:
        raise ValidationFailed({"page": "a whole number from 1"})
    subject = _text(request, "subject", provenance.SUBJECT_MAX)
    kind = _text(request, "kind", provenance.KIND_MAX)
    return JsonResponse(provenance.provenance_page(subject=subject, kind=kind, page=int(raw_page)))


@api_view(("GET",))
def provenance_entry(request: HttpRequest, seq: str) -> JsonResponse:
    return JsonResponse(provenance.provenance_entry_dict(provenance.provenance_entry(_seq(seq))))


@api_view(("GET",))
def provenance_proof(request: HttpRequest, seq: str) -> JsonResponse:
    """The entry with its hash inputs, neighbours, anchored range and inclusion proof."""
    return JsonResponse(provenance.provenance_proof(_seq(seq)))


# --- OpenAPI ---


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _obj(required: list[str], properties: dict[str, Any], *, nullable: bool = False) -> dict[str, Any]:
    return {"type": ["object", "null"] if nullable else "object", "required": required, "properties": properties}


HASH = {"type": "string", "pattern": "^0x[0-9a-f]{64}$"}
INT = {"type": "integer"}
TEXT = {"type": "string"}
ERROR = _json(_obj(["error"], {"error": TEXT}), "an error")
HASHED = {
    "seq": {"type": "integer", "minimum": 1},
    "kind": TEXT,
    "actor": TEXT,
    "subject": TEXT,
    "payload": {},
    "created_at": {"type": "string", "description": "UTC, milliseconds, trailing Z"},
    "prev_hash": HASH,
    "entry_hash": HASH,
}
ENTRY = _obj(
    [*HASHED, "anchor"],
    {
        **HASHED,
        "anchor": _obj(
            ["chain_id", "anchor_id", "from_seq", "to_seq", "tx_hash"],
            {
                "chain_id": INT,
                "anchor_id": INT,
                "from_seq": INT,
                "to_seq": INT,
                "tx_hash": {"type": ["string", "null"]},
            },
            nullable=True,
        ),
    },
)
PROOF = _obj(
    ["seq", "state", "entry", "hashing", "previous", "next", "chain_id", "contract", "anchor"],
    {
        "seq": INT,
        "state": {"type": "string", "enum": ["unanchored", "submitted", "anchored"]},
        "entry": _obj(list(HASHED), HASHED),
        "hashing": TEXT,
        "previous": _obj(["seq", "entry_hash"], {"seq": INT, "entry_hash": HASH}, nullable=True),
        "next": _obj(
            ["seq", "prev_hash", "entry_hash"], {"seq": INT, "prev_hash": HASH, "entry_hash": HASH}, nullable=True
        ),
        "chain_id": INT,
        "contract": {"type": ["string", "null"]},
        "anchor": _obj(
            ["anchor_id", "from_seq", "to_seq", "size", "index", "root", "proof", "tx_hash", "block_number"],
            {
                "anchor_id": INT,
                "from_seq": INT,
                "to_seq": INT,
                "size": INT,
                "index": INT,
                "root": HASH,
                "proof": {"type": ["array", "null"], "items": HASH},
                "tx_hash": TEXT,
                "block_number": INT,
            },
            nullable=True,
        ),
    },
)


def provenance_paths() -> dict[str, Any]:
    """The provenance endpoints for marketplace.api.openapi.document()."""
    seq = {
        "name": "seq",
        "in": "path",
        "required": True,
        "description": "sequence number of the entry (from 1)",
        "schema": {"type": "integer", "minimum": 1, "maximum": SEQ_MAX},
    }

    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    not_found = _json(_obj(["error"], {"error": TEXT}), "no such entry")
    return {
        "/api/v1/provenance": {
            "get": {
                "summary": "The provenance log in sequence order (licence decisions and usage events)",
                "parameters": [
                    query("subject", {"type": "string", "maxLength": provenance.SUBJECT_MAX}, "entries about this"),
                    query("kind", {"type": "string", "maxLength": provenance.KIND_MAX}, "entries of this kind"),
                    query("page", {"type": "integer", "minimum": 1, "maximum": 999_999_999}, "page number"),
                ],
                "responses": {
                    "200": _json(
                        _obj(
                            ["items", "total", "page", "per_page", "pages"],
                            {
                                "items": {"type": "array", "items": ENTRY},
                                "total": INT,
                                "page": INT,
                                "per_page": INT,
                                "pages": INT,
                            },
                        ),
                        "a page of entries",
                    ),
                    "400": ERROR,
                },
            }
        },
        "/api/v1/provenance/{seq}": {
            "parameters": [seq],
            "get": {
                "summary": "One provenance entry",
                "responses": {"200": _json(ENTRY, "the entry"), "404": not_found},
            },
        },
        "/api/v1/provenance/{seq}/proof": {
            "parameters": [seq],
            "get": {
                "summary": "An entry with its anchored range, root and inclusion proof, to verify independently",
                "responses": {
                    "200": _json(PROOF, "the proof"),
                    "404": not_found,
                    "503": _json(_obj(["error"], {"error": TEXT}), "the chain is unavailable"),
                },
            },
        },
    }
