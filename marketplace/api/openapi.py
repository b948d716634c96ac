"""The OpenAPI 3.1 document of the JSON API, served at /api/schema.

Written by hand next to the views it describes; tests/integration/test_api_schema.py
fuzzes the API against it, so a drift between the two fails the build."""

from __future__ import annotations

from typing import Any

from marketplace.api.provenance import provenance_paths
from marketplace.api.sol005 import sol005_paths, sol005_schemas

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _id(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"id of the {what}",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
PACKAGE_ID = _id("package_id", "package")
NOT_FOUND = _error("no such object")
DOWNLOAD_RULE = (
    "A licensed-only package (at least one open trial or private offer on chain, no open public offer) is "
    "downloaded by its uploader or publisher, or by the holder of a valid licence whose policy permits "
    "download; the requester is the bearer token's address or the portal session's."
)
DOWNLOAD_REFUSALS = {
    "401": _error("a licensed-only package and nobody signed in: the reason says what is needed"),
    "403": _error("the requester may not download this licensed-only package: the reason says why"),
    "503": _error("the chain, which the licence decision needs, is unavailable"),
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "problems": {"type": "array", "items": _ref("Problem")},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            "hint": {"type": "string"},
        },
    },
    "Problem": {
        "type": "object",
        "required": ["rule", "message", "file", "location", "severity"],
        "properties": {
            "rule": {"type": "string"},
            "message": {"type": "string"},
            "file": {"type": "string"},
            "location": {"type": "string"},
            "severity": {"type": "string", "enum": ["error", "warning"]},
        },
    },
    "Checksum": {
        "type": "object",
        "required": ["algorithm", "hash"],
        "properties": {"algorithm": {"type": "string"}, "hash": {"type": "string"}},
    },
    "Resources": {
        "type": "object",
        "properties": {
            "vcpus": {"type": "integer"},
            "memory_mb": {"type": "integer"},
            "storage_gb": {"type": "number"},
        },
    },
    "PackageSummary": {
        "type": "object",
        "required": ["id", "format", "kind", "vendor", "name", "version", "state", "digest"],
        "properties": {
            "id": {"type": "string"},
            "format": {"type": "string", "enum": ["etsi", "osm", "5gtango"]},
            "kind": {"type": "string", "enum": ["vnf", "ns"]},
            "vendor": {"type": "string"},
            "name": {"type": "string"},
            "version": {"type": "string"},
            "is_latest": {"type": "boolean"},
            "state": {"type": "string", "enum": ["uploaded", "validated", "published", "deprecated", "revoked"]},
            "description": {"type": "string"},
            "category": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "digest": _ref("Checksum"),
            "size": {"type": "integer"},
            "resources": _ref("Resources"),
            "uploader": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "Package": {
        "allOf": [
            _ref("PackageSummary"),
            {
                "type": "object",
                "properties": {
                    "links": {"type": "array", "items": _ref("Link")},
                    "main_descriptor": {"type": "string"},
                    "descriptor_digest": _ref("Checksum"),
                    "vnfs": {"type": "array", "items": _ref("Descriptor")},
                    "network_services": {"type": "array", "items": _ref("Descriptor")},
                    "files_count": {"type": "integer"},
                    "created": {"type": "boolean"},
                    "warnings": {"type": "array", "items": _ref("Problem")},
                },
            },
        ]
    },
    "PackagePage": {
        "type": "object",
        "required": ["items", "total", "page", "per_page", "pages"],
        "properties": {
            "items": {"type": "array", "items": _ref("PackageSummary")},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "pages": {"type": "integer"},
        },
    },
    "Link": {
        "type": "object",
        "required": ["url"],
        "properties": {"title": {"type": "string", "maxLength": 200}, "url": {"type": "string", "maxLength": 2000}},
    },
    "Metadata": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "description": {"type": "string", "maxLength": 5000},
            "category": {"type": "string", "maxLength": 64},
            "tags": {"type": "array", "maxItems": 32, "items": {"type": "string"}},
            "links": {"type": "array", "maxItems": 16, "items": _ref("Link")},
        },
    },
    "Descriptor": {
        "type": "object",
        "required": ["id", "kind", "descriptor_id", "vendor", "name", "version"],
        "properties": {
            "id": {"type": "string"},
            "kind": {"type": "string", "enum": ["vnf", "ns"]},
            "descriptor_id": {"type": "string"},
            "vendor": {"type": "string"},
            "name": {"type": "string"},
            "version": {"type": "string"},
            "file": {"type": "string"},
            "connection_points": {"type": "array", "items": {"type": "string"}},
            "virtual_links": {"type": "array", "items": {"type": "string"}},
            "resources": _ref("Resources"),
            "images": {"type": "array", "items": {"type": "string"}},
            "constituent_vnfs": {"type": "array", "items": {"type": "object"}},
            "resolved_vnf_ids": {"type": "array", "items": {"type": "string"}},
            "package": _ref("PackageSummary"),
            "description": {"type": "string"},
        },
    },
    "File": {
        "type": "object",
        "required": ["path", "size", "checksum", "media_type"],
        "properties": {
            "path": {"type": "string"},
            "size": {"type": "integer"},
            "checksum": _ref("Checksum"),
            "media_type": {"type": "string"},
        },
    },
    "Proof": {
        "type": "object",
        "required": ["package_id", "digest", "chain_id", "state"],
        "properties": {
            "package_id": {"type": "string"},
            "digest": {"type": "string"},
            "chain_id": {"type": "integer"},
            "registry": {"type": ["string", "null"]},
            "state": {"type": "string", "enum": ["none", "signed", "submitted", "anchored", "chain-reset"]},
            "warning": {"type": "string"},
            "mode": {"type": ["string", "null"], "enum": ["direct", "batch", None]},
            "publisher": {"type": ["string", "null"]},
            "status": {"type": ["string", "null"]},
            "registration": {"type": ["object", "null"]},
            "signature": {"type": ["string", "null"]},
            "tx_hash": {"type": ["string", "null"]},
            "block_number": {"type": ["integer", "null"]},
            "batch": {"type": ["object", "null"]},
        },
    },
    "Graph": {
        "type": "object",
        "required": ["nodes", "edges"],
        "properties": {
            "nodes": {"type": "array", "items": {"type": "object"}},
            "edges": {"type": "array", "items": {"type": "object"}},
            "virtual_links": {"type": "array", "items": {"type": "string"}},
            "links": {
                "type": "array",
                "description": "which connection point of which VNF node (node empty: of the NS) "
                "attaches to which virtual link",
                "items": {
                    "type": "object",
                    "required": ["virtual_link", "connection_point", "node"],
                    "properties": {
                        "virtual_link": {"type": "string"},
                        "connection_point": {"type": "string"},
                        "node": {"type": "string"},
                    },
                },
            },
        },
    },
}


