"""engine/definitions/layout/: every element gets a shape or an edge, shapes do not overlap, nodes
stay in their lane's band, flows go around shapes, SpiffWorkflow still reads the file, and a
second run changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from engine.definitions import layout as bpmn_layout
from engine.definitions.layout import BPMN, BPMNDI, DC, DI, EVENTS, FLOW_NODES, layout, missing_di

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = sorted((FIXTURES / "layout").glob("*.bpmn")) + [FIXTURES / "review_flow.bpmn"]
NS = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI}


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def overlaps(self, other: Box) -> bool:
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )

    def contains(self, other: Box) -> bool:
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.right <= self.right
            and other.bottom <= self.bottom
        )

    def strictly_contains_point(self, x: float, y: float) -> bool:
        return self.x < x < self.right and self.y < y < self.bottom


class Drawing:
    """The laid-out document read back: semantic elements, and shapes and edges per plane."""

    def __init__(self, xml: bytes):
        self.root = etree.fromstring(xml)
        self.planes: dict[str, dict[str, Box]] = {}  # plane's bpmnElement → element → bounds
        self.edges: dict[str, list[tuple[float, float]]] = {}
        self.labelled: set[str] = set()
        self.shape_attrs: dict[str, dict[str, str]] = {}
        for plane in self.root.iterfind(".//bpmndi:BPMNPlane", NS):
            shapes = self.planes.setdefault(plane.get("bpmnElement"), {})
            for shape in plane.iterfind("bpmndi:BPMNShape", NS):
                b = shape.find("dc:Bounds", NS)
                shapes[shape.get("bpmnElement")] = Box(
                    *(float(b.get(k)) for k in ("x", "y", "width", "height"))
                )
                self.shape_attrs[shape.get("bpmnElement")] = dict(shape.attrib)
                if shape.find("bpmndi:BPMNLabel/dc:Bounds", NS) is not None:
                    self.labelled.add(shape.get("bpmnElement"))
            for edge in plane.iterfind("bpmndi:BPMNEdge", NS):
                self.edges[edge.get("bpmnElement")] = [
                    (float(p.get("x")), float(p.get("y"))) for p in edge.iterfind("di:waypoint", NS)
                ]
                if edge.find("bpmndi:BPMNLabel/dc:Bounds", NS) is not None:
                    self.labelled.add(edge.get("bpmnElement"))

    def elements(self, *names: str) -> list[etree._Element]:
        return [
            el
            for el in self.root.iter()
            if isinstance(el.tag, str)
            and etree.QName(el).namespace == BPMN
            and etree.QName(el).localname in names
        ]

    def shape(self, ident: str) -> Box:
        for shapes in self.planes.values():
            if ident in shapes:
                return shapes[ident]
        raise KeyError(ident)

    def plane_of(self, ident: str) -> dict[str, Box]:
        return next(shapes for shapes in self.planes.values() if ident in shapes)


@pytest.fixture(scope="module", params=SAMPLES, ids=lambda p: p.name)
def sample(request: pytest.FixtureRequest) -> tuple[Path, bytes, Drawing]:
    path: Path = request.param
    out = layout(path.read_bytes())
    return path, out, Drawing(out)


def test_every_flow_node_and_flow_has_a_shape_or_edge(sample) -> None:
    _, out, drawing = sample
    assert missing_di(out) == []
    for node in drawing.elements(*FLOW_NODES):
        assert drawing.shape(node.get("id")).w > 0
    for flow in drawing.elements("sequenceFlow", "messageFlow"):
        assert len(drawing.edges[flow.get("id")]) >= 2, flow.get("id")


def test_flows_are_orthogonal_and_go_around_shapes(sample) -> None:
    _, _, drawing = sample
    nodes = {el.get("id") for el in drawing.elements(*FLOW_NODES)}
    for flow in drawing.elements("sequenceFlow", "messageFlow"):
        points = drawing.edges[flow.get("id")]
        ends = {flow.get("sourceRef"), flow.get("targetRef")}
        others = [
            (ident, box)
            for ident, box in drawing.plane_of(flow.get("sourceRef")).items()
            if ident in nodes and ident not in ends
        ]
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            assert x1 == x2 or y1 == y2, f"{flow.get('id')}: slanted segment"
            # Sample the segment every 4 px: no point of it may lie inside another shape.
            steps = max(1, int(abs(x2 - x1) + abs(y2 - y1)) // 4)
            for k in range(steps + 1):
                x, y = x1 + (x2 - x1) * k / steps, y1 + (y2 - y1) * k / steps
                for ident, box in others:
                    assert not box.strictly_contains_point(x, y), (
                        f"{flow.get('id')} runs through {ident}"
                    )


def test_shapes_of_different_nodes_do_not_overlap(sample) -> None:
    _, _, drawing = sample
    hosts = {b.get("id"): b.get("attachedToRef") for b in drawing.elements("boundaryEvent")}
    drawn = {el.get("id") for el in drawing.elements(*FLOW_NODES)} | {
        el.get("id") for el in drawing.elements("dataObjectReference", "dataStoreReference")
    }
    for shapes in drawing.planes.values():
        ids = sorted(i for i in shapes if i in drawn)
        for n, a in enumerate(ids):
            for b in ids[n + 1 :]:
                if hosts.get(a) == b or hosts.get(b) == a:
                    continue  # a boundary event sits on its host's edge
                assert not shapes[a].overlaps(shapes[b]), f"{a} overlaps {b}"


def test_each_node_lies_inside_its_lane_and_lanes_span_the_pool(sample) -> None:
    _, _, drawing = sample
    for lane in drawing.elements("lane"):
        band = drawing.shape(lane.get("id"))
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            node = drawing.root.find(f".//*[@id='{ref.text.strip()}']")
            if etree.QName(node).localname == "boundaryEvent":
                continue  # drawn on its host's edge
            assert band.contains(drawing.shape(ref.text.strip())), (
                f"{ref.text} outside lane {lane.get('id')}"
            )
    for participant in drawing.elements("participant"):
        pool = drawing.shape(participant.get("id"))
        assert drawing.shape_attrs[participant.get("id")]["isHorizontal"] == "true"
        process = drawing.root.find(f"bpmn:process[@id='{participant.get('processRef')}']", NS)
        if process is None:
            continue
        for lane in process.iterfind(".//bpmn:lane", NS):
            box = drawing.shape(lane.get("id"))
            assert box.right == pool.right and pool.contains(box)
        for node in process.iterchildren(etree.Element):
            if etree.QName(node).localname in FLOW_NODES - {"boundaryEvent"}:
                assert pool.contains(drawing.shape(node.get("id")))


def test_boundary_events_sit_on_an_edge_of_their_host(sample) -> None:
    _, _, drawing = sample
    for event in drawing.elements("boundaryEvent"):
        box, host = drawing.shape(event.get("id")), drawing.shape(event.get("attachedToRef"))
        centre_x, centre_y = box.x + box.w / 2, box.y + box.h / 2
        assert host.x <= centre_x <= host.right
        assert centre_y in (host.y, host.bottom)


def test_named_events_gateways_and_flows_have_labels(sample) -> None:
    _, _, drawing = sample
    kinds = EVENTS | bpmn_layout.GATEWAYS | {"sequenceFlow"}
    for el in drawing.elements(*kinds):
        if (el.get("name") or "").strip():
            assert el.get("id") in drawing.labelled, el.get("id")


def test_spiffworkflow_still_reads_the_file(sample) -> None:
    path, out, _ = sample
    parser = SpiffBpmnParser(validator=VALIDATOR)  # XSD validation included
    parser.add_bpmn_xml(etree.fromstring(out), filename=path.name)
    for process_id in parser.get_process_ids():
        assert parser.get_spec(process_id) is not None


def test_running_twice_changes_nothing(sample) -> None:
    path, out, _ = sample
    assert layout(out) == out
    assert layout(path.read_bytes()) == out


def test_everything_but_the_layout_is_kept(sample) -> None:
    path, out, _ = sample
    before = etree.fromstring(path.read_bytes())
    after = etree.fromstring(out)
    for process in before.iterfind("bpmn:process", NS):
        twin = after.find(f"bpmn:process[@id='{process.get('id')}']", NS)
        assert etree.tostring(twin, method="c14n", exclusive=True) == etree.tostring(
            process, method="c14n", exclusive=True
        )
    for el in before:
        if isinstance(el.tag, str) and etree.QName(el).namespace != BPMNDI:
            assert after.find(f"*[@id='{el.get('id')}']") is not None
    comments = [c.text for c in etree.parse(path).xpath("//comment()")]  # also around the root
    assert [c.text for c in after.getroottree().xpath("//comment()")] == comments


def test_a_collaboration_is_added_with_one_pool_per_process() -> None:
    out = layout((FIXTURES / "layout" / "call_activity.bpmn").read_bytes())
    drawing = Drawing(out)
    (collaboration,) = drawing.elements("collaboration")
    refs = [p.get("processRef") for p in collaboration.iterfind("bpmn:participant", NS)]
    assert refs == ["call_activity", "customer_check"]
    assert list(drawing.planes)[0] == collaboration.get("id")
    first, second = (drawing.shape(p.get("id")) for p in drawing.elements("participant"))
    assert first.bottom < second.y and first.w == second.w


def test_message_flows_and_a_black_box_pool_are_drawn() -> None:
    drawing = Drawing(layout((FIXTURES / "layout" / "message_events.bpmn").read_bytes()))
    customer = drawing.shape("pool_customer")
    last = drawing.edges["mf_notify"][-1]
    assert last[1] in (customer.y, customer.bottom) and customer.x <= last[0] <= customer.right
    assert "isMarkerVisible" not in drawing.shape_attrs["race"]  # event-based: no X marker


def test_sub_processes_are_collapsed_with_their_content_on_own_planes() -> None:
    drawing = Drawing(layout((FIXTURES / "layout" / "event_subprocess.bpmn").read_bytes()))
    for sub in ("do_service", "work_steps", "overdue_watch"):
        assert drawing.shape_attrs[sub]["isExpanded"] == "false"
    assert {"check_in", "check_in_late", "flag_late", "work_steps"} <= set(
        drawing.planes["do_service"]
    )
    assert set(drawing.planes["work_steps"]) == {"steps_start", "clean", "steps_end"}
    assert "warn_supervisor" in drawing.planes["overdue_watch"]
    assert drawing.edges["service_report_out"] and drawing.edges["note_service_link"]


def test_loops_go_back_around_the_nodes() -> None:
    drawing = Drawing(layout((FIXTURES / "layout" / "loop_back.bpmn").read_bytes()))
    retry = drawing.edges["f_retry"]
    gateway, task = drawing.shape("gw_reached"), drawing.shape("call_customer")
    assert len(retry) >= 4  # out of the gateway, along a track, back into the task
    assert all(y >= gateway.bottom or y <= gateway.y for _, y in retry[1:-1])
    assert retry[-1][1] in (task.y, task.bottom)
    # Two flows between the same pair never share one line.
    assert drawing.edges["f_done"] != drawing.edges["f_more"]


def test_stale_layout_is_replaced() -> None:
    out = layout((FIXTURES / "layout" / "boundary_events.bpmn").read_bytes())
    assert b"gone_task" not in out and b"old_diagram" not in out
    assert Drawing(out).shape("accept").w == 100


def test_exclusive_gateways_show_their_marker() -> None:
    drawing = Drawing(layout((FIXTURES / "review_flow.bpmn").read_bytes()))
    assert drawing.shape_attrs["gw_approved"]["isMarkerVisible"] == "true"


def test_a_node_outside_every_lane_gets_a_band_of_its_own() -> None:
    xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="http://example">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="service_desk">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"><bpmn:outgoing>f</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="e"><bpmn:incoming>f</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>
"""
    out = layout(xml)
    drawing = Drawing(out)
    assert missing_di(out) == []
    assert not drawing.shape("l1").overlaps(drawing.shape("e"))
    assert drawing.shape("participant_p").contains(drawing.shape("e"))


def test_not_a_bpmn_file_is_refused() -> None:
    with pytest.raises(ValueError, match="not a BPMN 2.0 document"):
        layout(b"<definitions xmlns='urn:other'/>")


def test_command_line_rewrites_in_place_and_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "review_flow.bpmn"
    path.write_bytes((FIXTURES / "review_flow.bpmn").read_bytes())
    assert bpmn_layout.main(["--check", str(path)]) == 1
    assert "userTask task_a has no diagram layout" in capsys.readouterr().out
    assert bpmn_layout.main([str(path)]) == 0
    assert bpmn_layout.main(["--check", str(path)]) == 0
    laid_out = path.read_bytes()
    assert bpmn_layout.main([str(path)]) == 0
    assert path.read_bytes() == laid_out
    assert "unchanged" in capsys.readouterr().out
