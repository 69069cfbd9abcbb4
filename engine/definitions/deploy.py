"""Definitions: read BPMN, DMN and form files, validate them, deploy immutable versions.

Validation runs completely before anything is written; every problem names the file, the
element id and what is wrong, and one problem means nothing is deployed. Unchanged content is a
no-op; changed content makes a new version; running cases stay on the version they started on.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core.clock import Clock
from engine.core.settings import Settings
from engine.definitions.forms import FormError, load_form_schema
from engine.spiff import adapter as spiff
from engine.spiff.scripts import ScriptError, check_expression, check_script
from engine.spiff.xmlsafe import UnsafeXML, parse_xml
from engine.store.tables import Database, Form, ProcessVersion

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"

# Names a timer expression may call (see engine.core.calendar_scripts.script_helpers).
DATE_HELPERS = {
    "now",
    "working_days_from_now",
    "add_working_days",
    "hours_before",
    "hours_after",
    "days_from_now",
    "days_after",
    "days_before",
    "next_holiday",
}

_ISO_DURATION = re.compile(
    r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
)


@dataclass(frozen=True)
class Problem:
    file: str
    element_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.element_id}" if self.element_id else self.file
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "element_id": self.element_id, "message": self.message}


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
        if name.endswith(".json"):
            return "form"
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
    content_hash: str = ""


@dataclass
class FormPlan:
    name: str
    schema: dict[str, Any]
    content_hash: str


@dataclass(frozen=True)
class Deployed:
    kind: str  # "process" or "form"
    key: str
    version: int
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "version": self.version,
            "changed": self.changed,
        }


@dataclass
class _Validation:
    settings: Settings
    known_forms: dict[str, dict[str, Any]]
    problems: list[Problem] = field(default_factory=list)

    def add(self, file: str, element_id: str | None, message: str) -> None:
        self.problems.append(Problem(file, element_id, message))


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


def _content_hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _namespace(tag: Any) -> str:
    return etree.QName(tag).namespace if isinstance(tag, str) else ""


def _owner_id(node: etree._Element) -> str | None:
    """The id of the diagram element a node belongs to (an event, not its event definition)."""
    while node is not None:
        if node.get("id") and not _local(node.tag).endswith("EventDefinition"):
            return node.get("id")
        node = node.getparent()
    return None


def check_timer(kind: str, text: str) -> str | None:
    """None when `text` is a usable timer expression of `kind` (timeDuration, timeDate,
    timeCycle), else what is wrong."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return f'timer {text!r} is not a valid expression: write an ISO 8601 value in quotes, e.g. "P3D"'
    node = tree.body
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        value = node.value.strip()
        try:
            if kind == "timeDuration":
                if not _ISO_DURATION.match(value.upper()):
                    raise ValueError
                TimerEventDefinition.parse_iso_duration(value)
            elif kind == "timeDate":
                TimerEventDefinition.parse_time_or_duration(value)
                if value.upper().startswith("P"):
                    raise ValueError
            else:
                if not value.upper().startswith("R"):
                    raise ValueError
                TimerEventDefinition.parse_iso_recurring_interval(value)
        except Exception:
            label = {"timeDuration": "duration", "timeDate": "date", "timeCycle": "cycle"}[kind]
            return f"timer {value!r} is not a valid ISO 8601 {label}"
        return None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in DATE_HELPERS
    ):
        if kind != "timeDate":
            return (
                f"calendar helper {node.func.id}() gives a date: use it in a date timer (timeDate),"
                " not a duration or cycle"
            )
        try:
            check_expression(text)
        except ScriptError as exc:
            return str(exc)
        return None
    return (
        f'timer {text.strip()!r} must be an ISO 8601 value in quotes (e.g. "P3D") or a call of a '
        f"calendar helper ({', '.join(sorted(DATE_HELPERS))})"
    )


def _quote_bare_iso(node: etree._Element) -> None:
    """Camunda writes timers as bare ISO text (P3D); SpiffWorkflow reads Python expressions."""
    text = (node.text or "").strip()
    if not text:
        return
    upper = text.upper()
    bare = bool(_ISO_DURATION.match(upper)) or upper.startswith("R") and "/" in upper
    if not bare and re.match(r"^\d{4}-\d{2}-\d{2}", text):
        bare = True
    if bare:
        node.text = json.dumps(text)


