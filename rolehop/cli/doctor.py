"""``doctor``: check the setup, one line a check, and a fix for each that is not healthy."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rolehop.cli import terminal
from rolehop.cli.options import json_option
from rolehop.cli.render import json_document
from rolehop.cli.state import AppState, pass_state
from rolehop.common.text import printable

if TYPE_CHECKING:
    from rolehop.features.doctor.checks import Check

MARKS = {"ok": "✓", "warn": "!", "fail": "✗"}
ASCII_MARKS = {"ok": "ok", "warn": "!!", "fail": "XX"}
STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def _program_path() -> str:
    """How the AWS CLI could run this very rolehop: the fix for a PATH problem."""
    found = shutil.which("rolehop")
    if found:
        return found
    argv0 = Path(sys.argv[0])
    return str(argv0.resolve()) if argv0.name == "rolehop" else f"{sys.executable} -m rolehop"


@click.command()
@json_option
@pass_state
def doctor(state: AppState, as_json: bool) -> None:
    """Check config files, profiles, keyring, shell integration, clock and AWS CLI profiles.

    Exits 1 when any check fails (✗); warnings (!) do not fail.
    """
    from rolehop.agent.remote import AgentLink
    from rolehop.features.doctor.run import run

    checks = run(
        os.environ,
        state.config_path,
        _program_path(),
        clock=state.clock,
        agent=AgentLink(os.environ),
    )
    failed = any(check.verdict == "fail" for check in checks)
    if as_json:
        click.echo(json_document({"healthy": not failed, "checks": [asdict(c) for c in checks]}))
    elif terminal.stdout_is_terminal():
        _rich(checks)
    else:
        _plain(checks)
    if failed:
        sys.exit(1)


def _plain(checks: list[Check]) -> None:
    marks = MARKS if terminal.can_print("".join(MARKS.values())) else ASCII_MARKS
    for check in checks:
        click.echo(f"{marks[check.verdict]} {check.topic}: {printable(check.summary)}")
        if check.fix:
            click.echo(f"    fix: {printable(check.fix)}")


def _rich(checks: list[Check]) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False)
    for check in checks:
        line = Text(MARKS[check.verdict] + " ", STYLES[check.verdict])
        line.append(f"{check.topic}: ", "bold")
        line.append(printable(check.summary))
        console.print(line)
        if check.fix:
            console.print(Text("    fix: ", "dim") + Text(printable(check.fix)))


def register(group: click.Group) -> None:
    group.add_command(doctor)
