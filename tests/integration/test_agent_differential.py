"""The agent never changes an answer: the same scenarios with the agent on and off give the
same stdout, stderr and exit code, step by step.

Two worlds, each with its own files, keyring, runtime directory and deterministic STS
(tests/support/fake_sts.py: the n-th call issues the same credentials in both), run the
same steps in turn: one with an agent started beforehand, one with ``ROLEHOP_AGENT=0``. An
STS call that one world makes and the other does not changes every later credential, so a
stale or wrongly served answer shows. Outputs are compared after replacing each world's
root directory and STS address with placeholders, nothing else.

This matrix is the guard for every feature the agent serves: a new one adds its steps here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rolehop.agent import client
from rolehop.common.creds import Credentials
from rolehop.config import files as configs
from rolehop.engine import chain as chains
from rolehop.stores import changes
from rolehop.stores.cache import KeyringCache
from tests.support.fake_sts import FakeSts, fake_sts
from tests.support.file_keyring import FileKeyring, locked
from tests.support.tools import run_captured

ROLE = "arn:aws:iam::111122223333:role/research"
ADMIN = "arn:aws:iam::777788889999:role/admin"
SERIAL = "arn:aws:iam::444455556666:mfa/joe"
JOE = "[joe]\naws_access_key_id = AKIAJOEEXAMPLE000001\naws_secret_access_key = joeSecret0001\n"
CONFIG = f"""\
[settings]
default_region = "eu-west-1"

[profiles.dev]
role_arn = "{ROLE}"
source_profile = "joe"

[profiles.admin]
role_arn = "{ADMIN}"
source_profile = "dev"

[profiles.guarded]
role_arn = "{ADMIN}"
source_profile = "joe"
mfa_serial = "{SERIAL}"
"""


def _program() -> str:
    found = shutil.which("rolehop", path=os.path.dirname(sys.executable))
    assert found, "the rolehop script is not installed next to this Python"
    return found


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


@dataclass
class World:
    agent: bool
    root: Path
    sts: FakeSts
    env: dict[str, str] = field(default_factory=dict)

    @property
    def keyring(self) -> Path:
        return self.root / "keyring.json"

    @property
    def rolehop_config(self) -> Path:
        return self.root / "rolehop.toml"

    @property
    def aws_config(self) -> Path:
        return self.root / "home" / ".aws" / "config"

    def run(self, *args: str, env: dict[str, str] | None = None, cwd: str = "") -> Outcome:
        done = run_captured(
            [_program(), *args],
            {**self.env, **(env or {})},
            cwd=self.root / cwd if cwd else self.root,
            timeout=60,
        )
        return Outcome(done.returncode, self._normal(done.stdout), self._normal(done.stderr))

    def _normal(self, text: str) -> str:
        return text.replace(str(self.root), "<world>").replace(self.sts.url, "<sts>")

    def plant(self, profile: str, until: datetime, tag: str) -> None:
        """A cache entry for ``profile``'s target, expiring at ``until``: the same instant in
        both worlds (two readings of the clock could straddle a second)."""
        config = configs.load(self.env)
        key = chains.build(config, profile, self.env).keys[-1]
        planted = Credentials(f"ASIAPLANTED{tag}", f"planted-{tag}", f"token-{tag}", until)
        cache = KeyringCache(FileKeyring(self.keyring), pytest.fail, lambda: datetime.now(UTC))
        cache.put(key, planted, label=profile)
        changes.announce(self.env)  # as rolehop does after each change to the keyring

    def served(self) -> dict[str, int]:
        status = client.status(self.env)
        return dict(status["served"]) if status else {}


def _make(root: Path, sts: FakeSts, agent: bool, base: dict[str, str]) -> World:
    home = root / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(JOE)
    (root / "run").mkdir(mode=0o700)
    (root / "work").mkdir()
    (root / "rolehop.toml").write_text(CONFIG)
    keep = ("PATH", "LANG", "PYTHONPATH", "PYTHON_KEYRING_BACKEND", "SYSTEMROOT")
    env = {name: base[name] for name in keep if name in base}
    env.update(
        HOME=str(home),
        USER="tester",
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(root / "run"),
        ROLEHOP_CONFIG=str(root / "rolehop.toml"),
        AWS_CONFIG_FILE=str(home / ".aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"),
        AWS_ENDPOINT_URL=sts.url,
        AWS_EC2_METADATA_DISABLED="true",
        ROLEHOP_TEST_KEYRING=str(root / "keyring.json"),
        ROLEHOP_AGENT="1" if agent else "0",
    )
    return World(agent, root, sts, env)


@pytest.fixture
def worlds(tmp_path: Path, subprocess_env: dict[str, str]) -> Iterator[tuple[World, World]]:
    """(with the agent, without): fresh files, keyrings and STS servers."""
    with fake_sts() as one, fake_sts() as two:
        agent = _make(tmp_path / "agent", one, True, subprocess_env)
        direct = _make(tmp_path / "direct", two, False, subprocess_env)
        started = agent.run("agent", "start")
        assert started.code == 0, started
        _wait_for(lambda: client.status(agent.env) is not None, "the agent to start")
        try:
            yield agent, direct
        finally:
            client.stop(agent.env)
            _wait_for(lambda: client.status(agent.env) is None, "the agent to stop")


def _wait_for(condition: Callable[[], object], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@dataclass(frozen=True)
class Step:
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = ""
    before: Callable[[World], None] | None = None


def step(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: str = "",
    before: Callable[[World], None] | None = None,
) -> Step:
    return Step(args, env or {}, cwd, before)


def _same(worlds: tuple[World, World], steps: list[Step]) -> list[Outcome]:
    """Run each step in both worlds; assert identical outcomes; return the agent's."""
    agent, direct = worlds
    outcomes = []
    for number, one in enumerate(steps, start=1):
        results = []
        for world in worlds:
            if one.before is not None:
                one.before(world)
            results.append(world.run(*one.args, env=one.env, cwd=one.cwd))
        with_agent, without = results
        assert with_agent == without, f"step {number} {one.args} differs with the agent"
        outcomes.append(with_agent)
    assert agent.sts.calls == direct.sts.calls
    return outcomes


