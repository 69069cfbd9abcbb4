"""The model and measures of a diagram: BPMN element kinds, the grid in px, shape sizes,
rectangles, and the nodes, flows and lanes read from a process.

The helpers here read BPMN elements by local name (in the BPMN namespace only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


def qname(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def local_name(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def bpmn_elements(el: etree._Element, *names: str) -> list[etree._Element]:
    return [
        c
        for c in el
        if isinstance(c.tag, str)
        and etree.QName(c).namespace == BPMN
        and (not names or etree.QName(c).localname in names)
    ]


def ref_text(el: etree._Element, name: str) -> str | None:
    for c in bpmn_elements(el, name):
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


def node_size(kind: str, el: etree._Element) -> tuple[int, int]:
    if kind in EVENTS:
        return 36, 36
    if kind in GATEWAYS:
        return 50, 50
    if kind in DATA:
        return DATA[kind]
    if kind == "textAnnotation":
        text = "".join(t.text or "" for t in bpmn_elements(el, "text"))
        width = sum(12 if ord(ch) > 0x2E7F else 7 for ch in text)
        return 100, max(30, min(120, (-(-width // 94)) * LINE_H + 10))
    return 100, 80
