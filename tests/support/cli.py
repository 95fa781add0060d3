"""Running ``rolehop.cli.main`` in process against a stubbed STS.

Install a :class:`StubbedState` as ``installed.state`` (the ``state`` fixture of
tests/support/worlds.py does, or :func:`fresh_run`), queue STS answers on its ``sts``, and
call :func:`rolehop_main`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

import pytest
from click.testing import CliRunner

from rolehop.cli.app import main
from rolehop.cli.state import AppState
from rolehop.engine import context
from rolehop.engine.context import Context
from tests.support.stubs import (
    COMPANY_ROLE,
    LEGACY_ROLE,
    NOW,
    RESEARCH_ROLE,
    FakeClock,
    Issued,
    StubSts,
    issue,
    params,
)

EXPIRES = NOW + timedelta(hours=1)  # when the credentials of expect_company expire
EXPIRES_TEXT = "2030-01-01T13:00:00Z"  # EXPIRES as credential-process and list write it

# rolehop.toml for the CLI tests: company (joe's role, in eu-west-1) and research behind it
CONFIG = f"""\
    [profiles.company]
    role_arn = "{COMPANY_ROLE}"
    source_profile = "joe"
    region = "eu-west-1"

    [profiles.research]
    role_arn = "{RESEARCH_ROLE}"
    source_profile = "company"
    """

# ~/.aws/config for the CLI tests (with CONFIG and JOE_CREDENTIALS): legacy, and a broken one
AWS_CONFIG = f"""\
    [profile legacy]
    role_arn = {LEGACY_ROLE}
    source_profile = joe
    region = eu-central-1

    [profile bad]
    role_arn = not-an-arn
    source_profile = joe
    """


@dataclass
class StubbedState(AppState):
    """``AppState`` whose context has a stubbed STS and a fixed clock."""

    sts: StubSts = field(default_factory=StubSts)
    clock: FakeClock = field(default_factory=FakeClock)

    @cached_property
    def context(self) -> Context:
        return context.build(
            os.environ,
            config_path=self.config_path,
            clock=self.clock,
            sts=self.sts,
            warn=self.warn,
        )


@dataclass(frozen=True)
class Outcome:
    """What one :func:`rolehop_main` run did: its exit code, stdout and stderr."""

    code: int
    stdout: str
    stderr: str


class Installed:
    """The :class:`AppState` that :func:`rolehop_main` hands to ``main`` (set by fixtures)."""

    state: AppState | None = None


installed = Installed()


def fresh_run(monkeypatch: pytest.MonkeyPatch) -> StubbedState:
    """A new per-run state, as the next ``rolehop`` process would have."""
    fresh = StubbedState()
    monkeypatch.setattr(installed, "state", fresh)
    return fresh


def rolehop_main(
    *args: str, env: Mapping[str, str | None] | None = None, input: str | None = None
) -> Outcome:
    """Run ``rolehop.cli.main(args)`` with stdout and stderr captured apart.

    ``input`` is what the user types at click's prompts (CliRunner echoes visible input to
    stdout, as a terminal would; hidden input is not echoed).
    """
    runner = CliRunner()
    with runner.isolation(input=input, env=env) as (out, err, _):
        code: object = "main() returned without sys.exit"
        try:
            main(list(args), state=installed.state)
        except SystemExit as exit_:
            code = exit_.code
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
    assert isinstance(code, int), code
    return Outcome(code, out.getvalue().decode(), err.getvalue().decode())


def expect_company(sts: StubSts, tag: str = "company") -> Issued:
    """Queue one AssumeRole of CONFIG's company profile; its credentials expire at EXPIRES."""
    company = issue(tag, COMPANY_ROLE, EXPIRES)
    sts.expect_assume_role(params(COMPANY_ROLE), company.response)
    return company


def expect_research(sts: StubSts) -> tuple[Issued, Issued]:
    """Queue the AssumeRoles of CONFIG's research: company's, then research's."""
    company = expect_company(sts)
    research = issue("research", RESEARCH_ROLE, EXPIRES)
    sts.expect_assume_role(params(RESEARCH_ROLE), research.response)
    return company, research


def expect_legacy(sts: StubSts) -> Issued:
    """Queue the AssumeRole of AWS_CONFIG's legacy."""
    legacy = issue("legacy", LEGACY_ROLE, EXPIRES)
    sts.expect_assume_role(params(LEGACY_ROLE), legacy.response)
    return legacy
