"""An OSM (SOL006) NSD checked as deployable against the VNFDs it names: profiles, virtual links and
their wiring, and its catalogue summary.
"""

from __future__ import annotations

from marketplace.repository.packages.sol006_schema import (
    EXTERNAL_VL_KEYS,
    VNFD_KEYS,
    Checker,
    Json,
    entries,
    ids,
    leaf_text,
    scalars,
)
from marketplace.repository.packages.types import (
    DescriptorSummary,
    ParsedDescriptor,
    VnfdLookup,
    VnfRef,
)


class VnfResolver:
    """Finds the VNFDs an NSD names: in this package first, then in the repository, each once."""

    def __init__(self, in_package: dict[str, ParsedDescriptor], lookup: VnfdLookup) -> None:
        self._in_package = in_package
        self._lookup = lookup
        self._cache: dict[str, ParsedDescriptor | None] = {}

    def __call__(self, descriptor_id: str) -> ParsedDescriptor | None:
        if descriptor_id not in self._cache:
            found = self._in_package.get(descriptor_id) or self._lookup(VnfRef(descriptor_id=descriptor_id))
            self._cache[descriptor_id] = found if found is not None and found.summary.kind == "vnf" else None
        return self._cache[descriptor_id]


def _vnfd_flavours(vnfd: ParsedDescriptor) -> dict[str, set[str]] | None:
    """df id → instantiation-level ids of a SOL006 VNFD, or None for a VNFD of another format."""
    body = next((vnfd.document[k] for k in VNFD_KEYS if isinstance(vnfd.document.get(k), dict)), None)
    if body is None:
        return None
    return {v: ids(df, "instantiation-level") for _, df in entries(body, "df") if (v := leaf_text(df, "id"))}


def nsd_integrity(checker: Checker, nsd: Json, base: str, resolve: VnfResolver) -> None:
    listed = {vid for _, vid in scalars(nsd, "vnfd-id")}
    for i, vid in scalars(nsd, "vnfd-id"):
        if resolve(vid) is None:
            checker.add(
                "integrity.unresolved-vnf",
                f"the NSD needs VNFD {vid!r}, which is neither in this package nor in the repository; "
                "publish that VNF package first",
                f"{base}/vnfd-id/{i}",
            )
    vld_ids = ids(nsd, "virtual-link-desc")
    vld_flavours = {leaf_text(v, "id"): ids(v, "df") for _, v in entries(nsd, "virtual-link-desc")}

    for i, sap in entries(nsd, "sapd"):
        at = f"{base}/sapd/{i}"
        owner = f"sapd {leaf_text(sap, 'id')!r}"
        checker.ref(vld_ids, leaf_text(sap, "virtual-link-desc"), "virtual-link-desc", owner, f"{at}/virtual-link-desc")
        associated = sap.get("associated-cpd")
        sap_vnfd = leaf_text(associated, "vnfd-id")
        if sap_vnfd is not None and checker.ref(
            listed, sap_vnfd, "VNFD (in the NSD's vnfd-id list)", owner, f"{at}/associated-cpd/vnfd-id"
        ):
            vnfd = resolve(sap_vnfd)
            if vnfd is not None:
                checker.ref(
                    set(vnfd.summary.connection_points),
                    leaf_text(associated, "vnf-ext-cpd"),
                    f"ext-cpd of VNFD {sap_vnfd!r}",
                    owner,
                    f"{at}/associated-cpd/vnf-ext-cpd",
                )

    for d, df in entries(nsd, "df"):
        at = f"{base}/df/{d}"
        profiles = ids(df, "virtual-link-profile")
        for i, vlp in entries(df, "virtual-link-profile"):
            where = f"{at}/virtual-link-profile/{i}"
            vld = leaf_text(vlp, "virtual-link-desc-id")
            owner = f"virtual-link-profile {leaf_text(vlp, 'id')!r}"
            if checker.ref(vld_ids, vld, "virtual-link-desc", owner, f"{where}/virtual-link-desc-id") and vld:
                checker.ref(
                    vld_flavours.get(vld, set()),
                    leaf_text(vlp, "flavour-id"),
                    f"df of virtual-link-desc {vld!r}",
                    owner,
                    f"{where}/flavour-id",
                )
        vnf_profiles = ids(df, "vnf-profile")
        for i, profile in entries(df, "vnf-profile"):
            _vnf_profile(checker, profile, f"{at}/vnf-profile/{i}", listed, resolve, profiles | vld_ids)
        levels = ids(df, "ns-instantiation-level")
        for i, level in entries(df, "ns-instantiation-level"):
            for j, mapping in entries(level, "vnf-to-level-mapping"):
                checker.ref(
                    vnf_profiles,
                    leaf_text(mapping, "vnf-profile-id"),
                    "vnf-profile",
                    f"ns-instantiation-level {leaf_text(level, 'id')!r}",
                    f"{at}/ns-instantiation-level/{i}/vnf-to-level-mapping/{j}/vnf-profile-id",
                )
            for j, mapping in entries(level, "virtual-link-to-level-mapping"):
                checker.ref(
                    profiles,
                    leaf_text(mapping, "virtual-link-profile-id"),
                    "virtual-link-profile",
                    f"ns-instantiation-level {leaf_text(level, 'id')!r}",
                    f"{at}/ns-instantiation-level/{i}/virtual-link-to-level-mapping/{j}/virtual-link-profile-id",
                )
        checker.ref(
            levels,
            leaf_text(df, "default-instantiation-level"),
            "ns-instantiation-level",
            f"df {leaf_text(df, 'id')!r}",
            f"{at}/default-instantiation-level",
        )