def _write(name: str, text: str) -> Callable[[World], None]:
    def write(world: World) -> None:
        (world.root / name).write_text(textwrap.dedent(text))

    return write


def _edit(old: str, new: str) -> Callable[[World], None]:
    def edit(world: World) -> None:
        world.rolehop_config.write_text(world.rolehop_config.read_text().replace(old, new))

    return edit


CP = ("credential-process", "dev")
ENV = ("env", "dev", "--shell", "bash")


def test_hits_and_outputs(worlds: tuple[World, World]) -> None:
    outcomes = _same(
        worlds,
        [
            step(*CP),
            step(*CP),
            step(*ENV),
            step("env", "dev", "--shell", "fish"),
            step("env", "admin", "--shell", "zsh"),
            step("credential-process", "admin"),
            step("env", "dev", env={"SHELL": "/usr/bin/fish"}),
        ],
    )
    assert all(outcome.code == 0 for outcome in outcomes)
    assert worlds[0].served()["hit"] >= 4  # the agent answered, not the direct path
    assert worlds[0].sts.count("AssumeRole") == 2


def test_ad_hoc_roles_and_overrides(worlds: tuple[World, World]) -> None:
    """--role-arn/--source, --region, --duration and the shell's --target: the same chain
    and cache as a profile (an ad-hoc ADMIN from dev is admin's very key)."""
    adhoc = ("--role-arn", ADMIN, "--source", "dev")
    target = '{"profile": "dev", "region": "ap-south-1"}'
    outcomes = _same(
        worlds,
        [
            step("env", *adhoc, "--shell", "bash"),
            step("credential-process", *adhoc),
            step("credential-process", "admin"),
            step("credential-process", "dev", "--duration", "1800"),
            step("credential-process", "dev", "--duration", "1800"),
            step("env", "dev", "--region", "ap-south-1", "--shell", "fish"),
            step("env", "--target", target, "--shell", "bash"),
            step("exec", *adhoc, "--region", "us-east-2", "--", "printenv", "AWS_REGION"),
            step("env", "--role-arn", ADMIN, "--shell", "bash"),
            step("env", "dev", "--duration", "60"),
            step("env", "--role-arn", ADMIN, "--source", "deb"),
            step("env", "joe", "--duration", "1800"),
            step("env", "--target", "{", "--shell", "bash"),
        ],
    )
    assert [outcome.code for outcome in outcomes] == [0] * 8 + [2] * 5
    assert outcomes[1].stdout == outcomes[2].stdout  # one cache entry
    assert outcomes[7].stdout == "us-east-2\n"
    assert worlds[0].sts.count("AssumeRole") == 3  # dev, admin, dev for 1800 s


