"""``rolehop doctor`` on IAM Identity Center sessions: signed in, refreshable or not, the
fix when not; and the clock against each region's OIDC endpoint (a fake Date header)."""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from datetime import timedelta
from email.utils import format_datetime

import pytest

from rolehop.features.doctor import sign_in_checks as doctor
from rolehop.features.doctor.checks import Opener
from rolehop.stores.sign_ins import KeyringSignIns
from tests.support.sso_stubs import SSO_CONFIG, START_URL, keep, sign_in
from tests.support.stubs import NOW, StubWorld

pytestmark = pytest.mark.world(aws_config=SSO_CONFIG)


def opener(offset: timedelta, asked: list[str]) -> Opener:
    def open_(request: urllib.request.Request, timeout: float) -> Mapping[str, str]:
        asked.append(request.full_url)
        return {"Date": format_datetime(NOW + offset, usegmt=True)}

    return open_


def checks(
    world: StubWorld, asked: list[str], offset: timedelta = timedelta(0)
) -> dict[str, tuple[str, str, str | None]]:
    ctx = world.context(sign_ins=KeyringSignIns(world.keyring))
    found = doctor.sessions(ctx, opener(offset, asked))
    return {check.topic: (check.verdict, check.summary, check.fix) for check in found}


def test_signed_in_refreshable_and_not(world: StubWorld) -> None:
    keep(world.keyring, "corp", sign_in(timedelta(hours=2)))
    asked: list[str] = []
    found = checks(world, asked)
    assert found["sso corp"] == ("ok", "signed in, 120 min left, refreshable", None)
    assert found[f"sso {START_URL}"] == ("warn", "not signed in", f"rolehop sso login {START_URL}")
    assert found["sso clock (us-east-1)"][0] == "ok"
    assert asked == ["https://oidc.us-east-1.amazonaws.com/"]  # one region, asked once


def test_expired_is_refreshed_on_use_when_it_can_be(world: StubWorld) -> None:
    keep(world.keyring, "corp", sign_in(-timedelta(minutes=5)))
    assert checks(world, [])["sso corp"][:2] == (
        "ok",
        "signed in: the access token expires, and is refreshed on next use",
    )


def test_expired_without_a_refresh_token_says_how_to_sign_in(world: StubWorld) -> None:
    keep(world.keyring, "corp", sign_in(-timedelta(minutes=5), refresh=None))
    assert checks(world, [])["sso corp"] == (
        "warn",
        "the sign-in has expired, and has no refresh token",
        "rolehop sso login corp",
    )


def test_a_skewed_clock_against_iam_identity_center_fails(
    world: StubWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9")
    asked: list[str] = []
    verdict, summary, fix = checks(world, asked, offset=timedelta(minutes=-10))[
        "sso clock (us-east-1)"
    ]
    assert verdict == "fail" and "ahead of IAM Identity Center (http://127.0.0.1:9)" in summary
    assert fix is not None and "NTP" in fix
    assert asked == ["http://127.0.0.1:9/"]
