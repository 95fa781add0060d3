"""``rolehop use`` with no profile on a terminal: fzf (iterfzf's) on a real pseudo-terminal,
the last used first; outside a terminal, the usage error. Through ``rolehop env`` (what the
shell function runs) and through the bash function itself."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from rolehop.features.demo import Emulator
from rolehop.stores import recent
from tests.conftest import Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.tools import require_tool, run_captured, spawn_rolehop

pytestmark = pytest.mark.integration

KEYS = {
    "ann": "AKIAANN0000000000001",
    "bob": "AKIABOB0000000000001",
    "zed": "AKIAZED0000000000001",
}
PROMPT = "profile>"  # fzf colours the space after it


def opened(child: pexpect.spawn) -> None:
    """Until the picker shows its prompt, answering fzf's cursor position query as a
    terminal does (``--height`` draws under the cursor, so it asks where that is)."""
    while child.expect_exact(["\x1b[6n", PROMPT]) == 0:
        child.send("\x1b[5;1R")


@pytest.fixture
def env(sandbox: Sandbox, subprocess_env: dict[str, str]) -> dict[str, str]:
    """Three bases of long-term keys (``env --no-session`` hands them out with no STS call)
    and a role profile; the agent off."""
    sandbox.write_aws_credentials(
        "".join(
            f"[{name}]\naws_access_key_id = {key}\naws_secret_access_key = s-{name}\n"
            for name, key in KEYS.items()
        )
    )
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    return {**subprocess_env, "ROLEHOP_AGENT": "0", "TERM": "xterm", "FZF_DEFAULT_OPTS": ""}


def picked(env: dict[str, str], typed: str, *args: str) -> str:
    """Run ``env --no-session --shell bash ARGS`` on a terminal, type ``typed`` into the
    picker, press Enter: the access key id it exported."""
    child, transcript = spawn_rolehop(env, "env", "--no-session", "--shell", "bash", *args)
    opened(child)
    if typed:
        child.send(typed)
        time.sleep(0.2)  # fzf filters as it reads: the list it shows is the filtered one
    child.send("\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, transcript.getvalue()
    found = re.search(r"export AWS_ACCESS_KEY_ID='(\w+)'", transcript.getvalue())
    assert found, transcript.getvalue()
    return found.group(1)


def test_the_picker_filters_and_puts_the_last_used_first(
    env: dict[str, str], sandbox: Sandbox
) -> None:
    assert picked(env, "bo") == KEYS["bob"]  # typed: fuzzy filtered
    assert recent.read(env) == ["bob"]
    assert picked(env, "") == KEYS["bob"]  # Enter at once: the first line, the last used

    run_captured([sys.executable, "-m", "rolehop", "env", "zed", "--no-session"], env)
    assert recent.read(env) == ["bob"]  # not at a terminal: no switch of a person's

    assert picked(env, "zd") == KEYS["zed"]
    assert recent.read(env) == ["zed", "bob"]
    assert picked(env, "") == KEYS["zed"]


def test_leaving_the_picker_changes_nothing(env: dict[str, str]) -> None:
    child, transcript = spawn_rolehop(env, "env", "--no-session", "--shell", "bash")
    opened(child)
    child.send("\x1b")  # Esc
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus != 0
    assert "export " not in transcript.getvalue()
    assert recent.read(env) == []


def test_outside_a_terminal_it_is_the_usage_error(env: dict[str, str]) -> None:
    result = run_captured([sys.executable, "-m", "rolehop", "env", "--shell", "bash"], env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "rolehop: error: name a profile, or a role to become: --role-arn ARN --source PROFILE\n"
    )


def test_rolehop_use_in_bash_opens_it(env: dict[str, str], sandbox: Sandbox) -> None:
    bash = require_tool("bash")
    rc = sandbox.root / "bashrc"
    rc.write_text(f"PS1='READY$ '\neval \"$({sys.executable} -m rolehop init bash)\"\n")
    bin_dir = Path(sys.executable).parent
    shell_env = {**env, "PATH": os.pathsep.join([str(bin_dir), env["PATH"]])}
    require_tool("rolehop")
    child = pexpect.spawn(
        bash, ["--noprofile", "--rcfile", str(rc), "-i"], env=shell_env, encoding="utf-8",
        timeout=60, dimensions=(24, 120),
    )  # fmt: skip
    try:
        child.expect_exact("READY$ ")
        child.sendline("rolehop use --no-session")
        opened(child)
        child.send("ann")
        time.sleep(0.2)
        child.send("\r")
        child.expect_exact("READY$ ")
        child.sendline('echo "[$ROLEHOP_PROFILE $AWS_ACCESS_KEY_ID]"')
        child.expect(r"\[(\w+) (\w+)\]")
        assert (child.match.group(1), child.match.group(2)) == ("ann", KEYS["ann"])
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert recent.read(env) == ["ann"]


@pytest.fixture
def agent_env(
    env: dict[str, str], sandbox: Sandbox, moto: Emulator, joe: dict[str, str]
) -> Iterator[dict[str, str]]:
    run = sandbox.root / "agent-run"
    run.mkdir(mode=0o700)
    with_agent = {
        **env,
        "ROLEHOP_AGENT": "1",
        "XDG_RUNTIME_DIR": str(run),
        "AWS_ENDPOINT_URL": moto.url,
    }
    rolehop = [sys.executable, "-m", "rolehop"]
    started = run_captured([*rolehop, "agent", "start"], with_agent)
    assert started.returncode == 0, started.stderr
    try:
        yield with_agent
    finally:
        run_captured([*rolehop, "agent", "stop"], with_agent)


def test_a_switch_the_agent_serves_is_remembered_too(agent_env: dict[str, str]) -> None:
    for _ in range(2):  # the first makes the credentials, the agent serves the second
        child, transcript = spawn_rolehop(agent_env, "env", "research-ro", "--shell", "bash")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, transcript.getvalue()
        assert recent.read(agent_env) == ["research-ro"]
        cache = Path(agent_env["XDG_CACHE_HOME"]) / "rolehop" / recent.FILE
        cache.unlink()
    status = run_captured([sys.executable, "-m", "rolehop", "agent", "status", "--json"], agent_env)
    assert json.loads(status.stdout)["agents"][0]["served"]["hit"] >= 1, status.stdout
