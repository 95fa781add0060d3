"""Condition operators in the policy evaluator (policy/conditions.py, operators.py, strings.py).

Every operator, with IfExists, set qualifiers, variables and absent keys: one condition in an
Allow statement that otherwise matches.
"""

from __future__ import annotations

from typing import Any

import pytest

from rolehop.features.explain.policy.document import evaluate
from rolehop.features.explain.policy.request import ContextValue
from tests.support.policies import (
    ANN,
    EXT,
    FINANCE,
    FINANCE_DOC,
    IP,
    JOE,
    MFA,
    NOW,
    call,
    policy,
)

TEAM = "aws:PrincipalTag/team"
PREFIX = "s3:prefix"
TYPE = "ec2:InstanceType"
SRC = "aws:SourceArn"
MAX = "s3:max-keys"
TAGS = "aws:TagKeys"
ISSUED = "aws:TokenIssueTime"
SUBNET = "203.0.113.0/24"
V6 = "2001:DB8:1234:5678::/64"
JAN1 = "2030-01-01T00:00:00Z"
NOON = "2030-01-01T12:00:00Z"
SNS = "arn:aws:sns:us-east-1:111111111111:topic"
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
