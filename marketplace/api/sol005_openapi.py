"""The OpenAPI description of the SOL005 read endpoints, merged into the generated /api/schema. These
plain Django views keep SOL013's query grammar and ProblemDetails answers, which django-ninja's
operations would not carry, so their paths are described here, once.
"""

from __future__ import annotations

from typing import Any

from marketplace.api.downloads import ARCHIVE_TYPES, ZIP
from marketplace.api.sol005 import JSON, PROBLEM, TEXT
from marketplace.api.sol005_filters import NS_DESCRIPTOR, VNF_PACKAGE, Resource
from marketplace.api.sol005_shapes import CONTAINER_FORMATS, DISK_FORMATS


def _schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem_doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _schema_ref("Sol005ProblemDetails")}}}


def _list_parameters(resource: Resource, what: str) -> list[dict[str, Any]]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    complex_names = ", ".join(resource.complex)
    return [
        query(
            "filter",
            {"type": "string", "pattern": resource.filter_pattern},
            f"SOL013 attribute filter over the {what} representation, e.g. (eq,{resource.filterable[3]},x);"
            "(neq,id,y). Operators eq, neq, gt, gte, lt, lte (one value), in, nin, cont, ncont (a list); "
            f"attributes: {', '.join(resource.filterable)}. An attribute inside an array matches when any "
            "element does; values are compared as strings.",
        ),
        query("all_fields", {"type": "string"}, "include every attribute (the value is ignored)"),
        query("fields", {"type": "string", "pattern": resource.fields_pattern}, f"include these of {complex_names}"),
        query(
            "exclude_fields",
            {"type": "string", "pattern": resource.fields_pattern},
            f"leave out these of {complex_names}",
        ),
        query(
            "exclude_default",
            {"type": "string"},
            f"leave out {', '.join(resource.excluded_by_default)} (the default; the value is ignored)",
        ),
    ]


def _id_parameter(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"id of the {what} (any other string is answered 404)",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
    }


def _archive_doc() -> dict[str, Any]:
    binary = {t: {"schema": {"type": "string", "format": "binary"}} for t in ARCHIVE_TYPES}
    content_range = {"Content-Range": {"required": True, "schema": {"type": "string"}}}
    return {
        "summary": "The package archive as uploaded: application/zip (SOL004 CSAR, 5GTANGO) or application/gzip (OSM)",
        "parameters": [
            {
                "name": "Range",
                "in": "header",
                "required": False,
                "description": "one byte range, bytes=first-last, bytes=first- or bytes=-suffix; others are ignored",
                "schema": {"type": "string"},
            }
        ],
        "responses": {
            "200": {"description": "the archive", "content": binary},
            "206": {"description": "the requested byte range", "headers": content_range, "content": binary},
            "401": _problem_doc("a licensed-only package and no (valid) bearer token: the reason says which"),
            "403": _problem_doc("the token's address may not download this licensed-only package, and why"),
            "404": _problem_doc("no such package"),
            "406": _problem_doc("the Accept header excludes the archive's type"),
            "416": _problem_doc("the range lies beyond the archive"),
            "503": _problem_doc("the chain, which the licence decision needs, is unavailable"),
        },
    }


