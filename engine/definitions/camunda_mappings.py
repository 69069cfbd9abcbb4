"""Camunda's data rules as BPMN and scripts: a business rule task's decision reference and how
its result is mapped, a multi-instance collection as loopDataInputRef/inputDataItem, and
simple input/output mappings (Camunda 7 inputOutput, Camunda 8 ioMapping) as pre- and
post-scripts."""

from __future__ import annotations

import json

from lxml import etree

from engine.definitions.camunda_base import (
    JUEL_NAME,
    PLAIN_NAME,
    Conversion,
    add_script,
    plain_value,
    q,
    spiff_extensions,
)
from engine.definitions.sources import BPMN_NS, SPIFF_NS, local_name


def decision_outputs(dmn_roots: list[etree._Element]) -> dict[str, tuple[str, list[str]]]:
    """decision id → (hit policy, output names) for the deployed DMN files."""
    found: dict[str, tuple[str, list[str]]] = {}
    for root in dmn_roots:
        for decision in root.iter():
            if not isinstance(decision.tag, str) or local_name(decision.tag) != "decision":
                continue
            for table in decision:
                if isinstance(table.tag, str) and local_name(table.tag) == "decisionTable":
                    outputs = [
                        o.get("name") or o.get("id") or ""
                        for o in table
                        if isinstance(o.tag, str) and local_name(o.tag) == "output"
                    ]
                    found[decision.get("id") or ""] = (
                        table.get("hitPolicy", "UNIQUE").upper(),
                        outputs,
                    )
    return found


class DataMappings(Conversion):
    """Decisions, multi-instance collections and input/output mappings."""

    def multi_instance(self, node: etree._Element, collection: str, element: str | None) -> None:
        """Camunda 7's `collection`/`elementVariable`: one instance per item of a case list,
        as BPMN's loopDataInputRef and inputDataItem say it."""
        owner = node.getparent() if node.getparent() is not None else node
        match = JUEL_NAME.match(collection)
        name = match.group(1) if match else collection.strip()
        if not PLAIN_NAME.match(name):
            self.refuse(
                owner,
                f"camunda:collection {collection!r} is an expression; name a case variable"
                " holding the list (or compute it in a script task first)",
            )
            return
        if node.find(q(BPMN_NS, "loopCardinality")) is not None:
            self.refuse(owner, "camunda:collection and a loop cardinality are both set: keep one")
            return
        if element is not None and not PLAIN_NAME.match(element):
            self.refuse(owner, f"camunda:elementVariable {element!r} is not a plain name")
            return
        ref = etree.Element(q(BPMN_NS, "loopDataInputRef"))
        ref.text = name
        node.insert(0, ref)
        if element:
            item = etree.Element(q(BPMN_NS, "inputDataItem"), id=element, name=element)
            # After loopDataInputRef/loopDataOutputRef, before the rest (the schema's order).
            refs = [
                c
                for c in node
                if isinstance(c.tag, str)
                and local_name(c.tag) in ("loopDataInputRef", "loopDataOutputRef")
            ]
            node.insert(node.index(refs[-1]) + 1, item)

    def decision(self, node: etree._Element, ref: str, result: str | None, mapping: str) -> None:
        if "${" in ref or "#{" in ref or ref.startswith("="):
            self.refuse(node, f"decisionRef {ref!r} is an expression; name the decision's id")
            return
        ext = spiff_extensions(node)
        called = etree.SubElement(ext, q(SPIFF_NS, "calledDecisionId"))
        called.text = ref
        if not result:
            return
        if not PLAIN_NAME.match(result):
            self.refuse(node, f"resultVariable {result!r} is not a plain variable name")
            return
        hit_policy, outputs = self.decisions.get(ref, ("UNIQUE", []))
        if not outputs:
            return  # the missing decision is reported by the parser
        names = [o for o in outputs if PLAIN_NAME.match(o)]
        if len(names) != len(outputs):
            self.refuse(node, "the decision's output names are not all plain names")
            return
        row = "{" + ", ".join(f"{json.dumps(o)}: {o}" for o in names) + "}"
        if hit_policy.startswith("COLLECT") or hit_policy in ("RULE ORDER", "OUTPUT ORDER"):
            self.refuse(
                node,
                f"mapDecisionResult with a {hit_policy} decision is not supported: the"
                " decision's outputs are set as case variables of their own names",
            )
            return
        if mapping == "zeebe":  # Camunda 8: one output is the value, several a context
            mapping = "singleEntry" if len(names) == 1 else "singleResult"
        if mapping == "singleEntry":
            if len(names) != 1:
                self.refuse(
                    node,
                    "mapDecisionResult singleEntry needs a decision with one"
                    f" output; {ref!r} has {len(names)}",
                )
                return
            line = f"{result} = {names[0]}"
        elif mapping == "singleResult":
            line = f"{result} = {row}"
        elif mapping in ("resultList", "collectEntries"):
            line = (
                f"{result} = [{row}]"
                if mapping == "resultList"
                else (f"{result} = [{names[0]}]" if len(names) == 1 else "")
            )
            if not line:
                self.refuse(node, "mapDecisionResult collectEntries needs one output")
                return
        else:
            self.refuse(node, f"mapDecisionResult {mapping!r} is not known")
            return
        add_script(node, "postScript", line)

    def input_output(self, node: etree._Element, child: etree._Element) -> None:
        if local_name(node.tag) not in (
            "userTask",
            "scriptTask",
            "task",
            "manualTask",
            "serviceTask",
            "businessRuleTask",
            "callActivity",
            "subProcess",
            "sendTask",
            "receiveTask",
        ):
            self.refuse(node, "camunda:inputOutput is supported on tasks only")
            return
        for param in child:
            if not isinstance(param.tag, str):
                continue
            which = local_name(param.tag)
            target = param.get("name") or ""
            if any(isinstance(c.tag, str) for c in param):
                self.refuse(
                    node,
                    f"the {which} {target!r} is a script, list or map; only a text value or"
                    " ${name} is supported: compute it in a script task",
                )
                continue
            value = plain_value(param.text or "")
            if value is None or not PLAIN_NAME.match(target):
                self.refuse(
                    node,
                    f"the {which} {target!r} = {(param.text or '').strip()!r} is an expression;"
                    " only a text value or ${name} is supported",
                )
                continue
            if which == "inputParameter":
                add_script(node, "preScript", f"{target} = {value}")
            elif which == "outputParameter":
                add_script(node, "postScript", f"{target} = {value}")

    def io_mapping(self, node: etree._Element, child: etree._Element) -> None:
        for param in child:
            if not isinstance(param.tag, str):
                continue
            which, source, target = (
                local_name(param.tag),
                param.get("source") or "",
                param.get("target") or "",
            )
            value = plain_value(source)
            if value is None or not PLAIN_NAME.match(target):
                self.refuse(
                    node,
                    f"the {which} {source!r} → {target!r} is a FEEL expression; only = name is"
                    " supported: compute it in a script task",
                )
                continue
            add_script(
                node, "preScript" if which == "input" else "postScript", f"{target} = {value}"
            )
