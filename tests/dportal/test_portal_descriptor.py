"""The portal's VNF and NS pages: resources read from the stored descriptor in every format,
the NS topology as server-drawn SVG with a text list beside it, versions, licences, proof, the
descriptor folded by section with downloads, and hostile descriptor text kept inert."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dportal.access import SESSION_ADDRESS
from marketplace.repository import services
from marketplace.repository.models import NetworkService, Vnf
from marketplace.repository.packages.build import build_osm
from tests.factories import listed

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def demo(developer):
    return {r.package.name: listed(r.package) for r in services.catalogue_seed_demo(uploader=developer.address)}


def svg_of(html: str) -> ET.Element:
    match = re.search(r"<svg .*?</svg>", html, re.S)
    assert match, "no SVG on the page"
    return ET.fromstring(match.group(0))  # noqa: S314 (our own page) well-formed XML, or this raises


@pytest.mark.parametrize(
    ("package", "vdu", "facts"),
    [
        ("nfvm-demo-smf", "smf", "2 vCPU · 2048 MB RAM"),
        ("nfvm-demo-amf", "nfvm-demo-amf-vm", "2 vCPU · 4096 MB RAM · 20 GB disk"),
        ("nfvm-demo-firewall-vnf", "fw-vdu", "2 vCPU · 2048 MB RAM · 8 GB disk"),
    ],
)
def test_a_vnf_page_shows_its_resources_in_every_format(client, demo, package, vdu, facts):
    vnf = demo[package].vnf_set.get()
    html = client.get(f"/vnfs/{vnf.pk}/").content.decode()
    assert facts in html
    assert f'<th scope="row">{vdu}</th>' in html  # the VDU table
    for image in vnf.images:
        assert image in html
    assert "External connection points" in html


def test_a_vnf_page_folds_the_descriptor_by_section_and_offers_downloads(client, demo):
    vnf = demo["nfvm-demo-amf"].vnf_set.get()
    html = client.get(f"/vnfs/{vnf.pk}/").content.decode()
    sections = re.findall(r"<details( open)?><summary><code>([^<]+)</code>", html)
    assert [title for _, title in sections][:3] == ["vnfd / id", "vnfd / provider", "vnfd / product-name"]
    assert sections[0][0] == " open"
    assert all(not is_open for is_open, _ in sections[1:])
    yaml_url, json_url = (
        f"/api/v1/vnfs/{vnf.pk}/descriptor?format=yaml",
        f"/api/v1/vnfs/{vnf.pk}/descriptor?format=json",
    )
    assert f'href="{yaml_url}" download' in html
    assert f'href="{json_url}" download' in html
    assert client.get(json_url).json() == vnf.document
    assert "nfvm-demo-amf" in client.get(yaml_url).content.decode()


def test_a_page_shows_versions_licences_and_verification(client, demo, tmp_path):
    folder = tmp_path / "nfvm_demo_amf_vnf"
    source = Path(services.DEMO_DIR / "osm" / "nfvm_demo_amf_vnf" / "nfvm_demo_amf_vnfd.yaml").read_text()
    folder.mkdir()
    (folder / "nfvm_demo_amf_vnfd.yaml").write_text(source.replace("version: '1.0'", "version: '1.1'"))
    with build_osm(folder, tmp_path / "amf-1.1.tar.gz").open("rb") as handle:
        newer = listed(services.package_ingest(source=handle, uploader=demo["nfvm-demo-amf"].uploader).package)
    old, new = demo["nfvm-demo-amf"].vnf_set.get(), newer.vnf_set.get()
    html = client.get(f"/vnfs/{old.pk}/").content.decode()
    assert f'<a href="/vnfs/{new.pk}/">1.1</a>' in html
    assert "<strong>1.0</strong> (this page)" in html
    versions = html[html.index('id="versions-title"') :]
    assert versions.index(">1.1<") < versions.index(">1.0<")  # newest first
    assert "No licence offer for this package yet" in html
    assert f'href="/packages/{old.package.pk}/#licences"' in html
    assert "Not registered" in html
    assert f'href="/packages/{old.package.pk}/#proof">Evidence' in html


@pytest.mark.parametrize(
    ("package", "vnfs", "links", "points"),
    [
        ("nfvm-demo-core-ns", 2, 2, ["nfvm-demo-amf-mgmt-ext", "nfvm-demo-upf-data-ext"]),
        ("nfvm-demo-secure-edge-ns", 1, 3, ["inside", "outside", "access", "core"]),
        ("nfvm-demo-slice-ns", 1, 1, ["virtual_link"]),
    ],
)
def test_an_ns_page_draws_its_topology_as_svg_in_every_format(client, demo, package, vnfs, links, points):
    ns = demo[package].networkservice_set.get()
    html = client.get(f"/nss/{ns.pk}/").content.decode()
    svg = svg_of(html)
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title") is not None
    groups = svg.findall(f"{SVG}g")
    assert len([g for g in groups if "vnf" in g.get("class", "").split()]) == vnfs
    assert len([g for g in groups if "vl" in g.get("class", "").split()]) == links
    edges = [g for g in groups if "edge" in g.get("class", "").split()]
    titles = " ".join(g.find(f"{SVG}title").text or "" for g in edges)  # type: ignore[union-attr]
    assert all(point in titles for point in points)  # each connection point named on its numbered edge
    numbers = [t.text for g in edges for t in g.iter(f"{SVG}text")]
    assert numbers == [str(i) for i in range(1, len(edges) + 1)]
    for vnf in Vnf.objects.filter(pk__in=ns.vnf_ids):
        assert f'href="/vnfs/{vnf.pk}/"' in html  # in the diagram and in the list beside it
    assert "The same in words" in html
    assert "Constituent VNFs" in html


def test_the_ns_graph_api_carries_the_wiring_the_diagram_draws(client, demo):
    ns = demo["nfvm-demo-core-ns"].networkservice_set.get()
    graph = client.get(f"/api/v1/nss/{ns.pk}/graph").json()
    amf = Vnf.objects.get(descriptor_id="nfvm-demo-amf")
    assert {"virtual_link": "mgmtnet", "connection_point": "nfvm-demo-amf-mgmt-ext", "node": str(amf.pk)} in graph[
        "links"
    ]
    assert graph["virtual_links"] == ["mgmtnet", "datanet"]


def test_instantiation_is_offered_to_a_signed_in_user_only(client, demo, developer, deployed):
    ns = demo["nfvm-demo-core-ns"].networkservice_set.get()
    anonymous = client.get(f"/nss/{ns.pk}/").content.decode()
    assert "Sign in with your wallet</a> to instantiate" in anonymous
    assert f'action="/nss/{ns.pk}/instantiate"' not in anonymous
    session = client.session
    session[SESSION_ADDRESS] = developer.address
    session.save()
    assert f'action="/nss/{ns.pk}/instantiate"' in client.get(f"/nss/{ns.pk}/").content.decode()


def test_unknown_or_mistyped_ids_are_not_found(client, demo):
    vnf = demo["nfvm-demo-amf"].vnf_set.get()
    assert client.get("/vnfs/000000000000000000000000/").status_code == 404
    assert client.get("/nss/not-an-id/").status_code == 404
    assert client.get(f"/nss/{vnf.pk}/").status_code == 404  # a VNF is not a network service


HOSTILE_VNFD = """\
vnfd:
  id: hostile-vnf
  provider: Hostile
  product-name: 'hostile <script>alert("x")</script>'
  version: '1.0'
  description: '</svg><script>alert("x")</script>'
  df:
  - id: default-df
    vdu-profile:
    - id: vm
  ext-cpd:
  - id: '<script>alert("x")</script>'
    int-cpd:
      vdu-id: vm
      cpd: eth0
  sw-image-desc:
  - id: img
    name: img
    image: '"><img src=x onerror=alert(1)>'
  vdu:
  - id: vm
    name: '<script>alert("x")</script>'
    sw-image-desc: img
    int-cpd:
    - id: eth0
