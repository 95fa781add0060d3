"""Whole identity policies through the policy evaluator (policy/document.py, statements.py,
elements.py): the IAM User Guide's examples, Action and Resource matching, document shapes,
and what cannot be evaluated, which is never a silent pass.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from rolehop.features.explain.policy.document import evaluate
from rolehop.features.explain.policy.request import Request
from tests.support.policies import (
    ALLOW_ALL_DENY_IAM,
    ANN,
    BOOKS,
    DEPLOYER_SESSION,
    DYNAMODB_READ_ONLY,
    FINANCE,
    FINANCE_DOC,
    IP,
    JOE,
    LIMITED_IAM_ADMIN,
    NOW,
    SOURCE_IP_ALLOW,
    SOURCE_IP_DENY,
    TARGET_ROLE,
    TIME_WINDOW,
    V,
    call,
    policy,
    row,
)


def everything(effect: str = "Allow", **more: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": "*", "Resource": "*", **more}


UNKNOWN: dict[str, Any] = {"Condition": {"StringMatches": {"k": "v"}}}
ALLOW_BUT_IAM = policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
DENY_BUT_BOOKS = policy(
    everything(), {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": BOOKS}
)
TEAM_ROLES = policy(
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/team/*"}
)
TEAM_ROLE_ONE_CHAR = policy(
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/team/?"}
)
IAM_ADMIN_2008 = {**LIMITED_IAM_ADMIN, "Version": "2008-10-17"}
USERS = BOOKS.replace("Books", "Users")
IN_TEAM = "arn:aws:iam::222222222222:role/team/a/b"
AT_9 = {NOW: "2030-03-01T09:00:00Z"}
OFFICE = {IP: "203.0.113.9"}
AWAY = {IP: "192.0.2.1"}
JOE_NAME = {"aws:username": "joe"}

IDENTITY = [
    # DynamoDB read-only
    row("dynamodb-getitem", DYNAMODB_READ_ONLY, call("dynamodb:GetItem", BOOKS), "allow"),
    row("dynamodb-scan", DYNAMODB_READ_ONLY, call("dynamodb:Scan", BOOKS), "allow"),
    row("dynamodb-action-any-case", DYNAMODB_READ_ONLY, call("DynamoDB:query", BOOKS), "allow"),
    row("dynamodb-putitem", DYNAMODB_READ_ONLY, call("dynamodb:PutItem", BOOKS), "no-match"),
    row("dynamodb-other-table", DYNAMODB_READ_ONLY, call("dynamodb:GetItem", USERS), "no-match"),
    row(
        "dynamodb-resource-is-case-sensitive",
        DYNAMODB_READ_ONLY,
        call("dynamodb:GetItem", BOOKS.lower()),
        "no-match",
    ),
    # a limited IAM admin: ${aws:username} in the resource
    row(
        "iam-own-user",
        LIMITED_IAM_ADMIN,
        call("iam:CreateAccessKey", JOE, context=JOE_NAME),
        "allow",
    ),
    row(
        "iam-other-user",
        LIMITED_IAM_ADMIN,
        call("iam:CreateAccessKey", ANN, context=JOE_NAME),
        "no-match",
    ),
    row(
        "iam-session-has-no-username",
        LIMITED_IAM_ADMIN,
        call("iam:GetUser", JOE, DEPLOYER_SESSION),
        "no-match",
    ),
    row(
        "iam-2008-has-no-variables",
        IAM_ADMIN_2008,
        call("iam:GetUser", JOE, context=JOE_NAME),
        "no-match",
    ),
    # Allow * on *, Deny iam:*
    row("allow-all-s3", ALLOW_ALL_DENY_IAM, call("s3:GetObject", "arn:aws:s3:::b/k"), "allow"),
    row("deny-iam", ALLOW_ALL_DENY_IAM, call("iam:CreateUser", ANN), "deny"),
    row("deny-iam-any-case", ALLOW_ALL_DENY_IAM, call("IAM:createuser", ANN), "deny"),
    # aws:SourceIp: IpAddress in an Allow, NotIpAddress in a Deny
    row("ip-inside", SOURCE_IP_ALLOW, call("sts:AssumeRole", TARGET_ROLE, context=OFFICE), "allow"),
    row(
        "ip-outside", SOURCE_IP_ALLOW, call("sts:AssumeRole", TARGET_ROLE, context=AWAY), "no-match"
    ),
    row("ip-absent", SOURCE_IP_ALLOW, call("sts:AssumeRole", TARGET_ROLE), "no-match"),
    row(
        "not-ip-inside",
        SOURCE_IP_DENY,
        call("sts:AssumeRole", TARGET_ROLE, context=OFFICE),
        "allow",
    ),
    row(
        "not-ip-inside-v6",
        SOURCE_IP_DENY,
        call("sts:AssumeRole", TARGET_ROLE, context={IP: "2001:db8::1"}),
        "allow",
    ),
    row(
        "not-ip-outside", SOURCE_IP_DENY, call("sts:AssumeRole", TARGET_ROLE, context=AWAY), "deny"
    ),
    row("not-ip-absent-denies", SOURCE_IP_DENY, call("sts:AssumeRole", TARGET_ROLE), "deny"),
    # aws:CurrentTime window
    row("time-inside", TIME_WINDOW, call("sts:AssumeRole", TARGET_ROLE, context=AT_9), "allow"),
    row(
        "time-before",
        TIME_WINDOW,
        call("sts:AssumeRole", TARGET_ROLE, context={NOW: "2029-12-31T23:00:00Z"}),
        "no-match",
    ),
    row(
        "time-after",
        TIME_WINDOW,
        call("sts:AssumeRole", TARGET_ROLE, context={NOW: "2030-07-01T00:00:00Z"}),
        "no-match",
    ),
    row(
        "time-epoch",
        TIME_WINDOW,
        call("sts:AssumeRole", TARGET_ROLE, context={NOW: "1900000000"}),
        "allow",
    ),
    row("time-absent", TIME_WINDOW, call("sts:AssumeRole", TARGET_ROLE), "no-match"),
    # NotAction, NotResource, wildcards in resources
    row("NotAction-outside", ALLOW_BUT_IAM, call("s3:ListBucket"), "allow"),
    row("NotAction-inside", ALLOW_BUT_IAM, call("iam:ListUsers"), "no-match"),
    row("NotResource-outside", DENY_BUT_BOOKS, call("dynamodb:Scan", USERS), "deny"),
    row("NotResource-inside", DENY_BUT_BOOKS, call("dynamodb:Scan", BOOKS), "allow"),
    row("resource-star-spans-slashes", TEAM_ROLES, call("sts:AssumeRole", IN_TEAM), "allow"),
    row("resource-question-mark", TEAM_ROLE_ONE_CHAR, call("sts:AssumeRole", IN_TEAM), "no-match"),
    row(
        "resource-star-stays-in-its-part",
        policy({"Effect": "Allow", "Action": "*", "Resource": FINANCE}),
        call("s3:GetObject", FINANCE_DOC),
        "no-match",
    ),
    # shapes
    row("statement-object-no-version", {"Statement": everything()}, call("s3:GetObject"), "allow"),
    row("json-text", json.dumps(DYNAMODB_READ_ONLY), call("dynamodb:GetItem", BOOKS), "allow"),
    row("no-statements", policy(), call("s3:GetObject"), "no-match"),
    # cannot evaluate, which is never a silent pass
    row("unknown-allow", policy(everything(**UNKNOWN)), call("s3:GetObject"), "cannot-evaluate"),
    row(
        "allow-and-unknown-deny",
        policy(everything(), everything("Deny", **UNKNOWN)),
        call("s3:GetObject"),
        "cannot-evaluate",
    ),
    row(
        "unknown-deny-alone",
        policy(everything("Deny", **UNKNOWN)),
        call("s3:GetObject"),
        "no-match",
    ),
    row(
        "deny-beats-unknown-allow",
        policy(everything("Deny"), everything(**UNKNOWN)),
        call("s3:GetObject"),
        "deny",
    ),
    row(
        "unknown-deny-on-another-action",
        policy(everything(), everything("Deny", **UNKNOWN, Action="iam:*")),
        call("s3:GetObject"),
        "allow",
    ),
    row(
        "identity-with-principal",
        policy(everything(Principal="*")),
        call("s3:GetObject"),
        "cannot-evaluate",
    ),
    row(
        "identity-without-resource",
        policy({"Effect": "Allow", "Action": "*"}),
        call("s3:GetObject"),
        "cannot-evaluate",
    ),
    row(
        "unknown-element",
        policy(everything(Conditions={})),
        call("s3:GetObject"),
        "cannot-evaluate",
    ),
    row(
        "effect-is-case-sensitive",
        policy(everything("allow")),
        call("s3:GetObject"),
        "cannot-evaluate",
    ),
    row(
        "action-and-notaction",
        policy(everything(NotAction="iam:*")),
        call("s3:GetObject"),
        "cannot-evaluate",
    ),
    row(
        "unknown-version",
        {"Version": "2019-01-01", "Statement": []},
        call("s3:GetObject"),
        "cannot-evaluate",
    ),
    row("no-statement", {"Version": V}, call("s3:GetObject"), "cannot-evaluate"),
    row("not-json", "{not json", call("s3:GetObject"), "cannot-evaluate"),
    row("not-an-object", "[]", call("s3:GetObject"), "cannot-evaluate"),
]


@pytest.mark.parametrize(("document", "request_", "expected"), IDENTITY)
def test_identity_policy(document: Any, request_: Request, expected: str) -> None:
    decision = evaluate(document, request_, kind="identity")
    assert decision.verdict == expected, [s.describe() for s in decision.statements]


def test_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        evaluate(DYNAMODB_READ_ONLY, call("s3:GetObject"), kind="session")  # type: ignore[arg-type]