_JINJA = SandboxedEnvironment()


def _check_bpmn_tree(v: _Validation, filename: str, root: etree._Element) -> None:
    """Checks made on the XML itself: lanes, expressions, scripts, timers, instructions."""
    for node in root.iter():
        local, ns = _local(node.tag), _namespace(node.tag)
        text = (node.text or "").strip()
        owner = _owner_id(node.getparent()) if node.getparent() is not None else None
        if ns == BPMN_NS and local == "lane":
            lane = node.get("name") or node.get("id")
            if v.settings.role_for_lane(node.get("name")) is None:
                known = ", ".join(f"{k} ({n})" for k, n in v.settings.roles.items())
                v.add(
                    filename,
                    node.get("id"),
                    f"lane {lane!r} is not a known role; known roles: {known}",
                )
        elif ns == BPMN_NS and local in ("timeDuration", "timeDate", "timeCycle"):
            _quote_bare_iso(node)
            problem = check_timer(local, node.text or "")
            if problem:
                v.add(filename, owner, problem)
        elif not text:
            continue
        elif (
            ns == BPMN_NS
            and local == "script"
            or ns == SPIFF_NS
            and local in ("preScript", "postScript")
        ):
            owner = _owner_id(node.getparent())
            _check_code(v, filename, owner, text, script=True, what=local)
        elif ns == BPMN_NS and local in (
            "conditionExpression",
            "loopCardinality",
            "completionCondition",
            "loopCondition",
        ):
            _check_code(v, filename, owner, text, script=False, what=local)
        elif ns == BPMN_NS and local == "formalExpression":
            _check_code(v, filename, owner, text, script=False, what="correlation expression")
        elif ns == SPIFF_NS and local in ("messagePayload", "loopCondition"):
            _check_code(v, filename, owner, text, script=False, what=local)
        elif ns == SPIFF_NS and local == "instructionsForEndUser":
            try:
                _JINJA.parse(text)
            except TemplateSyntaxError as exc:
                v.add(
                    filename,
                    _owner_id(node.getparent()),
                    f"instructions are not a valid template: {exc}",
                )


def _check_code(
    v: _Validation, filename: str, owner: str | None, text: str, *, script: bool, what: str
) -> None:
    try:
        (check_script if script else check_expression)(text)
    except ScriptError as exc:
        hint = (
            " (Camunda ${...} expressions are not supported; write Python)" if "${" in text else ""
        )
        v.add(filename, owner, f"{what} refused: {exc}{hint}")
    except SyntaxError as exc:
        v.add(filename, owner, f"{what} is not valid Python: {exc.msg}")


def _check_dmn_tree(v: _Validation, filename: str, root: etree._Element) -> None:
    for table in root.iter():
        if _local(table.tag) != "decisionTable":
            continue
        inputs = [
            (next((t.text or "" for t in i.iter() if _local(t.tag) == "text"), "")).strip()
            for i in table
            if _local(i.tag) == "input"
        ]
        for rule in (r for r in table if _local(r.tag) == "rule"):
            entries = [e for e in rule if _local(e.tag) == "inputEntry"]
            for input_expr, entry in zip(inputs, entries, strict=False):
                text = "".join(t.text or "" for t in entry if _local(t.tag) == "text").strip()
                if not text or text == "-":
                    continue
                if "?" in text:
                    candidate = text.replace("?", "dmninputexpr")
                else:
                    try:
                        compile(text, "<dmn>", "eval")
                        candidate = f"({input_expr}) == ({text})"
                    except SyntaxError:
                        candidate = f"({input_expr}) {text}"
                _check_code(
                    v, filename, _owner_id(entry), candidate, script=False, what="input entry"
                )
            for entry in (e for e in rule if _local(e.tag) == "outputEntry"):
                text = "".join(t.text or "" for t in entry if _local(t.tag) == "text").strip()
                if text:
                    _check_code(
                        v, filename, _owner_id(entry), text, script=False, what="output entry"
                    )
        for expr in inputs:
            if expr:
                _check_code(
                    v, filename, _owner_id(table), expr, script=False, what="input expression"
                )


