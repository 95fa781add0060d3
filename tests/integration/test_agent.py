"""The agent for real: started on demand by the `rolehop` program, serving cache hits over
its Unix socket, falling back to the direct path whenever it cannot answer.

Each test gets its own XDG_RUNTIME_DIR (the sandbox), so its own agent; the ``agent_env``
fixture stops it afterwards, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rolehop import entry
from rolehop.agent import client
from rolehop.agent.protocol import (
    call,
    encode,
    read_message,
    request,
    request_environ,
    socket_path,
)
from rolehop.engine import context
from rolehop.engine.resolve import build_chain
from rolehop.features.demo import ROLE_ARN, Emulator
from rolehop.stores.locks import FileLocks
from tests.conftest import Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.fault_proxy import running
from tests.support.file_keyring import locked
from tests.support.held import held_for
from tests.support.local_endpoints import StsRecording
from tests.support.tools import run_captured

Run = Callable[..., subprocess.CompletedProcess[str]]


def _program() -> str:
    """The installed `rolehop` script: what the AWS CLI runs (rolehop.entry:main)."""
    found = shutil.which("rolehop", path=os.path.dirname(sys.executable))
    assert found, "the rolehop script is not installed next to this Python"
    return found


@pytest.fixture
def agent_env(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], subprocess_env: dict[str, str]
) -> Iterator[dict[str, str]]:
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    env = {**subprocess_env, "ROLEHOP_AGENT": "1"}
    yield env
    client.stop(env)
    _wait_for(lambda: client.status(env) is None, "the agent to stop")


@pytest.fixture
def run(agent_env: dict[str, str]) -> Run:
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_captured([_program(), *args], {**agent_env, **(env or {})})

    return run


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _served(env: dict[str, str]) -> dict[str, int]:
    status = client.status(env)
    assert status is not None
    return dict(status["served"])


def _started(env: dict[str, str]) -> dict[str, Any]:
    _wait_for(lambda: client.status(env) is not None, "the agent to start")
    status = client.status(env)
    assert status is not None
    return status


def test_started_on_demand_then_serves_hits(
    run: Run, agent_env: dict[str, str], moto: Emulator
) -> None:
    assert client.status(agent_env) is None
    before = moto.assume_role_calls()
    first = run("credential-process", "research-ro")
    assert first.returncode == 0, first.stderr
    status = _started(agent_env)
    assert status["pid"] != os.getpid()

    second = run("credential-process", "research-ro")
    env = run("env", "research-ro", "--shell", "bash")

    assert second.returncode == 0 and second.stderr == ""
    assert json.loads(second.stdout) == json.loads(first.stdout)
    assert "export AWS_SESSION_TOKEN=" in env.stdout and env.returncode == 0
    assert _served(agent_env) == {"hit": 2, "miss": 0, "work": 0}
    assert moto.assume_role_calls() == before + 1


def test_agent_off_never_starts_one(run: Run, agent_env: dict[str, str]) -> None:
    for _ in range(2):
        assert run("credential-process", "research-ro", env={"ROLEHOP_AGENT": "0"}).returncode == 0
    time.sleep(0.5)
    assert client.status(agent_env) is None
    assert not Path(socket_path(agent_env) or "/nonexistent").exists()


def test_the_setting_turns_it_off_too(
    run: Run, agent_env: dict[str, str], sandbox: Sandbox
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML + "\n[settings]\nagent = false\n")
    assert run("credential-process", "research-ro").returncode == 0
    time.sleep(0.5)
    assert client.status(agent_env) is None


def test_a_cache_clear_reaches_the_agent(
    run: Run, agent_env: dict[str, str], moto: Emulator
) -> None:
    before = moto.assume_role_calls()
    assert run("credential-process", "research-ro").returncode == 0
    _started(agent_env)
    assert run("credential-process", "research-ro").returncode == 0
    assert run("cache", "clear").returncode == 0

    after = run("credential-process", "research-ro")

    assert after.returncode == 0
    assert moto.assume_role_calls() == before + 2  # the agent's copy went with the keyring's
    assert _served(agent_env) == {"hit": 1, "miss": 1, "work": 1}  # made by the agent


def test_idle_agent_exits_and_removes_its_socket(
    run: Run, agent_env: dict[str, str], sandbox: Sandbox
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML + "\n[settings]\nagent_idle_timeout = 1\n")
    assert run("credential-process", "research-ro").returncode == 0
    pid = _started(agent_env)["pid"]
    _wait_for(lambda: not entry.alive(pid), "the idle agent to exit", timeout=10)
    assert not Path(socket_path(agent_env) or "").exists()


def test_kill_9_falls_back_and_a_new_agent_takes_over(
    run: Run, agent_env: dict[str, str], moto: Emulator
) -> None:
    before = moto.assume_role_calls()
    assert run("credential-process", "research-ro").returncode == 0
    old = _started(agent_env)["pid"]
    os.kill(old, signal.SIGKILL)
    _wait_for(lambda: not entry.alive(old), "the agent to die")
    assert Path(socket_path(agent_env) or "").exists()  # stale: nobody listens

    fallback = run("--debug", "credential-process", "research-ro")

    assert fallback.returncode == 0
    assert "agent: not used (ConnectionRefusedError" in fallback.stderr
    new = _started(agent_env)["pid"]
    assert new != old
    assert run("credential-process", "research-ro").returncode == 0
    assert _served(agent_env)["hit"] == 1
    assert moto.assume_role_calls() == before + 1  # the keyring kept it across agents


@pytest.fixture
def impostor(agent_env: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
    """A listener on the agent's socket that speaks protocol v0 and records requests."""
    path = socket_path(agent_env)
    assert path
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(8)
    seen: list[dict[str, Any]] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                message = read_message(connection)
                seen.append(message)
                connection.sendall(encode({"v": 0, "version": "0.0.1", "stopping": True}))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield seen
    listener.close()
    with contextlib.suppress(FileNotFoundError):  # replaced by a real agent, gone with it
        os.unlink(path)


