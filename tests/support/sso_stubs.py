"""IAM Identity Center for the stubbed tests: real botocore ``sso`` and ``sso-oidc`` clients
with botocore's ``Stubber`` (every call checked parameter by parameter), and sign-ins
written where rolehop reads them (the keyring, the AWS CLI's token cache).

Not a test module: shared by the SSO unit tests.
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from botocore import UNSIGNED
from botocore.config import Config
from botocore.stub import Stubber

from rolehop.common.sign_in import SignIn
from rolehop.stores.memory_keyring import MemoryKeyring
from rolehop.stores.sign_ins import KeyringSignIns, aws_cli_cache_name
from tests.support.stubs import NOW, shared_session

START_URL = "https://corp.awsapps.com/start"
ACCOUNT, PERMISSION_SET = "111111111111", "Developer"

# ~/.aws/config: an sso-session, an SSO profile through it, and a legacy SSO profile
SSO_CONFIG = f"""\
    [profile dev-sso]
    sso_session = corp
    sso_account_id = {ACCOUNT}
    sso_role_name = {PERMISSION_SET}
    region = eu-west-1

    [sso-session corp]
    sso_start_url = {START_URL}
    sso_region = us-east-1
    sso_registration_scopes = sso:account:access

    [profile old-sso]
    sso_start_url = {START_URL}
    sso_region = us-east-1
    sso_account_id = {ACCOUNT}
    sso_role_name = {PERMISSION_SET}
    """


def sign_in(
    expires_in: timedelta = timedelta(hours=1),
    *,
    token: str = "access-token-1",  # noqa: S107 - a test value
    refresh: str | None = "refresh-token-1",
    now: datetime = NOW,
) -> SignIn:
    """A sign-in of session corp, ``expires_in`` after ``now``."""
    return SignIn(
        start_url=START_URL,
        region="us-east-1",
        access_token=token,
        expires_at=now + expires_in,
        refresh_token=refresh,
        client_id="client-1" if refresh else None,
        client_secret="client-secret-1" if refresh else None,
        registration_expires_at=now + timedelta(days=90) if refresh else None,
    )


def keep(keyring: MemoryKeyring, session: str, value: SignIn) -> None:
    """Store ``value`` as rolehop keeps sign-ins (the registration on its own)."""
    from rolehop.common.sign_in import Registration

    store = KeyringSignIns(keyring)
    store.put(session, value)
    if value.client_id and value.client_secret and value.registration_expires_at:
        store.put_registration(
            session,
            Registration(
                value.client_id,
                value.client_secret,
                value.registration_expires_at,
                ("sso:account:access",),
                ("authorization_code", "refresh_token"),
            ),
        )


def write_aws_cli(home: Path, session: str, value: SignIn, mode: int = 0o600) -> Path:
    """The AWS CLI's token cache file of ``session`` (as ``aws sso login`` writes it)."""
    directory = home / ".aws" / "sso" / "cache"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / aws_cli_cache_name(session)
    path.write_text(json.dumps(value.to_aws_cli()))
    os.chmod(path, mode)
    return path


def role_credentials(tag: str, expiration: datetime) -> dict[str, Any]:
    """GetRoleCredentials's answer, keys derived from ``tag``."""
    return {
        "roleCredentials": {
            "accessKeyId": f"ASIA{tag.upper():0<16}"[:20],
            "secretAccessKey": f"{tag}-secret-access-key-0123456789abcdef",
            "sessionToken": f"{tag}-session-token",
            "expiration": int(expiration.timestamp() * 1000),
        }
    }


@dataclass
class StubSso:
    """An ``SsoClients``: one client per service, stubbed; ``expect(service, ...)`` queues
    an answer (with the parameters it must get), ``calls`` counts clients asked for."""

    stubbers: dict[str, Stubber] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)
    calls: deque[tuple[str, str]] = field(default_factory=deque)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            config = Config(signature_version=UNSIGNED)
            made = shared_session().client(service, region_name="us-east-1", config=config)  # type: ignore[call-overload]
            self.clients[service] = made
            self.stubbers[service] = Stubber(made)
            self.stubbers[service].activate()
        return self.clients[service]

    def expect(
        self, service: str, operation: str, answer: dict[str, Any], expected: dict[str, Any]
    ) -> None:
        self.client(service)
        self.stubbers[service].add_response(operation, answer, expected)

    def refuse(self, service: str, operation: str, code: str, status: int = 400) -> None:
        self.client(service)
        self.stubbers[service].add_client_error(operation, code, code, status)

    def expect_refresh(self, answer: dict[str, Any]) -> None:
        """A refresh-token grant of client-1 with refresh-token-1 (:func:`sign_in`'s)."""
        expected = {
            "clientId": "client-1",
            "clientSecret": "client-secret-1",
            "grantType": "refresh_token",
            "refreshToken": "refresh-token-1",
        }
        self.expect("sso-oidc", "create_token", answer, expected)

    def expect_role_credentials(self, token: str, expiration: datetime) -> None:
        """GetRoleCredentials of the Developer permission set with ``token``."""
        answer = role_credentials("dev", expiration)
        self.expect("sso", "get_role_credentials", answer, get_role_credentials(token))

    def expect_registration(self, answer: dict[str, Any], **expected: Any) -> None:
        """RegisterClient of rolehop's public client (any of the rest, unless given)."""
        from botocore.stub import ANY

        wanted = {"clientName": "rolehop", "clientType": "public"}
        for key in ("scopes", "grantTypes", "issuerUrl", "redirectUris"):
            wanted[key] = expected.get(key, ANY)
        self.expect("sso-oidc", "register_client", answer, wanted)

    def done(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()

    def __call__(self, service: str, region: str) -> Any:
        self.calls.append((service, region))
        return self.client(service)


def get_role_credentials(token: str = "access-token-1") -> dict[str, str]:  # noqa: S107
    """The GetRoleCredentials parameters rolehop must send."""
    return {"roleName": PERMISSION_SET, "accountId": ACCOUNT, "accessToken": token}
