"""Positions for the NS topology diagram: VNFs in the left column, virtual links in the middle,
the NS's own connection points on the right, one edge per attached connection point with the
point's name as a small labelled node on it. Pure presentation over ns_graph's dict (see
marketplace.repository.selectors.ns_graph); the template draws it as SVG and escapes every label."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BOX_WIDTH = 200
BOX_HEIGHT = 40
ROW = 64  # vertical distance between two boxes of a column
MARGIN = 24
COLUMN_GAP = 170
SAP_WIDTH = 120
LABEL_CHARS = 25  # what fits in a box at the stylesheet's font size
CP_LABEL_CHARS = 26  # what fits between two columns in the smaller connection point font


@dataclass(frozen=True)
class Box:
    id: str
    label: str  # as shown, shortened to fit
    title: str  # the whole label, for the tooltip and the text list
    x: int
    y: int
    width: int
    height: int = BOX_HEIGHT
    kind: str = "vnf"  # "vnf", "vl" or "sap"
    href: str = ""
    resolved: bool = True

    @property
    def cx(self) -> int:
        return self.x + self.width // 2

    @property
    def cy(self) -> int:
        return self.y + self.height // 2

    @property
    def text_x(self) -> int:
        return self.x + 10


@dataclass(frozen=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int
    label: str  # the connection point's name, shortened
    title: str  # "<from> <cp> -> <link>"

    # The connection point sits a third of the way from its owner, not mid-edge: edges of one VNF
    # fan out from one spot, so their points part before the edges cross. The diagram numbers the
    # points and the list beside it names them (names do not fit between the columns).
    @property
    def mx(self) -> int:
        return self.x1 + (self.x2 - self.x1) // 3

    @property
    def my(self) -> int:
        return self.y1 + (self.y2 - self.y1) // 3


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    vnfs: list[Box] = field(default_factory=list)
    links: list[Box] = field(default_factory=list)
    saps: list[Box] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    @property
    def boxes(self) -> list[Box]:
        return [*self.vnfs, *self.links, *self.saps]


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _column(items: list[tuple[str, str, dict[str, Any]]], x: int, width: int, kind: str, top: int) -> list[Box]:
    return [
        Box(
            id=item_id,
            label=shorten(
                str(extra.get("name") or label), LABEL_CHARS if width >= BOX_WIDTH else LABEL_CHARS * width // BOX_WIDTH
            ),
            title=label,
            x=x,
            y=top + i * ROW,
            width=width,
            kind=kind,
            href=str(extra.get("href", "")),
            resolved=bool(extra.get("resolved", True)),
        )
        for i, (item_id, label, extra) in enumerate(items)
    ]


def layout(graph: dict[str, Any], vnf_href: dict[str, str] | None = None) -> Layout:
    """Deterministic positions for `graph` (ns_graph's answer): the same graph always gives the
    same picture, in the order the NSD lists its VNFs and links. `vnf_href` maps a VNF node id to
    the page it links to."""
    hrefs = vnf_href or {}
    vnf_items = [
        (
            str(n["id"]),
            str(n.get("label", n["id"])),
            {"href": hrefs.get(str(n["id"]), ""), "resolved": n.get("resolved", True), "name": n.get("name", "")},
        )
        for n in graph.get("nodes", [])
        if n.get("kind") == "vnf"
    ]
    links = graph.get("links", [])
    link_names = list(
        dict.fromkeys([*map(str, graph.get("virtual_links", [])), *(str(c["virtual_link"]) for c in links)])
    )
    sap_names = list(dict.fromkeys(str(c["connection_point"]) for c in links if not c.get("node")))
    top = MARGIN
    vnfs = _column(vnf_items, MARGIN, BOX_WIDTH, "vnf", top)
    vls = _column(
        [(f"vl:{name}", name, {}) for name in link_names], MARGIN + BOX_WIDTH + COLUMN_GAP, BOX_WIDTH, "vl", top
    )
    sap_x = MARGIN + 2 * (BOX_WIDTH + COLUMN_GAP)
    saps = _column([(f"sap:{name}", name, {}) for name in sap_names], sap_x, SAP_WIDTH, "sap", top)
    by_vnf = {b.id: b for b in vnfs}
    by_vl = {b.title: b for b in vls}
    by_sap = {b.title: b for b in saps}
    edges: list[Edge] = []
    for c in links:
        vl = by_vl[str(c["virtual_link"])]
        point = str(c["connection_point"])
        node = str(c.get("node") or "")
        if node:
            vnf = by_vnf.get(node)
            if vnf is None:
                continue
            edges.append(
                Edge(
                    vnf.x + vnf.width,
                    vnf.cy,
                    vl.x,
                    vl.cy,
                    shorten(point, CP_LABEL_CHARS),
                    f"{vnf.title} {point} → {vl.title}",
                )
            )
        else:
            sap = by_sap[point]
            edges.append(
                Edge(vl.x + vl.width, vl.cy, sap.x, sap.cy, shorten(point, CP_LABEL_CHARS), f"NS {point} → {vl.title}")
            )
    rows = max(len(vnfs), len(vls), len(saps), 1)
    width = sap_x + SAP_WIDTH + MARGIN if saps else MARGIN * 2 + 2 * BOX_WIDTH + COLUMN_GAP
    height = MARGIN * 2 + (rows - 1) * ROW + BOX_HEIGHT
    return Layout(width=width, height=height, vnfs=vnfs, links=vls, saps=saps, edges=edges)
