"""A two-hop cross-account chain against moto: Joe -> research role -> warehouse role.

moto's ``data.json`` lists every AssumeRole (role, account, session, issued access key) but
not who called it; moto's request recorder shows the access key that signed each call, so
together they prove that the second hop was assumed with the first hop's credentials.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rolehop.features.demo import RESEARCH, ROLE_ARN, ROLE_NAME, Emulator
from tests.conftest import RunRolehop, Sandbox
from tests.support.emulator import (
    RESEARCH_RO_TOML,
    WAREHOUSE,
    WAREHOUSE_ARN,
    WAREHOUSE_ROLE,
    caller_arn,
    warehouse_chain,
)

RESEARCH_CALLER = f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-tester"
WAREHOUSE_CALLER = f"arn:aws:sts::{WAREHOUSE}:assumed-role/{WAREHOUSE_ROLE}/rolehop-tester"
CLAMP_WARNING = (
    "rolehop: warning: profile 'warehouse': duration_seconds 7200 lowered to 3600: "
    "AWS caps a role assumed with another role's credentials at 1 hour"
)


def _post(url: str) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10):  # noqa: S310
        pass


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        body: bytes = response.read()
    return body


def assumed_roles(moto: Emulator) -> list[dict[str, Any]]:
    """moto's record of every AssumeRole, in call order."""
    data = json.loads(_get(f"{moto.url}/moto-api/data.json"))
    entries: list[dict[str, Any]] = data.get("sts", {}).get("AssumedRole", [])
    return entries


