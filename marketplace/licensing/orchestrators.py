"""Orchestrator drivers: onboard packages and run network-service lifecycles on OSM (via its NBI)
or, when no orchestrator is configured, only track them."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

# States after which OSM does no more work on an operation by itself (FAILED_TEMP waits for a person).
FINAL_STATES = frozenset({"COMPLETED", "PARTIALLY_COMPLETED", "FAILED", "FAILED_TEMP", "ROLLED_BACK"})
# The NBI document lists application/zip only; OSM's own packages are .tar.gz, which OSM accepts as application/gzip.
ARCHIVE_TYPES = frozenset({"application/zip", "application/gzip"})


@dataclass(frozen=True)
class OnboardedPackage:
    id: str
    checksum: tuple[str, str] | None  # (algorithm, hash) as the orchestrator reports it


@dataclass(frozen=True)
class Operation:
    id: str
    state: str  # PROCESSING, COMPLETED, FAILED ... as the orchestrator says

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class OrchestratorError(Exception):
    """A call to the orchestrator failed; the message names the call, the HTTP status and the orchestrator's detail."""

    def __init__(self, message: str, *, call: str = "", status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.call = call
        self.status = status
        self.detail = detail


class Driver(Protocol):
    name: str
    deploys: bool  # False when the driver only tracks (nothing runs anywhere)

    def onboard_vnf_package(self, *, archive: Path, content_type: str) -> OnboardedPackage: ...

    def onboard_nsd(self, *, archive: Path, content_type: str) -> OnboardedPackage: ...

    def vnf_package_checksum(self, package_id: str) -> tuple[str, str] | None: ...

    def ns_package_checksums(self, ns_id: str) -> list[tuple[str, str]]:
        """The checksums the orchestrator reports now for the packages an NS instance uses."""
        ...

    def create_ns(self, *, nsd_id: str, name: str, description: str, vim_account: str) -> str: ...

    def instantiate_ns(self, ns_id: str, *, nsd_id: str, vim_account: str) -> Operation: ...

    def terminate_ns(self, ns_id: str) -> Operation: ...

    def ns_state(self, ns_id: str) -> str | None:
        """The NS instance's nsState at the orchestrator (INSTANTIATED, NOT_INSTANTIATED, ...); None when it
        holds no such instance."""
        ...

    def scale_ns(self, ns_id: str, *, scale_out: bool, aspect: str, member_vnf_index: str) -> Operation:
        """One scaling step of one VNF's scaling aspect, out (one more unit) or in (one fewer)."""
        ...

    def operation(self, op_id: str) -> Operation: ...

    def wait(self, op_id: str, *, timeout_s: float = 300, poll_s: float = 1.0) -> Operation: ...

    def delete_ns(self, ns_id: str) -> None: ...


def _wait(driver: Driver, op_id: str, timeout_s: float, poll_s: float) -> Operation:
    deadline = time.monotonic() + timeout_s
    while True:
        op = driver.operation(op_id)
        if op.state in FINAL_STATES:
            return op
        if time.monotonic() + poll_s > deadline:
            raise OrchestratorError(
                f"waiting for operation {op_id} failed: still {op.state} after {timeout_s:g} s", call="wait"
            )
        time.sleep(poll_s)


def _checksum(info: Any) -> tuple[str, str] | None:
    # SOL005's VnfPkgInfo/NsdInfo carry {"checksum": {"algorithm", "hash"}}; the NBI document does not list it,
    # so it is read when present and None otherwise.
    checksum = info.get("checksum") if isinstance(info, dict) else None
    if (
        isinstance(checksum, dict)
        and isinstance(checksum.get("algorithm"), str)
        and isinstance(checksum.get("hash"), str)
    ):
        return (checksum["algorithm"], checksum["hash"])
    return None


class OsmDriver:
    """OSM's northbound interface (NBI), as its OpenAPI document describes it."""

    name = "osm"
    deploys = True

    def __init__(
        self, base_url: str, username: str, password: str, project: str = "admin", timeout_s: float = 30
    ) -> None:
        # The NBI document's paths start at /admin, /nslcm ...; a deployed NBI serves them under /osm.
        root = base_url.rstrip("/")
        self.base_url = root if urlsplit(root).path.endswith("/osm") else f"{root}/osm"
        self.username = username
        self.password = password
        self.project = project
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._token: str | None = None
        self._expires: float = 0.0
        self._lock = threading.Lock()

    # --- transport -------------------------------------------------------------------------------------------

    def _fail(self, call: str, response: requests.Response) -> OrchestratorError:
        detail = ""
        try:
            body = response.json()
            if isinstance(body, dict):
                detail = str(body.get("detail") or body.get("title") or "")
        except ValueError:
            pass
        detail = detail or response.text[:300].strip() or response.reason or ""
        return OrchestratorError(
            f"{call} failed: HTTP {response.status_code}: {detail}",
            call=call,
            status=response.status_code,
            detail=detail,
        )

    def _new_token(self) -> str:
        call = "POST /admin/v1/tokens"
        body = {"username": self.username, "password": self.password, "project_id": self.project}
        try:
            response = self._session.post(
                f"{self.base_url}/admin/v1/tokens",
                json=body,
                headers={"Accept": "application/json"},
                timeout=self.timeout_s,
            )
        except requests.RequestException as exc:
            raise OrchestratorError(f"{call} failed: {exc}", call=call) from exc
        if not response.ok:
            raise self._fail(call, response)
        info = response.json()
        token = info.get("id") if isinstance(info, dict) else None
        if not isinstance(token, str) or not token:
            raise OrchestratorError(
                f"{call} failed: HTTP {response.status_code}: the answer holds no token id", call=call
            )
        expires = info.get("expires")
        # Without an expiry the token is kept until the NBI answers 401.
        self._expires = float(expires) if isinstance(expires, int | float) else float("inf")
        self._token = token
        return token

    def _bearer(self, *, renew: bool = False) -> str:
        with self._lock:
            # Renew a little before the stated expiry so that a call does not race it.
            if renew or self._token is None or time.time() >= self._expires - 10:
                return self._new_token()
            return self._token

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        data: bytes | None = None,
        content_type: str | None = None,
        expect: tuple[int, ...],
    ) -> requests.Response:
        call = f"{method} {path}"
        token = self._bearer()
        for attempt in (1, 2):
            headers = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
            if content_type is not None:
                headers["Content-Type"] = content_type
            try:
                response = self._session.request(
                    method, f"{self.base_url}{path}", json=json, data=data, headers=headers, timeout=self.timeout_s
                )
            except requests.RequestException as exc:
                raise OrchestratorError(f"{call} failed: {exc}", call=call) from exc
            if response.status_code == 401 and attempt == 1:
                # The token expired or was revoked: take a new one and repeat the call once.
                token = self._bearer(renew=True)
                continue
            if response.status_code not in expect:
                raise self._fail(call, response)
            return response
        raise AssertionError("unreachable")

    @staticmethod
    def _id(call: str, response: requests.Response) -> str:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("id"), str):
            return str(body["id"])
        location = response.headers.get("Location", "")
        if location:
            return location.rstrip("/").rsplit("/", 1)[-1]
        raise OrchestratorError(
            f"{call} failed: HTTP {response.status_code}: the answer names no id",
            call=call,
            status=response.status_code,
        )

    # --- packages --------------------------------------------------------------------------------------------

    def _upload(self, path: str, archive: Path, content_type: str) -> str:
        if content_type not in ARCHIVE_TYPES:
            raise ValueError(f"{content_type} is not a package archive type ({', '.join(sorted(ARCHIVE_TYPES))})")
        response = self._call(
            "POST", path, data=archive.read_bytes(), content_type=content_type, expect=(201, 202, 204)
        )
        return self._id(f"POST {path}", response)

    def onboard_vnf_package(self, *, archive: Path, content_type: str) -> OnboardedPackage:
        package_id = self._upload("/vnfpkgm/v1/vnf_packages_content", archive, content_type)
        return OnboardedPackage(package_id, self.vnf_package_checksum(package_id))

    def onboard_nsd(self, *, archive: Path, content_type: str) -> OnboardedPackage:
        nsd_id = self._upload("/nsd/v1/ns_descriptors_content", archive, content_type)
        info = self._call("GET", f"/nsd/v1/ns_descriptors/{nsd_id}", expect=(200,)).json()
        return OnboardedPackage(nsd_id, _checksum(info))

    def vnf_package_checksum(self, package_id: str) -> tuple[str, str] | None:
        return _checksum(self._call("GET", f"/vnfpkgm/v1/vnf_packages/{package_id}", expect=(200,)).json())

    def ns_package_checksums(self, ns_id: str) -> list[tuple[str, str]]:
        """The checksums of the NSD and VNF packages an NS instance uses, read back from the NBI now: OSM's NS
        record names its NSD (`nsd-id`) and VNF packages (`vnfd-id`, a VNF package's id is its VNFD's)."""
        record = self._call("GET", f"/nslcm/v1/ns_instances/{ns_id}", expect=(200,)).json()
        record = record if isinstance(record, dict) else {}
        found: list[tuple[str, str] | None] = []
        if isinstance(record.get("nsd-id"), str):
            found.append(
                _checksum(self._call("GET", f"/nsd/v1/ns_descriptors/{record['nsd-id']}", expect=(200,)).json())
            )
        vnfds = record.get("vnfd-id")
        for vnfd in vnfds if isinstance(vnfds, list) else []:
            if isinstance(vnfd, str):
                found.append(self.vnf_package_checksum(vnfd))
        return [c for c in found if c is not None]

    # --- network services ------------------------------------------------------------------------------------

    def create_ns(self, *, nsd_id: str, name: str, description: str, vim_account: str) -> str:
        body = {"nsdId": nsd_id, "nsName": name, "nsDescription": description, "vimAccountId": vim_account}
        response = self._call("POST", "/nslcm/v1/ns_instances", json=body, expect=(201,))
        return self._id("POST /nslcm/v1/ns_instances", response)

    def _operation_started(self, call: str, response: requests.Response) -> Operation:
        # The 202 answer carries the occurrence id only; its state is read from the occurrence itself.
        return self.operation(self._id(call, response))

    def instantiate_ns(self, ns_id: str, *, nsd_id: str, vim_account: str) -> Operation:
        # The instantiate body requires nsName too; the NS instance itself holds the name given at creation.
        ns = self._call("GET", f"/nslcm/v1/ns_instances/{ns_id}", expect=(200,)).json()
        body = {"nsName": str(ns.get("name", ns_id)), "nsdId": nsd_id, "vimAccountId": vim_account}
        path = f"/nslcm/v1/ns_instances/{ns_id}/instantiate"
        return self._operation_started(f"POST {path}", self._call("POST", path, json=body, expect=(202,)))

    def terminate_ns(self, ns_id: str) -> Operation:
        path = f"/nslcm/v1/ns_instances/{ns_id}/terminate"
        return self._operation_started(f"POST {path}", self._call("POST", path, json={}, expect=(202,)))

    def scale_ns(self, ns_id: str, *, scale_out: bool, aspect: str, member_vnf_index: str) -> Operation:
        # The NBI's ScaleNsRequest scales by one step of a scaling group of one member VNF; no step count.
        if not aspect or not member_vnf_index:
            raise OrchestratorError("scaling needs the scaling aspect and the member VNF index", call="scale")
        path = f"/nslcm/v1/ns_instances/{ns_id}/scale"
        body = {
            "scaleType": "SCALE_VNF",
            "scaleVnfData": {
                "scaleVnfType": "SCALE_OUT" if scale_out else "SCALE_IN",
                "scaleByStepData": {"scaling-group-descriptor": aspect, "member-vnf-index": member_vnf_index},
            },
        }
        return self._operation_started(f"POST {path}", self._call("POST", path, json=body, expect=(202,)))

    def operation(self, op_id: str) -> Operation:
        path = f"/nslcm/v1/ns_lcm_op_occs/{op_id}"
        occurrence = self._call("GET", path, expect=(200,)).json()
        state = occurrence.get("operationState") if isinstance(occurrence, dict) else None
        if not isinstance(state, str):
            raise OrchestratorError(f"GET {path} failed: HTTP 200: the answer holds no operationState", call=path)
        return Operation(op_id, state)

    def wait(self, op_id: str, *, timeout_s: float = 300, poll_s: float = 1.0) -> Operation:
        return _wait(self, op_id, timeout_s, poll_s)

    def delete_ns(self, ns_id: str) -> None:
        self._call("DELETE", f"/nslcm/v1/ns_instances/{ns_id}", expect=(202, 204))

    def ns_state(self, ns_id: str) -> str | None:
        response = self._call("GET", f"/nslcm/v1/ns_instances/{ns_id}", expect=(200, 404))
        if response.status_code == 404:
            return None
        body = response.json()
        state = body.get("nsState") if isinstance(body, dict) else None
        if not isinstance(state, str):
            raise OrchestratorError(f"GET /nslcm/v1/ns_instances/{ns_id}: the answer holds no nsState", call="ns")
        return state