def sol005_paths() -> dict[str, Any]:
    """The SOL005 endpoints for the OpenAPI document of our API."""
    vnf_id = _id_parameter("vnfPkgId", "VNF package (the marketplace package id)")
    ns_id = _id_parameter("nsdInfoId", "NS descriptor (the marketplace network service id)")
    not_acceptable = _problem_doc("the Accept header excludes application/json")

    def json_ok(schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"description": description, "content": {JSON: {"schema": schema}}}

    return {
        "/vnfpkgm/v1/vnf_packages": {
            "get": {
                "summary": "SOL005: every VNF package (all versions), as VnfPkgInfo",
                "parameters": _list_parameters(VNF_PACKAGE, "VnfPkgInfo"),
                "responses": {
                    "200": json_ok({"type": "array", "items": _schema_ref("Sol005VnfPkgInfo")}, "VNF packages"),
                    "400": _problem_doc("a bad filter or attribute selector, naming the attribute"),
                    "406": not_acceptable,
                },
            }
        },
        "/vnfpkgm/v1/vnf_packages/{vnfPkgId}": {
            "parameters": [vnf_id],
            "get": {
                "summary": "SOL005: one VNF package",
                "responses": {
                    "200": json_ok(_schema_ref("Sol005VnfPkgInfo"), "the VNF package"),
                    "404": _problem_doc("no such VNF package"),
                    "406": not_acceptable,
                },
            },
        },
        "/vnfpkgm/v1/vnf_packages/{vnfPkgId}/package_content": {"parameters": [vnf_id], "get": _archive_doc()},
        "/vnfpkgm/v1/vnf_packages/{vnfPkgId}/vnfd": {
            "parameters": [vnf_id],
            "get": {
                "summary": "SOL005: the VNFD, text/plain when it is one file, else (or on Accept: application/zip) "
                "a zip of its files",
                "responses": {
                    "200": {
                        "description": "the VNFD",
                        "content": {
                            TEXT: {"schema": {"type": "string"}},
                            ZIP: {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    "404": _problem_doc("no such VNF package"),
                    "406": _problem_doc("neither text/plain (one-file VNFD) nor application/zip is acceptable"),
                },
            },
        },
        "/nsd/v1/ns_descriptors": {
            "get": {
                "summary": "SOL005: every NS descriptor, as NsdInfo",
                "parameters": _list_parameters(NS_DESCRIPTOR, "NsdInfo"),
                "responses": {
                    "200": json_ok({"type": "array", "items": _schema_ref("Sol005NsdInfo")}, "NS descriptors"),
                    "400": _problem_doc("a bad filter or attribute selector, naming the attribute"),
                    "406": not_acceptable,
                },
            }
        },
        "/nsd/v1/ns_descriptors/{nsdInfoId}": {
            "parameters": [ns_id],
            "get": {
                "summary": "SOL005: one NS descriptor",
                "responses": {
                    "200": json_ok(_schema_ref("Sol005NsdInfo"), "the NS descriptor"),
                    "404": _problem_doc("no such NS descriptor"),
                    "406": not_acceptable,
                },
            },
        },
        "/nsd/v1/ns_descriptors/{nsdInfoId}/nsd_content": {"parameters": [ns_id], "get": _archive_doc()},
    }


def sol005_schemas() -> dict[str, Any]:
    """Component schemas of the SOL005 endpoints, named Sol005*."""
    text = {"type": "string"}
    link = _schema_ref("Sol005Link")
    strings = {"type": "array", "items": text}
    user_data = {"type": "object", "properties": {"category": text, "tags": strings}}
    operational = {"type": "string", "enum": ["ENABLED", "DISABLED"]}
    usage = {"type": "string", "enum": ["IN_USE", "NOT_IN_USE"]}
    size = {"type": "integer", "minimum": 0, "description": "bytes"}
    return {
        "Sol005ProblemDetails": {
            "type": "object",
            "required": ["status", "detail"],
            "properties": {
                "type": text,
                "title": text,
                "status": {"type": "integer"},
                "detail": text,
                "instance": text,
            },
        },
        "Sol005Link": {"type": "object", "required": ["href"], "properties": {"href": text}},
        "Sol005Checksum": {
            "type": "object",
            "required": ["algorithm", "hash"],
            "properties": {"algorithm": text, "hash": text},
        },
        "Sol005SoftwareImage": {
            "type": "object",
            "required": [
                "id",
                "name",
                "provider",
                "version",
                "checksum",
                "isEncrypted",
                "containerFormat",
                "diskFormat",
                "createdAt",
                "minDisk",
                "minRam",
                "size",
            ],
            "properties": {
                "id": text,
                "name": text,
                "provider": text,
                "version": text,
                "checksum": _schema_ref("Sol005Checksum"),
                "isEncrypted": {"type": "boolean"},
                "containerFormat": {"type": "string", "enum": list(CONTAINER_FORMATS)},
                "diskFormat": {"type": "string", "enum": list(DISK_FORMATS)},
                "createdAt": {"type": "string", "format": "date-time"},
                "minDisk": size,
                "minRam": size,
                "size": size,
                "imagePath": text,
                "imageUri": text,
            },
        },
        "Sol005Artifact": {
            "type": "object",
            "required": ["artifactPath", "checksum", "isEncrypted"],
            "properties": {
                "artifactPath": text,
                "checksum": _schema_ref("Sol005Checksum"),
                "isEncrypted": {"type": "boolean"},
                "metadata": {"type": "object"},
            },
        },
        "Sol005VnfPkgInfo": {
            "type": "object",
            "required": [
                "id",
                "_id",
                "vnfdId",
                "vnfProvider",
                "vnfProductName",
                "vnfSoftwareVersion",
                "vnfdVersion",
                "packageSecurityOption",
                "onboardingState",
                "operationalState",
                "usageState",
                "_links",
            ],
            "properties": {
                "id": text,
                "_id": {"type": "string", "description": "the same as id (the OSM NBI schema requires it)"},
                "vnfdId": text,
                "vnfProvider": text,
                "vnfProductName": text,
                "vnfSoftwareVersion": text,
                "vnfdVersion": text,
                "checksum": _schema_ref("Sol005Checksum"),
                "packageSecurityOption": {"type": "string", "enum": ["OPTION_1", "OPTION_2"]},
                "softwareImages": {"type": "array", "items": _schema_ref("Sol005SoftwareImage")},
                "additionalArtifacts": {"type": "array", "items": _schema_ref("Sol005Artifact")},
                "onboardingState": {"type": "string", "enum": ["CREATED", "UPLOADING", "PROCESSING", "ONBOARDED"]},
                "operationalState": operational,
                "usageState": usage,
                "vnfmInfo": strings,
                "userDefinedData": user_data,
                "_links": {
                    "type": "object",
                    "required": ["self", "vnfd", "packageContent"],
                    "properties": {"self": link, "vnfd": link, "packageContent": link},
                },
            },
        },
        "Sol005NsdInfo": {
            "type": "object",
            "required": [
                "id",
                "_id",
                "nsdId",
                "nsdName",
                "nsdVersion",
                "nsdDesigner",
                "nsdInvariantId",
                "nsdOnboardingState",
                "nsdOperationalState",
                "nsdUsageState",
                "_links",
            ],
            "properties": {
                "id": text,
                "_id": {"type": "string", "description": "the same as id (the OSM NBI schema requires it)"},
                "nsdId": text,
                "nsdName": text,
                "nsdVersion": text,
                "nsdDesigner": text,
                "nsdInvariantId": text,
                "vnfPkgIds": strings,
                "pnfdInfoIds": strings,
                "nestedNsdInfoIds": strings,
                "nsdOnboardingState": {"type": "string", "enum": ["CREATED", "UPLOADING", "PROCESSING", "ONBOARDED"]},
                "nsdOperationalState": operational,
                "nsdUsageState": usage,
                "userDefinedData": user_data,
                "_links": {
                    "type": "object",
                    "required": ["self", "nsd_content"],
                    "properties": {"self": link, "nsd_content": link},
                },
            },
        },
    }
