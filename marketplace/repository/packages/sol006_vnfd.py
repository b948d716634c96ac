"""An OSM (SOL006) VNFD checked as deployable: identity, VDUs, connection points, deployment flavours,
and its catalogue summary.
"""

from __future__ import annotations

from marketplace.repository.packages import values
from marketplace.repository.packages.problems import Severity
from marketplace.repository.packages.sol006_schema import Checker, Json, entries, ids, leaf_text, scalars
from marketplace.repository.packages.types import (
    DescriptorSummary,
)


def warn_identity(checker: Checker, body: Json, base: str) -> None:
    for leaf in ("provider", "software-version"):
        if leaf_text(body, leaf) is None:
            checker.add(
                "sol006.missing-identity",
                f"{leaf} is mandatory in SOL006; OSM accepts the VNFD without it"
                + (", so the package has no vendor" if leaf == "provider" else ""),
                base,
                Severity.WARNING,
            )


def vnfd_integrity(checker: Checker, body: Json, base: str) -> None:
    vdus = entries(body, "vdu")
    vdu_ids = ids(body, "vdu")
    compute_ids = ids(body, "virtual-compute-desc")
    storage_ids = ids(body, "virtual-storage-desc")
    image_ids = ids(body, "sw-image-desc")
    link_ids = ids(body, "int-virtual-link-desc")
    ext_ids = ids(body, "ext-cpd")
    vip_ids = ids(body, "vip-cpd")
    int_cpds = {leaf_text(v, "id"): ids(v, "int-cpd") for _, v in vdus}
    all_int_cpds = set().union(*int_cpds.values()) if int_cpds else set()

    for i, vdu in vdus:
        at = f"{base}/vdu/{i}"
        owner = f"vdu {leaf_text(vdu, 'id')!r}"
        checker.ref(
            compute_ids,
            leaf_text(vdu, "virtual-compute-desc"),
            "virtual-compute-desc",
            owner,
            f"{at}/virtual-compute-desc",
        )
        for j, sid in scalars(vdu, "virtual-storage-desc"):
            checker.ref(storage_ids, sid, "virtual-storage-desc", owner, f"{at}/virtual-storage-desc/{j}")
        checker.ref(image_ids, leaf_text(vdu, "sw-image-desc"), "sw-image-desc", owner, f"{at}/sw-image-desc")
        for j, alt in scalars(vdu, "alternative-sw-image-desc"):  # OSM: the same image for other VIM types
            checker.ref(image_ids, alt, "sw-image-desc", owner, f"{at}/alternative-sw-image-desc/{j}")
        own_cpds = ids(vdu, "int-cpd")
        for j, cpd in entries(vdu, "int-cpd"):
            checker.ref(
                link_ids,
                leaf_text(cpd, "int-virtual-link-desc"),
                "int-virtual-link-desc",
                f"{owner} int-cpd {leaf_text(cpd, 'id')!r}",
                f"{at}/int-cpd/{j}/int-virtual-link-desc",
            )
            checker.ref(
                compute_ids,
                leaf_text(cpd, "nicio-requirements"),
                "virtual-compute-desc",
                f"{owner} int-cpd {leaf_text(cpd, 'id')!r}",
                f"{at}/int-cpd/{j}/nicio-requirements",
            )
        for j, port in entries(vdu, "trunk-port"):
            checker.ref(
                own_cpds, leaf_text(port, "parent-port-cpd"), "int-cpd", owner, f"{at}/trunk-port/{j}/parent-port-cpd"
            )
            for k, sub in entries(port, "sub-port-list"):
                checker.ref(
                    own_cpds,
                    leaf_text(sub, "sub-port-cpd"),
                    "int-cpd",
                    owner,
                    f"{at}/trunk-port/{j}/sub-port-list/{k}/sub-port-cpd",
                )

    for i, vsd in entries(body, "virtual-storage-desc"):
        at = f"{base}/virtual-storage-desc/{i}"
        owner = f"virtual-storage-desc {leaf_text(vsd, 'id')!r}"
        block = vsd.get("block-storage-data")
        checker.ref(
            image_ids,
            leaf_text(block, "sw-image-desc"),
            "sw-image-desc",
            owner,
            f"{at}/block-storage-data/sw-image-desc",
        )
        # The YANG leafref of file-storage-data/int-virtual-link-desc points at sw-image-desc ids (so does
        # ETSI's own example); its name says int-virtual-link-desc. Either resolves.
        checker.ref(
            image_ids | link_ids,
            leaf_text(vsd.get("file-storage-data"), "int-virtual-link-desc"),
            "int-virtual-link-desc",
            owner,
            f"{at}/file-storage-data/int-virtual-link-desc",
        )
    for i, vcd in entries(body, "virtual-compute-desc"):
        for j, disk in entries(vcd, "virtual-disk"):
            checker.ref(
                image_ids,
                leaf_text(disk, "sw-image-desc"),
                "sw-image-desc",
                f"virtual-compute-desc {leaf_text(vcd, 'id')!r}",
                f"{base}/virtual-compute-desc/{i}/virtual-disk/{j}/sw-image-desc",
            )

    for i, ext in entries(body, "ext-cpd"):
        at = f"{base}/ext-cpd/{i}"
        owner = f"ext-cpd {leaf_text(ext, 'id')!r}"
        checker.ref(
            link_ids,
            leaf_text(ext, "int-virtual-link-desc"),
            "int-virtual-link-desc",
            owner,
            f"{at}/int-virtual-link-desc",
        )
        checker.ref(vip_ids, leaf_text(ext, "vip-cpd"), "vip-cpd", owner, f"{at}/vip-cpd")
        target = ext.get("int-cpd")
        vdu_id = leaf_text(target, "vdu-id")
        if checker.ref(vdu_ids, vdu_id, "vdu", owner, f"{at}/int-cpd/vdu-id") and vdu_id is not None:
            checker.ref(
                int_cpds.get(vdu_id, set()),
                leaf_text(target, "cpd"),
                f"int-cpd of vdu {vdu_id!r}",
                owner,
                f"{at}/int-cpd/cpd",
            )
        elif vdu_id is None:
            checker.ref(all_int_cpds, leaf_text(target, "cpd"), "int-cpd", owner, f"{at}/int-cpd/cpd")
    for i, vip in entries(body, "vip-cpd"):
        owner = f"vip-cpd {leaf_text(vip, 'id')!r}"
        for j, member in scalars(vip, "int-cpd"):
            checker.ref(all_int_cpds, member, "int-cpd", owner, f"{base}/vip-cpd/{i}/int-cpd/{j}")
        checker.ref(
            link_ids,
            leaf_text(vip, "int-virtual-link-desc"),
            "int-virtual-link-desc",
            owner,
            f"{base}/vip-cpd/{i}/int-virtual-link-desc",
        )
    checker.ref(ext_ids, leaf_text(body, "mgmt-cp"), "ext-cpd", "the VNFD's mgmt-cp", f"{base}/mgmt-cp")

    for i, df in entries(body, "df"):
        _vnfd_df(checker, df, f"{base}/df/{i}", vdu_ids, ext_ids, body)


