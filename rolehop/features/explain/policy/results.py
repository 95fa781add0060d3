"""What the evaluator answers: element, condition and statement results and the Decision."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from rolehop.features.explain.policy.tristate import Tristate

Verdict: TypeAlias = Literal["allow", "deny", "no-match", "cannot-evaluate"]
Kind: TypeAlias = Literal["identity", "trust"]


def quote(text: str) -> str:
    """``text`` as a JSON string, as explain shows policy values."""
    return json.dumps(text, ensure_ascii=False)


def quote_all(values: Iterable[str]) -> str:
    """``values`` as a JSON list."""
    return "[" + ", ".join(quote(value) for value in values) + "]"


def _yes_no(verdict: Tristate) -> str:
    return "cannot evaluate" if verdict is None else ("yes" if verdict else "no")


@dataclass(frozen=True)
class ElementResult:
    """Principal/NotPrincipal, Action/NotAction or Resource/NotResource against the request.

    ``verdict`` says whether the element lets the statement apply: for a Not* element, True
    when the request matches none of ``patterns``. ``matched`` is the pattern the request
    matched (for a Not* element, the one that excluded it).
    """

    element: str
    patterns: tuple[str, ...]
    actual: str
    verdict: Tristate
    matched: str | None = None
    note: str = ""

    def describe(self) -> str:
        wanted = "none of " if self.element.startswith("Not") else ""
        line = (
            f"{self.element}: expected {wanted}{quote_all(self.patterns)}, "
            f"got {quote(self.actual)} -> {_yes_no(self.verdict)}"
        )
        details = [f"matches {quote(self.matched)}"] if self.matched is not None else []
        details += [self.note] if self.note else []
        return line + (f" ({'; '.join(details)})" if details else "")


@dataclass(frozen=True)
class ConditionResult:
    """One condition key under one operator; ``actual`` is None when the key is absent."""

    operator: str
    key: str
    expected: tuple[str, ...]
    actual: str | tuple[str, ...] | None
    verdict: Tristate
    note: str = ""

    def describe(self) -> str:
        if self.actual is None:
            got = "(absent)"
        elif isinstance(self.actual, str):
            got = quote(self.actual)
        else:
            got = quote_all(self.actual)
        line = (
            f"{self.operator} {self.key}: expected {quote_all(self.expected)}, "
            f"got {got} -> {_yes_no(self.verdict)}"
        )
        return line + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class StatementResult:
    """One statement: whether it applies to the request (``None``: cannot be evaluated).

    ``number`` is its 1-based place in the Statement list. ``problems`` are what makes the
    statement itself unusable (an unknown element, an Effect that is neither Allow nor Deny,
    a Principal in an identity policy...): such a statement never applies for certain.
    """

    number: int
    sid: str | None
    effect: str
    applies: Tristate
    principal: ElementResult | None = None
    action: ElementResult | None = None
    resource: ElementResult | None = None
    conditions: tuple[ConditionResult, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"statement {quote(self.sid)}" if self.sid else f"statement #{self.number}"

    @property
    def elements(self) -> tuple[ElementResult, ...]:
        found = (self.principal, self.action, self.resource)
        return tuple(element for element in found if element is not None)

    def details(self) -> tuple[str, ...]:
        """One line per problem, element and condition, for a full rendering."""
        return (
            *self.problems,
            *(element.describe() for element in self.elements),
            *(condition.describe() for condition in self.conditions),
        )

    def describe(self) -> str:
        head = f"{self.label} ({self.effect})"
        if self.applies:
            met = f" ({len(self.conditions)} condition(s) met)" if self.conditions else ""
            return f"{head}: applies{met}"
        if self.problems:
            return f"{head}: cannot evaluate: {self.problems[0]}"
        parts: Sequence[ElementResult | ConditionResult] = (*self.elements, *self.conditions)
        reason = next((part for part in parts if part.verdict is self.applies), None)
        what = "does not apply" if self.applies is False else "cannot evaluate"
        return f"{head}: {what}" + (f": {reason.describe()}" if reason is not None else "")


@dataclass(frozen=True)
class Decision:
    """The verdict of one policy document on one request, with every statement's result.

    ``deny``: a Deny statement applies (it wins over everything). ``allow``: an Allow
    statement applies and no Deny does or might. ``no-match``: nothing allows (an implicit
    deny). ``cannot-evaluate``: the verdict hangs on a statement that cannot be evaluated,
    or the document itself is unusable (``problems``).
    """

    verdict: Verdict
    kind: Kind
    statements: tuple[StatementResult, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def deciding(self) -> tuple[StatementResult, ...]:
        """The statements the verdict rests on."""
        if self.verdict == "deny":
            return tuple(s for s in self.statements if s.effect == "Deny" and s.applies)
        if self.verdict == "allow":
            return tuple(s for s in self.statements if s.effect == "Allow" and s.applies)
        if self.verdict == "cannot-evaluate":
            return tuple(s for s in self.statements if s.applies is None)
        return ()

    def describe(self) -> str:
        labels = ", ".join(statement.label for statement in self.deciding)
        if self.verdict == "deny":
            return f"deny: explicitly denied by {labels}"
        if self.verdict == "allow":
            return f"allow: allowed by {labels}"
        if self.verdict == "no-match":
            return f"no-match: no statement of this {self.kind} policy allows it (implicit deny)"
        if self.problems:
            return f"cannot-evaluate: {self.problems[0]}"
        return f"cannot-evaluate: the verdict depends on {labels}, which cannot be evaluated"
