"""Single-flight across real processes: 32 cold calls, exactly one AssumeRole per hop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rolehop.engine import context
from rolehop.engine.resolve import chain_of
from rolehop.features.demo import Emulator
from rolehop.stores.locks import lock_dir
from tests.conftest import Sandbox
from tests.support.emulator import WAREHOUSE_ARN, caller_arn, warehouse_chain

PROCESSES = 32

HOLDER = """
import sys, time
from pathlib import Path
from rolehop.stores.locks import FileLocks
locks = FileLocks(Path(sys.argv[1]))
with locks.hold(sys.argv[2], "holder"), locks.hold(sys.argv[3], "holder"):
    print("held", flush=True)
    time.sleep(120)
"""


def _start(env: dict[str, str]) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "rolehop", "credential-process", "warehouse"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]


def _finish(processes: list[subprocess.Popen[str]], moto: Emulator) -> list[dict[str, str]]:
    documents = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert err == ""
        documents.append(json.loads(out))
    assert all(document == documents[0] for document in documents)
    assert caller_arn(moto, documents[0]).startswith(
        WAREHOUSE_ARN.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")
    )
    return documents


@pytest.fixture
def cold_chain(sandbox: Sandbox, moto: Emulator, joe: dict[str, str]) -> None:
    warehouse_chain(sandbox, moto)


@pytest.mark.usefixtures("cold_chain")
def test_parallel_cold_calls_make_one_sts_call_per_hop(
    moto: Emulator, subprocess_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**subprocess_env, "AWS_ENDPOINT_URL": moto.url}
    before = moto.assume_role_calls()
    started = time.monotonic()
    _finish(_start(env), moto)
    elapsed = time.monotonic() - started
    calls = moto.assume_role_calls() - before
    with capsys.disabled():
        print(
            f"\n[parallel] {PROCESSES} processes, 2-hop chain: {calls} AssumeRole, {elapsed:.1f} s"
        )
    assert calls == 2


@pytest.mark.usefixtures("cold_chain")
def test_a_holder_killed_mid_refresh_never_blocks_the_others(
    moto: Emulator, subprocess_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**subprocess_env, "AWS_ENDPOINT_URL": moto.url}
    keys = chain_of(context.build(env), "warehouse").keys
    directory = lock_dir(env)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory), keys[-1], keys[-2]],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = moto.assume_role_calls()
        processes = _start(env)
        time.sleep(1.0)  # they are all waiting on the holder's locks now
        assert all(process.poll() is None for process in processes)
        assert moto.assume_role_calls() == before
        os.kill(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        _finish(processes, moto)
        elapsed = time.monotonic() - killed
        calls = moto.assume_role_calls() - before
        with capsys.disabled():
            print(f"\n[parallel] holder killed: {calls} AssumeRole, all done {elapsed:.1f} s later")
        assert calls == 2
    finally:
        holder.kill()
        holder.wait()
    assert Path(directory).is_dir()


RECORDER = """\
import sys, time
with open(sys.argv[1], "a") as log:
    log.write("asked\\n")
time.sleep(0.5)  # a person typing: the others must wait, not ask too
print("123456")
"""


def test_parallel_cold_calls_ask_for_one_mfa_code(
    sandbox: Sandbox,
    moto: Emulator,
    joe: dict[str, str],
    subprocess_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    asked = sandbox.root / "mfa-asked.log"
    recorder = sandbox.root / "mfa_code.py"
    recorder.write_text(RECORDER)
    sandbox.write_rolehop(
        f"""\
        [profiles.joe]
        mfa_serial = "arn:aws:iam::444455556666:mfa/joe"
        mfa_process = "{sys.executable} {recorder} {asked}"

        [profiles.research-ro]
        role_arn = "arn:aws:iam::111122223333:role/DynamoDB-ReadOnly-role"
        source_profile = "joe"
        """
    )
    env = {**subprocess_env, "AWS_ENDPOINT_URL": moto.url}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "rolehop", "credential-process", "research-ro"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(16)
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outputs.append(json.loads(out))
    assert all(output == outputs[0] for output in outputs)
    prompts = asked.read_text().splitlines()
    with capsys.disabled():
        print(f"\n[parallel] 16 processes behind one MFA base: {len(prompts)} code asked")
    assert prompts == ["asked"]


@pytest.mark.usefixtures("cold_chain")
def test_parallel_cold_calls_with_an_agent(
    moto: Emulator, subprocess_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """With an agent up, the same: the waiters wait for the lock without the direct path's
    imports, then are served by the agent."""
    from rolehop.agent import client

    env = {**subprocess_env, "AWS_ENDPOINT_URL": moto.url, "ROLEHOP_AGENT": "1"}
    assert client.start(env, 60, None)
    deadline = time.monotonic() + 15
    while client.status(env) is None:
        assert time.monotonic() < deadline, "the agent did not start"
        time.sleep(0.05)
    try:
        before = moto.assume_role_calls()
        started = time.monotonic()
        _finish(_start(env), moto)
        elapsed = time.monotonic() - started
        calls = moto.assume_role_calls() - before
        status = client.status(env)
    finally:
        client.stop(env)
    assert status is not None
    with capsys.disabled():
        print(f"\n[parallel, agent] {calls} AssumeRole, {elapsed:.1f} s, served {status['served']}")
    assert calls == 2
    assert status["served"]["hit"] >= 1  # waiters were answered by the agent
