"""One statement: its shape checked, each element and condition judged, whether it applies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rolehop.features.explain.policy.conditions import condition_block
from rolehop.features.explain.policy.elements import action_element, resource_element
from rolehop.features.explain.policy.principals import principal_element
from rolehop.features.explain.policy.request import Context, Request
from rolehop.features.explain.policy.results import Kind, StatementResult
from rolehop.features.explain.policy.strings import Scope
from rolehop.features.explain.policy.tristate import all_of

_ELEMENTS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)


def statement_result(
    number: int, raw: Any, request: Request, context: Context, variables: bool, kind: Kind
) -> StatementResult:
    """Statement ``number`` (1-based) of a document: whether it applies to ``request``."""
    if not isinstance(raw, Mapping):
        return StatementResult(number, None, "?", None, problems=("a statement must be an object",))
    problems = [f"unsupported element {key!r}" for key in raw if key not in _ELEMENTS]
    sid = None if raw.get("Sid") is None else str(raw["Sid"])
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        problems.append(f'Effect must be "Allow" or "Deny", not {json.dumps(effect)}')

    principal = None
    must = "a trust policy statement must have Principal or NotPrincipal"
    named = _one_of(raw, "Principal", "NotPrincipal", problems, must if kind == "trust" else "")
    if named is not None and kind == "identity":
        problems.append(f"an identity policy cannot have {named[0]}")
    elif named is not None:
        principal = principal_element(named[0], named[1], request, problems)

    action = None
    acted = _one_of(
        raw, "Action", "NotAction", problems, "a statement must have Action or NotAction"
    )
    if acted is not None:
        action = action_element(acted[0], acted[1], request.action, problems)

    resource = None
    must = "an identity policy statement must have Resource or NotResource"
    targeted = _one_of(raw, "Resource", "NotResource", problems, must if kind == "identity" else "")
    if targeted is not None:
        scope = Scope(context, variables)
        resource = resource_element(targeted[0], targeted[1], request.resource, scope, problems)

    conditions = condition_block(raw.get("Condition"), context, variables, problems)
    verdicts = [e.verdict for e in (principal, action, resource) if e is not None]
    verdicts += [condition.verdict for condition in conditions]
    applies = None if problems else all_of(verdicts)
    return StatementResult(
        number,
        sid,
        effect if isinstance(effect, str) else json.dumps(effect),
        applies,
        principal,
        action,
        resource,
        conditions,
        tuple(problems),
    )


def _one_of(
    raw: Mapping[str, Any], positive: str, negative: str, problems: list[str], required: str
) -> tuple[str, Any] | None:
    """(name, value) of whichever of the pair the statement has.

    Both is a problem; neither is the problem ``required``, if that is not empty.
    """
    present = [name for name in (positive, negative) if name in raw]
    if len(present) == 2:
        problems.append(f"a statement cannot have both {positive} and {negative}")
    elif not present and required:
        problems.append(required)
    return (present[0], raw[present[0]]) if len(present) == 1 else None
