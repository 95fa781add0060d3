"""``whoami`` and ``graph``: who a set of credentials is, and what a chain looks like."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import click

from rolehop.cli import terminal
from rolehop.cli.complete import profile_names
from rolehop.cli.options import json_option, no_session_option
from rolehop.cli.render import duration_text, json_document
from rolehop.cli.state import AppState, pass_state
from rolehop.common.text import error_line, printable
from rolehop.engine import identity as identities
from rolehop.engine import views
from rolehop.engine.rows import GraphNode
from rolehop.errors import RolehopError


@click.command()
@click.argument("profile", required=False, shell_complete=profile_names)
@json_option
@no_session_option
@pass_state
def whoami(state: AppState, profile: str | None, as_json: bool, no_session: bool) -> None:
    """Who STS says you are: PROFILE's credentials, or the active environment's."""
    identity = identities.whoami(state.context, profile, session=not no_session)
    if as_json:
        click.echo(json_document(asdict(identity)))
        return
    click.echo(f"Account  {identity.account}\nArn      {identity.arn}\nUserId   {identity.user_id}")


def _left(cached_for: timedelta | None) -> str:
    if cached_for is None or cached_for.total_seconds() <= 0:
        return "not cached"
    return f"cached {duration_text(cached_for)}"


def _line(node: GraphNode) -> str:
    if node.kind == "base":
        return f"{node.name}  ({node.detail})"
    if node.kind == "mfa":
        return f"MFA session {node.detail}  {_left(node.cached_for)}"
    return f"{node.name}  {node.account}  {node.role_arn}  {_left(node.cached_for)}"


@click.command()
@click.argument("profile", required=False, shell_complete=profile_names)
@json_option
@pass_state
def graph(state: AppState, profile: str | None, as_json: bool) -> None:
    """Show PROFILE's chain (or every profile's) as a tree, base -> role -> role."""
    chains: dict[str, list[GraphNode]]
    errors: dict[str, RolehopError] = {}
    if profile:
        chains = {profile: views.graph(state.context, profile)}
    else:
        chains, errors = views.graphs(state.context)
    if as_json:
        document = {
            name: [
                {
                    **asdict(node),
                    "account": node.account,
                    "cached_for": int(node.cached_for.total_seconds()) if node.cached_for else None,
                }
                for node in nodes
            ]
            for name, nodes in chains.items()
        }
        problems = {name: str(error) for name, error in errors.items()}
        click.echo(json_document({"chains": document, "errors": problems}))
        return
    if terminal.stdout_is_terminal():
        _rich_trees(list(chains.values()))
    else:
        for index, nodes in enumerate(chains.values()):
            if index:
                click.echo()
            for depth, node in enumerate(nodes):
                prefix = "   " * (depth - 1) + "└─ " if depth else ""
                click.echo(printable(prefix + _line(node)))
    for error in errors.values():
        click.echo(error_line(f"rolehop: warning: {error}"), err=True)


def _rich_trees(chains: list[list[GraphNode]]) -> None:
    """For people: accounts stand out, cached hops green, the rest dim; NO_COLOR honoured."""
    from rich.console import Console
    from rich.text import Text
    from rich.tree import Tree

    def label(node: GraphNode) -> Text:
        text = Text(printable(node.name), "bold")
        if node.kind == "base":
            return text + Text(f"  ({printable(node.detail or '')})", "dim")
        if node.kind == "mfa":
            text = Text("MFA session ", "bold") + Text(printable(node.detail or ""))
        else:
            text += Text("  ") + Text(node.account or "?", "cyan") + Text(f"  {node.role_arn}")
        cached = node.cached_for is not None and node.cached_for.total_seconds() > 0
        return text + Text(f"  {_left(node.cached_for)}", "green" if cached else "dim")

    console = Console(highlight=False)
    for index, nodes in enumerate(chains):
        if index:
            console.print()
        tree = branch = Tree(label(nodes[0]))
        for node in nodes[1:]:
            branch = branch.add(label(node))
        console.print(tree)


def register(group: click.Group) -> None:
    group.add_command(whoami)
    group.add_command(graph)