def _items(schema_name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref(schema_name)}},
    }


def document() -> dict[str, Any]:
    search_params = [
        _query("q", {"type": "string", "maxLength": 200}, "words matched against name, vendor, description and tags"),
        _query("kind", {"type": "string", "enum": ["vnf", "ns"]}, "VNF or NS packages"),
        _query("format", {"type": "string", "enum": ["etsi", "osm", "5gtango"]}, "package format"),
        _query("vendor", {"type": "string", "maxLength": 200}, "exact vendor"),
        _query("tag", {"type": "string", "maxLength": 64}, "a tag every result carries (repeatable)"),
        _query(
            "state",
            {"type": "string", "enum": ["uploaded", "validated", "published", "deprecated", "revoked"]},
            "lifecycle state (revoked packages are hidden unless asked for)",
        ),
        _query("min_vcpus", {"type": "integer", "minimum": 0, "maximum": 1000000000000}, "resource range"),
        _query("max_vcpus", {"type": "integer", "minimum": 0, "maximum": 1000000000000}, "resource range"),
        _query("min_memory_mb", {"type": "integer", "minimum": 0, "maximum": 1000000000000}, "resource range"),
        _query("max_memory_mb", {"type": "integer", "minimum": 0, "maximum": 1000000000000}, "resource range"),
        _query("min_storage_gb", {"type": "number", "minimum": 0, "maximum": 1000000000000}, "resource range"),
        _query("max_storage_gb", {"type": "number", "minimum": 0, "maximum": 1000000000000}, "resource range"),
        _query("all_versions", {"type": "boolean"}, "every version, not only the latest of each line"),
        _query(
            "sort",
            {
                "type": "string",
                "enum": ["name", "-name", "created", "-created", "vendor", "vcpus", "-vcpus", "memory", "-memory"],
            },
            "order",
        ),
        _query("page", {"type": "integer", "minimum": 1, "maximum": 1000000000000}, "page number"),
        _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100}, "page size"),
    ]
    package_get = {"200": _json(_ref("Package"), "the package"), "404": NOT_FOUND}
    paths: dict[str, Any] = {
        "/api/v1/auth/nonce": {
            "post": {
                "summary": "Start a Sign-In with Ethereum: a one-time nonce, the domain and chain to sign for",
                "responses": {
                    "201": _json({"type": "object", "required": ["nonce", "domain", "uri", "chain_id"]}, "a nonce")
                },
            }
        },
        "/api/v1/auth/token": {
            "post": {
                "summary": "Exchange a signed EIP-4361 message for a bearer token",
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["message", "signature"],
                                "properties": {"message": {"type": "string"}, "signature": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json({"type": "object", "required": ["token", "address", "expires_at"]}, "a token"),
                    "400": _error("missing fields or not JSON"),
                    "401": _error("the message or signature does not hold"),
                },
            }
        },
        "/api/v1/packages": {
            "get": {
                "summary": "Search packages",
                "parameters": search_params,
                "responses": {"200": _json(_ref("PackagePage"), "a page of results"), "400": _error("a bad filter")},
            },
            "post": {
                "summary": "Upload a package (multipart field 'package', or the archive as the raw body)",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["package"],
                                "properties": {"package": {"type": "string", "format": "binary"}},
                            }
                        },
                        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                "responses": {
                    "200": _json(_ref("Package"), "the identical archive was already stored"),
                    "201": _json(_ref("Package"), "stored"),
                    "400": _error("no archive attached"),
                    "401": _error("not signed in"),
                    "409": _error("the same content is being uploaded right now"),
                    "413": _error("too large"),
                    "422": _error("rejected; `problems` lists every reason"),
                },
            },
        },
        "/api/v1/packages/{package_id}": {
            "parameters": [PACKAGE_ID],
            "get": {"summary": "A package", "responses": package_get},
            "patch": {
                "summary": "Change metadata (uploader only); the digest is untouched",
                "security": BEARER,
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("Metadata")}}},
                "responses": {
                    "200": _json(_ref("Package"), "updated"),
                    "400": _error("invalid metadata"),
                    "401": _error("not signed in"),
                    "403": _error("not the uploader"),
                    "404": NOT_FOUND,
                },
            },
            "delete": {
                "summary": "Delete a package nothing refers to (uploader only)",
                "security": BEARER,
                "responses": {
                    "204": {"description": "deleted"},
                    "401": _error("not signed in"),
                    "403": _error("not the uploader"),
                    "404": NOT_FOUND,
                    "409": _error("referenced: deprecate it instead"),
                },
            },
        },
        "/api/v1/packages/{package_id}/deprecate": {
            "parameters": [PACKAGE_ID],
            "post": {
                "summary": "Deprecate (uploader only)",
                "security": BEARER,
                "responses": {
                    "200": _json(_ref("Package"), "deprecated"),
                    "401": _error("not signed in"),
                    "403": _error("not the uploader"),
                    "404": NOT_FOUND,
                    "409": _error("revoked packages stay revoked"),
                },
            },
        },
        "/api/v1/packages/{package_id}/versions": {
            "parameters": [PACKAGE_ID],
            "get": {
                "summary": "Every version of the package's vendor/name line, newest first",
                "responses": {"200": _json(_items("PackageSummary"), "versions"), "404": NOT_FOUND},
            },
        },
        "/api/v1/packages/{package_id}/history": {
            "parameters": [PACKAGE_ID],
            "get": {
                "summary": "Metadata changes: who, when, before, after",
                "responses": {"200": _json({"type": "object", "required": ["items"]}, "changes"), "404": NOT_FOUND},
            },
        },
        "/api/v1/packages/{package_id}/verification": {
            "parameters": [PACKAGE_ID],
            "get": {
                "summary": "What was checked at ingest, with the digests",
                "responses": {"200": _json({"type": "object", "required": ["items"]}, "records"), "404": NOT_FOUND},
            },
        },
        "/api/v1/packages/{package_id}/files": {
            "parameters": [PACKAGE_ID],
            "get": {
                "summary": "The package's files",
                "responses": {"200": _json(_items("File"), "files"), "404": NOT_FOUND},
            },
        },
        "/api/v1/packages/{package_id}/files/{path}": {
            "parameters": [PACKAGE_ID, {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {
                "summary": "Download one file",
                "description": DOWNLOAD_RULE,
                "security": [{}, *BEARER],
                "responses": {
                    "200": {
                        "description": "the file",
                        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **DOWNLOAD_REFUSALS,
                    "404": NOT_FOUND,
                },
            },
        },
        "/api/v1/packages/{package_id}/content": {
            "parameters": [PACKAGE_ID],
            "get": {
                "summary": "Download the whole archive",
                "description": DOWNLOAD_RULE,
                "security": [{}, *BEARER],
                "responses": {
                    "200": {
                        "description": "the archive",
                        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **DOWNLOAD_REFUSALS,
                    "404": NOT_FOUND,
                },
            },
        },
    }
    paths["/api/v1/packages/{package_id}/registration"] = {
        "parameters": [PACKAGE_ID],
        "get": {
            "summary": "The EIP-712 registration the uploader's wallet signs (uploader only)",
            "security": BEARER,
            "responses": {
                "200": _json({"type": "object", "required": ["typed_data"]}, "the payload to sign"),
                "401": _error("not signed in"),
                "403": _error("not the uploader"),
                "404": NOT_FOUND,
                "409": _error("the package cannot be registered (e.g. no vendor, or an unencodable version)"),
                "503": _error("the chain is unavailable"),
            },
        },
        "post": {
            "summary": "Submit the signed registration: relayed now, or anchored with the next batch",
            "security": BEARER,
            "requestBody": {
                "required": True,
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "required": ["typed_data", "signature"],
                            "properties": {
                                "typed_data": {"type": "object"},
                                "signature": {"type": "string"},
                                "mode": {"type": "string", "enum": ["relay", "batch"]},
                            },
                        }
                    }
                },
            },
            "responses": {
                "202": _json(_ref("Proof"), "accepted; the proof follows once the indexer confirms it"),
                "400": _error("malformed or not describing this package"),
                "401": _error("not signed in, or signed by another key"),
                "403": _error("not the uploader"),
                "404": NOT_FOUND,
                "409": _error("already registered or queued, or refused by the registry"),
                "503": _error("the chain is unavailable"),
            },
        },
    }
    paths["/api/v1/packages/{package_id}/verify"] = {
        "parameters": [PACKAGE_ID],
        "post": {
            "summary": "Check the stored package against its digests and the chain again (the record is kept)",
            "responses": {
                "200": _json({"type": "object", "required": ["result", "checks"]}, "the new record"),
                "404": NOT_FOUND,
                "503": _error("the chain is unavailable"),
            },
        },
    }
    paths["/api/v1/packages/{package_id}/proof"] = {
        "parameters": [PACKAGE_ID],
        "get": {
            "summary": "Where the package stands on chain, with the evidence to verify it independently",
            "responses": {
                "200": _json(_ref("Proof"), "the proof"),
                "404": NOT_FOUND,
                "503": _error("the chain is unavailable"),
            },
        },
    }
    for plural, what in (("vnfs", "VNF"), ("nss", "network service")):
        param = _id(f"{plural[:-1]}_id", what)
        paths[f"/api/v1/{plural}/{{{plural[:-1]}_id}}"] = {
            "parameters": [param],
            "get": {"summary": f"A {what}", "responses": {"200": _json(_ref("Descriptor"), what), "404": NOT_FOUND}},
        }
        paths[f"/api/v1/{plural}/{{{plural[:-1]}_id}}/descriptor"] = {
            "parameters": [
                param,
                _query("format", {"type": "string", "enum": ["yaml", "json"]}, "yaml (default) or json"),
            ],
            "get": {
                "summary": f"The {what}'s descriptor document",
                "responses": {
                    "200": {
                        "description": "the descriptor",
                        "content": {
                            "application/yaml": {"schema": {"type": "string"}},
                            JSON: {"schema": {"type": "object"}},
                        },
                    },
                    "400": _error("unknown format"),
                    "404": NOT_FOUND,
                },
            },
        }
    paths["/api/v1/nss/{ns_id}/graph"] = {
        "parameters": [_id("ns_id", "network service")],
        "get": {
            "summary": "The NS-to-VNF dependency graph, with the NSD's virtual links and their wiring",
            "responses": {"200": _json(_ref("Graph"), "graph"), "404": NOT_FOUND},
        },
    }
    from marketplace.api.licences import licence_paths

    paths.update(licence_paths())
    paths.update(sol005_paths())
    paths.update(provenance_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "NFV Marketplace API",
            "version": "1.0.0",
            "description": "NFV Repository: packages, VNFs, network services.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS | sol005_schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a token from POST /api/v1/auth/token"}
            },
        },
    }
