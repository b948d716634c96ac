"""Ingest benchmarks: a 1 GiB ETSI CSAR against `sha256sum` + `cp`, peak RSS at 1 GiB and 10 MiB,
and the 5GTANGO example package; each ingest runs in a fresh process on a throwaway SecantusDB."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import embedded  # noqa: E402
from tests.processes import free_port  # noqa: E402

TANGO_EXAMPLE = Path("/work/shared/testdata/packages/5gtango/5gtango-ns-package-example.tgo")
DEMO_TYPES = ROOT / "demo" / "packages" / "etsi" / "nfvm-demo-smf-vnf" / "Definitions" / "nfvm_sol001_types.yaml"
DEPLOYMENT_VARS = ("MONGODB_URI", "MONGODB_NAME", "ETH_RPC_URL", "OPERATOR_KEYSTORE", "OPERATOR_KEYSTORE_PASSWORD")
MIB = 1024 * 1024
GIB = 1024 * MIB
TANGO_RUNS = 21
WORKER_TIMEOUT_S = 900


def progress(message: str) -> None:
    print(f"[bench] {message}", flush=True)


class BenchStore:
    """A throwaway SecantusDB (on disk in a temp dir, as `make run` keeps it) and the environment
    that points manage.py and worker processes at it, never at the checkout's var/."""

    def __init__(self, prefix: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=prefix))
        self.db = embedded.database_service(
            port=free_port(), storage=str(self.tmp / "db"), log_path=self.tmp / "db.log", pid_path=None
        )
        # Settings need a chain URL, and an external one needs a keystore; nothing benchmarked
        # here talks to the chain, so the URL names a port where nothing listens.
        keystore = self.tmp / "operator.json"
        keystore.write_text("{}")
        self.env = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARS}
        self.env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            MONGODB_URI=f"mongodb://127.0.0.1:{self.db.port}/?directConnection=true",
            MONGODB_NAME="nfvm_bench",
            ETH_RPC_URL=f"http://127.0.0.1:{free_port()}",
            OPERATOR_KEYSTORE=str(keystore),
            # Throwaway values for a throwaway store; they protect nothing.
            OPERATOR_KEYSTORE_PASSWORD="bench-only",  # noqa: S106
            DJANGO_SECRET_KEY="bench-secret-key-not-for-production-0123456789",  # noqa: S106
            NFVM_VAR_DIR=str(self.tmp / "var"),
            UPLOAD_TMP_DIR=str(self.tmp / "var" / "tmp"),
            STATIC_ROOT=str(self.tmp / "var" / "staticfiles"),
            LOG_LEVEL="WARNING",
            # The embedded default's blob store (a MongoDB deployment defaults to GridFS).
            BLOB_STORE=os.environ.get("BENCH_BLOB_STORE", "files"),
            BLOB_DIR=str(self.tmp / "var" / "blobs"),
        )

    def __enter__(self) -> BenchStore:
        try:
            embedded.start(self.db)
            # What `make run` does to a fresh database before it serves.
            self.manage("migrate", "--verbosity", "0")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        embedded.stop(self.db)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def manage(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} exited with {done.returncode}:\n{done.stderr[-4000:]}")
        return done.stdout

    def worker(self, module: str, *args: str) -> tuple[dict[str, Any], float]:
        """Run `python -m module args` against this store; its last stdout line is JSON.

        Returns that JSON and the process's peak RSS in MiB, from wait4: a fresh process that
        imports Django and does one job, nothing subtracted."""
        out_path = self.tmp / f"worker-{time.monotonic_ns()}.out"
        with out_path.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", module, *args], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
            deadline = time.monotonic() + WORKER_TIMEOUT_S
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    process.kill()
                    pid, status, usage = os.wait4(process.pid, 0)
                    break
                time.sleep(0.05)
            process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        text = out_path.read_text()
        out_path.unlink()
        if process.returncode != 0:
            raise RuntimeError(f"{module} {' '.join(args)} exited with {process.returncode}:\n{text[-4000:]}")
        return json.loads(text.strip().splitlines()[-1]), usage.ru_maxrss / 1024  # KiB on Linux


