"""``rolehop doctor``: checks of a setup, each with a verdict and, when not healthy, a fix.

Every check returns data (:class:`Check`) and never prints; the parts it looks at (the
environment, the clock, a keyring loader, an HTTP opener) are passed in, so the tests drive
the same code against healthy and broken setups.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Literal, Protocol

from rolehop.config import files as configs
from rolehop.config.files import Config, Settings
from rolehop.engine import chain as chains
from rolehop.errors import ConfigError, RolehopError

Verdict = Literal["ok", "warn", "fail"]
Clock = Callable[[], datetime]

# SigV4 refuses requests signed more than 5 minutes away from AWS's clock; a minute off
# already eats into the refresh margin and makes "time left" lie.
SKEW_WARN = timedelta(minutes=1)
SKEW_FAIL = timedelta(minutes=5)
PROBE_SERVICE = "rolehop-doctor"
NTP_FIX = (
    "sync the clock with NTP: `sudo timedatectl set-ntp true` (Linux), "
    "`sudo sntp -sS time.apple.com` (macOS)"
)


@dataclass(frozen=True)
class Check:
    topic: str
    verdict: Verdict
    summary: str
    fix: str | None = None


class Backend(Protocol):
    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...

    def delete_password(self, service: str, username: str) -> None: ...


Opener = Callable[[urllib.request.Request, float], Mapping[str, str]]


# -- configuration --------------------------------------------------------------------


def load_config(environ: Mapping[str, str], override: str | None) -> tuple[Check, Config | None]:
    path = configs.rolehop_config_path(environ, override)
    try:
        config = configs.load(environ, override)
    except RolehopError as error:
        fix = error.fix if isinstance(error, ConfigError) else None
        return Check(
            "config", "fail", str(error), fix or "correct the file at the line named"
        ), None
    roles = sum(1 for profile in config.profiles.values() if profile.origin == "rolehop")
    if path.exists():
        broken = sum(1 for error in config.broken.values() if error.path == path)
        summary = f"{path}: valid, {roles} profile(s)"
        if broken:  # each one is a failed check of its own below
            summary = f"{path}: {roles} profile(s), and {broken} with errors (below)"
        return Check("config", "ok", summary), config
    if config.profiles:
        summary = f"{path}: not present (optional: the AWS config has role profiles)"
        return Check("config", "ok", summary), config
    fix = f"add a [profiles.NAME] table with role_arn and source_profile to {path}"
    return Check("config", "fail", f"no profiles: {path} is missing", fix), config


def aws_files(config: Config) -> list[Check]:
    found = []
    for label, path in (
        ("AWS config", config.aws_config_path),
        ("AWS credentials", config.aws_credentials_path),
    ):
        state = "present" if path.exists() else "not present"
        found.append(Check("config", "ok", f"{label} {path}: {state}"))
    return found


def profile_errors(
    config: Config, environ: Mapping[str, str], stored: Callable[[], set[str]]
) -> list[Check]:
    """Every profile that cannot be used, with the error a command would give; ``stored``
    names the keys in the keyring (a chain may start there)."""
    problems = [_profile_check(error) for error in config.broken.values()]
    for name in sorted(config.profiles):
        try:
            chains.build(config, name, environ, stored)
        except RolehopError as error:
            problems.append(_profile_check(error))
    if config.profiles and not problems:
        problems.append(Check("profiles", "ok", f"all {len(config.profiles)} profile(s) resolve"))
    # a broken source profile fails every profile built on it with its own error: once
    unique: dict[str, Check] = {}
    for check in problems:
        unique.setdefault(check.summary, check)
    return list(unique.values())


def web_identities(config: Config, environ: Mapping[str, str]) -> list[Check]:
    """Each web identity base, and whether its token can be had (never reading it)."""
    checks = []
    for base in sorted(config.aws_bases.values(), key=lambda base: base.name):
        web = base.web_identity
        if web is None:
            continue
        where = f"{base.path}:{base.line}" if base.line else str(base.path)
        problem = _token_problem(web, environ)
        if problem is not None:
            checks.append(
                Check(
                    "profiles",
                    "warn",
                    f"profile {base.name!r} ({where}): {problem}",
                    "where the token is made (an EKS pod with IRSA, a CI job with OIDC) it "
                    "is there; elsewhere this profile cannot be used",
                )
            )
            continue
        source = (
            f"web identity token in {web.token_file}"
            if web.token_file is not None
            else f"web identity token from {web.token_process}"
        )
        checks.append(
            Check(
                "profiles",
                "ok",
                f"profile {base.name!r}: {source} (AssumeRoleWithWebIdentity {web.role_arn})",
            )
        )
    return checks


def _token_problem(web: configs.WebIdentity, environ: Mapping[str, str]) -> str | None:
    if web.token_process is not None:
        program = shlex.split(web.token_process)[0]
        if "/" not in program and not shutil.which(program, path=environ.get("PATH")):
            return f"web_identity_token_process {web.token_process!r}: command not found"
        return None
    path = web.token_file or ""
    try:
        with open(path, "rb"):  # readable? (the token itself is not read)
            pass
        empty = os.stat(path).st_size == 0
    except OSError as error:
        return f"web_identity_token_file {path}: cannot read: {error.strerror}"
    return f"the web identity token in {path} is empty" if empty else None


def _profile_check(error: RolehopError) -> Check:
    """A profile that cannot be used: its error, and what to change (other profiles are
    unaffected)."""
    fix = error.fix if isinstance(error, ConfigError) else None
    return Check("profiles", "fail", str(error), fix or "correct the line named")


# -- keyring --------------------------------------------------------------------------


def keyring_probe(settings: Settings, load: Callable[[], Backend], hint: str) -> Check:
    """Write, read back and delete a throwaway secret: what the cache will do."""
    if not settings.cache:
        return Check(
            "keyring",
            "warn",
            "caching is off ([settings] cache = false): every call goes to STS",
            "set cache = true in [settings] unless that is what you want",
        )
    try:
        backend = load()
    except RolehopError as error:
        return Check("keyring", "fail", str(error), hint)
    name = f"{type(backend).__module__}.{type(backend).__qualname__}"
    username, value = f"probe-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    fix = (
        "unlock the keyring, or choose another backend ([settings] keyring_backend or "
        "PYTHON_KEYRING_BACKEND)"
    )
    started = time.monotonic()
    step = "write"
    try:
        backend.set_password(PROBE_SERVICE, username, value)
        step = "read"
        read = backend.get_password(PROBE_SERVICE, username)
        step = "delete"
        backend.delete_password(PROBE_SERVICE, username)
        gone = backend.get_password(PROBE_SERVICE, username) is None
    except Exception as error:
        return Check("keyring", "fail", f"{name}: {step} failed: {type(error).__name__}", fix)
    if read != value:
        return Check("keyring", "fail", f"{name}: read back something else than written", fix)
    if not gone:
        return Check("keyring", "fail", f"{name}: a deleted secret is still there", fix)
    elapsed = (time.monotonic() - started) * 1000
    return Check("keyring", "ok", f"{name}: write, read and delete work ({elapsed:.0f} ms)")


# -- shell integration ----------------------------------------------------------------


def _rc_files(shell: str, environ: Mapping[str, str]) -> list[Path]:
    home = Path(environ.get("HOME", "~")).expanduser()
    if shell == "bash":
        return [home / ".bashrc", home / ".bash_profile", home / ".profile"]
    if shell == "zsh":
        return [Path(environ.get("ZDOTDIR") or home) / ".zshrc"]
    if shell == "fish":
        config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        return [config_home / "fish" / "config.fish"]
    return []


def shell_integration(environ: Mapping[str, str]) -> Check:
    active = environ.get("ROLEHOP_SHELL")
    if active:
        return Check("shell", "ok", f"shell integration is active ({active})")
    shell = Path(environ.get("SHELL", "")).name or "bash"
    line = "rolehop init fish | source" if shell == "fish" else f'eval "$(rolehop init {shell})"'
    for rc in _rc_files(shell, environ):
        try:
            text = rc.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "rolehop init" in text:
            return Check(
                "shell",
                "warn",
                f"set up in {rc}, but not active in this shell",
                f"open a new shell, or run: {line}",
            )
    return Check(
        "shell",
        "warn",
        f"no shell integration ({shell}): `rolehop use` and the prompt segment are off",
        f"add this line to your {shell} rc file: {line}",
    )


# -- clock ----------------------------------------------------------------------------


def sts_endpoint(environ: Mapping[str, str], settings: Settings) -> str:
    """Where STS calls go, as botocore picks it for the common cases."""
    for name in ("AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"):
        if environ.get(name):
            return environ[name]
    region = (
        settings.default_region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    )
    if not region:
        return "https://sts.amazonaws.com"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}"


def http_headers(request: urllib.request.Request, timeout: float) -> Mapping[str, str]:
    """The response headers, whatever the status: an unsigned call to STS is refused."""
    try:
        # the scheme is checked by clock_skew: http(s) only
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return dict(response.headers)
    except urllib.error.HTTPError as error:
        return dict(error.headers)


def clock_skew(endpoint: str, clock: Clock, timeout: float, opener: Opener = http_headers) -> Check:
    """Compare the local clock with the ``Date`` header of an (unsigned) STS request."""
    if not endpoint.startswith(("https://", "http://")):
        return Check("clock", "fail", f"STS endpoint {endpoint!r} is not an http(s) URL")
    request = urllib.request.Request(endpoint.rstrip("/") + "/", method="GET")  # noqa: S310
    before = clock()
    try:
        headers = opener(request, timeout)
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return Check(
            "clock",
            "fail",
            f"cannot reach STS at {endpoint} to compare clocks: {reason}",
            "check the network, HTTPS_PROXY, and AWS_ENDPOINT_URL(_STS)",
        )
    after = clock()
    date = next((value for key, value in headers.items() if key.lower() == "date"), None)
    try:
        theirs = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        theirs = None
    if theirs is None or theirs.tzinfo is None:
        return Check("clock", "warn", f"{endpoint} sent no usable Date header; skew unknown")
    ours = before + (after - before) / 2
    skew = ours - theirs
    # the header counts whole seconds: a second either way is no skew
    seconds = abs(skew.total_seconds())
    direction = "ahead of" if skew > timedelta(0) else "behind"
    summary = f"local clock {seconds:.0f} s {direction} STS ({endpoint})"
    if seconds <= 1.5:
        return Check("clock", "ok", f"local clock agrees with STS ({endpoint})")
    if abs(skew) < SKEW_WARN:
        return Check("clock", "ok", summary)
    if abs(skew) < SKEW_FAIL:
        return Check("clock", "warn", summary + ": times left are off by as much", NTP_FIX)
    return Check("clock", "fail", summary + ": AWS refuses requests signed > 5 min off", NTP_FIX)
