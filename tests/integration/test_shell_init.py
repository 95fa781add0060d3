"""``rolehop init SHELL`` loaded by the real bash, zsh and fish.

Each shell runs the snippet as a user would (``eval "$(rolehop init bash)"``, ``rolehop
init fish | source``) with ``rolehop`` on PATH being a launcher that records every run of
the program, next to a ``date`` that records its runs too. The AWS CLI then checks that
``rolehop use`` really switched the shell to the role (against the moto server), and the
recordings, a PATH holding nothing but the recorders, and strace (where installed) prove
that the prompt segment and the hooks start no process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import as_file
from pathlib import Path

import pexpect
import pytest

from rolehop.engine.targets import Target
from rolehop.features.demo import RESEARCH, ROLE_NAME, Emulator
from rolehop.features.demo import ROLE_ARN as RESEARCH_ROLE
from rolehop.output import Shell, quote_posix
from rolehop.shell.snippets import MANAGED, snippet, source_file
from tests.conftest import Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.tools import aws_cli_dir, require_tool, run_captured

REAL_SHELLS: tuple[Shell, ...] = ("bash", "zsh", "fish")
NAMES = " ".join(MANAGED)
ROLE_ARN = f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-joe"
# moto hands out one-hour credentials: the segment right after `use`
FRESH = re.compile(r"⛅ research-ro (59m|1h00m)")
# 42m40s before the end: "42m" whatever the clock's seconds, outside the 20-minute margin
FORTY_TWO = 42 * 60 + 40
FROZEN = 2_000_000_000  # a frozen clock's time


def _freeze_clock(shell: Shell, now: str) -> str:
    """Replace the snippet's clock (loaded before) by one that says ``now``, an arithmetic
    expression that may read ROLEHOP_EXPIRATION: what a prompt shows is then the same at
    every look, whatever the wall clock does in between."""
    if shell == "fish":
        return f"function _rolehop_now; set -g _rolehop_now_value (math '{now}'); end"
    if shell == "zsh":
        return f"_rolehop_clock() {{ typeset -g _ROLEHOP_NOW=$(( {now} )); }}"
    return f"_rolehop_clock() {{ _ROLEHOP_NOW=$(( {now} )); }}"


def _time_left(seconds: int) -> str:
    """How the segment shows ``seconds`` left."""
    if seconds < 60:
        return "expired"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _shown_between(template: str, expiration: int, before: float, after: float) -> set[str]:
    """Every ``template`` (``{}``: the time left) a shell can show for ``expiration`` with
    its real clock read between ``before`` and ``after`` (``time.time()`` around the run;
    fish's /proc clock, boot time in whole seconds, may be a second behind)."""
    return {
        template.format(_time_left(expiration - now))
        for now in range(int(before) - 1, int(after) + 1)
    }


CANARY = "canary"
HOSTILE = f'joe\'s "$(touch {CANARY})" `touch {CANARY}`\nsecond line $HOME'


@dataclass
class Recorders:
    """A directory put first on PATH: ``rolehop`` (the program, recorded) and ``date``."""

    bin: Path
    log: Path

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def rolehop_calls(self) -> list[str]:
        return [call for call in self.calls() if call.startswith("rolehop ")]


@dataclass
class Kit:
    recorders: Recorders
    env: dict[str, str]
    root: Path


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def kit(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], subprocess_env: dict[str, str]
) -> Kit:
    sandbox.write_rolehop(
        RESEARCH_RO_TOML + 'region = "us-east-1"\nrole_session_name = "rolehop-joe"\n'
    )
    bin_dir = sandbox.root / "recorders"
    bin_dir.mkdir()
    log = sandbox.root / "calls.log"
    record = f'printf \'%s %s\\n\' "$(basename "$0")" "$*" >> {quote_posix(str(log))}\n'
    exports = "".join(
        f"export {name}={quote_posix(subprocess_env[name])}\n"
        for name in ("PYTHONPATH", "PYTHON_KEYRING_BACKEND", "ROLEHOP_TEST_KEYRING")
    )
    _script(
        bin_dir / "rolehop",
        f'#!/bin/sh\n{record}{exports}exec {quote_posix(sys.executable)} -m rolehop "$@"\n',
    )
    date = shutil.which("date")
    assert date
    _script(bin_dir / "date", f'#!/bin/sh\n{record}exec {quote_posix(date)} "$@"\n')
    env = {
        **subprocess_env,
        "AWS_ENDPOINT_URL": moto.url,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "PATH": os.pathsep.join([str(bin_dir), aws_cli_dir(), subprocess_env["PATH"]]),
    }
    return Kit(Recorders(bin_dir, log), env, sandbox.root)


