"""The ETSI SOL005 read endpoints an orchestrator uses (VNF package and NSD management) over real
5GTANGO and OSM packages; every JSON body is checked against the OSM NBI's published schemas."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import referencing
import referencing.jsonschema
import yaml

from marketplace.api.downloads import byte_range
from marketplace.api.sol005_filters import NS_DESCRIPTOR, VNF_PACKAGE, FilterError, parse_filter
from marketplace.api.sol005_shapes import software_images
from marketplace.errors import RangeNotSatisfiable
from marketplace.repository import services
from marketplace.repository.models import Package, PackageFile, Vnf
from tests.factories import TESTDATA, listed, osm_package, shared_package, zip_folder

pytestmark = pytest.mark.django_db

UPLOADER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OSM_NBI = TESTDATA / "specs" / "osm-nbi-sol005-openapi.yaml"
PROBLEM = "application/problem+json"
VNF_PACKAGES = "/vnfpkgm/v1/vnf_packages"
NS_DESCRIPTORS = "/nsd/v1/ns_descriptors"
OSM_IMAGES = [
    "ubuntu18.04",
    "ubuntu18.04-aws",
    "ubuntu18.04-azure",
    "ubuntu18.04-gcp",
]


# --- the published contract ---


@pytest.fixture(scope="module")
def osm_nbi():
    """validate(body, name): the body against components/schemas/<name> of the OSM NBI document."""
    if not OSM_NBI.exists():
        pytest.skip(f"{OSM_NBI} is absent: the shared test data (../shared/testdata) is not beside this checkout")
    document = yaml.safe_load(OSM_NBI.read_text())
    # OpenAPI 3.0 schemas are a JSON Schema draft 4 dialect. Formats are not asserted: the NBI types
    # ids as uuid (OSM's own ids), ours are ObjectIds.
    resource = referencing.Resource.from_contents(document, default_specification=referencing.jsonschema.DRAFT4)
    registry = referencing.Registry().with_resource("urn:osm-nbi", resource)

    def validate(body, name):
        schema = {"$ref": f"urn:osm-nbi#/components/schemas/{name}"}
        jsonschema.Draft4Validator(schema, registry=registry).validate(body)

    return validate


@pytest.fixture
def get(client, osm_nbi):
    """GET `url`; a JSON answer (application/json or problem+json) is validated against the OSM NBI
    schema of its kind: `schema` for 2xx, ProblemDetails for errors."""

    def fetch(url, schema=None, **headers):
        response = client.get(url, headers=headers)
        content_type = response.headers["Content-Type"]
        if response.status_code >= 400:
            assert content_type == PROBLEM, (response.status_code, content_type)
            body = response.json()
            osm_nbi(body, "ProblemDetails")
            assert body["status"] == response.status_code
            assert all(body[key] for key in ("type", "title", "detail", "instance")), body
        elif content_type == "application/json":
            assert schema is not None, f"no schema named for the JSON answer of {url}"
            osm_nbi(response.json(), schema)
        return response

    return fetch


def test_the_osm_schemas_are_really_enforced(osm_nbi):
    with pytest.raises(jsonschema.ValidationError, match="'_id' is a required property"):
        osm_nbi({"id": "x"}, "VnfPkgInfo")
    with pytest.raises(jsonschema.ValidationError, match="'detail' is a required property"):
        osm_nbi({"status": 404}, "ProblemDetails")
    with pytest.raises(jsonschema.ValidationError):
        osm_nbi({"_id": "x", "id": "y"}, "ArrayOfNsdInfo")


# --- packages ---


def ingest(path: Path) -> Package:
    with path.open("rb") as handle:
        return listed(services.package_ingest(source=handle, uploader=UPLOADER, filename=path.name).package)


@pytest.fixture
def tango_vnf():
    return ingest(shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo"))


@pytest.fixture
def tango_ns():
    return ingest(shared_package("5gtango/5gtango-ns-package-example.tgo"))


@pytest.fixture
def osm_vnf(tmp_path):
    return ingest(osm_package("hackfest_basic_vnf", tmp_path))


@pytest.fixture
def osm_ns(tmp_path, osm_vnf):
    return ingest(osm_package("hackfest_basic_ns", tmp_path))


@pytest.fixture
def etsi_vnf(tmp_path):
    """The ETSI helloworld3 CSAR made acceptable: its software image is not in the shared data, so the
    image artifacts go, and the manifest gains its metadata and a digest for every file."""
    folder = shutil.copytree(shared_package("etsi-sol004/helloworld3"), tmp_path / "helloworld3")
    meta = folder / "TOSCA-Metadata" / "TOSCA.meta"
    meta.write_text(meta.read_text().split("\nName:")[0] + "\n")
    flavour = folder / "Definitions" / "helloworld3_df_simple.yaml"
    flavour.write_text(re.sub(r"\n {6}artifacts:\n {8}sw_image:\n(?: {10}[^\n]*\n)+", "\n", flavour.read_text()))
    lines = [
        "metadata:",
        "vnf_provider_id: DemoLabs",
        "vnf_product_name: Demo VNF",
        "vnf_release_date_time: 2020-03-27T12:00:00+00:00",
        "vnf_package_version: 1.0",
    ]
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.mf"):
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        lines += ["", f"Source: {file.relative_to(folder).as_posix()}", "Algorithm: SHA-256", f"Hash: {digest}"]
    (folder / "manifest.mf").write_text("\n".join(lines) + "\n")
    return ingest(zip_folder(folder, tmp_path / "helloworld3.csar"))


def ns_of(package):
    return package.networkservice_set.get()


def content(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- VNF packages ---


def test_the_list_holds_every_vnf_package_in_the_default_representation(get, tango_vnf, tango_ns, osm_vnf):
    items = get(VNF_PACKAGES, "ArrayOfVnfPkgInfo").json()
    # The NS package is no VNF package, though it carries a VNFD.
    assert [i["id"] for i in items] == [str(tango_vnf.pk), str(osm_vnf.pk)]
    for item in items:
        # SOL005 leaves these out of a list unless asked for.
        assert not {"checksum", "softwareImages", "additionalArtifacts", "userDefinedData"} & set(item)
        assert item["onboardingState"] == "ONBOARDED"
        assert item["_links"]["self"]["href"] == f"http://testserver{VNF_PACKAGES}/{item['id']}"


def test_a_vnf_package_of_osm_as_vnf_pkg_info(get, osm_vnf):
    info = get(f"{VNF_PACKAGES}/{osm_vnf.pk}", "VnfPkgInfo").json()
    pk = str(osm_vnf.pk)
    assert info["id"] == info["_id"] == pk
    assert info["vnfdId"] == "hackfest_basic-vnf"
    assert info["vnfProductName"] == "hackfest_basic-vnf"
    assert info["vnfProvider"] == ""  # the VNFD names no provider
    assert info["vnfdVersion"] == info["vnfSoftwareVersion"] == "1.0"
    assert info["checksum"] == {"algorithm": "SHA-256", "hash": osm_vnf.digest}
    assert info["packageSecurityOption"] == "OPTION_1"
    assert (info["onboardingState"], info["operationalState"], info["usageState"]) == (
        "ONBOARDED",
        "ENABLED",
        "NOT_IN_USE",
    )
    assert info["userDefinedData"] == {"category": "", "tags": []}
    assert [i["name"] for i in info["softwareImages"]] == OSM_IMAGES
    first = info["softwareImages"][0]
    assert first["id"] == "ubuntu18.04"
    assert (first["containerFormat"], first["diskFormat"]) == ("BARE", "QCOW2")  # the SOL006 defaults
    assert first["createdAt"] == Package.objects.get(pk=osm_vnf.pk).created_at.isoformat()
    assert {"minDisk", "minRam", "size", "checksum", "provider", "version"} <= set(first)
    assert "imagePath" not in first  # a VIM image name, not a file of the package
    artifacts = {a["artifactPath"]: a for a in info["additionalArtifacts"]}
    assert set(artifacts) == {"hackfest_basic_vnf/icons/osm.png"}  # not the VNFD, not checksums.txt
    icon = next(f for f in osm_vnf.files if f.path.endswith("osm.png"))
    assert artifacts[icon.path]["checksum"] == {"algorithm": "SHA-256", "hash": icon.sha256}
    links = {name: link["href"] for name, link in info["_links"].items()}
    base = f"http://testserver{VNF_PACKAGES}/{pk}"
    assert links == {"self": base, "vnfd": f"{base}/vnfd", "packageContent": f"{base}/package_content"}


def test_a_vnf_package_of_5gtango_as_vnf_pkg_info(get, tango_vnf):
    info = get(f"{VNF_PACKAGES}/{tango_vnf.pk}", "VnfPkgInfo").json()
    assert (info["vnfProvider"], info["vnfProductName"], info["vnfdVersion"]) == ("eu.5gtango", "myvnf", "0.1")
    assert info["vnfdId"] == "eu.5gtango/myvnf/0.1"
    [image] = info["softwareImages"]
    assert image["name"] == "eu.5gtango.mycloudimage.16.04"
    assert image["id"] == "vdu01"  # the deployment unit running it
    assert (image["containerFormat"], image["diskFormat"]) == ("BARE", "QCOW2")  # vm_image_format: qcow2
    assert image["provider"] == "eu.5gtango"
    assert {a["artifactPath"] for a in info["additionalArtifacts"]} == {
        "Licenses/LICENSE",
        "Images/mycloudimage.ref",
        "Icons/upb_logo.png",
        "Scripts/cloud.init",
    }


def test_usage_state_turns_in_use_once_a_network_service_of_another_package_uses_the_vnf(get, osm_vnf, tmp_path):
    url = f"{VNF_PACKAGES}/{osm_vnf.pk}"
    assert get(url, "VnfPkgInfo").json()["usageState"] == "NOT_IN_USE"
    ingest(osm_package("hackfest_basic_ns", tmp_path))
    assert get(url, "VnfPkgInfo").json()["usageState"] == "IN_USE"
    in_use = get(f"{VNF_PACKAGES}?filter=(eq,usageState,IN_USE)", "ArrayOfVnfPkgInfo").json()
    assert [i["id"] for i in in_use] == [str(osm_vnf.pk)]


def test_an_ns_package_using_its_own_vnf_leaves_vnf_packages_not_in_use(get, tango_vnf, tango_ns):
    assert get(f"{VNF_PACKAGES}/{tango_vnf.pk}", "VnfPkgInfo").json()["usageState"] == "NOT_IN_USE"


def test_deprecated_and_revoked_packages_are_disabled(get, osm_vnf, osm_ns):
    services.package_deprecate(package=osm_vnf, actor=UPLOADER)
    assert get(f"{VNF_PACKAGES}/{osm_vnf.pk}", "VnfPkgInfo").json()["operationalState"] == "DISABLED"
    ns = ns_of(osm_ns)
    assert get(f"{NS_DESCRIPTORS}/{ns.pk}", "NsdInfo").json()["nsdOperationalState"] == "ENABLED"
    Package.objects.filter(pk=osm_ns.pk).update(state="revoked")
    assert get(f"{NS_DESCRIPTORS}/{ns.pk}", "NsdInfo").json()["nsdOperationalState"] == "DISABLED"


@pytest.mark.parametrize(("which", "media_type"), [("tango_vnf", "application/zip"), ("osm_vnf", "application/gzip")])
def test_package_content_is_the_archive_as_uploaded(request, get, which, media_type):
    package = request.getfixturevalue(which)
    response = get(f"{VNF_PACKAGES}/{package.pk}/package_content")
    assert response.status_code == 200
    assert response["Content-Type"] == media_type
    data = content(response)
    assert hashlib.sha256(data).hexdigest() == package.digest
    assert int(response["Content-Length"]) == len(data) == package.size
    assert response["Accept-Ranges"] == "bytes"
    assert response["Digest"] == f"sha-256={package.digest}"


def test_package_content_serves_one_byte_range(get, tango_vnf):
    url = f"{VNF_PACKAGES}/{tango_vnf.pk}/package_content"
    whole = content(get(url))
    size = len(whole)
    for header, first, last in (
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, size - 1),
        ("bytes=-10", size - 10, size - 1),
        (f"bytes=10-{size + 50}", 10, size - 1),
    ):
        response = get(url, Range=header)
        assert response.status_code == 206, header
        assert response["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert content(response) == whole[first : last + 1]
        assert response["Content-Length"] == str(last - first + 1)
    # Several ranges, or a malformed one, are ignored: the whole archive.
    for ignored in ("bytes=0-1,5-6", "bytes=5-1", "items=0-1"):
        response = get(url, Range=ignored)
        assert response.status_code == 200, ignored
        assert content(response) == whole
    beyond = get(url, Range=f"bytes={size}-")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{size}"


def test_package_content_answers_406_when_its_type_is_not_acceptable(get, osm_vnf):
    refused = get(f"{VNF_PACKAGES}/{osm_vnf.pk}/package_content", Accept="application/zip")
    assert refused.status_code == 406
    assert "application/gzip" in refused.json()["detail"]
    assert get(f"{VNF_PACKAGES}/{osm_vnf.pk}/package_content", Accept="application/*").status_code == 200


def test_vnfd_is_the_descriptor_file_as_text_or_zipped_on_request(get, osm_vnf):
    url = f"{VNF_PACKAGES}/{osm_vnf.pk}/vnfd"
    original = (TESTDATA / "packages" / "osm" / "hackfest_basic_vnf" / "hackfest_basic_vnfd.yaml").read_bytes()
    text = get(url)
    assert text.status_code == 200
    assert text["Content-Type"].startswith("text/plain")
    assert text.content == original
    assert yaml.safe_load(text.content)["vnfd"]["id"] == "hackfest_basic-vnf"
    assert get(url, Accept="text/plain, application/zip").content == original

    zipped = get(url, Accept="application/zip")
    assert zipped.status_code == 200
    assert zipped["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        assert archive.namelist() == ["hackfest_basic_vnf/hackfest_basic_vnfd.yaml"]
        assert archive.read("hackfest_basic_vnf/hackfest_basic_vnfd.yaml") == original

    assert get(url, Accept="text/plain;q=0, */*")["Content-Type"] == "application/zip"
    refused = get(url, Accept="application/json")
    assert refused.status_code == 406
    assert "text/plain" in refused.json()["detail"]


def test_a_vnfd_of_several_files_is_served_zipped(get, etsi_vnf):
    url = f"{VNF_PACKAGES}/{etsi_vnf.pk}/vnfd"
    definitions = sorted(f.path for f in etsi_vnf.files if f.path.startswith("Definitions/"))
    for accept in ({}, {"Accept": "application/zip"}, {"Accept": "text/plain, application/zip"}):
        response = get(url, **accept)
        assert response["Content-Type"] == "application/zip", accept
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            assert sorted(archive.namelist()) == definitions
            top = yaml.safe_load(archive.read("Definitions/helloworld3_top.vnfd.yaml"))
            assert top["topology_template"]["node_templates"]["VNF"]["properties"]["provider"] == "DemoLabs"
    refused = get(url, Accept="text/plain")
    assert refused.status_code == 406
    assert "5 files" in refused.json()["detail"]


def test_a_vnf_package_of_etsi_as_vnf_pkg_info(get, etsi_vnf):
    info = get(f"{VNF_PACKAGES}/{etsi_vnf.pk}", "VnfPkgInfo").json()
    assert info["vnfdId"] == "5189df9e-7018-11ea-b97a-000c292ec2ea"
    assert (info["vnfProvider"], info["vnfProductName"], info["vnfSoftwareVersion"]) == ("DemoLabs", "Demo VNF", "1.0")
    assert info["vnfmInfo"] == ["Tacker"]
    assert [i["name"] for i in info["softwareImages"]] == ["Demo software of VDU1", "DemoVirtualStorage"]
    assert {a["artifactPath"] for a in info["additionalArtifacts"]} == {
        "Files/kubernetes/deployment.yaml",
        "Scripts/install.sh",
    }


def test_vnfd_of_a_5gtango_package(get, tango_vnf):
    response = get(f"{VNF_PACKAGES}/{tango_vnf.pk}/vnfd")
    assert yaml.safe_load(response.content)["name"] == "myvnf"


# --- NS descriptors ---


def test_ns_descriptors_as_nsd_info(get, tango_vnf, tango_ns, osm_vnf, osm_ns):
    items = get(NS_DESCRIPTORS, "ArrayOfNsdInfo").json()
    tango, osm = ns_of(tango_ns), ns_of(osm_ns)
    assert [i["id"] for i in items] == [str(tango.pk), str(osm.pk)]
    assert all("userDefinedData" not in i for i in items)  # left out of a list by default

    info = get(f"{NS_DESCRIPTORS}/{osm.pk}", "NsdInfo").json()
    assert info["id"] == info["_id"] == str(osm.pk)
    assert (info["nsdId"], info["nsdName"], info["nsdVersion"]) == ("hackfest_basic-ns", "hackfest_basic-ns", "1.0")
    assert info["nsdInvariantId"] == "hackfest_basic-ns"
    assert info["vnfPkgIds"] == [str(osm_vnf.pk)]
    assert info["pnfdInfoIds"] == info["nestedNsdInfoIds"] == []
    assert (info["nsdOnboardingState"], info["nsdOperationalState"], info["nsdUsageState"]) == (
        "ONBOARDED",
        "ENABLED",
        "NOT_IN_USE",
    )
    assert info["userDefinedData"] == {"category": "", "tags": []}
    base = f"http://testserver{NS_DESCRIPTORS}/{osm.pk}"
    assert info["_links"] == {"self": {"href": base}, "nsd_content": {"href": f"{base}/nsd_content"}}

    tango_info = get(f"{NS_DESCRIPTORS}/{tango.pk}", "NsdInfo").json()
    assert (tango_info["nsdDesigner"], tango_info["nsdId"]) == ("eu.5gtango", "eu.5gtango/sample-nsd/0.9")
    assert tango_info["nsdInvariantId"] == "eu.5gtango/sample-nsd"  # the same for every version
    assert tango_info["vnfPkgIds"] == []  # its VNF lives in the NS package itself


def test_nsd_content_is_the_ns_package_archive(get, tango_ns):
    response = get(f"{NS_DESCRIPTORS}/{ns_of(tango_ns).pk}/nsd_content")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert hashlib.sha256(content(response)).hexdigest() == tango_ns.digest
    partial = get(f"{NS_DESCRIPTORS}/{ns_of(tango_ns).pk}/nsd_content", Range="bytes=0-3")
    assert partial.status_code == 206
    assert content(partial) == b"PK\x03\x04"


# --- errors ---


@pytest.mark.parametrize(
    "path",
    [
        "/vnfpkgm/v1/vnf_packages/{id}",
        "/vnfpkgm/v1/vnf_packages/{id}/package_content",
        "/vnfpkgm/v1/vnf_packages/{id}/vnfd",
        "/nsd/v1/ns_descriptors/{id}",
        "/nsd/v1/ns_descriptors/{id}/nsd_content",
    ],
)
def test_unknown_and_malformed_ids_are_404_problem_details(get, tango_ns, path):
    # An NS package is not a VNF package, nor is a package id a network service id.
    for unknown in ("0123456789abcdef01234567", "not-an-id", str(tango_ns.pk)):
        response = get(path.format(id=unknown))
        assert response.status_code == 404, unknown
        assert unknown in response.json()["detail"]
        assert response.json()["instance"] == f"http://testserver{path.format(id=unknown)}"


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("filter=(eq,vnfPrductName,x)", "'vnfPrductName'"),
        ("filter=(like,vnfProductName,x)", "'like'"),
        ("filter=(eq,vnfProductName,a,b)", "SOL013"),  # eq takes one value
        ("filter=eq,vnfProductName,x", "SOL013"),
        ("fields=softwareImages,bogus", "'bogus'"),
        ("exclude_fields=vnfdId", "'vnfdId'"),  # a simple attribute, never left out
    ],
)
def test_a_bad_filter_or_selector_is_400_naming_it(get, query, named):
    response = get(f"{VNF_PACKAGES}?{query}")
    assert response.status_code == 400
    assert named in response.json()["detail"]


def test_an_ns_filter_names_ns_attributes(get):
    response = get(f"{NS_DESCRIPTORS}?filter=(eq,vnfProductName,x)")
    assert response.status_code == 400
    assert "nsdName" in response.json()["detail"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_other_methods_are_405_problem_details(client, osm_nbi, osm_vnf, method):
    for url in (VNF_PACKAGES, f"{VNF_PACKAGES}/{osm_vnf.pk}", NS_DESCRIPTORS):
        response = getattr(client, method)(url)
        assert response.status_code == 405
        assert response["Allow"] == "GET"
        assert response["Content-Type"] == PROBLEM
        osm_nbi(response.json(), "ProblemDetails")


def test_json_endpoints_answer_406_to_an_accept_without_json(get, osm_vnf):
    assert get(VNF_PACKAGES, Accept="application/yaml").status_code == 406
    assert get(f"{VNF_PACKAGES}/{osm_vnf.pk}", Accept="text/html").status_code == 406
    assert get(NS_DESCRIPTORS, "ArrayOfNsdInfo", Accept="application/*").status_code == 200


# --- filters and attribute selectors ---


def ids(get, query, schema="ArrayOfVnfPkgInfo", base=VNF_PACKAGES):
    response = get(f"{base}?{query}", schema)
    assert response.status_code == 200, response.content
    return [i["id"] for i in response.json()]


def test_filters_select_the_right_vnf_packages(get, tango_vnf, osm_vnf):
    tango, osm = str(tango_vnf.pk), str(osm_vnf.pk)
    services.package_metadata_update(package=osm_vnf, actor=UPLOADER, changes={"tags": ["edge", "demo"]})
    assert ids(get, "filter=(eq,vnfProductName,myvnf)") == [tango]
    assert ids(get, "filter=(neq,vnfProductName,myvnf)") == [osm]
    assert ids(get, "filter=(in,vnfProductName,myvnf,hackfest_basic-vnf)") == [tango, osm]
    assert ids(get, "filter=(nin,vnfProductName,myvnf,nothing)") == [osm]
    assert ids(get, "filter=(cont,vnfdId,hackfest)") == [osm]
    assert ids(get, "filter=(ncont,vnfdId,hackfest)") == [tango]
    assert ids(get, "filter=(eq,vnfProvider,'eu.5gtango')") == [tango]
    assert ids(get, "filter=(eq,vnfProvider,)") == [osm]  # OSM's VNFD names no provider
    assert ids(get, f"filter=(eq,id,{osm})") == [osm]
    assert ids(get, "filter=(gte,vnfdVersion,1.0)") == [osm]
    # Attributes inside arrays match when any element does, even when the list leaves them out.
    assert ids(get, "filter=(eq,softwareImages.name,ubuntu18.04-gcp)") == [osm]
    assert ids(get, "filter=(eq,userDefinedData.tags,edge)") == [osm]
    assert ids(get, "filter=(neq,userDefinedData.tags,edge)") == [tango]
    assert ids(get, f"filter=(eq,checksum.hash,{tango_vnf.digest})") == [tango]
    # Expressions are ANDed.
    assert ids(get, "filter=(eq,operationalState,ENABLED);(eq,vnfProductName,myvnf)") == [tango]
    assert ids(get, "filter=(eq,operationalState,DISABLED);(eq,vnfProductName,myvnf)") == []


def test_filters_select_the_right_ns_descriptors(get, tango_ns, osm_vnf, osm_ns):
    tango, osm = str(ns_of(tango_ns).pk), str(ns_of(osm_ns).pk)
    assert ids(get, "filter=(eq,nsdName,sample-nsd)", "ArrayOfNsdInfo", NS_DESCRIPTORS) == [tango]
    assert ids(get, "filter=(neq,nsdDesigner,eu.5gtango)", "ArrayOfNsdInfo", NS_DESCRIPTORS) == [osm]
    assert ids(get, f"filter=(eq,vnfPkgIds,{osm_vnf.pk})", "ArrayOfNsdInfo", NS_DESCRIPTORS) == [osm]
    assert ids(get, "filter=(in,nsdId,hackfest_basic-ns,nothing)", "ArrayOfNsdInfo", NS_DESCRIPTORS) == [osm]


def test_attribute_selectors(get, osm_vnf):
    def keys(query):
        [item] = get(f"{VNF_PACKAGES}?{query}", "ArrayOfVnfPkgInfo").json()
        return set(item) & set(VNF_PACKAGE.complex)

    assert keys("") == keys("exclude_default") == set()
    assert keys("all_fields") == set(VNF_PACKAGE.complex)
    assert keys("fields=softwareImages,checksum") == {"softwareImages", "checksum"}
    assert keys("exclude_fields=softwareImages") == set(VNF_PACKAGE.complex) - {"softwareImages"}
    assert keys("exclude_default&fields=userDefinedData") == {"userDefinedData"}


def test_the_filter_grammar():
    assert parse_filter("(in,vnfProductName,'a,b',c);(eq,vnfProvider,'it''s')", VNF_PACKAGE) == [
        ("in", "vnfProductName", ["a,b", "c"]),
        ("eq", "vnfProvider", ["it's"]),
    ]
    assert parse_filter("(eq,nsdName,)", NS_DESCRIPTOR) == [("eq", "nsdName", [""])]
    assert parse_filter(None, NS_DESCRIPTOR) == []
    for bad in ("(eq,nsdName,x)\n", "(eq,nsdName,x);", "(eq,nsdName,a'b)", "(eq,nsdName,x)(eq,nsdName,y)"):
        with pytest.raises(FilterError):
            parse_filter(bad, NS_DESCRIPTOR)


def described(fmt, document, files=(), images=()):
    package = Package(
        format=fmt,
        vendor="acme",
        main_descriptor="Definitions/vnfd.yaml",
        files=[PackageFile(path=p, size=1, sha256="0" * 64, media_type="application/octet-stream") for p in files],
        created_at=datetime(2024, 1, 2, tzinfo=UTC),
    )
    vnf = Vnf(file="Definitions/vnfd.yaml", descriptor_id="fw", vendor="acme", document=document, images=list(images))
    return software_images(vnf, package)


def test_software_images_of_a_sol006_vnfd_in_sol005_units():
    images = [
        {
            "id": "disk",
            "name": "fw-disk",
            "version": "2.1",
            "checksum": {"algorithm": "sha-256", "hash": "ab" * 32},
            "container-format": "bare",
            "disk-format": "raw",
            "min-disk": 2,
            "min-ram": 0.5,
            "size": 1,
            "image": "../Files/fw.img",
        },
        {"id": "remote", "name": "remote", "version": "1", "image": "https://images.example/fw.qcow2", "size": 1},
    ]
    [local, remote] = described("etsi", {"vnfd": {"id": "fw", "sw-image-desc": images}}, files=["Files/fw.img"])
    assert local == {
        "id": "disk",
        "name": "fw-disk",
        "provider": "acme",  # SOL006: the VNF's provider unless the image names one
        "version": "2.1",
        "checksum": {"algorithm": "SHA-256", "hash": "ab" * 32},
        "isEncrypted": False,
        "containerFormat": "BARE",
        "diskFormat": "RAW",
        "createdAt": "2024-01-02T00:00:00+00:00",
        "minDisk": 2 * 10**9,  # SOL006 states GB, SOL005 bytes
        "minRam": 5 * 10**8,
        "size": 10**9,
        "imagePath": "Files/fw.img",
    }
    assert remote["imageUri"] == "https://images.example/fw.qcow2"
    assert "imagePath" not in remote


def test_software_images_of_a_one_file_sol001_vnfd_and_the_fallback_to_names():
    data = {
        "name": "cirros",
        "version": "0.5",
        "checksum": {"algorithm": "sha-512", "hash": "cd"},
        "min_ram": "512 MiB",
    }
    document = {"topology_template": {"node_templates": {"VDU1": {"properties": {"sw_image_data": data}}}}}
    [image] = described("etsi", document)
    assert (image["id"], image["name"], image["version"], image["minRam"], image["checksum"]["algorithm"]) == (
        "VDU1",
        "cirros",
        "0.5",
        512 * 2**20,
        "SHA-512",
    )
    [named] = described("etsi", {}, images=["cirros-0.5"])
    assert (named["id"], named["name"], named["size"], named["checksum"]) == (
        "cirros-0.5",
        "cirros-0.5",
        0,
        {"algorithm": "", "hash": ""},
    )


def test_byte_ranges():
    assert byte_range("", 10) is None
    assert byte_range("bytes=2-4", 10) == (2, 4)
    assert byte_range("bytes=-3", 10) == (7, 9)
    assert byte_range("bytes=-30", 10) == (0, 9)
    assert byte_range("bytes=" + "9" * 40 + "-", 10) is None  # too long to be a position: ignored
    with pytest.raises(RangeNotSatisfiable) as caught:
        byte_range("bytes=-0", 10)
    assert caught.value.size == 10


def test_the_openapi_document_lists_the_sol005_endpoints(client):
    paths = client.get("/api/schema").json()["paths"]
    assert {p for p in paths if p.startswith(("/vnfpkgm/", "/nsd/"))} == {
        "/vnfpkgm/v1/vnf_packages",
        "/vnfpkgm/v1/vnf_packages/{vnfPkgId}",
        "/vnfpkgm/v1/vnf_packages/{vnfPkgId}/package_content",
        "/vnfpkgm/v1/vnf_packages/{vnfPkgId}/vnfd",
        "/nsd/v1/ns_descriptors",
        "/nsd/v1/ns_descriptors/{nsdInfoId}",
        "/nsd/v1/ns_descriptors/{nsdInfoId}/nsd_content",
    }
