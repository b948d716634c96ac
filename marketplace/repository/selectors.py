"""Reads of the marketplace's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pymongo
from django.conf import settings
from django.db import connection
from pymongo.errors import PyMongoError

from ledger.client import ChainStatus, get_chain_client
from ledger.exceptions import LedgerError
from ledger.models import ContractDeployment, IndexerState
from ledger.offline.redact import redact_url
from ledger.selectors import deployments_for
from marketplace.repository.descriptor_facts import Vdu, ns_connections, vnf_vdus
from marketplace.repository.models import NetworkService, Package, PackageState, Vnf
from marketplace.repository.packages.types import DescriptorSummary, ParsedDescriptor, VnfRef
from marketplace.repository.search import query_tokens


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    ok: bool
    where: str
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class ContractStatus:
    name: str
    address: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class SystemStatus:
    database: ComponentStatus
    chain: ComponentStatus
    contracts: ComponentStatus
    chain_id: int | None = None
    latest_block: int | None = None
    genesis_hash: str | None = None
    deployments: list[ContractStatus] = field(default_factory=list)

    @property
    def components(self) -> tuple[ComponentStatus, ComponentStatus, ComponentStatus]:
        return (self.database, self.chain, self.contracts)

    @property
    def ok(self) -> bool:
        return self.database.ok and self.chain.ok and self.contracts.ok

    def as_dict(self) -> dict[str, object]:
        def component(c: ComponentStatus) -> dict[str, object]:
            out: dict[str, object] = {"ok": c.ok, "where": c.where, "detail": c.detail}
            if not c.ok:
                out["fix"] = c.fix
            return out

        return {
            "status": "ok" if self.ok else "degraded",
            "database": component(self.database),
            "chain": component(self.chain)
            | {"chain_id": self.chain_id, "latest_block": self.latest_block, "genesis_hash": self.genesis_hash},
            "contracts": component(self.contracts)
            | {"deployed": {d.name: {"address": d.address, "ok": d.ok, "detail": d.detail} for d in self.deployments}},
        }


def _database_status() -> ComponentStatus:
    where = redact_url(settings.MONGODB_URI)
    name = "database"
    try:
        with pymongo.timeout(settings.DB_TIMEOUT_MS / 1000):
            connection.ensure_connection()
            connection.database.command("ping")  # type: ignore[attr-defined]
    except PyMongoError as exc:
        if settings.EMBEDDED_DB:
            fix = (
                "The embedded database is not running for this checkout. Start the marketplace with "
                f"`make run`; if it fails, read {settings.VAR_DIR / 'log' / 'db.log'}."
            )
        else:
            fix = "Check that MONGODB_URI names a running MongoDB server that this host can reach."
        return ComponentStatus(name, False, where, f"unreachable: {_first_line(exc)}", fix)
    embedded = "embedded SecantusDB" if settings.EMBEDDED_DB else "MongoDB"
    return ComponentStatus(name, True, where, f"reachable ({embedded}, database {settings.MONGODB_NAME!r})")


def _chain_status() -> tuple[ComponentStatus, ChainStatus | None]:
    client = get_chain_client()
    try:
        status = client.status()
    except LedgerError as exc:
        if settings.EMBEDDED_CHAIN:
            fix = (
                "The embedded chain node (anvil) is not running for this checkout. Start the marketplace "
                f"with `make run`; if it fails, read {settings.VAR_DIR / 'log' / 'chain.log'}."
            )
        else:
            fix = "Check that ETH_RPC_URL names a running Ethereum JSON-RPC node that this host can reach."
        return ComponentStatus("chain", False, client.display_url, str(exc), fix), None
    kind = "embedded anvil" if settings.EMBEDDED_CHAIN else "external node"
    detail = f"reachable ({kind}, chain id {status.chain_id}, block {status.latest_block})"
    return ComponentStatus("chain", True, client.display_url, detail), status


def _contracts_status(chain: ChainStatus | None, database_ok: bool) -> tuple[ComponentStatus, list[ContractStatus]]:
    where = f"chain {chain.chain_id}" if chain else "unknown chain"
    if chain is None or not database_ok:
        return ComponentStatus(
            "contracts",
            False,
            where,
            "unknown until the database and chain answer",
            "Fix the database and chain first.",
        ), []
    client = get_chain_client()
    found: list[ContractStatus] = []
    try:
        deployments = deployments_for(chain)
        for d in deployments:
            code = client.code_at(d.address)
            found.append(
                ContractStatus(d.name, d.address, bool(code), "deployed" if code else "no code at this address")
            )
    except (LedgerError, PyMongoError) as exc:
        return ComponentStatus(
            "contracts",
            False,
            where,
            f"cannot read deployments: {_first_line(exc)}",
            "Retry; check the database and chain.",
        ), found
    if not deployments:
        return ComponentStatus(
            "contracts",
            False,
            where,
            "not deployed on this chain",
            "Run `python manage.py deploy_contracts` (make run does it).",
        ), found
    missing = [c.name for c in found if not c.ok]
    if missing:
        return ComponentStatus(
            "contracts",
            False,
            where,
            f"recorded but without code on chain: {', '.join(missing)}",
            "The chain was reset; run `python manage.py deploy_contracts` to deploy again.",
        ), found
    return ComponentStatus("contracts", True, where, f"{len(found)} deployed"), found


def system_status() -> SystemStatus:
    """Whether the database, the chain and our contracts are usable, and where each was looked for."""
    database = _database_status()
    chain, chain_status = _chain_status()
    contracts, deployments = _contracts_status(chain_status, database.ok)
    return SystemStatus(
        database=database,
        chain=chain,
        contracts=contracts,
        chain_id=chain_status.chain_id if chain_status else None,
        latest_block=chain_status.latest_block if chain_status else None,
        genesis_hash=chain_status.genesis_hash if chain_status else None,
        deployments=deployments,
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 240 else line[:240] + "..."


# --- NFV Repository reads ---


def vnf_for_ref(ref: VnfRef) -> Vnf | None:
    """The VNF object an NSD's reference names: by vendor/name/version, or by descriptor id
    (newest version first). Revoked packages never satisfy a reference."""
    usable = Vnf.objects.exclude(package__state=PackageState.REVOKED).select_related("package")
    if ref.vendor or ref.name:
        matches = usable.filter(vendor=ref.vendor, name=ref.name)
        if ref.version:
            matches = matches.filter(version=ref.version)
    elif ref.descriptor_id:
        matches = usable.filter(descriptor_id=ref.descriptor_id)
    else:
        return None
    return matches.order_by("-package__version_key", "-created_at").first()


def vnf_lookup(ref: VnfRef) -> ParsedDescriptor | None:
    """Validators' view of a VNFD already in the repository."""
    vnf = vnf_for_ref(ref)
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


