"""DMN entries: what one cell of a decision table may hold, as SpiffWorkflow's DMN engine
evaluates it (engine.definitions.dmn describes how), and the column it belongs to.

Literal entries must fit their column's type (`"abc"` in a number column is refused), the
values an entry compares the input with too (`>= "3"`, `? in (1, "2")`), and FEEL that Python
would misread (`[1..5]`, `"a","b"`, `not("a")`, `true`) is refused with the Python to write.
Code goes through the restricted evaluator's deploy-time check (check_code) as BPMN
expressions do.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from engine.definitions.expressions import check_code
from engine.definitions.sources import Validation, local_name, owner_id

TYPES = ("string", "integer", "long", "double", "number", "boolean", "date")
_NUMBERS = {"integer", "long", "double", "number"}
_WHOLE = {"integer", "long"}
PLACEHOLDER = "dmninputexpr"  # what SpiffWorkflow puts for `?` (and we for the input)
# SpiffWorkflow's own pattern for a `?` outside quotes (DMNEngine.evaluate).
_QUESTION = re.compile(r"(\?)(?=(?:[^\'\"]|[\'\"][^\'\"]*[\'\"])*$)")
_NUMBER = r"-?\d+(?:\.\d+)?"
_FEEL_RANGE = re.compile(rf"^([\[\]\(])\s*({_NUMBER})\s*\.\.\s*({_NUMBER})\s*([\]\[\)])$")
_FEEL_WORDS = {"true": "True", "false": "False", "null": "None"}


@dataclass(frozen=True)
class Column:
    kind: str  # "input" or "output"
    number: int  # 1-based, as the editor shows it
    element_id: str | None
    title: str
    type: str  # "" when none is given
    expression: str = ""  # an input's expression

    def where(self, decision: str, rule: int | None = None) -> str:
        if rule is None:
            return f'decision {decision}, {self.kind} {self.number} "{self.title}"'
        return f'decision {decision}, rule {rule}, {self.kind} entry {self.number} "{self.title}"'


def children(node: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in node if local_name(c.tag) == name]


def entry_text(node: etree._Element) -> str | None:
    """The text of a node's <text> child, None when it has none."""
    found = children(node, "text")
    return (found[0].text or "") if found else None


def matches(entry: etree._Element) -> str | None:
    """What an input entry tests, spaces normalised; None when it matches anything."""
    text = entry_text(entry)
    if text is None or text == "-" or not text.strip():
        return None
    return " ".join(text.split())


def check_input_entry(
    v: Validation, filename: str, where: str, column: Column, entry: etree._Element
) -> None:
    """One input entry, taken the way DMNEngine.evaluate takes it: any value, a test with `?`,
    a value compared with ==, or a text appended to the input expression."""
    raw = entry_text(entry)
    element = owner_id(entry)
    if raw is None:
        v.add(filename, element, f"{where}: the entry has no <text> (write - for any value)")
        return
    if raw == "" or raw == "-":
        return
    text = raw.strip()
    if not text:
        v.add(filename, element, f"{where}: the entry is only spaces; write - for any value")
        return
    if text == "-":
        v.add(filename, element, f"{where}: write - without spaces around it for any value")
        return
    if range_hint := _range_hint(text):
        v.add(filename, element, f"{where}: {text} is a FEEL range; {range_hint}")
        return
    if _QUESTION.search(raw):
        # `?` stands for the input's value, as SpiffWorkflow substitutes it.
        test = _QUESTION.sub(PLACEHOLDER, raw)
        check_code(v, filename, element, test, script=False, what=where)
        _check_compared(v, filename, element, where, column, test)
        return
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        pass
    else:  # compared with ==
        _check_value(v, filename, element, where, column, text, entry=True)
        check_code(
            v, filename, element, f"({column.expression or PLACEHOLDER}) == ({raw})",
            script=False, what=where,
        )  # fmt: skip
        return
    # Appended to the input expression as written, without a space.
    expression = column.expression or PLACEHOLDER
    if re.match(r"\w", raw) and re.search(r"\w$", expression):
        joined = expression + raw
        v.add(
            filename,
            element,
            f"{where}: {text} is appended to the input expression without a space "
            f"({joined}); write it with ? for the input's value: ? {text}",
        )
        return
    check_code(v, filename, element, expression + raw, script=False, what=where)
    _check_compared(v, filename, element, where, column, PLACEHOLDER + raw)