def _vnfd_df(checker: Checker, df: Json, at: str, vdu_ids: set[str], ext_ids: set[str], body: Json) -> None:
    owner = f"df {leaf_text(df, 'id')!r}"
    groups = ids(df, "affinity-or-anti-affinity-group")
    aspects = ids(df, "scaling-aspect")
    levels = ids(df, "instantiation-level")
    bounds: dict[str, tuple[float, float]] = {}
    for i, profile in entries(df, "vdu-profile"):
        where = f"{at}/vdu-profile/{i}"
        pid = leaf_text(profile, "id")
        checker.ref(vdu_ids, pid, "vdu", f"{owner} vdu-profile", f"{where}/id")
        for j, group in scalars(profile, "affinity-or-anti-affinity-group-id"):
            checker.ref(
                groups,
                group,
                "affinity-or-anti-affinity-group",
                f"{owner} vdu-profile {pid!r}",
                f"{where}/affinity-or-anti-affinity-group-id/{j}",
            )
        low = values.number_or(profile.get("min-number-of-instances"), 1)
        high = values.number_or(profile.get("max-number-of-instances"), 1)
        if high < low:
            checker.add(
                "integrity.constraint",
                f"vdu-profile {pid!r}: max-number-of-instances {high:g} is below min-number-of-instances {low:g}",
                f"{where}/max-number-of-instances",
            )
        if pid is not None:
            bounds[pid] = (low, high)
    for i, level in entries(df, "instantiation-level"):
        where = f"{at}/instantiation-level/{i}"
        lid = leaf_text(level, "id")
        for j, vdu_level in entries(level, "vdu-level"):
            vid = leaf_text(vdu_level, "vdu-id")
            checker.ref(vdu_ids, vid, "vdu", f"{owner} instantiation-level {lid!r}", f"{where}/vdu-level/{j}/vdu-id")
            count = values.number_or(vdu_level.get("number-of-instances"), 1)
            if vid in bounds and not bounds[vid][0] <= count <= bounds[vid][1]:
                low, high = bounds[vid]
                checker.add(
                    "integrity.constraint",
                    f"instantiation-level {lid!r} asks for {count:g} instances of vdu {vid!r}; its "
                    f"vdu-profile allows {low:g} to {high:g}",
                    f"{where}/vdu-level/{j}/number-of-instances",
                )
        for j, info in entries(level, "scaling-info"):
            checker.ref(
                aspects,
                leaf_text(info, "scaling-aspect-id"),
                "scaling-aspect",
                f"{owner} instantiation-level {lid!r}",
                f"{where}/scaling-info/{j}/scaling-aspect-id",
            )
    default = leaf_text(df, "default-instantiation-level")
    checker.ref(
        levels,
        default,
        "instantiation-level",
        f"{owner} default-instantiation-level",
        f"{at}/default-instantiation-level",
    )
    if default is None and len(levels) > 1:
        checker.add(
            "integrity.constraint",
            f"{owner} has {len(levels)} instantiation levels but no default-instantiation-level",
            at,
        )
    links = {leaf_text(v, "id"): ids(v, "flavour") for _, v in entries(body, "int-virtual-link-desc")}
    for i, profile in entries(df, "virtual-link-profile"):
        where = f"{at}/virtual-link-profile/{i}"
        lid = leaf_text(profile, "id")
        if (
            checker.ref(
                set(filter(None, links)), lid, "int-virtual-link-desc", f"{owner} virtual-link-profile", f"{where}/id"
            )
            and lid in links
        ):
            checker.ref(
                links[lid],
                leaf_text(profile, "flavour"),
                f"flavour of int-virtual-link-desc {lid!r}",
                f"{owner} virtual-link-profile",
                f"{where}/flavour",
            )
    for i, aspect in entries(df, "scaling-aspect"):
        details = aspect.get("aspect-delta-details")
        where = f"{at}/scaling-aspect/{i}/aspect-delta-details"
        for j, delta in entries(details, "deltas"):
            for k, vdu_delta in entries(delta, "vdu-delta"):
                checker.ref(
                    vdu_ids,
                    leaf_text(vdu_delta, "id"),
                    "vdu",
                    f"scaling-aspect {leaf_text(aspect, 'id')!r}",
                    f"{where}/deltas/{j}/vdu-delta/{k}/id",
                )
        checker.ref(
            ids(details, "deltas"),
            leaf_text(details, "step-deltas"),
            "delta",
            f"scaling-aspect {leaf_text(aspect, 'id')!r}",
            f"{where}/step-deltas",
        )
    for i, interface in entries(df, "supported-vnf-interfaces"):
        for j, cpd in scalars(interface, "cpd-id"):
            checker.ref(
                ext_ids,
                cpd,
                "ext-cpd",
                f"{owner} supported-vnf-interfaces",
                f"{at}/supported-vnf-interfaces/{i}/cpd-id/{j}",
            )


