"""``rolehop login`` against moto and a fake federation endpoint, as a real subprocess.

moto issues the role's credentials; :mod:`tests.support.federation`'s fake plays
``signin.aws.amazon.com/federation`` (``[settings] federation_url``). The browser is a
recorder script named by ``$BROWSER``: it logs its argv and fetches the address it was given
without following redirects, recording the answer.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rolehop.features.demo import ROLE_ARN, Emulator
from tests.conftest import RunRolehop, Sandbox
from tests.support.emulator import RESEARCH_RO_TOML, warehouse_chain
from tests.support.federation import FakeFederation, fake_federation
from tests.support.leaks import Secrets, moto_issued

HOME_EU = "https://console.aws.amazon.com/console/home?region=eu-west-1"

BROWSER = """\
#!{python}
import http.client, json, sys, urllib.parse

def fetch(url):
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("GET", parts.path)
        answer = connection.getresponse()
        return {{
            "status": answer.status,
            "location": answer.getheader("Location"),
            "cache_control": answer.getheader("Cache-Control"),
            "referrer_policy": answer.getheader("Referrer-Policy"),
        }}
    except OSError as error:
        return {{"error": type(error).__name__}}
    finally:
        connection.close()

record = {{"argv": sys.argv}}
if {fetch!r}:
    record["first"] = fetch(sys.argv[1])
    record["second"] = fetch(sys.argv[1])
with open({log!r}, "w") as log:
    json.dump(record, log)
