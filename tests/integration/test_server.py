"""``exec --server`` and ``serve`` for real: a child Python with boto3 fed by the endpoint
against the moto server, across refreshes, an STS outage, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rolehop.features.demo import Emulator
from tests.conftest import RunRolehop, Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.fault_proxy import running
from tests.support.leaks import Secrets, moto_issued
from tests.support.tools import run_captured

# moto honours DurationSeconds: 15-minute credentials are inside botocore's 15-minute
# advisory window from the start, so every use refreshes them through the endpoint
SHORT = RESEARCH_RO_TOML + 'duration_seconds = 900\nregion = "us-east-1"\n'

CHILD = """\
import json, os, sys
import boto3
session = boto3.Session()
found = session.get_credentials()
keys = [found.get_frozen_credentials().access_key for _ in range(int(sys.argv[2]))]
sts = session.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
arn = sts.get_caller_identity()["Arn"]
env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
json.dump({"method": found.method, "keys": keys, "arn": arn, "env": env}, open(sys.argv[1], "w"))
"""


def _child(sandbox: Sandbox, uses: int) -> tuple[list[str], Path]:
    report = sandbox.root / "child.json"
    return [sys.executable, "-c", CHILD, str(report), str(uses)], report


def test_a_child_keeps_working_across_refreshes(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(SHORT)
    command, report = _child(sandbox, 3)
    before = moto.assume_role_calls()

    result = run_rolehop("exec", "--server", "research-ro", "--", *command)

    assert result.returncode == 0, result.stderr
    seen = json.loads(report.read_text())
    assert seen["method"] == "container-role"
    assert ":assumed-role/DynamoDB-ReadOnly-role/" in seen["arn"]
    assert len(set(seen["keys"])) == 3  # three refreshes, three sets of credentials
    # one AssumeRole for exec itself, then one per request to the endpoint: the first
    # load, the three uses and the STS call's own use
    assert moto.assume_role_calls() == before + 1 + 1 + 3 + 1
    assert "AWS_SECRET_ACCESS_KEY" not in seen["env"] and "AWS_ACCESS_KEY_ID" not in seen["env"]
    assert "AWS_SESSION_TOKEN" not in seen["env"]
    assert seen["env"]["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith("http://127.0.0.1:")
    secrets = Secrets()
    secrets.add_sessions(moto_issued(moto.url))
    assert secrets.in_texts({"child env": json.dumps(seen["env"]), "stderr": result.stderr}) == {}


def test_an_sts_outage_during_a_refresh_serves_what_is_still_valid(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(SHORT)
    command, report = _child(sandbox, 2)
    assume_roles = [0]

    def third_and_later(request: object) -> bool:
        if getattr(request, "action", None) != "AssumeRole":
            return False
        assume_roles[0] += 1
        return assume_roles[0] >= 3  # exec's and the child's first load go through

    with running(moto.url) as proxy:
        proxy.fail("error", 3, match=third_and_later)  # all 3 attempts of one refresh
        result = run_rolehop(
            "exec", "--server", "research-ro", "--", *command, env={"AWS_ENDPOINT_URL": proxy.url}
        )

    assert result.returncode == 0, result.stderr
    first, second = json.loads(report.read_text())["keys"]
    assert first != second  # the refresh after the outage worked again
    assert "still serving the previous credentials" in result.stderr
    assert result.stderr.count("rolehop: warning: credentials server: ") == 1


def test_serve_prints_the_exports_and_stops_on_ctrl_c(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], subprocess_env: dict[str, str]
) -> None:
    sandbox.write_rolehop(SHORT)
    server = subprocess.Popen(
        [sys.executable, "-m", "rolehop", "serve", "research-ro", "--shell", "bash"],
        env={**subprocess_env, "AWS_ENDPOINT_URL": moto.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        exports = ""
        while not exports.endswith("\n\n"):  # the exports end with an empty line
            line = server.stdout.readline()
            assert line, "serve ended before printing its exports"
            exports += line
        assert "export AWS_CONTAINER_AUTHORIZATION_TOKEN=" in exports
        command, report = _child(sandbox, 1)
        script = 'eval "$1"; shift; exec "$@"'
        child = run_captured(
            ["bash", "-c", script, "bash", exports, *command],
            {**subprocess_env, "AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "AKIASTALE"},
        )
        assert child.returncode == 0, child.stderr
        seen = json.loads(report.read_text())
        assert seen["method"] == "container-role" and "AWS_ACCESS_KEY_ID" not in seen["env"]
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert err.rstrip().endswith("rolehop: credentials server stopped")
    assert "Traceback" not in err


def test_exec_server_passes_on_the_exit_code_and_a_term_signal(
    sandbox: Sandbox,
    moto: Emulator,
    joe: dict[str, str],
    run_rolehop: RunRolehop,
    subprocess_env: dict[str, str],
) -> None:
    sandbox.write_rolehop(SHORT)
    assert (
        run_rolehop("exec", "--server", "research-ro", "--", "sh", "-c", "exit 7").returncode == 7
    )
    marker = sandbox.root / "started"
    waiting = subprocess.Popen(
        [sys.executable, "-m", "rolehop", "exec", "--server", "research-ro", "--",
         "sh", "-c", f"touch {marker}; sleep 30"],
        env={**subprocess_env, "AWS_ENDPOINT_URL": moto.url},
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not marker.exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    waiting.send_signal(signal.SIGTERM)
    assert waiting.wait(timeout=20) == 128 + signal.SIGTERM
    assert not os.path.exists(f"/proc/{waiting.pid}")


REFUSED = """\
import http.client, os, sys, urllib.parse
address = urllib.parse.urlsplit(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"])
statuses = []
for headers in ({}, {"Authorization": "wrong-" + os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]}):
    connection = http.client.HTTPConnection(address.netloc, timeout=10)
    connection.request("GET", address.path, headers=headers)
    statuses.append(connection.getresponse().status)
print(statuses)
"""


def test_refused_requests_are_logged_under_debug_without_the_token(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(SHORT)
    script = sandbox.root / "refused.py"
    script.write_text(REFUSED)

    result = run_rolehop(
        "--debug", "exec", "--server", "research-ro", "--", sys.executable, str(script)
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[401, 403]"
    assert "refused GET /rolehop/credentials: no authorization token" in result.stderr
    assert "refused GET /rolehop/credentials: wrong authorization token" in result.stderr
    assert "wrong-" not in result.stderr  # the token the child sent is not echoed
