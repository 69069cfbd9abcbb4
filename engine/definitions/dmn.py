"""DMN checks: a decision table deploys only when SpiffWorkflow's DMN engine can run it as the
process owner meant it.

How SpiffWorkflow 3.2 runs a table (SpiffWorkflow.dmn.parser.DMNParser, .engine.DMNEngine):
- it reads the first decision of a file and that decision's first decision table;
- hit policy UNIQUE stops at the first matching rule (it never checks that only one matches),
  COLLECT gathers the outputs of every matching rule into lists (an aggregation such as SUM is
  ignored), and any other policy takes the first match: FIRST's meaning. PRIORITY, ANY, RULE
  ORDER and OUTPUT ORDER would silently run as FIRST, so they are refused;
- an input entry `-` (exactly) or an empty one matches anything; an entry with `?` outside
  quotes is an expression in which `?` is the input's value (`1 <= ? <= 5`); an entry that is
  an expression on its own is compared with `==` (`"日常保潔"`, `3`, `True`); anything else is
  appended to the input expression *without a space*, which works for `>= 3` and turns
  `in (1, 2)` into `areain (1, 2)`;
- an output entry is an expression whose value is stored under the output's name (the label
  when there is no name); an empty one stores "".
Entries are Python, not FEEL: `[1..5]`, `"a","b"`, `not("a")` and `true` (what other DMN tools
write) are refused with the Python to write instead (engine.definitions.dmn_entries checks
each cell; this module the file, the table, its columns and rules). Every problem names the file, and in its
message the decision, the rule number and the column, with the element id of the cell (the
entry) so that an editor can point at it.
"""

from __future__ import annotations

import re

from lxml import etree

from engine.definitions.dmn_entries import (
    TYPES,
    Column,
    check_input_entry,
    check_output_entry,
    children,
    entry_text,
    matches,
)
from engine.definitions.expressions import check_code
from engine.definitions.sources import Validation, local_name, namespace, owner_id

HIT_POLICIES = ("UNIQUE", "FIRST", "COLLECT")
DMN13_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"
DMN12_NS = "http://www.omg.org/spec/DMN/20180521/MODEL/"
# The namespaces whose schema SpiffWorkflow 3.2 loads (DMN 1.1 and 1.3); its DMN 1.2 schema
# fails to load (an unresolved DMNDI reference), so every DMN 1.2 file fails to parse.
READABLE_NS = ("http://www.omg.org/spec/DMN/20151101/dmn.xsd", DMN13_NS)
# What SpiffWorkflow's parser reads with attrib["id"]: a missing id fails with a KeyError.
_NEED_ID = ("decision", "decisionTable", "input", "output", "rule", "inputEntry", "outputEntry")
_OUTPUT_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def check_dmn_tree(v: Validation, filename: str, root: etree._Element) -> bool:
    """Check one DMN file; False when it cannot even be handed to SpiffWorkflow's parser (it
    has no decision), so that the caller skips it rather than let the parser fail."""
    if local_name(root.tag) != "definitions" or namespace(root.tag) not in READABLE_NS:
        if namespace(root.tag) == DMN12_NS:
            message = (
                "DMN 1.2 files cannot be read (SpiffWorkflow's DMN 1.2 schema does not load);"
                f" save the file as DMN 1.3 ({DMN13_NS})"
            )
        else:
            message = (
                f"not a DMN file: the root element must be definitions in the DMN 1.3 "
                f"namespace {DMN13_NS}"
            )
        v.add(filename, None, message)
        return False
    decisions = children(root, "decision")
    if not decisions:
        v.add(filename, owner_id(root), "the file has no decision")
        return False
    if len(decisions) > 1:
        names = ", ".join(d.get("id") or "?" for d in decisions)
        v.add(
            filename,
            decisions[1].get("id"),
            f"SpiffWorkflow reads one decision per file; this one has {len(decisions)}: {names}."
            " Put each decision in a file of its own",
        )
    for decision in decisions:
        decision_id = decision.get("id") or "?"
        for node in decision.iter():
            if local_name(node.tag) in _NEED_ID and not node.get("id"):
                v.add(
                    filename,
                    owner_id(node),
                    f"decision {decision_id}: a <{local_name(node.tag)}> element has no id"
                    " (SpiffWorkflow needs one on every decision, table, column, rule and entry)",
                )
        tables = children(decision, "decisionTable")
        if not tables:
            v.add(
                filename,
                decision.get("id"),
                f"decision {decision_id} has no decision table (SpiffWorkflow runs decision "
                "tables only)",
            )
            continue
        _check_table(v, filename, decision_id, tables[0])
    return True


