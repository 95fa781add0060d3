"""The one error hierarchy of rolehop.

Every failure a user can cause or meet is a :class:`RolehopError`; the CLI turns it into a
single stderr line (and, for a command given ``--json``, a JSON object on stdout) and its
``exit_code`` at one place (``rolehop.cli.app.main``). The codes are documented in README.md
("Exit codes").
"""

from __future__ import annotations

import difflib
import errno
from collections.abc import Iterable
from pathlib import Path


class RolehopError(Exception):
    """Base class: a message for humans and an exit code for scripts."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(RolehopError):
    """The command line asks for something rolehop cannot do as asked."""

    exit_code = 2


class ConfigError(RolehopError):
    """Invalid configuration; names the file, line, profile and key where known.

    ``fix`` says what to change (``doctor`` shows it under the error), where rolehop can
    tell more than the problem itself does.
    """

    exit_code = 3

    def __init__(
        self,
        problem: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        profile: str | None = None,
        key: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.path = path
        self.line = line
        self.profile = profile
        self.key = key
        self.fix = fix
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path) + (f":{self.line}" if self.line else "")
        subject = ""
        if self.profile is not None:
            subject = f"profile {self.profile!r}"
            if self.key is not None:
                subject += f", key {self.key!r}"
        elif self.key is not None:
            subject = f"key {self.key!r}"
        prefix = ": ".join(part for part in (where, subject) if part)
        return f"{prefix}: {self.problem}" if prefix else self.problem


class ProfileNotFoundError(RolehopError):
    exit_code = 3


def close_names(name: str, known: Iterable[str]) -> list[str]:
    """The known names a typo of ``name`` most likely meant (at most three), best first."""
    return difflib.get_close_matches(name, sorted(set(known)), n=3)


def did_you_mean(names: list[str]) -> str:
    """``did you mean 'a'?``, ``did you mean 'a' or 'b'?``: each name quoted by repr, so
    that any name reads as one (and a control character never reaches a terminal)."""
    quoted = [repr(name) for name in names]
    alternatives = ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]
    return f"did you mean {alternatives}?"


class ChainLoopError(ConfigError):
    """A source_profile chain that comes back to a profile it already passed."""


class StsError(RolehopError):
    """STS refused or failed a call; the message names the profile and the role."""

    exit_code = 4


class AccessDeniedError(StsError):
    """STS said AccessDenied. Its code, 5, is also ``explain``'s when it finds that a
    side of the trust blocks the AssumeRole (or the AssumeRole it tried was denied): a
    script reads "denied" from either the same way."""

    exit_code = 5


class SourceCredentialsError(RolehopError):
    """The start of a chain (an AWS profile, stored keys...) gave no usable credentials."""

    exit_code = 6


class MfaError(RolehopError):
    """No MFA code could be had (no terminal, a failing mfa_process, bad input)."""

    exit_code = 9


class NetworkError(RolehopError):
    """The STS endpoint (or, for ``login``, the console federation endpoint) could not be
    reached in time."""

    exit_code = 7


class CacheError(RolehopError):
    """The keyring cache could not be used for an operation that needs it."""

    exit_code = 8


class LockError(RolehopError):
    """The cross-process lock of a refresh could not be had."""

    exit_code = 10


class LockTimeoutError(LockError):
    """Waited too long for another rolehop process refreshing the same credentials."""


class FederationError(RolehopError):
    """``login``: the console federation endpoint refused ``getSigninToken`` or answered
    without a sign-in token. The message names the profile and the endpoint, never the
    session it was sent (the credentials) nor a sign-in token."""

    exit_code = 11


class SsoError(RolehopError):
    """IAM Identity Center refused or failed a sign-in, a token or a portal call. The
    message never holds a token."""

    exit_code = 12


class SsoLoginRequired(SsoError):
    """An IAM Identity Center session has no valid token (never signed in, expired and not
    refreshable, refused, logged out): ``rolehop sso login SESSION`` is the fix."""

    def __init__(self, message: str, session: str) -> None:
        super().__init__(message)
        self.session = session


class EnvFileError(RolehopError):
    """``serve --env-file``: the file cannot be written safely (it exists and is not a
    regular file of the user's own, its directory is open to others) or at all."""


class CommandNotFoundError(RolehopError):
    """``rolehop exec``: the command to run does not exist or is not executable."""

    exit_code = 127


class CommandNotExecutableError(RolehopError):
    """``rolehop exec``: the command exists but may not be run."""

    exit_code = 126


def command_error(program: str, failure: OSError) -> RolehopError:
    """Why ``exec`` could not start ``program``, with the exit code a shell would give."""
    if isinstance(failure, FileNotFoundError):
        return CommandNotFoundError(f"exec: command not found: {program}")
    if isinstance(failure, PermissionError):
        return CommandNotExecutableError(f"exec: permission denied: {program}")
    if failure.errno == errno.ENOEXEC:  # a script without a #! line, say
        return CommandNotExecutableError(
            f"exec: cannot run {program}: not an executable format (missing #!?)"
        )
    return RolehopError(f"exec: cannot run {program}: {failure.strerror}")
