"""The provenance log's public, read-only JSON API (/api/v1/provenance...)."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from marketplace.api import schemas
from marketplace.contract_manager import provenance

router = Router(tags=["provenance"])
E = schemas.Error
Seq = Annotated[int, Field(ge=1, le=2**63 - 1, description="sequence number of the entry (from 1)")]


class ProvenanceQuery(Schema):
    subject: Annotated[str, Field(max_length=provenance.SUBJECT_MAX)] = Field("", description="entries about this")
    kind: Annotated[str, Field(max_length=provenance.KIND_MAX)] = Field("", description="entries of this kind")
    page: int = Field(1, ge=1, le=999_999_999, description="page number")


@router.get("/provenance", response={200: schemas.ProvenancePage, 400: E})
def provenance_list(request: HttpRequest, query: Query[ProvenanceQuery]) -> dict[str, Any]:
    """The provenance log in sequence order (licence decisions and usage events)."""
    return provenance.provenance_page(subject=query.subject or None, kind=query.kind or None, page=query.page)


@router.get("/provenance/{seq}", response={200: schemas.ProvenanceEntry, 400: E, 404: E})
def provenance_entry(request: HttpRequest, seq: Seq) -> dict[str, Any]:
    """One provenance entry."""
    return provenance.provenance_entry_dict(provenance.provenance_entry(seq))


@router.get(
    "/provenance/{seq}/proof",
    url_name="provenance-proof",
    response={200: schemas.ProvenanceProof, 400: E, 404: E, 503: E},
)
def provenance_proof(request: HttpRequest, seq: Seq) -> dict[str, Any]:
    """An entry with its hash inputs, neighbours, anchored range, root and inclusion proof, to verify
    independently."""
    return provenance.provenance_proof(seq)
