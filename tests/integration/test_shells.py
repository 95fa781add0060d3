"""``rolehop env`` evaluated by the real bash, zsh and fish.

The property test feeds hostile values through :func:`rolehop.output.render_env` and checks
that each shell reads them back byte for byte, as shell variables and as the environment of
a child, and that nothing in them was ever run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolehop.features.demo import RESEARCH, ROLE_NAME, Emulator
from rolehop.output import UNSET, Environment, Shell, render_env
from tests.conftest import REPO, Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.tools import aws_cli_dir, require_tool, run_captured

POSIX_SHELLS: tuple[Shell, ...] = ("bash", "zsh")
REAL_SHELLS: tuple[Shell, ...] = (*POSIX_SHELLS, "fish")
NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "ROLEHOP_PROFILE")
LEFT_OVER = {"AWS_PROFILE": "joe", "AWS_DEFAULT_PROFILE": "joe", "AWS_SECURITY_TOKEN": "stale"}
CANARY = "canary"

# Fragments that would run `touch canary` (or expand something) if a quote ever broke.
PAYLOADS = [
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"({CANARY})",
    f"(touch {CANARY})",
    f"'; touch {CANARY}; '",
    f'"; touch {CANARY}; "',
    f"\\'; touch {CANARY}; #",
    f"'\\''; touch {CANARY}; echo '",
    f"\ntouch {CANARY}\n",
    f"; touch {CANARY}",
    f"| touch {CANARY}",
    f"&& touch {CANARY}",
    f"\r\ntouch {CANARY}\r\n",
    "'",
    '"',
    "\\",
    "\\\\",
    "\\'",
    "\\n",
    "$'\\x41'",
    "$HOME",
    "${HOME}",
    "$fish_pid",
    "%s%n",
    "*",
    "~",
    "{a,b}",
    "!!",
    "#",
    "\t",
    "\x1b[31m",
    "\x7f",
    "ünïcødé ✓",
    "\U0001f680",
    "\u200b\u202e",
    "\u2018\u2019",
    "\uf600\uf6ff",  # fish encodes raw bytes in this private-use range
    "\ufdd0\ufdef",  # fish's internal wildcard/marker characters
    "\ufffe\uffff",
]

values = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\0"), max_size=12),
        st.sampled_from(PAYLOADS),
    ),
    max_size=6,
).map("".join)


def _argv(shell: Shell, script: str) -> list[str]:
    path = require_tool(shell)
    if shell == "bash":
        return [path, "--norc", "--noprofile", "-c", script]
    if shell == "zsh":
        return [path, "-f", "-c", script]
    return [path, "--no-config", "-c", script]


def _base_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        **LEFT_OVER,
    }


def _var(shell: Shell, name: str) -> str:
    """``$name`` as one word: fish never splits a variable, sh-like shells need quotes."""
    return f"${name}" if shell == "fish" else f'"${name}"'


def _load(shell: Shell, producer: str) -> str:
    """How a user loads the output of ``producer`` in ``shell`` (see ``rolehop env --help``)."""
    if shell == "fish":
        return f"{producer} | source"
    return f'eval "$({producer})"'


def _print_values(shell: Shell) -> str:
    """Each of NAMES then a set-marker for each of UNSET, every field ended by a NUL."""
    if shell == "fish":
        lines = [f"printf '%s\\0' ${name}" for name in NAMES]
        lines += [f"if set -q {name}; printf 'set\\0'; else; printf '\\0'; end" for name in UNSET]
    else:
        lines = [f"printf '%s\\0' \"${name}\"" for name in NAMES]
        lines += [f"printf '%s\\0' \"${{{name}+set}}\"" for name in UNSET]
    return "\n".join(lines)


def _environ_dump(raw: bytes) -> dict[str, str]:
    entries = [entry.decode("utf-8") for entry in raw.split(b"\0") if entry]
    return dict(entry.split("=", 1) for entry in entries)


@pytest.mark.parametrize("shell", REAL_SHELLS)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(exports=st.fixed_dictionaries({name: values for name in NAMES}))
def test_eval_round_trips_hostile_values(shell: Shell, exports: dict[str, str]) -> None:
    script = render_env(Environment(exports), shell)
    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryDirectory() as cwd:
        script_file, dump_file = Path(scratch, "env.sh"), Path(scratch, "environ")
        script_file.write_bytes(script.encode("utf-8"))
        program = "\n".join(
            [
                _load(shell, f"cat {_var(shell, 'ROLEHOP_TEST_SCRIPT')}"),
                _print_values(shell),
                f"env -0 > {_var(shell, 'ROLEHOP_TEST_DUMP')}",
            ]
        )
        env = {
            **_base_env(Path(scratch)),
            "ROLEHOP_TEST_SCRIPT": str(script_file),
            "ROLEHOP_TEST_DUMP": str(dump_file),
        }
        result = subprocess.run(
            _argv(shell, program), env=env, cwd=cwd, capture_output=True, timeout=30, check=False
        )
        created = sorted(os.listdir(cwd))
        dumped = dump_file.read_bytes() if dump_file.exists() else b""

    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert result.stderr == b""
    assert created == []  # nothing in a value was executed
    fields = result.stdout.split(b"\0")
    assert fields[-1] == b""
    assert [field.decode("utf-8") for field in fields[:-1]] == [
        *(exports[name] for name in NAMES),
        *("" for _ in UNSET),
    ]
    child = _environ_dump(dumped)
    assert {name: child.get(name) for name in NAMES} == exports
    assert not set(UNSET) & set(child)


@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_env_output_unsets_left_over_profiles(shell: Shell, sandbox: Sandbox) -> None:
    script = render_env(Environment({"ROLEHOP_PROFILE": "research-ro"}), shell)
    expected_unset = (
        [f"set -eg {name};" for name in UNSET] if shell == "fish" else [f"unset {' '.join(UNSET)}"]
    )
    assert script.splitlines()[: len(expected_unset)] == expected_unset
    script_file = sandbox.root / "env.sh"
    script_file.write_text(script)
    program = f"{_load(shell, 'cat ' + _var(shell, 'ROLEHOP_TEST_SCRIPT'))}\nenv -0"
    env = {**_base_env(sandbox.home), "ROLEHOP_TEST_SCRIPT": str(script_file)}
    assert set(LEFT_OVER) <= set(env)

    result = subprocess.run(
        _argv(shell, program), env=env, capture_output=True, timeout=30, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    child = _environ_dump(result.stdout)
    assert child["ROLEHOP_PROFILE"] == "research-ro"
    assert not set(UNSET) & set(child)


@pytest.mark.parametrize("shell", REAL_SHELLS)
@pytest.mark.usefixtures("joe")
def test_shell_evals_rolehop_env_then_aws_cli_is_the_role(
    shell: Shell, sandbox: Sandbox, moto: Emulator, subprocess_env: dict[str, str]
) -> None:
    aws_dir = aws_cli_dir()
    sandbox.write_rolehop(
        RESEARCH_RO_TOML + 'region = "us-east-1"\nrole_session_name = "rolehop-joe"\n'
    )
    dump = sandbox.root / "environ"
    python = _var(shell, "ROLEHOP_TEST_PYTHON")
    program = "\n".join(
        [
            _load(shell, f"{python} -m rolehop env research-ro --shell {shell}"),
            "aws sts get-caller-identity --output json",
            f"env -0 > {_var(shell, 'ROLEHOP_TEST_DUMP')}",
        ]
    )
    env = {
        **subprocess_env,
        **LEFT_OVER,
        "AWS_ENDPOINT_URL": moto.url,
        "LANG": "C.UTF-8",
        "PATH": os.pathsep.join([aws_dir, subprocess_env["PATH"]]),
        "ROLEHOP_TEST_PYTHON": sys.executable,
        "ROLEHOP_TEST_DUMP": str(dump),
    }
    before = moto.assume_role_calls()

    result = run_captured(_argv(shell, program), env, cwd=REPO)

    assert result.returncode == 0, result.stderr
    identity = json.loads(result.stdout)
    # (an explicit session name: fish replaces a $USER unknown to the system, like "tester")
    assert identity["Arn"] == f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-joe"
    assert identity["Account"] == RESEARCH
    assert moto.assume_role_calls() == before + 1
    child = _environ_dump(dump.read_bytes())
    assert not set(UNSET) & set(child)
    assert child["ROLEHOP_PROFILE"] == "research-ro"
    assert child["AWS_REGION"] == child["AWS_DEFAULT_REGION"] == "us-east-1"
    assert child["AWS_ACCESS_KEY_ID"].startswith("ASIA")


def test_fish_env_output_leaves_universal_variables_alone(sandbox: Sandbox) -> None:
    """A `set -Ux AWS_PROFILE` is the user's setting for every fish: not ours to erase."""
    script_file = sandbox.root / "env.fish"
    script_file.write_text(render_env(Environment({"ROLEHOP_PROFILE": "research-ro"}), "fish"))
    program = (
        "set -Ux AWS_PROFILE mine; set -gx AWS_DEFAULT_PROFILE shell-only\n"
        f"source {script_file}\n"
        "set -qU AWS_PROFILE; and echo universal:$AWS_PROFILE\n"
        "set -q AWS_DEFAULT_PROFILE; or echo global-erased\n"
        "set -eU AWS_PROFILE"
    )
    env = {k: v for k, v in _base_env(sandbox.home).items() if k not in LEFT_OVER}
    env["XDG_CONFIG_HOME"] = str(sandbox.home / ".config")  # universals live there
    fish = require_tool("fish")  # not --no-config: that turns universal variables off
    result = subprocess.run(
        [fish, "-c", program], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["universal:mine", "global-erased"]


# Profile names the AWS CLI takes, to the prompt segment: shown as they are, never run.
PROMPT_NAMES = [
    "team/dev",
    "team dev",
    "it's",
    'say "hi"',
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"(touch {CANARY})",
    "${HOME}",
    "%n %~ %F{red}",
    "\\u \\w",
    "[bold]x",
]
SHOW_PROMPT = {
    # each shell's prompt expanded as it draws it: bash's promptvars, zsh's prompt_subst
    "bash": 'ROLEHOP_PROMPT=1; PS1="> "; eval "$PROMPT_COMMAND"; printf "%s\\n" "${PS1@P}"',
    "zsh": 'setopt prompt_subst; PROMPT="> "; _rolehop_precmd; print -rP -- "$PROMPT"',
    "fish": "fish_right_prompt; echo",
}


@pytest.mark.parametrize("name", PROMPT_NAMES)
@pytest.mark.parametrize("shell", REAL_SHELLS)
def test_the_prompt_segment_shows_any_profile_name_and_runs_nothing(
    shell: Shell, name: str, tmp_path: Path
) -> None:
    from rolehop.shell.snippets import snippet

    (tmp_path / "init").write_text(snippet(shell, "/nonexistent/rolehop"))
    load = f"source {tmp_path / 'init'}" if shell == "fish" else f". {tmp_path / 'init'}"
    env = {
        **_base_env(tmp_path),
        "ROLEHOP_PROFILE": name,
        "ROLEHOP_PROMPT": "1",
        "ROLEHOP_PROMPT_ASCII": "1",
    }

    shown = run_captured(_argv(shell, f"{load}\n{SHOW_PROMPT[shell]}"), env, cwd=tmp_path)

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0].startswith(f"[{name} ?]"), shown.stdout
    assert not (tmp_path / CANARY).exists()
