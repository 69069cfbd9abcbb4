"""What a deploy reads and reports: source files, the problems found in them, the plans built
from them, and the XML helpers the checks share.

Every check adds `Problem`s (file, element id, what is wrong) to one `Validation`; one problem
means nothing is deployed (`DefinitionError` lists them all).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from engine.core.settings import Settings

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


@dataclass(frozen=True)
class Problem:
    file: str
    element_id: str | None
    message: str
    # The property of the element that is wrong, where the check knows it: a BPMN property
    # ("conditionExpression", "timeDuration", "script"), a spiffworkflow extension
    # ("postScript", "instructionsForEndUser") or a spiffworkflow:property's name
    # ("formJsonSchemaFilename", "default:reminder_hours"). The modeler shows the message on
    # that field of the element's properties.
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: {self.element_id}" if self.element_id else self.file
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        found = {"file": self.file, "element_id": self.element_id, "message": self.message}
        if self.field:
            found["field"] = self.field
        return found


class DefinitionError(Exception):
    """The files cannot be deployed; `problems` lists every reason found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class SourceFile:
    filename: str
    data: bytes

    @property
    def kind(self) -> str:
        name = self.filename.lower()
        if name.endswith(".bpmn") or name.endswith(".bpmn20.xml"):
            return "bpmn"
        if name.endswith(".dmn"):
            return "dmn"
        if name.endswith(".json") or name.endswith(".form"):
            return "form"
        if name.endswith(".txt"):
            return "template"
        return "unknown"


@dataclass
class ProcessPlan:
    key: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]
    spec_json: str
    sources: list[dict[str, str]]
    task_meta: dict[str, dict[str, Any]]
    case_prefix: str
    defaults: dict[str, Any] = field(default_factory=dict)
    portal: dict[str, Any] | None = None
    startable: bool = True
    called_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The case variables the KPIs read (engine.definitions.kpi_fields).
    kpi_fields: dict[str, str] | None = None
    content_hash: str = ""


@dataclass
class FormPlan:
    name: str
    schema: dict[str, Any]
    content_hash: str


@dataclass
class Validation:
    settings: Settings
    known_forms: dict[str, dict[str, Any]]
    problems: list[Problem] = field(default_factory=list)

    def add(
        self, file: str, element_id: str | None, message: str, field: str | None = None
    ) -> None:
        self.problems.append(Problem(file, element_id, message, field))

    def use_form(self, name: str, forms: dict[str, FormPlan], used_forms: dict[str, str]) -> bool:
        """Note that the process uses form `name` (deployed with it or earlier) in
        `used_forms` with its content hash; False when there is no such form."""
        if name in forms:
            used_forms[name] = forms[name].content_hash
        elif name in self.known_forms:
            used_forms[name] = content_hash(
                json.dumps(self.known_forms[name], sort_keys=True, ensure_ascii=False)
            )
        else:
            return False
        return True


def read_paths(paths: Iterable[str | Path]) -> list[SourceFile]:
    """Files named, and the BPMN/DMN/JSON files inside folders named (recursively)."""
    files: list[SourceFile] = []
    missing: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and SourceFile(child.name, b"").kind != "unknown":
                    files.append(SourceFile(child.name, child.read_bytes()))
        elif path.is_file():
            files.append(SourceFile(path.name, path.read_bytes()))
        else:
            missing.append(Problem(str(path), None, "no such file or folder"))
    if missing:
        raise DefinitionError(missing)
    return files


def content_hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def local_name(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def namespace(tag: Any) -> str:
    return etree.QName(tag).namespace if isinstance(tag, str) else ""


def owner_id(node: etree._Element) -> str | None:
    """The id of the diagram element a node belongs to (an event, not its event definition)."""
    while node is not None:
        if node.get("id") and not local_name(node.tag).endswith("EventDefinition"):
            return node.get("id")
        node = node.getparent()
    return None