def _camunda_form_keys(root: etree._Element) -> dict[str, str]:
    keys = {}
    for node in root.iter():
        key = node.get(f"{{{CAMUNDA_NS}}}formKey") if isinstance(node.tag, str) else None
        if key and node.get("id"):
            # "camunda-forms:deployment:review.form" or "embedded:app:forms/x.json" → file name.
            keys[node.get("id")] = re.split(r"[:/]", key)[-1]
    return keys


def _process_properties(root: etree._Element, key: str) -> dict[str, str]:
    for node in root:
        if _local(node.tag) == "process" and node.get("id") == key:
            props = {}
            for ext in node:
                if _local(ext.tag) != "extensionElements":
                    continue
                for prop in ext.iter():
                    if _local(prop.tag) == "property" and prop.get("name"):
                        props[prop.get("name")] = prop.get("value") or ""
            return props
    return {}


def _defaults(v: _Validation, filename: str, root: etree._Element, key: str) -> dict[str, Any]:
    """Process properties named "default:<variable>" hold JSON values (2, "abc", true, [..])."""
    out: dict[str, Any] = {}
    for name, value in _process_properties(root, key).items():
        if not name.startswith("default:"):
            continue
        variable = name.split(":", 1)[1].strip()
        if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", variable):
            v.add(filename, key, f"default {name!r}: {variable!r} is not a valid variable name")
            continue
        try:
            out[variable] = json.loads(value)
        except json.JSONDecodeError:
            v.add(
                filename,
                key,
                f"default {name!r}: {value!r} is not a JSON value (write strings in quotes)",
            )
    return out


def _portal(
    v: _Validation,
    filename: str,
    root: etree._Element,
    key: str,
    forms: dict[str, FormPlan],
    used_forms: dict[str, str],
) -> dict[str, Any] | None:
    """The forms a case starts with, and the customer booking page.

    Process property `startForm` names the form a case starts with: a start may bring only its
    fields (besides the process defaults), valid by it. With `portalTitle` too, customers can
    book the process online with that form. `staffStartForm` names another form for starts by
    staff (the API, the command line), for a process whose first task completes the request,
    so that a phone call can start it with what is known so far. Stored as {"start_form",
    "title" (only when bookable), "staff_start_form" (only when given)}; deploy adds the ids."""
    props = _process_properties(root, key)
    title, start_form = props.get("portalTitle"), props.get("startForm")
    staff_form = props.get("staffStartForm")
    if not title and not start_form and not staff_form:
        return None
    if title and not start_form:
        v.add(filename, key, "a customer booking page (portalTitle) needs a startForm")
        return None
    found: dict[str, Any] = {}
    for what, name, field_name in (
        ("start form", start_form, "start_form"),
        ("staff start form", staff_form, "staff_start_form"),
    ):
        if not name:
            continue
        if name in forms:
            used_forms[name] = forms[name].content_hash
        elif name in v.known_forms:
            used_forms[name] = _content_hash(
                json.dumps(v.known_forms[name], sort_keys=True, ensure_ascii=False)
            )
        else:
            v.add(
                filename,
                key,
                f"{what} {name!r} is not among the files deployed with it nor already deployed",
            )
            return None
        found[field_name] = name
    if title:
        found["title"] = title
    return found


def _startable(v: _Validation, filename: str, root: etree._Element, key: str) -> bool:
    """Process property `startable`: "false" for a process that only other processes call
    (e.g. a shared matching step); it cannot be started on its own."""
    value = _process_properties(root, key).get("startable")
    if value is None or value.strip().lower() == "true":
        return True
    if value.strip().lower() == "false":
        return False
    v.add(filename, key, f"property startable must be true or false, not {value!r}")
    return True


SUPERVISOR_ROLE = "supervisor"


def start_roles(
    props: dict[str, str], spec: Any, subprocess_specs: dict[str, Any], settings: Settings
) -> tuple[list[str], list[str]]:
    """(the roles that may start the process, the names in its `startRoles` that are no role).

    Process property `startRoles`: role ids or lane names, comma-separated. Without it: the
    role of the process's first user task (the lane of the first one reached from the start
    event, looking into called and embedded subprocesses) and supervisor."""
    written = (props.get("startRoles") or "").strip()
    if written:
        roles: list[str] = []
        unknown: list[str] = []
        for name in (n.strip() for n in re.split(r"[,，]", written)):
            if not name:
                continue
            role = settings.role_for_lane(name)
            if role is None:
                unknown.append(name)
            elif role not in roles:
                roles.append(role)
        return roles, unknown
    first = _first_user_task(spec, subprocess_specs)
    roles = [] if first is None else [settings.role_for_lane(first.lane) or settings.default_role]
    return list(dict.fromkeys([*roles, SUPERVISOR_ROLE])), []


