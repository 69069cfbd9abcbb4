"""One diagram: the picture a BPMNDiagram shows (the pools of a collaboration, or the plane of
a sub-process), its shapes placed, its edges routed and its labels placed."""

from __future__ import annotations

from lxml import etree

from engine.definitions.layout.labels import (
    LabelSpace,
    flow_label_spots,
    node_label_spots,
    segments_of,
)
from engine.definitions.layout.model import (
    ACTIVITIES,
    HEADER,
    ORIGIN_X,
    ORIGIN_Y,
    POOL_GAP,
    D,
    Flow,
    Node,
    Rect,
    U,
    bpmn_elements,
    text_size,
)
from engine.definitions.layout.placement import Block
from engine.definitions.layout.routing import (
    End,
    Port,
    Router,
    side_ports,
    source_ports,
    target_ports,
)


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
                        End(link.id, s.rect, s.obstacle, side_ports(s.rect, True)),
                        End(link.id, t.rect, t.obstacle, side_ports(t.rect, False)),
                    )
        for s, t, f in ends:
            if s is not None and t is not None:
                f.points = router.route(s, t)
        self._labels()

    def _labels(self) -> None:
        nodes = self.nodes()
        flows = [f for b in self.blocks for f in b.flows + b.links] + self.message_flows
        space = LabelSpace([n.rect for n in nodes], [f.points for f in flows])
        for n in nodes:
            if n.name and n.kind not in ACTIVITIES and n.kind != "textAnnotation":
                n.label = space.place(node_label_spots(n, *text_size(n.name)))
        for f in flows:
            name = (f.el.get("name") or "").strip()
            if name and len(f.points) >= 2:
                others = [seg for g in flows if g is not f for seg in segments_of(g.points)]
                f.label = space.place(
                    flow_label_spots(f.points, *text_size(name), others)
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


def picture_for(root: etree._Element, collab: etree._Element) -> Picture:
    processes = {p.get("id"): p for p in bpmn_elements(root, "process")}
    picture = Picture()
    rows: list[tuple[etree._Element, Block | None]] = []
    for participant in bpmn_elements(collab, "participant"):
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
    for mf in bpmn_elements(collab, "messageFlow"):
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


def picture_for_subprocess(sub: etree._Element) -> Picture:
    picture = Picture()
    block = Block(sub)
    width = block.natural_width(0)
    block.place(ORIGIN_X, ORIGIN_Y, width, 0)
    picture.blocks.append(block)
    picture.route()
    return picture
