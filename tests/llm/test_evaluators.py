"""Evaluators: parsing up front, each kind passing and failing, python functions, judges."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from ablab.errors import ValidationError
from ablab.llm.evaluators import (
    EvaluatorKind,
    EvaluatorSpec,
    Verdict,
    evaluate,
    evaluate_all,
    load_function,
    parse_evaluator,
    task_passed,
)

FUNCTIONS = "tests.llm.judges_for_tests"


def spec(kind: str, name: str | None = None, **params: Any) -> EvaluatorSpec:
    raw: dict[str, Any] = {"kind": kind, "params": params}
    if name is not None:
        raw["name"] = name
    return parse_evaluator(raw)


# Parsing.


def test_defaults_are_filled_in_and_the_name_defaults_to_the_kind() -> None:
    exact = parse_evaluator({"kind": "exact_match"})
    assert exact == EvaluatorSpec(
        EvaluatorKind.EXACT_MATCH, "exact_match", {"case_sensitive": True, "strip": True}
    )
    assert "value" not in exact.params  # absent: compare with the task's expected output
    assert spec("numeric").params == {"tolerance": 0.0, "relative": False}
    assert spec("judge", judge="strict").params == {"judge": "strict", "rubric": ""}
    assert spec("contains", "mentions-paris", value="Paris").name == "mentions-paris"
    assert spec("exact_match", value=None).params["value"] is None


def test_a_spec_built_directly_gets_a_name_and_a_kind() -> None:
    built = EvaluatorSpec("regex", params={"pattern": "x"})  # type: ignore[arg-type]
    assert built.kind is EvaluatorKind.REGEX
    assert built.name == "regex"
    with pytest.raises(ValidationError, match="unknown evaluator kind 'fuzzy'"):
        EvaluatorSpec("fuzzy")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"kind": "fuzzy"}, r"unknown evaluator kind 'fuzzy': use one of exact_match, contains"),
        ({}, "unknown evaluator kind None"),
        ({"kind": "regex", "pattern": "x"}, r"unknown key pattern \(allowed: kind, name, params\)"),
        ({"kind": "regex", "params": ["x"]}, "params of evaluator 'regex' must be an object"),
        ({"kind": "regex", "name": "", "params": {"pattern": "x"}}, "non-empty string"),
        ({"kind": "exact_match", "params": {"case_sensitve": False}}, "unknown key case_sensitve"),
        ({"kind": "exact_match", "params": {"strip": "yes"}}, "strip must be true or false"),
        ({"kind": "contains", "params": {}}, "value must be a non-empty string, got None"),
        ({"kind": "contains", "params": {"value": 3}}, "value must be a non-empty string"),
        (
            {"kind": "contains", "params": {"value": "a", "case_sensitive": 1}},
            "case_sensitive must be true or false",
        ),
        ({"kind": "regex", "params": {}}, "pattern must be a non-empty string"),
        ({"kind": "regex", "params": {"pattern": "[a-"}}, "the pattern does not compile"),
        ({"kind": "json_schema", "params": {}}, "schema must be a JSON Schema object"),
        ({"kind": "json_schema", "params": {"schema": ["x"]}}, "schema must be a JSON Schema"),
        (
            {"kind": "json_schema", "params": {"schema": {"type": "nope"}}},
            "the schema is not valid JSON Schema",
        ),
        (
            {"kind": "json_schema", "params": {"schema": {"required": "name"}}},
            "the schema is not valid JSON Schema",
        ),
        ({"kind": "numeric", "params": {"tolerance": -1}}, "tolerance must be a number of 0"),
        ({"kind": "numeric", "params": {"tolerance": True}}, "tolerance must be a number of 0"),
        ({"kind": "numeric", "params": {"value": "42"}}, "value must be a number, got '42'"),
        ({"kind": "numeric", "params": {"value": float("nan")}}, "value must be a number"),
        ({"kind": "numeric", "params": {"relative": "yes"}}, "relative must be true or false"),
        ({"kind": "python", "params": {}}, "function must be 'module:attr'"),
        ({"kind": "python", "params": {"function": "no_colon"}}, "function must be 'module:attr'"),
        ({"kind": "python", "params": {"function": "a:b:c"}}, "function must be 'module:attr'"),
        ({"kind": "python", "params": {"function": "mod:"}}, "function must be 'module:attr'"),
        ({"kind": "judge", "params": {}}, "judge must name a registered judge"),
        ({"kind": "judge", "params": {"judge": "j", "rubric": 3}}, "rubric must be a string"),
    ],
)
def test_bad_specifications_are_refused_up_front(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        parse_evaluator(raw)
    assert "\n" not in caught.value.message


def test_a_python_function_is_not_imported_at_parse_time() -> None:
    parsed = spec("python", function="tests.llm.no_such_module:check")
    with pytest.raises(ValidationError, match=r"cannot load 'tests\.llm\.no_such_module:check'"):
        evaluate(parsed, "output")


def test_judges_can_be_checked_at_parse_time() -> None:
    raw = {"kind": "judge", "params": {"judge": "strict"}}
    assert parse_evaluator(raw, judges={"strict", "lenient"}).params["judge"] == "strict"
    with pytest.raises(ValidationError, match=r"no judge called 'strict' .*lenient"):
        parse_evaluator(raw, judges=["lenient"])


# Each kind.


def test_exact_match_strips_and_optionally_ignores_case() -> None:
    default = spec("exact_match")
    assert evaluate(default, "  Paris\n", expected="Paris").passed
    assert not evaluate(default, "paris", expected="Paris").passed
    assert evaluate(spec("exact_match", case_sensitive=False), "PARIS ", expected="paris").passed
    unstripped = evaluate(spec("exact_match", strip=False), "Paris ", expected="Paris")
    assert not unstripped.passed
    assert unstripped.detail == "expected 'Paris', got 'Paris '"


def test_exact_match_value_overrides_the_expected_output() -> None:
    fixed = spec("exact_match", value="yes")
    assert evaluate(fixed, "yes", expected="no").passed
    assert not evaluate(fixed, "no", expected="no").passed


def test_exact_match_compares_structured_outputs_as_they_are() -> None:
    assert evaluate(spec("exact_match"), {"a": [1, 2]}, expected={"a": [1, 2]}).passed
    assert not evaluate(spec("exact_match"), {"a": [1]}, expected={"a": [1, 2]}).passed
    assert not evaluate(spec("exact_match"), 4, expected="4").passed


def test_exact_match_without_anything_to_compare_with_fails_the_task() -> None:
    verdict = evaluate(spec("exact_match"), "Paris")
    assert not verdict.passed
    assert verdict.detail.startswith("error: nothing to compare with")


def test_contains() -> None:
    mentions = spec("contains", value="Paris")
    assert evaluate(mentions, "The capital is Paris.") == Verdict(
        "contains", passed=True, score=None, detail="contains 'Paris'"
    )
    assert not evaluate(mentions, "The capital is paris.").passed
    assert evaluate(spec("contains", value="Paris", case_sensitive=False), "PARIS!").passed
    structured = evaluate(mentions, {"city": "Paris"})
    assert not structured.passed
    assert structured.detail == "error: the output is not text but dict"


def test_regex_searches_anywhere_unless_anchored() -> None:
    assert evaluate(spec("regex", pattern=r"\d{3}-\d{4}"), "call 555-1234 now").passed
    assert not evaluate(spec("regex", pattern=r"\d{3}-\d{4}"), "call me").passed
    anchored = spec("regex", pattern=r"^(yes|no)$")
    assert evaluate(anchored, "no").passed
    failed = evaluate(anchored, "no, sorry")
    assert not failed.passed
    assert failed.detail == "no match for /^(yes|no)$/"


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"],
}


def test_json_schema_parses_text_output_and_validates_it() -> None:
    person = spec("json_schema", schema=SCHEMA)
    assert evaluate(person, '{"name": "Ada", "age": 36}').passed
    assert evaluate(person, {"name": "Ada"}).passed
    missing = evaluate(person, '{"age": 36}')
    assert not missing.passed
    assert "'name' is a required property" in missing.detail
    negative = evaluate(person, '{"name": "Ada", "age": -1}')
    assert not negative.passed
    assert negative.detail.startswith("invalid at /age:")
    not_json = evaluate(person, "Sure! Here is the JSON: {")
    assert not not_json.passed
    assert not_json.detail.startswith("the output is not JSON")


def test_json_schema_never_fetches_a_remote_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    connections: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        connections.append(address)
        raise OSError("no network in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    remote = spec("json_schema", schema={"$ref": "https://example.com/person.json"})
    verdict = evaluate(remote, "{}")
    assert not verdict.passed
    assert verdict.detail.startswith("error: ")
    assert "example.com" in verdict.detail
    assert connections == []


def test_numeric_compares_with_the_expected_output_or_a_value() -> None:
    exact = spec("numeric")
    assert evaluate(exact, 42, expected=42).passed
    assert evaluate(exact, "42", expected="42.0").passed
    assert not evaluate(exact, 41.9, expected=42).passed
    assert evaluate(spec("numeric", value=3.5), "3.5", expected=99).passed


def test_numeric_tolerance_is_absolute_unless_relative() -> None:
    absolute = spec("numeric", tolerance=0.5)
    assert evaluate(absolute, 42.5, expected=42).passed
    far = evaluate(absolute, 42.6, expected=42)
    assert not far.passed
    assert far.detail == "42.6 is 0.6 away from 42 (allowed 0.5)"
    relative = spec("numeric", tolerance=0.1, relative=True)
    assert evaluate(relative, 1090, expected=1000).passed
    assert not evaluate(relative, 1110, expected=1000).passed
    assert not evaluate(relative, 0.001, expected=0).passed  # a share of 0 is 0


def test_numeric_reads_the_last_number_of_a_text_answer() -> None:
    exact = spec("numeric")
    assert evaluate(exact, "3 apples and 4 pears make 7.", expected=7).passed
    assert evaluate(exact, "The total is $1,250.", expected=1250).passed
    assert evaluate(exact, "-2.5e3", expected=-2500).passed
    assert evaluate(exact, "values 1,2,3", expected=3).passed
    none = evaluate(exact, "I cannot tell.", expected=7)
    assert not none.passed
    assert none.detail.startswith("no number in the output")
    assert not evaluate(exact, True, expected=1).passed  # a bool is not a number


def test_numeric_with_an_expected_output_that_is_no_number_fails_the_task() -> None:
    verdict = evaluate(spec("numeric"), "7", expected="seven")
    assert not verdict.passed
    assert verdict.detail == "error: the expected value 'seven' is not a number"
    # Task data is not guessed at: an expected output must be a number, not hold one.
    vague = evaluate(spec("numeric"), "7", expected="about 7")
    assert vague.detail == "error: the expected value 'about 7' is not a number"
    assert evaluate(spec("numeric"), "7").detail.startswith("error: nothing to compare with")


# Python functions.


def test_a_python_function_answers_in_each_of_its_three_shapes() -> None:
    polite = spec("python", function=f"{FUNCTIONS}:is_polite")
    assert evaluate(polite, "Please sit down.") == Verdict("python", True, None, "")
    assert not evaluate(polite, "Sit down.").passed

    detailed = spec("python", function=f"{FUNCTIONS}:with_detail")
    assert evaluate(detailed, "a", expected="a") == Verdict(
        "python", True, None, "compared 'a' with 'a'"
    )
    assert not evaluate(detailed, "a", expected="b").passed

    graded = spec("python", "length", function=f"{FUNCTIONS}:graded")
    assert evaluate(graded, "0123456") == Verdict("length", True, 0.7, "7 characters")
    assert evaluate(graded, "0123") == Verdict("length", False, 0.4, "4 characters")


def test_a_python_function_gets_output_expected_and_task_input() -> None:
    echo = spec("python", function=f"{FUNCTIONS}:echo")
    verdict = evaluate(echo, "out", expected="exp", task_input={"question": "q"})
    assert verdict.detail == repr(
        {"output": "out", "expected": "exp", "task_input": {"question": "q"}}
    )
    nested = spec("python", function=f"{FUNCTIONS}:Namespace.nested")
    assert evaluate(nested, "x").passed


def test_a_python_function_that_raises_fails_its_task_instead_of_the_run() -> None:
    verdict = evaluate(spec("python", function=f"{FUNCTIONS}:broken"), "x")
    assert verdict == Verdict(
        "python", passed=False, score=None, detail="error: RuntimeError: the evaluator has a bug"
    )
    shape = evaluate(spec("python", function=f"{FUNCTIONS}:wrong_shape"), "x")
    assert not shape.passed
    assert shape.detail.startswith(f"error: {FUNCTIONS}:wrong_shape returned 'yes': return a bool")


def test_a_python_function_that_does_not_load_is_refused() -> None:
    with pytest.raises(ValidationError, match="AttributeError"):
        evaluate(spec("python", function=f"{FUNCTIONS}:missing"), "x")
    with pytest.raises(ValidationError, match="is not callable"):
        evaluate(spec("python", function=f"{FUNCTIONS}:NOT_CALLABLE"), "x")
    with pytest.raises(ValidationError, match="module:attr"):
        load_function("not a reference")


# Judges.


def test_a_judge_gets_the_task_the_output_and_the_rubric() -> None:
    calls: list[dict[str, Any]] = []

    def strict(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return {"pass": kwargs["output"] == kwargs["expected"], "score": 0.9, "reason": "same"}

    judge = spec("judge", "strict-judge", judge="strict", rubric="Is it the same city?")
    verdict = evaluate(
        judge, "Paris", expected="Paris", task_input="capital?", judges={"strict": strict}
    )
    assert verdict == Verdict("strict-judge", True, 0.9, "same")
    assert calls == [
        {
            "task_input": "capital?",
            "output": "Paris",
            "expected": "Paris",
            "rubric": "Is it the same city?",
        }
    ]


def test_a_judge_may_answer_with_a_bool_or_a_pair() -> None:
    judges = {"yes": lambda **_: True, "no": lambda **_: (False, "too long")}
    assert evaluate(spec("judge", judge="yes"), "x", judges=judges).passed
    assert evaluate(spec("judge", judge="no"), "x", judges=judges) == Verdict(
        "judge", False, None, "too long"
    )


def test_an_unknown_judge_is_refused() -> None:
    judge = spec("judge", judge="strict")
    with pytest.raises(
        ValidationError, match=r"no judge called 'strict' is registered \(registered: none\)"
    ):
        evaluate(judge, "x")
    with pytest.raises(ValidationError, match="registered: lenient"):
        evaluate(judge, "x", judges={"lenient": lambda **_: True})


def test_a_judge_that_raises_or_misbehaves_fails_its_task() -> None:
    def down(**_: Any) -> bool:
        raise TimeoutError("the judge model did not answer")

    judges = {
        "down": down,
        "vague": lambda **_: {"pass": True, "score": "high"},
        "odd": lambda **_: 1,
    }
    verdict = evaluate(spec("judge", judge="down"), "x", judges=judges)
    assert verdict == Verdict(
        "judge", False, None, "error: TimeoutError: the judge model did not answer"
    )
    vague = evaluate(spec("judge", judge="vague"), "x", judges=judges)
    assert not vague.passed
    assert vague.detail == "error: judge 'vague' returned the score 'high': give a number"
    odd = evaluate(spec("judge", judge="odd"), "x", judges=judges)
    assert not odd.passed
    assert odd.detail.startswith("error: judge 'odd' returned 1: return a bool")


# Tasks.


def test_a_task_passes_when_every_verdict_passes() -> None:
    specs = [
        spec("contains", value="Paris"),
        spec("regex", "short", pattern=r"^.{1,40}$"),
        spec("judge", judge="j"),
    ]
    judges = {"j": lambda **_: True}
    verdicts = evaluate_all(specs, "It is Paris.", judges=judges)
    assert [v.evaluator for v in verdicts] == ["contains", "short", "judge"]
    assert task_passed(verdicts)
    long = evaluate_all(specs, "It is Paris, " + "and more " * 10, judges=judges)
    assert [v.passed for v in long] == [True, False, True]
    assert not task_passed(long)


def test_a_broken_evaluator_fails_its_task_and_the_others_still_run() -> None:
    specs = [spec("python", function=f"{FUNCTIONS}:broken"), spec("exact_match")]
    verdicts = evaluate_all(specs, "Paris", expected="Paris", task_input="capital?")
    assert [v.passed for v in verdicts] == [False, True]
    assert not task_passed(verdicts)


def test_a_task_without_verdicts_does_not_pass() -> None:
    assert evaluate_all([], "anything") == []
    assert not task_passed([])