def package_references(package: Package) -> list[str]:
    """Why `package` must not be deleted: network services of other packages use its VNFs.

    Licences and instances join this list as the licensing work lands."""
    reasons: list[str] = []
    vnf_ids = list(Vnf.objects.filter(package=package).values_list("pk", flat=True))
    if vnf_ids:
        users = (
            NetworkService.objects.exclude(package=package).filter(vnf_ids__overlap=vnf_ids).select_related("package")
        )
        for ns in users[:5]:
            name = f"{ns.vendor}/{ns.name} {ns.version}"
            reasons.append(f"network service {name} (package {ns.package.pk}) uses its VNF")
    return reasons


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
    sort: str = "-created"
    page: int = 1
    per_page: int = 20


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
    return catalogue_match(
        catalogue_index(),
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


def _line_ids(model: type[Package] | type[Vnf] | type[NetworkService], vendor: str, name: str) -> list[Any]:
    """Ids of the documents of one vendor/name line. One indexed condition alone first: the
    embedded store uses an index only for a single-condition match (see _search_stages)."""
    collection = connection.database[model._meta.db_table]  # type: ignore[attr-defined]
    stages = [{"$match": {"vendor": vendor}}, {"$match": {"name": name}}, {"$project": {"_id": 1}}]
    return [doc["_id"] for doc in collection.aggregate(stages)]


def package_versions(package: Package) -> list[Package]:
    found = Package.objects.filter(pk__in=_line_ids(Package, package.vendor, package.name))
    return sorted(found, key=lambda p: p.version_key, reverse=True)


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


# --- SOL005 ---
# Reads behind the ETSI SOL005 endpoints (marketplace/sol005.py), each in a fixed number of queries.


@dataclass(frozen=True)
class VnfPackageUsage:
    package: Package
    vnfs: list[Vnf]  # the VNF of the package's main descriptor first
    in_use: bool  # a network service of another package uses one of its VNFs


def sol005_vnf_packages(package_pk: object | None = None) -> list[VnfPackageUsage]:
    """Every VNF package, oldest first (all versions; deprecated and revoked ones too, which SOL005
    shows as DISABLED), or only the one whose pk is `package_pk`."""
    packages = Package.objects.filter(kind="vnf")
    if package_pk is not None:
        packages = packages.filter(pk=package_pk)
    found = list(packages.order_by("created_at", "pk"))
    vnfs: dict[Any, list[Vnf]] = {p.pk: [] for p in found}
    if vnfs:
        for vnf in Vnf.objects.filter(package__in=found).select_related("package").order_by("created_at", "pk"):
            vnfs[vnf.package.pk].append(vnf)
    used = _sol005_packages_in_use({v.pk: p.pk for p in found for v in vnfs[p.pk]})
    return [VnfPackageUsage(p, _main_first(vnfs[p.pk], p.main_descriptor), p.pk in used) for p in found]


def _main_first(vnfs: list[Vnf], main_descriptor: str) -> list[Vnf]:
    # The main descriptor's VNF is the one SOL005's single-VNFD fields describe.
    return sorted(vnfs, key=lambda v: v.file != main_descriptor)


def _sol005_packages_in_use(owners: dict[Any, Any]) -> set[Any]:
    """The packages among `owners` (VNF pk -> package pk) one of whose VNFs a network service of
    another package uses (the rule package_references applies to deletion)."""
    if not owners:
        return set()
    used: set[Any] = set()
    users = NetworkService.objects.filter(vnf_ids__overlap=list(owners)).values_list("package_id", "vnf_ids")
    for ns_package, vnf_ids in users:
        used.update(owners[v] for v in vnf_ids if v in owners and owners[v] != ns_package)
    return used


@dataclass(frozen=True)
class NsVnfPackages:
    ns: NetworkService
    vnf_package_pks: list[Any]  # VNF packages (kind "vnf") its constituent VNFs resolved to, in NSD order


def sol005_network_services(ns_pk: object | None = None) -> list[NsVnfPackages]:
    """Every network service, oldest first, or only the one whose pk is `ns_pk`. A constituent VNF
    that lives inside the NS package itself has no VNF package, so it adds no pk."""
    services = NetworkService.objects.select_related("package")
    if ns_pk is not None:
        services = services.filter(pk=ns_pk)
    found = list(services.order_by("created_at", "pk"))
    vnf_ids = list({v for ns in found for v in ns.vnf_ids})
    owners: dict[Any, Any] = {}
    if vnf_ids:
        owners = dict(Vnf.objects.filter(pk__in=vnf_ids, package__kind="vnf").values_list("pk", "package_id"))
    return [NsVnfPackages(ns, list(dict.fromkeys(owners[v] for v in ns.vnf_ids if v in owners))) for ns in found]


# --- On-chain registration ---


def package_proof(package: Package) -> dict[str, Any]:
    """Where `package` stands on chain, with the evidence an independent verifier needs.

    "anchored" only from the indexer's records (a registry event, or an indexed batch root),
    never from a transaction the marketplace sent."""
    from ledger.models import PackageAnchor, RegistryBatch
    from marketplace.repository.models import RegistrationRequest, RegistrationState

    client = get_chain_client()
    chain_id = client.chain_id()
    digest = "0x" + package.digest
    request = (
        RegistrationRequest.objects.filter(package=package, chain_id=chain_id)
        .exclude(state=RegistrationState.FAILED)
        .order_by("-created_at")
        .first()
    )
    anchor = PackageAnchor.objects.filter(chain_id=chain_id, digest=digest).first()
    registry = (
        request.registry
        if request
        else next(
            (d.address for d in ContractDeployment.objects.filter(chain_id=chain_id, name="PackageRegistry")), None
        )
    )
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
    if request is not None and request.mode == "batch" and request.batch_id is not None:
        batch = RegistryBatch.objects.filter(chain_id=chain_id, batch_id=request.batch_id).first()
        proof["batch"] = {
            "batch_id": request.batch_id,
            "root": batch.root if batch else None,
            "size": batch.size if batch else None,
            "index": request.leaf_index,
            "proof": list(request.inclusion_proof),
        }
        if batch is not None and anchor is None:
            proof.update(
                state="anchored", mode="batch", tx_hash=batch.tx_hash, block_number=batch.block_number, status="active"
            )
    reset = IndexerState.objects.filter(chain_id=chain_id, reset_detected=True).first()
    if reset is not None and proof["state"] == "anchored":
        # Records indexed from a chain that was since reset prove nothing on the chain running now.
        proof.update(state="chain-reset", warning=reset.reset_detail)
    return proof


def package_offers(package: Package) -> list[Any]:
    """The licence offers on chain (as indexed) for `package`, oldest first."""
    from ledger.models import LicenceOffer

    try:
        chain_id = get_chain_client().chain_id()
    except LedgerError:
        return []
    return list(LicenceOffer.objects.filter(chain_id=chain_id, digest="0x" + package.digest).order_by("offer_id"))


def licences_held(*, offers: list[Any], licensee: str | None) -> dict[int, Any]:
    """The licences `licensee` holds (as indexed) under `offers`, by offer id; the newest per offer."""
    from ledger.models import AcquiredLicence

    if licensee is None or not offers:
        return {}
    held = AcquiredLicence.objects.filter(
        chain_id=offers[0].chain_id, licensee=licensee, offer_id__in=[o.offer_id for o in offers]
    ).order_by("licence_id")
    return {licence.offer_id: licence for licence in held}


# --- dPortal catalogue and descriptor pages ---

# What a catalogue card shows; the rest of a package document (file list, search words) is not
# sent, and not turned into Python objects.
CARD_FIELDS = (
    "format",
    "kind",
    "vendor",
    "name",
    "version",
    "state",
    "description",
    "vcpus",
    "memory_mb",
    "storage_gb",
    "tags",
    "created_at",
    "main_descriptor",
)


@dataclass(frozen=True)
class CatalogueEntry:
    package: Package
    descriptor_kind: str = ""  # "vnf" or "ns": the page of the package's main descriptor
    descriptor_pk: str = ""


@dataclass(frozen=True)
class CataloguePage:
    """One page of the catalogue; the catalogue index counts the matches as it finds them."""

    entries: list[CatalogueEntry]
    total: int
    page: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def package_catalogue(query: PackageQuery) -> CataloguePage:
    """The catalogue's page of `query` (package_search's matching): only the fields a card shows,
    and each package's main VNF or NS, in three queries by id."""
    matched = package_matches(query)
    start = (query.page - 1) * query.per_page
    page_ids = matched[start : start + query.per_page]
    has_next = len(matched) > start + query.per_page
    found = Package.objects.only(*CARD_FIELDS).in_bulk(page_ids)
    packages = [found[pk] for pk in page_ids if pk in found]
    mains: dict[Any, tuple[str, str]] = {}
    for kind, model in (("vnf", Vnf), ("ns", NetworkService)):
        wanted = [p.pk for p in packages if p.kind == kind]
        if wanted:
            # Each package's descriptors, the main one preferred (a package may hold several).
            rows = model.objects.filter(package_id__in=wanted).values_list("package_id", "pk", "file")
            main_files = {p.pk: p.main_descriptor for p in packages if p.kind == kind}
            for package_pk, pk, _file in sorted(rows, key=lambda r: r[2] != main_files.get(r[0])):
                mains.setdefault(package_pk, (kind, str(pk)))
    entries = [CatalogueEntry(p, *mains.get(p.pk, ("", ""))) for p in packages]
    return CataloguePage(
        entries=entries, total=len(matched), page=query.page, per_page=query.per_page, has_next=has_next
    )


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


def descriptor_versions(descriptor: Vnf | NetworkService) -> list[Vnf | NetworkService]:
    """Every stored version of the same vendor/name VNF or NS, newest package version first."""
    model = type(descriptor)
    found = model.objects.filter(pk__in=_line_ids(model, descriptor.vendor, descriptor.name))
    found = found.select_related("package").only("version", "package", "package__version_key", "package__state")
    return sorted(found, key=lambda d: d.package.version_key, reverse=True)


@dataclass(frozen=True)
class AccountRoles:
    """What one address does in the marketplace; an address may hold several roles."""

    packages: int  # uploaded: a developer
    offers: int  # created as provider
    licences: int  # held: an end-user
    instances: int  # running network service instances

    @property
    def names(self) -> list[str]:
        roles = [("developer", self.packages), ("provider", self.offers), ("end-user", self.licences + self.instances)]
        return [name for name, count in roles if count]


def account_roles(*, address: str, chain_id: int) -> AccountRoles:
    from ledger.models import AcquiredLicence, LicenceOffer
    from marketplace.licensing.models import NsInstance

    return AccountRoles(
        packages=Package.objects.filter(uploader=address).count(),
        offers=LicenceOffer.objects.filter(chain_id=chain_id, provider=address).count(),
        licences=AcquiredLicence.objects.filter(chain_id=chain_id, licensee=address).count(),
        instances=NsInstance.objects.filter(owner=address).exclude(state__in=("terminated", "failed")).count(),
    )
