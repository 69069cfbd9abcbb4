"""Placement: the flow nodes of one process or sub-process ranked into columns (longest path
from the start events, loops found as back edges) and slotted into rows of their lane's band;
boundary events on their host's edge; lanes as bands; the grid of coordinates edges run on.
"""

from __future__ import annotations

from collections import defaultdict

from lxml import etree

from engine.definitions.layout.model import (
    COL_GAP,
    DATA,
    EVENTS,
    FLOW_NODES,
    GATEWAYS,
    HEADER,
    MARGIN_X,
    PAD_BOTTOM,
    PAD_TOP,
    ROW_GAP,
    ROW_H,
    SUBPROCESSES,
    D,
    Flow,
    Lane,
    Node,
    Rect,
    U,
    bpmn_elements,
    local_name,
    node_size,
    ref_text,
    text_size,
)


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
        for child in bpmn_elements(self.el):
            kind, ident = local_name(child), child.get("id")
            if not ident:
                continue
            if kind in FLOW_NODES or kind in DATA or kind == "textAnnotation":
                node = Node(ident, child, kind, *node_size(kind, child), order=order)
                order += 1
                if kind == "boundaryEvent":
                    self.boundaries.append(node)
                elif kind in FLOW_NODES:
                    self.nodes[ident] = node
                else:
                    self.extras.append(node)
                if kind in SUBPROCESSES:
                    self.subprocesses.append(child)
                for assoc in bpmn_elements(child, "dataInputAssociation", "dataOutputAssociation"):
                    if not assoc.get("id"):
                        continue
                    if local_name(assoc) == "dataInputAssociation":
                        src, tgt = ref_text(assoc, "sourceRef"), ident
                    else:
                        src, tgt = ident, ref_text(assoc, "targetRef")
                    if src and tgt:
                        self.links.append(Flow(assoc.get("id"), assoc, local_name(assoc), src, tgt))
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
            for lane_el in bpmn_elements(lane_set, "lane"):
                refs = [t.text.strip() for t in bpmn_elements(lane_el, "flowNodeRef") if t.text]
                lane = Lane(lane_el.get("id", ""), depth, refs)
                for child_set in bpmn_elements(lane_el, "childLaneSet"):
                    lane.children += walk(child_set, depth + 1)
                lanes.append(lane)
            return lanes

        for lane_set in bpmn_elements(self.el, "laneSet"):
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
