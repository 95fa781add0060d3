"""The ``$BROWSER`` of the SSO tests (tests/support/sso_browser.py) against the Identity
Center stand-in: it follows /authorize to a client that answers only once the browser
command returned (as the AWS CLI does), tampers with the state, records only, approves a
device code.
"""

from __future__ import annotations

import sys
import webbrowser
from collections.abc import Iterator
from pathlib import Path

import pytest

from rolehop.features.demo.sso_standin import DEVICE_GRANT, IdentityCenter, code_challenge
from tests.support.sso_flows import (
    BROWSER,
    NO_MOTO,
    VERIFIER,
    FakeClock,
    LoopbackReceiver,
    auth_code_client,
    authorize_url,
    browser_events,
    client,
    query_of,
    register,
    run_browser,
    seeded_center,
)


@pytest.fixture
def center() -> Iterator[IdentityCenter]:
    with seeded_center(NO_MOTO, FakeClock()) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[LoopbackReceiver]:
    running = LoopbackReceiver()
    yield running
    running.close()


@pytest.fixture
def browser_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "browser.jsonl"
    monkeypatch.setenv("SSO_BROWSER_LOG", str(log))
    return log


def test_the_browser_follows_authorize_to_the_waiting_client(
    center: IdentityCenter, receiver: LoopbackReceiver, browser_log: Path
) -> None:
    oidc = client("sso-oidc", center)
    keys = auth_code_client(oidc, center)
    url = authorize_url(center, keys["clientId"], receiver.redirect_uri, code_challenge(VERIFIER))
    # as webbrowser opens a $BROWSER command: it waits for it to exit
    assert webbrowser.GenericBrowser([sys.executable, str(BROWSER), "%s"]).open(url)
    sent = receiver.answer_one()
    assert sent["state"] == query_of(url)["state"]
    token = oidc.create_token(
        grantType="authorization_code",
        code=sent["code"],
        redirectUri=receiver.redirect_uri,
        codeVerifier=VERIFIER,
        **keys,
    )
    assert token["refreshToken"]
    logged = browser_events(browser_log)
    assert [event["event"] for event in logged] == ["open", "hop", "hop", "done"]
    assert (logged[0]["url"], logged[1]["status"]) == (url, 302)
    assert logged[2] == {
        "event": "hop",
        "url": logged[1]["location"],
        "status": 200,
        "location": None,
    }


def test_a_tampered_state_reaches_the_client(
    center: IdentityCenter, receiver: LoopbackReceiver, browser_log: Path
) -> None:
    keys = auth_code_client(client("sso-oidc", center), center)
    url = authorize_url(center, keys["clientId"], receiver.redirect_uri, code_challenge(VERIFIER))
    run_browser(url, "tamper-state")
    sent = receiver.answer_one()
    assert sent["state"] == "tampered-" + query_of(url)["state"]
    assert [event["event"] for event in browser_events(browser_log)] == [
        "open",
        "hop",
        "tampered",
        "hop",
        "done",
    ]


def test_record_only_loads_nothing(center: IdentityCenter, browser_log: Path) -> None:
    run_browser(f"{center.url}/device?user_code=BCDF-GHJK", "record-only")
    assert [event["event"] for event in browser_events(browser_log)] == ["open", "done"]
    assert center.calls == []


def test_the_browser_approves_a_device_code(center: IdentityCenter, browser_log: Path) -> None:
    oidc = client("sso-oidc", center)
    keys = register(oidc)
    started = oidc.start_device_authorization(startUrl=center.start_url, **keys)
    run_browser(started["verificationUriComplete"], "follow")
    assert oidc.create_token(grantType=DEVICE_GRANT, deviceCode=started["deviceCode"], **keys)
    logged = browser_events(browser_log)
    assert [(event["event"], event.get("status")) for event in logged] == [
        ("open", None),
        ("hop", 200),
        ("done", None),
    ]