# --- package generation ---

VNFD = """\
tosca_definitions_version: tosca_simple_yaml_1_3
description: {description}
imports:
  - nfvm_sol001_types.yaml

topology_template:
  inputs:
    descriptor_id: {{type: string}}
    descriptor_version: {{type: string}}
    provider: {{type: string}}
    product_name: {{type: string}}
    software_version: {{type: string}}
    flavour_id: {{type: string}}
    flavour_description: {{type: string}}

  substitution_mappings:
    node_type: tosca.nodes.nfv.VNF
    requirements:
      virtual_link: [{name}_data_cp, virtual_link]

  node_templates:
    VNF:
      type: tosca.nodes.nfv.VNF
      properties:
        descriptor_id: {descriptor_id}
        descriptor_version: '1.0'
        provider: NFVM Bench
        product_name: {name}
        software_version: '1.0'
        flavour_id: simple
        flavour_description: One VDU booting the packaged image

    vdu:
      type: tosca.nodes.nfv.Vdu.Compute
      properties:
        name: {name}
        description: virtual machine booting the packaged image
        vdu_profile:
          min_number_of_instances: 1
          max_number_of_instances: 1
        sw_image_data:
          name: {name}-image
          version: '1.0'
      capabilities:
        virtual_compute:
          properties:
            virtual_cpu:
              num_virtual_cpu: 4
            virtual_memory:
              virtual_mem_size: 8 GB
            virtual_local_storage:
              - size_of_storage: 40 GB
      artifacts:
        sw_image:
          type: tosca.artifacts.Deployment.Image.VM
          file: ../Files/images/{name}.qcow2

    {name}_mgmt_cp:
      type: tosca.nodes.nfv.VduCp
      properties:
        layer_protocols: [ipv4]
      requirements:
        - virtual_binding: vdu
        - virtual_link: {name}_mgmt_vl

    {name}_data_cp:
      type: tosca.nodes.nfv.VduCp
      properties:
        layer_protocols: [ipv4]
      requirements:
        - virtual_binding: vdu

    {name}_mgmt_vl:
      type: tosca.nodes.nfv.VnfVirtualLink
      properties:
        description: management network inside the VNF
"""