def test_an_agent_of_another_version_is_stopped(
    run: Run, impostor: list[dict[str, Any]], agent_env: dict[str, str]
) -> None:
    result = run("credential-process", "research-ro")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Version"] == 1
    assert [message["op"] for message in impostor][:2] == ["resolve", "stop"]
    # the direct path started an agent of this version in its place (stopped afterwards)
    assert _started(agent_env)["pid"] != os.getpid()


def test_the_socket_directory_is_private(run: Run, agent_env: dict[str, str]) -> None:
    assert run("credential-process", "research-ro").returncode == 0
    _started(agent_env)
    path = Path(socket_path(agent_env) or "")
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600


def test_secrets_stay_off_disk(
    run: Run, agent_env: dict[str, str], sandbox: Sandbox, subprocess_env: dict[str, str]
) -> None:
    issued = json.loads(run("credential-process", "research-ro").stdout)
    _started(agent_env)
    assert run("credential-process", "research-ro").returncode == 0
    keyring_file = Path(subprocess_env["ROLEHOP_TEST_KEYRING"])
    secrets = [issued["SecretAccessKey"].encode(), issued["SessionToken"].encode()]
    for path in sandbox.root.rglob("*"):
        if path.is_file() and path != keyring_file:
            data = path.read_bytes()
            assert not any(secret in data for secret in secrets), path


BASELINE_PROBE = """\
import atexit, json, sys
atexit.register(lambda: json.dump(sorted(sys.modules), open(sys.argv[1], "w")))
"""
# json and its re, the probe's own atexit, the C modules of socket and sha256, rolehop's
# (rolehop.stores.private: the check that the socket's directory is this user's alone;
# rolehop.config.locations: the request's paths made absolute)
HIT_PATH_MODULES = {
    *("json", "json.decoder", "json.encoder", "json.scanner", "_json", "atexit"),
    *("re", "re._casefix", "re._compiler", "re._constants", "re._parser", "sre_compile"),
    *("_socket", "_sha2", "_sha256", "collections.abc"),
    *("rolehop", "rolehop.version", "rolehop.agent", "rolehop.agent.protocol", "rolehop.entry"),
    "rolehop.shell",
    *("rolehop.stores", "rolehop.stores.private", "rolehop.config", "rolehop.config.locations"),
}

HIT_PROBE = """\
import atexit, json, sys
target = sys.argv[1]
atexit.register(lambda: json.dump(sorted(sys.modules), open(target, "w")))
sys.argv = ["rolehop", *sys.argv[2:]]
from rolehop.entry import main
main()
"""


