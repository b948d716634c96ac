"""Search benchmark: 10,000 catalogue entries on a throwaway SecantusDB, queried through the JSON
API of a real `manage.py runserver`; text, filter, prefix and page-2 queries, and plain listing."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ingest import BenchStore, progress  # noqa: E402
from tests.processes import (  # noqa: E402
    free_port,
    get,
    port_open,
)

ENTRIES = 10_000
SEARCH_REQUESTS = 300
LIST_REQUESTS = 200
# Search and listing are answered from the catalogue index (marketplace/catalogue.py); were they
# to scan the collection again (about a second a request at 10,000 entries on the embedded store),
# the sampling stops at these budgets to keep `make bench` near ten minutes. The number of samples
# taken is recorded beside the percentiles.
SEARCH_BUDGET_S = 240.0
LIST_BUDGET_S = 100.0
BATCH = 500

# The mix a catalogue sees: one word, two words, a prefix typed so far, text with filters, page 2.
SEARCHES = [
    {"q": "firewall"},
    {"q": "user plane"},
    {"q": "fire"},
    {"q": "gateway", "kind": "vnf", "min_vcpus": "8"},
    {"q": "session management", "kind": "vnf", "min_vcpus": "4"},
    {"q": "router", "page": "2"},
    {"q": "5g core", "kind": "ns"},
    {"q": "edge", "kind": "vnf", "min_vcpus": "2", "page": "2"},
    {"q": "lo"},
    {"q": "aurora firewall"},
    {"q": "inspection", "kind": "vnf", "min_vcpus": "16"},
    {"q": "transcoder", "sort": "name"},
]
LISTING = {"per_page": "20"}

VENDORS = [
    "Aurora Networks", "Bluepeak Systems", "Cobalt Telecom", "Deltawave", "Ember Labs", "Fjord Mobile",
    "Granite Core", "Helix Radio", "Ionic Transport", "Juniper Ridge Software", "Kestrel Comms", "Lumen Fabric",
    "Meridian Edge", "Nimbus Carrier", "Orca Signal", "Polaris Packet", "Quartz Wireless", "Redwood Telco",
    "Summit Stack", "Tidal Systems", "Umbra Security", "Vertex Access", "Willow Switching", "Xenon Optical",
    "Yarrow Cloud", "Zephyr Networks", "Atlas Mobility", "Boreal Data", "Cascade NFV", "Driftwood Labs",
    "Equinox Voice", "Falcon Secure", "Glacier Routing", "Harbor 5G", "Indigo Probe", "Jetstream Media",
    "Keystone Core", "Lattice Open Source", "Monsoon Telecom", "Northstar Transit",
]  # fmt: skip

# (name stem, long name, what it does, category, tags)
FUNCTIONS = [
    ("upf", "User Plane Function", "forwards 5G user plane traffic on N3, N6 and N9", "5g-core", ["5g", "upf"]),
    ("amf", "Access and Mobility Management Function", "handles registration and mobility", "5g-core", ["5g"]),
    ("smf", "Session Management Function", "sets up PDU sessions and steers the UPF", "5g-core", ["5g", "pfcp"]),
    ("nrf", "Network Repository Function", "registers and discovers 5G core services", "5g-core", ["5g", "sba"]),
    ("ausf", "Authentication Server Function", "authenticates subscribers with 5G AKA", "5g-core", ["5g"]),
    ("udm", "Unified Data Management", "keeps subscriber profiles and credentials", "5g-core", ["5g"]),
    ("pcf", "Policy Control Function", "decides QoS and charging policy", "5g-core", ["5g", "policy"]),
    ("nssf", "Network Slice Selection Function", "picks the network slice for a session", "5g-core", ["slicing"]),
    ("firewall", "Next-Generation Firewall", "stateful inspection with application control", "security", ["fw"]),
    ("waf", "Web Application Firewall", "filters HTTP attacks in front of web services", "security", ["waf"]),
    ("ids", "Intrusion Detection System", "deep packet inspection against threat signatures", "security", ["ids"]),
    ("vpn-gateway", "VPN Gateway", "terminates IPsec and WireGuard tunnels", "security", ["vpn", "ipsec"]),
    ("router", "Virtual Edge Router", "BGP and OSPF routing with MPLS at the edge", "routing", ["bgp", "mpls"]),
    ("cgnat", "Carrier-Grade NAT", "translates subscriber addresses at scale", "routing", ["nat", "ipv4"]),
    ("bng", "Broadband Network Gateway", "terminates subscriber sessions for fixed access", "routing", ["bng"]),
    ("load-balancer", "Load Balancer", "spreads traffic across service instances", "routing", ["lb", "l4"]),
    ("dpi", "Deep Packet Inspection Engine", "classifies traffic by application", "monitoring", ["dpi"]),
    ("probe", "Monitoring Probe", "measures latency and loss between sites", "monitoring", ["telemetry"]),
    ("sbc", "Session Border Controller", "protects and normalises SIP signalling", "ims", ["sip", "voice"]),
    ("ims-core", "IMS Core", "CSCF functions for voice over LTE and NR", "ims", ["ims", "volte"]),
    ("mme", "Mobility Management Entity", "4G EPC control plane for attach and handover", "epc", ["4g", "epc"]),
    ("sgw", "Serving Gateway", "anchors 4G user plane between eNodeBs", "epc", ["4g", "epc"]),
    ("pgw", "Packet Data Network Gateway", "connects 4G subscribers to packet networks", "epc", ["4g", "gateway"]),
    ("hss", "Home Subscriber Server", "stores 4G subscriber data", "epc", ["4g", "diameter"]),
    ("cdn-cache", "CDN Cache", "caches video segments close to subscribers", "media", ["cdn", "video"]),
    ("transcoder", "Video Transcoder", "transcodes live streams to adaptive bitrates", "media", ["video", "hls"]),
    ("dns-resolver", "DNS Resolver", "recursive DNS with caching and filtering", "network-services", ["dns"]),
    ("sd-wan-edge", "SD-WAN Edge", "steers branch traffic over several uplinks", "routing", ["sdwan", "edge"]),
]
SERVICES = [
    ("5g-core-slice", "5G Core Slice", "a 5G core for one network slice: AMF, SMF, UPF", "5g-core", ["5g", "slicing"]),
    ("secure-edge", "Secure Edge", "firewall and VPN gateway chained at the edge", "security", ["edge", "sfc"]),
    ("video-delivery", "Video Delivery Chain", "transcoder and CDN cache for live video", "media", ["video"]),
    ("voice-service", "Voice Service", "IMS core behind a session border controller", "ims", ["voice", "volte"]),
    ("enterprise-wan", "Enterprise WAN", "SD-WAN edge with a virtual router and firewall", "routing", ["sdwan"]),
    ("mobile-backhaul", "Mobile Backhaul", "4G EPC gateways with monitoring probes", "epc", ["4g", "backhaul"]),
]
VARIANTS = ["", "lite", "pro", "edge", "ha", "cloud", "micro", "carrier", "enterprise", "lab", "xl", "nano"]
EXTRAS = [
    "Cloud-native and ready for Kubernetes or OpenStack.",
    "Scales out horizontally with stateless workers.",
    "Supports SR-IOV and DPDK for line-rate throughput.",
    "Ships with Day-1 configuration and health checks.",
    "Validated against ETSI NFV interoperability tests.",
    "Includes a management interface with NETCONF and REST.",
]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def catalogue_rows(count: int, seed: int = 20240601) -> list[dict[str, Any]]:
    """Package fields for `count` entries: lines of one to three versions, the newest latest."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    now = datetime(2025, 6, 1, tzinfo=UTC)
    uploaders = ["0x" + hashlib.sha256(f"developer-{i}".encode()).hexdigest()[:40] for i in range(60)]
    while len(rows) < count:
        vendor = rng.choice(VENDORS)
        is_ns = rng.random() < 0.25
        stem, long_name, purpose, category, tags = rng.choice(SERVICES if is_ns else FUNCTIONS)
        variant = rng.choice(VARIANTS)
        name = f"{stem}-{variant}" if variant else stem
        if (vendor, name) in seen:
            continue
        seen.add((vendor, name))
        versions = rng.choices([1, 2, 3], weights=[80, 15, 5])[0]
        major = rng.randint(0, 4)
        vcpus = rng.choice([1, 2, 2, 4, 4, 8, 8, 16, 32, 64]) * (3 if is_ns else 1)
        fmt = rng.choices(["etsi", "osm", "5gtango"], weights=[50, 35, 15])[0]
        for minor in range(versions):
            if len(rows) >= count:
                break
            version = f"{major}.{minor}.{rng.randint(0, 9)}"
            description = (
                f"{long_name} ({'network service' if is_ns else 'VNF'}) by {vendor}: {purpose}. {rng.choice(EXTRAS)}"
            )
            all_tags = sorted({*tags, *rng.sample(["cnf", "vm", "openstack", "kubernetes", "dpdk", "ha"], 2)})
            rows.append(
                {
                    "format": fmt,
                    "kind": "ns" if is_ns else "vnf",
                    "vendor": vendor,
                    "name": name,
                    "version": version,
                    "is_latest": minor == versions - 1,
                    "state": rng.choices(["validated", "published", "deprecated", "revoked"], [60, 36, 3, 1])[0],
                    "digest": hashlib.sha256(f"{vendor}/{name}/{version}".encode()).hexdigest(),
                    "size": rng.randint(200_000, 2_000_000_000),
                    "filename": f"{name}-{version}." + {"etsi": "csar", "osm": "tar.gz", "5gtango": "tgo"}[fmt],
                    "main_descriptor": f"Definitions/{name}.{'nsd' if is_ns else 'vnfd'}.yaml",
                    "descriptor_digest": hashlib.sha256(f"{vendor}/{name}/{version}/d".encode()).hexdigest(),
                    "uploader": rng.choice(uploaders),
                    "vcpus": vcpus,
                    "memory_mb": vcpus * rng.choice([1024, 2048, 4096]),
                    "storage_gb": float(rng.choice([4, 8, 20, 40, 100, 250])),
                    "description": description,
                    "category": category,
                    "tags": all_tags,
                    "created_at": now - timedelta(days=(versions - minor) * rng.randint(20, 200), seconds=len(rows)),
                }
            )
    return rows


