"""Give BPMN files a diagram layout (BPMN DI) that bpmn-js draws legibly.

    python -m engine.definitions.layout processes/*.bpmn            rewrite the files in place
    python -m engine.definitions.layout --check processes/*.bpmn    list elements without DI, exit 1

or `layout(xml_bytes) -> bytes` from Python. All existing DI is replaced; everything else in
the file (spiffworkflow:/camunda: extensions, scripts, conditions, comments) is kept.

The picture: one pool per process (a collaboration is added when the file has none, so
bpmn-js draws pools and lanes), each lane a horizontal band, flow nodes in columns by their
longest-path rank from the start events, nodes of one lane and column stacked, sequence flows
routed orthogonally around the shapes (loops go back below or above the nodes), boundary
events on the bottom edge of their host. Sub-processes are drawn collapsed and their content
gets a plane of its own (bpmn-js shows a drill-down arrow): the main picture stays a regular
grid. Same input, same bytes out; running the tool on its own output changes nothing.
"""

from __future__ import annotations

import argparse
import heapq
import sys
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"

EVENTS = {
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
}
GATEWAYS = {
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
}
SUBPROCESSES = {"subProcess", "transaction", "adHocSubProcess"}
TASKS = {
    "task",
    "userTask",
    "manualTask",
    "scriptTask",
    "serviceTask",
    "sendTask",
    "receiveTask",
    "businessRuleTask",
    "callActivity",
}
ACTIVITIES = TASKS | SUBPROCESSES
FLOW_NODES = EVENTS | GATEWAYS | ACTIVITIES
DATA = {"dataObjectReference": (36, 50), "dataStoreReference": (50, 50)}

# Grid, in px. A row holds one task; lanes get room above (gateway labels) and below
# (event labels, tracks for loops going back).
ROW_H = 80
ROW_GAP = 60
PAD_TOP = 40
PAD_BOTTOM = 50
COL_GAP = 60
MARGIN_X = 50
HEADER = 30  # the name strip of a pool or a lane
POOL_GAP = 60
ORIGIN_X, ORIGIN_Y = 120, 60
CLEARANCE = 8  # edges keep this far from shapes
BEND = 60  # a bend costs as much as 60 px of line
OVERLAP = 5  # running on top of another flow costs 5 times its length, plus 200
LABEL_W = 90  # bpmn-js wraps external labels at 90 px
LINE_H = 14

R, D, L, U = 0, 1, 2, 3  # directions: right, down, left, up
DX = (1, 0, -1, 0)
DY = (0, 1, 0, -1)


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _bpmn_elements(el: etree._Element, *names: str) -> list[etree._Element]:
    return [
        c
        for c in el
        if isinstance(c.tag, str)
        and etree.QName(c).namespace == BPMN
        and (not names or etree.QName(c).localname in names)
    ]


def _ref_text(el: etree._Element, name: str) -> str | None:
    for c in _bpmn_elements(el, name):
        if c.text and c.text.strip():
            return c.text.strip()
    return None