def _argv(shell: Shell, script: str) -> list[str]:
    path = require_tool(shell)
    if shell == "bash":
        return [path, "--norc", "--noprofile", "-c", script]
    if shell == "zsh":
        return [path, "-f", "-c", script]
    return [path, "--no-config", "-c", script]


def _load(shell: Shell) -> str:
    """The line of the user's rc file."""
    if shell == "fish":
        return "rolehop init fish | source"
    return f'eval "$(rolehop init {shell})"'


def _dump(shell: Shell, target: str, names: str = NAMES) -> str:
    """Each of ``names`` as the shell itself describes it (value, export, scope)."""
    if shell == "fish":
        return (
            f"for n in {names}; if set -q $n; set -S $n; else; echo unset $n; end; end > {target}"
        )
    show = "declare -p" if shell == "bash" else "typeset -p"
    return f'for n in {names}; do {show} "$n" 2>/dev/null || echo "unset $n"; done > {target}'


def _or_exit(shell: Shell, command: str, code: int) -> str:
    return f"{command}; or exit {code}" if shell == "fish" else f"{command} || exit {code}"


def _environ(raw: bytes) -> dict[str, str]:
    entries = [entry.decode("utf-8") for entry in raw.split(b"\0") if entry]
    return dict(entry.split("=", 1) for entry in entries)


def _managed(environ: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in environ.items() if name in MANAGED}


# What the shell holds before the first `use`: exported from the parent, or a variable of
# the shell only (not exported), or nothing at all.
BEFORE = {
    "set": (
        {"AWS_PROFILE": "joe", "AWS_REGION": "eu-west-3", "AWS_DEFAULT_PROFILE": HOSTILE},
        ("AWS_DEFAULT_REGION", "shell only"),
    ),
    "unset": ({}, None),
}


@pytest.mark.parametrize("before", sorted(BEFORE))
@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_use_switches_the_shell_and_off_restores_it(
    shell: Shell, before: str, kit: Kit, moto: Emulator
) -> None:
    exported, shell_only = BEFORE[before]
    root = kit.root
    lines = [_load(shell)]
    if shell_only:
        name, value = shell_only
        lines.append(f"set -g {name} '{value}'" if shell == "fish" else f"{name}='{value}'")
    lines += [
        _dump(shell, str(root / "before.txt")),
        f"env -0 > {root / 'before.env'}",
        _or_exit(shell, "rolehop use research-ro", 11),
        _or_exit(shell, "aws sts get-caller-identity --output json", 12),
        f"env -0 > {root / 'during.env'}",
        _or_exit(shell, "rolehop use research-ro", 13),  # again: still restores the first
        _or_exit(shell, "rolehop use --off", 14),
        _dump(shell, str(root / "after.txt")),
        f"env -0 > {root / 'after.env'}",
    ]
    work = root / "work"
    work.mkdir()
    env = {name: value for name, value in kit.env.items() if name not in MANAGED}
    calls_before = moto.assume_role_calls()

    result = run_captured(_argv(shell, "\n".join(lines)), {**env, **exported}, cwd=work)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Arn"] == ROLE_ARN
    assert moto.assume_role_calls() == calls_before + 1  # the second `use` hit the cache
    during = _environ((root / "during.env").read_bytes())
    assert during["ROLEHOP_PROFILE"] == "research-ro"
    assert during["AWS_REGION"] == "us-east-1"
    assert "AWS_PROFILE" not in during and "AWS_DEFAULT_PROFILE" not in during
    # exactly what the shell had: values, set or unset, exported or not
    assert (root / "after.txt").read_text() == (root / "before.txt").read_text()
    after_env = _environ((root / "after.env").read_bytes())
    assert _managed(after_env) == _managed(_environ((root / "before.env").read_bytes()))
    assert _managed(after_env) == exported
    if shell_only:
        assert shell_only[0] not in after_env
    assert os.listdir(work) == []  # nothing in a restored value ran
    program = kit.recorders.rolehop_calls()
    assert program == [
        f"rolehop init {shell}",
        f"rolehop env research-ro --shell {shell}",
        f"rolehop env research-ro --shell {shell}",
    ]  # `use --off` is the shell's own work


