"""Task instructions as process owners edit them: the instructions of a process's user tasks
(`spiffworkflow:instructionsForEndUser`), a preview rendered on a running case as the task page
renders them, and deploying changed instructions as a new version of the process.

Deploying writes the new text into the process's stored BPMN (only that element's text changes;
the element is added when the task had none) and deploys it as the modeler does
(engine.runtime.versions.deploy_diagram), so validation, companion files and the new version are
exactly those of an edit in the modeler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from engine.core.errors import NotFound
from engine.definitions import templates as message_templates
from engine.definitions.deploy import Deployed
from engine.definitions.sources import BPMN_NS, SPIFF_NS, DefinitionError, Problem
from engine.runtime.preview_sample import Rendered, Sample, process_version, render_preview
from engine.runtime.versions import deploy_diagram
from engine.spiff.xmlsafe import parse_xml
from engine.store.tables import ProcessVersion

MAX_XML = 50_000_000
INSTRUCTIONS = f"{{{SPIFF_NS}}}instructionsForEndUser"
EXTENSIONS = f"{{{BPMN_NS}}}extensionElements"
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>\s*")


@dataclass(frozen=True)
class TaskInstructions:
    """A user task of the process's own BPMN file with its instructions (None: it has none)."""

    element_id: str
    name: str
    role: str | None
    text: str | None


def _own_source(row: ProcessVersion) -> dict[str, str]:
    """The stored BPMN file that defines the process itself (not a process it calls)."""
    for source in row.sources or ():
        if source.get("kind") == "bpmn" and f'id="{row.key}"' in source["text"]:
            return source
    raise NotFound(
        f"version {row.version} of {row.key!r} keeps no BPMN file defining it",
        reason="version_without_bpmn",
        process=row.key,
        version=row.version,
    )


def _process(root: Any, key: str) -> Any:
    found = next((p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("id") == key), None)
    if found is None:
        raise NotFound(
            f"no process {key!r} in its BPMN file", reason="process_not_in_file", process=key
        )
    return found


def _user_tasks(row: ProcessVersion) -> tuple[dict[str, str], list[Any]]:
    source = _own_source(row)
    root = parse_xml(source["text"].encode("utf-8"), MAX_XML)
    return source, list(_process(root, row.key).iter(f"{{{BPMN_NS}}}userTask"))


def task_instructions(runtime: Any, key: str, version: int | None = None) -> list[TaskInstructions]:
    """The user tasks of process `key` (version `version`, default the newest) in its own BPMN
    file, in the file's order, with their instructions. Tasks of the processes it calls are
    edited on those processes' pages."""
    with runtime.db.read() as session:
        row = process_version(session, key, version)
        try:
            _source, tasks = _user_tasks(row)
        except NotFound:  # (a version whose files do not name the process: nothing to edit)
            return []
        meta = row.task_meta or {}
    found = []
    for task in tasks:
        element_id = task.get("id") or ""
        node = task.find(f"{EXTENSIONS}/{INSTRUCTIONS}")
        text = "".join(node.itertext()) if node is not None else None
        found.append(
            TaskInstructions(
                element_id,
                (task.get("name") or "").strip() or element_id,
                (meta.get(element_id) or {}).get("role"),
                text if text and text.strip() else None,
            )
        )
    return found


def task_instruction(runtime: Any, key: str, element_id: str) -> TaskInstructions:
    """One user task of the newest version of `key`; NotFound when it has none of that id."""
    for task in task_instructions(runtime, key):
        if task.element_id == element_id:
            return task
    raise NotFound(
        f"process {key!r} has no user task {element_id!r}",
        reason="user_task_not_found",
        process=key,
        element=element_id,
    )


def preview_instructions(text: str, sample: Sample) -> Rendered:
    """Instructions `text` rendered on `sample` as the task page renders them (the bounded
    sandbox in an evaluator process; a missing value shows as nothing)."""
    return render_preview(text, sample.data, strict=False)