def text_size(text: str) -> tuple[int, int]:
    """Rough size of a bpmn-js external label (11 px Arial, wrapped at 90 px)."""
    width = sum(12 if ord(ch) > 0x2E7F else 7 for ch in text)
    lines = max(1, -(-width // (LABEL_W - 6)))
    return min(width, LABEL_W), lines * LINE_H


@dataclass
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def cx(self) -> int:
        return self.x + self.w // 2

    @property
    def cy(self) -> int:
        return self.y + self.h // 2

    def grow(self, m: int) -> Rect:
        return Rect(self.x - m, self.y - m, self.w + 2 * m, self.h + 2 * m)

    def overlaps(self, other: Rect) -> bool:
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )


@dataclass(eq=False)
class Node:
    id: str
    el: etree._Element
    kind: str
    w: int
    h: int
    order: int
    band: int = 0
    rank: int = 0
    slot: int = 0
    x: int = 0
    y: int = 0
    host: Node | None = None
    on_top: bool = False  # a boundary event on the top edge of its host
    busy: set[int] = field(default_factory=set)  # edges (U, D) that carry boundary events
    label: Rect | None = None
    obstacle: int | None = None

    @property
    def rect(self) -> Rect:
        return Rect(self.x, self.y, self.w, self.h)

    @property
    def name(self) -> str:
        return (self.el.get("name") or "").strip()


@dataclass(eq=False)
class Flow:
    id: str
    el: etree._Element
    kind: str
    source: str
    target: str
    back: bool = False
    points: list[tuple[int, int]] = field(default_factory=list)
    label: Rect | None = None


@dataclass(eq=False)
class Lane:
    id: str
    depth: int
    refs: list[str]
    children: list[Lane] = field(default_factory=list)
    rect: Rect | None = None


def _size(kind: str, el: etree._Element) -> tuple[int, int]:
    if kind in EVENTS:
        return 36, 36
    if kind in GATEWAYS:
        return 50, 50
    if kind in DATA:
        return DATA[kind]
    if kind == "textAnnotation":
        text = "".join(t.text or "" for t in _bpmn_elements(el, "text"))
        width = sum(12 if ord(ch) > 0x2E7F else 7 for ch in text)
        return 100, max(30, min(120, (-(-width // 94)) * LINE_H + 10))
    return 100, 80


class Block:
    """The flow nodes of one process (drawn in a pool) or one sub-process (on its own plane),
    ranked into columns and slotted into rows of their lane's band."""

    def __init__(self, el: etree._Element):
        self.el = el
        self.nodes: dict[str, Node] = {}
        self.boundaries: list[Node] = []
        self.extras: list[Node] = []  # data objects and stores, text annotations
        self.flows: list[Flow] = []  # sequence flows
        self.links: list[Flow] = []  # associations and data associations
        self.subprocesses: list[etree._Element] = []
        self.lanes: list[Lane] = []
        self.bands: list[Lane | None] = []
        self.band_rects: list[Rect] = []
        self.col_x: list[int] = []
        self.col_w: list[int] = []
        self.xs: set[int] = set()
        self.ys: set[int] = set()
        self._collect()
        self._assign_bands()
        self._rank()
        self._slot()

    # ----- reading --------------------------------------------------------------------------

    def _collect(self) -> None:
        order = 0
        for child in _bpmn_elements(self.el):
            kind, ident = _local(child), child.get("id")
            if not ident:
                continue
            if kind in FLOW_NODES or kind in DATA or kind == "textAnnotation":
                node = Node(ident, child, kind, *_size(kind, child), order=order)
                order += 1
                if kind == "boundaryEvent":
                    self.boundaries.append(node)
                elif kind in FLOW_NODES:
                    self.nodes[ident] = node
                else:
                    self.extras.append(node)
                if kind in SUBPROCESSES:
                    self.subprocesses.append(child)
                for assoc in _bpmn_elements(child, "dataInputAssociation", "dataOutputAssociation"):
                    if not assoc.get("id"):
                        continue
                    if _local(assoc) == "dataInputAssociation":
                        src, tgt = _ref_text(assoc, "sourceRef"), ident
                    else:
                        src, tgt = ident, _ref_text(assoc, "targetRef")
                    if src and tgt:
                        self.links.append(Flow(assoc.get("id"), assoc, _local(assoc), src, tgt))
            elif kind == "sequenceFlow":
                self.flows.append(
                    Flow(ident, child, kind, child.get("sourceRef", ""), child.get("targetRef", ""))
                )
            elif kind == "association":
                self.links.append(
                    Flow(ident, child, kind, child.get("sourceRef", ""), child.get("targetRef", ""))
                )
        for b in list(self.boundaries):
            host = self.nodes.get(b.el.get("attachedToRef", ""))
            if host is None:  # not attached to anything here: draw it as a plain event
                self.boundaries.remove(b)
                self.nodes[b.id] = b
            else:
                b.host = host

        def walk(lane_set: etree._Element, depth: int) -> list[Lane]:
            lanes = []
            for lane_el in _bpmn_elements(lane_set, "lane"):
                refs = [t.text.strip() for t in _bpmn_elements(lane_el, "flowNodeRef") if t.text]
                lane = Lane(lane_el.get("id", ""), depth, refs)
                for child_set in _bpmn_elements(lane_el, "childLaneSet"):
                    lane.children += walk(child_set, depth + 1)
                lanes.append(lane)
            return lanes

        for lane_set in _bpmn_elements(self.el, "laneSet"):
            self.lanes += walk(lane_set, 1)

    def all_lanes(self) -> list[Lane]:
        out: list[Lane] = []

        def walk(lanes: list[Lane]) -> None:
            for lane in lanes:
                out.append(lane)
                walk(lane.children)

        walk(self.lanes)
        return out

    def node(self, ident: str) -> Node | None:
        return self.nodes.get(ident) or next(
            (n for n in self.boundaries + self.extras if n.id == ident), None
        )

    # ----- lanes, columns, rows -------------------------------------------------------------

    def _assign_bands(self) -> None:
        lanes = self.all_lanes()
        leaves = [lane for lane in lanes if not lane.children]
        self.bands = list(leaves)
        home: dict[str, int] = {}
        for i, leaf in enumerate(leaves):
            for ref in leaf.refs:
                home.setdefault(ref, i)
        for lane in lanes:  # listed in a parent lane only: first band under that parent
            if lane.children:
                first = lane
                while first.children:
                    first = first.children[0]
                for ref in lane.refs:
                    home.setdefault(ref, leaves.index(first))
        if not leaves or any(n not in home for n in self.nodes):
            self.bands.append(None)
        for n in self.nodes.values():
            n.band = home.get(n.id, len(self.bands) - 1)
        for b in self.boundaries:
            b.band = b.host.band
            targets = [self.nodes.get(f.target) for f in self.flows if f.source == b.id]
            b.on_top = bool(targets) and all(t is not None and t.band < b.band for t in targets)

    def _boundary(self, ident: str) -> Node:
        return next(b for b in self.boundaries if b.id == ident)

    def anchor(self, ident: str) -> Node | None:
        """The node a flow leaves from for ranking: a boundary event counts as its host."""
        node = self.nodes.get(ident)
        if node is None:
            b = next((b for b in self.boundaries if b.id == ident), None)
            node = b.host if b else None
        return node

    def _rank(self) -> None:
        succ: dict[str, list[tuple[Flow, Node]]] = {n: [] for n in self.nodes}
        has_pred: set[str] = set()
        for f in self.flows:
            s, t = self.anchor(f.source), self.nodes.get(f.target)
            if s and t:
                succ[s.id].append((f, t))
                has_pred.add(t.id)
        # Back edges: depth-first from the start events, then from whatever is left.
        nodes = list(self.nodes.values())
        roots = [n for n in nodes if n.kind == "startEvent"]
        roots += [n for n in nodes if n.id not in has_pred] + nodes
        state: dict[str, int] = {}
        for root in roots:
            if root.id in state:
                continue
            state[root.id] = 1
            stack = [(root, iter(succ[root.id]))]
            while stack:
                node, it = stack[-1]
                for f, t in it:
                    if state.get(t.id) == 1:
                        f.back = True
                    elif t.id not in state:
                        state[t.id] = 1
                        stack.append((t, iter(succ[t.id])))
                        break
                else:
                    state[node.id] = 2
                    stack.pop()
        # Longest path over the forward edges (Kahn's order).
        forward = {n: [t for f, t in out if not f.back] for n, out in succ.items()}
        indeg = {n: 0 for n in self.nodes}
        for targets in forward.values():
            for t in targets:
                indeg[t.id] += 1
        sources = {n for n, k in indeg.items() if k == 0}
        queue = [n for n in nodes if indeg[n.id] == 0]
        topo: list[Node] = []
        while queue:
            node = queue.pop(0)
            topo.append(node)
            for t in forward[node.id]:
                t.rank = max(t.rank, node.rank + 1)
                indeg[t.id] -= 1
                if indeg[t.id] == 0:
                    queue.append(t)
        # A node nothing leads to sits just before its first successor, not in column 0.
        for node in reversed(topo):
            if node.id in sources and forward[node.id]:
                node.rank = max(node.rank, min(t.rank for t in forward[node.id]) - 1)
        self.preds: dict[str, list[tuple[Flow, Node]]] = defaultdict(list)
        for n, out in succ.items():
            for f, t in out:
                if not f.back:
                    self.preds[t.id].append((f, self.nodes[n]))

    def _slot(self) -> None:
        taken: set[tuple[int, int, int]] = set()

        def put(node: Node, want: int) -> None:
            while (node.band, node.rank, want) in taken:
                want += 1
            node.slot = want
            taken.add((node.band, node.rank, want))

        isolated = {
            n.id
            for n in self.nodes.values()
            if n.id not in self.preds
            and not any(self.anchor(f.source) is n for f in self.flows)
            and n.kind != "startEvent"
        }
        for node in sorted(self.nodes.values(), key=lambda n: (n.id in isolated, n.rank, n.order)):
            wants = [
                # Below a boundary event on the bottom edge: one row lower than its host.
                p.slot + (1 if f.source != p.id and not self._boundary(f.source).on_top else 0)
                for f, p in self.preds.get(node.id, [])
                if p.band == node.band
            ]
            put(node, min(wants) if wants else 0)
        for extra in self.extras:
            partner = None
            for link in self.links:
                other = link.target if link.source == extra.id else link.source
                if extra.id in (link.source, link.target) and other in self.nodes:
                    partner = self.nodes[other]
                    break
            if partner is None:
                extra.band, extra.rank = 0, 0
                put(extra, 0)
            else:
                extra.band, extra.rank = partner.band, partner.rank
                put(extra, partner.slot + 1)

    # ----- geometry --------------------------------------------------------------------------

    def natural_width(self, header: int) -> int:
        self._columns(0, header)
        return self.col_x[-1] + self.col_w[-1] + MARGIN_X

    def _columns(self, x0: int, header: int) -> None:
        everything = list(self.nodes.values()) + self.extras
        ncols = max((n.rank for n in everything), default=0) + 1
        widths = [0] * ncols
        gaps = [COL_GAP] * ncols
        for n in everything:
            width = n.w
            if n.name and (n.kind in EVENTS or n.kind in GATEWAYS):
                width = max(width, text_size(n.name)[0])
            widths[n.rank] = max(widths[n.rank], width)
        for f in self.flows:
            source = self.anchor(f.source)
            if source and (f.el.get("name") or "").strip():
                gaps[source.rank] = max(gaps[source.rank], text_size(f.el.get("name"))[0] + 30)
        depth = max((lane.depth for lane in self.all_lanes()), default=0)
        x = x0 + header + HEADER * depth + MARGIN_X
        self.col_x, self.col_w, self.col_gap = [], widths, gaps
        for c in range(ncols):
            self.col_x.append(x)
            x += widths[c] + gaps[c]

    def place(self, x0: int, y0: int, width: int, header: int) -> int:
        """Give every shape its bounds, pool/plane at (x0, y0) `width` wide; returns the height."""
        self._columns(x0, header)
        everything = list(self.nodes.values()) + self.extras
        y = y0
        self.band_rects = []
        for band in range(len(self.bands)):
            rows = max((n.slot for n in everything if n.band == band), default=0) + 1
            height = PAD_TOP + rows * ROW_H + (rows - 1) * ROW_GAP + PAD_BOTTOM
            self.band_rects.append(Rect(x0 + header, y, width - header, height))
            y += height
        for n in everything:
            band = self.band_rects[n.band]
            n.x = self.col_x[n.rank] + (self.col_w[n.rank] - n.w) // 2
            n.y = band.y + PAD_TOP + n.slot * (ROW_H + ROW_GAP) + (ROW_H - n.h) // 2
        self._place_boundaries()
        for lane in self.all_lanes():
            self._lane_rect(lane, x0, width, header)
        self._grid()
        return y - y0

    def _place_boundaries(self) -> None:
        """Boundary events sit on the bottom edge of their host, or on the top edge when
        their flows lead to lanes above (or the bottom edge is full). A collapsed
        sub-process keeps the middle and the right of its bottom edge for its markers."""
        used: dict[tuple[str, bool], int] = defaultdict(int)
        for b in self.boundaries:
            host = b.host
            bottom = [76, 24] if host.kind not in SUBPROCESSES else [24]
            top = [80, 40]  # the task-type icon sits in the top-left corner
            edges = [(False, bottom), (True, top)]
            if b.on_top:
                edges.reverse()
            for on_top, spots in edges + [(b.on_top, [50])]:
                k = used[(host.id, on_top)]
                if k < len(spots):
                    used[(host.id, on_top)] += 1
                    break
            else:  # more than five on one host: they overlap in the middle of the edge
                spots, k = [50], 0
            b.x = host.x + spots[k] - 18
            b.y = host.y - 18 if on_top else host.y + host.h - 18
            host.busy.add(U if on_top else D)

    def _lane_rect(self, lane: Lane, x0: int, width: int, header: int) -> Rect:
        if lane.rect is None:
            if lane.children:
                parts = [self._lane_rect(c, x0, width, header) for c in lane.children]
                top, bottom = parts[0].y, parts[-1].bottom
            else:
                band = self.band_rects[self.bands.index(lane)]
                top, bottom = band.y, band.bottom
            x = x0 + header + HEADER * (lane.depth - 1)
            lane.rect = Rect(x, top, x0 + width - x, bottom - top)
        return lane.rect

    def _grid(self) -> None:
        """Coordinates edges may run on: shape sides and centres, and tracks in the gaps."""
        xs, ys = self.xs, self.ys
        for n in list(self.nodes.values()) + self.boundaries + self.extras:
            xs.update((n.x, n.x + n.w // 2, n.x + n.w))
            ys.update((n.y, n.y + n.h // 2, n.y + n.h))
        edges = [self.col_x[0] - MARGIN_X]
        for c, x in enumerate(self.col_x):
            edges += [x, x + self.col_w[c]]
        edges.append(self.col_x[-1] + self.col_w[-1] + MARGIN_X)
        for left, right in zip(edges[::2], edges[1::2], strict=True):
            mid = (left + right) // 2
            xs.update((mid - 12, mid, mid + 12) if right - left >= 48 else (mid,))
        for band in self.band_rects:
            top = band.y + PAD_TOP
            rows = (band.h - PAD_TOP - PAD_BOTTOM + ROW_GAP) // (ROW_H + ROW_GAP)
            ys.add(band.y + PAD_TOP // 2)
            for r in range(rows):
                row_top = top + r * (ROW_H + ROW_GAP)
                ys.update((row_top, row_top + ROW_H // 2, row_top + ROW_H))
                gap = ROW_GAP if r < rows - 1 else PAD_BOTTOM
                mid = row_top + ROW_H + gap // 2 + (4 if r == rows - 1 else 0)
                ys.update((mid - 12, mid, mid + 12))


# ----- routing --------------------------------------------------------------------------------


@dataclass
class Port:
    x: int
    y: int
    dir: int  # source: direction of the first move; target: direction of the last move
    cost: int


@dataclass
class End:
    key: str
    rect: Rect | None
    obstacle: int | None
    ports: list[Port]


def source_ports(n: Node, message: bool = False) -> list[Port]:
    r = n.rect
    if n.kind == "boundaryEvent":
        return [Port(r.cx, r.bottom, D, 0)] if n.y > n.host.y else [Port(r.cx, r.y, U, 0)]
    side = 0 if n.kind in GATEWAYS else 20 if n.kind in EVENTS else 30
    ports = [Port(r.right, r.cy, R, 0), Port(r.cx, r.bottom, D, side), Port(r.cx, r.y, U, side + 5)]
    if message:
        ports = [Port(r.cx, r.bottom, D, 0), Port(r.cx, r.y, U, 0), Port(r.right, r.cy, R, 40)]
    return [p for p in ports if p.dir not in n.busy]  # not between boundary events


def target_ports(n: Node, message: bool = False) -> list[Port]:
    r = n.rect
    side = 0 if n.kind in GATEWAYS else 20
    ports = [Port(r.x, r.cy, R, 0), Port(r.cx, r.bottom, U, side), Port(r.cx, r.y, D, side + 5)]
    if message:
        ports = [Port(r.cx, r.y, D, 0), Port(r.cx, r.bottom, U, 0), Port(r.x, r.cy, R, 40)]
    # A flow arriving at the bottom moves up (U): that edge is busy when it carries a
    # boundary event (D in `busy`); the same for the top.
    return [p for p in ports if (p.dir + 2) % 4 not in n.busy]


class Router:
    """Orthogonal routes on a grid of candidate coordinates (A*, length plus bends), kept
    CLEARANCE px away from every shape but the two ends, avoiding other flows' lines."""

    def __init__(self, xs: set[int], ys: set[int], obstacles: list[Rect]):
        self.xs, self.ys = sorted(xs), sorted(ys)
        self.xi = {x: i for i, x in enumerate(self.xs)}
        self.yi = {y: j for j, y in enumerate(self.ys)}
        self.hits: dict[tuple[int, int], list[int]] = defaultdict(list)
        for k, r in enumerate(o.grow(CLEARANCE) for o in obstacles):
            for i in range(bisect_right(self.xs, r.x), bisect_left(self.xs, r.right)):
                for j in range(bisect_right(self.ys, r.y), bisect_left(self.ys, r.bottom)):
                    self.hits[(i, j)].append(k)
        self.used: dict[tuple[int, int, int], list[tuple[str, str]]] = defaultdict(list)

    def route(self, src: End, tgt: End) -> list[tuple[int, int]]:
        xs, ys = self.xs, self.ys
        exempt = {src.obstacle, tgt.obstacle}
        solid = [r for r in (src.rect, tgt.rect) if r is not None]
        starts = {(self.xi[p.x], self.yi[p.y]): p for p in src.ports}
        goals = {(self.xi[p.x], self.yi[p.y]): p for p in tgt.ports}
        status_cache: dict[tuple[int, int], int] = {}

        def status(i: int, j: int) -> int:  # 0 free, 1 near an end (pass only), 2 blocked
            st = status_cache.get((i, j))
            if st is None:
                x, y = xs[i], ys[j]
                hits = self.hits.get((i, j), ())
                if any(r.x < x < r.right and r.y < y < r.bottom for r in solid):
                    st = 2
                elif any(h not in exempt for h in hits):
                    st = 2
                else:
                    st = 1 if hits else 0
                status_cache[(i, j)] = st
            return st

        def h(i: int, j: int) -> int:
            return min(abs(xs[i] - p.x) + abs(ys[j] - p.y) for p in tgt.ports)

        def penalty(key: tuple[int, int, int], length: int) -> int:
            cost = 0
            for s, t in self.used.get(key, ()):
                if s == src.key and t == tgt.key:  # two flows between one pair: never one line
                    return 1000
                if s != src.key and t != tgt.key:  # a fan-out or a fan-in may share a line
                    cost = OVERLAP * length + 200
            return cost

        heap: list[tuple[int, int, int, tuple[int, int, int]]] = []
        parent: dict[tuple[int, int, int], tuple[int, int, int] | None] = {}
        best: dict[tuple[int, int, int], int] = {}
        counter = 0
        for (i, j), p in starts.items():
            state = (i, j, p.dir)
            best[state] = p.cost
            heapq.heappush(heap, (p.cost + h(i, j), counter, p.cost, state))
            parent[state] = None
            counter += 1
        done: set[tuple[int, int, int]] = set()
        terminal: set[tuple[int, int, int]] = set()
        found = None
        while heap:
            _, _, g, state = heapq.heappop(heap)
            if state in done:
                continue
            done.add(state)
            if state in terminal:
                found = state
                break
            i, j, d = state
            at_start = (i, j) in starts
            for e in (d,) if at_start else tuple(e for e in range(4) if e != (d + 2) % 4):
                ci, cj, dist, extra, passed = i, j, 0, 0, False
                while True:
                    ni, nj = ci + DX[e], cj + DY[e]
                    if not (0 <= ni < len(xs) and 0 <= nj < len(ys)):
                        break
                    step = abs(xs[ni] - xs[ci]) + abs(ys[nj] - ys[cj])
                    dist += step
                    key = (e % 2, min(ci, ni), min(cj, nj))
                    extra += penalty(key, step)
                    goal = goals.get((ni, nj))
                    if goal is not None and goal.dir == e:
                        nxt = (ni, nj, e)
                        cost = g + dist + extra + goal.cost + (BEND if e != d else 0)
                        terminal.add(nxt)
                    else:
                        st = status(ni, nj)
                        if st == 2:
                            break
                        if st == 1:
                            ci, cj, passed = ni, nj, True
                            continue
                        if passed and not at_start:
                            break
                        nxt = (ni, nj, e)
                        cost = g + dist + extra + (BEND if e != d else 0)
                    if cost < best.get(nxt, 1 << 60):
                        best[nxt] = cost
                        parent[nxt] = state
                        heapq.heappush(heap, (cost + h(ni, nj), counter, cost, nxt))
                        counter += 1
                    break
        if found is None:  # should not happen on this grid; draw something plain
            s, t = src.ports[0], tgt.ports[0]
            mid = (s.x + t.x) // 2
            return _simplify([(s.x, s.y), (mid, s.y), (mid, t.y), (t.x, t.y)])
        path = []
        state: tuple[int, int, int] | None = found
        while state is not None:
            path.append(state)
            state = parent[state]
        path.reverse()
        for (i0, j0, _), (i1, j1, e) in zip(path, path[1:], strict=False):
            ci, cj = i0, j0
            while (ci, cj) != (i1, j1):
                ni, nj = ci + DX[e], cj + DY[e]
                self.used[(e % 2, min(ci, ni), min(cj, nj))].append((src.key, tgt.key))
                ci, cj = ni, nj
        return _simplify([(xs[i], ys[j]) for i, j, _ in path])


def _simplify(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for p in points:
        if out and p == out[-1]:
            continue
        if len(out) >= 2 and (out[-2][0] == out[-1][0] == p[0] or out[-2][1] == out[-1][1] == p[1]):
            out[-1] = p
        else:
            out.append(p)
    return out


def _node_label_spots(n: Node, w: int, h: int) -> list[Rect]:
    """Where a node's name may go, best first."""
    r = n.rect
    below = Rect(r.cx - w // 2, r.bottom + 5, w, h)
    above = Rect(r.cx - w // 2, r.y - 5 - h, w, h)
    spots = {
        "below": below,
        "above": above,
        "below_right": Rect(r.right - 4, r.bottom + 2, w, h),
        "below_left": Rect(r.x + 4 - w, r.bottom + 2, w, h),
        "above_right": Rect(r.right - 4, r.y - 2 - h, w, h),
        "above_left": Rect(r.x + 4 - w, r.y - 2 - h, w, h),
        "right": Rect(r.right + 5, r.cy - h // 2, w, h),
        "left": Rect(r.x - 5 - w, r.cy - h // 2, w, h),
    }
    if n.kind == "boundaryEvent" and n.y < n.host.y:  # beside the flow that leaves upwards
        spots["above_right"] = Rect(r.cx + 6, r.y - 2 - h, w, h)
        spots["above_left"] = Rect(r.cx - 6 - w, r.y - 2 - h, w, h)
        order = ["above_right", "above_left", "above", "right", "left"]
    elif n.kind == "boundaryEvent":  # beside the flow that leaves downwards
        spots["below_right"] = Rect(r.cx + 6, r.bottom + 2, w, h)
        spots["below_left"] = Rect(r.cx - 6 - w, r.bottom + 2, w, h)
        order = ["below_right", "below_left", "below", "right", "left"]
    elif n.kind in GATEWAYS:
        order = ["above", "above_left", "above_right", "below", "below_left", "below_right"]
    else:
        order = ["below", "above", "below_right", "below_left", "above_right", "right", "left"]
    return [spots[k] for k in order]


Segment = tuple[tuple[int, int], tuple[int, int]]


def _segments(points: list[tuple[int, int]]) -> list[Segment]:
    return list(zip(points, points[1:], strict=False))


def _collinear_overlap(a: Segment, b: Segment) -> bool:
    (ax1, ay1), (ax2, ay2) = a
    (bx1, by1), (bx2, by2) = b
    if ax1 == ax2 == bx1 == bx2:
        return min(max(ay1, ay2), max(by1, by2)) > max(min(ay1, ay2), min(by1, by2))
    if ay1 == ay2 == by1 == by2:
        return min(max(ax1, ax2), max(bx1, bx2)) > max(min(ax1, ax2), min(bx1, bx2))
    return False


def _flow_label_spots(
    points: list[tuple[int, int]], w: int, h: int, others: list[Segment]
) -> list[Rect]:
    """Where a flow's name may go: along its first segment, then its last, then the rest;
    a stretch it shares with other flows (a fan-out from a gateway) only as a last resort."""
    segments = _segments(points)
    if len(segments) > 1:
        segments = [segments[0], segments[-1]] + segments[1:-1]
    segments.sort(key=lambda seg: any(_collinear_overlap(seg, o) for o in others))
    spots = []
    for (x1, y1), (x2, y2) in segments:
        if abs(x2 - x1) + abs(y2 - y1) < 24:
            continue
        if y1 == y2:
            lo, hi = min(x1, x2), max(x1, x2)
            near = x1 + 6 if x2 > x1 else x1 - 6 - w
            for x in (near, (lo + hi - w) // 2, hi - 6 - w if x2 > x1 else lo + 6):
                spots += [Rect(x, y1 - h - 3, w, h), Rect(x, y1 + 3, w, h)]
        else:
            lo, hi = min(y1, y2), max(y1, y2)
            near = y1 + 4 if y2 > y1 else y1 - 4 - h
            for y in (near, (lo + hi - h) // 2):
                spots += [Rect(x1 + 5, y, w, h), Rect(x1 - 5 - w, y, w, h)]
    return spots


class _LabelSpace:
    """Shapes, flow lines and labels already placed, for labels to avoid."""

    def __init__(self, shapes: list[Rect], lines: list[list[tuple[int, int]]]):
        self.rects = [r.grow(2) for r in shapes]
        for points in lines:
            for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
                x, y = min(x1, x2), min(y1, y2)
                self.rects.append(Rect(x - 1, y - 1, abs(x2 - x1) + 2, abs(y2 - y1) + 2))

    def place(self, spots: list[Rect]) -> Rect:
        def clash(spot: Rect) -> int:
            return sum(
                (min(spot.right, r.right) - max(spot.x, r.x))
                * (min(spot.bottom, r.bottom) - max(spot.y, r.y))
                for r in self.rects
                if spot.overlaps(r)
            )

        best = min(spots, key=clash)  # min() keeps the first of equals: the preferred spot
        self.rects.append(best)
        return best


def _side_ports(r: Rect, leaving: bool) -> list[Port]:
    """The middles of all four sides (associations to data objects and annotations)."""
    sides = [(r.right, r.cy, R), (r.cx, r.bottom, D), (r.x, r.cy, L), (r.cx, r.y, U)]
    return [Port(x, y, d if leaving else (d + 2) % 4, 0) for x, y, d in sides]


# ----- one diagram -----------------------------------------------------------------------------


class Picture:
    """What one BPMNDiagram shows: pools (or a sub-process plane), shapes and routed edges."""

    def __init__(self) -> None:
        self.pools: list[tuple[str, Rect]] = []  # participant id, bounds
        self.blocks: list[Block] = []
        self.message_flows: list[Flow] = []
        self.anchors: dict[str, Rect] = {}  # participant id → bounds, for message flows

    def nodes(self) -> list[Node]:
        out: list[Node] = []
        for b in self.blocks:
            out += list(b.nodes.values()) + b.boundaries + b.extras
        return out

    def find(self, ident: str) -> Node | None:
        for b in self.blocks:
            n = b.node(ident)
            if n is not None:
                return n
        return None

    def route(self) -> None:
        nodes = self.nodes()
        for k, n in enumerate(nodes):
            n.obstacle = k
        xs: set[int] = set()
        ys: set[int] = set()
        for b in self.blocks:
            xs |= b.xs
            ys |= b.ys
        for _, r in self.pools:
            ys.update((r.y - POOL_GAP // 2, r.bottom + POOL_GAP // 2))
        ends = [(self._message_end(f.source, f.target, True), f) for f in self.message_flows]
        ends = [(s, self._message_end(f.target, f.source, False), f) for s, f in ends]
        for s, t, _ in ends:
            for p in (s.ports if s else []) + (t.ports if t else []):
                xs.add(p.x)
                ys.add(p.y)
        router = Router(xs, ys, [n.rect for n in nodes])
        for b in self.blocks:
            for f in sorted(b.flows, key=lambda f: f.back):
                s, t = b.node(f.source), b.node(f.target)
                if s is None or t is None:
                    continue
                f.points = router.route(
                    End(s.id, s.rect, s.obstacle, source_ports(s)),
                    End(t.id, t.rect, t.obstacle, target_ports(t)),
                )
            for link in b.links:
                s, t = b.node(link.source), b.node(link.target)
                if s is not None and t is not None:
                    link.points = router.route(  # keyed by itself: shares no line
                        End(link.id, s.rect, s.obstacle, _side_ports(s.rect, True)),
                        End(link.id, t.rect, t.obstacle, _side_ports(t.rect, False)),
                    )
        for s, t, f in ends:
            if s is not None and t is not None:
                f.points = router.route(s, t)
        self._labels()

    def _labels(self) -> None:
        nodes = self.nodes()
        flows = [f for b in self.blocks for f in b.flows + b.links] + self.message_flows
        space = _LabelSpace([n.rect for n in nodes], [f.points for f in flows])
        for n in nodes:
            if n.name and n.kind not in ACTIVITIES and n.kind != "textAnnotation":
                n.label = space.place(_node_label_spots(n, *text_size(n.name)))
        for f in flows:
            name = (f.el.get("name") or "").strip()
            if name and len(f.points) >= 2:
                others = [seg for g in flows if g is not f for seg in _segments(g.points)]
                f.label = space.place(
                    _flow_label_spots(f.points, *text_size(name), others)
                    or [Rect(f.points[0][0] + 5, f.points[0][1] + 5, *text_size(name))]
                )

    def _message_end(self, ident: str, other: str, leaving: bool) -> End | None:
        node = self.find(ident)
        if node is not None:
            ports = source_ports(node, True) if leaving else target_ports(node, True)
            return End(node.id, node.rect, node.obstacle, ports)
        pool = self.anchors.get(ident)
        if pool is None:
            return None
        far = self.find(other)
        far_rect = far.rect if far is not None else self.anchors.get(other)
        if far_rect is None:
            return None
        x = min(max(far_rect.cx, pool.x + HEADER + 20), pool.right - 20)
        above = far_rect.cy < pool.y
        y = pool.y if above else pool.bottom
        if leaving:
            return End(ident, None, None, [Port(x, y, U if above else D, 0)])
        return End(ident, None, None, [Port(x, y, D if above else U, 0)])


# ----- the document ---------------------------------------------------------------------------


def _parse(xml: bytes) -> etree._ElementTree:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=False
    )
    return etree.ElementTree(etree.fromstring(xml, parser))


def _with_di_namespaces(tree: etree._ElementTree) -> etree._Element:
    root = tree.getroot()
    wanted = {"bpmndi": BPMNDI, "dc": DC, "di": DI}
    nsmap = dict(root.nsmap)
    missing = [(p, u) for p, u in wanted.items() if u not in nsmap.values()]
    if not missing:
        return root
    for prefix, uri in missing:
        while prefix in nsmap:
            prefix += "_"
        nsmap[prefix] = uri
    new = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=nsmap)
    new.text = root.text
    for child in list(root):
        new.append(child)
    before = list(root.itersiblings(preceding=True))[::-1]  # comments around the root
    after = list(root.itersiblings())
    tree._setroot(new)
    for node in before:
        new.addprevious(node)
    for node in reversed(after):
        new.addnext(node)
    return new


class _Ids:
    def __init__(self, root: etree._Element):
        self.taken = {
            el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")
        }

    def new(self, wanted: str) -> str:
        ident, n = wanted, 2
        while ident in self.taken:
            ident, n = f"{wanted}_{n}", n + 1
        self.taken.add(ident)
        return ident


def _ensure_collaboration(root: etree._Element, ids: _Ids) -> list[etree._Element]:
    """Every process gets a participant, so bpmn-js draws a pool with the process's lanes."""
    processes = _bpmn_elements(root, "process")
    collaborations = _bpmn_elements(root, "collaboration")
    referenced = {
        p.get("processRef") for c in collaborations for p in _bpmn_elements(c, "participant")
    }
    orphans = [p for p in processes if p.get("id") not in referenced]
    if not orphans:
        return collaborations
    indent = root.text if root.text and not root.text.strip() else "\n  "
    if not collaborations:
        first = orphans[0].get("id")
        collab = etree.Element(_q(BPMN, "collaboration"), id=ids.new(f"collaboration_{first}"))
        position = list(root).index(processes[0])
        root.insert(position, collab)
        previous = collab.getprevious()
        if previous is not None:
            collab.tail, previous.tail = previous.tail, indent
        else:
            collab.tail = indent
        collaborations = [collab]
    collab = collaborations[0]
    for process in orphans:
        attrs = {"id": ids.new(f"participant_{process.get('id')}")}
        if process.get("name"):
            attrs["name"] = process.get("name")
        attrs["processRef"] = process.get("id")
        last = _bpmn_elements(collab, "participant")
        participant = etree.Element(_q(BPMN, "participant"), attrs)
        if last:
            last[-1].addnext(participant)
        else:
            collab.insert(0, participant)
    level = len(list(collab.iterancestors()))
    etree.indent(collab, space="  ", level=level)
    collab.tail = collab.tail if collab.tail and not collab.tail.strip() else indent
    return collaborations


def _picture_for(root: etree._Element, collab: etree._Element) -> Picture:
    processes = {p.get("id"): p for p in _bpmn_elements(root, "process")}
    picture = Picture()
    rows: list[tuple[etree._Element, Block | None]] = []
    for participant in _bpmn_elements(collab, "participant"):
        process = processes.get(participant.get("processRef", ""))
        rows.append((participant, Block(process) if process is not None else None))
    width = max([b.natural_width(HEADER) for _, b in rows if b is not None] + [600])
    y = ORIGIN_Y
    for participant, block in rows:
        if block is None:
            height = 100
        else:
            height = block.place(ORIGIN_X, y, width, HEADER)
            picture.blocks.append(block)
        rect = Rect(ORIGIN_X, y, width, height)
        picture.pools.append((participant.get("id"), rect))
        picture.anchors[participant.get("id")] = rect
        y += height + POOL_GAP
    for mf in _bpmn_elements(collab, "messageFlow"):
        if mf.get("id"):
            picture.message_flows.append(
                Flow(
                    mf.get("id"),
                    mf,
                    "messageFlow",
                    mf.get("sourceRef", ""),
                    mf.get("targetRef", ""),
                )
            )
    picture.route()
    return picture


def _picture_for_subprocess(sub: etree._Element) -> Picture:
    picture = Picture()
    block = Block(sub)
    width = block.natural_width(0)
    block.place(ORIGIN_X, ORIGIN_Y, width, 0)
    picture.blocks.append(block)
    picture.route()
    return picture


def _bounds(parent: etree._Element, r: Rect) -> None:
    etree.SubElement(
        parent, _q(DC, "Bounds"), x=str(r.x), y=str(r.y), width=str(r.w), height=str(r.h)
    )


def _shape(plane: etree._Element, element: str, r: Rect, label: Rect | None = None, **extra: str):
    attrs = {"id": f"{element}_di", "bpmnElement": element, **extra}
    shape = etree.SubElement(plane, _q(BPMNDI, "BPMNShape"), attrs)
    _bounds(shape, r)
    if label is not None:
        _bounds(etree.SubElement(shape, _q(BPMNDI, "BPMNLabel")), label)


def _edge(plane: etree._Element, f: Flow) -> None:
    edge = etree.SubElement(
        plane, _q(BPMNDI, "BPMNEdge"), {"id": f"{f.id}_di", "bpmnElement": f.id}
    )
    for x, y in f.points:
        etree.SubElement(edge, _q(DI, "waypoint"), x=str(x), y=str(y))
    if f.label is not None:
        _bounds(etree.SubElement(edge, _q(BPMNDI, "BPMNLabel")), f.label)


def _diagram(ids: _Ids, element: str, picture: Picture) -> etree._Element:
    diagram = etree.Element(_q(BPMNDI, "BPMNDiagram"), id=ids.new(f"{element}_diagram"))
    plane = etree.SubElement(
        diagram, _q(BPMNDI, "BPMNPlane"), id=ids.new(f"{element}_plane_di"), bpmnElement=element
    )
    for ident, rect in picture.pools:
        _shape(plane, ident, rect, isHorizontal="true")
    for block in picture.blocks:
        for lane in block.all_lanes():
            if lane.rect is not None and lane.id:
                _shape(plane, lane.id, lane.rect, isHorizontal="true")
    for block in picture.blocks:
        for n in sorted(list(block.nodes.values()) + block.boundaries, key=lambda n: n.order):
            extra = {}
            if n.kind == "exclusiveGateway":
                extra["isMarkerVisible"] = "true"
            if n.kind in SUBPROCESSES:
                extra["isExpanded"] = "false"
            _shape(plane, n.id, n.rect, n.label, **extra)
        for n in block.extras:
            _shape(plane, n.id, n.rect, n.label)
    for block in picture.blocks:
        for f in block.flows + block.links:
            if f.points:
                _edge(plane, f)
    for f in picture.message_flows:
        if f.points:
            _edge(plane, f)
    return diagram


def layout(xml: bytes) -> bytes:
    """The same BPMN document with a fresh diagram layout (all earlier DI replaced)."""
    tree = _parse(xml)
    root = tree.getroot()
    if etree.QName(root).namespace != BPMN or _local(root) != "definitions":
        raise ValueError("not a BPMN 2.0 document (the root must be bpmn:definitions)")
    for old in [c for c in root if isinstance(c.tag, str) and etree.QName(c).namespace == BPMNDI]:
        root.remove(old)
    root = _with_di_namespaces(tree)
    ids = _Ids(root)
    diagrams: list[etree._Element] = []
    drawn: set[str] = set()
    for collab in _ensure_collaboration(root, ids):
        picture = _picture_for(root, collab)
        diagrams.append(_diagram(ids, collab.get("id"), picture))
        pending = [s for b in picture.blocks for s in b.subprocesses]
        while pending:
            sub = pending.pop(0)
            if sub.get("id") in drawn:
                continue
            drawn.add(sub.get("id"))
            inner = _picture_for_subprocess(sub)
            diagrams.append(_diagram(ids, sub.get("id"), inner))
            pending += [s for b in inner.blocks for s in b.subprocesses]
    indent = root.text if root.text and not root.text.strip() else "\n  "
    children = list(root)
    if children:
        children[-1].tail = indent
    for i, diagram in enumerate(diagrams):
        etree.indent(diagram, space="  ", level=1)
        diagram.tail = indent if i < len(diagrams) - 1 else "\n"
        root.append(diagram)
    if not diagrams and children:
        children[-1].tail = "\n"
    # Comments before and after the root each on a line of their own.
    nodes = [*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()]
    parts = [b'<?xml version="1.0" encoding="UTF-8"?>']
    parts += [etree.tostring(n, encoding="UTF-8", with_tail=False) for n in nodes]
    return b"\n".join(parts) + b"\n"


# ----- checking ---------------------------------------------------------------------------------

CHECKED = FLOW_NODES | set(DATA) | {"sequenceFlow", "messageFlow", "participant", "lane"}


def missing_di(xml: bytes) -> list[tuple[str, str]]:
    """(kind, id) of every flow node, data object, lane, participant and sequence or message
    flow that no BPMNShape/BPMNEdge draws."""
    root = _parse(xml).getroot()
    drawn = {
        el.get("bpmnElement") for el in root.iter(_q(BPMNDI, "BPMNShape"), _q(BPMNDI, "BPMNEdge"))
    }
    return [
        (_local(el), el.get("id"))
        for el in root.iter()
        if isinstance(el.tag, str)
        and etree.QName(el).namespace == BPMN
        and _local(el) in CHECKED
        and el.get("id")
        and el.get("id") not in drawn
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="BPMN files")
    parser.add_argument(
        "--check", action="store_true", help="only list elements without DI; exit 1 if any"
    )
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        try:
            data = path.read_bytes()
            if args.check:
                missing = missing_di(data)
                for kind, ident in missing:
                    print(f"{path}: {kind} {ident} has no diagram layout (DI)")
                status = max(status, 1 if missing else 0)
                continue
            new = layout(data)
        except (OSError, etree.XMLSyntaxError, ValueError) as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            status = 2
            continue
        if new != data:
            path.write_bytes(new)
            print(f"{path}: layout written")
        else:
            print(f"{path}: unchanged")
    return status


if __name__ == "__main__":
    sys.exit(main())