class TrackingDriver:
    """Deploys nothing: ids are generated and operations complete at once, so instances can be tracked without OSM."""

    name = "tracking"
    deploys = False

    def __init__(self) -> None:
        self._checksums: dict[str, tuple[str, str]] = {}
        self._operations: dict[str, Operation] = {}
        self._instances: set[str] = set()
        self.scaled: list[tuple[str, bool, str, str]] = []  # (ns id, out, aspect, member VNF index) per step

    def _onboard(self, archive: Path) -> OnboardedPackage:
        hasher = hashlib.sha256()
        with archive.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                hasher.update(chunk)
        package = OnboardedPackage(str(uuid.uuid4()), ("SHA-256", hasher.hexdigest()))
        assert package.checksum is not None
        self._checksums[package.id] = package.checksum
        return package

    def onboard_vnf_package(self, *, archive: Path, content_type: str) -> OnboardedPackage:
        return self._onboard(archive)

    def onboard_nsd(self, *, archive: Path, content_type: str) -> OnboardedPackage:
        return self._onboard(archive)

    def vnf_package_checksum(self, package_id: str) -> tuple[str, str] | None:
        return self._checksums.get(package_id)

    def ns_package_checksums(self, ns_id: str) -> list[tuple[str, str]]:
        return []  # nothing is kept between requests; licences._held_checksums hashes the stored archives instead

    def create_ns(self, *, nsd_id: str, name: str, description: str, vim_account: str) -> str:
        ns_id = str(uuid.uuid4())
        self._instances.add(ns_id)
        return ns_id

    def _completed(self) -> Operation:
        op = Operation(str(uuid.uuid4()), "COMPLETED")
        self._operations[op.id] = op
        return op

    def instantiate_ns(self, ns_id: str, *, nsd_id: str, vim_account: str) -> Operation:
        return self._completed()

    def terminate_ns(self, ns_id: str) -> Operation:
        return self._completed()

    def scale_ns(self, ns_id: str, *, scale_out: bool, aspect: str, member_vnf_index: str) -> Operation:
        self.scaled.append((ns_id, scale_out, aspect, member_vnf_index))
        return self._completed()

    def operation(self, op_id: str) -> Operation:
        # Operations of another process (or before a restart) completed too: nothing ever runs.
        return self._operations.get(op_id, Operation(op_id, "COMPLETED"))

    def wait(self, op_id: str, *, timeout_s: float = 300, poll_s: float = 1.0) -> Operation:
        return self.operation(op_id)

    def delete_ns(self, ns_id: str) -> None:
        self._instances.discard(ns_id)

    def ns_state(self, ns_id: str) -> str | None:
        return None  # nothing runs anywhere
