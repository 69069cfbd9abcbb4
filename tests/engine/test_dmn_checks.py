"""Decision tables are checked at deploy against what SpiffWorkflow's DMN engine can run: the
hit policy, the columns, one entry per column in each rule, literal entries of their column's
type, Python rather than FEEL, and rules of a UNIQUE table that cannot both match. Each problem
names the file, the decision, the rule and the column, on the element id of the cell."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest

from engine.core.settings import REPO_SETTINGS, load_settings
from engine.definitions.sources import DefinitionError, Problem, SourceFile
from engine.definitions.validation import validate
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = load_settings(REPO_SETTINGS)
SHIPPED = sorted((ROOT / "processes").glob("*.dmn"))

KIND = ("in_kind", "類型", "kind", "string")
AREA = ("in_area", "面積", "area", "number")
PRICE = ("out_price", "價格", "price", "number")


def table(
    rules: list[tuple[list[str | None], list[str | None]]],
    *,
    inputs: list[tuple[str, str, str, str | None]] = (KIND, AREA),
    outputs: list[tuple[str, str, str | None, str | None]] = (PRICE,),
    hit_policy: str | None = "FIRST",
    extra: str = "",
) -> bytes:
    """A one-decision file (decision `cleaning_quote`, as tests/fixtures/quote_flow.bpmn calls
    it); an entry of None has no <text>, a typeRef or name of None is left out. Entry ids are
    r<rule>_in<column> and r<rule>_out<column>."""

    def attr(name: str, value: str | None) -> str:
        return f" {name}={quoteattr(value)}" if value is not None else ""

    cols = "".join(
        f'<input id="{i}" label="{label}"><inputExpression id="{i}_e"{attr("typeRef", t)}>'
        f"<text>{escape(expr)}</text></inputExpression></input>"
        for i, label, expr, t in inputs
    )
    cols += "".join(
        f'<output id="{o}" label="{label}"{attr("name", name)}{attr("typeRef", t)} />'
        for o, label, name, t in outputs
    )

    def entry(tag: str, ident: str, text: str | None) -> str:
        body = "" if text is None else f"<text>{escape(text)}</text>"
        return f'<{tag} id="{ident}">{body}</{tag}>'

    body = "".join(
        f'<rule id="r{n}">'
        + "".join(entry("inputEntry", f"r{n}_in{k}", t) for k, t in enumerate(ins, 1))
        + "".join(entry("outputEntry", f"r{n}_out{k}", t) for k, t in enumerate(outs, 1))
        + "</rule>"
        for n, (ins, outs) in enumerate(rules, 1)
    )
    policy = attr("hitPolicy", hit_policy)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="defs_quote" '
        'name="報價" namespace="http://caseflow.example/test">'
        f'<decision id="cleaning_quote" name="保潔報價"><decisionTable id="quote_table"{policy}'
        f"{extra}>{cols}{body}</decisionTable></decision></definitions>"
    ).encode()


GOOD_RULES = [(['"deep"', ">= 100"], ["area * 12"]), (["-", "-"], ["200"])]


def problems(data: bytes) -> list[Problem]:
    try:
        validate([SourceFile("quote.dmn", data)], SETTINGS, {})
    except DefinitionError as exc:
        return exc.problems
    return []


def only(data: bytes) -> Problem:
    found = problems(data)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_the_shipped_decision_tables_pass(path: Path) -> None:
    assert problems(path.read_bytes()) == []


def test_the_shipped_tables_are_the_three_known_ones() -> None:
    assert [p.name for p in SHIPPED] == [
        "consultation.category.dmn",
        "home_cleaning_dispatch.base_rate.dmn",
        "home_cleaning_dispatch.frequency_discount.dmn",
    ]


@pytest.mark.parametrize("policy", ["UNIQUE", "FIRST", "COLLECT", None])
def test_supported_hit_policies_pass(policy: str | None) -> None:
    rules = [(['"deep"', ">= 100"], ["1"]), (['"regular"', "-"], ["2"])]
    assert problems(table(rules, hit_policy=policy)) == []


@pytest.mark.parametrize("policy", ["PRIORITY", "ANY", "RULE ORDER", "OUTPUT ORDER"])
def test_an_unsupported_hit_policy_is_refused_by_name(policy: str) -> None:
    found = only(table(GOOD_RULES, hit_policy=policy))
    assert found.element_id == "quote_table"
    assert f"hit policy {policy} is not supported" in found.message
    assert "decision cleaning_quote" in found.message


def test_collect_with_an_aggregation_is_refused() -> None:
    found = only(table(GOOD_RULES, hit_policy="COLLECT", extra=' aggregation="SUM"'))
    assert "aggregation SUM" in found.message


def test_an_input_needs_an_expression() -> None:
    found = only(table(GOOD_RULES, inputs=[KIND, ("in_area", "面積", "", "number")]))
    assert found.element_id == "in_area"
    assert found.message.startswith('decision cleaning_quote, input 2 "面積": has no expression')


@pytest.mark.parametrize("type_ref", ["dateTime", "time", "Number"])
def test_an_input_type_must_be_supported(type_ref: str) -> None:
    found = only(table(GOOD_RULES, inputs=[KIND, ("in_area", "面積", "area", type_ref)]))
    assert found.element_id == "in_area" and f"type {type_ref!r} is not supported" in found.message


def test_an_input_without_a_type_passes() -> None:
    assert problems(table(GOOD_RULES, inputs=[KIND, ("in_area", "面積", "area", None)])) == []


@pytest.mark.parametrize(
    "name, expected",
    [(None, "has no name"), ("", "has no name"), ("單價", "is not a variable name")],
)
def test_an_output_needs_a_variable_name(name: str | None, expected: str) -> None:
    found = only(table(GOOD_RULES, outputs=[("out_price", "價格", name, "number")]))
    assert found.element_id == "out_price" and expected in found.message


def test_an_output_may_name_a_nested_value() -> None:
    assert (
        problems(table(GOOD_RULES, outputs=[("out_price", "價格", "quote.price", "number")])) == []
    )


@pytest.mark.parametrize(
    "type_ref, expected", [(None, "has no type"), ("money", "type 'money' is not supported")]
)
def test_an_output_needs_a_supported_type(type_ref: str | None, expected: str) -> None:
    found = only(table(GOOD_RULES, outputs=[("out_price", "價格", "price", type_ref)]))
    assert found.element_id == "out_price" and expected in found.message


@pytest.mark.parametrize(
    "ins, outs", [(['"deep"'], ["1"]), (['"deep"', "-", "-"], ["1"]), (['"deep"', "-"], [])]
)
def test_each_rule_has_one_entry_per_column(ins: list[str], outs: list[str]) -> None:
    # (The DMN schema's check may add its own, less readable, message.)
    found = [p for p in problems(table([(['"deep"', "-"], ["1"]), (ins, outs)])) if p.element_id]
    assert len(found) == 1 and found[0].element_id == "r2"
    assert found[0].message.startswith("decision cleaning_quote, rule 2: has ")


def test_an_entry_needs_its_text() -> None:
    found = [p for p in problems(table([(['"deep"', None], ["1"])])) if p.element_id]
    assert len(found) == 1 and found[0].element_id == "r1_in2"
    assert "has no <text>" in found[0].message


@pytest.mark.parametrize(
    "ins, outs, cell, expected",
    [
        (['"deep"', '"abc"'], ["1"], "r1_in2", '"abc" is text; the column\'s type is number'),
        (['"deep"', "-"], ['"abc"'], "r1_out1", '"abc" is text; the column\'s type is number'),
        (["deep", "-"], ["1"], "r1_in1", 'deep reads as a variable, not as text: write "deep"'),
        (["5", "-"], ["1"], "r1_in1", 'is a number; the column is text: write "5"'),
        (['"deep"', "True"], ["1"], "r1_in2", "True is a boolean; the column's type is number"),
        (['"deep"', "-"], [""], "r1_out1", "the entry is empty; the column needs a number"),
    ],
)
def test_literal_entries_match_their_column_type(
    ins: list[str], outs: list[str], cell: str, expected: str
) -> None:
    found = only(table([(ins, outs)]))
    assert found.element_id == cell
    assert expected in found.message, found.message


def test_whole_numbers_booleans_and_dates_are_checked() -> None:
    inputs = [
        ("in_n", "人數", "people", "integer"),
        ("in_b", "急件", "urgent", "boolean"),
        ("in_d", "日期", "day", "date"),
    ]
    good = [(["3", "True", '"2026-11-23"'], ["1"]), (["> 2", "-", '>= "2026-12-01"'], ["2"])]
    assert problems(table(good, inputs=inputs)) == []
    bad = table([(["2.5", '"yes"', '"next week"'], ["1"])], inputs=inputs)
    assert {(p.element_id, p.message.split(": ", 1)[1]) for p in problems(bad)} == {
        ("r1_in1", "2.5 is not a whole number; the column's type is integer"),
        ("r1_in2", '"yes" is text; the column\'s type is boolean: write True or False'),
        ("r1_in3", '"next week" is not a date (write it as "2026-11-23")'),
    }


@pytest.mark.parametrize(
    "entry", [">= 100", "< 3.5", "!= 7", "1 <= ? <= 5", "? in (10, 20)", " in (1, 2)"]
)
def test_comparisons_and_question_mark_tests_pass_for_numbers(entry: str) -> None:
    assert problems(table([(['"deep"', entry], ["1"])])) == []


@pytest.mark.parametrize(
    "entry, expected",
    [
        ('>= "3"', '"3" is text; the column\'s type is number'),
        ('? in (1, "2")', '"2" is text; the column\'s type is number'),
        ('1 <= ? <= "5"', '"5" is text; the column\'s type is number'),
    ],
)
def test_values_compared_with_the_input_match_its_type(entry: str, expected: str) -> None:
    found = only(table([(['"deep"', entry], ["1"])]))
    assert found.element_id == "r1_in2" and expected in found.message


@pytest.mark.parametrize(
    "entry, python",
    [("[1..5]", "1 <= ? <= 5"), ("]1..5[", "1 < ? < 5"), ("[0..2.5)", "0 <= ? < 2.5")],
)
def test_a_feel_range_is_refused_with_the_python_to_write(entry: str, python: str) -> None:
    found = only(table([(['"deep"', entry], ["1"])]))
    assert found.element_id == "r1_in2"
    assert "is a FEEL range" in found.message and f"write {python}" in found.message


def test_an_entry_joined_to_the_input_without_a_space_is_refused() -> None:
    # SpiffWorkflow would evaluate "kindin (...)" and fail on every case.
    found = only(table([(['in ("deep", "regular")', "-"], ["1"])]))
    assert found.element_id == "r1_in1"
    assert 'kindin ("deep", "regular")' in found.message
    assert 'write it with ? for the input\'s value: ? in ("deep", "regular")' in found.message


@pytest.mark.parametrize(
    "entry, expected",
    [
        ('"deep","regular"', 'write ? in ("deep", "regular")'),
        ('not("deep")', 'write ? != "deep"'),
        ('not("deep", "regular")', 'write ? not in ("deep", "regular")'),
        ("true", "true is FEEL; write True"),
    ],
)
def test_feel_that_python_would_misread_is_refused(entry: str, expected: str) -> None:
    inputs = [("in_kind", "類型", "kind", "string" if entry != "true" else "boolean"), AREA]
    found = only(table([([entry, "-"], ["1"])], inputs=inputs))
    assert found.element_id == "r1_in1" and expected in found.message, found.message


def test_a_question_mark_inside_quotes_is_text() -> None:
    assert problems(table([(['"deep?"', "-"], ["1"])])) == []


def test_an_unsafe_entry_is_still_refused() -> None:
    found = only(table([(['"deep"', "().__class__"], ["1"])]))
    assert found.element_id == "r1_in2" and "refused" in found.message


def test_identical_rules_of_a_unique_table_are_refused() -> None:
    rules = [
        (['"deep"', ">= 100"], ["1"]),
        (['"regular"', "-"], ["2"]),
        (['"deep"', ">=  100"], ["3"]),
    ]
    found = only(table(rules, hit_policy="UNIQUE"))
    assert found.element_id == "r3"
    assert found.message.startswith(
        "decision cleaning_quote, rule 3: has the same input entries as rule 1"
    )
    assert problems(table(rules, hit_policy="FIRST")) == []


def test_a_unique_table_may_end_with_a_default_rule() -> None:
    # As SpiffArena's examples do: SpiffWorkflow's UNIQUE stops at the first match.
    rules = [(['"deep"', ">= 100"], ["1"]), (["-", ""], ["2"])]
    assert problems(table(rules, hit_policy="UNIQUE")) == []
    assert problems(table([*rules, (["", "-"], ["3"])], hit_policy=None)) != []  # the default


def test_a_file_without_a_decision_is_refused_cleanly() -> None:
    empty = (
        b'<?xml version="1.0"?><definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"'
        b' id="defs_empty" name="n" namespace="http://x"/>'
    )
    assert [p.message for p in problems(empty)] == ["the file has no decision"]


@pytest.mark.parametrize(
    "namespace, expected",
    [
        ("http://www.omg.org/spec/DMN/20180521/MODEL/", "DMN 1.2 files cannot be read"),
        ("http://example.com/not-dmn", "not a DMN file"),
        ("", "not a DMN file"),
    ],
)
def test_the_file_is_dmn_that_spiffworkflow_reads(namespace: str, expected: str) -> None:
    data = table(GOOD_RULES).replace(
        b' xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"',
        f' xmlns="{namespace}"'.encode() if namespace else b"",
    )
    assert [(p.element_id, expected in p.message) for p in problems(data)] == [(None, True)]


def test_dmn_1_1_is_read_too() -> None:
    data = table(GOOD_RULES).replace(
        b"https://www.omg.org/spec/DMN/20191111/MODEL/",
        b"http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    )
    assert problems(data) == []


@pytest.mark.parametrize("tag", ["decision", "input", "output", "rule", "inputEntry"])
def test_every_element_spiffworkflow_reads_has_an_id(tag: str) -> None:
    ident = {
        "decision": b'decision id="cleaning_quote"',
        "input": b'input id="in_area"',
        "output": b'output id="out_price"',
        "rule": b'rule id="r2"',
        "inputEntry": b'inputEntry id="r1_in2"',
    }[tag]
    data = table(GOOD_RULES).replace(ident, ident.split(b" ")[0], 1)
    found = [p for p in problems(data) if f"<{tag}> element has no id" in p.message]
    assert len(found) == 1, [str(p) for p in problems(data)]


def test_one_decision_per_file_and_it_has_a_table() -> None:
    two = table(GOOD_RULES).replace(
        b"</definitions>",
        b'<decision id="second" name="2"><literalExpression id="le"><text>1</text>'
        b"</literalExpression></decision></definitions>",
    )
    assert [(p.element_id, p.message) for p in problems(two)] == [
        (
            "second",
            "SpiffWorkflow reads one decision per file; this one has 2: cleaning_quote, second."
            " Put each decision in a file of its own",
        ),
        (
            "second",
            "decision second has no decision table (SpiffWorkflow runs decision tables only)",
        ),
    ]


def test_a_problem_names_file_decision_rule_and_column() -> None:
    found = only(table([(['"deep"', '"abc"'], ["1"])]))
    assert (found.file, found.element_id) == ("quote.dmn", "r1_in2")
    assert found.message.startswith('decision cleaning_quote, rule 1, input entry 2 "面積": ')
    assert str(found).startswith("quote.dmn: r1_in2: decision cleaning_quote, rule 1")


CASES = [
    ({"kind": "deep", "area": 120}, 1),
    ({"kind": "deep", "area": 3}, 2),
    ({"kind": "regular", "area": 60}, 3),
    ({"kind": "office?", "area": 10}, 4),
    ({"kind": "other", "area": 1}, 5),
]


def test_what_the_checks_accept_runs_as_written(runtime) -> None:
    rules = [
        (['"deep"', ">= 100"], ["1"]),
        (['"deep"', "1 <= ? <= 5"], ["2"]),
        (['? in ("regular", "weekly")', " in (50, 60)"], ["3"]),
        (['"office?"', "-"], ["4"]),
        (["", "-"], ["5"]),
    ]
    runtime.deploy(
        [
            FIXTURES / "quote_flow.bpmn",
            SourceFile(
                "quote.dmn", table(rules, outputs=[("out_price", "價格", "price", "integer")])
            ),
        ]
    )
    for data, price in CASES:
        case = runtime.start_case("quote_flow", data, prevalidated=True)
        assert case.data["price"] == price, data