"""

HOSTILE_NSD = """\
nsd:
  nsd:
  - id: hostile-ns
    name: '<script>alert("x")</script>'
    designer: Hostile
    version: '1.0'
    vnfd-id:
    - hostile-vnf
    virtual-link-desc:
    - id: '<script>alert("x")</script>'
    sapd:
    - id: '<b>sap</b>'
      virtual-link-desc: '<script>alert("x")</script>'
    df:
    - id: default-df
      virtual-link-profile:
      - id: '<script>alert("x")</script>'
        virtual-link-desc-id: '<script>alert("x")</script>'
      vnf-profile:
      - id: vnf
        vnfd-id: hostile-vnf
        virtual-link-connectivity:
        - virtual-link-profile-id: '<script>alert("x")</script>'
          constituent-cpd-id:
          - constituent-base-element-id: vnf
            constituent-cpd-id: '<script>alert("x")</script>'
"""


@pytest.fixture
def hostile(developer, tmp_path):
    made = {}
    for name, text, kind in (("hostile_vnf", HOSTILE_VNFD, "vnfd"), ("hostile_ns", HOSTILE_NSD, "nsd")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / f"{name}{kind[-1]}.yaml").write_text(text)
        with build_osm(folder, tmp_path / f"{name}.tar.gz").open("rb") as handle:
            made[name] = listed(services.package_ingest(source=handle, uploader=developer.address).package)
    return made


def test_hostile_descriptor_text_is_escaped_everywhere(client, hostile):
    vnf = Vnf.objects.get(package=hostile["hostile_vnf"])
    ns = NetworkService.objects.get(package=hostile["hostile_ns"])
    for url in (f"/vnfs/{vnf.pk}/", f"/nss/{ns.pk}/", "/packages/"):
        html = client.get(url).content.decode()
        for raw in (HOSTILE, "<img src=x", "<b>sap</b>"):
            assert raw not in html, url
        assert "&lt;script&gt;" in html, url
    svg = svg_of(client.get(f"/nss/{ns.pk}/").content.decode())
    assert HOSTILE in {t.text for t in svg.iter(f"{SVG}title")}  # escaped in the markup, intact as text
    assert not list(svg.iter(f"{SVG}script"))
