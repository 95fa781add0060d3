"""An SSO base: the session's access token (the keyring's, the AWS CLI's, refreshed, or
signed in anew) traded for the permission set's credentials, cached like any hop, and
chains that start there.

IAM Identity Center is real botocore clients with ``Stubber`` (tests/support/sso_stubs.py):
each call is checked parameter by parameter; the clock is fixed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import timedelta

import pytest

from rolehop.common.sign_in import Registration
from rolehop.config.model import SsoSession
from rolehop.engine import chain as chains
from rolehop.engine.context import Context
from rolehop.engine.resolve import resolve
from rolehop.errors import SsoError, SsoLoginRequired
from rolehop.stores.sign_ins import KeyringSignIns, aws_cli_cache_name
from tests.support.sso_stubs import (
    SSO_CONFIG,
    START_URL,
    StubSso,
    keep,
    sign_in,
    write_aws_cli,
)
from tests.support.stubs import COMPANY_ROLE, NOW, StubWorld, issue, params

ROLES = f"""\
    [profiles.admin]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "dev-sso"
    duration_seconds = 7200

    [profiles.legacy-admin]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "old-sso"
    """


class SsoWorld(StubWorld):
    """A StubWorld with IAM Identity Center stubbed, and sign-ins in its keyring."""

    sso: StubSso
    logins: list[str]

    def app(self, environ: Mapping[str, str] | None = None) -> Context:
        if not hasattr(self, "sso"):
            self.sso = StubSso()
            self.logins = []
        return self.context(environ, sign_ins=KeyringSignIns(self.keyring), sso_clients=self.sso)


pytestmark = pytest.mark.world(kind=SsoWorld, aws_config=SSO_CONFIG, rolehop=ROLES)


@pytest.fixture
def sso(world: SsoWorld) -> SsoWorld:
    world.app()
    return world


def test_an_sso_base_by_itself_is_its_permission_set_s_credentials(sso: SsoWorld) -> None:
    keep(sso.keyring, "corp", sign_in())
    sso.sso.expect_role_credentials("access-token-1", NOW + timedelta(hours=8))
    first = resolve(sso.app(), "dev-sso")
    assert first.credentials.access_key_id == "ASIADEV0000000000000"
    assert first.credentials.expiration == NOW + timedelta(hours=8)
    # cached like any hop: the second call asks nobody
    second = resolve(sso.app(), "dev-sso")
    assert second.credentials == first.credentials and second.from_cache
    sso.sso.done()
    assert [service for service, _ in sso.sso.calls] == ["sso"]


def test_a_chain_from_an_sso_base_is_role_chaining(sso: SsoWorld) -> None:
    keep(sso.keyring, "corp", sign_in())
    sso.sso.expect_role_credentials("access-token-1", NOW + timedelta(hours=8))
    hop = issue("admin", COMPANY_ROLE, NOW + timedelta(hours=1))
    # credentials of a role (the permission set's) assume a role: capped at 1 hour
    sso.sts.expect_assume_role(params(COMPANY_ROLE, DurationSeconds=3600), hop.response)
    resolution = resolve(sso.app(), "admin")
    assert resolution.credentials == hop.credentials
    assert sso.sts.calls[0][0].access_key_id == "ASIADEV0000000000000"
    chain = chains.build(sso.app().config, "admin", os.environ)
    assert chain.hops[0].chained and chain.hops[0].lowered
    assert chain.base.kind(set()) == "SSO"
    assert any("lowered to 3600" in warning for warning in sso.warnings)


def test_a_token_within_5_minutes_of_expiry_is_refreshed_once(sso: SsoWorld) -> None:
    keep(sso.keyring, "corp", sign_in(timedelta(minutes=4)))
    sso.sso.expect_refresh(
        {"accessToken": "access-token-2", "expiresIn": 3600, "refreshToken": "refresh-token-2"}
    )
    sso.sso.expect_role_credentials("access-token-2", NOW + timedelta(hours=8))
    resolve(sso.app(), "dev-sso")
    sso.sso.done()
    kept = KeyringSignIns(sso.keyring).get("corp")
    assert kept is not None
    assert (kept.access_token, kept.refresh_token) == ("access-token-2", "refresh-token-2")
    assert kept.expires_at == NOW + timedelta(hours=1)
    assert kept.client_id == "client-1"  # the registration is kept beside it


def test_a_refused_refresh_is_the_one_line_and_exit_12(sso: SsoWorld) -> None:
    keep(sso.keyring, "corp", sign_in(-timedelta(minutes=1)))
    sso.sso.refuse("sso-oidc", "create_token", "InvalidGrantException")
    with pytest.raises(SsoLoginRequired) as raised:
        resolve(sso.app(), "admin")
    assert str(raised.value) == (
        "profile 'admin': IAM Identity Center session 'corp' has expired: run rolehop sso "
        "login corp"
    )
    assert raised.value.exit_code == 12 and raised.value.session == "corp"


def test_never_signed_in(sso: SsoWorld) -> None:
    with pytest.raises(
        SsoLoginRequired, match=r"session 'corp' is not signed in: run rolehop sso login corp$"
    ):
        resolve(sso.app(), "dev-sso")
    assert not sso.sso.calls  # nothing to ask IAM Identity Center with


def test_a_legacy_profile_s_session_is_its_start_url(sso: SsoWorld) -> None:
    with pytest.raises(SsoLoginRequired) as raised:
        resolve(sso.app(), "legacy-admin")
    assert raised.value.session == START_URL
    assert f"rolehop sso login {START_URL}" in str(raised.value)


def test_the_aws_cli_s_sign_in_is_used(sso: SsoWorld) -> None:
    write_aws_cli(sso.sandbox.home, "corp", sign_in(token="from-aws-cli"))
    sso.sso.expect_role_credentials("from-aws-cli", NOW + timedelta(hours=8))
    resolve(sso.app(), "dev-sso")
    sso.sso.done()


def test_an_aws_cli_file_others_may_write_is_not_trusted(sso: SsoWorld) -> None:
    write_aws_cli(sso.sandbox.home, "corp", sign_in(token="planted"), mode=0o666)
    with pytest.raises(SsoLoginRequired):
        resolve(sso.app(), "dev-sso")


def test_a_sign_in_of_another_start_url_is_not_this_session_s(sso: SsoWorld) -> None:
    other = sign_in()
    keep(
        sso.keyring,
        "corp",
        other.__class__(**{**other.__dict__, "start_url": "https://other.awsapps.com/start"}),
    )
    with pytest.raises(SsoLoginRequired):
        resolve(sso.app(), "dev-sso")


def test_the_portal_refusing_a_token_refreshes_it_then_tries_again(sso: SsoWorld) -> None:
    keep(sso.keyring, "corp", sign_in())
    sso.sso.refuse("sso", "get_role_credentials", "UnauthorizedException", 401)
    sso.sso.expect_refresh({"accessToken": "access-token-2", "expiresIn": 3600})
    sso.sso.expect_role_credentials("access-token-2", NOW + timedelta(hours=8))
    resolve(sso.app(), "dev-sso")
    sso.sso.done()
    kept = KeyringSignIns(sso.keyring).get("corp")
    assert kept is not None and kept.refresh_token == "refresh-token-1"  # none new: kept


def test_a_sign_in_is_started_when_one_is_needed_and_allowed(sso: SsoWorld) -> None:
    signed: list[str] = []

    def login(session: SsoSession) -> None:
        signed.append(session.name)
        keep(sso.keyring, session.name, sign_in(token="fresh-login"))

    ctx = sso.context(sign_ins=KeyringSignIns(sso.keyring), sso_clients=sso.sso, sso_login=login)
    sso.sso.expect_role_credentials("fresh-login", NOW + timedelta(hours=8))
    resolve(ctx, "dev-sso")
    assert signed == ["corp"]
    sso.sso.done()


def test_role_credentials_are_cached_per_session_account_and_role(sso: SsoWorld) -> None:
    ctx = sso.app()
    base = chains.build_base(ctx.config, "dev-sso", ctx.environ)
    legacy = chains.build_base(ctx.config, "old-sso", ctx.environ)
    assert base.base.key != legacy.base.key  # another session, though the same role
    moved = chains.build_base(
        ctx.config, "dev-sso", {**ctx.environ, "AWS_ENDPOINT_URL_SSO": "http://127.0.0.1:1"}
    )
    assert moved.base.key != base.base.key


def test_a_forbidden_role_names_the_profile(sso: SsoWorld) -> None:
    keep(sso.keyring, "corp", sign_in())
    sso.sso.refuse("sso", "get_role_credentials", "ForbiddenException", 403)
    with pytest.raises(
        SsoError,
        match=r"^profile 'dev-sso': get the credentials of Developer in 111111111111 via "
        r".* failed: ForbiddenException",
    ):
        resolve(sso.app(), "dev-sso")


@pytest.mark.world(
    kind=SsoWorld, aws_config=SSO_CONFIG, rolehop="[settings]\nsso_export_token = true\n"
)
def test_the_export_setting_writes_each_new_sign_in_for_the_aws_cli(sso: SsoWorld) -> None:
    keep(sso.keyring, "corp", sign_in(timedelta(minutes=1)))
    sso.sso.expect_refresh({"accessToken": "access-token-2", "expiresIn": 3600})
    sso.sso.expect_role_credentials("access-token-2", NOW + timedelta(hours=8))
    resolve(sso.app(), "dev-sso")
    exported = sso.sandbox.home / ".aws" / "sso" / "cache" / aws_cli_cache_name("corp")
    assert oct(exported.stat().st_mode & 0o777) == "0o600"
    document = json.loads(exported.read_text())
    assert document["accessToken"] == "access-token-2"
    assert document["refreshToken"] == "refresh-token-1"
    assert document["expiresAt"] == "2030-01-01T13:00:00Z"


def test_a_token_is_refreshed_only_with_the_client_it_was_issued_to(sso: SsoWorld) -> None:
    keep(sso.keyring, "corp", sign_in(-timedelta(minutes=1)))
    # a later sign-in registered another client, then failed: the old token's client is gone
    KeyringSignIns(sso.keyring).put_registration(
        "corp",
        Registration("client-2", "client-secret-2", NOW + timedelta(days=90), (), ()),
    )
    kept = KeyringSignIns(sso.keyring).get("corp")
    assert kept is not None and not kept.refreshable
    with pytest.raises(SsoLoginRequired, match="has expired"):
        resolve(sso.app(), "dev-sso")
    sso.sso.done()  # no refresh with a client it was not issued to