def _worker_seed(count: int) -> dict[str, Any]:
    """Insert the catalogue with bulk_create: benchmark setup, not what is measured."""
    import django

    django.setup()
    from marketplace.repository.models import Package, PackageFile
    from marketplace.repository.search import index_tokens
    from marketplace.repository.versions import version_key

    # Spread creation times like a catalogue that grew over two years; the default sort uses them.
    Package._meta.get_field("created_at").auto_now_add = False
    started = time.perf_counter()
    objects = []
    for row in catalogue_rows(count):
        descriptor = row["main_descriptor"]
        objects.append(
            Package(
                **row,
                version_key=version_key(row["version"]),
                files=[
                    PackageFile(
                        path=descriptor, size=4_000, sha256=row["descriptor_digest"], media_type="application/yaml"
                    ),
                    PackageFile(
                        path="TOSCA-Metadata/TOSCA.meta", size=180, sha256=row["digest"], media_type="text/plain"
                    ),
                ],
                search_tokens=index_tokens([row["vendor"], row["name"], row["description"], *row["tags"]]),
            )
        )
    for start in range(0, len(objects), BATCH):
        Package.objects.bulk_create(objects[start : start + BATCH])
    return {"inserted": Package.objects.count(), "seconds": time.perf_counter() - started}


def _measure(
    base: str, queries: list[dict[str, str]], requests: int, budget_s: float
) -> tuple[list[float], dict[str, int]]:
    """Milliseconds per request, cycling through `queries` until `requests` are done or the
    budget is spent; every answer must be a 200."""
    urls = [f"{base}/api/v1/packages?{urllib.parse.urlencode(q)}" for q in queries]
    totals: dict[str, int] = {}

    def fetch(url: str) -> str:
        status, body = get(url, timeout=60)
        if status != 200:
            raise RuntimeError(f"GET {url} answered {status}: {body[:500]}")
        return body

    # Warm-up, one request per query: first connections, imports, caches; it also shows how
    # many entries each query matches, so a query that matches nothing is noticed.
    for url in urls:
        totals[url.split("?", 1)[1]] = int(json.loads(fetch(url))["total"])
    samples: list[float] = []
    deadline = time.monotonic() + budget_s
    while len(samples) < requests and time.monotonic() < deadline:
        url = urls[len(samples) % len(urls)]
        started = time.perf_counter()
        fetch(url)
        samples.append((time.perf_counter() - started) * 1000)
    return samples, totals