def test_a_hit_through_the_agent_imports_only_the_standard_library(
    run: Run, agent_env: dict[str, str], sandbox: Sandbox
) -> None:
    assert run("credential-process", "research-ro").returncode == 0
    _started(agent_env)
    target = sandbox.root / "modules.json"

    result = run_captured(
        [sys.executable, "-c", HIT_PROBE, str(target), "credential-process", "research-ro"],
        agent_env,
    )

    assert result.returncode == 0, result.stderr
    assert _served(agent_env)["hit"] == 1
    modules = set(json.loads(target.read_text()))
    heavy = {"keyring", "click", "boto3", "botocore", "rich", "rolehop.cli", "rolehop.engine.core"}
    assert not modules & heavy, modules & heavy
    # beyond what a bare interpreter (with this install's site) loads: json, the C modules
    # behind socket and sha256, and rolehop's three small modules - no typing, enum,
    # hashlib, socket.py, threading or logging
    baseline = sandbox.root / "baseline.json"
    bare = run_captured([sys.executable, "-c", BASELINE_PROBE, str(baseline)], agent_env)
    assert bare.returncode == 0, bare.stderr
    added = modules - set(json.loads(baseline.read_text()))
    assert added <= HIT_PATH_MODULES, added - HIT_PATH_MODULES


def test_a_cold_call_leaves_the_keyring_to_the_agent(
    run: Run, agent_env: dict[str, str], sandbox: Sandbox, moto: Emulator
) -> None:
    assert run("credential-process", "research-ro").returncode == 0
    _started(agent_env)
    before = moto.assume_role_calls()
    target = sandbox.root / "modules.json"

    refreshed = run_captured(
        [
            sys.executable,
            "-c",
            HIT_PROBE,
            str(target),
            "credential-process",
            "research-ro",
            "--refresh",
        ],
        agent_env,
    )

    assert refreshed.returncode == 0, refreshed.stderr
    assert moto.assume_role_calls() == before + 1
    assert "keyring" not in json.loads(target.read_text())  # the agent did the keyring work
    # ... and the keyring has it: with the agent gone, the direct path finds the new entry
    client.stop(agent_env)
    _wait_for(lambda: client.status(agent_env) is None, "the agent to stop")
    direct = run("credential-process", "research-ro", env={"ROLEHOP_AGENT": "0"})
    assert json.loads(direct.stdout) == json.loads(refreshed.stdout)
    assert moto.assume_role_calls() == before + 1


def test_a_cold_call_is_made_by_the_agent(
    run: Run, agent_env: dict[str, str], moto: Emulator
) -> None:
    assert run("credential-process", "research-ro").returncode == 0  # starts the agent
    _started(agent_env)
    assert run("cache", "clear").returncode == 0
    before = moto.assume_role_calls()

    cold = run("credential-process", "research-ro")

    assert cold.returncode == 0 and cold.stderr == ""
    assert moto.assume_role_calls() == before + 1
    assert _served(agent_env)["work"] == 1
    # durable: the keyring has what the agent made
    client.stop(agent_env)
    _wait_for(lambda: client.status(agent_env) is None, "the agent to stop")
    direct = run("credential-process", "research-ro", env={"ROLEHOP_AGENT": "0"})
    assert json.loads(direct.stdout) == json.loads(cold.stdout)
    assert moto.assume_role_calls() == before + 1


def test_the_agents_sts_errors_are_the_direct_paths(
    run: Run, agent_env: dict[str, str], moto: Emulator
) -> None:
    with running(moto.url) as proxy:
        through = {"AWS_ENDPOINT_URL": proxy.url}
        assert run("credential-process", "research-ro", env=through).returncode == 0
        _started({**agent_env, **through})
        try:
            outcomes = []
            for agent in ("1", "0"):
                assert run("cache", "clear", env=through).returncode == 0
                proxy.fail("error", 3, match=lambda request: request.action == "AssumeRole")
                outcomes.append(
                    run(
                        "credential-process", "research-ro", env={**through, "ROLEHOP_AGENT": agent}
                    )
                )
            by_agent, direct = outcomes
            assert _served({**agent_env, **through})["work"] == 0  # it tried, and failed
        finally:
            client.stop({**agent_env, **through})
    assert (by_agent.returncode, by_agent.stdout) == (direct.returncode, direct.stdout) == (4, "")
    assert by_agent.stderr == direct.stderr
    assert direct.stderr.startswith("rolehop: error: profile 'research-ro': AssumeRole")


