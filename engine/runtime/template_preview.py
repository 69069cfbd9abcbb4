"""Message templates as process owners edit them: which templates a version keeps and on which
channels its scripts send them, a preview rendered on a sample case as `notify` would render it,
the length and segment count of an SMS, and deploying a changed template.

The preview never renders in the caller: it goes through engine.spiff.templating.render, the
bounded sandbox in an evaluator process that `notify` uses, strict as there. A template is
rendered with the values `notify` would be given: the data argument of the script's call
(`notify("sms", phone, "<name>", message)` with `message = {...}` before it), each value
evaluated on the sample case's data by the restricted evaluator with no helpers (a preview
books nothing and sends nothing). A value that needs a helper or a variable the script makes
on the way is shown as `[name]` and listed, so the preview still shows the wording.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from engine.core.errors import NotFound
from engine.definitions import templates as message_templates
from engine.definitions.deploy import Deployed
from engine.definitions.sources import SourceFile, local_name
from engine.runtime.preview_sample import (
    PREVIEW_TIME_S,
    Rendered,
    Sample,
    process_version,
    render_preview,
)
from engine.spiff.environment import RestrictedEnvironment
from engine.spiff.xmlsafe import parse_xml
from engine.store.tables import ProcessVersion

MAX_XML = 50_000_000

# ----- SMS length ------------------------------------------------------------------------------

# GSM 03.38: the basic set (one septet each) and the extension table (escape + one septet).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
# (single message, each part of a longer one): a longer message carries a header per part.
GSM7_LIMITS = (160, 153)
UCS2_LIMITS = (70, 67)


@dataclass(frozen=True)
class SmsCount:
    """How an SMS of this text is sent: `encoding` "GSM-7" (160 in one message, 153 per part)
    or "UCS-2" (any other character, Chinese included: 70, and 67 per part); `length` in
    septets or UTF-16 units; `segments` the messages it takes; `non_gsm` the first characters
    that make it UCS-2."""

    encoding: str
    length: int
    segments: int
    per_segment: int
    non_gsm: str = ""


def sms_count(text: str) -> SmsCount:
    """The length and segment count of an SMS with `text`. A part never ends inside a
    character: a GSM-7 escape pair or a UTF-16 surrogate pair moves whole to the next part."""
    outside = [c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION]
    if outside:
        widths = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, part = UCS2_LIMITS
        encoding = "UCS-2"
    else:
        widths = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, part = GSM7_LIMITS
        encoding = "GSM-7"
    length = sum(widths)
    if length <= single:
        segments, per = (1 if length else 0), single
    else:
        segments, used, per = 1, 0, part
        for width in widths:
            if used + width > part:
                segments, used = segments + 1, 0
            used += width
    return SmsCount(encoding, length, segments, per, "".join(dict.fromkeys(outside))[:5])


# ----- the templates a version keeps -----------------------------------------------------------


@dataclass(frozen=True)
class MessageTemplate:
    """A template of a version: its text, the channels its scripts send it on ("sms",
    "email"; empty when no script names it with a literal channel) and the elements that
    send it."""

    name: str
    filename: str
    text: str
    channels: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Call:
    element_id: str
    channel: str | None
    tree: ast.Module
    node: ast.Call
    data: ast.expr | None


def _scripts(row: ProcessVersion) -> list[tuple[str, str]]:
    """(owning element id, code) of every script of the version's BPMN files."""
    found = []
    for source in row.sources or ():
        if source.get("kind") != "bpmn":
            continue
        root = parse_xml(source["text"].encode("utf-8"), MAX_XML)
        for node in root.iter():
            if not isinstance(node.tag, str) or not node.text:
                continue
            if local_name(node.tag) not in message_templates.SCRIPT_ELEMENTS:
                continue
            owner = node.getparent()
            while owner is not None and not owner.get("id"):
                owner = owner.getparent()
            found.append((owner.get("id") if owner is not None else "", node.text))
    return found


def _notify_calls(scripts: list[tuple[str, str]]) -> dict[str, list[_Call]]:
    """The notify() calls of the scripts by the template they name (as a literal)."""
    calls: dict[str, list[_Call]] = {}
    for element_id, code in scripts:
        for tree, node, args in message_templates.notify_calls(code):
            name = message_templates.literal(args.get("template"))
            if name:
                channel = message_templates.literal(args.get("channel"))
                call = _Call(element_id, channel, tree, node, args.get("data"))
                calls.setdefault(name, []).append(call)
    return calls


def _templates_of(row: ProcessVersion) -> list[MessageTemplate]:
    kept = message_templates.version_templates(row.sources) or {}
    calls = _notify_calls(_scripts(row)) if kept else {}
    return [
        MessageTemplate(
            name,
            f"{name}{message_templates.SUFFIX}",
            text,
            tuple(sorted({c.channel for c in calls.get(name, ()) if c.channel})),
            tuple(dict.fromkeys(c.element_id for c in calls.get(name, ()))),
        )
        for name, text in sorted(kept.items())
    ]


