"""A first hop from a role session (SSO...) is role chaining too: retried at 1 hour."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from mypy_boto3_sts import STSClient

from rolehop.common.creds import Credentials
from rolehop.engine import context
from rolehop.engine.resolve import resolve
from rolehop.errors import StsError
from rolehop.stores.cache import NullCache
from tests.conftest import Sandbox

ROLE = "arn:aws:iam::111122223333:role/long"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CHAINING = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by "
    "role chaining."
)


def _setup(sandbox: Sandbox, duration: int) -> None:
    sandbox.write_aws_credentials(
        "[sso]\naws_access_key_id = ASIASSOEXAMPLE\naws_secret_access_key = sso-secret\n"
        "aws_session_token = sso-token\n"
    )
    sandbox.write_rolehop(
        f'[profiles.long]\nrole_arn = "{ROLE}"\nsource_profile = "sso"\n'
        f"duration_seconds = {duration}\n"
    )


def _resolve(stubber: Stubber, client: STSClient, warnings: list[str]) -> Credentials:
    app = context.build(
        os.environ,
        clock=lambda: NOW,
        sts=lambda credentials, region: client,
        cache=NullCache(),
        warn=warnings.append,
    )
    with stubber:
        credentials = resolve(app, "long").credentials
    stubber.assert_no_pending_responses()
    return credentials


def _client() -> tuple[STSClient, Stubber]:
    client: STSClient = boto3.session.Session().client(
        "sts", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return client, Stubber(client)


RESPONSE = {
    "Credentials": {
        "AccessKeyId": "ASIAROLEEXAMPLE1",
        "SecretAccessKey": "role-secret-access-key",
        "SessionToken": "role-session-token",
        "Expiration": NOW + timedelta(hours=1),
    },
    "AssumedRoleUser": {"AssumedRoleId": "AROA:x", "Arn": "arn:aws:sts::111122223333:x"},
}


def test_chaining_limit_is_retried_with_one_hour(sandbox: Sandbox) -> None:
    _setup(sandbox, 43200)
    client, stubber = _client()
    base = {"RoleArn": ROLE, "RoleSessionName": "rolehop-tester"}
    stubber.add_client_error(
        "assume_role",
        service_error_code="ValidationError",
        service_message=CHAINING,
        http_status_code=400,
        expected_params={**base, "DurationSeconds": 43200},
    )
    stubber.add_response("assume_role", RESPONSE, {**base, "DurationSeconds": 3600})
    warnings: list[str] = []

    credentials = _resolve(stubber, client, warnings)

    assert credentials.access_key_id == "ASIAROLEEXAMPLE1"
    assert warnings == [
        "profile 'long': duration_seconds 43200 lowered to 3600: the source credentials are "
        "a role session, and AWS caps a role assumed from one at 1 hour"
    ]


def test_chaining_limit_at_one_hour_is_not_retried(sandbox: Sandbox) -> None:
    _setup(sandbox, 3600)
    client, stubber = _client()
    stubber.add_client_error(
        "assume_role",
        service_error_code="ValidationError",
        service_message=CHAINING,
        http_status_code=400,
    )
    with pytest.raises(
        StsError,
        match=f"profile 'long': AssumeRole {ROLE} via https://sts.us-east-1.amazonaws.com "
        "failed: ValidationError",
    ):
        _resolve(stubber, client, [])