def test_mfa_chains_are_left_to_the_direct_path(
    run: Run, agent_env: dict[str, str], sandbox: Sandbox
) -> None:
    assert run("credential-process", "research-ro").returncode == 0
    _started(agent_env)
    mfa = 'source_profile = "joe"\nmfa_serial = "arn:aws:iam::444455556666:mfa/joe"'
    sandbox.write_rolehop(RESEARCH_RO_TOML.replace('source_profile = "joe"', mfa))

    asked = run("credential-process", "research-ro")  # no terminal to ask for a code

    assert asked.returncode == 9, asked.stderr  # the direct path's MfaError
    assert "MFA" in asked.stderr
    assert _served(agent_env)["work"] == 0


def test_list_through_the_agent_is_the_direct_list_and_follows_the_files(
    run: Run, agent_env: dict[str, str], sandbox: Sandbox
) -> None:
    assert run("credential-process", "research-ro").returncode == 0
    _started(agent_env)
    direct = run("list", "--json", env={"ROLEHOP_AGENT": "0"})

    through = run("list", "--json")

    assert through.returncode == 0 and through.stdout == direct.stdout
    status = client.status(agent_env)
    assert status is not None and status["lists"] == 1  # the agent's rows, not a fallback
    assert json.loads(through.stdout)["profiles"][0]["cached_until"] is not None
    # an edit of the file is seen at once, even within the same second
    other = '[profiles.other]\nrole_arn = "arn:aws:iam::111122223333:role/o"\n'
    sandbox.write_rolehop(f'{RESEARCH_RO_TOML}\n{other}source_profile = "joe"\n')
    names = [row["name"] for row in json.loads(run("list", "--json").stdout)["profiles"]]
    assert names == ["other", "research-ro"]
    # a broken file: the direct path's error, as without an agent
    sandbox.write_rolehop("[profiles.x\n")
    broken = run("list")
    assert broken.returncode == 3 and f"{sandbox.rolehop_config}:1" in broken.stderr


