"""The document: parse a BPMN file, add the DI namespaces and a collaboration when missing,
write the DI (BPMNDiagram, shapes, edges, labels) of every picture, and list elements that no
DI draws."""

from __future__ import annotations

from lxml import etree

from engine.definitions.layout.diagram import Picture, picture_for, picture_for_subprocess
from engine.definitions.layout.model import (
    BPMN,
    BPMNDI,
    DATA,
    DC,
    DI,
    FLOW_NODES,
    SUBPROCESSES,
    Flow,
    Rect,
    bpmn_elements,
    local_name,
    qname,
)


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
    processes = bpmn_elements(root, "process")
    collaborations = bpmn_elements(root, "collaboration")
    referenced = {
        p.get("processRef") for c in collaborations for p in bpmn_elements(c, "participant")
    }
    orphans = [p for p in processes if p.get("id") not in referenced]
    if not orphans:
        return collaborations
    indent = root.text if root.text and not root.text.strip() else "\n  "
    if not collaborations:
        first = orphans[0].get("id")
        collab = etree.Element(qname(BPMN, "collaboration"), id=ids.new(f"collaboration_{first}"))
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
        last = bpmn_elements(collab, "participant")
        participant = etree.Element(qname(BPMN, "participant"), attrs)
        if last:
            last[-1].addnext(participant)
        else:
            collab.insert(0, participant)
    level = len(list(collab.iterancestors()))
    etree.indent(collab, space="  ", level=level)
    collab.tail = collab.tail if collab.tail and not collab.tail.strip() else indent
    return collaborations


def _bounds(parent: etree._Element, r: Rect) -> None:
    etree.SubElement(
        parent, qname(DC, "Bounds"), x=str(r.x), y=str(r.y), width=str(r.w), height=str(r.h)
    )


def _shape(plane: etree._Element, element: str, r: Rect, label: Rect | None = None, **extra: str):
    attrs = {"id": f"{element}_di", "bpmnElement": element, **extra}
    shape = etree.SubElement(plane, qname(BPMNDI, "BPMNShape"), attrs)
    _bounds(shape, r)
    if label is not None:
        _bounds(etree.SubElement(shape, qname(BPMNDI, "BPMNLabel")), label)


def _edge(plane: etree._Element, f: Flow) -> None:
    edge = etree.SubElement(
        plane, qname(BPMNDI, "BPMNEdge"), {"id": f"{f.id}_di", "bpmnElement": f.id}
    )
    for x, y in f.points:
        etree.SubElement(edge, qname(DI, "waypoint"), x=str(x), y=str(y))
    if f.label is not None:
        _bounds(etree.SubElement(edge, qname(BPMNDI, "BPMNLabel")), f.label)


def _diagram(ids: _Ids, element: str, picture: Picture) -> etree._Element:
    diagram = etree.Element(qname(BPMNDI, "BPMNDiagram"), id=ids.new(f"{element}_diagram"))
    plane = etree.SubElement(
        diagram, qname(BPMNDI, "BPMNPlane"), id=ids.new(f"{element}_plane_di"), bpmnElement=element
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
    if etree.QName(root).namespace != BPMN or local_name(root) != "definitions":
        raise ValueError("not a BPMN 2.0 document (the root must be bpmn:definitions)")
    for old in [c for c in root if isinstance(c.tag, str) and etree.QName(c).namespace == BPMNDI]:
        root.remove(old)
    root = _with_di_namespaces(tree)
    ids = _Ids(root)
    diagrams: list[etree._Element] = []
    drawn: set[str] = set()
    for collab in _ensure_collaboration(root, ids):
        picture = picture_for(root, collab)
        diagrams.append(_diagram(ids, collab.get("id"), picture))
        pending = [s for b in picture.blocks for s in b.subprocesses]
        while pending:
            sub = pending.pop(0)
            if sub.get("id") in drawn:
                continue
            drawn.add(sub.get("id"))
            inner = picture_for_subprocess(sub)
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
        el.get("bpmnElement")
        for el in root.iter(qname(BPMNDI, "BPMNShape"), qname(BPMNDI, "BPMNEdge"))
    }
    return [
        (local_name(el), el.get("id"))
        for el in root.iter()
        if isinstance(el.tag, str)
        and etree.QName(el).namespace == BPMN
        and local_name(el) in CHECKED
        and el.get("id")
        and el.get("id") not in drawn
    ]
