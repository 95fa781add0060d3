"""Turn credentials into what other programs read: shell code, JSON, an environment.

Every value is quoted for its shell, so ``eval`` of ``rolehop env`` is safe whatever the
values hold (quotes, newlines, ``$(...)``, backticks...).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from rolehop.common.creds import Credentials, format_expiration
from rolehop.engine.resolve import Resolution
from rolehop.errors import RolehopError, UsageError
from rolehop.shell import SHELLS

# one of rolehop.shell.SHELLS (click.Choice checks what the command line gives)
Shell = str

# A profile name left next to static keys makes SDKs pick one or the other unpredictably.
UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN")
# what only temporary credentials set
TEMPORARY = ("AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "ROLEHOP_EXPIRATION")


@dataclass(frozen=True)
class Environment:
    exports: Mapping[str, str]
    unset: tuple[str, ...] = UNSET

    def apply(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` with these variables set and unset: the environment of ``exec``."""
        merged = {key: value for key, value in base.items() if key not in self.unset}
        merged.update(self.exports)
        return merged


def environment(resolution: Resolution, target_spec: str | None = None) -> Environment:
    """The variables that hand out ``resolution``; ``target_spec`` (an ad-hoc role or an
    override: rolehop.engine.targets) goes to ROLEHOP_TARGET, for the shell's auto-refresh
    to ask for the same target again."""
    credentials = resolution.credentials
    values = {
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
    }
    if credentials.session_token:
        values["AWS_SESSION_TOKEN"] = credentials.session_token
    if credentials.expiration:
        values["AWS_CREDENTIAL_EXPIRATION"] = format_expiration(credentials.expiration)
        values["ROLEHOP_EXPIRATION"] = str(int(credentials.expiration.timestamp()))
    if resolution.region:
        values["AWS_REGION"] = resolution.region
        values["AWS_DEFAULT_REGION"] = resolution.region
    values["ROLEHOP_PROFILE"] = resolution.profile.name
    if target_spec is not None:
        values["ROLEHOP_TARGET"] = target_spec
    # long-term keys (--no-session) come without these: a previous `use` must not leave its
    # session token beside them (nor a plain profile the last one's target)
    stale = tuple(name for name in (*TEMPORARY, "ROLEHOP_TARGET") if name not in values)
    return Environment(values, UNSET + stale)


# What must go for an SDK to ask a credentials server: every static credential and profile
# choice that botocore's chain would try first.
NOT_WITH_A_SERVER = (
    *UNSET,
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    # an earlier `use`'s target: the shell's auto-refresh would switch back to it
    "ROLEHOP_TARGET",
)


def server_environment(endpoint: Mapping[str, str], resolution: Resolution) -> Environment:
    """The environment of a process fed by ``rolehop``'s credentials server: the endpoint,
    the region and profile name as ``env`` sets them, and no static keys at all."""
    values = dict(endpoint)
    if resolution.region:
        values["AWS_REGION"] = resolution.region
        values["AWS_DEFAULT_REGION"] = resolution.region
    values["ROLEHOP_PROFILE"] = resolution.profile.name
    return Environment(values, unset=NOT_WITH_A_SERVER)


# Shells that read POSIX sh syntax: what ``--shell bash`` prints works in them.
_POSIX_SHELLS = ("", "sh", "bash", "dash", "ash", "ksh", "mksh", "ksh93", "busybox", "yash")


def shell_from_environ(environ: Mapping[str, str]) -> Shell:
    """The syntax for ``$SHELL``; an unknown shell (tcsh, nu...) is an error, not a guess."""
    path = environ.get("SHELL", "")
    name = os.path.basename(path).lower()
    if name.startswith(("pwsh", "powershell")):
        return "powershell"
    if name in ("zsh", "fish"):
        return name
    if name in _POSIX_SHELLS:
        return "bash"
    raise UsageError(
        f"cannot tell which syntax SHELL={path} reads: choose one with --shell {'|'.join(SHELLS)}"
    )


def quote_posix(value: str) -> str:
    """Single quotes take everything literally in sh, bash and zsh, except ``'`` itself."""
    return "'" + value.replace("'", "'\\''") + "'"


def quote_fish(value: str) -> str:
    """In fish single quotes only ``\\`` and ``'`` are special, both escaped by a backslash."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_POWERSHELL_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")


def quote_powershell(value: str) -> str:
    """PowerShell treats the curly single quotes as ``'`` too: each is doubled."""
    for quote in _POWERSHELL_QUOTES:
        value = value.replace(quote, quote * 2)
    return "'" + value + "'"


def render_env(env: Environment, shell: Shell) -> str:
    for name, value in env.exports.items():
        if "\0" in value:
            raise RolehopError(f"the value of {name} holds a NUL byte and cannot be exported")
    lines: list[str] = []
    if shell == "fish":
        # -g: a universal variable (set -U) is the user's own, not this shell's to erase
        lines += [f"set -eg {name};" for name in env.unset]
        lines += [f"set -gx {name} {quote_fish(value)};" for name, value in env.exports.items()]
    elif shell == "powershell":
        lines += [
            f"Remove-Item -Path Env:{name} -ErrorAction SilentlyContinue" for name in env.unset
        ]
        lines += [f"$Env:{name} = {quote_powershell(value)}" for name, value in env.exports.items()]
    else:
        lines.append(f"unset {' '.join(env.unset)}")
        lines += [f"export {name}={quote_posix(value)}" for name, value in env.exports.items()]
    return "\n".join(lines) + "\n"


def credential_process_json(credentials: Credentials) -> str:
    """The AWS ``credential_process`` Version 1 document, nothing else."""
    document = {"Version": 1, **credentials.to_dict()}
    document.pop("Arn", None)  # not part of the format
    return json.dumps(document)
