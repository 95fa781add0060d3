"""``demo``: the seed story against a local emulator, drawn with rich."""

from __future__ import annotations

import click


@click.command()
@click.option("--sso", is_flag=True, help="The story with IAM Identity Center (a local stand-in).")
def demo(sso: bool) -> None:
    """Show rolehop end to end with no AWS account (needs the demo extra)."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.syntax import Syntax

    from rolehop.features import demo as story
    from rolehop.features.demo import sso_story

    console = Console()
    if sso:
        console.print(
            "[bold]rolehop demo --sso[/]: Joe signs in to IAM Identity Center and hops into "
            "research\n"
        )
    else:
        console.print("[bold]rolehop demo[/]: Joe hops from the company account into research\n")
    steps = sso_story.run() if sso else story.run()
    for number, step in enumerate(steps, start=1):
        body = Syntax(step.body.rstrip("\n"), step.language, word_wrap=True, theme="ansi_dark")
        console.print(Panel(body, title=f"[bold]{number}. {step.title}", title_align="left"))
    console.print("[green]✔ every step worked[/]")


def register(group: click.Group) -> None:
    group.add_command(demo)
