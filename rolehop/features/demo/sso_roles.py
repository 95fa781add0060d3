"""The roles behind the Identity Center stand-in's portal (:mod:`.sso_standin`): Identity
Center keeps one IAM role per permission set in each account it assigns, named
``AWSReservedSSO_<permission set>_<16 hex digits>`` under ``/aws-reserved/sso.amazonaws.com/``
and trusting its SAML provider. :class:`MotoRoles` makes them in a moto server and hands out
their credentials, as GetRoleCredentials does: STS then knows the caller as
``assumed-role/AWSReservedSSO_<...>/<user>``, and the credentials can assume further roles.

boto3 and the standard library only, like the stand-in.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from typing import Any

import boto3

# moto accepts any key. This one is the demo emulator's own set-up key: the tests' moto
# recordings leave the calls it signs out, as they do the emulator's set-up.
SETUP_KEY = "demo"


def reserved_role_name(account_id: str, role: str) -> str:
    """The IAM role Identity Center keeps in ``account_id`` for the permission set ``role``:
    ``AWSReservedSSO_<role>_<16 hex digits>``, the digits the same every time."""
    digest = hashlib.sha256(f"{account_id}/{role}".encode()).hexdigest()
    return f"AWSReservedSSO_{role}_{digest[:16]}"


def reserved_role_arn(account_id: str, role: str) -> str:
    """The ARN of :func:`reserved_role_name`'s role, under its reserved path."""
    name = reserved_role_name(account_id, role)
    return f"arn:aws:iam::{account_id}:role/aws-reserved/sso.amazonaws.com/{name}"


class MotoRoles:
    """The AWSReservedSSO roles in the moto server: made on first use (unless ``make`` is
    false: an STS that needs no role to exist, such as tests/support/fake_sts.py), then
    assumed."""

    def __init__(self, url: str, region: str, *, make: bool = True) -> None:
        self.url, self.region, self.make = url, region, make
        self._made: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._sts: Any = None

    def _client(self, service: str, **credentials: str) -> Any:
        session: Any = boto3.session.Session()  # not thread-safe: made under the lock
        return session.client(
            service, endpoint_url=self.url, region_name=self.region, **credentials
        )

    def assume(self, account_id: str, role: str, user: str, seconds: int) -> dict[str, Any]:
        """Credentials of ``role``'s reserved role in ``account_id``, for ``user``."""
        with self._lock:
            if self._sts is None:
                self._sts = self._client(
                    "sts", aws_access_key_id=SETUP_KEY, aws_secret_access_key=SETUP_KEY
                )
            if self.make and (account_id, role) not in self._made:
                self._make(account_id, role)
                self._made.add((account_id, role))
        issued = self._sts.assume_role(
            RoleArn=reserved_role_arn(account_id, role),
            RoleSessionName=user,
            DurationSeconds=seconds,
        )
        credentials: dict[str, Any] = issued["Credentials"]
        return credentials

    def _make(self, account_id: str, role: str) -> None:
        # moto acts in the account of the role its caller assumed (any role will do)
        admin = self._sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/admin", RoleSessionName="sso-standin"
        )["Credentials"]
        iam = self._client(
            "iam",
            aws_access_key_id=admin["AccessKeyId"],
            aws_secret_access_key=admin["SecretAccessKey"],
            aws_session_token=admin["SessionToken"],
        )
        provider = f"arn:aws:iam::{account_id}:saml-provider/AWSSSO_{role}_DO_NOT_DELETE"
        audience = {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider},
                    "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                    "Condition": audience,
                }
            ],
        }
        # another stand-in on this moto server may have made it
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(
                Path="/aws-reserved/sso.amazonaws.com/",
                RoleName=reserved_role_name(account_id, role),
                AssumeRolePolicyDocument=json.dumps(trust),
            )