sys.exit(0 if {fetch!r} else 3)
"""


@pytest.fixture
def fake() -> Iterator[FakeFederation]:
    with fake_federation() as running:
        yield running


def _settings(fake: FakeFederation) -> str:
    return f'\n[settings]\nfederation_url = "{fake.url}"\n'


@pytest.fixture
def research(sandbox: Sandbox, joe: dict[str, str], fake: FakeFederation) -> dict[str, str]:
    """research-ro (in eu-west-1) from Joe's keys; login's endpoint is the fake."""
    sandbox.write_rolehop(RESEARCH_RO_TOML + 'region = "eu-west-1"\n' + _settings(fake))
    return joe


def browser_script(folder: Path, *, fetch: bool = True) -> tuple[Path, Path]:
    """A $BROWSER that records what it was given (and, with ``fetch``, what it got)."""
    path, log = folder / "browser", folder / "browser.json"
    path.write_text(BROWSER.format(python=sys.executable, log=str(log), fetch=fetch))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path, log


def rolehop(
    run_rolehop: RunRolehop, moto: Emulator, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    # AWS_ENDPOINT_URL explicitly: subprocess_env may predate the moto fixture's setenv
    return run_rolehop(*args, env={"AWS_ENDPOINT_URL": moto.url, **env})


def issued_for(moto: Emulator, role_arn: str) -> list[dict[str, str]]:
    return [session for session in moto_issued(moto.url) if session["role_arn"] == role_arn]


def expected_url(fake: FakeFederation, destination: str = HOME_EU) -> str:
    query = urllib.parse.urlencode(
        {
            "Action": "login",
            "Issuer": "rolehop",
            "Destination": destination,
            "SigninToken": fake.token,
        }
    )
    return f"{fake.url}?{query}"


def secrets_of(joe: dict[str, str], sessions: list[dict[str, str]], *more: str) -> Secrets:
    found = Secrets()
    found.add("joe SecretAccessKey", joe["secret"])
    found.add_sessions(sessions)
    for number, value in enumerate(more):
        found.add(f"secret {number}", value)
    return found


def test_print_gives_a_login_url_for_the_credentials_moto_issued(
    sandbox: Sandbox,
    moto: Emulator,
    research: dict[str, str],
    fake: FakeFederation,
    run_rolehop: RunRolehop,
) -> None:
    result = rolehop(run_rolehop, moto, "login", "research-ro", "--print")
    assert result.returncode == 0, result.stderr

    assert result.stdout == expected_url(fake) + "\n"
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(result.stdout.strip()).query))
    assert query == {
        "Action": "login",
        "Issuer": "rolehop",
        "Destination": HOME_EU,
        "SigninToken": fake.token,
    }
    [session] = issued_for(moto, ROLE_ARN)
    [request] = fake.requests
    assert (request.method, request.query, request.session_duration) == ("POST", {}, None)
    assert request.session == {
        "sessionId": session["access_key_id"],
        "sessionKey": session["secret_access_key"],
        "sessionToken": session["session_token"],
    }
    assert secrets_of(research, [session], fake.token).found_in(result.stderr) == []
    assert secrets_of(research, [session]).found_in(result.stdout) == []  # the token only

    # the very credentials the rest of rolehop hands out, from its cache
    handed_out = json.loads(rolehop(run_rolehop, moto, "credential-process", "research-ro").stdout)
    assert handed_out["AccessKeyId"] == session["access_key_id"]
    assert len(issued_for(moto, ROLE_ARN)) == 1


def test_the_browser_gets_a_one_time_address_never_the_secret(
    sandbox: Sandbox,
    moto: Emulator,
    research: dict[str, str],
    fake: FakeFederation,
    run_rolehop: RunRolehop,
) -> None:
    path, log = browser_script(sandbox.root)
    result = rolehop(run_rolehop, moto, "login", "research-ro", BROWSER=str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"rolehop: opened the AWS console as 'research-ro': {HOME_EU}\n"

    record: dict[str, Any] = json.loads(log.read_text())
    argv = record["argv"]
    assert len(argv) == 2
    given = urllib.parse.urlsplit(argv[1])
    assert (given.scheme, given.hostname, given.query) == ("http", "127.0.0.1", "")
    assert len(given.path) > 40
    assert record["first"] == {
        "status": 302,
        "location": expected_url(fake),
        "cache_control": "no-store",
        "referrer_policy": "no-referrer",
    }
    # once only: a second request gets a 404, or finds the server gone
    assert record["second"].get("status") in (404, None)
    assert record["second"].get("location") is None

    sessions = issued_for(moto, ROLE_ARN)
    assert len(sessions) == 1
    secrets = secrets_of(research, sessions, fake.token)
    assert secrets.in_texts({"browser argv": json.dumps(argv), "stderr": result.stderr}) == {}


def test_without_a_browser_login_says_to_use_print(
    sandbox: Sandbox,
    moto: Emulator,
    research: dict[str, str],
    fake: FakeFederation,
    run_rolehop: RunRolehop,
) -> None:
    path, log = browser_script(sandbox.root, fetch=False)  # exits 3 without fetching
    result = rolehop(run_rolehop, moto, "login", "research-ro", BROWSER=str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "rolehop: error: no browser could be started ($BROWSER, else the system's): use "
        "--print to print the sign-in URL instead\n"
    )
    assert "first" not in json.loads(log.read_text())
    assert fake.token not in result.stderr


def test_duration_only_for_a_role_assumed_with_long_term_keys(
    sandbox: Sandbox,
    moto: Emulator,
    joe: dict[str, str],
    fake: FakeFederation,
    run_rolehop: RunRolehop,
) -> None:
    warehouse_chain(sandbox, moto)
    sandbox.rolehop_config.write_text(sandbox.rolehop_config.read_text() + _settings(fake))

    direct = rolehop(run_rolehop, moto, "login", "research-ro", "--print", "--duration", "7200")
    assert direct.returncode == 0, direct.stderr
    assert direct.stderr == ""
    chained = rolehop(run_rolehop, moto, "login", "warehouse", "--print", "--duration", "7200")
    assert chained.returncode == 0, chained.stderr

    assert [request.session_duration for request in fake.requests] == ["7200", None]
    assert chained.stderr.startswith(
        "rolehop: warning: profile 'warehouse': --duration 7200 left out: "
    )
    assert chained.stdout.startswith(fake.url + "?Action=login&")


def test_a_failing_federation_endpoint_is_one_line_without_secrets(
    sandbox: Sandbox,
    moto: Emulator,
    research: dict[str, str],
    fake: FakeFederation,
    run_rolehop: RunRolehop,
) -> None:
    fake.fail_next(500, "<html>Internal error</html>")
    result = rolehop(run_rolehop, moto, "login", "research-ro", "--print")
    assert result.returncode == 11
    assert result.stdout == ""
    assert result.stderr == (
        f"rolehop: error: profile 'research-ro': the federation endpoint {fake.url} refused "
        "getSigninToken: HTTP 500 Internal Server Error\n"
    )
    assert secrets_of(research, issued_for(moto, ROLE_ARN)).found_in(result.stderr) == []


def _custom(fake: FakeFederation, allow: bool) -> str:
    return (
        RESEARCH_RO_TOML
        + f'\n[settings]\nfederation_url = "{fake.url}"\n'
        + ("allow_custom_federation_url = true\n" if allow else "")
    )


def test_a_custom_federation_endpoint_is_warned_about_at_every_login(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    with fake_federation(tls=sandbox.root) as custom:  # https, not AWS's: a custom endpoint
        config = sandbox.write_rolehop(_custom(custom, allow=True))
        trust = {"SSL_CERT_FILE": str(sandbox.root / "cert.pem")}
        for number in (1, 2):
            result = rolehop(run_rolehop, moto, "login", "research-ro", "--print", **trust)
            assert result.returncode == 0, result.stderr
            assert result.stdout == expected_url(custom, HOME_EU.split("?")[0]) + "\n"
            assert result.stderr == (
                "rolehop: warning: profile 'research-ro': sending its credentials to "
                "127.0.0.1, which is not AWS's console sign-in for partition aws "
                f"(allow_custom_federation_url in {config})\n"
            )
            assert len(custom.requests) == number
    sessions = issued_for(moto, ROLE_ARN)
    assert secrets_of(joe, sessions, custom.token).found_in(result.stderr) == []


def test_a_custom_federation_endpoint_without_the_setting_is_a_config_error(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    with fake_federation(tls=sandbox.root) as custom:
        config = sandbox.write_rolehop(_custom(custom, allow=False))
        line = config.read_text().splitlines().index(f'federation_url = "{custom.url}"') + 1
        result = rolehop(run_rolehop, moto, "login", "research-ro", "--print")
        assert custom.requests == []
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"rolehop: error: {config}:{line}: key 'settings.federation_url': '{custom.url}' is "
        "not AWS's console sign-in"
    )
    assert result.stderr.count("\n") == 1
    assert issued_for(moto, ROLE_ARN) == []


def test_an_ad_hoc_role_in_another_region(
    sandbox: Sandbox,
    moto: Emulator,
    research: dict[str, str],
    fake: FakeFederation,
    run_rolehop: RunRolehop,
) -> None:
    """``--role-arn ARN --source PROFILE``: a role with no profile; ``--region``: the
    console's region for this sign-in, over the profile's."""
    auditor = "arn:aws:iam::123456789012:role/Auditor"
    args = ("login", "--role-arn", auditor, "--source", "joe", "--region", "ap-south-1")
    result = rolehop(run_rolehop, moto, *args, "--print")
    assert result.returncode == 0, result.stderr
    home = "https://console.aws.amazon.com/console/home?region=ap-south-1"
    assert result.stdout == expected_url(fake, home) + "\n"
    [session] = issued_for(moto, auditor)
    sent = fake.requests[0].session
    assert sent is not None and sent["sessionId"] == session["access_key_id"]

    # a profile's own region, moved for one sign-in
    moved = rolehop(run_rolehop, moto, "login", "research-ro", "--region", "us-east-2", "--print")
    assert moved.returncode == 0, moved.stderr
    assert "region%3Dus-east-2" in moved.stdout
