"""completions/ holds click's generated scripts; profile names complete from the config."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.shell_completion import BashComplete, FishComplete, ZshComplete

from rolehop.cli.app import cli
from tests.conftest import Sandbox
from tests.support.tools import require_tool, run_captured

COMPLETIONS = Path(__file__).resolve().parent.parent / "completions"
GENERATORS = {
    "rolehop.bash": BashComplete,
    "_rolehop": ZshComplete,
    "rolehop.fish": FishComplete,
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generated_completions_match_the_cli(name: str) -> None:
    source = GENERATORS[name](cli, {}, "rolehop", "_ROLEHOP_COMPLETE").source() + "\n"
    path = COMPLETIONS / name
    if os.environ.get("UPDATE_COMPLETIONS") == "1":
        path.write_text(source)
    assert path.read_text() == source, f"regenerate: UPDATE_COMPLETIONS=1 pytest {__file__}"


PROBE = """\
import json, sys
from rolehop.cli.app import main
try:
    main()
finally:
    heavy = [m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "keyring", "rich")]
    print(json.dumps(heavy), file=sys.stderr)
"""


def _complete(words: str, env: dict[str, str]) -> tuple[list[str], list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={
            **env,
            "_ROLEHOP_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    names = [
        line.split(",", 1)[1] for line in done.stdout.splitlines() if line.startswith("plain,")
    ]
    return names, json.loads(done.stderr.strip().splitlines()[-1])


def test_profile_names_complete_from_both_files_without_sdk_or_keyring(
    sandbox: Sandbox, subprocess_env: dict[str, str]
) -> None:
    sandbox.write_rolehop(
        """\
        [profiles.research-ro]
        role_arn = "arn:aws:iam::111122223333:role/r"
        source_profile = "joe"

        [profiles.joe]
        mfa_serial = "arn:aws:iam::444455556666:mfa/joe"
        """
    )
    sandbox.write_aws_config(
        "[profile research-admin]\nrole_arn = arn:aws:iam::111122223333:role/a\n"
        "source_profile = joe\n\n[profile other]\nregion = eu-west-1\n"
    )
    names, heavy = _complete("rolehop env res", subprocess_env)
    assert names == ["research-admin", "research-ro"]
    assert heavy == []
    assert _complete("rolehop cache clear ", subprocess_env)[0] == ["research-admin", "research-ro"]


def test_a_broken_config_completes_nothing(
    sandbox: Sandbox, subprocess_env: dict[str, str]
) -> None:
    sandbox.write_rolehop("[profiles.x\n")
    assert _complete("rolehop env ", subprocess_env)[0] == []


def test_bash_completes_any_profile_name_as_one_word(
    sandbox: Sandbox, subprocess_env: dict[str, str]
) -> None:
    bash = require_tool("bash")
    names = ["team/dev", "team dev", "team's", "team*", "team$(touch canary)", 'team"x"']
    sandbox.write_aws_config(
        "".join(
            f"[profile {shlex.quote(name)}]\nrole_arn = arn:aws:iam::111122223333:role/r\n"
            "source_profile = joe\n"
            for name in names
        )
        + "[profile team\x1b]0;x\x07]\nrole_arn = arn:aws:iam::111122223333:role/r\n"
    )
    launcher = sandbox.root / "bin" / "rolehop"
    launcher.parent.mkdir()
    launcher.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m rolehop "$@"\n')
    launcher.chmod(0o755)
    script = (
        f". {shlex.quote(str(COMPLETIONS / 'rolehop.bash'))}\n"
        "COMP_WORDS=(rolehop env team); COMP_CWORD=2\n"
        "_rolehop_completion rolehop\n"
        # each completion as bash reads it once inserted on the command line
        'for typed in "${COMPREPLY[@]}"; do\n'
        '    eval "set -- $typed"; printf "%s|%s\\0" "$#" "$1"\n'
        "done\n"
    )

    done = run_captured(
        [bash, "--norc", "--noprofile", "-c", script],
        {**subprocess_env, "PATH": f"{launcher.parent}{os.pathsep}{subprocess_env['PATH']}"},
        cwd=sandbox.root,
    )

    assert done.returncode == 0, done.stderr
    read = [field.split("|", 1) for field in done.stdout.split("\0") if field]
    assert sorted(read) == sorted(["1", name] for name in names)
    assert not (sandbox.root / "canary").exists()


def test_the_fast_path_knows_which_commands_complete_a_profile_first() -> None:
    """rolehop.shell.completion answers ``rolehop CMD <Tab>`` for these commands without
    click: exactly those whose first argument click completes with profile names."""
    from rolehop.cli.complete import profile_names
    from rolehop.shell.completion import PROFILE_COMMANDS

    found = set()
    for name, command in cli.commands.items():
        arguments = [param for param in command.params if isinstance(param, click.Argument)]
        if arguments and arguments[0]._custom_shell_complete is profile_names:
            found.add(name)
    assert found == PROFILE_COMMANDS


@pytest.mark.parametrize("protocol", ["bash_complete", "zsh_complete", "fish_complete"])
def test_the_fast_path_writes_click_s_bytes(protocol: str) -> None:
    from click.shell_completion import CompletionItem

    from rolehop.shell.completion import answer

    values = ["a", "team\\\\\\ dev", "x:y"]
    completer = {"bash_complete": BashComplete, "zsh_complete": ZshComplete}.get(
        protocol, FishComplete
    )(cli, {}, "rolehop", "_ROLEHOP_COMPLETE")
    expected = "\n".join(completer.format_completion(CompletionItem(v)) for v in values) + "\n"
    assert answer(values, protocol) == expected
    assert answer([], protocol) == "\n"


def test_source_completes_bases_too(sandbox: Sandbox, subprocess_env: dict[str, str]) -> None:
    """--source names where a chain starts: base profiles as well as roles."""
    sandbox.write_aws_credentials("[joe]\naws_access_key_id = AKIAJOE\naws_secret_access_key = s\n")
    sandbox.write_rolehop('[profiles.dev]\nrole_arn = "arn:aws:iam::111122223333:role/d"\n'
                          'source_profile = "joe"\n')  # fmt: skip
    env = {**subprocess_env, "ROLEHOP_AGENT": "0"}
    assert _complete("rolehop env --role-arn x --source ", env)[0] == ["dev", "joe"]
    assert _complete("rolehop env ", env)[0] == ["dev"]
