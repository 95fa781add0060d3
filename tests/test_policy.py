"""The IAM policy evaluator behind ``rolehop explain`` (rolehop/features/explain/policy.py).

Tables: every condition operator (with IfExists, set qualifiers, variables and absent keys),
then whole policies from the IAM User Guide's examples, identity and trust alike, then the
renderings. Properties (hypothesis): a matching Deny always wins, a statement that cannot
match never changes the verdict, and statement order never matters.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolehop.features.explain.policy.document import evaluate
from rolehop.features.explain.policy.request import ContextValue, Request
from rolehop.features.explain.policy.results import ConditionResult
from tests.support.policies import (
    ALLOW_ALL_DENY_IAM,
    ANN,
    BOOKS,
    DEPLOYER_ROLE,
    DEPLOYER_SESSION,
    DYNAMODB_READ_ONLY,
    HOME,
    HOME_ROOT,
    JOE,
    LIMITED_IAM_ADMIN,
    OTHER_SESSION,
    SAML,
    SOURCE_IP_ALLOW,
    SOURCE_IP_DENY,
    STRANGER_DEPLOYER,
    STRANGER_USER,
    TARGET_ROLE,
    TIME_WINDOW,
    TRUST_DEPLOYER,
    TRUST_EC2,
    TRUST_EXTERNAL_ID,
    TRUST_HOME_ACCOUNT_ID,
    TRUST_HOME_ROOT,
    TRUST_MFA,
    TRUST_NOT_PRINCIPAL_ROLE_ONLY,
    TRUST_NOT_PRINCIPAL_SESSION,
    TRUST_SAML,
    V,
    assume,
    call,
    policy,
    trust,
)

# ---------------------------------------------------------------------------------------
# condition operators: one condition in an Allow statement that otherwise matches

EXT = "sts:ExternalId"
MFA = "aws:MultiFactorAuthPresent"
TEAM = "aws:PrincipalTag/team"
PREFIX = "s3:prefix"
TYPE = "ec2:InstanceType"
SRC = "aws:SourceArn"
MAX = "s3:max-keys"
NOW = "aws:CurrentTime"
IP = "aws:SourceIp"
TAGS = "aws:TagKeys"
ISSUED = "aws:TokenIssueTime"
SUBNET = "203.0.113.0/24"
V6 = "2001:DB8:1234:5678::/64"
JAN1 = "2030-01-01T00:00:00Z"
NOON = "2030-01-01T12:00:00Z"
SNS = "arn:aws:sns:us-east-1:111111111111:topic"
# the condition operators page's example of ArnLike stopping at colons where StringLike does not
FINANCE = "arn:aws:someservice:*:111122223333:finance/*"
FINANCE_DOC = (
    "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
)
BLOB = "QmluYXJ5VmFsdWVJbkJhc2U2NA=="


def case(
    name: str,
    operator: str,
    values: Any,
    actual: ContextValue,
    expected: bool | None,
    key: str = EXT,
    **more: ContextValue,
) -> Any:
    """A condition row: ``actual`` is the request's value of ``key`` (None: absent); ``more``
    adds keys, written with "__" for ":" and "_" for "/" (aws__username is aws:username)."""
    context = {arg.replace("__", ":").replace("_", "/"): value for arg, value in more.items()}
    if actual is not None:
        context[key] = actual
    return pytest.param(operator, key, values, context, expected, id=name)


CONDITIONS = [
    # strings
    case("StringEquals-match", "StringEquals", "abc", "abc", True),
    case("StringEquals-mismatch", "StringEquals", "abc", "xyz", False),
    case("StringEquals-case-sensitive", "StringEquals", "abc", "ABC", False),
    case("StringEquals-values-are-ORed", "StringEquals", ["x", "abc"], "abc", True),
    case("StringEquals-absent", "StringEquals", "abc", None, False),
    case("StringEquals-star-is-literal", "StringEquals", "a*", "abc", False),
    case("StringNotEquals-differs", "StringNotEquals", "abc", "xyz", True),
    case("StringNotEquals-NOR-one-hit", "StringNotEquals", ["abc", "def"], "def", False),
    case("StringNotEquals-NOR-no-hit", "StringNotEquals", ["abc", "def"], "ghi", True),
    case("StringNotEquals-absent-is-true", "StringNotEquals", "abc", None, True),
    case("StringEqualsIgnoreCase", "StringEqualsIgnoreCase", "Ops", "oPS", True, TEAM),
    case("StringNotEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "Ops", "OPS", False, TEAM),
    case("StringNotEqualsIgnoreCase-absent", "StringNotEqualsIgnoreCase", "Ops", None, True, TEAM),
    case("StringLike-star", "StringLike", "home/*", "home/joe/notes", True, PREFIX),
    case("StringLike-question-mark", "StringLike", "us-?ast-1", "us-east-1", True, PREFIX),
    case("StringLike-question-mark-is-one", "StringLike", "us-??", "us-east-1", False, PREFIX),
    case("StringLike-case-sensitive", "StringLike", "Home/*", "home/joe", False, PREFIX),
    case("StringLike-empty", "StringLike", "", "", True, PREFIX),
    case("StringNotLike-no-hit", "StringNotLike", ["t1.*", "t2.*"], "m5.large", True, TYPE),
    case("StringNotLike-hit", "StringNotLike", ["t1.*", "t2.*"], "t2.micro", False, TYPE),
    case("StringNotLike-absent-is-true", "StringNotLike", "t2.*", None, True, TYPE),
    # ARNs: each of the six colon-separated parts on its own
    case("ArnEquals", "ArnEquals", SNS, SNS, True, SRC),
    case("ArnLike", "ArnLike", "arn:aws:sns:*:111111111111:t?pic", SNS, True, SRC),
    case("ArnLike-star-stays-in-its-part", "ArnLike", FINANCE, FINANCE_DOC, False, SRC),
    case("StringLike-star-spans-parts", "StringLike", FINANCE, FINANCE_DOC, True, SRC),
    case("ArnLike-not-an-arn", "ArnLike", "arn:aws:sns:*:*:*", "not-an-arn", False, SRC),
    case("ArnNotEquals-differs", "ArnNotEquals", JOE, ANN, True, SRC),
    case("ArnNotLike-hit", "ArnNotLike", "arn:aws:iam::*:user/j*", JOE, False, SRC),
    case("ArnNotLike-absent-is-true", "ArnNotLike", "arn:aws:sns:*:*:*", None, True, SRC),
    # Bool
    case("Bool-true", "Bool", "true", "true", True, MFA),
    case("Bool-false", "Bool", "true", "false", False, MFA),
    case("Bool-absent", "Bool", "true", None, False, MFA),
    case("Bool-json-boolean", "Bool", True, "TRUE", True, MFA),
    case("Bool-not-a-boolean", "Bool", "yes", "true", None, MFA),
    case("BoolIfExists-absent", "BoolIfExists", "true", None, True, MFA),
    case("BoolIfExists-present-false", "BoolIfExists", "true", "false", False, MFA),
    # numbers
    case("NumericEquals", "NumericEquals", "10", "10", True, MAX),
    case("NumericEquals-decimal-json-number", "NumericEquals", 10, "10.0", True, MAX),
    case("NumericNotEquals-none", "NumericNotEquals", ["10", "100"], "15", True, MAX),
    case("NumericNotEquals-one", "NumericNotEquals", ["10", "100"], "100", False, MAX),
    case("NumericLessThan", "NumericLessThan", "10", "9", True, MAX),
    case("NumericLessThan-equal", "NumericLessThan", "10", "10", False, MAX),
    case("NumericLessThanEquals", "NumericLessThanEquals", "10", "10", True, MAX),
    case("NumericGreaterThan", "NumericGreaterThan", "3600", "3601", True, MAX),
    case("NumericGreaterThanEquals", "NumericGreaterThanEquals", "3600", "900", False, MAX),
    case("Numeric-bad-policy-value", "NumericLessThan", "ten", "9", None, MAX),
    case("Numeric-absent", "NumericLessThan", "10", None, False, MAX),
    case("NumericLessThanIfExists-absent", "NumericLessThanIfExists", "10", None, True, MAX),
    # dates: W3C ISO 8601 and epoch seconds
    case("DateGreaterThan", "DateGreaterThan", JAN1, NOON, True, NOW),
    case("DateLessThan", "DateLessThan", JAN1, NOON, False, NOW),
    case("DateEquals-zones", "DateEquals", "2030-01-01T14:00:00+02:00", NOON, True, NOW),
    case("DateEquals-date-only", "DateEquals", "2030-01-01", JAN1, True, NOW),
    case("DateNotEquals", "DateNotEquals", JAN1, NOON, True, NOW),
    case("DateLessThanEquals-equal", "DateLessThanEquals", JAN1, JAN1, True, NOW),
    case("DateGreaterThanEquals-epoch", "DateGreaterThanEquals", "1893456000", JAN1, True, NOW),
    case("DateLessThan-epoch-request", "DateLessThan", JAN1, "1893455999", True, "aws:EpochTime"),
    case("Date-absent", "DateGreaterThan", "2020-01-01T00:00:01Z", None, False, ISSUED),
    case("Date-bad-policy-value", "DateLessThan", "tomorrow", JAN1, None, NOW),
    # IP addresses
    case("IpAddress-inside", "IpAddress", SUBNET, "203.0.113.7", True, IP),
    case("IpAddress-outside", "IpAddress", SUBNET, "198.51.100.7", False, IP),
    case("IpAddress-no-prefix-is-32", "IpAddress", "203.0.113.7", "203.0.113.7", True, IP),
    case("IpAddress-ipv6", "IpAddress", V6, "2001:db8:1234:5678::1", True, IP),
    case("IpAddress-v4-not-in-v6", "IpAddress", "::/0", "203.0.113.7", False, IP),
    case("IpAddress-mixed-list", "IpAddress", [SUBNET, V6], "2001:db8:1234:5678::9", True, IP),
    case("NotIpAddress-outside", "NotIpAddress", SUBNET, "198.51.100.7", True, IP),
    case("NotIpAddress-inside", "NotIpAddress", SUBNET, "203.0.113.7", False, IP),
    case("NotIpAddress-absent-is-true", "NotIpAddress", SUBNET, None, True, IP),
    case("IpAddress-bad-range", "IpAddress", "203.0.113.0/33", "203.0.113.7", None, IP),
    # Null
    case("Null-true-absent", "Null", "true", None, True, ISSUED),
    case("Null-true-present", "Null", "true", JAN1, False, ISSUED),
    case("Null-false-present", "Null", False, JAN1, True, ISSUED),
    case("Null-false-absent", "Null", "false", None, False, ISSUED),
    # ...IfExists
    case("StringEqualsIfExists-absent", "StringEqualsIfExists", "t2.micro", None, True, TYPE),
    case("StringEqualsIfExists-present", "StringEqualsIfExists", "t2.micro", "m5", False, TYPE),
    case("StringNotEqualsIfExists-absent", "StringNotEqualsIfExists", "public", None, True),
    # set qualifiers
    case("ForAllValues-subset", "ForAllValues:StringEquals", ["a", "b"], ["a"], True, TAGS),
    case("ForAllValues-outside", "ForAllValues:StringEquals", ["a", "b"], ["a", "c"], False, TAGS),
    case("ForAllValues-absent-true", "ForAllValues:StringEquals", ["a", "b"], None, True, TAGS),
    case("ForAllValues-empty-true", "ForAllValues:StringEquals", ["a", "b"], [], True, TAGS),
    case("ForAnyValue-one-inside", "ForAnyValue:StringEquals", ["a", "b"], ["c", "a"], True, TAGS),
    case("ForAnyValue-none-inside", "ForAnyValue:StringEquals", ["a", "b"], ["c"], False, TAGS),
    case("ForAnyValue-absent-false", "ForAnyValue:StringEquals", ["a", "b"], None, False, TAGS),
    case("ForAnyValue-IfExists-absent", "ForAnyValue:StringEqualsIfExists", "a", None, False, TAGS),
    case("ForAllValues-NotLike-out", "ForAllValues:StringNotLike", "k1*", ["k2:audit"], True, TAGS),
    case("ForAllValues-NotLike-in", "ForAllValues:StringNotLike", "k1*", ["k1:legal"], False, TAGS),
    case("ForAnyValue-StringNotEquals", "ForAnyValue:StringNotEquals", "a", ["a", "b"], True, TAGS),
    case("one-value-list-no-qualifier", "StringEquals", "a", ["a"], True, TAGS),
    case("several-values-need-a-qualifier", "StringEquals", "a", ["a", "b"], None, TAGS),
    # what cannot be evaluated is never a pass
    case("unknown-operator", "StringMatches", "abc", "abc", None),
    case("unknown-qualifier", "ForSomeValues:StringEquals", "a", ["a"], None, TAGS),
    case("Null-has-no-IfExists", "NullIfExists", "true", None, None, ISSUED),
    case("value-is-an-object", "StringEquals", {"nested": "x"}, "x", None),
    # variables and their escapes
    case("variable", "StringEquals", "${aws:username}", "joe", True, PREFIX, aws__username="joe"),
    case(
        "variable-in-a-pattern",
        "StringLike",
        "home/${aws:username}/*",
        "home/joe/x",
        True,
        PREFIX,
        aws__username="joe",
    ),
    case(
        "variable-tag",
        "StringEquals",
        "${aws:PrincipalTag/team}",
        "ops",
        True,
        aws__PrincipalTag_team="ops",
    ),
    case("variable-absent-matches-nothing", "StringEquals", "${aws:username}", "joe", False),
    case(
        "variable-absent-negated-matches",
        "StringNotEquals",
        "${aws:PrincipalTag/team}",
        "ops",
        True,
    ),
    case("variable-default", "StringEquals", "${aws:userid, 'anonymous'}", "anonymous", True),
    case(
        "substituted-star-is-literal",
        "StringLike",
        "${aws:username}",
        "abc",
        False,
        aws__username="a*",
    ),
    case("escape-star", "StringLike", "a${*}", "a*", True, PREFIX),
    case("escape-star-is-no-wildcard", "StringLike", "a${*}", "abc", False, PREFIX),
    case("escape-dollar-and-question", "StringEquals", "cost${$}${?}", "cost$?", True, PREFIX),
    case(
        "variable-is-not-literal",
        "StringEquals",
        "${aws:username}",
        "${aws:username}",
        False,
        aws__username="joe",
    ),
    case(
        "key-names-ignore-case",
        "StringEquals",
        "vpc-1",
        None,
        True,
        "AWS:SOURCEVPC",
        aws__SourceVpc="vpc-1",
    ),
    case("BinaryEquals", "BinaryEquals", BLOB, BLOB, True, "custom:blob"),
]

VERDICT_OF = {True: "allow", False: "no-match", None: "cannot-evaluate"}


@pytest.mark.parametrize(("operator", "key", "values", "context", "expected"), CONDITIONS)
def test_condition(
    operator: str, key: str, values: Any, context: dict[str, ContextValue], expected: bool | None
) -> None:
    statement = {
        "Effect": "Allow",
        "Action": "*",
        "Resource": "*",
        "Condition": {operator: {key: values}},
    }
    request = call("s3:GetObject", context=context)
    decision = evaluate(policy(statement), request, kind="identity")
    (result,) = decision.statements
    (condition,) = result.conditions
    assert condition.verdict is expected, condition.describe()
    assert result.applies is expected
    assert decision.verdict == VERDICT_OF[expected]


@pytest.mark.parametrize("version", ["2008-10-17", None])
def test_variables_are_text_before_version_2012(version: str | None) -> None:
    # variables page: without Version 2012-10-17, ${aws:username} is a literal string
    statement = {
        "Effect": "Allow",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringEquals": {PREFIX: "${aws:username}"}},
    }
    request = call("s3:GetObject", context={PREFIX: "${aws:username}", "aws:username": "joe"})
    assert evaluate(policy(statement, version=version), request, kind="identity").verdict == "allow"


# ---------------------------------------------------------------------------------------
# whole policies


def row(name: str, document: Any, request: Request, expected: str) -> Any:
    return pytest.param(document, request, expected, id=name)


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


EC2 = "ec2.amazonaws.com"
DEPLOYER_OTHER = f"arn:aws:sts::{HOME}:assumed-role/deployer/other"
NAMELESS_SESSION = f"arn:aws:sts::{HOME}:assumed-role/deployer/"
DENY_ALL_BUT_STAR = policy(
    {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
    {"Effect": "Deny", "NotPrincipal": "*", "Action": "sts:AssumeRole"},
)
NO_PRINCIPAL = policy({"Effect": "Allow", "Action": "sts:AssumeRole"})
ACCOUNT_AS_NUMBER = policy(
    {"Effect": "Allow", "Principal": {"AWS": int(HOME)}, "Action": "sts:AssumeRole"}
)


def with_resource(resource: str) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": {"AWS": HOME}, "Action": "sts:AssumeRole"}
    return policy({**statement, "Resource": resource})


def saml(provider: str) -> Request:
    return Request("sts:AssumeRoleWithSAML", TARGET_ROLE, None, None, {}, federated=provider)


TRUST = [
    # another account's root: the whole account, users and sessions alike
    row("root-trusts-user", TRUST_HOME_ROOT, assume(JOE), "allow"),
    row("root-trusts-session", TRUST_HOME_ROOT, assume(DEPLOYER_SESSION), "allow"),
    row("root-trusts-root", TRUST_HOME_ROOT, assume(HOME_ROOT), "allow"),
    row("root-other-account", TRUST_HOME_ROOT, assume(STRANGER_USER), "no-match"),
    row("account-id-trusts-user", TRUST_HOME_ACCOUNT_ID, assume(JOE), "allow"),
    row("account-id-other-account", TRUST_HOME_ACCOUNT_ID, assume(STRANGER_DEPLOYER), "no-match"),
    row(
        "other-sts-action",
        TRUST_HOME_ROOT,
        Request("sts:TagSession", TARGET_ROLE, JOE, HOME),
        "no-match",
    ),
    # sts:ExternalId
    row("external-id-right", TRUST_EXTERNAL_ID, assume(JOE, {EXT: "abc"}), "allow"),
    row("external-id-wrong", TRUST_EXTERNAL_ID, assume(JOE, {EXT: "xyz"}), "no-match"),
    row("external-id-absent", TRUST_EXTERNAL_ID, assume(JOE), "no-match"),
    # aws:MultiFactorAuthPresent
    row("mfa-present", TRUST_MFA, assume(JOE, {MFA: "true"}), "allow"),
    row("mfa-false", TRUST_MFA, assume(JOE, {MFA: "false"}), "no-match"),
    row("mfa-absent", TRUST_MFA, assume(JOE), "no-match"),
    # one role with a path: the role itself and its sessions (whose ARN has no path)
    row("role-session", TRUST_DEPLOYER, assume(DEPLOYER_SESSION), "allow"),
    row("role-itself", TRUST_DEPLOYER, assume(DEPLOYER_ROLE), "allow"),
    row("role-another-roles-session", TRUST_DEPLOYER, assume(OTHER_SESSION), "no-match"),
    row("role-same-name-other-account", TRUST_DEPLOYER, assume(STRANGER_DEPLOYER), "no-match"),
    row("role-a-user", TRUST_DEPLOYER, assume(JOE), "no-match"),
    row("role-session-needs-a-name", TRUST_DEPLOYER, assume(NAMELESS_SESSION), "no-match"),
    row("session", trust({"AWS": DEPLOYER_SESSION}), assume(DEPLOYER_SESSION), "allow"),
    row("session-other", trust({"AWS": DEPLOYER_SESSION}), assume(DEPLOYER_OTHER), "no-match"),
    # users, lists, everyone
    row("user", trust({"AWS": JOE}), assume(JOE), "allow"),
    row(
        "user-name-case-sensitive",
        trust({"AWS": JOE}),
        assume(JOE.replace("joe", "Joe")),
        "no-match",
    ),
    row("user-in-list", trust({"AWS": [ANN, JOE]}), assume(JOE), "allow"),
    row(
        "no-wildcards-in-arns",
        trust({"AWS": f"arn:aws:iam::{HOME}:user/*"}),
        assume(JOE),
        "no-match",
    ),
    row("unique-id-of-deleted-role", trust({"AWS": "AROAEXAMPLEID123"}), assume(JOE), "no-match"),
    row("star", trust("*"), assume(JOE), "allow"),
    row("aws-star", trust({"AWS": "*"}), assume(STRANGER_USER), "allow"),
    row("aws-star-is-not-a-service", trust({"AWS": "*"}), assume(None, service=EC2), "no-match"),
    row("star-is-everyone", trust("*"), assume(None, service=EC2), "allow"),
    # services and federation
    row("service", TRUST_EC2, assume(None, service=EC2), "allow"),
    row("service-other", TRUST_EC2, assume(None, service="lambda.amazonaws.com"), "no-match"),
    row("service-is-not-an-aws-principal", TRUST_EC2, assume(JOE), "no-match"),
    row("account-is-not-a-service", TRUST_HOME_ROOT, assume(None, service=EC2), "no-match"),
    row("mixed-types", trust({"Service": [EC2], "AWS": HOME}), assume(JOE), "allow"),
    row("federated", TRUST_SAML, saml(SAML), "allow"),
    row("federated-other", TRUST_SAML, saml("accounts.google.com"), "no-match"),
    row("unsupported-type", trust({"CanonicalUser": "79a59df9"}), assume(JOE), "cannot-evaluate"),
    # NotPrincipal with Deny
    row(
        "notprincipal-spares-named", TRUST_NOT_PRINCIPAL_SESSION, assume(DEPLOYER_SESSION), "allow"
    ),
    row("notprincipal-denies-others", TRUST_NOT_PRINCIPAL_SESSION, assume(JOE), "deny"),
    row("notprincipal-other-session", TRUST_NOT_PRINCIPAL_SESSION, assume(DEPLOYER_OTHER), "deny"),
    row("notprincipal-role-only", TRUST_NOT_PRINCIPAL_ROLE_ONLY, assume(DEPLOYER_SESSION), "deny"),
    row("notprincipal-star-spares-all", DENY_ALL_BUT_STAR, assume(JOE), "allow"),
    # trust policy shapes
    row("trust-without-principal", NO_PRINCIPAL, assume(JOE), "cannot-evaluate"),
    row("trust-with-resource", with_resource(TARGET_ROLE), assume(JOE), "allow"),
    row("trust-other-resource", with_resource(DEPLOYER_ROLE), assume(JOE), "no-match"),
    row("principal-as-a-number", ACCOUNT_AS_NUMBER, assume(JOE), "cannot-evaluate"),
]


@pytest.mark.parametrize(("document", "request_", "expected"), TRUST)
def test_trust_policy(document: Any, request_: Request, expected: str) -> None:
    decision = evaluate(document, request_, kind="trust")
    assert decision.verdict == expected, [s.describe() for s in decision.statements]


def test_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        evaluate(DYNAMODB_READ_ONLY, call("s3:GetObject"), kind="session")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# what explain shows


def test_condition_line_from_the_brief() -> None:
    result = ConditionResult("StringEquals", "sts:ExternalId", ("abc",), "xyz", False)
    assert result.describe() == 'StringEquals sts:ExternalId: expected ["abc"], got "xyz" -> no'


def test_trust_statement_says_why_it_does_not_apply() -> None:
    decision = evaluate(TRUST_EXTERNAL_ID, assume(JOE, {"sts:ExternalId": "xyz"}), kind="trust")
    (statement,) = decision.statements
    assert statement.describe() == (
        'statement #1 (Allow): does not apply: StringEquals sts:ExternalId: expected ["abc"], '
        'got "xyz" -> no'
    )
    assert decision.describe() == (
        "no-match: no statement of this trust policy allows it (implicit deny)"
    )


def test_every_element_has_a_line() -> None:
    decision = evaluate(TRUST_DEPLOYER, assume(DEPLOYER_SESSION), kind="trust")
    (statement,) = decision.statements
    assert statement.details() == (
        f'Principal: expected ["AWS {DEPLOYER_ROLE}"], got "{DEPLOYER_SESSION}" -> yes '
        f'(matches "AWS {DEPLOYER_ROLE}"; a session of this role)',
        'Action: expected ["sts:AssumeRole"], got "sts:AssumeRole" -> yes '
        '(matches "sts:AssumeRole")',
    )
    assert statement.describe() == "statement #1 (Allow): applies"
    assert decision.describe() == "allow: allowed by statement #1"
    assert all("\n" not in line for line in statement.details())


def test_deny_names_its_sid_and_the_absent_key() -> None:
    decision = evaluate(SOURCE_IP_DENY, call("sts:AssumeRole", TARGET_ROLE), kind="identity")
    assert decision.describe() == 'deny: explicitly denied by statement "OfficeOnly"'
    (condition,) = decision.statements[1].conditions
    assert condition.describe() == (
        'NotIpAddress aws:SourceIp: expected ["203.0.113.0/24", "2001:db8::/32"], '
        "got (absent) -> yes (key absent: a negated operator holds)"
    )


def test_unknown_operator_is_named() -> None:
    document = policy(
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringMatches": {"k": "v"}},
        }
    )
    decision = evaluate(document, call("s3:GetObject"), kind="identity")
    assert decision.deciding == decision.statements
    assert decision.describe() == (
        "cannot-evaluate: the verdict depends on statement #1, which cannot be evaluated"
    )
    assert decision.statements[0].describe() == (
        'statement #1 (Allow): cannot evaluate: StringMatches k: expected ["v"], got (absent) '
        "-> cannot evaluate (unknown condition operator 'StringMatches')"
    )


def test_variables_are_shown() -> None:
    request = call("iam:CreateAccessKey", JOE, context={"aws:username": "joe"})
    (statement,) = evaluate(LIMITED_IAM_ADMIN, request, kind="identity").statements
    assert statement.resource is not None
    assert statement.resource.note == '${aws:username}="joe"'
    request = call("iam:CreateAccessKey", JOE, caller=DEPLOYER_SESSION)
    (statement,) = evaluate(LIMITED_IAM_ADMIN, request, kind="identity").statements
    assert statement.resource is not None
    assert statement.resource.note == "${aws:username} has no value: matches nothing"


def test_problems_are_reported() -> None:
    decision = evaluate("{not json", call("s3:GetObject"), kind="identity")
    assert decision.problems and decision.problems[0].startswith("the policy is not JSON")
    assert decision.describe().startswith("cannot-evaluate: the policy is not JSON")
    document = policy({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"})
    (statement,) = evaluate(document, call("s3:GetObject"), kind="identity").statements
    assert statement.describe() == (
        "statement #1 (Allow): cannot evaluate: an identity policy cannot have Principal"
    )


def test_partial_notprincipal_is_explained() -> None:
    decision = evaluate(TRUST_NOT_PRINCIPAL_ROLE_ONLY, assume(DEPLOYER_SESSION), kind="trust")
    principal = decision.statements[1].principal
    assert principal is not None
    assert principal.verdict is True
    assert principal.note == (
        f"does not name the caller {DEPLOYER_SESSION}, its account {HOME}: "
        "IAM may check that first, so the statement applies"
    )


# ---------------------------------------------------------------------------------------
# properties

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
