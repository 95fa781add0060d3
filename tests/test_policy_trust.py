"""Whole trust policies through the policy evaluator (policy/principals.py): accounts, roles
and their sessions, users, services, federation, NotPrincipal, and trust policy shapes.
"""

from __future__ import annotations

from typing import Any

import pytest

from rolehop.features.explain.policy.document import evaluate
from rolehop.features.explain.policy.request import Request
from tests.support.policies import (
    ANN,
    DEPLOYER_ROLE,
    DEPLOYER_SESSION,
    EXT,
    HOME,
    HOME_ROOT,
    JOE,
    MFA,
    OTHER_SESSION,
    SAML,
    STRANGER_DEPLOYER,
    STRANGER_USER,
    TARGET_ROLE,
    TRUST_DEPLOYER,
    TRUST_EC2,
    TRUST_EXTERNAL_ID,
    TRUST_HOME_ACCOUNT_ID,
    TRUST_HOME_ROOT,
    TRUST_MFA,
    TRUST_NOT_PRINCIPAL_ROLE_ONLY,
    TRUST_NOT_PRINCIPAL_SESSION,
    TRUST_SAML,
    assume,
    policy,
    row,
    trust,
)

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
