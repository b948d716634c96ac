"""Reads of the marketplace's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q

from ledger.client import get_chain_client
from ledger.exceptions import LedgerError
from ledger.models import ContractDeployment, IndexerState
from marketplace.repository.descriptor_facts import Vdu, ns_connections, vnf_vdus
from marketplace.repository.models import NetworkService, Package, PackageState, Vnf
from marketplace.repository.offer_terms import by_licence_terms
from marketplace.repository.packages.types import DescriptorSummary, ParsedDescriptor, VnfRef
from marketplace.repository.search import query_tokens


def vnf_for_ref(ref: VnfRef, *, viewer: str | None) -> Vnf | None:
    """The VNF object an NSD's reference names: by vendor/name/version, or by descriptor id
    (newest version first), among the packages `viewer` (the NS's uploader) may see: another account's
    unlisted upload neither resolves nor says it exists. Revoked packages never satisfy a reference."""
    from marketplace.repository.origin import visible_to

    usable = Vnf.objects.exclude(package__state=PackageState.REVOKED).select_related("package")
    if ref.vendor or ref.name:
        matches = usable.filter(vendor=ref.vendor, name=ref.name)
        if ref.version:
            matches = matches.filter(version=ref.version)
    elif ref.descriptor_id:
        matches = usable.filter(descriptor_id=ref.descriptor_id)
    else:
        return None
    ordered = matches.order_by("-package__version_key", "-created_at")
    first = ordered.first()
    if first is None:
        return None
    owner = Package.objects.filter(pk=first.package_id).only("listed", "uploader").first()  # type: ignore[attr-defined]
    if owner is not None and visible_to(owner, viewer):
        return first
    # The newest is another account's unlisted upload: the newest among those `viewer` may see.
    candidates = list(matches.values_list("package_id", flat=True))
    visible = Package.objects.filter(Q(listed=True) | Q(uploader=viewer or ""), pk__in=candidates)
    return ordered.filter(package_id__in=list(visible.values_list("pk", flat=True))).first()


def vnf_lookup(ref: VnfRef, *, viewer: str | None) -> ParsedDescriptor | None:
    """Validators' view of a VNFD already in the repository, as `viewer` (the uploader) may see it."""
    vnf = vnf_for_ref(ref, viewer=viewer)
    if vnf is None:
        return None
    return ParsedDescriptor(
        file=vnf.file,
        document=vnf.document,
        summary=DescriptorSummary(
            kind="vnf",
            descriptor_id=vnf.descriptor_id,
            vendor=vnf.vendor,
            name=vnf.name,
            version=vnf.version,
            description=vnf.description,
            vcpus=vnf.vcpus,
            memory_mb=vnf.memory_mb,
            storage_gb=vnf.storage_gb,
            images=list(vnf.images),
            connection_points=list(vnf.connection_points),
            virtual_links=list(vnf.virtual_links),
        ),
    )


def package_declares_no_hashes(package: Package) -> bool:
    """An ETSI CSAR that inspection at ingest found without a manifest: it declares no file's hash (SOL004
    requires a manifest; tosca-parser accepts the CSAR without one), so its integrity rests on the archive's
    own SHA-256 alone."""
    ingest = package.verificationrecord_set.order_by("checked_at").first()
    found = ingest.problems if ingest is not None and isinstance(ingest.problems, list) else []
    return any(isinstance(p, dict) and p.get("rule") == "etsi.missing-manifest" for p in found)


def package_references(package: Package) -> list[str]:
    """Why `package` must not be deleted: network services of other packages use its VNFs, or licence offers
    on chain are of it (made through the marketplace or directly on the LicenseManager: their licensees
    depend on its bytes), or instances of it run."""
    from ledger.models import AcquiredLicence
    from marketplace.licensing.models import NsInstance
    from marketplace.licensing.seats import LIVE_STATES
    from marketplace.repository.origin import package_offers as offers_on_chain

    reasons: list[str] = []
    offer_ids = list(offers_on_chain(package, _indexed_chain_id()).values_list("offer_id", flat=True))
    if offer_ids:
        sold = AcquiredLicence.objects.filter(offer_id__in=offer_ids).count()
        reasons.append(
            f"{len(offer_ids)} licence offer{'s' if len(offer_ids) != 1 else ''} on chain "
            f"(#{', #'.join(str(i) for i in offer_ids[:5])}) with {sold} licence{'s' if sold != 1 else ''} sold"
        )
    running = NsInstance.objects.filter(ns__package=package, state__in=LIVE_STATES).count()
    if running:
        reasons.append(f"{running} instance{'s' if running != 1 else ''} of it run")
    vnf_ids = list(Vnf.objects.filter(package=package).values_list("pk", flat=True))
    if vnf_ids:
        users = (
            NetworkService.objects.exclude(package=package).filter(vnf_ids__overlap=vnf_ids).select_related("package")
        )
        for ns in users[:5]:
            name = f"{ns.vendor}/{ns.name} {ns.version}"
            reasons.append(f"network service {name} (package {ns.package.pk}) uses its VNF")
    return reasons


def _indexed_chain_id() -> int:
    """The chain the indexer follows (the embedded store holds one); 0 when it has not started."""
    from ledger.models import IndexerState

    found = IndexerState.objects.values_list("chain_id", flat=True).first()
    return int(found) if found is not None else 0


@dataclass(frozen=True)
class PackageQuery:
    q: str = ""
    kind: str = ""
    format: str = ""
    vendor: str = ""
    tags: tuple[str, ...] = ()
    state: str = ""
    min_vcpus: int | None = None
    max_vcpus: int | None = None
    min_memory_mb: int | None = None
    max_memory_mb: int | None = None
    min_storage_gb: float | None = None
    max_storage_gb: float | None = None
    uploader: str = ""
    # Any of these states (the portal's registered and deprecated filters); `state` wins when set.
    states: tuple[str, ...] = ()
    all_versions: bool = False
    # Licence terms on chain (open offers as indexed): "public", "trial", "private", "none" (no open offer);
    # the lowest price at most `max_price_wei` (free offers count as 0).
    licence: str = ""
    max_price_wei: int | None = None
    sort: str = "-created"
    page: int = 1
    per_page: int = 20
    # Who is looking: besides the listed packages, it sees its own unlisted uploads (lookups.visible_to).
    viewer: str | None = None


@dataclass(frozen=True)
class PackagePage:
    items: list[Package]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _search_stages(query: PackageQuery) -> list[dict[str, Any]]:
    """The query as aggregation $match stages, the most selective indexed condition alone first.

    The embedded store uses an index only for a single-condition filter, so one indexed
    condition narrows the documents and a second stage applies the rest to those few."""
    tokens = query_tokens(query.q)[:8]
    rest: dict[str, Any] = {}
    first: dict[str, Any] = {}
    if tokens:
        first = {"search_tokens": tokens[0]}
        if tokens[1:]:
            rest["search_tokens"] = {"$all": tokens[1:]}
    if not query.all_versions:
        (rest if first else first)["is_latest"] = True
    for key, value in (
        ("kind", query.kind),
        ("format", query.format),
        ("vendor", query.vendor),
        ("uploader", query.uploader),
    ):
        if value:
            (rest if first else first)[key] = value
    if query.tags:
        rest["tags"] = {"$all": list(query.tags)}
    rest["$or"] = [{"listed": True}, {"uploader": query.viewer or ""}]
    # Revoked packages are hidden unless asked for by state.
    if query.state:
        rest["state"] = query.state
    elif query.states:
        rest["state"] = {"$in": [s for s in query.states if s != PackageState.REVOKED]}
    else:
        rest["state"] = {"$ne": str(PackageState.REVOKED)}
    for field_name, low, high in (
        ("vcpus", query.min_vcpus, query.max_vcpus),
        ("memory_mb", query.min_memory_mb, query.max_memory_mb),
        ("storage_gb", query.min_storage_gb, query.max_storage_gb),
    ):
        bounds = {op: v for op, v in (("$gte", low), ("$lte", high)) if v is not None}
        if bounds:
            rest[field_name] = bounds
    return [{"$match": stage} for stage in (first, rest) if stage]


SORTS = {
    "name": [("name", 1), ("vendor", 1), ("version_key", -1)],
    "-name": [("name", -1), ("vendor", -1), ("version_key", -1)],
    "created": [("created_at", 1)],
    "-created": [("created_at", -1)],
    "vendor": [("vendor", 1), ("name", 1)],
    "vcpus": [("vcpus", 1), ("name", 1)],
    "-vcpus": [("vcpus", -1), ("name", 1)],
    "memory": [("memory_mb", 1), ("name", 1)],
    "-memory": [("memory_mb", -1), ("name", 1)],
    # By the lowest price on offer (package_matches orders by it, newest first among equals); packages
    # with no open offer come last.
    "price": [("created_at", -1)],
    "-price": [("created_at", -1)],
}


def package_search(query: PackageQuery) -> PackagePage:
    """Text, filters, sort and pagination over packages; latest version of each line by default."""
    matched = package_matches(query)
    start = (query.page - 1) * query.per_page
    page_ids = matched[start : start + query.per_page]
    found = Package.objects.in_bulk(page_ids)
    items = [found[pk] for pk in page_ids if pk in found]
    return PackagePage(items=items, total=len(matched), page=query.page, per_page=query.per_page)


def package_matches(query: PackageQuery) -> list[Any]:
    """The ids of every package `query` matches, in its sort order, from the process's catalogue
    index (marketplace.repository.catalogue); the same rules as the store query of _search_stages."""
    from marketplace.repository.catalogue import catalogue_index, catalogue_match

    states: set[str] | None = None
    exclude: set[str] = set()
    if query.state:
        states = {query.state}
    elif query.states:
        states = {s for s in query.states if s != PackageState.REVOKED}
    else:
        exclude = {str(PackageState.REVOKED)}
    equal: dict[str, Any] = {
        k: v
        for k, v in (
            ("kind", query.kind),
            ("format", query.format),
            ("vendor", query.vendor),
            ("uploader", query.uploader),
        )
        if v
    }
    if not query.all_versions:
        equal["is_latest"] = True
    found = catalogue_match(
        catalogue_index(),
        viewer=query.viewer,
        tokens=query_tokens(query.q)[:8],
        tags=list(query.tags),
        equal=equal,
        states=states,
        exclude_states=exclude,
        ranges={
            "vcpus": (query.min_vcpus, query.max_vcpus),
            "memory_mb": (query.min_memory_mb, query.max_memory_mb),
            "storage_gb": (query.min_storage_gb, query.max_storage_gb),
        },
        sort=tuple(SORTS.get(query.sort, SORTS["-created"])),
    )
    if query.licence or query.max_price_wei is not None or query.sort in ("price", "-price"):
        found = by_licence_terms(found, query, chain_id=_indexed_chain_id())
    return found


def _line_ids(model: type[Package] | type[Vnf] | type[NetworkService], vendor: str, name: str) -> list[Any]:
    """Ids of the documents of one vendor/name line. One indexed condition alone first: the
    embedded store uses an index only for a single-condition match (see _search_stages)."""
    collection = connection.database[model._meta.db_table]  # type: ignore[attr-defined]
    stages = [{"$match": {"vendor": vendor}}, {"$match": {"name": name}}, {"$project": {"_id": 1}}]
    return [doc["_id"] for doc in collection.aggregate(stages)]


def package_versions(package: Package, *, viewer: str | None) -> list[Package]:
    """The versions of the package's line `viewer` may see, newest first."""
    from marketplace.repository.origin import visible_to

    found = Package.objects.filter(pk__in=_line_ids(Package, package.vendor, package.name))
    return sorted((p for p in found if visible_to(p, viewer)), key=lambda p: p.version_key, reverse=True)


def package_descriptors(package: Package) -> tuple[list[Vnf], list[NetworkService]]:
    return list(Vnf.objects.filter(package=package)), list(NetworkService.objects.filter(package=package))


def ns_graph(ns: NetworkService) -> dict[str, Any]:
    """The NS-to-VNF dependency graph: nodes (the NS and its VNFs) and edges, and the NSD's
    virtual links with which connection points attach to them (`links`, read from the stored
    descriptor by marketplace.repository.descriptor_facts)."""
    vnfs = {v.pk: v for v in Vnf.objects.filter(pk__in=ns.vnf_ids).select_related("package")}
    nodes: list[dict[str, Any]] = [{"id": str(ns.pk), "kind": "ns", "label": f"{ns.vendor}/{ns.name} {ns.version}"}]
    edges: list[dict[str, str]] = []
    ref_nodes: dict[tuple[tuple[str, str], ...], str] = {}
    for ref in ns.constituent_refs:
        match = next((v for v in vnfs.values() if _ref_matches(ref, v)), None)
        node_id = str(match.pk) if match else "unresolved:" + "/".join(str(x) for x in ref.values())
        if not any(n["id"] == node_id for n in nodes):
            nodes.append(
                {
                    "id": node_id,
                    "kind": "vnf",
                    "label": f"{match.vendor}/{match.name} {match.version}" if match else str(ref),
                    # What a diagram's box shows first: the product's own name (the vendor is the same
                    # for every box of one NS, and would be all that fits).
                    "name": f"{match.name} {match.version}" if match else str(ref),
                    "package": str(match.package.pk) if match else None,
                    "resolved": match is not None,
                }
            )
        edges.append({"from": str(ns.pk), "to": node_id})
        # Formats name a VNF by descriptor id, by vendor/name/version or both: each way finds it.
        for key in _ref_keys(ref):
            ref_nodes.setdefault(key, node_id)
    links, virtual_links = _ns_links(ns, ref_nodes)
    return {"nodes": nodes, "edges": edges, "virtual_links": virtual_links, "links": links}


def _ref_keys(ref: Any) -> list[tuple[tuple[str, str], ...]]:
    items = dict(ref.items() if isinstance(ref, dict) else ref)
    full = tuple(sorted((str(k), str(v)) for k, v in items.items() if v))
    by_id = tuple((k, v) for k, v in full if k == "descriptor_id")
    by_name = tuple((k, v) for k, v in full if k != "descriptor_id")
    return [key for key in (full, by_name, by_id) if key]


def _ns_links(
    ns: NetworkService, ref_nodes: dict[tuple[tuple[str, str], ...], str]
) -> tuple[list[dict[str, str]], list[str]]:
    """The NSD's wiring: which connection point of which VNF node (or of the NS itself, node "")
    attaches to which virtual link; and every virtual link, those the wiring names included."""
    links: list[dict[str, str]] = []
    virtual_links = list(ns.virtual_links)
    for c in ns_connections(ns.package.format, ns.document, ns.descriptor_id):
        node_id = ""
        if c.member:
            keys = _ref_keys(c.ref)
            found = next((ref_nodes[k] for k in keys if k in ref_nodes), None)
            node_id = found or "unresolved:" + "/".join(v for _, v in c.ref if v)
        links.append({"virtual_link": c.virtual_link, "connection_point": c.connection_point, "node": node_id})
        if c.virtual_link not in virtual_links:
            virtual_links.append(c.virtual_link)
    return links, virtual_links


def _ref_matches(ref: dict[str, Any], vnf: Vnf) -> bool:
    if ref.get("vendor") or ref.get("name"):
        return (ref.get("vendor"), ref.get("name"), ref.get("version")) == (vnf.vendor, vnf.name, vnf.version)
    return bool(ref.get("descriptor_id") == vnf.descriptor_id)


def package_proof(package: Package) -> dict[str, Any]:
    """Where `package` stands on chain, with the evidence an independent verifier needs.

    "anchored" only from the indexer's record of a PackageRegistered event of the package's digest
    under its own line (repository.origin): never from a transaction the marketplace sent, a batch
    root whose leaf was not proven, or the same bytes registered under another line."""
    from ledger.models import RegistryBatch
    from marketplace.repository.models import LineClaimRequest, RegistrationRequest, RegistrationState
    from marketplace.repository.origin import package_anchor

    client = get_chain_client()
    chain_id = client.chain_id()
    digest = "0x" + package.digest
    request = (
        RegistrationRequest.objects.filter(package=package, chain_id=chain_id)
        .exclude(state=RegistrationState.FAILED)
        .order_by("-created_at")
        .first()
    )
    anchor = package_anchor(package, chain_id)
    deployed_registry = next(
        (d.address for d in ContractDeployment.objects.filter(chain_id=chain_id, name="PackageRegistry")), None
    )
    registry = request.registry if request else deployed_registry
    proof: dict[str, Any] = {
        "package_id": str(package.pk),
        "digest": digest,
        "chain_id": chain_id,
        "registry": anchor.registry if anchor else registry,
        "state": "none",
        "mode": None,
        "publisher": None,
        "status": None,
        "registration": request.registration if request else None,
        "signature": request.signature if request else None,
        "tx_hash": request.tx_hash or None if request else None,
        "block_number": None,
        "batch": None,
        "line": _line_facts(client, deployed_registry, package),
    }
    if request is not None:
        proof["state"] = str(request.state)
        proof["publisher"] = request.publisher
        proof["mode"] = "batch" if request.mode == "batch" else "direct"
    if anchor is not None:
        proof.update(
            state="anchored",
            mode="batch" if anchor.batch_id else "direct",
            publisher=anchor.publisher,
            status=anchor.status,
            tx_hash=anchor.tx_hash,
            block_number=anchor.block_number,
        )
    if anchor is not None:
        disagreement = _anchor_disagreement(client, anchor)
        if disagreement is not None:
            # The database's record of the registration is not what the chain holds: it proves nothing.
            proof.update(state="unverifiable", warning=disagreement)
    claim = (
        LineClaimRequest.objects.filter(chain_id=chain_id, name_hash=package.line_hash, claimant=package.uploader)
        .order_by("-created_at")
        .first()
        if package.line_hash and proof["line"]["owner"] is None
        else None
    )
    if claim is not None:
        proof["line"]["claim"] = {"state": str(claim.state), "committed_at": claim.committed_at, "error": claim.error}
    if request is not None and request.mode == "batch" and request.batch_id is not None:
        batch = RegistryBatch.objects.filter(chain_id=chain_id, batch_id=request.batch_id).first()
        proof["batch"] = {
            "batch_id": request.batch_id,
            "root": batch.root if batch else None,
            "size": batch.size if batch else None,
            "index": request.leaf_index,
            "proof": list(request.inclusion_proof),
        }
    reset = IndexerState.objects.filter(chain_id=chain_id, reset_detected=True).first()
    if reset is not None and proof["state"] == "anchored":
        # Records indexed from a chain that was since reset prove nothing on the chain running now.
        proof.update(state="chain-reset", warning=reset.reset_detail)
    return proof


def _line_facts(client: Any, registry: str | None, package: Package) -> dict[str, Any]:
    """The package's line, and its owner and current key as the registry answers now (the indexed row
    only says where to look: a database edit cannot name another owner)."""
    from ledger.registry import PackageRegistry

    owner = key = None
    if package.line_hash and registry:
        bound = PackageRegistry(client, registry)
        owner, key = bound.line_owner(package.line_hash), bound.line_key(package.line_hash)
    return {
        "name": f"{package.vendor}/{package.name}",
        "name_hash": package.line_hash or None,
        "owner": owner,
        "key": key,
    }


def _anchor_disagreement(client: Any, anchor: Any) -> str | None:
    """Why the indexed registration `anchor` is not what the chain holds, or None when its transaction
    emitted exactly that PackageRegistered event (digest, line, publisher, block) from the registry.
    A receipt never changes, nor does a status go back, so each record is checked once per process; an
    edited row is another key (a status change the indexer has not seen yet shows when it has)."""
    key = (
        anchor.registry,
        anchor.tx_hash,
        anchor.digest,
        anchor.name_hash,
        anchor.publisher,
        int(anchor.block_number),
        anchor.status,
    )
    if key in _CHECKED:
        return _CHECKED[key]
    found = _check_anchor(client, anchor)
    if len(_CHECKED) >= 10_000:
        _CHECKED.clear()
    _CHECKED[key] = found
    return found


_CHECKED: dict[tuple[str, str, str, str, str, int, str], str | None] = {}


def _check_anchor(client: Any, anchor: Any) -> str | None:
    from hexbytes import HexBytes
    from web3.exceptions import TransactionNotFound

    from ledger.registry import PackageRegistry

    deployed = ContractDeployment.objects.filter(chain_id=anchor.chain_id, name="PackageRegistry").first()
    if deployed is None or deployed.address.lower() != anchor.registry.lower():
        return f"the database names registry {anchor.registry}, not this marketplace's deployed PackageRegistry"
    registry = PackageRegistry(client, anchor.registry)
    status = registry.status_of(anchor.digest, anchor.name_hash)
    if status.name.lower() != anchor.status:
        return f"the database says the registration is {anchor.status}; the registry says {status.name.lower()}"

    def read() -> Any:
        try:
            return client.w3.eth.get_transaction_receipt(HexBytes(anchor.tx_hash))
        except TransactionNotFound:
            return None

    receipt = client.call(read)
    if receipt is None:
        return f"the chain has no transaction {anchor.tx_hash}, which the database names as the registration"
    event = registry.contract.events.PackageRegistered()
    wanted = [
        HexBytes(event.topic),
        HexBytes(anchor.digest),
        HexBytes(anchor.name_hash),
        HexBytes(bytes(12) + bytes(HexBytes(anchor.publisher))),
    ]
    for log in receipt["logs"]:
        if str(log["address"]).lower() == anchor.registry.lower() and [HexBytes(t) for t in log["topics"]] == wanted:
            if int(log["blockNumber"]) != int(anchor.block_number):
                return f"the registration is in block {int(log['blockNumber'])}, not {anchor.block_number}"
            return None
    return (
        f"transaction {anchor.tx_hash} registered no digest {anchor.digest} by {anchor.publisher} in line "
        f"{anchor.name_hash}: the database's record of it does not match the chain"
    )


def package_offers(package: Package) -> list[Any]:
    """The licence offers on chain (as indexed) for `package`, oldest first."""
    from marketplace.repository.origin import package_offers as offers_on_chain

    try:
        chain_id = get_chain_client().chain_id()
    except LedgerError:
        return []
    return list(offers_on_chain(package, chain_id).order_by("offer_id"))


def licences_held(*, offers: list[Any], licensee: str | None) -> dict[int, Any]:
    """The licences `licensee` holds (as indexed) under `offers`, by offer id; the newest per offer."""
    from ledger.models import AcquiredLicence

    if licensee is None or not offers:
        return {}
    held = AcquiredLicence.objects.filter(
        chain_id=offers[0].chain_id, licensee=licensee, offer_id__in=[o.offer_id for o in offers]
    ).order_by("licence_id")
    return {licence.offer_id: licence for licence in held}


@dataclass(frozen=True)
class ResourceSummary:
    """What a VNF or NS needs and is made of, for its portal page."""

    vcpus: int
    memory_mb: int
    storage_gb: float
    images: list[str]
    vdus: list[Vdu]  # VNF only
    constituents: list[dict[str, Any]]  # NS only: ns_graph's VNF nodes
    virtual_links: list[str]
    connection_points: list[str]


def descriptor_resources(descriptor: Vnf | NetworkService, graph: dict[str, Any] | None = None) -> ResourceSummary:
    """Totals as the ingest computed them (over every file of the package) and the parts read
    from the stored descriptor, for any of the three formats."""
    fmt = descriptor.package.format
    vdus: list[Vdu] = []
    if isinstance(descriptor, Vnf):
        vdus = vnf_vdus(fmt, descriptor.document)
        images = list(descriptor.images) or list(dict.fromkeys(v.image for v in vdus if v.image))
        constituents: list[dict[str, Any]] = []
    else:
        graph = graph if graph is not None else ns_graph(descriptor)
        constituents = [n for n in graph["nodes"] if n["kind"] == "vnf"]
        images = []
    return ResourceSummary(
        vcpus=descriptor.vcpus,
        memory_mb=descriptor.memory_mb,
        storage_gb=descriptor.storage_gb,
        images=images,
        vdus=vdus,
        constituents=constituents,
        virtual_links=list(descriptor.virtual_links),
        connection_points=list(descriptor.connection_points),
    )


def descriptor_versions(descriptor: Vnf | NetworkService, *, viewer: str | None) -> list[Vnf | NetworkService]:
    """Every stored version of the same vendor/name VNF or NS that `viewer` may see, newest first."""
    from marketplace.repository.origin import visible_to

    model = type(descriptor)
    found = model.objects.filter(pk__in=_line_ids(model, descriptor.vendor, descriptor.name))
    found = found.select_related("package").only(
        "version", "package", "package__version_key", "package__state", "package__listed", "package__uploader"
    )
    return sorted(
        (d for d in found if visible_to(d.package, viewer)), key=lambda d: d.package.version_key, reverse=True
    )