def _check_table(v: Validation, filename: str, decision: str, table: etree._Element) -> None:
    policy = (table.get("hitPolicy") or "UNIQUE").upper()
    if policy not in HIT_POLICIES:
        v.add(
            filename,
            owner_id(table),
            f"decision {decision}: hit policy {policy} is not supported; SpiffWorkflow runs "
            "UNIQUE, FIRST and COLLECT (any other policy would silently run as FIRST)",
        )
    elif policy == "COLLECT" and table.get("aggregation"):
        v.add(
            filename,
            owner_id(table),
            f"decision {decision}: COLLECT with aggregation {table.get('aggregation')} is not "
            "supported; SpiffWorkflow collects every matching rule's outputs into lists",
        )
    inputs = [
        _input_column(v, filename, decision, n, i)
        for n, i in enumerate(children(table, "input"), 1)
    ]
    outputs = [
        _output_column(v, filename, decision, n, o)
        for n, o in enumerate(children(table, "output"), 1)
    ]
    keys: list[tuple[int, str | None, tuple[str | None, ...]]] = []
    for number, rule in enumerate(children(table, "rule"), 1):
        in_entries = children(rule, "inputEntry")
        out_entries = children(rule, "outputEntry")
        if len(in_entries) != len(inputs) or len(out_entries) != len(outputs):
            v.add(
                filename,
                owner_id(rule),
                f"decision {decision}, rule {number}: has {len(in_entries)} input and "
                f"{len(out_entries)} output entries; the table has {len(inputs)} inputs and "
                f"{len(outputs)} outputs",
            )
            continue
        for column, entry in zip(inputs, in_entries, strict=True):
            check_input_entry(v, filename, column.where(decision, number), column, entry)
        for column, entry in zip(outputs, out_entries, strict=True):
            check_output_entry(v, filename, column.where(decision, number), column, entry)
        keys.append((number, rule.get("id"), tuple(matches(e) for e in in_entries)))
    if policy == "UNIQUE":
        _check_overlaps(v, filename, decision, keys)


def _input_column(
    v: Validation, filename: str, decision: str, number: int, node: etree._Element
) -> Column:
    found = children(node, "inputExpression")
    expression = (entry_text(found[0]) or "").strip() if found else ""
    type_ref = (found[0].get("typeRef") or "").strip() if found else ""
    column = Column(
        "input",
        number,
        node.get("id"),
        node.get("label") or expression or node.get("id") or "",
        type_ref if type_ref in TYPES else "",  # an unknown type is reported once
        expression,
    )
    if not expression:
        v.add(
            filename,
            node.get("id"),
            f"{column.where(decision)}: has no expression (the case variable, or Python "
            "expression, whose value the rules test)",
        )
    else:
        check_code(
            v, filename, node.get("id"), expression, script=False,
            what=f"{column.where(decision)}: the expression",
        )  # fmt: skip
    if type_ref and type_ref not in TYPES:
        v.add(
            filename,
            node.get("id"),
            f"{column.where(decision)}: type {type_ref!r} is not supported; use one of "
            f"{', '.join(TYPES)} (or none)",
        )
    return column


def _output_column(
    v: Validation, filename: str, decision: str, number: int, node: etree._Element
) -> Column:
    name = (node.get("name") or "").strip()
    type_ref = (node.get("typeRef") or "").strip()
    column = Column(
        "output",
        number,
        node.get("id"),
        node.get("label") or name or node.get("id") or "",
        type_ref if type_ref in TYPES else "",
    )
    if not name:
        v.add(
            filename,
            node.get("id"),
            f"{column.where(decision)}: has no name (the case variable the result is stored in)",
        )
    elif not _OUTPUT_NAME.match(name):
        v.add(
            filename,
            node.get("id"),
            f"{column.where(decision)}: the name {name!r} is not a variable name (letters, "
            "digits and _, not starting with a digit; dots for nested values)",
        )
    if not type_ref:
        v.add(
            filename,
            node.get("id"),
            f"{column.where(decision)}: has no type; use one of {', '.join(TYPES)}",
        )
    elif type_ref not in TYPES:
        v.add(
            filename,
            node.get("id"),
            f"{column.where(decision)}: type {type_ref!r} is not supported; use one of "
            f"{', '.join(TYPES)}",
        )
    return column


def _check_overlaps(
    v: Validation,
    filename: str,
    decision: str,
    rules: list[tuple[int, str | None, tuple[str | None, ...]]],
) -> None:
    """In a UNIQUE table, two rules with the same input entries match the same cases, and
    SpiffWorkflow would silently take the first. (A last rule of `-` under more specific ones
    is left alone: SpiffArena's own examples use it as the default, since SpiffWorkflow's
    UNIQUE stops at the first match.)"""
    seen: dict[tuple[str | None, ...], int] = {}
    for number, rule_id, tests in rules:
        if tests in seen:
            v.add(
                filename,
                rule_id,
                f"decision {decision}, rule {number}: has the same input entries as rule "
                f"{seen[tests]}, so both match the same cases; a UNIQUE table needs rules that "
                "exclude each other (use hit policy FIRST if the first matching rule should win)",
            )
        else:
            seen[tests] = number
