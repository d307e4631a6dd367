"""Policy question patterns run on RE2: hostile answers cannot stall a process, patterns RE2
cannot run are refused where the catalog is loaded, and the common subset means what it
meant under Python's ``re``."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from typing import Any

import pytest
from domain_support import (
    FINANCE_POLICY,
    KAYO,
    NOW,
    TEXT_QUESTION,
    MakeView,
    caller,
    finance_request,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from accessflow.domain import (
    CatalogValidationError,
    Decision,
    ReasonCode,
    RequestState,
    evaluate_create,
    load_catalog,
    parse_create_request,
)
from accessflow.domain.patterns import (
    MAX_PATTERN_LENGTH,
    PatternError,
    compile_pattern,
    full_match,
)

CATASTROPHIC = r"([A-Za-z0-9]+ ?)+"
HOSTILE = "a" * 40 + "!"
FINANCE_POLICY_INDEX = 2  # assignmentPolicies[2] in examples/catalog.yaml
TEXT_QUESTION_INDEX = 1


def test_a_catastrophic_pattern_answers_a_hostile_value_without_hanging() -> None:
    # Under Python's re this call backtracks for hours; a subprocess bounds the damage if the
    # engine ever regresses, and the generous timeout proves only that it returns at all.
    code = (
        "from accessflow.domain.patterns import full_match\n"
        f"print(full_match({CATASTROPHIC!r}, {HOSTILE!r}), full_match({CATASTROPHIC!r}, 'ab 12'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "True"]


def _set_pattern(document: dict[str, Any], pattern: str) -> None:
    policy = document["assignmentPolicies"][FINANCE_POLICY_INDEX]
    assert policy["id"] == FINANCE_POLICY
    question = policy["questions"][TEXT_QUESTION_INDEX]
    assert question["id"] == TEXT_QUESTION
    question["regexPattern"] = pattern


def test_the_answer_rule_refuses_a_hostile_answer_to_a_catastrophic_pattern(
    make_view: MakeView,
) -> None:
    view = make_view(lambda document: _set_pattern(document, CATASTROPHIC))

    def decide(text_answer: str) -> Decision:
        body = parse_create_request(finance_request(text_answer))
        return evaluate_create(body, caller(KAYO), view, NOW)

    refused = decide(HOSTILE)
    assert (refused.reason, refused.path) == (ReasonCode.INVALID_ANSWER, "answers[1].value")
    assert decide("quarterly close 2026").next_state is RequestState.PENDING_APPROVAL


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(?=.*\d).{8,}", "invalid perl operator: (?="),
        (r"(?!x)\w+", "invalid perl operator: (?!"),
        (r"(?<=a)b", "invalid perl operator: (?<"),
        (r"(\w)\1", r"invalid escape sequence: \1"),
        (r"\d+\Z", r"invalid escape sequence: \Z"),
        (r"(", "missing ): ("),
        (r"(\pL{1000})", "pattern too large"),
        ("x" * (MAX_PATTERN_LENGTH + 1), f"more than the {MAX_PATTERN_LENGTH} allowed"),
        ("\ud800", "not valid Unicode"),
    ],
    ids=[
        "lookahead",
        "negative-lookahead",
        "lookbehind",
        "backreference",
        "python-end-anchor",
        "syntax",
        "program-too-large",
        "too-long",
        "surrogate",
    ],
)
def test_patterns_re2_cannot_run_are_refused_with_the_reason(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError, match=re.escape(reason)):
        compile_pattern(pattern)


def test_a_pattern_of_the_maximum_length_compiles() -> None:
    assert full_match("a" * MAX_PATTERN_LENGTH, "a" * MAX_PATTERN_LENGTH)


def test_a_value_that_is_not_valid_unicode_matches_nothing() -> None:
    assert not full_match(".*", "ok\ud800")


def test_matching_is_against_the_whole_answer() -> None:
    assert full_match(r"\d{4}", "2026")
    assert not full_match(r"\d{4}", "20261")
    assert not full_match(r"\d{4}", "x2026")
    assert not full_match(r"\d{4}$", "2026\n")


@pytest.mark.parametrize(
    "pattern", [r"(?=.*\d).{8,}", r"(\w)\1"], ids=["lookahead", "backreference"]
)
def test_the_catalog_refuses_such_a_pattern_naming_policy_question_and_reason(
    example_document: dict[str, Any], pattern: str
) -> None:
    document = copy.deepcopy(example_document)
    _set_pattern(document, pattern)
    with pytest.raises(CatalogValidationError) as raised:
        load_catalog(document)
    [detail] = raised.value.details
    where = f"assignmentPolicies[{FINANCE_POLICY_INDEX}].questions[{TEXT_QUESTION_INDEX}]"
    assert detail.path == f"{where}.regexPattern"
    assert f"policy {FINANCE_POLICY}" in detail.message
    assert f"question {TEXT_QUESTION} ('What will you use the data for?" in detail.message
    assert "RE2 cannot compile it: invalid" in detail.message


# The subset of syntax that Python's re and RE2 share, over a small alphabet: alternation,
# groups, classes, anchors inside fullmatch, and bounded or unbounded repetition.
_ATOMS = st.sampled_from(["a", "b", "1", " ", ".", "[ab]", "[^a]", "[a-c1]", r"\d", r"\s", r"\."])
_QUANTIFIERS = st.sampled_from(["", "*", "+", "?", "{2}", "{1,3}", "{0,}", "*?", "+?"])


def _patterns() -> st.SearchStrategy[str]:
    piece = st.builds(lambda atom, q: atom + q, _ATOMS, _QUANTIFIERS)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        sequence = st.lists(inner, min_size=1, max_size=3).map("".join)
        group = st.builds(
            lambda open_, body, q: f"{open_}{body}){q}",
            st.sampled_from(["(", "(?:"]),
            sequence,
            _QUANTIFIERS,
        )
        alternation = st.lists(sequence, min_size=2, max_size=3).map("|".join)
        return group | alternation | sequence

    return st.recursive(piece, extend, max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(_patterns(), st.text(alphabet="ab1c .\n", max_size=8))
def test_re2_and_python_re_agree_on_the_common_subset(pattern: str, value: str) -> None:
    assert full_match(pattern, value) == (re.fullmatch(pattern, value) is not None)