@pytest.fixture
def recorder(moto: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's request recorder, writing under tmp_path, for this test only.

    The moto server runs in this process (a ThreadedMotoServer), so its recorder is this
    module object; its file path is read only at import, hence the attribute.
    """
    from moto.moto_api import recorder as moto_recorder

    monkeypatch.setattr(moto_recorder, "_location", str(tmp_path / "moto-recording.jsonl"))
    _post(f"{moto.url}/moto-api/recorder/reset-recording")
    _post(f"{moto.url}/moto-api/recorder/start-recording")
    try:
        yield
    finally:
        _post(f"{moto.url}/moto-api/recorder/stop-recording")


def recorded_assume_roles(moto: Emulator) -> list[tuple[str, dict[str, str]]]:
    """(signing access key id, parameters) of every recorded AssumeRole, in call order."""
    calls = []
    for line in _get(f"{moto.url}/moto-api/recorder/download-recording").decode().splitlines():
        entry = json.loads(line)
        body = entry["body"] or ""
        if entry["body_encoded"]:
            body = base64.b64decode(body).decode()
        params = dict(urllib.parse.parse_qsl(body))
        if params.get("Action") != "AssumeRole":
            continue
        authorization = entry["headers"]["Authorization"]
        key_id = authorization.split("Credential=", 1)[1].split("/", 1)[0]
        calls.append((key_id, params))
    return calls


def _issued(run_rolehop: RunRolehop, *args: str) -> dict[str, Any]:
    result = run_rolehop("credential-process", *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    document: dict[str, Any] = json.loads(result.stdout)
    assert set(document) == {
        "Version",
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    }
    return document


def test_two_hops_cold_then_cached(
    sandbox: Sandbox,
    moto: Emulator,
    recorder: None,
    run_rolehop: RunRolehop,
    joe: dict[str, str],
) -> None:
    warehouse_chain(sandbox, moto)
    setup_calls = len(assumed_roles(moto))

    warehouse = _issued(run_rolehop, "warehouse")

    assert caller_arn(moto, warehouse) == WAREHOUSE_CALLER
    made = assumed_roles(moto)[setup_calls:]
    assert [(e["role_arn"], e["account_id"], e["session_name"]) for e in made] == [
        (ROLE_ARN, RESEARCH, "rolehop-tester"),
        (WAREHOUSE_ARN, WAREHOUSE, "rolehop-tester"),
    ]
    research_entry, warehouse_entry = made
    assert research_entry["arn"] == RESEARCH_CALLER
    assert warehouse_entry["arn"] == WAREHOUSE_CALLER
    assert warehouse_entry["access_key_id"] == warehouse["AccessKeyId"]
    # Joe signed the first hop; the first hop's own credentials signed the second.
    calls = recorded_assume_roles(moto)
    assert [(signer, params["RoleArn"]) for signer, params in calls[-2:]] == [
        (joe["id"], ROLE_ARN),
        (research_entry["access_key_id"], WAREHOUSE_ARN),
    ]
    assert "DurationSeconds" not in calls[-1][1]

    again = _issued(run_rolehop, "warehouse")
    assert again == warehouse
    assert len(assumed_roles(moto)) == setup_calls + 2

    research = _issued(run_rolehop, "research-ro")  # the intermediate hop is cached too
    assert len(assumed_roles(moto)) == setup_calls + 2
    assert research["AccessKeyId"] == research_entry["access_key_id"]
    assert caller_arn(moto, research) == RESEARCH_CALLER


@pytest.mark.usefixtures("joe")
def test_refresh_then_cache_clear(
    sandbox: Sandbox, moto: Emulator, run_rolehop: RunRolehop
) -> None:
    warehouse_chain(sandbox, moto)
    first = _issued(run_rolehop, "warehouse")
    calls = moto.assume_role_calls()

    refreshed = _issued(run_rolehop, "warehouse", "--refresh")
    assert moto.assume_role_calls() == calls + 2  # --refresh assumes every hop again
    assert refreshed["AccessKeyId"] != first["AccessKeyId"]
    assert caller_arn(moto, refreshed) == WAREHOUSE_CALLER
    assert _issued(run_rolehop, "warehouse") == refreshed  # and stores what it got
    assert moto.assume_role_calls() == calls + 2

    cleared = run_rolehop("cache", "clear")
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout == "removed 2 cached credentials (all profiles)\n"

    after = _issued(run_rolehop, "warehouse")
    assert moto.assume_role_calls() == calls + 4
    assert after["AccessKeyId"] not in (first["AccessKeyId"], refreshed["AccessKeyId"])
    assert caller_arn(moto, after) == WAREHOUSE_CALLER


@pytest.mark.usefixtures("joe")
def test_chained_duration_is_lowered_to_one_hour(
    sandbox: Sandbox, moto: Emulator, recorder: None, run_rolehop: RunRolehop
) -> None:
    warehouse_chain(sandbox, moto, warehouse_extra="duration_seconds = 7200")

    started = datetime.now(UTC)
    result = run_rolehop("credential-process", "warehouse")
    finished = datetime.now(UTC)

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [CLAMP_WARNING]
    document = json.loads(result.stdout)
    expiration = datetime.fromisoformat(document["Expiration"].replace("Z", "+00:00"))
    # moto honours DurationSeconds: 7200 would expire two hours from now
    slack = timedelta(seconds=2)
    assert (
        started + timedelta(hours=1) - slack <= expiration <= finished + timedelta(hours=1) + slack
    )
    second_hop = recorded_assume_roles(moto)[-1][1]
    assert second_hop["RoleArn"] == WAREHOUSE_ARN
    assert second_hop["DurationSeconds"] == "3600"


@pytest.mark.usefixtures("joe")
def test_first_hop_keeps_its_duration(
    sandbox: Sandbox, moto: Emulator, run_rolehop: RunRolehop
) -> None:
    """Only hops after the first are capped: the first is assumed with Joe's own keys."""
    warehouse_chain(sandbox, moto)
    sandbox.write_rolehop(RESEARCH_RO_TOML + "duration_seconds = 7200\n")
    started = datetime.now(UTC)
    result = run_rolehop("credential-process", "research-ro")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    expiration = datetime.fromisoformat(
        json.loads(result.stdout)["Expiration"].replace("Z", "+00:00")
    )
    assert expiration >= started + timedelta(hours=2) - timedelta(seconds=2)
