"""README.md stays true: two Quick start commands, every command documented."""

from __future__ import annotations

import re
from pathlib import Path

import click

from rolehop.cli.app import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            names += _commands(command, f"{prefix}{name} ")
        else:
            names.append(prefix + name)
    return names


def test_quick_start_has_exactly_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", _section("Quick start"), re.S)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    demo, tests = commands
    assert demo.endswith("rolehop demo") and "'.[demo]'" in demo
    assert "'.[test]'" in tests and tests.endswith("python -m pytest")


def test_ci_runs_the_readme_test_command() -> None:
    marked = re.search(r"<!-- test-command -->\n```sh\n(.*)\n```\n<!-- /test-command -->", README)
    assert marked and marked.group(1).endswith("python -m pytest")
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and 'bash -euo pipefail -c "$test_command"' in ci


def test_every_command_is_documented() -> None:
    documented = _section("Commands")
    missing = [name for name in _commands(cli) if f"### `rolehop {name}" not in documented]
    assert missing == []


def test_every_exit_code_is_documented() -> None:
    from rolehop import errors

    table = _section("Exit codes")
    codes = {
        cls.exit_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.RolehopError)
    }
    assert all(re.search(rf"^\| [^|]*\b{code}\b", table, re.M) for code in codes)
