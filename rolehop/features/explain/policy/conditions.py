"""The Condition block: each key under each operator, absent keys, several values, qualifiers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rolehop.features.explain.policy.operators import OPERATORS, Operator, parse_operator
from rolehop.features.explain.policy.request import Context
from rolehop.features.explain.policy.results import ConditionResult, quote
from rolehop.features.explain.policy.strings import Scope
from rolehop.features.explain.policy.tristate import Tristate, all_of, any_of, negate


def condition_block(
    raw: Any, context: Context, variables: bool, problems: list[str]
) -> tuple[ConditionResult, ...]:
    """Every operator and key of a Condition block: all must hold (logical AND)."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        problems.append("Condition must be an object of operators")
        return ()
    results: list[ConditionResult] = []
    for operator, block in raw.items():
        if not isinstance(block, Mapping) or not block:
            note = "an operator takes an object of condition keys and values"
            results.append(ConditionResult(str(operator), "", (), None, None, note))
            continue
        for key, values in block.items():
            results.append(_condition(str(operator), str(key), values, Scope(context, variables)))
    return tuple(results)


def _policy_values(raw: Any) -> tuple[str, ...] | None:
    """Condition values as strings: JSON booleans and numbers are written as IAM reads them."""
    items = raw if isinstance(raw, list) else [raw]
    values: list[str] = []
    for item in items:
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            values.append(str(item))
        else:
            return None
    return tuple(values) or None


def _condition(operator: str, key: str, raw: Any, scope: Scope) -> ConditionResult:
    actual = scope.context.get(key)
    expected = _policy_values(raw)
    if expected is None:
        note = "condition values must be strings, numbers or booleans"
        return ConditionResult(operator, key, (), actual, None, note)
    parsed = parse_operator(operator)
    if parsed is None:
        note = f"unknown condition operator {operator!r}"
        return ConditionResult(operator, key, expected, actual, None, note)
    qualifier, base, if_exists = parsed
    values = () if actual is None else (actual,) if isinstance(actual, str) else actual
    if base == "Null":
        verdict = _null(expected, values, scope)
    else:
        verdict = _test(OPERATORS[base], qualifier, if_exists, expected, values, scope)
    return ConditionResult(operator, key, expected, actual, verdict, "; ".join(scope.notes))


def _null(expected: tuple[str, ...], values: tuple[str, ...], scope: Scope) -> Tristate:
    """Null "true": the key is absent; "false": it is present."""
    results: list[Tristate] = []
    for wanted in expected:
        if wanted.lower() not in ("true", "false"):
            scope.note(f"Null takes true or false, not {quote(wanted)}")
            results.append(None)
        else:
            results.append((wanted.lower() == "true") == (not values))
    return any_of(results)


def _test(
    operator: Operator,
    qualifier: str | None,
    if_exists: bool,
    expected: tuple[str, ...],
    values: tuple[str, ...],
    scope: Scope,
) -> Tristate:
    """One condition key under one operator, by the IAM documentation:

    - Several policy values are ORed; for a negated operator (StringNotEquals, NotIpAddress,
      ArnNotLike...) NORed: true when the request's value matches none of them ("Conditions
      with multiple context keys or values").
    - An absent key makes a condition false, except for the negated operators (StringNotLike,
      ArnNotLike...), where it makes it true (condition operators page, the "Important" box
      at its top; the variables page says the same of a variable with no value), and with
      ...IfExists, where it makes it true too.
    - ForAllValues over no values (absent key, empty list) is true, ForAnyValue false
      (multi-value page, "Note"), IfExists or not: AWS answers a ForAnyValue:...IfExists
      on an absent key with false (the re:Post thread above).
    - A key with several values needs one of those qualifiers; without one the answer is
      not certain, so it is not guessed.
    """

    def one(actual: str) -> Tristate:
        hit = any_of(operator.compare(wanted, actual, scope) for wanted in expected)
        return negate(hit) if operator.negated else hit

    if not values:
        if qualifier == "ForAllValues":
            scope.note("no values: ForAllValues holds")
            return True
        if qualifier == "ForAnyValue":
            scope.note(
                "no values: ForAnyValue fails" + (" even with IfExists" if if_exists else "")
            )
            return False
        if if_exists:
            scope.note("key absent: IfExists holds")
            return True
        if operator.negated:
            scope.note("key absent: a negated operator holds")
            return True
        return False
    if qualifier == "ForAnyValue":
        return any_of(one(actual) for actual in values)
    if qualifier == "ForAllValues":
        return all_of(one(actual) for actual in values)
    if len(values) > 1:
        scope.note("a key with several values needs ForAnyValue: or ForAllValues:")
        return None
    return one(values[0])