def _completing(words: str, cword: str, protocol: str = "bash") -> dict[str, str]:
    return {"_ROLEHOP_COMPLETE": f"{protocol}_complete", "COMP_WORDS": words, "COMP_CWORD": cword}


ODD_NAMES = """
[profiles."team dev"]
role_arn = "arn:aws:iam::111122223333:role/odd"
source_profile = "joe"

[profiles."it's $(id)"]
role_arn = "arn:aws:iam::111122223333:role/odd"
source_profile = "joe"
"""


def test_profile_completion(worlds: tuple[World, World]) -> None:
    """``rolehop CMD <Tab>``: the agent's names, click's bytes; anything else on the line
    is click's alone."""
    odd = _edit("[profiles.dev]", ODD_NAMES + "\n[profiles.dev]")
    steps = [
        step(env=_completing("rolehop env ", "2"), before=odd),
        step(env=_completing("rolehop env d", "2")),
        step(env=_completing("rolehop credential-process 'team", "2")),
        step(env=_completing("rolehop exec it", "2")),
        step(env=_completing("rolehop use ", "2", "zsh")),
        step(env=_completing("rolehop login te", "te", "fish")),
        step(env=_completing("rolehop env --sh", "2")),
        step(env=_completing("rolehop --config rolehop.toml env ", "3")),
        step(env=_completing("rolehop cache clear ", "3")),
        step(env={**_completing("rolehop whoami ", "2"), "ROLEHOP_CONFIG": "rolehop.toml"}),
        step(env=_completing("rolehop env ", "x")),
        step(env=_completing("rolehop env ", "2"), before=_write("rolehop.toml", "[profiles\n")),
    ]
    outcomes = _same(worlds, steps)
    assert outcomes[0].stdout.count("plain,") == 5
    assert "plain,team\\\\\\ dev\n" in outcomes[0].stdout  # one word for bash's read
    assert outcomes[1].stdout == "plain,dev\n"
    assert outcomes[4].stdout.startswith("plain\nadmin\n_\n")
    assert outcomes[11].stdout == "\n"  # a broken config completes nothing
    status = client.status(worlds[0].env)
    assert status is not None and status["completions"] >= 6


def test_list_to_a_pipe(worlds: tuple[World, World]) -> None:
    """``list`` and ``list --json`` to a pipe: the agent's text, the direct path's bytes,
    warnings included; no profile at all, and another keyring, are the direct path's."""
    broken = _edit("[profiles.dev]", '[profiles.bad]\nrole_arn = "arn:aws:iam::1:role/x"\n'
                   'source_profile = "joe"\n\n[profiles.worse]\nrole_arn = "'
                   f'{ROLE}"\nsource_profile = "bad"\n\n[profiles.dev]')  # fmt: skip
    outcomes = _same(
        worlds,
        [
            step("list"),
            step("list", "--json"),
            step("list", before=broken),
            step("list", "--json"),
            step("--config", "rolehop.toml", "list"),
            step("--config=rolehop.toml", "list", "--json"),
            step("list", env={"ROLEHOP_CONFIG": "rolehop.toml"}),
            step("list", before=_write("empty.toml", ""), env={"ROLEHOP_CONFIG": "empty.toml"}),
            step(
                "list",
                before=_edit(
                    "[settings]", '[settings]\nkeyring_backend = "keyring.backends.null.Keyring"'
                ),
            ),
        ],
    )
    assert [outcome.code for outcome in outcomes] == [0] * 9
    assert outcomes[0].stdout.startswith("PROFILE  ")
    assert "rolehop: warning: " in outcomes[2].stderr
    assert outcomes[7].stdout.splitlines()[1].startswith("joe ")  # the base only
    status = client.status(worlds[0].env)
    assert status is not None and status["lists"] >= 6


