"""Properties of the policy evaluator's verdict (hypothesis): a matching Deny always wins, a
statement that cannot match never changes the verdict, and statement order never matters.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolehop.features.explain.policy.document import evaluate
from rolehop.features.explain.policy.request import ContextValue, Request
from tests.support.policies import (
    ANN,
    BOOKS,
    DEPLOYER_ROLE,
    DEPLOYER_SESSION,
    HOME,
    HOME_ROOT,
    JOE,
    STRANGER_USER,
    TARGET_ROLE,
    call,
    policy,
)

ACTIONS = ["sts:AssumeRole", "s3:GetObject", "iam:CreateUser", "dynamodb:Query"]
RESOURCES = [TARGET_ROLE, BOOKS, "arn:aws:s3:::bucket/key", ANN]
CALLERS = [JOE, DEPLOYER_SESSION, STRANGER_USER, HOME_ROOT]
ACTION_PATTERNS = ["*", "s3:*", "sts:Assume*", "iam:?reateUser", "dynamodb:Query", "DynamoDB:*"]
RESOURCE_PATTERNS = ["*", "arn:aws:iam::*:role/*", BOOKS, "arn:aws:s3:::bucket/*", ANN]
PRINCIPALS: list[Any] = ["*", {"AWS": HOME}, {"AWS": DEPLOYER_ROLE}, {"AWS": [JOE, STRANGER_USER]}]
CONDITION_BLOCKS: list[dict[str, Any]] = [
    {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    {"StringEquals": {"sts:ExternalId": "abc"}},
    {"StringNotEquals": {"aws:PrincipalTag/team": "ops"}},
    {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
    {"ForAnyValue:StringLike": {"aws:TagKeys": "team*"}},
    {"StringMatches": {"sts:ExternalId": "abc"}},  # unknown: cannot be evaluated
]
CONTEXTS: list[dict[str, ContextValue]] = [
    {},
    {"aws:MultiFactorAuthPresent": "true", "sts:ExternalId": "abc"},
    {"aws:SourceIp": "203.0.113.5", "aws:PrincipalTag/team": "ops", "aws:TagKeys": ["team"]},
]

requests = st.builds(
    lambda action, resource, caller, context: call(action, resource, caller, context),
    st.sampled_from(ACTIONS),
    st.sampled_from(RESOURCES),
    st.sampled_from(CALLERS),
    st.sampled_from(CONTEXTS),
)


@st.composite
def statements(draw: st.DrawFn, kind: str, action: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    verb = draw(st.sampled_from(["Action", "NotAction"])) if action is None else "Action"
    statement[verb] = action or draw(
        st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=2)
    )
    if kind == "trust":
        statement[draw(st.sampled_from(["Principal", "NotPrincipal"]))] = draw(
            st.sampled_from(PRINCIPALS)
        )
    if kind == "identity" or draw(st.booleans()):
        statement[draw(st.sampled_from(["Resource", "NotResource"]))] = draw(
            st.sampled_from(RESOURCE_PATTERNS)
        )
    if draw(st.booleans()):
        statement["Condition"] = draw(st.sampled_from(CONDITION_BLOCKS))
    return statement


kinds = st.sampled_from(["identity", "trust"])
fast = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def verdict(kind: Any, items: list[dict[str, Any]], request: Request) -> str:
    return evaluate(policy(*items), request, kind=kind).verdict


@fast
@given(st.data(), kinds, requests)
def test_a_matching_deny_always_denies(data: st.DataObject, kind: str, request: Request) -> None:
    items = data.draw(st.lists(statements(kind), max_size=4))
    deny: dict[str, Any] = {
        "Effect": "Deny",
        "Action": data.draw(st.sampled_from(["*", request.action, request.action.upper()])),
        "Resource": data.draw(st.sampled_from(["*", request.resource])),
    }
    if kind == "trust":
        principals = ["*", {"AWS": "*"}, {"AWS": request.principal_account}]
        deny["Principal"] = data.draw(st.sampled_from(principals))
    if data.draw(st.booleans()):
        deny["Condition"] = {"Null": {"rolehop:never-set": "true"}}
    items.insert(data.draw(st.integers(0, len(items))), deny)
    assert verdict(kind, items, request) == "deny"


@fast
@given(st.data(), kinds, requests)
def test_a_statement_that_cannot_match_changes_nothing(
    data: st.DataObject, kind: str, request: Request
) -> None:
    items = data.draw(st.lists(statements(kind), max_size=4))
    before = verdict(kind, items, request)
    unrelated = data.draw(statements(kind, action="unrelated:Nothing"))
    if data.draw(st.booleans()):  # or an action that matches, on a resource that cannot
        unrelated["Action"] = "*"
        unrelated.pop("NotResource", None)
        unrelated["Resource"] = "arn:aws:unrelated:::nothing"
    items.insert(data.draw(st.integers(0, len(items))), unrelated)
    assert verdict(kind, items, request) == before


@fast
@given(st.data(), kinds, requests)
def test_statement_order_does_not_matter(data: st.DataObject, kind: str, request: Request) -> None:
    items = data.draw(st.lists(statements(kind), max_size=5))
    shuffled = data.draw(st.permutations(items))
    assert verdict(kind, list(shuffled), request) == verdict(kind, items, request)