def _wait_until_listening(port: int, server: subprocess.Popen[str], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"runserver exited with {server.returncode}:\n{log.read_text()[-4000:]}")
        if port_open(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"runserver did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def bench_search() -> dict[str, float]:
    results: dict[str, float] = {}
    progress("search: starting a throwaway SecantusDB")
    with BenchStore("nfvm-bench-search-") as store:
        progress(f"search: inserting {ENTRIES} catalogue entries")
        seeded, _ = store.worker("bench.search", "seed", str(ENTRIES))
        progress(f"search: {seeded['inserted']} entries in {seeded['seconds']:.1f} s")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = store.tmp / "runserver.log"
        log = log_path.open("w")
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=store.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            _wait_until_listening(port, server, log_path)
            progress(
                f"search: up to {SEARCH_REQUESTS} search requests over {len(SEARCHES)} kinds of query "
                f"(at most {SEARCH_BUDGET_S:.0f} s)"
            )
            samples, totals = _measure(base, SEARCHES, SEARCH_REQUESTS, SEARCH_BUDGET_S)
            for query, total in totals.items():
                progress(f"search:   {query}: {total} matches")
            results["search_10k_p50_ms"] = round(statistics.median(samples), 2)
            results["search_10k_p95_ms"] = round(percentile(samples, 95), 2)
            results["search_10k_requests"] = len(samples)
            progress(f"search: up to {LIST_REQUESTS} listing requests (at most {LIST_BUDGET_S:.0f} s)")
            listing, _ = _measure(base, [LISTING], LIST_REQUESTS, LIST_BUDGET_S)
            results["list_10k_p50_ms"] = round(statistics.median(listing), 2)
            results["list_10k_p95_ms"] = round(percentile(listing, 95), 2)
            results["list_10k_requests"] = len(listing)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
    progress(
        f"search: p50 {results['search_10k_p50_ms']} ms, p95 {results['search_10k_p95_ms']} ms "
        f"({results['search_10k_requests']} requests); listing p95 {results['list_10k_p95_ms']} ms "
        f"({results['list_10k_requests']} requests)"
    )
    return results


def _worker(argv: list[str]) -> int:
    if argv[:1] != ["seed"] or len(argv) != 2:
        sys.stderr.write("usage: python -m bench.search seed COUNT\n")
        return 2
    print(json.dumps(_worker_seed(int(argv[1]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
