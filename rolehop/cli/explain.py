"""``explain``: say which side of the trust blocks an AssumeRole, hop by hop."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from rolehop.cli.complete import profile_names
from rolehop.cli.options import json_option
from rolehop.cli.render import json_document
from rolehop.cli.state import AppState, pass_state
from rolehop.common.text import printable
from rolehop.features.explain.report import Explainer, HopReport, Side, exit_code


@click.command()
@click.argument("profile", shell_complete=profile_names)
@click.option("--dry-run", is_flag=True, help="Evaluate the policies; do not try AssumeRole.")
@click.option(
    "--inspect-with",
    metavar="PROFILE",
    shell_complete=profile_names,
    help="Read the role and the policies with this profile's credentials (an admin of the "
    "role's account: the caller usually cannot read a role in another account).",
)
@click.option(
    "--trust-policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Evaluate this trust policy (JSON) for the target role instead of reading it.",
)
@json_option
@pass_state
def explain(
    state: AppState,
    profile: str,
    dry_run: bool,
    inspect_with: str | None,
    trust_policy: Path | None,
    as_json: bool,
) -> None:
    """Why AssumeRole fails (or works) for PROFILE: the trust side and the caller side.

    For each hop: who calls (GetCallerIdentity), what rolehop sends, the role's trust
    policy and the caller's own policies evaluated against that request, the AssumeRole
    itself (unless --dry-run), and which side blocks. Exits 5 when a side blocks or
    AssumeRole is denied (another non-zero code when it fails otherwise).
    """
    explainer = Explainer(
        state.context, inspect_with=inspect_with, trust_policy=trust_policy, dry_run=dry_run
    )
    reports = explainer.explain(profile)
    code = exit_code(reports)
    if as_json:
        document = {"profile": profile, "hops": [_row(r) for r in reports], "exit_code": code}
        click.echo(json_document(document))
    else:
        for number, report in enumerate(reports, start=1):
            if number > 1:
                click.echo()
            _render(number, report)
        click.echo()
        click.echo(printable(reports[-1].conclusion) if reports else "no hops")
    # non-zero when AssumeRole fails or would be denied (5, as AccessDenied elsewhere)
    click.get_current_context().exit(code)


def _row(report: HopReport) -> dict[str, Any]:
    def side(found: Side) -> dict[str, Any]:
        return {
            "verdict": found.verdict,
            "how": found.how,
            "problem": found.problem,
            "policies": [
                {
                    "source": item.source,
                    "verdict": item.decision.verdict,
                    "statements": [statement.describe() for statement in item.decision.statements],
                }
                for item in found.policies
            ],
        }

    return {
        "hop": report.name,
        "role_arn": report.role_arn,
        "caller": asdict(report.caller) if report.caller else None,
        "caller_problem": report.caller_problem,
        "mfa": report.mfa,
        "params": dict(report.params),
        "context": dict(report.context),
        "trust": side(report.trust),
        "caller_side": side(report.caller_side),
        "attempt": report.attempt,
        "conclusion": report.conclusion,
        "exit_code": report.exit_code,
    }


def _render(number: int, report: HopReport) -> None:
    say = click.echo
    say(f"hop {number}: {printable(report.name)} -> {report.role_arn}")
    if report.caller is None:
        say(f"  caller: {printable(report.caller_problem or '?')}")
        return
    mfa = {True: "with MFA", False: "without MFA", None: "MFA unknown"}[report.mfa]
    say(f"  caller: {report.caller.arn} (account {report.caller.account}, {mfa})")
    shown = ", ".join(f"{key}={value}" for key, value in report.params.items())
    say(f"  request: AssumeRole {printable(shown)}")
    for label, side in (("trust side", report.trust), ("caller side", report.caller_side)):
        say(f"  {label}: {side.verdict.upper()} ({printable(side.how)})")
        if side.problem:
            say(f"    {printable(side.problem)}")
        for item in side.policies:
            say(f"    {printable(item.source)}: {item.decision.verdict}")
            for statement in item.decision.statements:
                for line in statement.describe().splitlines():
                    say(f"      {printable(line)}")
    if report.attempt is None:
        say("  AssumeRole: not tried (--dry-run)")
    elif report.attempt == "ok":
        say("  AssumeRole: succeeded")
    else:
        say(f"  AssumeRole: {printable(report.attempt)}")
    say(f"  => {printable(report.conclusion)}")


def register(group: click.Group) -> None:
    group.add_command(explain)