# research-eu sets a region, research-any none: a switch must not keep research-eu's
TWO_PROFILES = f"""\
[profiles.research-eu]
role_arn = "{RESEARCH_ROLE}"
source_profile = "joe"
role_session_name = "rolehop-joe"
region = "eu-central-1"

[profiles.research-any]
role_arn = "{RESEARCH_ROLE}"
source_profile = "joe"
role_session_name = "rolehop-joe"
"""
# what research-any's `env` neither sets nor unsets
UNTOUCHED_BY_B = "AWS_REGION AWS_DEFAULT_REGION"


@pytest.mark.parametrize("before", sorted(BEFORE))
@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_switching_profiles_keeps_what_the_new_one_does_not_set(
    shell: Shell, before: str, kit: Kit, sandbox: Sandbox
) -> None:
    """Issue 13, item 10: `use A` (a region) then `use B` (none) left A's region behind."""
    sandbox.write_rolehop(TWO_PROFILES)
    exported, shell_only = BEFORE[before]
    root = kit.root
    lines = [_load(shell)]
    if shell_only:
        name, value = shell_only
        lines.append(f"set -g {name} '{value}'" if shell == "fish" else f"{name}='{value}'")
    lines += [
        _dump(shell, str(root / "before.txt"), UNTOUCHED_BY_B),
        _dump(shell, str(root / "before-all.txt")),
        f"env -0 > {root / 'before.env'}",
        _or_exit(shell, "rolehop use research-eu", 11),
        f"env -0 > {root / 'during-a.env'}",
        _or_exit(shell, "rolehop use research-any", 12),
        _dump(shell, str(root / "during-b.txt"), UNTOUCHED_BY_B),
        f"env -0 > {root / 'during-b.env'}",
        _or_exit(shell, "rolehop use --off", 13),
        _dump(shell, str(root / "after.txt")),
    ]
    env = {name: value for name, value in kit.env.items() if name not in MANAGED}

    result = run_captured(_argv(shell, "\n".join(lines)), {**env, **exported}, cwd=root)

    assert result.returncode == 0, result.stderr
    during_a = _environ((root / "during-a.env").read_bytes())
    assert during_a["AWS_REGION"] == during_a["AWS_DEFAULT_REGION"] == "eu-central-1"
    during_b = _environ((root / "during-b.env").read_bytes())
    assert during_b["ROLEHOP_PROFILE"] == "research-any"
    # the region (and AWS_DEFAULT_REGION) exactly as before the first `use`
    assert (root / "during-b.txt").read_text() == (root / "before.txt").read_text()
    before_env = _environ((root / "before.env").read_bytes())
    for name in UNTOUCHED_BY_B.split():
        assert during_b.get(name) == before_env.get(name), name
    assert (root / "after.txt").read_text() == (root / "before-all.txt").read_text()


def _fish_with_universals(kit: Kit, script: str) -> subprocess.CompletedProcess[str]:
    """fish with its universal variables on (no --no-config), kept in the test's own
    XDG_CONFIG_HOME: they never reach the real ~/.config/fish/fish_variables."""
    config = Path(kit.env["XDG_CONFIG_HOME"])
    assert config.is_relative_to(kit.root)
    result = run_captured([require_tool("fish"), "-c", script], kit.env, cwd=kit.root)
    assert (config / "fish" / "fish_variables").is_file()
    return result


def test_fish_exports_a_universal_variable_that_an_unexported_global_hides(kit: Kit) -> None:
    """Why `use` refuses below, pinned: should fish ever hide an exported universal variable
    from children behind an unexported global, `use` could do that instead of refusing."""
    script = "\n".join(
        [
            "set -Ux AWS_PROFILE univ",
            "set -gu AWS_PROFILE",
            'echo "fish=[$AWS_PROFILE]"',
            "env | string match 'AWS_PROFILE=*'",
            "set -gx AWS_PROFILE",  # an exported global does hide it, behind an empty value
            "env | string match 'AWS_PROFILE=*'",
        ]
    )

    result = _fish_with_universals(kit, script)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["fish=[]", "AWS_PROFILE=univ", "AWS_PROFILE="]


