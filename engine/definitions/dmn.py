"""DMN checks: every input expression and every input and output entry of a decision table is
an expression the restricted evaluator accepts."""

from __future__ import annotations

from lxml import etree

from engine.definitions.expressions import check_code
from engine.definitions.sources import Validation, local_name, owner_id


def check_dmn_tree(v: Validation, filename: str, root: etree._Element) -> None:
    for table in root.iter():
        if local_name(table.tag) != "decisionTable":
            continue
        inputs = [
            (next((t.text or "" for t in i.iter() if local_name(t.tag) == "text"), "")).strip()
            for i in table
            if local_name(i.tag) == "input"
        ]
        for rule in (r for r in table if local_name(r.tag) == "rule"):
            entries = [e for e in rule if local_name(e.tag) == "inputEntry"]
            for input_expr, entry in zip(inputs, entries, strict=False):
                text = "".join(t.text or "" for t in entry if local_name(t.tag) == "text").strip()
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
                check_code(
                    v, filename, owner_id(entry), candidate, script=False, what="input entry"
                )
            for entry in (e for e in rule if local_name(e.tag) == "outputEntry"):
                text = "".join(t.text or "" for t in entry if local_name(t.tag) == "text").strip()
                if text:
                    check_code(
                        v, filename, owner_id(entry), text, script=False, what="output entry"
                    )
        for expr in inputs:
            if expr:
                check_code(
                    v, filename, owner_id(table), expr, script=False, what="input expression"
                )
