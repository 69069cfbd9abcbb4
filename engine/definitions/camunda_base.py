"""The state of converting one Camunda diagram and the helpers every conversion rule uses:
what the extensions give each element (``Imported``), refusals naming the element, Camunda
values that are a literal or a plain variable, and scripts added for the parser (the rules are
in ``engine.definitions.camunda``, ``camunda_assignment`` and ``camunda_mappings``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.definitions.sources import BPMN_NS, SPIFF_NS, Validation, local_name

ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"

PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
JUEL_NAME = re.compile(r"^\s*[$#]\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\s*$")
FEEL_NAME = re.compile(r"^\s*=\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


@dataclass
class Imported:
    """What a Camunda diagram's extensions give each element (by element id)."""

    roles: dict[str, str] = field(default_factory=dict)
    assignees: dict[str, str] = field(default_factory=dict)
    forms: dict[str, str] = field(default_factory=dict)
    generated_forms: dict[str, dict[str, Any]] = field(default_factory=dict)


def q(ns: str, name: str) -> str:
    """The Clark name lxml uses for `name` in namespace `ns`."""
    return f"{{{ns}}}{name}"


def _element_name(node: etree._Element) -> str:
    return node.get("id") or local_name(node.tag)


def plain_value(text: str) -> str | None:
    """A Python expression for a Camunda value that is a literal or a plain variable
    (`${name}`, `#{name}`, `= name`); None for any other expression."""
    text = text.strip()
    match = JUEL_NAME.match(text) or FEEL_NAME.match(text)
    if match:
        return match.group(1)
    if "${" in text or "#{" in text or text.startswith("="):
        return None
    return json.dumps(text, ensure_ascii=False)


def spiff_extensions(node: etree._Element) -> etree._Element:
    """The element's extensionElements, added when it has none."""
    ext = node.find(q(BPMN_NS, "extensionElements"))
    if ext is None:
        ext = etree.Element(q(BPMN_NS, "extensionElements"))
        node.insert(0, ext)
    return ext


def add_script(node: etree._Element, which: str, line: str) -> None:
    """Add `line` to the element's SpiffWorkflow preScript (first) or postScript (last)."""
    ext = spiff_extensions(node)
    existing = ext.find(q(SPIFF_NS, which))
    if existing is None:
        existing = etree.SubElement(ext, q(SPIFF_NS, which))
        existing.text = line
    elif which == "preScript":
        existing.text = f"{line}\n{existing.text or ''}"
    else:
        existing.text = f"{existing.text or ''}\n{line}"


class Conversion:
    """One diagram being converted: the owner's file (a copy the parser sees), the deployed
    decisions, and what has been read so far."""

    def __init__(
        self,
        v: Validation,
        filename: str,
        root: etree._Element,
        decisions: dict[str, tuple[str, list[str]]],
    ) -> None:
        self.v, self.filename, self.root, self.decisions = v, filename, root, decisions
        # Generated forms are named after the file and element, so two files' "Task_1" differ.
        self.form_prefix = re.sub(r"\.(bpmn20\.xml|bpmn)$", "", filename, flags=re.I)
        self.out = Imported()
        self.embedded_forms = {
            n.get("id"): n.text or "" for n in root.iter(q(ZEEBE_NS, "userTaskForm")) if n.get("id")
        }

    def refuse(self, node: etree._Element, message: str) -> None:
        self.v.add(self.filename, _element_name(node), message)