def vnfd_summary(body: Json) -> DescriptorSummary:
    computes = {leaf_text(v, "id"): v for _, v in entries(body, "virtual-compute-desc")}
    storages = {leaf_text(v, "id"): v for _, v in entries(body, "virtual-storage-desc")}
    vcpus = 0
    memory_mb = 0
    storage_gb = 0.0
    for _, vdu in entries(body, "vdu"):
        compute = computes.get(leaf_text(vdu, "virtual-compute-desc"))
        if compute is not None:
            # YANG defaults: one virtual CPU, 1 GB of memory.
            cpu = compute.get("virtual-cpu")
            memory = compute.get("virtual-memory")
            vcpus += int(values.number_or(cpu.get("num-virtual-cpu") if isinstance(cpu, dict) else None, 1))
            memory_mb += round(values.number_or(memory.get("size") if isinstance(memory, dict) else None, 1) * 1024)
        for _, sid in scalars(vdu, "virtual-storage-desc"):
            storage = storages.get(sid)
            if storage is not None:
                storage_gb += _storage_size(storage)
    images: list[str] = []
    for _, image in entries(body, "sw-image-desc"):
        name = leaf_text(image, "image") or leaf_text(image, "name") or leaf_text(image, "id")
        if name and name not in images:
            images.append(name)
    return DescriptorSummary(
        kind="vnf",
        descriptor_id=leaf_text(body, "id") or "",
        vendor=leaf_text(body, "provider") or "",
        name=leaf_text(body, "product-name") or leaf_text(body, "name") or "",
        version=leaf_text(body, "version") or leaf_text(body, "software-version") or "",
        description=leaf_text(body, "description") or leaf_text(body, "product-info-description") or "",
        vcpus=vcpus,
        memory_mb=memory_mb,
        storage_gb=storage_gb,
        images=images,
        connection_points=[v for _, e in entries(body, "ext-cpd") if (v := leaf_text(e, "id")) is not None],
        virtual_links=[v for _, e in entries(body, "int-virtual-link-desc") if (v := leaf_text(e, "id")) is not None],
    )


def _storage_size(storage: Json) -> float:
    # size-of-storage directly on the entry is the SOL006 v2 layout OSM writes; v3 moved it into the choice.
    if "size-of-storage" in storage:
        return values.number_or(storage["size-of-storage"], 0)
    for holder in ("block-storage-data", "file-storage-data"):
        data = storage.get(holder)
        if isinstance(data, dict):
            return values.number_or(data.get("size-of-storage"), 0)
    return 0.0