def _first_user_task(spec: Any, subprocess_specs: dict[str, Any]) -> Any | None:
    """The first user task reached from the start, breadth first (None when there is none)."""
    queue, seen = [spec.start], set()
    while queue:
        task_spec = queue.pop(0)
        if id(task_spec) in seen:
            continue
        seen.add(id(task_spec))
        if getattr(task_spec, "manual", False):
            return task_spec
        called = getattr(task_spec, "spec", None)
        if isinstance(called, str) and called in subprocess_specs:
            queue.append(subprocess_specs[called].start)
        queue.extend(task_spec.outputs)
    return None


def process_properties(root: etree._Element, key: str) -> dict[str, str]:
    """The `spiffworkflow:property` / `camunda:property` values of process `key`."""
    return _process_properties(root, key)


def _start_roles(
    v: _Validation, filename: str, root: etree._Element, key: str, spec: Any, subs: dict[str, Any]
) -> None:
    """Refuse a `startRoles` that names no known role (as an unknown lane is refused)."""
    roles, unknown = start_roles(_process_properties(root, key), spec, subs, v.settings)
    known = ", ".join(f"{k} ({n})" for k, n in v.settings.roles.items())
    for name in unknown:
        v.add(filename, key, f"startRoles: {name!r} is not a known role; known roles: {known}")
    if not roles and not unknown:
        v.add(filename, key, "startRoles names no role (leave it out for the default)")


def _case_prefix(root: etree._Element, key: str) -> str:
    for node in root.iter():
        if _local(node.tag) == "process" and node.get("id") == key:
            for prop in node.iter():
                if _local(prop.tag) == "property" and prop.get("name") == "casePrefix":
                    value = (prop.get("value") or "").strip().upper()
                    if re.match(r"^[A-Z]{1,6}$", value):
                        return value
    letters = "".join(word[0] for word in key.split("_") if word)[:3].upper()
    return re.sub(r"[^A-Z]", "", letters) or "CASE"


def validate(
    files: Sequence[SourceFile], settings: Settings, known_forms: dict[str, dict[str, Any]]
) -> tuple[list[ProcessPlan], list[FormPlan]]:
    """Check every file and build what deploying them would store; raise DefinitionError."""
    v = _Validation(settings, known_forms)
    trees: dict[str, tuple[str, etree._Element]] = {}
    forms: dict[str, FormPlan] = {}
    if not files:
        return [], []
    seen: set[str] = set()
    for f in files:
        if f.filename in seen:
            v.add(f.filename, None, "two files with the same name")
            continue
        seen.add(f.filename)
        if f.kind == "unknown":
            v.add(f.filename, None, "not a BPMN (.bpmn), DMN (.dmn) or form (.json) file")
        elif len(f.data) > settings.max_definition_bytes:
            v.add(
                f.filename,
                None,
                f"file is {len(f.data):,} bytes; the limit is {settings.max_definition_bytes:,} bytes",
            )
        elif f.kind == "form":
            try:
                schema = load_form_schema(f.data, f.filename)
            except FormError as exc:
                v.add(f.filename, None, str(exc))
                continue
            forms[f.filename] = FormPlan(
                f.filename,
                schema,
                _content_hash(json.dumps(schema, sort_keys=True, ensure_ascii=False)),
            )
        else:
            try:
                trees[f.filename] = (f.kind, parse_xml(f.data, settings.max_definition_bytes))
            except UnsafeXML as exc:
                v.add(f.filename, None, str(exc))
            except etree.XMLSyntaxError as exc:
                v.add(f.filename, None, f"not well-formed XML: {exc}")
    if v.problems:
        raise DefinitionError(v.problems)

    parser = SpiffBpmnParser(validator=VALIDATOR)
    process_files: dict[str, str] = {}
    for filename, (kind, root) in trees.items():
        if kind == "bpmn":
            if _local(root.tag) != "definitions" or _namespace(root.tag) != BPMN_NS:
                v.add(
                    filename,
                    None,
                    "not a BPMN 2.0 file (the root element must be bpmn:definitions)",
                )
                continue
            processes = [n for n in root if _local(n.tag) == "process"]
            if not processes:
                v.add(filename, None, "the file contains no process")
                continue
            _check_bpmn_tree(v, filename, root)
            for node in processes:
                process_files[node.get("id")] = filename
        else:
            _check_dmn_tree(v, filename, root)
        try:
            if kind == "bpmn":
                parser.add_bpmn_xml(root, filename)
            else:
                parser.add_dmn_xml(root, filename)
        except ValidationException as exc:
            v.add(filename, exc.id or None, _validation_message(exc))
        except (
            SpiffWorkflowException,
            etree.LxmlError,
            ValueError,
            KeyError,
            AttributeError,
        ) as exc:
            v.add(filename, None, f"cannot be read as {kind.upper()}: {exc}")
    if v.problems:
        raise DefinitionError(v.problems)

    plans = [
        _plan_process(v, parser, key, filename, trees, forms)
        for key, filename in process_files.items()
    ]
    if v.problems:
        raise DefinitionError(v.problems)
    return [p for p in plans if p is not None], list(forms.values())