def _generated(role: str, broken: bool = False) -> Callable[[World], None]:
    """``generated/org-joe.toml`` as ``rolehop generate`` writes it: app.admin from joe."""

    def write(world: World) -> None:
        folder = world.root / "generated"
        folder.mkdir(exist_ok=True)
        text = (
            "# Generated by `rolehop generate --organization --from joe --role admin`\n\n"
            '[generated]\nsource = "org-joe"\n\n[profiles."app.admin"]\n'
            f'role_arn = "{role}"\nsource_profile = "joe"\n'
        )
        (folder / "org-joe.toml").write_text("[profiles\n" if broken else text)

    return write


def test_generated_profiles(worlds: tuple[World, World]) -> None:
    """Profiles of generated/*.toml: served, edited, shadowed by a hand-written one of the
    same name, broken, as the direct path has them."""
    app = ("credential-process", "app.admin")
    mine = _edit("[profiles.dev]", f'[profiles."app.admin"]\nrole_arn = "{ROLE}"\n'
                 'source_profile = "dev"\n\n[profiles.dev]')  # fmt: skip
    outcomes = _same(
        worlds,
        [
            step(*app, before=_generated(ADMIN)),
            step(*app),
            step(*app, before=_generated(ROLE)),
            step(env=_completing("rolehop env app", "2")),
            step(*app, before=mine),
            step("list", "--json"),
            step(*CP, before=_generated(ROLE, broken=True)),
        ],
    )
    assert [outcome.code for outcome in outcomes[:6]] == [0] * 6
    assert outcomes[0].stdout == outcomes[1].stdout != outcomes[2].stdout
    assert outcomes[3].stdout == "plain,app.admin\n"
    assert outcomes[6].code != 0 and "org-joe.toml" in outcomes[6].stderr
    # joe->ADMIN, joe->ROLE (which is dev itself: one cache entry), dev->ROLE
    assert worlds[0].sts.count("AssumeRole") == 3


def test_relative_and_broken_config_paths(worlds: tuple[World, World]) -> None:
    broken = _write("work/t1.toml", "[profiles.x\n")
    bad_margin = _write("work/margin.toml", '[settings]\nrefresh_margin = "10m"\n')
    ok = _write("work/ok.toml", CONFIG)
    outcomes = _same(
        worlds,
        [
            step(*CP),
            step("--config", "t1.toml", *ENV, cwd="work", before=broken),
            step("--config", "margin.toml", *CP, cwd="work", before=bad_margin),
            step("--config", "ok.toml", *CP, cwd="work", before=ok),
            step("--config", "ok.toml", "list", "--json", cwd="work"),
            step(*CP, env={"ROLEHOP_CONFIG": "t1.toml"}, cwd="work"),
            step(*CP, env={"ROLEHOP_CONFIG": "ok.toml"}, cwd="work"),
            step("list", "--json", env={"ROLEHOP_CONFIG": "ok.toml"}, cwd="work"),
            step("--config", "missing.toml", *CP, cwd="work"),
            step("--config", "missing.toml", *ENV, cwd="work"),
        ],
    )
    assert [outcome.code for outcome in outcomes] == [0, 3, 3, 0, 0, 3, 0, 0, 3, 3]
    assert "t1.toml:1" in outcomes[1].stderr
    assert len(json.loads(outcomes[4].stdout)["profiles"]) == 3


def test_relative_aws_files(worlds: tuple[World, World]) -> None:
    def move_credentials(world: World) -> None:
        (world.root / "work" / "creds").write_text(JOE)

    relative = {"AWS_SHARED_CREDENTIALS_FILE": "creds"}
    outcomes = _same(
        worlds,
        [
            step(*CP, env=relative, cwd="work", before=move_credentials),
            step(*CP, env=relative, cwd="work"),
            step(*CP, env={"AWS_SHARED_CREDENTIALS_FILE": "./creds"}, cwd="work"),
        ],
    )
    assert [outcome.code for outcome in outcomes] == [0, 0, 0]


def test_cache_clear_from_another_environment(worlds: tuple[World, World]) -> None:
    """The AWS CLI gives its credential_process children AWS_DATA_PATH: they must see a
    cache clear made from the shell, and the other way round."""
    cli = {"AWS_DATA_PATH": "/nonexistent"}
    outcomes = _same(
        worlds,
        [
            step(*CP),
            step(*CP, env=cli),
            step("cache", "clear", "dev"),
            step(*CP, env=cli),
            step(*CP),
            step("cache", "clear", env=cli),
            step(*CP),
            step(*CP, env=cli),
            # a change the agent does not make itself: announced to it by the changes file
            step("cache", "clear", "dev", env={"ROLEHOP_AGENT": "0"}),
            step(*CP, env=cli),
        ],
    )
    assert all(outcome.code == 0 for outcome in outcomes)
    assert worlds[0].sts.count("AssumeRole") == 4
    assert worlds[0].served()["hit"] >= 3


