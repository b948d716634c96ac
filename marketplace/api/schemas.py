"""The JSON API's typed request and response schemas; /api/schema is generated from these and the
operations that use them (django-ninja). Plain pydantic models: the presenters build answers as dicts,
which django-ninja's own Schema would read attribute by attribute. Responses allow further fields, so a
newer server's answer still validates against an older client's document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel as Schema
from pydantic import ConfigDict, Field

ObjectIdText = Annotated[str, Field(pattern="^[0-9a-f]{24}$")]
Hash = Annotated[str, Field(pattern="^0x[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]


class Open(Schema):
    model_config = ConfigDict(extra="allow")


class Error(Open):
    error: str
    problems: list[Problem] | None = None
    fields: dict[str, str] | None = None
    hint: str | None = None
    decision: dict[str, Any] | None = None


class Problem(Open):
    rule: str
    message: str
    file: str
    location: str
    severity: Literal["error", "warning"]


class Checksum(Open):
    algorithm: str
    hash: str


class Resources(Open):
    vcpus: int | None = None
    memory_mb: int | None = None
    storage_gb: float | None = None


class Link(Schema):
    title: Annotated[str, Field(max_length=200)] | None = None
    url: Annotated[str, Field(max_length=2000)]


class PackageSummary(Open):
    id: str
    format: Literal["etsi", "osm", "5gtango"]
    kind: Literal["vnf", "ns"]
    vendor: str
    name: str
    version: str
    is_latest: bool
    state: Literal["uploaded", "validated", "published", "deprecated", "revoked"]
    description: str
    category: str
    tags: list[str]
    digest: Checksum
    size: int
    resources: Resources
    uploader: str
    created_at: str


class Descriptor(Open):
    id: str
    kind: Literal["vnf", "ns"]
    descriptor_id: str
    vendor: str
    name: str
    version: str
    file: str | None = None
    connection_points: list[str] = []
    virtual_links: list[str] = []
    resources: Resources | None = None
    images: list[str] | None = None
    constituent_vnfs: list[dict[str, Any]] | None = None
    resolved_vnf_ids: list[str] | None = None
    package: PackageSummary | None = None
    description: str | None = None


class Package(PackageSummary):
    links: list[dict[str, Any]] = []
    filename: str | None = None
    main_descriptor: str
    descriptor_digest: Checksum
    updated_at: str | None = None
    vnfs: list[Descriptor] = []
    network_services: list[Descriptor] = []
    files_count: int
    created: bool | None = None
    warnings: list[Problem] | None = None


class PackagePage(Schema):
    items: list[PackageSummary]
    total: int
    page: int
    per_page: int
    pages: int


class Items(Schema):
    items: list[dict[str, Any]]


class Summaries(Schema):
    items: list[PackageSummary]


class File(Open):
    path: str
    size: int
    checksum: Checksum
    media_type: str


class Files(Schema):
    items: list[File]


class Metadata(Schema):
    """The annotations an uploader may change; the archive and its digest never change."""

    model_config = ConfigDict(extra="forbid")

    description: Annotated[str, Field(max_length=5000)] | None = None
    category: Annotated[str, Field(max_length=64)] | None = None
    tags: Annotated[list[str], Field(max_length=32)] | None = None
    links: Annotated[list[Link], Field(max_length=16)] | None = None


class Batch(Open):
    batch_id: int
    root: str | None = None
    size: int | None = None
    index: int | None = None
    proof: list[str] = []


class Proof(Open):
    package_id: str
    digest: str
    chain_id: int
    registry: str | None = None
    state: Literal["none", "signed", "submitted", "anchored", "chain-reset", "unverifiable", "failed"]
    warning: str | None = None
    mode: Literal["direct", "batch"] | None = None
    publisher: str | None = None
    status: str | None = None
    registration: dict[str, Any] | None = None
    signature: str | None = None
    tx_hash: str | None = None
    block_number: int | None = None
    batch: Batch | None = None
    line: dict[str, Any] | None = Field(
        None, description="the package's line and, once claimed on chain, its owner and current publishing key"
    )


class GraphLink(Schema):
    virtual_link: str
    connection_point: str
    node: str


class Graph(Open):
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    virtual_links: list[str] = []
    links: list[GraphLink] = Field([], description="which connection point of which VNF node attaches to which link")


class Verification(Open):
    checked_at: str
    result: str
    checks: Any = None
    warnings: Any = None
    digests: Any = None


class Nonce(Schema):
    nonce: str
    domain: str
    uri: str
    chain_id: int


class SignIn(Schema):
    message: str = Field(description="the signed EIP-4361 text")
    signature: str = Field(description="its 0x-hex signature")


class Token(Schema):
    token: str
    address: str
    expires_at: str


class TypedData(Schema):
    typed_data: dict[str, Any]


class LineState(Schema):
    name: str = Field(description='"vendor/name", as the package\'s main descriptor names it')
    name_hash: str
    state: Literal["yours", "claiming", "unclaimed"] = Field(
        description="yours: your key acts for the line; claiming: your claim is committed and will be "
        "revealed; unclaimed: sign `claim` too"
    )


class RegistrationToSign(Schema):
    typed_data: dict[str, Any] = Field(description="the EIP-712 Registration to sign")
    claim: dict[str, Any] | None = Field(
        None, description="the EIP-712 LineClaim to sign as well while the package's line has no owner"
    )
    line: LineState


class SignedRegistration(Schema):
    typed_data: dict[str, Any] = Field(description="the EIP-712 payload from GET, as signed")
    signature: str = Field(description="the 0x-hex signature of typed_data")
    mode: Literal["relay", "batch"] = "relay"
    claim_typed_data: dict[str, Any] | None = Field(None, description="the LineClaim from GET, as signed")
    claim_signature: str | None = Field(None, description="the 0x-hex signature of claim_typed_data")


# --- licensing ---


class OfferRequest(Schema):
    kind: Literal["public", "trial", "private"]
    price: Count = 0
    seats: Count | None = None
    duration_days: Count | None = None
    transferable: bool = False
    regions: list[Annotated[str, Field(max_length=64)]] = []


class Offer(Open):
    offer_id: int
    digest: str
    provider: str
    kind: str | None = None
    price: str | int
    token: str | None = None
    duration: int
    seats: int
    terms_hash: str
    transferable: bool
    closed: bool
    tx_hash: str | None = None
    block_number: int | None = None
    has_policy: bool


class Offers(Schema):
    items: list[Offer]


class SignedAgreement(Schema):
    typed_data: dict[str, Any] = Field(description="the signed agreement")
    signature: str = Field(description="its 0x-hex signature")


class Decision(Open):
    permit: bool
    reason: str
    action: str


class Licence(Open):
    licence_id: int
    offer_id: int
    expires_at: int | None = None
    agreement_hash: str | None = None
    tx_hash: str | None = None


class Licences(Schema):
    items: list[Licence]


class SeatOpeningSigned(Schema):
    typed_data: dict[str, Any] = Field(description="the SeatOpening a 428 answer gave, as signed")
    signature: Annotated[str, Field(max_length=300)] = Field(description="the licensee's eth_signTypedData_v4")


class InstanceRequest(Schema):
    ns_id: ObjectIdText
    region: Annotated[str, Field(max_length=64)] | None = None
    seat_opening: SeatOpeningSigned | None = Field(
        None, description="the licensee's signed SeatOpening; without it a licence with seats answers 428"
    )


class Instance(Open):
    id: str
    ns_id: str
    owner: str
    state: str
    offer_id: int | None = None
    licence_id: int | None = None
    driver: str | None = None
    orchestrator_id: str | None = None
    integrity: str | None = None
    integrity_detail: str | None = None
    licence_expired: bool | None = None
    error: str | None = None
    units: int
    created_at: str


class Instances(Schema):
    items: list[Instance]


class ScaleRequest(Schema):
    instances: Annotated[int, Field(strict=True, ge=1, le=1000)] | Annotated[str, Field(pattern="^[+-][0-9]{1,4}$")] = (
        Field(description='the target number of units (1 to 1000), or a change "+N" / "-N"')
    )
    seat_opening: SeatOpeningSigned | None = Field(
        None, description="scaling out: the licensee's signed SeatOpening for the extra seats (else 428)"
    )


class SeatOpeningNeeded(Open):
    error: str
    typed_data: dict[str, Any]


class ScaleFailure(Open):
    error: str
    instance: Instance


class TransferRequest(Schema):
    to: str = Field(description="the recipient's address")


class Transfer(Open):
    decision: dict[str, Any]
    transaction: dict[str, Any] | None = None


# --- provenance ---


class Anchor(Open):
    chain_id: int
    anchor_id: int
    from_seq: int
    to_seq: int
    tx_hash: str | None = None


class ProvenanceEntry(Open):
    seq: int = Field(ge=1)
    kind: str
    actor: str
    subject: str
    payload: Any = None
    created_at: str = Field(description="UTC, milliseconds, trailing Z")
    prev_hash: Hash
    entry_hash: Hash
    anchor: Anchor | None = None


class ProvenancePage(Schema):
    items: list[ProvenanceEntry]
    total: int
    page: int
    per_page: int
    pages: int


class ProvenanceProof(Open):
    seq: int
    state: Literal["unanchored", "submitted", "anchored"]
    entry: dict[str, Any]
    hashing: str
    previous: dict[str, Any] | None = None
    next: dict[str, Any] | None = None
    chain_id: int
    contract: str | None = None
    anchor: dict[str, Any] | None = None


Error.model_rebuild()