def test_fish_use_refuses_a_universal_profile_it_cannot_hide(kit: Kit) -> None:
    """Issue 13, item 9: `set -Ux AWS_PROFILE univ` outlived `rolehop use`, so the AWS CLI
    looked for profile univ. fish exports a universal variable to every child unless a
    global *exports* another value (an unexported global does not hide it: fish's
    create_export_array), and an empty AWS_PROFILE is an error to botocore too. Erasing the
    universal would change every fish session: `use` refuses, says how to fix it, changes
    nothing."""
    setup = _fish_with_universals(kit, "set -Ux AWS_PROFILE univ")
    assert setup.returncode == 0, setup.stderr
    root = kit.root
    script = "\n".join(
        [
            _load("fish"),
            f"set -U > {root / 'before.txt'}",
            "rolehop use research-ro",
            "echo status=$status",
            f"env -0 > {root / 'during.env'}",
            f"set -U > {root / 'after.txt'}",
        ]
    )

    result = _fish_with_universals(kit, script)

    assert result.stdout == "status=1\n", result.stderr
    assert "AWS_PROFILE" in result.stderr and "set -Ux" in result.stderr
    assert "set -gx AWS_PROFILE univ" in result.stderr  # the fix: a global of config.fish
    during = _environ((root / "during.env").read_bytes())
    assert during["AWS_PROFILE"] == "univ"  # nothing half-switched: no keys beside it
    assert not {"AWS_ACCESS_KEY_ID", "ROLEHOP_PROFILE"} & set(during)
    assert kit.recorders.rolehop_calls() == ["rolehop init fish"]  # no AssumeRole for nothing
    assert (root / "after.txt").read_text() == (root / "before.txt").read_text()
    assert "AWS_PROFILE univ" in (root / "after.txt").read_text()


