"""A whole policy document: read, checked, and its statements combined into the Decision."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rolehop.features.explain.policy.request import Context, Request
from rolehop.features.explain.policy.results import Decision, Kind, StatementResult, Verdict
from rolehop.features.explain.policy.statements import statement_result

_ELEMENTS = frozenset({"Version", "Id", "Statement"})
_VERSIONS = ("2012-10-17", "2008-10-17")
# Variables exist only in this version of the policy language; under "2008-10-17" or with
# no Version, ${aws:username} is the literal text "${aws:username}" (variables page, "Note").
_VARIABLES_VERSION = "2012-10-17"


def evaluate(document: Mapping[str, Any] | str, request: Request, *, kind: Kind) -> Decision:
    """Evaluate ``document`` (a parsed policy, or its JSON text) for ``request``.

    ``kind="trust"``: a role's trust policy; every statement must name its principals
    (Principal or NotPrincipal) and needs no Resource. ``kind="identity"``: a policy of the
    caller; statements must not name principals and must have Resource or NotResource.
    Never raises for a bad document: that is a ``cannot-evaluate`` decision with ``problems``.
    """
    if kind not in ("identity", "trust"):
        raise ValueError(f"kind must be 'identity' or 'trust', not {kind!r}")
    loaded = _load(document)
    if isinstance(loaded, str):
        return Decision("cannot-evaluate", kind, problems=(loaded,))
    problems = [f"unsupported policy element {key!r}" for key in loaded if key not in _ELEMENTS]
    version = loaded.get("Version")
    if version is not None and version not in _VERSIONS:
        problems.append(f"unknown policy language Version {version!r}")
    raw = loaded.get("Statement")
    if isinstance(raw, Mapping):
        raw = [raw]
    elif not isinstance(raw, list):
        problems.append("the policy has no Statement list or object")
        raw = []
    context = Context(request.context)
    variables = version == _VARIABLES_VERSION
    statements = tuple(
        statement_result(number, item, request, context, variables, kind)
        for number, item in enumerate(raw, start=1)
    )
    verdict: Verdict = "cannot-evaluate" if problems else _combine(statements)
    return Decision(verdict, kind, statements, tuple(problems))


def _load(document: Mapping[str, Any] | str) -> Mapping[str, Any] | str:
    """The document as a mapping, or why it is not one."""
    loaded: Any = document
    if isinstance(document, str):
        try:
            loaded = json.loads(document)
        except ValueError as error:
            return f"the policy is not JSON: {error}"
    if not isinstance(loaded, Mapping):
        return "a policy document must be a JSON object"
    return loaded


def _combine(statements: Sequence[StatementResult]) -> Verdict:
    """Explicit Deny, else Allow, else implicit deny; an unknown that could change it wins.

    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
    """
    if any(s.effect == "Deny" and s.applies for s in statements):
        return "deny"
    # a statement without a valid Effect is a problem statement: it counts both ways
    deny_unknown = any(s.applies is None and s.effect != "Allow" for s in statements)
    allow_unknown = any(s.applies is None and s.effect != "Deny" for s in statements)
    if any(s.effect == "Allow" and s.applies for s in statements):
        return "cannot-evaluate" if deny_unknown else "allow"
    return "cannot-evaluate" if allow_unknown else "no-match"
