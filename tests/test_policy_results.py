"""What ``rolehop explain`` shows of the policy evaluator (policy/results.py): the one-line
renderings of conditions, elements, statements and decisions.
"""

from __future__ import annotations

from rolehop.features.explain.policy.document import evaluate
from rolehop.features.explain.policy.results import ConditionResult
from tests.support.policies import (
    DEPLOYER_ROLE,
    DEPLOYER_SESSION,
    HOME,
    JOE,
    LIMITED_IAM_ADMIN,
    SOURCE_IP_DENY,
    TARGET_ROLE,
    TRUST_DEPLOYER,
    TRUST_EXTERNAL_ID,
    TRUST_NOT_PRINCIPAL_ROLE_ONLY,
    assume,
    call,
    policy,
)


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