def test_fish_use_hides_an_unexported_universal_and_off_brings_it_back(kit: Kit) -> None:
    """A universal variable that is not exported: `use` hides it from fish itself (a prompt
    reading $AWS_PROFILE) with a global, `--off` drops the global; the universal is never
    touched."""
    setup = _fish_with_universals(kit, "set -U AWS_PROFILE univ; set -Ux AWS_REGION eu-west-3")
    assert setup.returncode == 0, setup.stderr
    root = kit.root
    script = "\n".join(
        [
            _load("fish"),
            _dump("fish", str(root / "before.txt")),
            f"set -U > {root / 'before-universal.txt'}",
            _or_exit("fish", "rolehop use research-ro", 11),
            'echo "profile=[$AWS_PROFILE] region=$AWS_REGION"',
            _or_exit("fish", "aws sts get-caller-identity --output json > identity.json", 12),
            f"env -0 > {root / 'during.env'}",
            _or_exit("fish", "rolehop use --off", 13),
            _dump("fish", str(root / "after.txt")),
            f"set -U > {root / 'after-universal.txt'}",
            f"env -0 > {root / 'after.env'}",
        ]
    )

    result = _fish_with_universals(kit, script)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "profile=[] region=us-east-1\n"
    assert json.loads((root / "identity.json").read_text())["Arn"] == ROLE_ARN
    during = _environ((root / "during.env").read_bytes())
    assert "AWS_PROFILE" not in during and during["AWS_REGION"] == "us-east-1"
    assert (root / "after.txt").read_text() == (root / "before.txt").read_text()
    assert (root / "after-universal.txt").read_text() == (root / "before-universal.txt").read_text()
    after = _environ((root / "after.env").read_bytes())
    assert after["AWS_REGION"] == "eu-west-3" and "AWS_PROFILE" not in after


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_a_failing_use_changes_nothing(shell: Shell, kit: Kit) -> None:
    status = "$status" if shell == "fish" else "$?"
    script = "\n".join(
        [
            _load(shell),
            "rolehop use no-such-profile",
            f"echo status={status}",
            'echo "profile=$AWS_PROFILE rolehop=$ROLEHOP_PROFILE"',
            "rolehop use --off",
            'echo "profile=$AWS_PROFILE"',
        ]
    )

    result = run_captured(_argv(shell, script), {**kit.env, "AWS_PROFILE": "joe"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["status=3", "profile=joe rolehop=", "profile=joe"]
    assert "no-such-profile" in result.stderr


# rolehop_prompt under several environments (expirations relative to the start of the
# run), and what each may show: a pattern, or the template of a time left by the clock
PROMPT_CASES: list[tuple[str, re.Pattern[str] | tuple[str, int]]] = [
    ("", FRESH),
    ("ROLEHOP_PROMPT_ASCII=1", re.compile(r"\[research-ro (59m|1h00m)\]")),
    ("ROLEHOP_PROMPT_FORMAT='%p:%t' ROLEHOP_EXPIRATION={}", ("research-ro:{}", FORTY_TWO)),
    ("ROLEHOP_EXPIRATION={}", ("⛅ research-ro {}", 2 * 3600 + 5 * 60 + 40)),
    ("ROLEHOP_EXPIRATION={}", ("⛅ research-ro {}", 40)),  # the last minute
    ("ROLEHOP_EXPIRATION=1000000000", re.compile(r"⛅ research-ro expired")),  # long gone
    ("ROLEHOP_EXPIRATION='1; touch canary'", re.compile(r"⛅ research-ro \?")),
]


def _shims_only(shell: Shell, log: Path) -> list[str]:
    """PATH holding only the recorders, and a command-not-found handler that records."""
    if shell == "fish":
        return [
            f"function fish_command_not_found; echo not-found $argv[1] >> {log}; end",
            "set -l saved_path $PATH",
            "set PATH $ROLEHOP_TEST_SHIMS",
        ]
    handler = "command_not_found_handle" if shell == "bash" else "command_not_found_handler"
    return [
        f'{handler}() {{ echo "not-found $1" >> {log}; return 127; }}',
        "saved_path=$PATH; PATH=$ROLEHOP_TEST_SHIMS",
    ]


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_prompt_segment_is_computed_without_any_process(shell: Shell, kit: Kit) -> None:
    log = kit.recorders.log
    began = time.time()
    prompts = [
        (case.format(int(began) + shown[1]) if isinstance(shown, tuple) else case)
        + " rolehop_prompt; echo"
        for case, shown in PROMPT_CASES
    ]
    truncate = f"true > {log}" if shell == "fish" else f": > {log}"
    restore = "set PATH $saved_path" if shell == "fish" else "PATH=$saved_path"
    script = "\n".join(
        [
            _load(shell),
            "rolehop use research-ro",
            truncate,
            *_shims_only(shell, log),
            *prompts,
            restore,
            "rolehop use --off",
            "rolehop_prompt; echo '|'",
        ]
    )
    work = kit.root / "work"
    work.mkdir()
    env = {**kit.env, "ROLEHOP_TEST_SHIMS": str(kit.recorders.bin)}

    result = run_captured(_argv(shell, script), env, cwd=work)
    ended = time.time()

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(PROMPT_CASES) + 1, result.stdout
    for line, (_, shown) in zip(lines, PROMPT_CASES, strict=False):
        if isinstance(shown, tuple):
            template, left = shown
            assert line in _shown_between(template, int(began) + left, began, ended)
        else:
            assert shown.fullmatch(line), (line, shown.pattern)
    assert lines[-1] == "|"  # no profile: nothing at all
    # between the truncation and `use --off`: no rolehop, no date, no command looked up
    assert kit.recorders.calls() == []
    assert os.listdir(work) == []


def _strace_or_skip() -> str:
    # Not in .ci/run's packages: without it, the recorder test above is the proof.
    path = shutil.which("strace")
    if path is None:
        pytest.skip("strace is not installed")
    return path


HOOKS = {
    # the way each shell runs its hooks, outside an interactive session
    "bash": ['eval "$PROMPT_COMMAND"', "true", 'printf "%s\\n" "${PS1@P}"'],
    "zsh": [
        'for hook in $precmd_functions; do "$hook"; done',
        "for hook in $preexec_functions; do \"$hook\" 'aws s3 ls'; done",
        'print -r -- "$PROMPT"',
    ],
    "fish": ["fish_right_prompt; echo", "emit fish_preexec 'aws s3 ls'"],
}


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_strace_sees_no_process_for_the_prompt_and_the_hooks(shell: Shell, kit: Kit) -> None:
    strace = _strace_or_skip()
    snippet = kit.root / f"init.{shell}"
    made = run_captured([str(kit.recorders.bin / "rolehop"), "init", shell], kit.env)
    assert made.returncode == 0, made.stderr
    snippet.write_text(made.stdout)
    start, end = kit.root / "start.mark", kit.root / "end.mark"
    touch = "true >" if shell == "fish" else ":>"
    began = time.time()
    expiration = int(began) + FORTY_TWO  # outside the 20-minute margin
    script = "\n".join(
        [
            "PS1='$ '; PROMPT='$ '" if shell != "fish" else "true",
            f"{'source' if shell == 'fish' else '.'} {snippet}",
            f"{touch} {start}",
            "rolehop_prompt; echo",
            *HOOKS[shell],
            f"{touch} {end}",
        ]
    )
    env = {
        **kit.env,
        "ROLEHOP_PROFILE": "research-ro",
        "ROLEHOP_EXPIRATION": str(expiration),
        "ROLEHOP_PROMPT": "1",
        "ROLEHOP_AUTO_REFRESH": "1",
    }
    trace = kit.root / "strace.log"
    events = "execve,execveat,fork,vfork,clone,clone3,openat"

    result = run_captured(
        [strace, "-f", "-qq", "-e", f"trace={events}", "-o", str(trace), *_argv(shell, script)],
        env,
    )
    ended = time.time()

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # the real clock (the one whose processes are traced), read during the run
    assert lines[0] in _shown_between("⛅ research-ro {}", expiration, began, ended)
    # the segment the hook put in the prompt
    hooked = "⛅ research-ro {}" if shell == "fish" else "⛅ research-ro {} $ "
    assert lines[-1] in _shown_between(hooked, expiration, began, ended)
    traced = trace.read_text().splitlines()
    marks = [i for i, line in enumerate(traced) if str(start) in line or str(end) in line]
    assert len(marks) == 2, traced
    between = traced[marks[0] + 1 : marks[1]]
    spawned = [
        line
        for line in between
        if re.search(r"\b(execve|execveat|v?fork|clone3?)\(", line)
        and "CLONE_THREAD" not in line  # fish's own I/O threads are no process
    ]
    assert spawned == []
    assert kit.recorders.rolehop_calls() == [f"rolehop init {shell}"]


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_the_prompt_hook_keeps_the_users_prompt(shell: Shell, kit: Kit) -> None:
    user = {
        "bash": "PS1='\\u@host \\$ '",
        "zsh": "PROMPT='%n@host %# '",
        "fish": "function fish_right_prompt; printf 'user-right'; end",
    }[shell]
    show = {
        "bash": ['eval "$PROMPT_COMMAND"', 'printf "%s\\n" "$PS1"'],
        "zsh": ["_rolehop_precmd; _rolehop_precmd", 'print -r -- "$PROMPT"'],
        "fish": ["fish_right_prompt; echo"],
    }[shell]
    script = "\n".join([user, _load(shell), _freeze_clock(shell, str(FROZEN)), *show, *show])
    env = {
        **kit.env,
        "ROLEHOP_PROFILE": "research-ro",
        "ROLEHOP_EXPIRATION": str(FROZEN + FORTY_TWO),
        "ROLEHOP_PROMPT": "1",
    }

    result = run_captured(_argv(shell, script), env)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    expected = {
        "bash": "${_ROLEHOP_PS1}\\u@host \\$ ",
        "zsh": "⛅ research-ro 42m %n@host %# ",
        "fish": "⛅ research-ro 42m user-right",
    }[shell]
    assert lines == [expected, expected]  # added once, however often the hook runs


class Session:
    """An interactive shell on a pseudo-terminal, its rc file loading the snippet."""

    PROMPT = "READY"

    def __init__(self, shell: Shell, kit: Kit, extra: dict[str, str], after: str = "true") -> None:
        """``after``: a line of the rc file after the snippet's."""
        path = require_tool(shell)
        home = kit.root / f"{shell}-home"
        home.mkdir()
        env = {**kit.env, **extra}
        if shell == "bash":
            rc = home / ".bashrc"
            rc.write_text(f"PS1='{self.PROMPT}$ '\n{_load(shell)}\n{after}\n")
            argv = [path, "--noprofile", "--rcfile", str(rc), "-i"]
        elif shell == "zsh":
            rc_text = f"PROMPT='{self.PROMPT}%# '\n{_load(shell)}\n{after}\n"
            (home / ".zshrc").write_text(rc_text)
            env["ZDOTDIR"] = str(home)
            argv = [path, "--no-globalrcs", "-i"]
        else:
            init = f"function fish_prompt; printf '{self.PROMPT}> '; end; {_load(shell)}; {after}"
            env["TERM"] = "xterm"  # fish draws no right prompt on a dumb terminal
            argv = [path, "--no-config", "-i", "-C", init]
        self.child = pexpect.spawn(
            argv[0], argv[1:], env=env, encoding="utf-8", timeout=60, dimensions=(24, 200)
        )
        self.child.expect(self.PROMPT)
        self.count = 0

    def run(self, command: str) -> str:
        """Run one command line; return what the terminal showed between its end and the
        next prompt (where bash and zsh draw the segment)."""
        self.count += 1
        # the marker printed differs from the marker typed (which the terminal echoes)
        self.child.sendline(f"{command}; printf 'DO%sNE\\n' {self.count}")
        self.child.expect(f"DO{self.count}NE")
        self.child.expect(self.PROMPT)
        return str(self.child.before)

    def close(self) -> None:
        self.child.sendline("exit")
        self.child.expect(pexpect.EOF)
        self.child.close()


@pytest.fixture
def sessions() -> Iterator[list[Session]]:
    opened: list[Session] = []
    yield opened
    for session in opened:
        session.child.close(force=True)


def test_interactive_bash_prompt_shows_the_segment_after_use(
    kit: Kit, sessions: list[Session]
) -> None:
    # Two prompts drawn a moment apart by the real clock could straddle a minute of the
    # credentials' hour ("1h00m", then "59m"): this clock says 42m40s are left, at every look
    clock = _freeze_clock("bash", f"${{ROLEHOP_EXPIRATION:-0}} - {FORTY_TWO}")
    session = Session("bash", kit, {"ROLEHOP_PROMPT": "1"}, after=clock)
    sessions.append(session)

    assert session.run("true") == "\r\n"
    assert session.run("rolehop use research-ro").strip() == "⛅ research-ro 42m"
    assert session.run("true").strip() == "⛅ research-ro 42m"  # still there
    assert session.run("echo").strip() == "⛅ research-ro 42m"
    assert session.run("rolehop use --off") == "\r\n"
    session.close()


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_interactive_prompt_segment_in_zsh_and_fish(
    shell: Shell, kit: Kit, sessions: list[Session]
) -> None:
    session = Session(shell, kit, {"ROLEHOP_PROMPT": "1"})
    sessions.append(session)

    session.run("rolehop use research-ro")
    if shell == "zsh":
        assert FRESH.search(session.child.before), session.child.before
    else:  # fish draws the right prompt after the left one
        session.child.expect(FRESH)
    session.close()


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_auto_refresh_runs_once_inside_the_margin(
    shell: Shell, kit: Kit, sessions: list[Session]
) -> None:
    # a margin longer than the credentials' one hour: they are inside it from the start
    session = Session(
        shell, kit, {"ROLEHOP_AUTO_REFRESH": "1", "ROLEHOP_REFRESH_MARGIN": str(2 * 3600)}
    )
    sessions.append(session)
    env_runs = ["rolehop env research-ro --shell " + shell]

    session.run("rolehop use research-ro")
    assert kit.recorders.rolehop_calls()[1:] == env_runs
    session.run("true")  # the next command: refreshed first, once
    assert kit.recorders.rolehop_calls()[1:] == env_runs * 2
    session.run("true")
    session.run("echo still")  # the new credentials are inside the margin too: no loop
    assert kit.recorders.rolehop_calls()[1:] == env_runs * 2
    session.close()


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_auto_refresh_keeps_what_the_user_changed_since_use(
    shell: Shell, kit: Kit, sandbox: Sandbox, sessions: list[Session]
) -> None:
    """A switch starts from the state before the first `use`; the refresh, the same profile
    again behind the user's back, only brings new credentials."""
    sandbox.write_rolehop(TWO_PROFILES)
    session = Session(
        shell, kit, {"ROLEHOP_AUTO_REFRESH": "1", "ROLEHOP_REFRESH_MARGIN": str(2 * 3600)}
    )
    sessions.append(session)
    region = kit.root / "region.txt"

    export = "set -gx AWS_REGION us-west-2" if shell == "fish" else "export AWS_REGION=us-west-2"
    # one command line: the hooks skip a line that starts with `rolehop`
    session.run(f"rolehop use research-any; {export}")  # no region of its own
    session.run(f"echo $AWS_REGION > {region}")  # refreshed first: inside the margin

    assert kit.recorders.rolehop_calls()[1:] == [f"rolehop env research-any --shell {shell}"] * 2
    assert region.read_text() == "us-west-2\n"
    session.close()


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_auto_refresh_asks_for_the_same_ad_hoc_target(
    shell: Shell, kit: Kit, sessions: list[Session]
) -> None:
    """`use --role-arn ARN --source PROFILE --region R`: the refresh asks for that target
    again (ROLEHOP_TARGET), not for a profile of the ARN's name, nor without the region."""
    session = Session(
        shell, kit, {"ROLEHOP_AUTO_REFRESH": "1", "ROLEHOP_REFRESH_MARGIN": str(2 * 3600)}
    )
    sessions.append(session)
    seen = kit.root / "seen.txt"
    target = Target(role_arn=RESEARCH_ROLE, source="joe", region="eu-west-2")

    session.run(f"rolehop use --role-arn {RESEARCH_ROLE} --source joe --region eu-west-2")
    session.run(f"echo $ROLEHOP_PROFILE $AWS_REGION > {seen}")  # refreshed first

    assert kit.recorders.rolehop_calls()[1:] == [
        f"rolehop env --role-arn {RESEARCH_ROLE} --source joe --region eu-west-2 --shell {shell}",
        f"rolehop env --target {target.spec()} --shell {shell}",
    ]
    assert seen.read_text() == f"{RESEARCH_ROLE} eu-west-2\n"
    session.close()


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_auto_refresh_runs_nothing_outside_the_margin(
    shell: Shell, kit: Kit, sessions: list[Session]
) -> None:
    session = Session(shell, kit, {"ROLEHOP_AUTO_REFRESH": "1", "ROLEHOP_PROMPT": "1"})
    sessions.append(session)

    session.run("rolehop use research-ro")
    for command in ("true", "echo hello", "true"):
        session.run(command)

    assert kit.recorders.rolehop_calls() == [
        f"rolehop init {shell}",
        f"rolehop env research-ro --shell {shell}",
    ]
    assert [call for call in kit.recorders.calls() if not call.startswith("rolehop ")] == []
    session.close()


def test_snippets_parse_in_their_shells(kit: Kit) -> None:
    """Each file as shipped (rolehop/shell/init.SHELL, placeholders unfilled: an error names
    the file's line), then what ``rolehop init SHELL`` makes of it, completion included."""
    for shell, check in (("bash", ["-n"]), ("zsh", ["-n"]), ("fish", ["--no-execute"])):
        with as_file(source_file(shell)) as shipped:
            parsed = run_captured([require_tool(shell), *check, str(shipped)], kit.env)
        assert parsed.returncode == 0, (shipped, parsed.stderr)
        made = run_captured([str(kit.recorders.bin / "rolehop"), "init", shell], kit.env)
        assert made.returncode == 0, made.stderr
        assert str(kit.recorders.bin / "rolehop") in made.stdout  # called by its path
        checked = subprocess.run(
            [require_tool(shell), *check],
            input=made.stdout,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert checked.returncode == 0, (shell, checked.stderr)


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_a_program_path_with_quotes_and_spaces_is_called_as_is(
    shell: Shell, tmp_path: Path
) -> None:
    program = tmp_path / "o'neil" / "my tools" / f"$(touch {CANARY})" / "`id`" / '"q"' / "rolehop"
    program.parent.mkdir(parents=True)
    _script(program, '#!/bin/sh\nprintf "called:%s\\n" "$*"\n')
    loaded = tmp_path / "snippet"
    loaded.write_text(snippet(shell, str(program)))
    work = tmp_path / "work"
    work.mkdir()
    source = "source" if shell == "fish" else "."

    result = run_captured(
        _argv(shell, f"{source} {quote_posix(str(loaded))}\nrolehop list --json"),
        {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"},
        cwd=work,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "called:list --json\n"
    assert os.listdir(work) == []


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_completion_is_registered_for_the_function(shell: Shell, kit: Kit) -> None:
    show = {
        "bash": "complete -p rolehop",
        "zsh": "print -r -- $_comps[rolehop]",
        "fish": "complete -c rolehop",
    }[shell]
    setup = "autoload -Uz compinit && compinit -u -d $HOME/.zcompdump" if shell == "zsh" else ""

    result = run_captured(_argv(shell, f"{setup}\n{_load(shell)}\n{show}"), kit.env)

    assert result.returncode == 0, result.stderr
    assert "_rolehop_completion" in result.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_nounset_shells_load_and_use_it(shell: Shell, kit: Kit) -> None:
    script = "\n".join(
        [
            "set -u",
            _load(shell),
            "rolehop use research-ro",
            'eval "$PROMPT_COMMAND"' if shell == "bash" else "_rolehop_precmd",
            "true",
            "rolehop use --off",
            "echo done",
        ]
    )
    env = {**kit.env, "ROLEHOP_PROMPT": "1", "ROLEHOP_AUTO_REFRESH": "1"}

    result = run_captured(_argv(shell, script), env)

    assert (result.returncode, result.stdout, result.stderr) == (0, "done\n", "")


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_doctor_sees_the_integration_only_once_loaded(shell: Shell, kit: Kit) -> None:
    script = "\n".join(
        ["rolehop doctor --json > before.json", _load(shell), "rolehop doctor --json"]
    )

    result = run_captured(_argv(shell, script), kit.env, cwd=kit.root)

    def shell_check(text: str) -> dict[str, str]:
        checks = json.loads(text)["checks"]
        return next(check for check in checks if check["topic"] == "shell")

    assert result.returncode == 0, result.stderr
    assert shell_check((kit.root / "before.json").read_text())["verdict"] == "warn"
    assert shell_check(result.stdout) == {
        "topic": "shell",
        "verdict": "ok",
        "summary": f"shell integration is active ({shell})",
        "fix": None,
    }