def test_an_mfa_role_after_a_cache_clear_asks_again(worlds: tuple[World, World]) -> None:
    cli = {"AWS_DATA_PATH": "/nonexistent"}
    outcomes = _same(
        worlds,
        [
            step("credential-process", "guarded", "--mfa-token", "123456"),
            step("credential-process", "guarded", env=cli),
            step("cache", "clear", "guarded"),
            step("credential-process", "guarded", env=cli),
            step("credential-process", "guarded"),
        ],
    )
    assert [outcome.code for outcome in outcomes] == [0, 0, 0, 9, 9]


def test_expired_entries_and_entries_inside_the_margin(worlds: tuple[World, World]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)  # once: both worlds plant the same

    def plant(left: timedelta, tag: str) -> Callable[[World], None]:
        return lambda world: world.plant("dev", now + left, tag)

    outcomes = _same(
        worlds,
        [
            step(*CP, before=plant(timedelta(hours=2), "GOOD")),
            step(*CP, before=plant(timedelta(minutes=-5), "GONE")),
            step(*CP, before=plant(timedelta(minutes=10), "MARGIN")),
            step(*ENV, before=plant(timedelta(minutes=19), "EDGE")),
            step(*ENV),
        ],
    )
    assert "ASIAPLANTEDGOOD" in outcomes[0].stdout
    assert not any("PLANTED" in outcome.stdout for outcome in outcomes[1:])
    assert worlds[0].sts.count("AssumeRole") == 3


def test_an_edited_config_is_seen_at_once(worlds: tuple[World, World]) -> None:
    outcomes = _same(
        worlds,
        [
            step(*ENV),
            step(*ENV, before=_edit('"eu-west-1"', '"us-east-2"')),
            step(*ENV, before=_edit(f'role_arn = "{ROLE}"', f'role_arn = "{ROLE}-2"')),
            step(*ENV, before=_edit("[profiles.dev]", "[profiles.renamed]")),
            step("list", "--json"),
        ],
    )
    assert "us-east-2" in outcomes[1].stdout
    assert [outcome.code for outcome in outcomes] == [0, 0, 0, 3, 0]


def test_a_keyring_locked_then_unlocked(worlds: tuple[World, World]) -> None:
    outcomes = []
    outcomes += _same(worlds, [step(*CP), step(*CP)])
    for world in worlds:
        with locked(world.keyring):
            outcomes.append(world.run(*CP))
    assert outcomes[2] == outcomes[3]
    assert "continuing without the cache" in outcomes[2].stderr
    outcomes += _same(worlds, [step(*CP), step(*ENV)])
    assert outcomes[-2].stdout == outcomes[0].stdout  # the keyring's entry again
    assert worlds[0].served()["hit"] >= 2  # not sticky: the agent serves again


def test_settings_that_turn_the_cache_or_the_agent_off(worlds: tuple[World, World]) -> None:
    no_cache = _edit("[settings]\n", "[settings]\ncache = false\n")
    no_agent = _edit("cache = false\n", "agent = false\n")
    outcomes = _same(
        worlds,
        [
            step(*CP),
            step(*CP, before=no_cache),
            step(*CP),
            step("list", "--json"),
            step(*CP, before=no_agent),
        ],
    )
    assert all(outcome.code == 0 for outcome in outcomes)
    assert worlds[0].sts.count("AssumeRole") == 3