def _vnf_profile(
    checker: Checker, profile: Json, at: str, listed: set[str], resolve: VnfResolver, vl_targets: set[str]
) -> None:
    pid = leaf_text(profile, "id")
    owner = f"vnf-profile {pid!r}"
    vid = leaf_text(profile, "vnfd-id")
    vnfd = None
    if vid is not None:
        if vid not in listed:
            checker.add(
                "integrity.unlisted-vnfd",
                f"{owner} uses VNFD {vid!r}, which the NSD's vnfd-id list does not name",
                f"{at}/vnfd-id",
            )
        vnfd = resolve(vid)
        if vnfd is None and vid not in listed:
            checker.add(
                "integrity.unresolved-vnf",
                f"{owner} needs VNFD {vid!r}, which is neither in this package nor in the repository",
                f"{at}/vnfd-id",
            )
    flavours = _vnfd_flavours(vnfd) if vnfd is not None else None
    if flavours is not None:
        flavour = leaf_text(profile, "flavour-id")
        if checker.ref(set(flavours), flavour, f"df of VNFD {vid!r}", owner, f"{at}/flavour-id") and flavour:
            checker.ref(
                flavours.get(flavour, set()),
                leaf_text(profile, "instantiation-level"),
                f"instantiation-level of df {flavour!r}",
                owner,
                f"{at}/instantiation-level",
            )
    ext_cpds = set(vnfd.summary.connection_points) if vnfd is not None else None
    for i, link in entries(profile, "virtual-link-connectivity"):
        where = f"{at}/virtual-link-connectivity/{i}"
        # OSM names the virtual-link-desc here directly; SOL006 names a df virtual-link-profile.
        checker.ref(
            vl_targets,
            leaf_text(link, "virtual-link-profile-id"),
            "virtual-link-profile or virtual-link-desc",
            owner,
            f"{where}/virtual-link-profile-id",
        )
        for j, cpd in entries(link, "constituent-cpd-id"):
            base_id = leaf_text(cpd, "constituent-base-element-id")
            if base_id is not None and base_id != pid:
                checker.add(
                    "integrity.unresolved-ref",
                    f"{owner} connects constituent-base-element-id {base_id!r}; it must name the profile itself",
                    f"{where}/constituent-cpd-id/{j}/constituent-base-element-id",
                )
            if ext_cpds is not None:
                checker.ref(
                    ext_cpds,
                    leaf_text(cpd, "constituent-cpd-id"),
                    f"ext-cpd of VNFD {vid!r}",
                    owner,
                    f"{where}/constituent-cpd-id/{j}/constituent-cpd-id",
                )


class _Groups:
    """Union-find over (kind, id) nodes: which VNF profiles, SAPs and links reach each other."""

    def __init__(self) -> None:
        self._parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(self, node: tuple[str, str]) -> tuple[str, str]:
        parent = self._parent
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def join(self, a: tuple[str, str], b: tuple[str, str]) -> None:
        self._parent[self.find(a)] = self.find(b)


