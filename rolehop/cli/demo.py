"""``demo``: the seed story against a local emulator, drawn with rich."""

from __future__ import annotations

import click


@click.command()
def demo() -> None:
    """Show rolehop end to end with no AWS account (needs the demo extra)."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.syntax import Syntax

    from rolehop.features import demo as story

    console = Console()
    console.print("[bold]rolehop demo[/]: Joe hops from the company account into research\n")
    for number, step in enumerate(story.run(), start=1):
        body = Syntax(step.body.rstrip("\n"), step.language, word_wrap=True, theme="ansi_dark")
        console.print(Panel(body, title=f"[bold]{number}. {step.title}", title_align="left"))
    console.print("[green]✔ every step worked[/]")


def register(group: click.Group) -> None:
    group.add_command(demo)
