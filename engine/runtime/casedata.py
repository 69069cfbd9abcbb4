"""A case's data as people read it: the fields the forms of the case's own version declare,
under their titles, grouped by what wrote them (the start form, a task, a message); and the
form a supervisor corrects a case in error with.

Keys a person has no use for stay out of both: names starting with "_", ids and references
("…_id", "…_ref"), and the booking's own bookkeeping (`is_internal_key`). Everything remains
in the raw data, which the case page still shows on request.

The element names, the messages each element catches and the variable a message's answer is
kept under come from the version's BPMN text (engine.runtime.diagram), never from a workflow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from engine.core.errors import NotFound
from engine.runtime.diagram import version_diagram
from engine.store.database import Database
from engine.store.tables import ProcessVersion

# The booking helpers' bookkeeping (engine.casework.slots) and a booking post's one-time key.
INTERNAL_NAMES = frozenset(
    {"id", "ok", "booking", "booking_ref", "released_bookings", "form_key", "token", "link"}
)
INTERNAL_SUFFIXES = ("_id", "_ids", "_ref", "_refs", "_token")


def is_internal_key(name: str) -> bool:
    """Whether a case variable is bookkeeping rather than something a person answered."""
    text = str(name)
    return text.startswith("_") or text in INTERNAL_NAMES or text.endswith(INTERNAL_SUFFIXES)


# ----- the forms of a version -----------------------------------------------------------------


@dataclass(frozen=True)
class FormSource:
    """One form of the version and what it wrote: its answers are top-level case variables,
    or (a message caught into a variable) the keys of the object under `under`."""

    label: str
    schema: dict[str, Any]
    under: str | None = None


@dataclass(frozen=True)
class DataField:
    name: str  # dotted path in the case data
    label: str
    value: Any  # as stored
    kind: str  # text, boolean, number, date, date-time, list, rows
    shown: Any = None  # the value with its option labels (enums), or rows for "rows"
    columns: list[str] | None = None  # column titles for "rows"


@dataclass(frozen=True)
class DataGroup:
    label: str
    fields: list[DataField]


def _resolve(root: dict[str, Any], schema: Any) -> dict[str, Any]:
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 16:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            break
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        schema, seen = node, seen + 1
    return schema if isinstance(schema, dict) else {}


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else "string"


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _option_label(schema: dict[str, Any], value: Any) -> Any:
    options, labels = schema.get("enum"), schema.get("x-labels")
    if isinstance(options, list) and isinstance(labels, list) and value in options:
        index = options.index(value)
        if index < len(labels):
            return labels[index]
    return value


def _fields_of(
    root: dict[str, Any], schema: dict[str, Any], values: dict[str, Any], path: str, title: str
) -> list[DataField]:
    """The answered fields of `schema` found in `values`, nested objects flattened."""
    out: list[DataField] = []
    for name, raw in (schema.get("properties") or {}).items():
        if is_internal_key(name) or name not in values or _empty(values[name]):
            continue
        prop = _resolve(root, raw)
        value = values[name]
        label = str(prop.get("title") or name)
        label = f"{title} · {label}" if title else label
        where = f"{path}{name}"
        kind = _kind(prop)
        if kind == "object" and isinstance(value, dict) and prop.get("properties"):
            out.extend(_fields_of(root, prop, value, f"{where}.", label))
            continue
        if kind == "array" and isinstance(value, list):
            items = _resolve(root, prop.get("items") or {})
            if _kind(items) == "object" and items.get("properties"):
                columns = [
                    (key, str(_resolve(root, sub).get("title") or key))
                    for key, sub in items["properties"].items()
                    if not is_internal_key(key)
                ]
                rows = [
                    [
                        _option_label(_resolve(root, items["properties"][key]), row.get(key))
                        for key, _ in columns
                    ]
                    for row in value
                    if isinstance(row, dict)
                ]
                out.append(DataField(where, label, value, "rows", rows, [t for _, t in columns]))
            else:
                shown = [_option_label(items, v) for v in value]
                out.append(DataField(where, label, value, "list", shown))
            continue
        fmt = prop.get("format")
        if kind == "boolean" and isinstance(value, bool):
            shown_kind = "boolean"
        elif kind in ("integer", "number"):
            shown_kind = "number"
        elif fmt in ("date", "date-time"):
            shown_kind = fmt
        else:
            shown_kind = "text"
        out.append(DataField(where, label, value, shown_kind, _option_label(prop, value)))
    return out


def labelled_groups(data: dict[str, Any], sources: list[FormSource]) -> tuple[list[DataGroup], int]:
    """The case data the version's forms label, grouped by form, each variable once (under
    the first form that declares it); and how many top-level variables no form labels (they
    are in the raw data only)."""
    groups: list[DataGroup] = []
    shown: set[str] = set()
    for source in sources:
        if source.under:
            if is_internal_key(source.under) or source.under in shown:
                continue
            base = data.get(source.under)
            if not isinstance(base, dict):
                continue
            fields = _fields_of(source.schema, source.schema, base, f"{source.under}.", "")
            if fields:
                shown.add(source.under)
        else:
            fresh = {k: v for k, v in data.items() if k not in shown}
            fields = _fields_of(source.schema, source.schema, fresh, "", "")
            shown.update(f.name.split(".", 1)[0] for f in fields)
        if fields:
            groups.append(DataGroup(source.label, fields))
    unlabelled = sum(1 for k in data if k not in shown and not is_internal_key(k))
    return groups, unlabelled


# ----- correcting a case in error -------------------------------------------------------------


@dataclass(frozen=True)
class CorrectionForm:
    """Every field the version's forms declare, as one form without required fields:
    `groups` says which top-level fields came from which form, `values` what the case holds."""

    schema: dict[str, Any]
    groups: list[tuple[str, list[str]]]
    values: dict[str, Any]


def _editable(root: dict[str, Any], raw: Any) -> dict[str, Any] | None:
    """A property as the correction form offers it (files and read-only values are not
    corrected here), its references resolved."""
    prop = _resolve(root, raw)
    if prop.get("readOnly") or prop.get("x-widget") == "file" or prop.get("ui:widget") == "file":
        return None
    prop = dict(prop)
    if _kind(prop) == "array":
        prop["items"] = _resolve(root, prop.get("items") or {})
    if _kind(prop) == "object" and isinstance(prop.get("properties"), dict):
        prop["properties"] = {
            k: p for k, p in ((k, _editable(root, v)) for k, v in prop["properties"].items()) if p
        }
        prop.pop("required", None)
    return prop


def correction_form(data: dict[str, Any], sources: list[FormSource]) -> CorrectionForm:
    """The form a supervisor corrects a case in error with (see CorrectionForm)."""
    properties: dict[str, Any] = {}
    groups: list[tuple[str, list[str]]] = []
    for source in sources:
        names: list[str] = []
        own = {
            k: p
            for k, p in (
                (k, _editable(source.schema, v))
                for k, v in (source.schema.get("properties") or {}).items()
                if not is_internal_key(k)
            )
            if p
        }
        if source.under:
            if is_internal_key(source.under) or source.under in properties or not own:
                continue
            properties[source.under] = {"type": "object", "title": source.label, "properties": own}
            names.append(source.under)
        else:
            for name, prop in own.items():
                if name not in properties:
                    properties[name] = prop
                    names.append(name)
        if names:
            groups.append((source.label, names))
    schema = {"type": "object", "properties": properties}
    values = {k: data[k] for k in properties if k in data}
    return CorrectionForm(schema, groups, values)


def changed_values(answer: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """What a correction changes: the answered values that differ from the case's, leaving
    out what only an empty form says (an unticked box for a variable the case never had)."""
    changed: dict[str, Any] = {}
    for key, value in answer.items():
        if key in data:
            old = data[key]
            if isinstance(value, dict) and isinstance(old, dict):
                merged = {**old, **{k: v for k, v in value.items() if k in old or v}}
                if merged != old:
                    changed[key] = merged
            elif value != old:
                changed[key] = value
        elif value not in (False, None, "", [], {}):
            changed[key] = value
    return changed


# ----- reading a version ----------------------------------------------------------------------

NOTE_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {"note": {"type": "string", "title": "備註", "maxLength": 2000}},
}


def version_form_sources(
    db: Database, version_id: int, form: Callable[[int], dict[str, Any]]
) -> list[FormSource]:
    """The forms of a version in the order a case meets them: the start forms, each task's
    form (labelled with the task's name), each message's form (labelled with what catches
    it). `form` reads a deployed form's schema by id."""
    with db.read() as session:
        row = session.execute(
            select(ProcessVersion.task_meta, ProcessVersion.portal).where(
                ProcessVersion.id == version_id
            )
        ).first()
    if row is None:
        raise NotFound(
            f"no process version {version_id}", reason="process_version_not_found", id=version_id
        )
    portal, meta = row.portal or {}, row.task_meta or {}
    diagram = version_diagram(db, version_id)
    sources: list[FormSource] = []
    for name in ("start_form_id", "staff_start_form_id"):
        if portal.get(name):
            schema = form(portal[name])
            sources.append(FormSource(str(schema.get("title") or portal.get(name[:-3])), schema))
    for element, task in meta.items():
        if task.get("form_id"):
            schema = form(task["form_id"])
            label = task.get("name") or schema.get("title") or element
            sources.append(FormSource(str(label), schema))
    for message, form_id in (portal.get("message_form_ids") or {}).items():
        if form_id:
            schema = form(form_id)
            label = diagram.message_label(message)
            if label == message:
                label = str(schema.get("title") or message)
            sources.append(FormSource(label, schema, diagram.variables.get(message)))
    return sources


def message_form_of(
    db: Database, version_id: int, message: str, form: Callable[[int], dict[str, Any]]
) -> dict[str, Any] | None:
    """The form the version names for `message` (process property messageForm:<message>), or
    None."""
    with db.read() as session:
        portal = session.scalar(
            select(ProcessVersion.portal).where(ProcessVersion.id == version_id)
        )
    form_id = ((portal or {}).get("message_form_ids") or {}).get(message)
    return form(form_id) if form_id else None
