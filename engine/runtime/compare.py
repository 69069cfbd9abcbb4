"""How two versions of a process differ (for the version compare page): element by element,
and in what else a version keeps — its message templates, its process properties (the
`default:<name>` parameters among them) and its DMN files."""

from __future__ import annotations

import difflib
from typing import Any

from lxml import etree

from engine.definitions import templates as message_templates
from engine.definitions.layout.model import FLOW_NODES
from engine.definitions.properties import process_properties
from engine.definitions.sources import (
    BPMN_NS,
    CAMUNDA_NS,
    SPIFF_NS,
)
from engine.runtime.versions import version_row
from engine.spiff.xmlsafe import parse_xml
from engine.store.database import Database
from engine.store.tables import ProcessVersion

# ----- comparing two versions -----------------------------------------------------------------

# What a change is reported on, in this order.
ASPECTS = (
    "type",
    "event",
    "name",
    "lane",
    "source",
    "target",
    "condition",
    "default",
    "attached_to",
    "timer",
    "message",
    "script",
    "pre_script",
    "post_script",
    "form",
    "instructions",
    "called",
)


def _local(node: Any) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _ns(node: Any) -> str:
    return etree.QName(node).namespace if isinstance(node.tag, str) else ""


def _text(node: Any) -> str:
    return "".join(node.itertext()).strip()


def _own(node: Any) -> Any:
    """The descendants of `node` that describe it: not the elements of a subprocess (its own
    tasks, events and flows have their own entries)."""
    for child in node:
        if not isinstance(child.tag, str):
            continue
        if _ns(child) == BPMN_NS and (
            _local(child) in FLOW_NODES or _local(child) == "sequenceFlow"
        ):
            continue
        yield child
        yield from _own(child)


def _first(node: Any, ns: str, *names: str) -> str | None:
    for child in _own(node):
        if _ns(child) == ns and _local(child) in names:
            return _text(child)
    return None


def _describe(node: Any, lanes: dict[str, str]) -> dict[str, Any]:
    kind = _local(node)
    info: dict[str, Any] = {"type": kind, "name": (node.get("name") or "").strip()}
    if kind == "sequenceFlow":
        info["source"], info["target"] = node.get("sourceRef"), node.get("targetRef")
        info["condition"] = _first(node, BPMN_NS, "conditionExpression")
        return info
    info["lane"] = lanes.get(node.get("id"))
    events = [
        _local(c).removesuffix("EventDefinition")
        for c in node
        if _ns(c) == BPMN_NS and _local(c).endswith("EventDefinition")
    ]
    info["event"] = ", ".join(events) or None
    timers = [
        f"{_local(c)}: {_text(c)}"
        for c in _own(node)
        if _ns(c) == BPMN_NS and _local(c) in ("timeDuration", "timeDate", "timeCycle")
    ]
    info["timer"] = "; ".join(timers) or None
    messages = [c.get("messageRef") for c in node if _local(c) == "messageEventDefinition"]
    info["message"] = ", ".join(m for m in messages if m) or None
    info["default"] = node.get("default")
    info["attached_to"] = node.get("attachedToRef")
    info["script"] = _first(node, BPMN_NS, "script")
    info["pre_script"] = _first(node, SPIFF_NS, "preScript")
    info["post_script"] = _first(node, SPIFF_NS, "postScript")
    info["instructions"] = _first(node, SPIFF_NS, "instructionsForEndUser")
    info["called"] = node.get("calledElement") or _first(node, SPIFF_NS, "calledDecisionId")
    form = node.get(f"{{{CAMUNDA_NS}}}formKey")
    for prop in _own(node):
        if _local(prop) == "property" and prop.get("name") == "formJsonSchemaFilename":
            form = prop.get("value")
    info["form"] = form
    return info


def elements_of(xml: str) -> dict[str, dict[str, Any]]:
    """Flow nodes and sequence flows of a BPMN text by element id, with what the comparison
    looks at (name, kind, lane, source and target, condition, timer, script, form …)."""
    root = parse_xml(xml.encode("utf-8"), 50_000_000)
    lanes: dict[str, str] = {}
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):  # nested lanes come later and win
        for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"):
            lanes[(ref.text or "").strip()] = lane.get("name") or lane.get("id")
    found: dict[str, dict[str, Any]] = {}
    for node in root.iter():
        if _ns(node) == BPMN_NS and node.get("id"):
            if _local(node) in FLOW_NODES or _local(node) == "sequenceFlow":
                found[node.get("id")] = _describe(node, lanes)
    return found


