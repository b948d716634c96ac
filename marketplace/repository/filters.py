"""The catalogue's search filters, defined once: the JSON API parses and documents its query parameters
from this schema (django-ninja), and the portal's catalogue form validates through it."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from marketplace.repository.selectors import SORTS, PackageQuery

Kind = Literal["vnf", "ns"]
Format = Literal["etsi", "osm", "5gtango"]
State = Literal["uploaded", "validated", "published", "deprecated", "revoked"]
Sort = Literal[
    "name", "-name", "created", "-created", "vendor", "vcpus", "-vcpus", "memory", "-memory", "price", "-price"
]
Licence = Literal["public", "trial", "private", "none"]
WEI_PER_ETH = 10**18
Registered = Literal["yes", "no"]
Deprecated = Literal["hide", "only"]
MAX_FILTER = 10**12  # bounded well inside what the database's 64-bit numbers hold
Count = Annotated[int, Field(ge=0, le=MAX_FILTER, description="resource range")]
Amount = Annotated[float, Field(ge=0, le=MAX_FILTER, description="resource range")]
Words = Annotated[str, Field(max_length=200)]

assert set(get_args(Sort)) == set(SORTS), "the schema's sort orders are the selector's"

# Package states behind the registered and deprecated filters: the indexer marks a package "published"
# once its registration is seen on chain (marketplace.repository.projections).
_LISTED = frozenset({"uploaded", "validated", "published", "deprecated"})
_REGISTERED = {"yes": {"published"}, "no": {"uploaded", "validated"}}
_DEPRECATED = {"hide": {"uploaded", "validated", "published"}, "only": {"deprecated"}}


class PackageFilters(BaseModel):
    """Every filter is checked: a wrong one is named, never silently ignored. An empty `kind=` is an
    error, not "any kind"; empty words and tags (a form left blank) mean no filter."""

    model_config = ConfigDict(extra="ignore")

    q: Words = Field("", description="words matched against name, vendor, description and tags")
    kind: Kind | None = Field(None, description="VNF or NS packages")
    format: Format | None = Field(None, description="package format")
    vendor: Words = Field("", description="exact vendor")
    uploader: Words = Field("", description="the uploader's address")
    tag: list[Annotated[str, Field(max_length=64)]] = Field(
        [], max_length=8, description="a tag every result carries (repeatable, at most 8)"
    )
    state: State | None = Field(None, description="lifecycle state (revoked packages are hidden unless asked for)")
    registered: Registered | None = Field(None, description="yes: registered on chain; no: not registered")
    deprecated: Deprecated | None = Field(None, description="hide or only deprecated packages")
    min_vcpus: Count | None = None
    max_vcpus: Count | None = None
    min_memory_mb: Count | None = None
    max_memory_mb: Count | None = None
    min_storage_gb: Amount | None = None
    max_storage_gb: Amount | None = None
    licence: Licence | None = Field(
        None, description="an open offer of this licence kind on chain (none: packages no open offer licenses)"
    )
    max_price_eth: Annotated[str, Field(pattern=r"^[0-9]{1,9}(\.[0-9]{1,18})?$", max_length=28)] | None = Field(
        None,
        description="the lowest price on offer is at most this many ETH, as a decimal such as 0.02 (public and "
        "trial offers are free)",
    )
    all_versions: bool = Field(False, description="every version, not only the latest of each line")
    sort: Sort = Field("-created", description="order")
    page: int = Field(1, ge=1, le=MAX_FILTER, description="page number")
    per_page: int = Field(20, ge=1, le=100, description="page size")

    @field_validator("tag")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        return [t.strip().lower() for t in tags if t.strip()]

    def has_filters(self) -> bool:
        """Whether anything narrows the catalogue (sort and paging do not)."""
        given = self.model_dump(exclude={"sort", "page", "per_page"}, exclude_defaults=True)
        return bool(given)

    def to_query(self, *, viewer: str | None = None) -> PackageQuery:
        """The query, as `viewer` (None: anonymous) runs it: it sees the listed packages and its own."""
        states = set(_LISTED)
        states &= _REGISTERED.get(self.registered or "", _LISTED)
        states &= _DEPRECATED.get(self.deprecated or "", _LISTED)
        chosen: tuple[str, ...] = tuple(sorted(states)) if states != _LISTED else ()
        if not states:
            chosen = ("none",)  # the filters exclude each other: nothing matches
        return PackageQuery(
            q=self.q,
            kind=self.kind or "",
            format=self.format or "",
            vendor=self.vendor,
            uploader=self.uploader,
            tags=tuple(self.tag),
            state=self.state or "",
            states=chosen,
            min_vcpus=self.min_vcpus,
            max_vcpus=self.max_vcpus,
            min_memory_mb=self.min_memory_mb,
            max_memory_mb=self.max_memory_mb,
            min_storage_gb=self.min_storage_gb,
            max_storage_gb=self.max_storage_gb,
            all_versions=self.all_versions,
            licence=self.licence or "",
            max_price_wei=int(Decimal(self.max_price_eth) * WEI_PER_ETH) if self.max_price_eth is not None else None,
            sort=self.sort,
            page=self.page,
            per_page=self.per_page,
            viewer=viewer,
        )


# What a pattern-checked filter wants, in words: the pattern itself is in the OpenAPI document.
_PATTERN_MEANS = {"max_price_eth": "a decimal amount of ETH such as 0.02"}


def filter_errors(error: Exception) -> dict[str, str]:
    """A pydantic (or django-ninja) validation error as {field: message}, the form the API and the portal
    show."""
    out: dict[str, str] = {}
    items = getattr(error, "errors", [])
    for item in items() if callable(items) else items:
        location = [str(part) for part in item.get("loc", ()) if part not in ("query", "body", "path")]
        name = location[0] if location else ""
        message = str(item.get("msg", "invalid"))
        if item.get("type") == "string_pattern_mismatch" and name in _PATTERN_MEANS:
            message = f"{_PATTERN_MEANS[name]}, not {item.get('input')!r}"
        out.setdefault(name, message)
    return out
