"""``init`` prints the shell integration; ``use`` is the shell function it defines.

``init`` runs at every shell start: it loads no configuration and starts no process.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click
from click.shell_completion import BashComplete, FishComplete, ShellComplete, ZshComplete

from rolehop.cli.options import mfa_token_option, refresh_option, target_options
from rolehop.errors import UsageError
from rolehop.output import Shell
from rolehop.shell import SHELLS
from rolehop.shell.snippets import snippet

_COMPLETERS: dict[str, type[ShellComplete]] = {
    "bash": BashComplete,
    "zsh": ZshComplete,
    "fish": FishComplete,
}


def program_path(argv0: str | None = None) -> str | None:
    """The installed program, as an absolute path for the snippet to call.

    ``argv[0]`` when it is the ``rolehop`` script itself; else ``rolehop`` on PATH (run as
    ``python -m rolehop``, say); else ``None``: the snippet looks it up at each call.
    Symlinks are kept, so a reinstall behind the same link keeps working.
    """
    argv0 = sys.argv[0] if argv0 is None and sys.argv else argv0
    if argv0 and Path(argv0).name in ("rolehop", "rolehop.exe") and Path(argv0).is_file():
        return os.path.abspath(argv0)
    found = shutil.which("rolehop")
    return os.path.abspath(found) if found else None


def completion_script(shell: Shell, group: click.Command) -> str:
    """click's completion script of ``group`` (rolehop's) for ``shell`` ("" where click has
    none)."""
    completer = _COMPLETERS.get(shell)
    if completer is None:
        return ""
    # what ``source()`` returns, without BashComplete's version check that runs bash
    complete = completer(group, {}, "rolehop", "_ROLEHOP_COMPLETE")
    return completer.source_template % complete.source_vars()


@click.command("init")
@click.argument("shell", type=click.Choice(SHELLS))
def init(shell: Shell) -> None:
    """Print the shell integration for SHELL: `rolehop use`, `rolehop_prompt`, completion.

    \b
      eval "$(rolehop init bash)"      # in ~/.bashrc (zsh: ~/.zshrc)
      rolehop init fish | source       # in ~/.config/fish/config.fish
      rolehop init powershell | Out-String | Invoke-Expression   # in $PROFILE

    Set ROLEHOP_PROMPT=1 before it to show the profile in the prompt, and
    ROLEHOP_AUTO_REFRESH=1 to refresh credentials that are about to expire.
    """
    group = click.get_current_context().find_root().command  # rolehop's (cli.app imports us)
    click.echo(snippet(shell, program_path(), completion_script(shell, group)), nl=False)


@click.command("use")
@target_options
@click.option("--off", is_flag=True, help="Forget the profile; restore the shell as it was.")
@refresh_option
@mfa_token_option
def use(**_: object) -> None:
    """Switch this shell to PROFILE (`--off`: back to what it had before).

    A program cannot change its shell's variables, so `use` is a shell function that
    `rolehop init SHELL` defines; this command only says so.
    """
    raise UsageError(
        "`rolehop use` changes your shell, so it is a shell function: add "
        "'eval \"$(rolehop init bash)\"' to ~/.bashrc (zsh: ~/.zshrc; fish: "
        "'rolehop init fish | source'), or run 'eval \"$(rolehop env PROFILE)\"'"
    )


def register(group: click.Group) -> None:
    for command in (init, use):
        group.add_command(command)
