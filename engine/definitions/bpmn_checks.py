"""BPMN checks made on the XML itself, before SpiffWorkflow parses it: sequence flows with ids,
lanes as roles, expressions, script tasks written in Python, timers, instructions, and the
`outcome` and `summary` properties on the elements they belong to."""

from __future__ import annotations

from lxml import etree

from engine.core.outcomes import OUTCOME_PROPERTY, OUTCOMES
from engine.core.summaries import SUMMARIES, SUMMARY_PROPERTY
from engine.definitions.expressions import check_code, check_instructions
from engine.definitions.sources import (
    BPMN_NS,
    CAMUNDA_NS,
    SPIFF_NS,
    Validation,
    local_name,
    namespace,
    owner_id,
)
from engine.definitions.timers import check_timer, quote_bare_iso


def check_bpmn_tree(v: Validation, filename: str, root: etree._Element) -> None:
    """Checks made on the XML itself: lanes, expressions, scripts, timers, instructions."""
    for node in root.iter():
        local, ns = local_name(node.tag), namespace(node.tag)
        text = (node.text or "").strip()
        owner = owner_id(node.getparent()) if node.getparent() is not None else None
        if ns == BPMN_NS and local == "sequenceFlow" and not node.get("id"):
            v.add(
                filename,
                node.get("sourceRef") or owner,
                f"a sequence flow from {node.get('sourceRef')!r} to {node.get('targetRef')!r}"
                " has no id; it would be dropped without a word: give it an id",
            )
        elif ns == BPMN_NS and local == "scriptTask":
            check_script_task(v, filename, node)
        elif ns == BPMN_NS and local == "extensionElements":
            blocks = [
                c for c in node if isinstance(c.tag, str) and c.tag == f"{{{SPIFF_NS}}}properties"
            ]
            if len(blocks) > 1:
                v.add(
                    filename,
                    owner,
                    "the element has more than one spiffworkflow:properties: only the first"
                    " is read; put every property in one",
                )
        elif ns in (SPIFF_NS, CAMUNDA_NS) and local == "property":
            check_outcome(v, filename, node)
            check_summary(v, filename, node)
        elif ns == BPMN_NS and local == "lane":
            lane = node.get("name") or node.get("id")
            if v.settings.role_for_lane(node.get("name")) is None:
                known = ", ".join(f"{k} ({n})" for k, n in v.settings.roles.items())
                v.add(
                    filename,
                    node.get("id"),
                    f"lane {lane!r} is not a known role; known roles: {known}",
                    "name",
                )
        elif ns == BPMN_NS and local in ("timeDuration", "timeDate", "timeCycle"):
            quote_bare_iso(node)
            problem = check_timer(local, node.text or "")
            if problem:
                v.add(filename, owner, problem, local)
        elif not text:
            continue
        elif ns == BPMN_NS and local == "script" and not _python_script(node.getparent()):
            continue  # reported once by check_script_task
        elif (
            ns == BPMN_NS
            and local == "script"
            or ns == SPIFF_NS
            and local in ("preScript", "postScript")
        ):
            owner = owner_id(node.getparent())
            check_code(v, filename, owner, text, script=True, what=local, field=local)
        elif ns == BPMN_NS and local in (
            "conditionExpression",
            "loopCardinality",
            "completionCondition",
            "loopCondition",
        ):
            check_code(v, filename, owner, text, script=False, what=local, field=local)
        elif ns == BPMN_NS and local == "formalExpression":
            check_code(
                v,
                filename,
                owner,
                text,
                script=False,
                what="correlation expression",
                field="correlation",
            )
        elif ns == SPIFF_NS and local in ("messagePayload", "loopCondition"):
            check_code(v, filename, owner, text, script=False, what=local, field=local)
        elif ns == SPIFF_NS and local == "instructionsForEndUser":
            check_instructions(v, filename, owner_id(node.getparent()), text)


def _property_owner(node: etree._Element) -> etree._Element | None:
    element = node.getparent()
    while element is not None and local_name(element.tag) in ("properties", "extensionElements"):
        element = element.getparent()
    return element


def check_outcome(v: Validation, filename: str, node: etree._Element) -> None:
    """An `outcome` property belongs on an end event and names one of the outcomes of
    engine.core.outcomes."""
    if node.get("name") != OUTCOME_PROPERTY:
        return
    element = _property_owner(node)
    owner = element.get("id") if element is not None else None
    if element is None or local_name(element.tag) != "endEvent":
        if element is not None and local_name(element.tag) in ("process", "subProcess"):
            v.add(
                filename,
                owner,
                "outcome is a property of end events, not of a process",
                OUTCOME_PROPERTY,
            )
        else:
            v.add(filename, owner, "outcome is a property of end events only", OUTCOME_PROPERTY)
        return
    value = (node.get("value") or "").strip()
    if value not in OUTCOMES:
        v.add(
            filename,
            owner,
            f"outcome {value!r} is not one of: {', '.join(OUTCOMES)}",
            OUTCOME_PROPERTY,
        )


def check_summary(v: Validation, filename: str, node: etree._Element) -> None:
    """A `summary` property belongs on a user task and names one of the kinds of
    engine.core.summaries (what the daily and weekly summaries count it as)."""
    if node.get("name") != SUMMARY_PROPERTY:
        return
    element = _property_owner(node)
    owner = element.get("id") if element is not None else None
    if element is None or local_name(element.tag) not in ("userTask", "manualTask"):
        v.add(filename, owner, "summary is a property of user tasks only", SUMMARY_PROPERTY)
        return
    value = (node.get("value") or "").strip()
    if value not in SUMMARIES:
        v.add(
            filename,
            owner,
            f"summary {value!r} is not one of: {', '.join(SUMMARIES)}",
            SUMMARY_PROPERTY,
        )


_PYTHON = {"", "python", "python3", "py", "text/x-python", "application/x-python"}


def _python_script(task: etree._Element | None) -> bool:
    return task is None or (task.get("scriptFormat") or "").strip().lower() in _PYTHON


def check_script_task(v: Validation, filename: str, node: etree._Element) -> None:
    """A script task runs Python: one in another language, or with no script at all, is
    refused here rather than failing on the first case that reaches it."""
    language = (node.get("scriptFormat") or "").strip()
    if not _python_script(node):
        v.add(
            filename,
            node.get("id"),
            f"the script is written in {language}; Caseflow runs Python scripts: rewrite it"
            " in Python (or set scriptFormat to python)",
            "script",
        )
        return
    body = "".join(
        (c.text or "") for c in node if isinstance(c.tag, str) and local_name(c.tag) == "script"
    )
    if not body.strip() and not node.get(f"{{{CAMUNDA_NS}}}resource"):
        v.add(filename, node.get("id"), "the script task has no script", "script")
