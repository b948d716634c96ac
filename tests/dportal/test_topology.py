"""The NS topology layout: deterministic columns, one edge per attached connection point."""

from __future__ import annotations

from dportal.topology import BOX_WIDTH, LABEL_CHARS, layout, shorten

GRAPH = {
    "nodes": [
        {"id": "ns1", "kind": "ns", "label": "acme/core 1.0"},
        {"id": "v1", "kind": "vnf", "label": "acme/amf 1.0", "resolved": True},
        {"id": "v2", "kind": "vnf", "label": "acme/upf 1.0", "resolved": True},
        {"id": "unresolved:x", "kind": "vnf", "label": "x", "resolved": False},
    ],
    "edges": [{"from": "ns1", "to": "v1"}, {"from": "ns1", "to": "v2"}],
    "virtual_links": ["mgmt", "data"],
    "links": [
        {"virtual_link": "mgmt", "connection_point": "amf-mgmt", "node": "v1"},
        {"virtual_link": "data", "connection_point": "upf-data", "node": "v2"},
        {"virtual_link": "data", "connection_point": "sap-out", "node": ""},
        {"virtual_link": "extra", "connection_point": "upf-extra", "node": "v2"},
    ],
}


def test_it_puts_vnfs_links_and_service_points_in_three_columns():
    result = layout(GRAPH, {"v1": "/vnfs/v1/"})
    assert [b.id for b in result.vnfs] == ["v1", "v2", "unresolved:x"]
    assert [b.title for b in result.links] == ["mgmt", "data", "extra"]  # a link only the wiring names is added
    assert [b.title for b in result.saps] == ["sap-out"]
    assert len({b.x for b in result.vnfs}) == len({b.x for b in result.links}) == 1
    assert result.vnfs[0].x < result.links[0].x < result.saps[0].x
    assert result.vnfs[0].href == "/vnfs/v1/"
    assert result.vnfs[1].href == ""
    assert result.vnfs[2].resolved is False


def test_it_draws_one_edge_per_attached_connection_point_from_box_to_box():
    result = layout(GRAPH)
    assert [e.label for e in result.edges] == ["amf-mgmt", "upf-data", "sap-out", "upf-extra"]
    amf, mgmt = result.vnfs[0], result.links[0]
    first = result.edges[0]
    assert (first.x1, first.y1, first.x2, first.y2) == (amf.x + amf.width, amf.cy, mgmt.x, mgmt.cy)
    assert first.title == "acme/amf 1.0 amf-mgmt → mgmt"
    assert result.edges[2].title == "NS sap-out → data"


def test_it_is_deterministic_and_everything_fits_in_the_canvas():
    assert layout(GRAPH) == layout(GRAPH)
    result = layout(GRAPH)
    for box in result.boxes:
        assert box.x >= 0
        assert box.x + box.width <= result.width
        assert box.y >= 0
        assert box.y + box.height <= result.height


def test_it_shortens_long_labels_and_keeps_the_whole_one_as_title():
    long = "vendor-with-a-very-long-name/function-with-a-long-name 10.2.3"
    result = layout({"nodes": [{"id": "v", "kind": "vnf", "label": long}], "links": []})
    box = result.vnfs[0]
    assert box.title == long
    assert len(box.label) == LABEL_CHARS
    assert box.label.endswith("…")
    assert box.width == BOX_WIDTH
    assert shorten("short") == "short"


def test_it_skips_an_edge_to_a_vnf_the_graph_does_not_list():
    graph = {
        "nodes": [],
        "virtual_links": ["l"],
        "links": [{"virtual_link": "l", "connection_point": "c", "node": "v9"}],
    }
    result = layout(graph)
    assert result.edges == []
    assert [b.title for b in result.links] == ["l"]


def test_it_lays_out_an_empty_graph():
    result = layout({"nodes": [], "edges": []})
    assert result.boxes == []
    assert result.width > 0
    assert result.height > 0


def test_boxes_of_one_vendors_vnfs_show_distinct_product_names_first():
    vendor = "NFV Marketplace Demo Networks International"
    graph = {
        "nodes": [
            {"id": "ns1", "kind": "ns", "label": f"{vendor}/core 1.0"},
            {"id": "v1", "kind": "vnf", "label": f"{vendor}/nfvm-demo-amf 1.0", "name": "nfvm-demo-amf 1.0"},
            {"id": "v2", "kind": "vnf", "label": f"{vendor}/nfvm-demo-upf 1.0", "name": "nfvm-demo-upf 1.0"},
        ],
        "edges": [],
        "virtual_links": [],
        "links": [],
    }
    boxes = layout(graph).vnfs
    assert [b.label for b in boxes] == ["nfvm-demo-amf 1.0", "nfvm-demo-upf 1.0"]
    assert [b.title for b in boxes] == [f"{vendor}/nfvm-demo-amf 1.0", f"{vendor}/nfvm-demo-upf 1.0"]