def with_instructions(xml: str, element_id: str, text: str) -> str:
    """BPMN text `xml` with the instructions of user task `element_id` set to `text` (empty:
    removed). When the task has instructions already, only their text changes in the file;
    otherwise the element is added and the file is written back by lxml (the same XML,
    possibly with other spacing inside tags)."""
    parse_xml(xml.encode("utf-8"), MAX_XML)  # refuses DTDs, entities and oversized files
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=False,
        strip_cdata=False,
    )
    root = etree.fromstring(_DECLARATION.sub("", xml, count=1).encode("utf-8"), parser)
    task = next((t for t in root.iter(f"{{{BPMN_NS}}}userTask") if t.get("id") == element_id), None)
    if task is None:
        raise NotFound(
            f"no user task {element_id!r} in the BPMN file",
            reason="user_task_not_in_file",
            element=element_id,
        )
    extensions = task.find(EXTENSIONS)
    node = extensions.find(INSTRUCTIONS) if extensions is not None else None
    if node is not None and text.strip():
        spliced = _splice(xml, root, node, text, parser)
        if spliced is not None:
            return spliced
    if not text.strip():
        if node is not None:
            extensions.remove(node)
    else:
        if extensions is None:
            # extensionElements comes right after documentation (BPMN 2.0 schema order).
            extensions = etree.Element(EXTENSIONS)
            docs = task.findall(f"{{{BPMN_NS}}}documentation")
            task.insert(task.index(docs[-1]) + 1 if docs else 0, extensions)
        if node is None:
            declared = SPIFF_NS in task.nsmap.values()
            nsmap = None if declared else {"spiffworkflow": SPIFF_NS}
            node = etree.SubElement(extensions, INSTRUCTIONS, nsmap=nsmap)
        _set_text(node, text)
    out = etree.tostring(root.getroottree(), encoding="unicode")
    declaration = _DECLARATION.match(xml)
    if declaration:
        out = declaration.group(0).rstrip() + "\n" + out
    return out + ("\n" if xml.endswith("\n") and not out.endswith("\n") else "")


def _set_text(node: Any, text: str) -> None:
    for child in list(node):
        node.remove(child)
    node.text = text


def _splice(xml: str, root: Any, node: Any, text: str, parser: Any) -> str | None:
    """`xml` with the content of `node` (an instructions element) replaced by `text` in place,
    leaving every other character of the file as it was; None when the element cannot be
    found in the text for sure (the caller then writes the file with lxml)."""
    qname = f"{node.prefix}:instructionsForEndUser" if node.prefix else "instructionsForEndUser"
    same = [n for n in root.iter(INSTRUCTIONS) if n.prefix == node.prefix]
    tags = list(re.finditer(rf"<{re.escape(qname)}(\s[^<>]*?)?(/?)>", xml))
    if len(tags) != len(same):
        return None
    tag = tags[same.index(node)]
    content = escape(text)
    if tag.group(2):  # <x:instructionsForEndUser/>
        begin, end = tag.start(), tag.end()
        content = f"<{qname}{tag.group(1) or ''}>{content}</{qname}>"
    else:
        begin = end = tag.end()
        close = xml.find(f"</{qname}>", begin)
        if close < 0:
            return None
        end = close
    spliced = xml[:begin] + content + xml[end:]
    _set_text(node, text)  # what the file must read as, to check the splice against
    try:
        again = etree.fromstring(_DECLARATION.sub("", spliced, count=1).encode("utf-8"), parser)
    except etree.XMLSyntaxError:
        return None
    if etree.tostring(again, method="c14n") != etree.tostring(root, method="c14n"):
        return None
    return spliced


def deploy_instructions(
    runtime: Any, key: str, element_id: str, text: str, actor: str | None
) -> list[Deployed]:
    """Deploy the newest version of `key` with new instructions for user task `element_id`,
    as the modeler deploys an edited diagram: a new version of the processes the file
    defines (none when the text is the same). Raises DefinitionError when the instructions
    are not a valid template, and NotFound for an unknown task."""
    task_instruction(runtime, key, element_id)
    with runtime.db.read() as session:
        source = dict(_own_source(process_version(session, key)))
    if problem := message_templates.syntax_problem(text):
        message = f"instructions are not a valid template: {problem}"
        raise DefinitionError([Problem(source["filename"], element_id, message)])
    xml = with_instructions(source["text"], element_id, text)
    return deploy_diagram(runtime, source["filename"], xml, actor)
