"""``doctor``'s checks of the AWS profiles whose ``credential_process`` runs rolehop: the
program is on PATH, the profile is known (and no loop back to the AWS profile itself), the
``--config`` it names is readable."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rolehop.config.files import Config
from rolehop.engine import chain as chains
from rolehop.errors import RolehopError, close_names, did_you_mean
from rolehop.features.doctor.checks import Check


@dataclass(frozen=True)
class Invocation:
    """``rolehop [--config PATH] credential-process PROFILE`` found in a credential_process."""

    program: str
    config: str | None
    profile: str | None


def parse_invocation(command: str) -> Invocation | None:
    """The rolehop call in a credential_process line, or ``None`` when it calls another tool."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words:
        return None
    program = words[0]
    name = Path(program).name.lower()
    rest = words[1:]
    if name.startswith("python") and rest[:2] == ["-m", "rolehop"]:
        rest = rest[2:]
    elif name not in ("rolehop", "rolehop.exe"):
        return None
    if "credential-process" not in rest:
        return None
    at = rest.index("credential-process")
    config = None
    for index, word in enumerate(rest[:at]):
        if word.startswith("--config="):
            config = word.partition("=")[2]
        elif word == "--config" and index + 1 < at:
            config = rest[index + 1]
    profile = None
    arguments = iter(rest[at + 1 :])
    for word in arguments:
        if word == "--mfa-token":
            next(arguments, None)
        elif not word.startswith("-"):
            profile = word
            break
    return Invocation(program, config, profile)


def credential_processes(
    config: Config,
    environ: Mapping[str, str],
    load: Callable[[str | None], Config],
    program_path: str,
) -> list[Check]:
    """AWS profiles whose credential_process asks rolehop: is the program found, and the
    profile known, without a loop back to the AWS profile itself?"""
    checks: list[Check] = []
    users = 0
    for base in sorted(config.aws_bases.values(), key=lambda base: base.name):
        command = dict(base.identity).get("credential_process")
        invocation = parse_invocation(command) if command else None
        if invocation is None:
            continue
        users += 1
        line = base.key_lines.get("credential_process", base.line)
        where = f"{base.path}:{line}" if line else str(base.path)
        subject = f"{where}: AWS profile {base.name!r}: credential_process"
        checks.extend(
            _invocation_problems(subject, base.name, invocation, environ, load, program_path)
        )
    if users and not checks:
        checks.append(
            Check("aws-cli", "ok", f"{users} AWS profile(s) use rolehop; all name known profiles")
        )
    if not users:
        checks.append(Check("aws-cli", "ok", "no AWS profile uses rolehop as credential_process"))
    return checks


def _invocation_problems(
    subject: str,
    aws_name: str,
    invocation: Invocation,
    environ: Mapping[str, str],
    load: Callable[[str | None], Config],
    program_path: str,
) -> Iterable[Check]:
    if "/" not in invocation.program and not shutil.which(
        invocation.program, path=environ.get("PATH")
    ):
        yield Check(
            "aws-cli",
            "fail",
            f"{subject} runs {invocation.program!r}, which is not on PATH",
            f"use the full path: credential_process = {program_path} credential-process ...",
        )
    if invocation.profile is None:
        yield Check("aws-cli", "fail", f"{subject} names no profile", "add the profile name")
        return
    try:
        target = load(invocation.config)
    except RolehopError as error:
        yield Check("aws-cli", "fail", f"{subject}: {error}", "fix that rolehop config")
        return
    name = invocation.profile
    base = chains.is_base(target, name, set)  # handed out itself: a session of its keys...
    if not base and name not in target.profiles:
        close = close_names(name, [*target.profiles, *target.base_profiles])
        yield Check(
            "aws-cli",
            "fail",
            f"{subject} asks for rolehop profile {name!r}, which rolehop does not know",
            f"{did_you_mean(close)} (the profile after credential-process)"
            if close
            else "name a profile that `rolehop list` shows",
        )
        return
    try:
        names = (name,) if base else chains.build(target, name, environ, set).names
    except RolehopError:
        return  # reported with the profiles
    if aws_name in names:
        yield Check(
            "aws-cli",
            "fail",
            f"{subject} asks for {name!r}, whose chain starts at {aws_name!r} itself: a loop",
            f"give {name!r} another source_profile"
            if not base
            else f"name another profile than {aws_name!r} itself",
        )
