"""What a dry run (engine.casework.dryrun) reads before it runs: the draft's processes, elements,
user tasks and messages (so a scenario naming others is refused before anything runs), and the
simplest valid answers to a process's start form (engine.definitions.simplest), with a free
slot where the form offers the booking page's free slots.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from lxml import etree
from sqlalchemy import select

from engine.casework import portal
from engine.core.instants import parse_when
from engine.definitions.simplest import simplest_data
from engine.definitions.sources import BPMN_NS, SourceFile
from engine.runtime.verbs import Runtime
from engine.spiff.xmlsafe import UnsafeXML, parse_xml
from engine.store.tables import Form, ProcessVersion

FREE_SLOT_DAYS = 14  # how far the simplest start data looks for a free slot
_TASK_KINDS = ("userTask", "manualTask")


def simplest_start_data(
    runtime: Runtime, process_key: str, at: datetime | str | None = None
) -> dict[str, Any]:
    """The simplest valid answers to the start form of the newest deployed version of a
    process at `at` (an instant, or ISO 8601 text in company time unless it has an offset;
    now when None), with a free slot where the form offers free slots: what the dry run
    starts with when the scenario gives no data, prefilled in the modeler's panel. Empty for
    a process without a start form or not deployed yet; ValueError for a time that cannot be
    read."""
    if at is None:
        at = runtime.clock.now()
    elif isinstance(at, str):
        try:
            at = parse_when(at[:60], runtime.calendar.zone)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
    return start_answers(runtime, process_key, at) or {}


# ----- what the draft defines ------------------------------------------------------------------


class DiagramIndex:
    """The processes, elements (id -> type, name), user tasks and message names of the draft's
    BPMN files; a file that cannot be read adds nothing (deploy names its problem)."""

    def __init__(self) -> None:
        self.processes: set[str] = set()
        self.elements: dict[str, tuple[str, str | None]] = {}
        self.tasks: set[str] = set()
        self.messages: set[str] = set()

    @classmethod
    def of(cls, files: Sequence[SourceFile]) -> DiagramIndex:
        index = cls()
        for f in files:
            if f.kind != "bpmn":
                continue
            try:
                root = parse_xml(f.data, 50_000_000)
            except (UnsafeXML, etree.XMLSyntaxError):
                continue
            for process in root.iter(f"{{{BPMN_NS}}}process"):
                if process.get("id"):
                    index.processes.add(process.get("id"))
            for node in root.iter(f"{{{BPMN_NS}}}*"):
                element_id = node.get("id")
                kind = etree.QName(node).localname
                if kind == "message" and node.get("name"):
                    index.messages.add(node.get("name"))
                if element_id and element_id not in index.elements:
                    index.elements[element_id] = (kind, node.get("name"))
                    if kind in _TASK_KINDS:
                        index.tasks.add(element_id)
        return index


# ----- the start form --------------------------------------------------------------------------


def start_answers(runtime: Runtime, key: str, at: datetime) -> dict[str, Any] | None:
    """simplest_start_data at an instant; None without a deployed version or start form."""
    with runtime.db.read() as session:
        version = session.scalars(
            select(ProcessVersion)
            .where(ProcessVersion.key == key)
            .order_by(ProcessVersion.version.desc())
        ).first()
        if version is None:
            return None
        info = version.portal or {}
        form_id = info.get("staff_start_form_id") or info.get("start_form_id")
        form = session.get(Form, form_id) if form_id else None
        if form is None:
            return None
        schema = form.schema
    return simplest_data(
        schema, at, runtime.calendar.zone, choices=_live_choices(runtime, schema, at)
    )


def _live_choices(runtime: Runtime, schema: dict[str, Any], at: datetime) -> dict[str, list[Any]]:
    """The options a booking page offers for fields marked "x-source" (as webui.portal): the
    first service item, and its first free slot on the first day that has one."""
    props = schema.get("properties") or {}
    found: dict[str, list[Any]] = {}
    item = None
    for name, prop in props.items():
        if isinstance(prop, dict) and prop.get("x-source") == "service_items":
            found[name] = [code for code, _ in portal.service_items(runtime)]
            item = found[name][0] if found[name] else None
    for name, prop in props.items():
        if isinstance(prop, dict) and prop.get("x-source") == "free_slots" and item:
            day = runtime.calendar.local(at).date()
            for _ in range(FREE_SLOT_DAYS):
                slots = [
                    slot
                    for slot in portal.free_slots(runtime, item, day.isoformat())
                    if datetime.fromisoformat(slot) > at
                ]
                if slots:
                    found[name] = slots
                    break
                day += timedelta(days=1)
    return found
