"""Policy documents and callers for the policy evaluator's tests (tests/test_policy_*.py).

Most policies come from the IAM User Guide's examples, with our accounts: the callers live
in 111111111111, the role to assume in 222222222222, strangers in 333333333333.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from rolehop.features.explain.policy.request import ContextValue, Request

HOME = "111111111111"
TARGET_ACCOUNT = "222222222222"
STRANGER = "333333333333"

TARGET_ROLE = f"arn:aws:iam::{TARGET_ACCOUNT}:role/target"
JOE = f"arn:aws:iam::{HOME}:user/joe"
ANN = f"arn:aws:iam::{HOME}:user/ann"
HOME_ROOT = f"arn:aws:iam::{HOME}:root"
DEPLOYER_ROLE = f"arn:aws:iam::{HOME}:role/team/deployer"  # a role with a path
DEPLOYER_SESSION = f"arn:aws:sts::{HOME}:assumed-role/deployer/ci-42"
OTHER_SESSION = f"arn:aws:sts::{HOME}:assumed-role/auditor/ci-42"
STRANGER_USER = f"arn:aws:iam::{STRANGER}:user/joe"
STRANGER_DEPLOYER = f"arn:aws:sts::{STRANGER}:assumed-role/deployer/ci-42"
SAML = f"arn:aws:iam::{TARGET_ACCOUNT}:saml-provider/corp"
BOOKS = f"arn:aws:dynamodb:us-east-1:{HOME}:table/Books"

V = "2012-10-17"

# condition keys and ARNs that the condition tables and the whole policies both use
EXT = "sts:ExternalId"
MFA = "aws:MultiFactorAuthPresent"
NOW = "aws:CurrentTime"
IP = "aws:SourceIp"
# the condition operators page's example of ArnLike stopping at colons where StringLike does not
FINANCE = "arn:aws:someservice:*:111122223333:finance/*"
FINANCE_DOC = (
    "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
)


def assume(
    caller: str | None = JOE,
    context: Mapping[str, ContextValue] | None = None,
    *,
    service: str | None = None,
    federated: str | None = None,
    role: str = TARGET_ROLE,
) -> Request:
    """sts:AssumeRole of ``role`` by ``caller`` (an ARN), a service or a federated user."""
    return Request(
        action="sts:AssumeRole",
        resource=role,
        principal_arn=caller,
        principal_account=account_of(caller),
        context=context or {},
        service_principal=service,
        federated=federated,
    )


def call(
    action: str,
    resource: str = "*",
    caller: str = JOE,
    context: Mapping[str, ContextValue] | None = None,
) -> Request:
    return Request(action, resource, caller, account_of(caller), context or {})


def row(name: str, document: Any, request: Request, expected: str) -> Any:
    """A whole-policy row: ``document`` evaluated for ``request`` gives verdict ``expected``."""
    return pytest.param(document, request, expected, id=name)


def account_of(arn: str | None) -> str | None:
    return arn.split(":")[4] if arn else None


def policy(*statements: dict[str, Any], version: str | None = V) -> dict[str, Any]:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    return document


def trust(principal: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    """A trust policy with one Allow sts:AssumeRole statement for ``principal``."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "sts:AssumeRole",
    }
    if condition is not None:
        statement["Condition"] = condition
    return policy(statement)


# identity policies ---------------------------------------------------------------------

DYNAMODB_READ_ONLY = policy(
    {
        "Sid": "ReadBooks",
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"],
        "Resource": BOOKS,
    }
)

# a user manages their own IAM user only
LIMITED_IAM_ADMIN = policy(
    {
        "Sid": "OwnUser",
        "Effect": "Allow",
        "Action": "iam:*",
        "Resource": "arn:aws:iam::*:user/${aws:username}",
    }
)

ALLOW_ALL_DENY_IAM = policy(
    {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"},
    {"Sid": "NoIam", "Effect": "Deny", "Action": "iam:*", "Resource": "*"},
)

SOURCE_IP_ALLOW = policy(
    {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Resource": "*",
        "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
    }
)

# the docs' "deny all outside these addresses", next to a broad allow
SOURCE_IP_DENY = policy(
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
    {
        "Sid": "OfficeOnly",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}},
    },
)

TIME_WINDOW = policy(
    {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Resource": TARGET_ROLE,
        "Condition": {
            "DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
            "DateLessThan": {"aws:CurrentTime": "2030-06-30T23:59:59Z"},
        },
    }
)

# trust policies ------------------------------------------------------------------------

TRUST_HOME_ROOT = trust({"AWS": HOME_ROOT})
TRUST_HOME_ACCOUNT_ID = trust({"AWS": HOME})
TRUST_EXTERNAL_ID = trust({"AWS": HOME}, {"StringEquals": {"sts:ExternalId": "abc"}})
TRUST_MFA = trust({"AWS": HOME_ROOT}, {"Bool": {"aws:MultiFactorAuthPresent": "true"}})
TRUST_DEPLOYER = trust({"AWS": DEPLOYER_ROLE})
TRUST_EC2 = trust({"Service": "ec2.amazonaws.com"})
TRUST_SAML = {
    "Version": V,
    "Statement": {
        "Effect": "Allow",
        "Principal": {"Federated": SAML},
        "Action": "sts:AssumeRoleWithSAML",
    },
}

# everyone in the account may assume, except that a Deny spares only what NotPrincipal names
TRUST_NOT_PRINCIPAL_SESSION = policy(
    {"Effect": "Allow", "Principal": {"AWS": HOME}, "Action": "sts:AssumeRole"},
    {
        "Sid": "OnlyDeployerCi",
        "Effect": "Deny",
        "NotPrincipal": {"AWS": [DEPLOYER_SESSION, DEPLOYER_ROLE, HOME_ROOT]},
        "Action": "sts:AssumeRole",
    },
)
TRUST_NOT_PRINCIPAL_ROLE_ONLY = policy(
    {"Effect": "Allow", "Principal": {"AWS": HOME}, "Action": "sts:AssumeRole"},
    {
        "Sid": "RoleOnly",
        "Effect": "Deny",
        "NotPrincipal": {"AWS": DEPLOYER_ROLE},
        "Action": "sts:AssumeRole",
    },
)