def check_output_entry(
    v: Validation, filename: str, where: str, column: Column, entry: etree._Element
) -> None:
    """One output entry: an expression, a literal of the column's type, empty only for text."""
    raw = entry_text(entry)
    element = owner_id(entry)
    text = (raw or "").strip()
    if not text:
        if column.type and column.type != "string":
            v.add(
                filename, element, f"{where}: the entry is empty; the column needs a {column.type}"
            )
        return
    check_code(v, filename, element, text, script=False, what=where)
    _check_value(v, filename, element, where, column, text, entry=False)


def _range_hint(text: str) -> str | None:
    match = _FEEL_RANGE.match(text)
    if not match:
        return None
    opening, low, high, closing = match.groups()
    left = "<=" if opening == "[" else "<"
    right = "<=" if closing == "]" else "<"
    return f"SpiffWorkflow evaluates entries as Python: write {low} {left} ? {right} {high}"


def _literal(node: ast.AST) -> tuple[bool, object]:
    """(True, value) for a constant, also a signed number; (False, None) otherwise."""
    if isinstance(node, ast.Constant):
        return True, node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub | ast.UAdd)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        return True, node.operand.value
    return False, None


def _type_problem(column: Column, value: object) -> str | None:
    """Why a literal does not fit its column's type; None when it does (or has no type)."""
    kind = column.type
    if not kind or value is None:
        return None
    shown = repr(value) if not isinstance(value, str) else f'"{value}"'
    if isinstance(value, bool):
        return None if kind == "boolean" else f"{shown} is a boolean; the column's type is {kind}"
    if isinstance(value, int | float):
        if kind in _WHOLE and isinstance(value, float) and not value.is_integer():
            return f"{shown} is not a whole number; the column's type is {kind}"
        if kind in _NUMBERS:
            return None
        if kind == "string":
            return f'{shown} is a number; the column is text: write "{value}"'
        return f"{shown} is a number; the column's type is {kind}"
    if isinstance(value, str):
        if kind == "string":
            return None
        if kind == "date":
            try:
                datetime.fromisoformat(value)
            except ValueError:
                return f'{shown} is not a date (write it as "2026-11-23")'
            return None
        if kind in _NUMBERS:
            return f"{shown} is text; the column's type is {kind}: write the number without quotes"
        return f"{shown} is text; the column's type is {kind}: write True or False"
    return None


def _source(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text, node) or ast.unparse(node)


def _check_value(
    v: Validation,
    filename: str,
    element: str | None,
    where: str,
    column: Column,
    text: str,
    *,
    entry: bool,
) -> None:
    """A whole entry that is one value: a literal of the column's type, not FEEL."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return  # reported by check_code
    is_literal, value = _literal(node)
    problem = _type_problem(column, value) if is_literal else None
    if isinstance(node, ast.Name) and node.id in _FEEL_WORDS:
        problem = f"{node.id} is FEEL; write {_FEEL_WORDS[node.id]}"
    elif isinstance(node, ast.Name) and column.type == "string":
        problem = (
            f'{node.id} reads as a variable, not as text: write "{node.id}" in quotes '
            f"(or str({node.id}) for the variable's value)"
        )
    elif entry and isinstance(node, ast.Tuple):
        items = ", ".join(_source(text, e) for e in node.elts)
        problem = (
            f"{text} is a FEEL list, which SpiffWorkflow compares as one tuple; "
            f"write ? in ({items})"
        )
    elif entry and isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = node.operand
        if isinstance(inner, ast.Tuple):
            python = f"? not in ({', '.join(_source(text, e) for e in inner.elts)})"
        else:
            python = f"? != {_source(text, inner)}"
        problem = f"{text} is FEEL (in Python it compares the input with False); write {python}"
    if problem:
        v.add(filename, element, f"{where}: {problem}")


def _check_compared(
    v: Validation, filename: str, element: str | None, where: str, column: Column, test: str
) -> None:
    """The literals an entry compares the input with (`>= 3`, `? in ("a", "b")`) fit the
    column's type."""
    try:
        tree = ast.parse(test.strip(), mode="eval")
    except SyntaxError:
        return  # reported by check_code
    problems: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for index, op in enumerate(node.ops):
            pair = operands[index : index + 2]
            others = [o for o in pair if not (isinstance(o, ast.Name) and o.id == PLACEHOLDER)]
            if len(others) == len(pair):
                continue  # does not involve the input
            for other in others:
                values = (
                    other.elts
                    if isinstance(op, ast.In | ast.NotIn)
                    and isinstance(other, ast.Tuple | ast.List | ast.Set)
                    else [other]
                )
                for value in values:
                    is_literal, literal = _literal(value)
                    if is_literal and (problem := _type_problem(column, literal)):
                        problems.append(problem)
    for problem in dict.fromkeys(problems):
        v.add(filename, element, f"{where}: {problem}")