def _validation_message(exc: ValidationException) -> str:
    message = str(exc).split("\n")[0]
    return message or exc.__class__.__name__


def _plan_process(
    v: _Validation,
    parser: SpiffBpmnParser,
    key: str,
    filename: str,
    trees: dict[str, tuple[str, etree._Element]],
    forms: dict[str, FormPlan],
) -> ProcessPlan | None:
    try:
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        v.add(exc.file_name or filename, exc.id or key, _validation_message(exc))
        return None
    except SpiffWorkflowException as exc:
        v.add(filename, key, str(exc))
        return None
    root = trees[filename][1]
    task_meta: dict[str, dict[str, Any]] = {}
    used_forms: dict[str, str] = {}
    for process_spec in [spec, *subprocess_specs.values()]:
        spec_file = getattr(process_spec, "file", None) or filename
        camunda_keys = _camunda_form_keys(trees[spec_file][1]) if spec_file in trees else {}
        for task_spec in process_spec.task_specs.values():
            if not getattr(task_spec, "manual", False):
                continue
            element_id = task_spec.bpmn_id
            extensions = getattr(task_spec, "extensions", {}) or {}
            form = (extensions.get("properties") or {}).get(
                "formJsonSchemaFilename"
            ) or camunda_keys.get(element_id)
            role = v.settings.role_for_lane(task_spec.lane)
            if role is None:
                v.add(spec_file, element_id, f"lane {task_spec.lane!r} is not a known role")
            if form:
                if form in forms:
                    used_forms[form] = forms[form].content_hash
                elif form in v.known_forms:
                    used_forms[form] = _content_hash(
                        json.dumps(v.known_forms[form], sort_keys=True, ensure_ascii=False)
                    )
                else:
                    v.add(
                        spec_file,
                        element_id,
                        f"form {form!r} is not among the files deployed with it nor already deployed",
                    )
            assignee = (
                (extensions.get("properties") or {}).get("assigneeExpression") or ""
            ).strip()
            if assignee:
                _check_code(
                    v, spec_file, element_id, assignee, script=False, what="assigneeExpression"
                )
            task_meta[element_id] = {
                "name": task_spec.bpmn_name or element_id,
                "role": role,
                "form": form,
                "instructions": extensions.get("instructionsForEndUser"),
                "assignee": assignee or None,
            }
    _start_roles(v, filename, root, key, spec, subprocess_specs)
    spec_json = spiff.dump_specs(spec, subprocess_specs)
    bpmn_files = sorted(
        {getattr(s, "file", None) or filename for s in [spec, *subprocess_specs.values()]}
    )
    dmn_files = sorted(
        name
        for name, (kind, droot) in trees.items()
        if kind == "dmn"
        and any(f'"{d.get("id")}"' in spec_json for d in droot if _local(d.tag) == "decision")
    )
    sources = [
        {
            "filename": name,
            "kind": trees[name][0],
            "text": etree.tostring(trees[name][1], encoding="unicode"),
        }
        for name in bpmn_files + dmn_files
        if name in trees
    ]
    plan = ProcessPlan(
        key=key,
        name=next(
            (n.get("name") for n in root if _local(n.tag) == "process" and n.get("id") == key), None
        )
        or key,
        spec=spec,
        subprocess_specs=subprocess_specs,
        spec_json=spec_json,
        sources=sources,
        task_meta=task_meta,
        case_prefix=_case_prefix(root, key),
        defaults=_defaults(v, filename, root, key),
        portal=_portal(v, filename, root, key, forms, used_forms),
        startable=_startable(v, filename, root, key),
        called_defaults={
            name: found
            for name, sub in subprocess_specs.items()
            if (sub_file := getattr(sub, "file", None) or filename) in trees
            and (found := _defaults(v, sub_file, trees[sub_file][1], name))
        },
    )
    plan.content_hash = _content_hash(
        spec_json,
        *(s["text"] for s in sources),
        *(f"{k}={h}" for k, h in sorted(used_forms.items())),
    )
    return plan