def _elements_of_version(row: ProcessVersion) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for source in row.sources:
        if source["kind"] == "bpmn":
            found.update(elements_of(source["text"]))
    return found


def compare_versions(db: Database, key: str, a: int, b: int) -> dict[str, list[dict[str, Any]]]:
    """What changed from version `a` to version `b` of a process, by element id:
    {added: [{id, type, name}], removed: [...], changed: [{id, type, name, what, details}]}
    where `what` names the aspects that differ and `details` gives [aspect, in a, in b];
    and besides the elements (see kept_changes): `templates` and `decisions` [{name, change,
    diff}], `properties` [{name, change, before, after}]."""
    with db.read() as session:
        old_row, new_row = version_row(session, key, a), version_row(session, key, b)
        old = _elements_of_version(old_row)
        new = _elements_of_version(new_row)
        kept = kept_changes(key, old_row.sources, new_row.sources)

    def brief(element_id: str, info: dict[str, Any]) -> dict[str, Any]:
        return {"id": element_id, "type": info["type"], "name": info["name"]}

    changed = []
    for element_id, before in old.items():
        after = new.get(element_id)
        if after is None:
            continue
        what = [k for k in ASPECTS if before.get(k) != after.get(k)]
        if what:
            changed.append(
                {
                    **brief(element_id, after),
                    "what": what,
                    "details": [[k, before.get(k), after.get(k)] for k in what],
                }
            )
    return {
        "added": [brief(i, info) for i, info in new.items() if i not in old],
        "removed": [brief(i, info) for i, info in old.items() if i not in new],
        "changed": changed,
        **kept,
    }


# ----- what a version keeps besides its elements ----------------------------------------------

MAX_DIFF_LINES = 2_000


def line_diff(before: str, after: str) -> list[list[str]]:
    """A line diff of two texts as [mark, line] pairs: "-" removed, "+" added, " " unchanged
    context (two lines around each change), "@" the start of a part ("@@ -3,4 +3,5 @@")."""
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=2)
    out: list[list[str]] = []
    for line in lines:
        if line.startswith(("---", "+++")) and not out:
            continue  # the two file header lines
        if len(out) == MAX_DIFF_LINES:
            out.append(["@", "…"])
            break
        out.append(
            [line[:1] if line[:1] in "+- " else "@", line[1:] if line[:1] in "+- " else line]
        )
    return out


def _changes_of_texts(old: dict[str, str], new: dict[str, str]) -> list[dict[str, Any]]:
    found = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        change = "added" if before is None else "removed" if after is None else "changed"
        found.append({"name": name, "change": change, "diff": line_diff(before or "", after or "")})
    return found


def _properties(key: str, sources: list[dict[str, str]] | None) -> dict[str, str]:
    for source in sources or ():
        if source.get("kind") == "bpmn" and f'id="{key}"' in source["text"]:
            props = process_properties(parse_xml(source["text"].encode("utf-8"), 50_000_000), key)
            if props:
                return props
    return {}


def kept_changes(
    key: str, old: list[dict[str, str]] | None, new: list[dict[str, str]] | None
) -> dict[str, list[dict[str, Any]]]:
    """How two versions' stored sources differ besides the elements: message templates
    (by name) and DMN files (by file name), added, removed or changed with a line diff of
    the text; the process's properties (`default:<name>` parameters, startForm, casePrefix …)
    added, removed or changed with their values."""
    templates = [message_templates.version_templates(sources) or {} for sources in (old, new)]
    decisions = [
        {s["filename"]: s["text"] for s in sources or () if s.get("kind") == "dmn"}
        for sources in (old, new)
    ]
    before, after = _properties(key, old), _properties(key, new)
    properties = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) == after.get(name):
            continue
        change = "added" if name not in before else "removed" if name not in after else "changed"
        properties.append(
            {"name": name, "change": change, "before": before.get(name), "after": after.get(name)}
        )
    return {
        "templates": _changes_of_texts(*templates),
        "properties": properties,
        "decisions": _changes_of_texts(*decisions),
    }
