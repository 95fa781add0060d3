"""Action/NotAction and Resource/NotResource: the request's action and resource matched."""

from __future__ import annotations

from typing import Any

from rolehop.features.explain.policy.results import ElementResult
from rolehop.features.explain.policy.strings import Scope, arn_like, glob, string_list, to_chars


def action_element(name: str, raw: Any, action: str, problems: list[str]) -> ElementResult | None:
    """Action or NotAction (``name``) for ``action``; None, with a problem, if malformed."""
    patterns = string_list(raw)
    if patterns is None:
        problems.append(f"{name} must be a string or a list of strings")
        return None
    # actions match case-insensitively, service prefix and name alike
    matched = next(
        (
            p
            for p in patterns
            if glob(to_chars(p, wildcards=True), ignore_case=True).fullmatch(action)
        ),
        None,
    )
    verdict = (matched is None) if name == "NotAction" else (matched is not None)
    return ElementResult(name, patterns, action, verdict, matched)


def resource_element(
    name: str, raw: Any, resource: str, scope: Scope, problems: list[str]
) -> ElementResult | None:
    """Resource or NotResource (``name``) for ``resource``; None, with a problem, if malformed."""
    patterns = string_list(raw)
    if patterns is None:
        problems.append(f"{name} must be a string or a list of strings")
        return None
    matched = None
    for pattern in patterns:
        # a variable with no value makes its pattern match no resource, also in NotResource
        # (variables page, "Policy variables with no value")
        resolved = scope.resolve(pattern, wildcards=True)
        if resolved is not None and arn_like(resolved, resource):
            matched = pattern
            break
    verdict = (matched is None) if name == "NotResource" else (matched is not None)
    return ElementResult(name, patterns, resource, verdict, matched, "; ".join(scope.notes))