def write_image(path: Path, size: int) -> None:
    """Incompressible bytes: random 1 MiB blocks, each with its own offset stamp so no two
    blocks (or GridFS chunks) are equal; deflate's 32 KiB window finds nothing to reuse."""
    pool = os.urandom(4 * MIB)
    with path.open("wb") as out:
        for index in range(-(-size // MIB)):
            start = (index * 7919) % (3 * MIB)
            block = index.to_bytes(8, "big") + pool[start + 8 : start + MIB]
            out.write(block[: min(MIB, size - index * MIB)])


def build_csar(workdir: Path, name: str, image_size: int) -> Path:
    """An ETSI SOL004 CSAR of one VNFD and one image of `image_size` bytes, via the project's builder."""
    from marketplace.repository.packages.build import build

    folder = workdir / name
    (folder / "Definitions").mkdir(parents=True)
    (folder / "Files" / "images").mkdir(parents=True)
    shutil.copy(DEMO_TYPES, folder / "Definitions" / DEMO_TYPES.name)
    (folder / "Definitions" / f"{name}.vnfd.yaml").write_text(
        VNFD.format(
            name=name,
            description=f"Benchmark VNF with a {image_size // MIB} MiB image",
            descriptor_id=f"nfvm-bench-{name}",
        )
    )
    image = folder / "Files" / "images" / f"{name}.qcow2"
    write_image(image, image_size)
    try:
        return build(folder, "etsi", workdir / f"{name}.csar")
    finally:
        shutil.rmtree(folder)  # the image is in the archive now; free its space


# --- the measurements, run in the parent ---


def sha256sum_then_cp(path: Path, dest: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["sha256sum", str(path)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cp", str(path), str(dest)], check=True)
    elapsed = time.perf_counter() - started
    dest.unlink()  # before the ingest, so its dirty pages are dropped rather than written back
    return elapsed


def bench_large_ingest(store: BenchStore, work: Path) -> dict[str, float]:
    results: dict[str, float] = {}
    progress("ingest: building a 10 MiB CSAR")
    small = build_csar(work, "bench_small", 10 * MIB)
    progress("ingest: ingesting the 10 MiB CSAR in a fresh process")
    report, rss = store.worker("bench.ingest", "one", str(small))
    results["ingest_peak_rss_mb_10mib"] = round(rss, 1)
    peaks = ", ".join(f"{k} {v:.0f}" for k, v in report["peak_rss_mib"].items())
    progress(f"ingest: 10 MiB in {report['ingest_s']:.2f} s, peak RSS {rss:.1f} MiB (MiB before/after phases: {peaks})")
    small.unlink()

    progress("ingest: building a 1 GiB CSAR (deflating random bytes takes a while)")
    started = time.perf_counter()
    large = build_csar(work, "bench_large", GIB)
    progress(f"ingest: built {large.stat().st_size / MIB:.0f} MiB in {time.perf_counter() - started:.1f} s")
    try:
        baseline = sha256sum_then_cp(large, work / "copy.csar")
        progress(f"ingest: sha256sum + cp of the same file: {baseline:.2f} s")
        progress("ingest: ingesting the 1 GiB CSAR in a fresh process")
        report, rss = store.worker("bench.ingest", "one", str(large))
    finally:
        large.unlink(missing_ok=True)
    ingest_s = report["ingest_s"]
    results["ingest_1gib_s"] = round(ingest_s, 3)
    results["sha256sum_cp_1gib_s"] = round(baseline, 3)
    results["ingest_1gib_ratio_vs_sha256sum_cp"] = round(ingest_s / baseline, 2)
    results["ingest_peak_rss_mb_1gib"] = round(rss, 1)
    phases = report["phases"]
    # Where the time goes: nested timers around the product's own functions (see _worker_one).
    breakdown = {
        "spool": phases.get("spool", 0.0),
        "open_archive": phases.get("open_archive", 0.0),
        "index": phases.get("index", 0.0),
        "validate": phases.get("inspect", 0.0) - phases.get("open_archive", 0.0) - phases.get("index", 0.0),
        "blob": phases.get("blob", 0.0),
        "store": phases.get("store", 0.0),
    }
    breakdown["other"] = ingest_s - sum(breakdown.values())
    for phase, seconds in breakdown.items():
        results[f"ingest_1gib_phase_{phase}_s"] = round(seconds, 3)
    shown = ", ".join(f"{k} {v:.2f} s" for k, v in breakdown.items())
    progress(f"ingest: 1 GiB in {ingest_s:.2f} s ({shown}), peak RSS {rss:.1f} MiB")
    peaks = ", ".join(f"{k} {v:.0f}" for k, v in report["peak_rss_mib"].items())
    progress(f"ingest: 1 GiB peak RSS (MiB) before the ingest and after each phase: {peaks}")
    return results


def bench_tango_example(store: BenchStore, *, after_large: bool = False) -> dict[str, float]:
    """Median ingest and inspection of the 5GTANGO example; `after_large`: the store already
    holds the 1 GiB and 10 MiB packages, and only the ingest is reported."""
    if not TANGO_EXAMPLE.is_file():
        progress(f"ingest: skipping the 5GTANGO example: {TANGO_EXAMPLE} is absent")
        return {}
    where = "with 1 GiB stored" if after_large else "on an empty store"
    progress(f"ingest: 5GTANGO example {where}, {TANGO_RUNS} ingests and {TANGO_RUNS} inspections in one process")
    report, _ = store.worker("bench.ingest", "tango", str(TANGO_EXAMPLE), str(TANGO_RUNS))
    ingest = statistics.median(report["ingest_s"])
    inspect = statistics.median(report["inspect_s"])
    progress(f"ingest: 5GTANGO example {where}: median ingest {ingest * 1000:.1f} ms, inspect {inspect * 1000:.1f} ms")
    if after_large:
        return {"ingest_5gtango_example_median_s_1gib_stored": round(ingest, 4)}
    return {
        "ingest_5gtango_example_median_s": round(ingest, 4),
        "inspect_5gtango_example_median_s": round(inspect, 4),
    }


def bench_ingest() -> dict[str, float]:
    """Every ingest metric, on one throwaway store; temp files (1 GiB of them) go in any case."""
    results: dict[str, float] = {}
    progress("ingest: starting a throwaway SecantusDB")
    with BenchStore("nfvm-bench-ingest-") as store:
        work = store.tmp / "work"
        work.mkdir()
        results.update(bench_tango_example(store))
        results.update(bench_large_ingest(store, work))
        # The same again once 1 GiB of blobs is stored: nothing an ingest does may grow with the store.
        results.update(bench_tango_example(store, after_large=True))
    return results


# --- worker processes: Django set up against the store named by the environment ---


def _uploader() -> str:
    from eth_account import Account

    return str(Account.from_key(embedded.ANVIL_DEV_KEYS[1]).address)


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _PhaseTimer:
    """Accumulates wall time spent in chosen functions by replacing them, in this process only,
    and notes the peak RSS when each returns, to tell which phase sets the process's peak."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_rss_after: dict[str, float] = {}

    def wrap(self, module: ModuleType, attribute: str, phase: str) -> None:
        original: Callable[..., Any] = getattr(module, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - started
                self.peak_rss_after[phase] = _peak_rss_mib()

        setattr(module, attribute, timed)


def _worker_one(path: Path) -> dict[str, Any]:
    import django

    django.setup()
    from marketplace.repository import blobs, services
    from marketplace.repository.packages import inspect

    phases = _PhaseTimer()
    phases.wrap(services, "_spool", "spool")
    phases.wrap(services, "inspect_package", "inspect")
    phases.wrap(inspect, "open_archive", "open_archive")
    phases.wrap(inspect, "_index", "index")
    phases.wrap(blobs, "blob_adopt", "blob")
    phases.wrap(services, "_store", "store")
    uploader = _uploader()
    peak_before = _peak_rss_mib()
    with path.open("rb") as source:
        started = time.perf_counter()
        result = services.package_ingest(source=source, uploader=uploader, filename=path.name)
        elapsed = time.perf_counter() - started
    if not result.created:
        raise RuntimeError(f"{path.name} was already in the benchmark store; nothing was measured")
    return {
        "ingest_s": elapsed,
        "phases": phases.seconds,
        "peak_rss_mib": {"before": peak_before, **phases.peak_rss_after},
    }


def _worker_tango(path: Path, runs: int) -> dict[str, Any]:
    import django

    django.setup()
    from marketplace.repository import services
    from marketplace.repository.packages.inspect import inspect_package

    uploader = _uploader()

    def ingest_once() -> float:
        with path.open("rb") as source:
            started = time.perf_counter()
            result = services.package_ingest(source=source, uploader=uploader, filename=path.name)
            elapsed = time.perf_counter() - started
        if not result.created:
            raise RuntimeError(f"{path.name} was already stored; the previous run's delete did not happen")
        # Outside the timing: the next run must store again, not find the digest.
        services.package_delete(package=result.package, actor=uploader)
        return elapsed

    def inspect_once() -> float:
        started = time.perf_counter()
        inspect_package(path, lookup=lambda ref: None)
        return time.perf_counter() - started

    ingest_once()  # warm-up: first queries, imports of validators, connection pool
    ingest = [ingest_once() for _ in range(runs)]
    inspect_once()
    inspect = [inspect_once() for _ in range(runs)]
    return {"ingest_s": ingest, "inspect_s": inspect}


def _worker(argv: list[str]) -> int:
    if argv[:1] == ["one"] and len(argv) == 2:
        report = _worker_one(Path(argv[1]))
    elif argv[:1] == ["tango"] and len(argv) == 3:
        report = _worker_tango(Path(argv[1]), int(argv[2]))
    else:
        sys.stderr.write("usage: python -m bench.ingest one PACKAGE | tango PACKAGE RUNS\n")
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1:]))
