"""Reading IAM policies for ``rolehop explain``: a role's trust policy, and a caller's own
identity policies. The only module that talks to IAM; every failure is an
:class:`Unreadable` saying what could not be read and why (usually AccessDenied: the caller
may not read its own policies, or a role in another account)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rolehop.common.creds import Credentials

IamClientFactory = Callable[[Credentials], Any]


class Unreadable(Exception):
    """A policy that could not be read: ``what`` (an IAM action and its target) and why."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")
        self.what = what
        self.why = why


@dataclass(frozen=True)
class Policy:
    """One policy document and where it came from (for people: "inline policy x of user y")."""

    source: str
    document: dict[str, Any]


def boto3_iam(credentials: Credentials) -> Any:
    """An IAM client signing with ``credentials`` (the endpoint: botocore's resolution)."""
    import boto3.session
    import botocore.session

    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return boto3.session.Session(botocore_session=core).client(
        "iam",
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    )


def _document(raw: Any) -> dict[str, Any]:
    """botocore decodes policy documents; a URL-encoded JSON string is accepted too."""
    if isinstance(raw, dict):
        return raw
    text = urllib.parse.unquote(str(raw))
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError("a policy document is a JSON object")
    return loaded


def _call(what: str, call: Callable[[], Any]) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call()
    except ClientError as error:
        detail = error.response.get("Error", {})
        raise Unreadable(what, f"{detail.get('Code', '?')}: {detail.get('Message', '')}") from None
    except (BotoCoreError, ValueError) as error:
        raise Unreadable(what, f"{type(error).__name__}: {error}") from None


def role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


def trust_policy(client: Any, role_arn: str) -> Policy:
    """The trust policy of ``role_arn`` (iam:GetRole)."""
    name = role_name(role_arn)
    what = f"iam:GetRole on {role_arn}"
    role = _call(what, lambda: client.get_role(RoleName=name))["Role"]
    return Policy(f"trust policy of {role_arn}", _document(role["AssumeRolePolicyDocument"]))


def identity_policies(client: Any, caller_arn: str) -> list[Policy]:
    """Every identity policy of the caller: a user's (its own and its groups', inline and
    attached) or, for an assumed-role session, its role's."""
    kind, _, rest = caller_arn.split(":", 5)[5].partition("/")
    if kind == "user":
        return _user_policies(client, rest.rsplit("/", 1)[-1])
    if kind == "assumed-role":
        return _role_policies(client, rest.split("/", 1)[0])
    if kind == "role":
        return _role_policies(client, rest.rsplit("/", 1)[-1])
    raise Unreadable(f"the policies of {caller_arn}", "not a user or a role session")


def _managed(client: Any, arn: str, owner: str) -> Policy:
    what = f"iam:GetPolicyVersion on {arn}"
    policy = _call(f"iam:GetPolicy on {arn}", lambda: client.get_policy(PolicyArn=arn))["Policy"]
    version = _call(
        what,
        lambda: client.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"]),
    )["PolicyVersion"]
    return Policy(f"managed policy {arn} of {owner}", _document(version["Document"]))


def _owned(client: Any, kind: str, name: str) -> list[Policy]:
    """The inline and attached policies of one user, group or role (``kind``)."""
    title = kind.capitalize()  # the API's spelling: ListUserPolicies, UserName...
    snake = kind.lower()
    owner = f"{snake} {name}"
    target = {f"{title}Name": name}
    names = _call(
        f"iam:List{title}Policies on {name}",
        lambda: getattr(client, f"list_{snake}_policies")(**target),
    )
    policies: list[Policy] = []
    for policy_name in names["PolicyNames"]:

        def get(policy_name: str = policy_name) -> Any:
            return getattr(client, f"get_{snake}_policy")(**target, PolicyName=policy_name)

        got = _call(f"iam:Get{title}Policy {policy_name}", get)
        policies.append(
            Policy(f"inline policy {policy_name} of {owner}", _document(got["PolicyDocument"]))
        )
    attached = _call(
        f"iam:ListAttached{title}Policies on {name}",
        lambda: getattr(client, f"list_attached_{snake}_policies")(**target),
    )
    policies += [
        _managed(client, item["PolicyArn"], owner) for item in attached["AttachedPolicies"]
    ]
    return policies


def _user_policies(client: Any, user: str) -> list[Policy]:
    policies = _owned(client, "user", user)
    groups = _call(
        f"iam:ListGroupsForUser on {user}", lambda: client.list_groups_for_user(UserName=user)
    )
    for group in groups["Groups"]:
        policies += _owned(client, "group", group["GroupName"])
    return policies


def _role_policies(client: Any, role: str) -> list[Policy]:
    return _owned(client, "role", role)