LOOPS_AWS = """\
[profile viarec]
credential_process = {program} credential-process rec
[profile viamid]
credential_process = {program} credential-process other
[profile viau]
credential_process = {program} credential-process u
[profile viat]
credential_process = {program} credential-process u
"""
LOOPS = """
[profiles.rec]
role_arn = "arn:aws:iam::111122223333:role/rec"
source_profile = "viarec"
[profiles.mid]
role_arn = "arn:aws:iam::111122223333:role/mid"
source_profile = "viamid"
[profiles.top]
role_arn = "arn:aws:iam::111122223333:role/top"
source_profile = "mid"
[profiles.other]
role_arn = "arn:aws:iam::111122223333:role/other"
source_profile = "mid"
[profiles.u]
role_arn = "arn:aws:iam::111122223333:role/u"
source_profile = "viau"
[profiles.t]
role_arn = "arn:aws:iam::111122223333:role/t"
source_profile = "viat"
"""


def test_credential_process_loops_fail_at_once(worlds: tuple[World, World]) -> None:
    """A base whose credential_process asks rolehop for a profile of the chain being
    resolved: a clear loop error on both paths, at the first process that sees it (with an
    agent it hung: the child waited for the lock its parent held).
    - rec: the target itself; top: an intermediate hop (mid) of the chain asked for by
      the child (other); t: a loop that never comes back to the target (u asks for u)."""

    def loops(world: World) -> None:
        world.aws_config.write_text(LOOPS_AWS.format(program=_program()))
        world.rolehop_config.write_text(world.rolehop_config.read_text() + LOOPS)

    started = time.monotonic()
    outcomes = _same(
        worlds,
        [
            step("credential-process", "rec", before=loops),
            step("credential-process", "top"),
            step("credential-process", "t"),
            step(*ENV),
        ],
    )
    assert time.monotonic() - started < 60
    rec, top, t, env = outcomes
    for outcome, looping in ((rec, "rec"), (top, "mid"), (t, "u")):
        assert outcome.code == 6, outcome
        assert f"credential_process loop: resolving {looping!r}" in outcome.stderr, outcome
        assert len(outcome.stderr.splitlines()) == 1, outcome
    assert env.code == 0
    assert worlds[0].sts.calls == [] or worlds[0].sts.count("AssumeRole") == 1


def test_stored_keys_added_and_replaced(worlds: tuple[World, World]) -> None:
    """keys add writes the keyring without the agent: the names and key ids it knew go."""
    stored = f'[profiles.stored]\nrole_arn = "{ROLE}"\nsource_profile = "vault"\n\n'
    vault = _edit("[profiles.dev]", stored + "[profiles.dev]")
    first = {"AWS_ACCESS_KEY_ID": "AKIAVAULTFIRST000001", "AWS_SECRET_ACCESS_KEY": "vault1"}
    second = {"AWS_ACCESS_KEY_ID": "AKIAVAULTSECOND00002", "AWS_SECRET_ACCESS_KEY": "vault2"}
    outcomes = _same(
        worlds,
        [
            step("credential-process", "stored", before=vault),
            step("keys", "add", "vault", "--from-env", env=first),
            step("credential-process", "stored"),
            step("credential-process", "stored"),
            step("keys", "add", "vault", "--from-env", env=second),
            step("credential-process", "stored"),
            # what the agent made is where the direct path looks for it
            step("credential-process", "stored", env={"ROLEHOP_AGENT": "0"}),
            step("keys", "remove", "vault", "--yes"),
            step("credential-process", "stored"),
        ],
    )
    assert [outcome.code for outcome in outcomes] == [3, 0, 0, 0, 0, 0, 0, 0, 3]
    signers = [call[2] for call in worlds[0].sts.calls if call[0] == "AssumeRole"]
    assert signers == ["AKIAVAULTFIRST000001", "AKIAVAULTSECOND00002"]


def test_env_for_a_shell_nobody_names_makes_no_credentials(worlds: tuple[World, World]) -> None:
    """The direct path fails before any STS call; the agent must not make credentials."""
    tcsh = {"SHELL": "/bin/tcsh"}
    outcomes = _same(
        worlds, [step("env", "dev", env=tcsh), step(*CP), step("env", "dev", env=tcsh)]
    )
    assert [outcome.code for outcome in outcomes] == [2, 0, 2]
    assert worlds[0].sts.count("AssumeRole") == 1