def test_status_lists_every_agent_of_the_user(run: Run, agent_env: dict[str, str]) -> None:
    """Agents are per keyring: another D-Bus session has its own, and both are listed."""
    other = {**agent_env, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent-bus"}
    assert run("credential-process", "research-ro").returncode == 0
    assert run("credential-process", "research-ro", env=other).returncode == 0
    _started(agent_env)
    _started(other)
    try:
        status = run("agent", "status", "--json")
        text = run("agent", "status")
    finally:
        client.stop(other)
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["version"] == 1 and shown["running"] is True
    sockets = {agent["socket"]: agent["this_environment"] for agent in shown["agents"]}
    assert sockets == {socket_path(agent_env): True, socket_path(other): False}
    assert all(isinstance(agent["pid"], int) for agent in shown["agents"])
    assert shown["rolehop_version"] == shown["agents"][0]["rolehop_version"]
    assert text.returncode == 0 and text.stdout.count("agent pid ") == 2


def test_a_failing_keyring_shows_in_status_and_is_not_sticky(
    run: Run, agent_env: dict[str, str]
) -> None:
    keyring = Path(agent_env["ROLEHOP_TEST_KEYRING"])
    assert run("credential-process", "research-ro").returncode == 0
    _started(agent_env)
    assert run("credential-process", "research-ro").returncode == 0
    with locked(keyring):
        during = run("credential-process", "research-ro")
        degraded = run("agent", "status", "--json")
    after = run("credential-process", "research-ro")
    healthy = run("agent", "status", "--json")

    assert during.returncode == 0 and "continuing without the cache" in during.stderr
    assert degraded.returncode == 1
    assert json.loads(degraded.stdout)["keyring_ok"] is False
    assert "KeyringLocked" in json.loads(degraded.stdout)["keyring_error"]
    assert after.returncode == 0 and after.stderr == ""
    assert healthy.returncode == 0 and json.loads(healthy.stdout)["keyring_ok"] is True
    assert _served(agent_env)["hit"] == 2  # before the lock, and after: not sticky


def test_no_agent_is_started_without_a_usable_keyring(run: Run, agent_env: dict[str, str]) -> None:
    """It would exit at once, and the next call would start another: one Python process
    more on every call."""
    none = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    for _ in range(2):
        done = run("credential-process", "research-ro", env=none)
        assert done.returncode == 0, done.stderr
        assert "not cached" in done.stderr
    time.sleep(0.5)
    place = Path(agent_env["XDG_RUNTIME_DIR"]) / "rolehop"
    assert not place.exists() or not list(place.glob("agent-*"))


def test_a_missing_config_file_is_the_same_error_with_the_agent_and_without(
    run: Run, agent_env: dict[str, str], sandbox: Sandbox
) -> None:
    # the role in the AWS config too: with no rolehop file at all the agent could serve it
    sandbox.write_aws_config(
        f"[profile research-aws]\nrole_arn = {ROLE_ARN}\nsource_profile = joe\n"
    )
    assert run("credential-process", "research-aws").returncode == 0
    _started(agent_env)
    assert run("credential-process", "research-aws").returncode == 0  # a hit from the agent
    missing = str(sandbox.root / "nonexistent.toml")

    for command in (["credential-process", "research-aws"], ["env", "research-aws"]):
        by_agent, direct = (
            run("--config", missing, *command, env={"ROLEHOP_AGENT": agent}) for agent in ("1", "0")
        )

        assert (by_agent.returncode, by_agent.stdout, by_agent.stderr) == (
            direct.returncode,
            direct.stdout,
            direct.stderr,
        )
        assert (direct.returncode, direct.stdout, direct.stderr) == (
            3,
            "",
            f"rolehop: error: {missing}: no such file (named by --config)\n",
        )
    assert _served(agent_env)["hit"] == 1  # asked, the agent sent them the direct way


def test_a_base_profile_is_the_direct_paths_answer_agent_on_or_off(
    run: Run,
    agent_env: dict[str, str],
    joe: dict[str, str],
    recording: StsRecording,
) -> None:
    """``env``/``credential-process`` of a base (Joe's keys) hand out its session: the agent
    answers a miss and the direct path makes it, or reads it from the keyring; with the
    agent on or off, the same stdout, stderr and exit code."""
    assert run("credential-process", "research-ro").returncode == 0
    _started(agent_env)
    served = _served(agent_env)
    commands = [
        ("credential-process", "joe"),
        ("env", "joe", "--shell", "bash"),
        ("credential-process", "joe", "--no-session"),
    ]
    outcomes: dict[tuple[str, ...], set[tuple[int, str, str]]] = {}
    for agent in ("1", "0", "1"):
        for command in commands:
            result = run(*command, env={"ROLEHOP_AGENT": agent})
            outcomes.setdefault(command, set()).add(
                (result.returncode, result.stdout, result.stderr)
            )

    assert all(len(seen) == 1 for seen in outcomes.values()), outcomes
    [(code, stdout, stderr)] = outcomes[commands[0]]
    assert (code, stderr) == (0, "")
    session = json.loads(stdout)
    assert session["AccessKeyId"] != joe["id"] and "Expiration" in session
    [(_, keys, _)] = outcomes[commands[2]]
    assert json.loads(keys) == {
        "Version": 1,
        "AccessKeyId": joe["id"],
        "SecretAccessKey": joe["secret"],
    }
    assert len(recording.calls("GetSessionToken")) == 1  # made once, then the keyring's
    after = _served(agent_env)
    assert (after["hit"], after["work"]) == (served["hit"], served["work"])  # never the agent's


def test_waiting_for_another_process_takes_at_most_lock_timeout(
    run: Run, agent_env: dict[str, str], sandbox: Sandbox
) -> None:
    """Another process leads the refresh and holds the lock past lock_timeout: the call
    fails with exit 10 once lock_timeout has passed in all, as without an agent (it waited
    for the lead first, then the direct path a whole lock_timeout more)."""
    timeout = 3
    sandbox.write_rolehop(RESEARCH_RO_TOML + f"\n[settings]\nlock_timeout = {timeout}\n")
    assert run("credential-process", "research-ro").returncode == 0  # starts the agent
    _started(agent_env)
    assert run("cache", "clear").returncode == 0
    path = socket_path(agent_env)
    assert path is not None
    # this process leads (a lease in its name), and holds the target's lock
    ask = request(
        "resolve",
        environ=request_environ(agent_env, os.getcwd()),
        pid=os.getpid(),
        work=False,
        profile="research-ro",
        command="credential-process",
        config=None,
        shell=None,
    )
    first = call(path, ask)
    assert first["lead"] is True, first
    key = build_chain(context.build(agent_env), "research-ro").keys[-1]
    with held_for(FileLocks(Path(path).parent / "locks"), key, timeout * 3):
        started = time.monotonic()
        waited = run("credential-process", "research-ro")
        took = time.monotonic() - started
    assert waited.returncode == 10, waited.stderr
    assert took < timeout * 1.5, took


def test_profile_completion_through_the_agent_imports_no_click(
    run: Run, agent_env: dict[str, str], sandbox: Sandbox
) -> None:
    """``rolehop env <Tab>`` with an agent running: its names, the click answer's bytes,
    without click, the keyring or the SDK."""
    assert run("agent", "start").returncode == 0
    _started(agent_env)
    target = sandbox.root / "modules.json"
    completing = {
        **agent_env,
        "_ROLEHOP_COMPLETE": "bash_complete",
        "COMP_WORDS": "rolehop env res",
        "COMP_CWORD": "2",
    }

    result = run_captured([sys.executable, "-c", HIT_PROBE, str(target)], completing)
    direct = run_captured([sys.executable, "-m", "rolehop"], {**completing, "ROLEHOP_AGENT": "0"})

    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == (direct.stdout, direct.stderr)
    assert result.stdout == "plain,research-ro\n"
    assert _started(agent_env)["completions"] == 1
    modules = set(json.loads(target.read_text()))
    heavy = {"keyring", "click", "boto3", "botocore", "rich", "rolehop.cli", "tomllib"}
    assert not modules & heavy, modules & heavy


def test_list_to_a_pipe_through_the_agent_imports_no_click(
    run: Run, agent_env: dict[str, str], sandbox: Sandbox
) -> None:
    """``rolehop list`` to a pipe with an agent running: the direct path's text, from the
    agent, without click, rich, the keyring or the SDK."""
    assert run("agent", "start").returncode == 0
    _started(agent_env)
    target = sandbox.root / "modules.json"

    result = run_captured([sys.executable, "-c", HIT_PROBE, str(target), "list"], agent_env)
    direct = run_captured(
        [sys.executable, "-m", "rolehop", "list"], {**agent_env, "ROLEHOP_AGENT": "0"}
    )

    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == (direct.stdout, direct.stderr)
    assert "research-ro" in result.stdout
    assert _started(agent_env)["lists"] == 1
    modules = set(json.loads(target.read_text()))
    heavy = {"keyring", "click", "boto3", "botocore", "rich", "rolehop.cli", "tomllib"}
    assert not modules & heavy, modules & heavy


def test_the_fast_paths_in_a_runtime_directory_not_ours(
    agent_env: dict[str, str], sandbox: Sandbox
) -> None:
    """``list`` to a pipe and completion where the agent's directory may be written by
    others: no traceback, the direct path's answer (``list`` warns as ``env`` does)."""
    shared = sandbox.root / "shared-run"
    shared.mkdir()
    shared.chmod(0o777)
    env = {**agent_env, "XDG_RUNTIME_DIR": str(shared)}
    listed = run_captured([sys.executable, "-m", "rolehop", "list"], env)
    assert listed.returncode == 0, listed.stderr
    assert "research-ro" in listed.stdout
    assert "Traceback" not in listed.stderr
    assert "not using the agent" in listed.stderr
    completing = {
        **env,
        "_ROLEHOP_COMPLETE": "bash_complete",
        "COMP_WORDS": "rolehop env ",
        "COMP_CWORD": "2",
    }
    completed = run_captured([sys.executable, "-m", "rolehop"], completing)
    assert (completed.returncode, completed.stdout, completed.stderr) == (
        0,
        "plain,research-ro\n",
        "",
    )


def test_the_fast_paths_in_a_directory_gone(agent_env: dict[str, str], sandbox: Sandbox) -> None:
    gone = sandbox.root / "gone"
    gone.mkdir()
    script = f"cd {gone} && rmdir {gone} && {sys.executable} -m rolehop list"
    result = run_captured(["sh", "-c", script], agent_env)
    assert "Traceback" not in result.stderr, result.stderr