def latest_forms(session: Session) -> dict[str, Form]:
    newest = select(Form.name, func.max(Form.version).label("v")).group_by(Form.name).subquery()
    rows = session.scalars(
        select(Form).join(newest, (Form.name == newest.c.name) & (Form.version == newest.c.v))
    )
    return {row.name: row for row in rows}


def deploy(
    db: Database,
    files: Sequence[SourceFile],
    settings: Settings,
    clock: Clock,
    actor: str | None = None,
) -> list[Deployed]:
    """Validate `files` and store new versions of what changed, in one transaction."""
    from engine.store.audit import record

    with db.write() as session:
        existing_forms = latest_forms(session)
        plans, form_plans = validate(
            files, settings, {n: f.schema for n, f in existing_forms.items()}
        )
        now = clock.now()
        results: list[Deployed] = []
        form_ids: dict[str, int] = {n: f.id for n, f in existing_forms.items()}
        for fp in form_plans:
            current = existing_forms.get(fp.name)
            if current is not None and current.content_hash == fp.content_hash:
                results.append(Deployed("form", fp.name, current.version, False))
                continue
            row = Form(
                name=fp.name,
                version=(current.version + 1) if current else 1,
                content_hash=fp.content_hash,
                schema=fp.schema,
                deployed_by=actor,
                deployed_at=now,
            )
            session.add(row)
            session.flush()
            form_ids[fp.name] = row.id
            results.append(Deployed("form", fp.name, row.version, True))
            record(
                session,
                "form_deployed",
                actor=actor,
                at=now,
                detail={"form": fp.name, "version": row.version},
            )
        for plan in plans:
            current = session.scalars(
                select(ProcessVersion)
                .where(ProcessVersion.key == plan.key)
                .order_by(ProcessVersion.version.desc())
                .limit(1)
            ).first()
            if current is not None and current.content_hash == plan.content_hash:
                results.append(Deployed("process", plan.key, current.version, False))
                continue
            for meta in plan.task_meta.values():
                meta["form_id"] = form_ids.get(meta["form"]) if meta["form"] else None
            for name in ("start_form", "staff_start_form"):
                if plan.portal and plan.portal.get(name):
                    plan.portal[f"{name}_id"] = form_ids.get(plan.portal[name])
            row = ProcessVersion(
                key=plan.key,
                version=(current.version + 1) if current else 1,
                name=plan.name,
                content_hash=plan.content_hash,
                case_prefix=plan.case_prefix,
                sources=plan.sources,
                spec_json=plan.spec_json,
                task_meta=plan.task_meta,
                defaults=plan.defaults,
                portal=plan.portal,
                startable=plan.startable,
                called_defaults=plan.called_defaults or None,
                serializer_version=spiff.SERIALIZER_VERSION,
                deployed_by=actor,
                deployed_at=now,
            )
            session.add(row)
            session.flush()
            results.append(Deployed("process", plan.key, row.version, True))
            record(
                session,
                "process_deployed",
                actor=actor,
                at=now,
                detail={"process": plan.key, "version": row.version, "hash": plan.content_hash},
            )
        session.commit()
    return results