def test_a_reader_gone_away(worlds: tuple[World, World]) -> None:
    """stdout a pipe nobody reads: no traceback, the direct path's exit code."""
    _same(worlds, [step(*CP)])
    ended = []
    for world in worlds:
        reader, writer = os.pipe()
        os.close(reader)
        try:
            done = subprocess.run(
                [_program(), *CP],
                env=world.env,
                stdout=writer,
                stderr=subprocess.PIPE,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            os.close(writer)
        ended.append((done.returncode, done.stderr))
    assert ended[0] == ended[1]
    assert "Traceback" not in ended[0][1]
    assert worlds[0].served()["hit"] >= 1


def test_a_base_profile_by_itself(worlds: tuple[World, World]) -> None:
    """env/credential-process of a base hand out a session made from its keys (the agent
    leaves them to the direct path), or the keys themselves with --no-session."""
    outcomes = _same(
        worlds,
        [
            step("credential-process", "joe"),
            step("credential-process", "joe"),
            step("env", "joe", "--shell", "bash"),
            step("credential-process", "joe", "--no-session"),
            step(*CP),
        ],
    )
    assert all(outcome.code == 0 for outcome in outcomes)
    assert '"AccessKeyId": "AKIAJOEEXAMPLE000001"' in outcomes[3].stdout
    assert worlds[0].sts.count("GetSessionToken") == 1


SSO_AWS = """\
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile dev-sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Developer
"""
SSO_HOP = f"""
[profiles.sso-admin]
role_arn = "{ADMIN}"
source_profile = "dev-sso"
"""


def test_sso_bases_and_chains(worlds: tuple[World, World], tmp_path: Path) -> None:
    """Each world signs in to its own stand-in (not compared: a device code is random), whose
    role credentials are its fake STS's (the same n-th call in both); then the same steps."""
    from rolehop.features.demo.sso_standin import identity_center
    from tests.support.sso_flows import BROWSER

    agent, direct = worlds
    now = datetime.now(UTC).replace(microsecond=0)  # once: both stand-ins say the same time
    with (
        identity_center(agent.sts.url, make_roles=False, clock=lambda: now) as one,
        identity_center(direct.sts.url, make_roles=False, clock=lambda: now) as two,
    ):
        for world, center in ((agent, one), (direct, two)):
            center.add_account("111122223333", "Research", "r@example.com", ["Developer"])
            center.device_interval = 1
            world.aws_config.write_text(SSO_AWS)
            world.rolehop_config.write_text(CONFIG + SSO_HOP)
            world.env.update(
                AWS_ENDPOINT_URL_SSO=center.url,
                AWS_ENDPOINT_URL_SSO_OIDC=center.url,
                BROWSER=f"{sys.executable} {BROWSER} %s",
                SSO_BROWSER_LOG=str(tmp_path / f"{world.agent}.jsonl"),
            )
            signed = world.run("sso", "login", "--device-code")
            assert signed.code == 0, signed
        for world in worlds:
            world.env["BROWSER"] = "false"  # no sign-in from here on

        outcomes = _same_sso(
            worlds,
            (one.url, two.url),
            [
                step("credential-process", "sso-admin"),
                step("credential-process", "sso-admin"),
                step("env", "sso-admin", "--shell", "bash"),
                step("credential-process", "dev-sso"),
                step("env", "dev-sso", "--shell", "fish"),
                step("list", "--json"),
                step("sso", "logout"),
                step("credential-process", "sso-admin"),
                step("credential-process", "dev-sso"),
            ],
        )
    assert [outcome.code for outcome in outcomes] == [0, 0, 0, 0, 0, 0, 0, 12, 12]
    assert agent.served()["hit"] >= 2  # the chain's hits came from the agent
    assert one.count("GetRoleCredentials") == two.count("GetRoleCredentials") == 1
    assert "session 'corp' is not signed in: run rolehop sso login corp" in outcomes[-1].stderr


def _same_sso(
    worlds: tuple[World, World], centers: tuple[str, str], steps: list[Step]
) -> list[Outcome]:
    """:func:`_same`, with each world's stand-in address (``centers``) made the same."""
    outcomes = []
    for number, one in enumerate(steps, start=1):
        results = [world.run(*one.args, env=one.env) for world in worlds]
        with_agent, without = (
            Outcome(r.code, *(text.replace(url, "<sso>") for text in (r.stdout, r.stderr)))
            for r, url in zip(results, centers, strict=True)
        )
        assert with_agent == without, f"step {number} {one.args} differs with the agent"
        outcomes.append(with_agent)
    assert worlds[0].sts.calls == worlds[1].sts.calls
    return outcomes
