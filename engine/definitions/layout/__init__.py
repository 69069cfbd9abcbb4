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

The modules: `model` (element kinds, measures, nodes and flows), `placement` (ranks, rows,
lanes), `routing` (ports and orthogonal edge routes), `labels`, `diagram` (one picture),
`document` (writing the DI; `layout`, `missing_di`), `cli` (the command line).
"""

from __future__ import annotations

from engine.definitions.layout.cli import main
from engine.definitions.layout.document import layout, missing_di
from engine.definitions.layout.model import (
    ACTIVITIES,
    BPMN,
    BPMNDI,
    DC,
    DI,
    EVENTS,
    FLOW_NODES,
    GATEWAYS,
)

__all__ = [
    "ACTIVITIES",
    "BPMN",
    "BPMNDI",
    "DC",
    "DI",
    "EVENTS",
    "FLOW_NODES",
    "GATEWAYS",
    "layout",
    "main",
    "missing_di",
]
