"""The JSON API over packages: sign-in, upload, search, retrieval, metadata, lifecycle,
and the permission rule for each write (uploader, another address, anonymous)."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
import yaml

from marketplace.repository.models import MetadataChange, Package
from tests.factories import blob_digests, listed, new_account, osm_package, shared_package, signed_in_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def developer_token(client, developer):
    return signed_in_token(client, developer)


@pytest.fixture
def stranger_token(client, stranger):
    return signed_in_token(client, stranger)


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def upload(client, token, path):
    with open(path, "rb") as handle:
        return client.post("/api/v1/packages", {"package": handle}, headers=auth(token))


@pytest.fixture
def tango_ns(client, developer_token):
    response = upload(client, developer_token, shared_package("5gtango/5gtango-ns-package-example.tgo"))
    assert response.status_code == 201, response.content
    listed(Package.objects.get(pk=response.json()["id"]))
    return response.json()


def test_sign_in_issues_a_token_for_the_signing_address(client, developer):
    token = signed_in_token(client, developer)
    assert len(token) > 30


def test_a_sign_in_message_cannot_be_replayed(client, developer):
    from datetime import UTC, datetime

    from eth_account.messages import encode_defunct

    from ledger.siwe import SiweMessage

    start = client.post("/api/v1/auth/nonce").json()
    text = SiweMessage(
        domain=start["domain"],
        address=developer.address,
        uri=start["uri"],
        chain_id=start["chain_id"],
        nonce=start["nonce"],
        issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).to_text()
    body = {"message": text, "signature": developer.sign_message(encode_defunct(text=text)).signature.to_0x_hex()}
    assert client.post("/api/v1/auth/token", body, content_type="application/json").status_code == 201
    again = client.post("/api/v1/auth/token", body, content_type="application/json")
    assert again.status_code == 401
    assert "already used" in again.json()["error"]


def test_a_sign_in_for_another_domain_is_refused(client, developer):
    from datetime import UTC, datetime

    from eth_account.messages import encode_defunct

    from ledger.siwe import SiweMessage

    start = client.post("/api/v1/auth/nonce").json()
    text = SiweMessage(
        domain="evil.test",
        address=developer.address,
        uri="https://evil.test/",
        chain_id=start["chain_id"],
        nonce=start["nonce"],
        issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).to_text()
    body = {"message": text, "signature": developer.sign_message(encode_defunct(text=text)).signature.to_0x_hex()}
    response = client.post("/api/v1/auth/token", body, content_type="application/json")
    assert response.status_code == 401
    assert "domain" in response.json()["error"]


def test_an_anonymous_upload_is_refused(client):
    with open(shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo"), "rb") as handle:
        response = client.post("/api/v1/packages", {"package": handle})
    assert response.status_code == 401
    assert "sign in" in response.json()["error"]
    assert Package.objects.count() == 0


def test_a_bad_token_is_refused(client):
    response = client.post(
        "/api/v1/packages", b"x", content_type="application/octet-stream", headers=auth("not-a-token")
    )
    assert response.status_code == 401


def test_a_multipart_upload_is_stored_under_the_signed_in_address(client, developer, tango_ns):
    assert tango_ns["uploader"] == developer.address
    assert tango_ns["kind"] == "ns"
    assert tango_ns["created"] is True
    assert len(tango_ns["network_services"]) == 1


def test_a_raw_body_upload_works_and_is_idempotent(client, developer_token):
    data = shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo").read_bytes()
    first = client.post(
        "/api/v1/packages",
        data,
        content_type="application/octet-stream",
        headers=auth(developer_token) | {"X-Filename": "vnf.tgo"},
    )
    again = client.post(
        "/api/v1/packages", data, content_type="application/octet-stream", headers=auth(developer_token)
    )
    assert first.status_code == 201, first.content
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["created"] is False


def test_a_rejected_upload_answers_422_with_every_problem(client, developer_token):
    response = upload(client, developer_token, shared_package("5gtango/5gtango-ns-package-example-bad-checksum.tgo"))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "the package was rejected"
    assert any("Definitions/myvnfd.yaml" in (p["file"] + p["message"]) for p in body["problems"])
    assert Package.objects.count() == 0


def test_a_multipart_upload_without_the_field_names_it(client, developer_token):
    response = client.post("/api/v1/packages", {"other": io.BytesIO(b"x")}, headers=auth(developer_token))
    assert response.status_code == 400
    assert "package" in response.json()["fields"]


def test_search_finds_by_words_filters_and_paginates(client, developer_token, tango_ns, tmp_path):
    upload(client, developer_token, osm_package("hackfest_basic_vnf", tmp_path))
    # The uploader sees its own uploads, listed or not (the listed tango_ns and the unlisted OSM VNF).

    by_word = client.get("/api/v1/packages", {"q": "5gtango sample"}, headers=auth(developer_token)).json()
    assert [p["id"] for p in by_word["items"]] == [tango_ns["id"]]
    by_prefix = client.get("/api/v1/packages", {"q": "hackf"}, headers=auth(developer_token)).json()
    assert by_prefix["total"] == 1
    assert client.get("/api/v1/packages", {"kind": "ns"}, headers=auth(developer_token)).json()["total"] == 1
    assert client.get("/api/v1/packages", {"format": "osm"}, headers=auth(developer_token)).json()["total"] == 1
    assert client.get("/api/v1/packages", {"vendor": "eu.5gtango"}, headers=auth(developer_token)).json()["total"] == 1
    first_page = client.get("/api/v1/packages", {"per_page": 1, "sort": "name"}, headers=auth(developer_token)).json()
    assert (first_page["total"], first_page["pages"], len(first_page["items"])) == (2, 2, 1)
    assert (
        client.get("/api/v1/packages", {"q": "nothing-like-this"}, headers=auth(developer_token)).json()["total"] == 0
    )


def test_search_filters_by_resources(client, developer_token, tango_ns):
    vcpus = tango_ns["resources"]["vcpus"]
    assert client.get("/api/v1/packages", {"min_vcpus": vcpus}).json()["total"] == 1
    assert client.get("/api/v1/packages", {"min_vcpus": vcpus + 1}).json()["total"] == 0


def test_search_explains_a_bad_filter(client):
    response = client.get("/api/v1/packages", {"kind": "pnf", "per_page": 1000, "min_vcpus": "many"})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"kind", "per_page", "min_vcpus"}


def test_files_download_and_descriptors(client, tango_ns):
    pid = tango_ns["id"]
    files = client.get(f"/api/v1/packages/{pid}/files").json()["items"]
    assert any(f["path"] == "TOSCA-Metadata/NAPD.yaml" for f in files)

    whole = client.get(f"/api/v1/packages/{pid}/content")
    content = b"".join(whole.streaming_content)
    assert hashlib.sha256(content).hexdigest() == tango_ns["digest"]["hash"]
    assert whole["Digest"] == f"sha-256={tango_ns['digest']['hash']}"

    napd = next(f for f in files if f["path"] == "TOSCA-Metadata/NAPD.yaml")
    one = client.get(f"/api/v1/packages/{pid}/files/TOSCA-Metadata/NAPD.yaml")
    data = b"".join(one.streaming_content)
    assert hashlib.sha256(data).hexdigest() == napd["checksum"]["hash"]
    assert client.get(f"/api/v1/packages/{pid}/files/no/such/file").status_code == 404

    ns_id = tango_ns["network_services"][0]["id"]
    as_yaml = client.get(f"/api/v1/nss/{ns_id}/descriptor")
    assert yaml.safe_load(as_yaml.content)["name"]
    as_json = client.get(f"/api/v1/nss/{ns_id}/descriptor", {"format": "json"})
    assert as_json.json() == yaml.safe_load(as_yaml.content)
    assert client.get(f"/api/v1/nss/{ns_id}/descriptor", {"format": "xml"}).status_code == 400


def test_the_ns_graph_names_its_vnfs(client, tango_ns):
    ns_id = tango_ns["network_services"][0]["id"]
    graph = client.get(f"/api/v1/nss/{ns_id}/graph").json()
    kinds = sorted(n["kind"] for n in graph["nodes"])
    assert kinds == ["ns", "vnf"]
    assert graph["edges"] == [{"from": ns_id, "to": tango_ns["vnfs"][0]["id"]}]


def test_unknown_and_malformed_ids_answer_404(client):
    assert client.get("/api/v1/packages/000000000000000000000000").status_code == 404
    assert client.get("/api/v1/packages/not-an-id").status_code == 404
    assert client.get("/api/v1/vnfs/not-an-id").status_code == 404


def test_the_uploader_edits_metadata_and_the_change_is_recorded(client, developer, developer_token, tango_ns):
    pid = tango_ns["id"]
    response = client.patch(
        f"/api/v1/packages/{pid}",
        {
            "tags": ["5G", "core"],
            "description": "A sample NS",
            "category": "core",
            "links": [{"title": "docs", "url": "https://example.org/docs"}],
        },
        content_type="application/json",
        headers=auth(developer_token),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["tags"] == ["5g", "core"]
    assert body["digest"] == tango_ns["digest"]
    history = client.get(f"/api/v1/packages/{pid}/history").json()["items"]
    assert history[0]["actor"] == developer.address
    assert history[0]["after"]["tags"] == ["5g", "core"]
    assert history[0]["before"]["tags"] == []
    assert client.get("/api/v1/packages", {"tag": "core"}).json()["total"] == 1
    assert client.get("/api/v1/packages", {"q": "sample ns"}).json()["total"] == 1


def test_metadata_errors_name_the_field(client, developer_token, tango_ns):
    response = client.patch(
        f"/api/v1/packages/{tango_ns['id']}",
        {"tags": ["no spaces allowed"], "links": [{"url": "javascript:alert(1)"}], "name": "x"},
        content_type="application/json",
        headers=auth(developer_token),
    )
    assert response.status_code == 400
    assert "name" in response.json()["fields"]
    assert MetadataChange.objects.count() == 0


@pytest.mark.parametrize("who", ["stranger", "anonymous"])
def test_only_the_uploader_may_change_deprecate_or_delete(client, stranger_token, tango_ns, who):
    headers = auth(stranger_token) if who == "stranger" else {}
    expected = 403 if who == "stranger" else 401
    pid = tango_ns["id"]
    assert (
        client.patch(
            f"/api/v1/packages/{pid}", {"tags": ["x"]}, content_type="application/json", headers=headers
        ).status_code
        == expected
    )
    assert client.post(f"/api/v1/packages/{pid}/deprecate", headers=headers).status_code == expected
    assert client.delete(f"/api/v1/packages/{pid}", headers=headers).status_code == expected
    assert Package.objects.get(pk=pid).state == "validated"
    assert MetadataChange.objects.count() == 0


def test_a_vnf_package_used_by_an_ns_cannot_be_deleted_only_deprecated(client, developer_token, tmp_path):
    vnf = upload(client, developer_token, osm_package("hackfest_basic_vnf", tmp_path)).json()
    ns = upload(client, developer_token, osm_package("hackfest_basic_ns", tmp_path))
    assert ns.status_code == 201, ns.content

    refused = client.delete(f"/api/v1/packages/{vnf['id']}", headers=auth(developer_token))
    assert refused.status_code == 409
    assert "network service" in refused.json()["error"]
    deprecated = client.post(f"/api/v1/packages/{vnf['id']}/deprecate", headers=auth(developer_token))
    assert deprecated.json()["state"] == "deprecated"


def test_an_unreferenced_package_is_deleted_with_its_blob(client, developer_token, tango_ns):
    response = client.delete(f"/api/v1/packages/{tango_ns['id']}", headers=auth(developer_token))
    assert response.status_code == 204
    assert Package.objects.count() == 0
    assert blob_digests() == []


def test_versions_are_listed_newest_first_and_search_shows_the_latest(client, developer_token, tmp_path):
    source = shared_package("5gtango/eu.5gtango.vnf-package-example.0.1.tgo")
    first = upload(client, developer_token, source).json()
    newer = tmp_path / "newer.tgo"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(newer, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "TOSCA-Metadata/NAPD.yaml":
                napd = yaml.safe_load(data)
                napd["version"] = "0.10"
                data = yaml.safe_dump(napd).encode()
            dst.writestr(item, data)
    second = upload(client, developer_token, newer)
    if second.status_code != 201:
        pytest.skip(f"the rewritten NAPD no longer validates: {second.json()}")
    versions = client.get(f"/api/v1/packages/{first['id']}/versions", headers=auth(developer_token)).json()["items"]
    assert [v["version"] for v in versions] == ["0.10", "0.1"]
    latest = client.get("/api/v1/packages", {"vendor": first["vendor"]}, headers=auth(developer_token)).json()["items"]
    assert [p["version"] for p in latest] == ["0.10"]
    assert (
        client.get(
            "/api/v1/packages", {"vendor": first["vendor"], "all_versions": "1"}, headers=auth(developer_token)
        ).json()["total"]
        == 2
    )


def test_a_new_account_can_sign_in_too(client):
    assert signed_in_token(client, new_account())
