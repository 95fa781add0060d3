"""``generate``: profiles for every account and role an organisation has."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rolehop.cli.state import AppState, pass_state
from rolehop.common.text import printable
from rolehop.errors import UsageError

if TYPE_CHECKING:
    from rolehop.features.generate.write import Outcome


@contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr when it is a terminal (rich); nothing otherwise."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(what, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@click.command()
@click.option(
    "--sso",
    "session",
    metavar="SESSION",
    help="Every account and permission set of this IAM Identity Center session.",
)
@click.option(
    "--organization",
    is_flag=True,
    help="Every ACTIVE account of AWS Organizations (with --from and --role).",
)
@click.option(
    "--from",
    "source",
    metavar="PROFILE",
    help="--organization: the profile whose credentials read Organizations.",
)
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="NAME",
    help="--organization: the role to become in each account (repeatable).",
)
@click.option(
    "--ou", metavar="OU_ID", help="--organization: only the accounts of this OU's subtree."
)
@click.option(
    "--name",
    "template",
    metavar="TEMPLATE",
    help="Profile names: {account_id}, {account_name}, {role_name}, {ou} "
    "(default {account_name}.{role_name}).",
)
@click.option("--region", metavar="REGION", help="A region for every generated profile.")
@click.option("--prune", is_flag=True, help="Remove profiles whose account or role is gone.")
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.option(
    "--aws-config",
    is_flag=True,
    help="Also write [profile NAME] blocks (credential_process) into a rolehop-managed "
    "block of ~/.aws/config.",
)
@pass_state
def generate(
    state: AppState,
    session: str | None,
    organization: bool,
    source: str | None,
    roles: tuple[str, ...],
    ou: str | None,
    template: str | None,
    region: str | None,
    prune: bool,
    dry_run: bool,
    aws_config: bool,
) -> None:
    """Generate profiles for every account and role of an IAM Identity Center session or
    of AWS Organizations, into generated/SOURCE.toml beside config.toml.

    \b
      rolehop generate --sso corp
      rolehop generate --organization --from mgmt --role OrganizationAccountAccessRole
    """
    from rolehop.config import validate
    from rolehop.features.generate import naming, sources, write
    from rolehop.features.sso.sessions import pick

    if bool(session) == organization:
        raise UsageError(
            "name one source: --sso SESSION, or --organization --from PROFILE --role NAME"
        )
    if organization and (not source or not roles):
        raise UsageError("--organization needs --from PROFILE and at least one --role NAME")
    if region is not None:
        try:
            validate.region(region)
        except ValueError as error:
            raise UsageError(f"--region: {error}") from None
    ctx = state.context
    chosen = naming.check_template(template or naming.DEFAULT_TEMPLATE)
    if session:
        sso_session = pick(ctx.config, session)
        name, kind, origin = naming.source_name("sso", sso_session.name), "sso", sso_session.name
        words = ["--sso", sso_session.name]
        with _progress("listing accounts and roles") as progress:
            found = sources.from_sso(ctx, sso_session, progress)
    else:
        assert source is not None
        name, kind, origin = naming.source_name("org", source), "organization", source
        words = ["--organization", "--from", source, *(w for r in roles for w in ("--role", r))]
        words += ["--ou", ou] if ou else []
        found = sources.from_organization(ctx, source, roles, ou, "{ou}" in chosen)
    # the source's own options only: the header stays the same whatever else is asked
    command = shlex.join(["rolehop", "generate", *words])
    request = write.Request(name, command, chosen, region, prune, dry_run)
    outcome = write.generate(ctx, request, found, kind, origin)
    _report(outcome, dry_run)
    if aws_config:
        _aws_config(state, name, outcome.profiles, dry_run)


def _report(outcome: Outcome, dry_run: bool) -> None:
    for problem in outcome.problems:
        click.echo(printable(f"rolehop: warning: skipped {problem}"), err=True)
    for name, path in outcome.hand_written.items():
        _hand_written(name, path)
    if dry_run:
        for line in outcome.diff.lines():
            click.echo(printable(line))
    diff = outcome.diff
    verb = (
        "would write"
        if dry_run and not diff.empty
        else ("wrote" if outcome.written else "unchanged:")
    )
    click.echo(
        printable(
            f"rolehop: {verb} {outcome.path}: {len(outcome.profiles)} profile(s), "
            f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed"
            + (f", {len(diff.kept)} gone but kept (--prune removes them)" if diff.kept else "")
        ),
        err=True,
    )


def _hand_written(name: str, path: Path) -> None:
    click.echo(printable(f"rolehop: {name!r} is hand-written in {path}: left as it is"), err=True)


def _aws_config(state: AppState, source: str, names: Iterable[str], dry_run: bool) -> None:
    """The ``[profile NAME]`` blocks of ``--aws-config``, each running
    ``rolehop [--config PATH] credential-process NAME`` (the path when it is not the
    default, so that AWS tools find the same profiles)."""
    from rolehop.config.files import default_config_path
    from rolehop.features.generate.aws_config_file import write_aws_config

    ctx = state.context
    prefix = ["rolehop"]
    if ctx.config.path != default_config_path(ctx.environ):
        prefix += ["--config", os.path.abspath(ctx.config.path)]
    commands = {name: shlex.join([*prefix, "credential-process", name]) for name in names}
    path = ctx.config.aws_config_path
    written = write_aws_config(path, source, commands, dry_run=dry_run)
    for name in written.left_out:
        _hand_written(name, path)
    verb = ("would update" if dry_run else "updated") if written.changed else "unchanged:"
    kept = len(commands) - len(written.left_out)
    click.echo(printable(f"rolehop: {verb} {path}: block {source!r}, {kept} profile(s)"), err=True)


def register(group: click.Group) -> None:
    group.add_command(generate)
