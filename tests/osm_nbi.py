"""A local stand-in for OSM's NBI: in-memory state, and every request and answer checked against OSM's
OpenAPI document (read in place), so the orchestrator driver is tested against the published contract."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import yaml

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "testdata" / "specs" / "osm-nbi-sol005-openapi.yaml"
PREFIX = "/osm"  # a deployed NBI serves the document's paths under /osm
METHODS = ("get", "put", "post", "delete", "patch")
JSON_TYPES = ("application/json", "application/yaml")
# OSM's own packages are .tar.gz and OSM takes them as application/gzip, but the document lists application/zip
# only. Allowed uploads of that kind are recorded as deviations (not failures) unless the stand-in is strict.
GZIP_UPLOADS = {"uploadVnfPkgsContent", "uploadNsPkgsContent"}
PROJECT_IDS = {"admin": "5f2b6f0e-6a39-4b43-9d55-6c3c1a3b8e01"}


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` means "or null", which JSON Schema says with a type list or anyOf."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable(value) for key, value in node.items()}
    if out.pop("nullable", False) is True:
        if isinstance(out.get("type"), str) and not any(k in out for k in ("oneOf", "anyOf", "allOf", "$ref")):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


class Spec:
    """The NBI document: finds the operation of a request and checks request and answer bodies."""

    def __init__(self, path: Path = SPEC) -> None:
        self.document: dict[str, Any] = _nullable(yaml.safe_load(path.read_text()))
        self.format_checker = jsonschema.FormatChecker()
        self.routes: list[tuple[re.Pattern[str], str, int]] = []
        for template in self.document["paths"]:
            pattern = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template))
            # Literal segments beat parameters when two templates match the same path.
            self.routes.append((re.compile(f"^{pattern}$"), template, template.count("{")))
        self.routes.sort(key=lambda route: route[2])

    def deref(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def schema_errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        # The document's "#/components/..." references resolve against the root schema, so it carries them along.
        root = {**schema, "components": self.document["components"]}
        validator = jsonschema.Draft4Validator(root, format_checker=self.format_checker)
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message}"
            for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        ]

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any], list[str]] | None:
        for pattern, template, _ in self.routes:
            match = pattern.match(path)
            if match and method.lower() in self.document["paths"][template]:
                return template, self.document["paths"][template][method.lower()], list(match.groups())
        return None

    def parameters(self, template: str, op: dict[str, Any]) -> list[dict[str, Any]]:
        shared = self.document["paths"][template].get("parameters", [])
        return [self.deref(p) for p in [*shared, *op.get("parameters", [])]]

    def request_errors(
        self, template: str, op: dict[str, Any], query: dict[str, list[str]], content_type: str, body: bytes
    ) -> tuple[list[str], Any]:
        errors: list[str] = []
        declared = {p["name"] for p in self.parameters(template, op) if p.get("in") == "query"}
        errors += [f"query parameter {name} is not in the document" for name in query if name not in declared]
        request_body = self.deref(op.get("requestBody"))
        if request_body is None:
            if body:
                errors.append("the operation takes no request body")
            return errors, None
        if not body:
            if request_body.get("required"):
                errors.append("the request body is required")
            return errors, None
        content = request_body.get("content", {})
        if content_type not in content:
            errors.append(f"request Content-Type {content_type or '(none)'} is not one of {', '.join(content)}")
            return errors, None
        schema = content[content_type].get("schema", {})
        if content_type in JSON_TYPES:
            try:
                parsed = json.loads(body) if content_type == "application/json" else yaml.safe_load(body)
            except ValueError as exc:
                return [*errors, f"the request body is not {content_type}: {exc}"], None
            return errors + self.schema_errors(schema, parsed), parsed
        if self.deref(schema).get("format") != "binary":
            errors.append(f"{content_type} body against a non-binary schema")
        return errors, body

    def response_errors(self, op: dict[str, Any], status: int, content_type: str, body: bytes) -> list[str]:
        responses = op.get("responses", {})
        # Success codes must be listed one by one; errors may fall under "NXX" or "default" as OpenAPI allows.
        key = next(
            (k for k in (str(status), f"{status // 100}XX") if k in responses),
            "default" if status >= 400 and "default" in responses else None,
        )
        if key is None:
            return [f"answer status {status} is not documented for {op.get('operationId')}"]
        content = self.deref(responses[key]).get("content")
        if not content:
            return [f"answer {status} documents no body but one was sent"] if body else []
        if content_type not in content:
            return [f"answer Content-Type {content_type or '(none)'} is not one of {', '.join(content)}"]
        if content_type not in JSON_TYPES:
            return []
        return self.schema_errors(content[content_type].get("schema", {}), json.loads(body) if body else None)


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def problem(status: int, detail: str, title: str = "") -> Answer:
    return Answer(status, {"status": status, "title": title or detail, "detail": detail})


class OsmNbi:
    """The NBI's state and behaviour; `url` is where it listens once started with `serve()`."""

    def __init__(
        self,
        spec: Spec,
        *,
        username: str = "admin",
        password: str = "admin",  # noqa: S107 - the stand-in's own login, as a fresh OSM has it
        strict: bool = False,
    ) -> None:
        self.spec = spec
        self.username, self.password = username, password
        self.strict = strict
        self.url = ""
        self.lock = threading.RLock()
        self.failures: list[str] = []  # requests or answers the document does not allow
        self.deviations: list[str] = []  # allowed beyond the document (see GZIP_UPLOADS)
        self.calls: list[tuple[str, str, int]] = []  # (operationId, path, status)
        self.tokens: dict[str, float] = {}  # token -> expiry
        self.packages: dict[str, dict[str, Any]] = {}
        self.nsds: dict[str, dict[str, Any]] = {}
        self.instances: dict[str, dict[str, Any]] = {}
        self.occurrences: dict[str, dict[str, Any]] = {}
        self._fail_next: dict[str, Answer] = {}
        self._fail_operation: set[str] = set()
        self.hold_operations = False  # occurrences stay PROCESSING (to test waiting out a timeout)

    # --- what tests steer ------------------------------------------------------------------------------------

    def fail_next(self, operation_id: str, status: int, detail: str) -> None:
        """The next call of `operation_id` answers `status` with a ProblemDetails saying `detail`."""
        self._fail_next[operation_id] = problem(status, detail)

    def fail_next_operation(self, lcm_operation_type: str) -> None:
        """The next occurrence of that type ("instantiate", "terminate") ends FAILED."""
        self._fail_operation.add(lcm_operation_type)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def operation_ids(self) -> list[str]:
        return [call[0] for call in self.calls]

    # --- HTTP ------------------------------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes, dict[str, str]]:
        split = urlsplit(raw_path)
        content_type = headers.get("content-type", "").split(";")[0].strip()
        with self.lock:
            found = self.spec.operation(method, split.path.removeprefix(PREFIX))
            if not split.path.startswith(PREFIX + "/") or found is None:
                return self._refuse(f"{method} {split.path} is not in the NBI document")
            template, op, args = found
            operation_id = str(op.get("operationId"))
            if content_type == "application/gzip" and operation_id in GZIP_UPLOADS and not self.strict:
                self.deviations.append(f"{operation_id}: application/gzip body (the document lists application/zip)")
                errors, parsed = ([] if body else ["the request body is required"]), body
            else:
                errors, parsed = self.spec.request_errors(template, op, parse_qs(split.query), content_type, body)
            if errors:
                return self._refuse(f"request to {operation_id}: " + "; ".join(errors))
            answer = self._answer(operation_id, args, headers, parsed, content_type)
            raw = b"" if answer.body is None else json.dumps(answer.body).encode()
            answer_type = "application/json" if raw else ""
            errors = self.spec.response_errors(op, answer.status, answer_type, raw)
            if errors:
                return self._refuse(f"answer of {operation_id} ({answer.status}): " + "; ".join(errors))
            self.calls.append((operation_id, split.path, answer.status))
            return answer.status, answer_type, raw, answer.headers

    def _refuse(self, reason: str) -> tuple[int, str, bytes, dict[str, str]]:
        self.failures.append(reason)
        return 500, "application/json", json.dumps({"status": 500, "detail": reason}).encode(), {}

    def _answer(self, operation_id: str, args: list[str], headers: dict[str, str], body: Any, ctype: str) -> Answer:
        if operation_id == "createToken":
            return self._token(body)
        auth = headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if token not in self.tokens or self.tokens[token] < time.time():
            return problem(401, "token is missing, invalid or expired", "Unauthorized")
        if operation_id in self._fail_next:
            return self._fail_next.pop(operation_id)
        handler = getattr(self, f"_op_{operation_id}", None)
        if handler is None:
            return problem(405, f"{operation_id} is not implemented by the stand-in")
        answer: Answer = handler(*args, body=body, content_type=ctype)
        return answer

    # --- operations (named after the document's operationIds) ------------------------------------------------

    def _token(self, body: dict[str, Any]) -> Answer:
        if body.get("username") != self.username or body.get("password") != self.password:
            return problem(401, "invalid username or password", "Unauthorized")
        project = body.get("project_id", "admin")
        if project not in PROJECT_IDS:
            return problem(401, f"project {project} not found", "Unauthorized")
        token, now = uuid.uuid4().hex, time.time()
        self.tokens[token] = now + 3600
        info = {
            "_id": token, "id": token, "admin": True, "project_id": PROJECT_IDS[project], "project_name": project,
            "user_id": "0d6a3e8b-2d9f-4c77-9a36-7f1f0c0f0a11", "username": self.username, "issued_at": now,
            "expires": now + 3600, "remote_host": "127.0.0.1", "remote_port": 0, "roles": [],
        }  # fmt: skip
        return Answer(200, info)

    def _upload(self, store: dict[str, dict[str, Any]], body: bytes, ctype: str, location: str) -> Answer:
        magic = {"application/zip": b"PK\x03\x04", "application/gzip": b"\x1f\x8b"}.get(ctype, b"")
        if not body.startswith(magic):
            return problem(400, f"the body is not {ctype}")
        item_id = str(uuid.uuid4())
        store[item_id] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "type": ctype}
        return Answer(201, {"id": item_id}, {"Location": f"{PREFIX}{location}/{item_id}"})

    def _op_uploadVnfPkgsContent(self, *, body: bytes, content_type: str) -> Answer:
        return self._upload(self.packages, body, content_type, "/vnfpkgm/v1/vnf_packages")

    def _op_uploadNsPkgsContent(self, *, body: bytes, content_type: str) -> Answer:
        return self._upload(self.nsds, body, content_type, "/nsd/v1/ns_descriptors")

    def _info(self, store: dict[str, dict[str, Any]], item_id: str) -> Answer:
        if item_id not in store:
            return problem(404, f"{item_id} not found")
        checksum = {"algorithm": "SHA-256", "hash": store[item_id]["sha256"]}  # SOL005's field, beyond the document
        return Answer(200, {"_id": item_id, "id": item_id, "name": item_id, "description": "", "checksum": checksum})

    def _op_getVnfPkg(self, pkg_id: str, **_: Any) -> Answer:
        return self._info(self.packages, pkg_id)

    def _op_getNSD(self, nsd_id: str, **_: Any) -> Answer:
        return self._info(self.nsds, nsd_id)

    def _op_addNSinstance(self, *, body: dict[str, Any], **_: Any) -> Answer:
        if body["nsdId"] not in self.nsds:
            return problem(404, f"NSD {body['nsdId']} not found")
        ns_id = str(uuid.uuid4())
        self.instances[ns_id] = {
            "name": body["nsName"], "description": body.get("nsDescription") or "", "nsdId": body["nsdId"],
            "vimAccountId": body["vimAccountId"], "nsState": "NOT_INSTANTIATED", "busy": False,
        }  # fmt: skip
        return Answer(201, {"id": ns_id}, {"Location": f"{PREFIX}/nslcm/v1/ns_instances/{ns_id}"})

    def _op_getNSinstance(self, ns_id: str, **_: Any) -> Answer:
        ns = self.instances.get(ns_id)
        if ns is None:
            return problem(404, f"NS instance {ns_id} not found")
        return Answer(200, {"_id": ns_id, "id": ns_id, "name": ns["name"], "description": ns["description"],
                            "nsState": ns["nsState"], "nsd-id": ns["nsdId"]})  # fmt: skip

    def _start(self, ns_id: str, kind: str, params: dict[str, Any], allowed: set[str]) -> Answer:
        ns = self.instances.get(ns_id)
        if ns is None:
            return problem(404, f"NS instance {ns_id} not found")
        if ns["busy"] or ns["nsState"] not in allowed:
            return problem(409, f"NS instance {ns_id} is {ns['nsState']}{' and busy' if ns['busy'] else ''}")
        op_id, now = str(uuid.uuid4()), time.time()
        ns["busy"] = True
        self.occurrences[op_id] = {
            "_id": op_id, "id": op_id, "lcmOperationType": kind, "nsInstanceId": ns_id,
            "isAutomaticInvocation": False, "isCancelPending": False, "startTime": now, "statusEnteredTime": now,
            "operationParams": {**params, "nsInstanceId": ns_id, "lcmOperationType": kind},
            "operationState": "PROCESSING", "detailed-status": "in progress",
            "links": {"self": f"{PREFIX}/nslcm/v1/ns_lcm_op_occs/{op_id}",
                      "nsInstance": f"{PREFIX}/nslcm/v1/ns_instances/{ns_id}"},
            "_polls": 0, "_fail": kind in self._fail_operation,
        }  # fmt: skip
        self._fail_operation.discard(kind)
        return Answer(202, {"id": op_id}, {"Location": f"{PREFIX}/nslcm/v1/ns_lcm_op_occs/{op_id}"})

    def _op_instantiateNSinstance(self, ns_id: str, *, body: dict[str, Any], **_: Any) -> Answer:
        if body["nsdId"] != self.instances.get(ns_id, {}).get("nsdId", body["nsdId"]):
            return problem(422, f"nsdId {body['nsdId']} is not the NSD of {ns_id}")
        return self._start(ns_id, "instantiate", dict(body), {"NOT_INSTANTIATED"})

    def _op_terminateNSinstance(self, ns_id: str, **_: Any) -> Answer:
        return self._start(ns_id, "terminate", {}, {"INSTANTIATED", "BROKEN"})

    def _op_scaleNSinstance(self, ns_id: str, *, body: dict[str, Any], **_: Any) -> Answer:
        # The document: the NS instance must be INSTANTIATED, and stays so.
        answer = self._start(ns_id, "scale", dict(body), {"INSTANTIATED"})
        if answer.status != 202:
            return answer
        data = body["scaleVnfData"]
        step = data["scaleByStepData"]
        key = f"{step['member-vnf-index']}/{step['scaling-group-descriptor']}"
        scaled = self.instances[ns_id].setdefault("scaled", {})
        occurrence = self.occurrences[answer.body["id"]]
        if data["scaleVnfType"] == "SCALE_IN" and scaled.get(key, 0) == 0:
            occurrence["_fail"] = True  # nothing scaled out to scale in
        elif not occurrence["_fail"]:
            scaled[key] = scaled.get(key, 0) + (1 if data["scaleVnfType"] == "SCALE_OUT" else -1)
        # The document's 202 for scale has a Location header and no body.
        return Answer(202, None, answer.headers)

    def _op_getNSLCMOpOcc(self, op_id: str, **_: Any) -> Answer:
        occ = self.occurrences.get(op_id)
        if occ is None:
            return problem(404, f"operation {op_id} not found")
        # PROCESSING on the first read, final on the next: enough for a caller to have to poll.
        if occ["operationState"] == "PROCESSING" and occ["_polls"] >= 1 and not self.hold_operations:
            ns = self.instances[occ["nsInstanceId"]]
            ns["busy"] = False
            if occ["_fail"]:
                occ["operationState"], occ["detailed-status"] = "FAILED", "the stand-in was told to fail it"
                ns["nsState"] = "BROKEN" if occ["lcmOperationType"] == "instantiate" else ns["nsState"]
            else:
                occ["operationState"], occ["detailed-status"] = "COMPLETED", "done"
                if occ["lcmOperationType"] != "scale":  # a scaled NS stays INSTANTIATED
                    instantiated = occ["lcmOperationType"] == "instantiate"
                    ns["nsState"] = "INSTANTIATED" if instantiated else "NOT_INSTANTIATED"
            occ["statusEnteredTime"] = time.time()
        occ["_polls"] += 1
        return Answer(200, {k: copy.deepcopy(v) for k, v in occ.items() if not k.startswith("_") or k == "_id"})

    def _op_deleteNSinstance(self, ns_id: str, **_: Any) -> Answer:
        ns = self.instances.get(ns_id)
        if ns is None:
            return problem(404, f"NS instance {ns_id} not found")
        if ns["busy"] or ns["nsState"] == "INSTANTIATED":
            return problem(409, f"NS instance {ns_id} is {ns['nsState']}: terminate it first")
        del self.instances[ns_id]
        return Answer(204)


def _handler(nbi: OsmNbi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, ctype, raw, extra = nbi.handle(self.command, self.path, headers, body)
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler


@contextmanager
def serve(spec: Spec, **options: Any) -> Iterator[OsmNbi]:
    """Runs the stand-in on 127.0.0.1 (a free port) in a thread for the duration of the block."""
    nbi = OsmNbi(spec, **options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(nbi))
    server.daemon_threads = True
    nbi.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="osm-nbi", daemon=True)
    thread.start()
    try:
        yield nbi
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