def nsd_topology(checker: Checker, nsd: Json, base: str) -> None:
    vlds = {v: (i, e) for i, e in entries(nsd, "virtual-link-desc") if (v := leaf_text(e, "id")) is not None}
    saps = entries(nsd, "sapd")
    best: dict[str, int] = dict.fromkeys(vlds, 0)
    for d, df in entries(nsd, "df"):
        to_vld = {
            p: v
            for _, e in entries(df, "virtual-link-profile")
            if (p := leaf_text(e, "id")) and (v := leaf_text(e, "virtual-link-desc-id"))
        }
        graph = _Groups()
        endpoints: dict[str, int] = {
            v: 1 if any(e.get(k) for k in EXTERNAL_VL_KEYS) else 0 for v, (_, e) in vlds.items()
        }
        members: list[tuple[str, str]] = []
        by_vnfd: dict[str, list[str]] = {}
        for _, profile in entries(df, "vnf-profile"):
            pid = leaf_text(profile, "id")
            if pid is None:
                continue
            members.append(("vnf", pid))
            graph.find(("vnf", pid))
            by_vnfd.setdefault(leaf_text(profile, "vnfd-id") or "", []).append(pid)
            for _, link in entries(profile, "virtual-link-connectivity"):
                ref = leaf_text(link, "virtual-link-profile-id")
                vld = to_vld.get(ref or "", ref)
                if vld in vlds:
                    endpoints[vld] += max(1, len(entries(link, "constituent-cpd-id")))
                    graph.join(("vnf", pid), ("vl", vld))
        for _, sap in saps:
            sid = leaf_text(sap, "id")
            if sid is None:
                continue
            members.append(("sap", sid))
            graph.find(("sap", sid))
            vld = leaf_text(sap, "virtual-link-desc")
            if vld in vlds:
                endpoints[vld] += 1
                graph.join(("sap", sid), ("vl", vld))
            for pid in by_vnfd.get(leaf_text(sap.get("associated-cpd"), "vnfd-id") or "\0", []):
                graph.join(("sap", sid), ("vnf", pid))
        for vld, count in endpoints.items():
            best[vld] = max(best[vld], count)
        groups: dict[tuple[str, str], list[str]] = {}
        for member in members:
            groups.setdefault(graph.find(member), []).append(f"{member[0]} {member[1]!r}")
        if len(groups) > 1:
            parts = sorted("{" + ", ".join(g) + "}" for g in groups.values())
            checker.add(
                "topology.disconnected",
                f"df {leaf_text(df, 'id')!r}: VNF profiles and SAPs form {len(groups)} separate groups: "
                + "; ".join(parts),
                f"{base}/df/{d}",
            )
    for vld, (i, entry) in vlds.items():
        if best[vld] < 2:
            external = " (counting its external network)" if any(entry.get(k) for k in EXTERNAL_VL_KEYS) else ""
            checker.add(
                "topology.dangling-link",
                f"virtual-link-desc {vld!r} has {best[vld]} endpoint{'s' if best[vld] != 1 else ''}{external}; "
                "a virtual link needs at least 2",
                f"{base}/virtual-link-desc/{i}",
            )


def nsd_summary(nsd: Json, resolve: VnfResolver) -> DescriptorSummary:
    vnfd_ids = [vid for _, vid in scalars(nsd, "vnfd-id")]
    summary = DescriptorSummary(
        kind="ns",
        descriptor_id=leaf_text(nsd, "id") or "",
        vendor=leaf_text(nsd, "designer") or "",
        name=leaf_text(nsd, "name") or "",
        version=leaf_text(nsd, "version") or "",
        description=leaf_text(nsd, "description") or "",
        connection_points=[v for _, e in entries(nsd, "sapd") if (v := leaf_text(e, "id")) is not None],
        virtual_links=[v for _, e in entries(nsd, "virtual-link-desc") if (v := leaf_text(e, "id")) is not None],
        constituent_vnfs=[VnfRef(descriptor_id=vid) for vid in vnfd_ids],
    )
    # Resources of the smallest deployment: one instance of each VNF profile of the first df.
    first_df = next((df for _, df in entries(nsd, "df")), None)
    profiles = [p for _, p in entries(first_df, "vnf-profile")] or [{"vnfd-id": v} for v in vnfd_ids]
    for profile in profiles:
        vnfd = resolve(vid) if (vid := leaf_text(profile, "vnfd-id")) is not None else None
        if vnfd is not None:
            summary.vcpus += vnfd.summary.vcpus
            summary.memory_mb += vnfd.summary.memory_mb
            summary.storage_gb += vnfd.summary.storage_gb
            summary.images.extend(i for i in vnfd.summary.images if i not in summary.images)
    return summary
