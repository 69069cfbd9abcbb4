"""What a process version's diagram says, read from its BPMN text: element names and types,
which elements catch which message, and the variable a message's answer is kept under
(`DiagramIndex`), never from a workflow. Read once per version content and kept."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from engine.core.errors import NotFound
from engine.definitions.sources import BPMN_NS, SPIFF_NS
from engine.spiff.xmlsafe import parse_xml
from engine.store.database import Database
from engine.store.tables import ProcessVersion

MAX_BPMN_BYTES = 50_000_000


@dataclass(frozen=True)
class DiagramIndex:
    """Element names and message wiring of one process version's BPMN files."""

    names: dict[str, str] = field(default_factory=dict)  # element id -> name (or id)
    kinds: dict[str, str] = field(default_factory=dict)  # element id -> BPMN element type
    catchers: dict[str, list[str]] = field(default_factory=dict)  # message -> element ids
    variables: dict[str, str] = field(default_factory=dict)  # message -> messageVariable

    def name(self, element_id: str | None) -> str | None:
        if not element_id:
            return None
        return self.names.get(element_id) or element_id

    def message_label(self, message: str) -> str:
        """What waits for `message`, by name ("客戶回覆"); the message's name when no element
        that catches it has one."""
        labels = [self.names[e] for e in self.catchers.get(message, []) if self.names.get(e)]
        labels = [label for label in dict.fromkeys(labels) if label]
        return " / ".join(labels) if labels else message


_FLOW_NODE_SUFFIXES = ("Task", "Event", "Gateway")
_FLOW_NODES = {"task", "subProcess", "callActivity", "transaction", "adHocSubProcess"}


def _local(node: Any) -> str:
    return node.tag.rsplit("}", 1)[-1] if isinstance(node.tag, str) else ""


def _is_flow_node(local: str) -> bool:
    return local in _FLOW_NODES or local.endswith(_FLOW_NODE_SUFFIXES)


def diagram_index(bpmn_texts: Iterable[str]) -> DiagramIndex:
    """Read element names, and which elements catch which message, from BPMN texts."""
    names: dict[str, str] = {}
    kinds: dict[str, str] = {}
    catchers: dict[str, list[str]] = {}
    variables: dict[str, str] = {}
    for text in bpmn_texts:
        root = parse_xml(text.encode("utf-8"), MAX_BPMN_BYTES)
        messages = {
            m.get("id"): (m.get("name") or m.get("id"))
            for m in root.iter(f"{{{BPMN_NS}}}message")
            if m.get("id")
        }
        for node in root.iter():
            local = _local(node)
            if not node.get("id") or not node.tag.startswith(f"{{{BPMN_NS}}}"):
                continue
            if not _is_flow_node(local):
                continue
            element = node.get("id")
            names[element] = " ".join((node.get("name") or "").split()) or element
            kinds[element] = local
            refs = [node.get("messageRef")] if local == "receiveTask" else []
            for definition in node.findall(f"{{{BPMN_NS}}}messageEventDefinition"):
                refs.append(definition.get("messageRef"))
                variable = definition.find(f".//{{{SPIFF_NS}}}messageVariable")
                if variable is not None and (variable.text or "").strip():
                    message = messages.get(definition.get("messageRef"))
                    if message:
                        variables[message] = variable.text.strip()
            for ref in refs:
                message = messages.get(ref) if ref else None
                if message and local not in ("intermediateThrowEvent", "endEvent", "sendTask"):
                    catchers.setdefault(message, []).append(element)
    return DiagramIndex(names, kinds, catchers, variables)


# ----- reading a version ----------------------------------------------------------------------

_DIAGRAMS: OrderedDict[tuple[str, str], DiagramIndex] = OrderedDict()
_DIAGRAMS_LOCK = threading.Lock()
_DIAGRAMS_KEPT = 128


def version_diagram(db: Database, version_id: int) -> DiagramIndex:
    """The DiagramIndex of a process version (read once per content: versions never change)."""
    with db.read() as session:
        head = session.execute(
            select(ProcessVersion.key, ProcessVersion.content_hash).where(
                ProcessVersion.id == version_id
            )
        ).first()
        if head is None:
            raise NotFound(
                f"no process version {version_id}",
                reason="process_version_not_found",
                id=version_id,
            )
        cache_key = (head.key, head.content_hash)
        with _DIAGRAMS_LOCK:
            found = _DIAGRAMS.get(cache_key)
            if found is not None:
                _DIAGRAMS.move_to_end(cache_key)
                return found
        sources = session.scalar(
            select(ProcessVersion.sources).where(ProcessVersion.id == version_id)
        )
    index = diagram_index(s["text"] for s in sources or [] if s.get("kind") == "bpmn")
    with _DIAGRAMS_LOCK:
        _DIAGRAMS[cache_key] = index
        while len(_DIAGRAMS) > _DIAGRAMS_KEPT:
            _DIAGRAMS.popitem(last=False)
    return index