def version_message_templates(
    runtime: Any, key: str, version: int | None = None
) -> list[MessageTemplate]:
    """The message templates version `version` (default: the newest) of process `key` keeps,
    with the channels its scripts send them on."""
    with runtime.db.read() as session:
        row = process_version(session, key, version)
        return _templates_of(row)


def message_template(runtime: Any, key: str, name: str) -> MessageTemplate:
    """Template `name` as the newest version of process `key` keeps it; NotFound when it
    keeps none of that name (only a kept template can be deployed for the process)."""
    found = next((t for t in version_message_templates(runtime, key) if t.name == name), None)
    if found is None:
        raise NotFound(
            f"the newest version of process {key!r} keeps no message template {name!r}",
            reason="template_not_found",
            process=key,
            name=name,
        )
    return found


def _assigned_dict(node: ast.expr) -> dict[str, ast.expr] | None:
    """The items of a dict display or of dict(a=…, …) with literal keys."""
    if isinstance(node, ast.Dict):
        return {
            k.value: v
            for k, v in zip(node.keys, node.values, strict=True)
            if isinstance(k, ast.Constant) and isinstance(k.value, str)
        }
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        if not node.args:
            return {kw.arg: kw.value for kw in node.keywords if kw.arg}
    return None


def _data_items(call: _Call) -> dict[str, ast.expr] | None:
    """What the call passes as data, key by key: a dict written in the call, or the dict a
    variable was last given before the call in the same script (with `name["k"] = …` after)."""
    if call.data is None:
        return {}
    if not isinstance(call.data, ast.Name):
        return _assigned_dict(call.data)
    name, items = call.data.id, None
    steps = []
    for node in ast.walk(call.tree):
        if isinstance(node, ast.Assign) and node.lineno < call.node.lineno:
            for target in node.targets:
                steps.append((node.lineno, target, node.value))
    for _line, target, value in sorted(steps, key=lambda s: s[0]):
        if isinstance(target, ast.Name) and target.id == name:
            items = _assigned_dict(value)
        elif (
            items is not None
            and isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Name)
            and target.value.id == name
            and (slot := message_templates.literal(target.slice)) is not None
        ):
            items[slot] = value
    return items


def notify_values(
    runtime: Any, key: str, name: str, data: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The values a script's notify() call would give template `name` on a case with `data`
    (see the module's note), and the names of those this data cannot give."""
    with runtime.db.read() as session:
        row = process_version(session, key)
        calls = _notify_calls(_scripts(row)).get(name) or []
    items = _data_items(calls[0]) if calls else None
    if items is None:
        return dict(data), []
    # No helpers: a preview books nothing, sends nothing and reads no other table.
    evaluator = RestrictedEnvironment({}, time_limit_s=PREVIEW_TIME_S)
    values: dict[str, Any] = {}
    unknown: list[str] = []
    for slot, node in items.items():
        try:
            values[slot] = evaluator.evaluate(ast.unparse(node), dict(data))
        except Exception:  # noqa: BLE001 - a value the preview cannot make is shown as such
            values[slot] = f"[{slot}]"
            unknown.append(slot)
    return values, unknown


# ----- preview -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplatePreview:
    """A message template rendered on a sample as `notify` would send it: the e-mail
    subject (a first line "Subject: …"), the text, the SMS count, or the error."""

    sample: Sample
    rendered: Rendered
    subject: str | None = None
    sms: SmsCount | None = None
    unknown: list[str] = field(default_factory=list)


def preview_template(
    runtime: Any, key: str, name: str, text: str, sample: Sample
) -> TemplatePreview:
    """Template text `text` (the edited `name` of process `key`) rendered on `sample`."""
    values, unknown = notify_values(runtime, key, name, sample.data)
    values.setdefault("case_number", sample.case_number or "[case_number]")
    rendered = render_preview(text, values, strict=True)
    if rendered.text is None:
        return TemplatePreview(sample, rendered, unknown=unknown)
    # As engine.worker.notify.render: a first line "Subject: …" is the e-mail's subject.
    body, subject = rendered.text, None
    if body.startswith("Subject:"):
        first, _, body = body.partition("\n")
        subject = first[len("Subject:") :].strip()
    body = body.strip()
    return TemplatePreview(
        sample, Rendered(body), subject=subject, sms=sms_count(body), unknown=unknown
    )


# ----- deploy ----------------------------------------------------------------------------------


def deploy_template(
    runtime: Any, key: str, name: str, text: str, actor: str | None
) -> list[Deployed]:
    """Deploy a new text of template `name`, which the newest version of `key` keeps: every
    process whose newest version keeps it gets a new version with it (running cases keep
    their wording); nothing when the text is the same. Raises DefinitionError for a template
    that does not parse, and NotFound when `key` keeps no such template."""
    template = message_template(runtime, key, name)
    results = runtime.deploy([SourceFile(template.filename, text.encode("utf-8"))], actor=actor)
    return [r for r in results if r.kind == "process"]
