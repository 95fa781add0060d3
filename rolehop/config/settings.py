"""The [settings] table of rolehop's TOML, and the rules of its federation URL."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rolehop.config import validate
from rolehop.config.model import Settings
from rolehop.errors import ConfigError


def _loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# AWS's console sign-in hosts by partition (the AWS Sign-In endpoints of the AWS General
# Reference; the aws partition also has one a region, REGION.signin.aws.amazon.com): login
# sends the credentials there, and to any other host only with allow_custom_federation_url.
SIGNIN_HOSTS = {
    "signin.aws.amazon.com": "aws",
    "signin.amazonaws-us-gov.com": "aws-us-gov",
    "signin.amazonaws.cn": "aws-cn",
}
_REGIONAL_SIGNIN = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}\.signin\.aws\.amazon\.com")


def signin_partition(url: str) -> str | None:
    """The partition whose console sign-in ``url`` is (https, on the default port), else
    None. Hosts are compared whole: ``signin.aws.amazon.com.evil.example`` is not one."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or port not in (None, 443) or "@" in parts.netloc:
        return None
    host = parts.hostname or ""
    if host in SIGNIN_HOSTS:
        return SIGNIN_HOSTS[host]
    return "aws" if _REGIONAL_SIGNIN.fullmatch(host) else None


def local_stand_in(url: str) -> bool:
    """Plain http to a loopback host: a stand-in for the federation endpoint (tests)."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "http" and _loopback(parts.hostname or "")


def _federation_url(value: Any) -> str:
    """An https URL, or plain http to a loopback host (a local stand-in) only: ``login``
    sends the credentials themselves there."""
    text = validate.string(value).strip()
    if not text.isprintable() or " " in text:  # urlsplit would drop tabs and newlines
        raise ValueError(f"{text!r} has spaces or control characters: not a URL")
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - a port that is not a number raises ValueError here
    except ValueError as error:
        raise ValueError(f"{text!r} is not a URL ({error})") from None
    if "@" in parts.netloc:
        raise ValueError("must not hold a user name or password")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(
            f"{text!r} is not an https URL such as https://signin.aws.amazon.com/federation"
        )
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError(
            f"{text!r}: plain http only to a loopback host (127.0.0.1, ::1, localhost); "
            "the credentials are sent there"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"{text!r} must have no query or fragment: rolehop adds its own query")
    return text


SETTINGS_KEYS: dict[str, Callable[[Any], Any]] = {
    "refresh_margin": validate.refresh_margin,
    "default_region": validate.region,
    "keyring_backend": validate.string,
    "cache": validate.boolean,
    "lock_timeout": lambda value: validate.seconds(value, 1, 3600),
    "sts_max_attempts": validate.attempts,
    "sts_connect_timeout": lambda value: validate.seconds(value, 0.1, 60),
    "sts_read_timeout": lambda value: validate.seconds(value, 0.1, 300),
    "agent": validate.boolean,
    "agent_idle_timeout": lambda value: validate.seconds(value, 1, 7 * 24 * 3600),
    "federation_url": _federation_url,
    "allow_custom_federation_url": validate.boolean,
    "sso_auto_login": validate.boolean,
    "sso_export_token": validate.boolean,
}


def from_table(table: Any, path: Path, lines: dict[tuple[str, ...], int]) -> Settings:
    """The [settings] table of the TOML file at ``path``, validated; ``lines`` are the
    file's, as :func:`rolehop.config.toml_file.find_lines` finds them."""
    if not isinstance(table, dict):
        raise ConfigError("'settings' must be a table", path=path, line=lines.get(("settings",)))
    values: dict[str, Any] = {}
    for key, value in table.items():
        line = lines.get(("settings", key))
        checker = SETTINGS_KEYS.get(key)
        if checker is None:
            raise ConfigError(
                f"unknown setting (known: {', '.join(SETTINGS_KEYS)})",
                path=path,
                line=line,
                key=f"settings.{key}",
            )
        try:
            values[key] = checker(value)
        except ValueError as error:
            raise ConfigError(str(error), path=path, line=line, key=f"settings.{key}") from None
    where = {key: lines[("settings", key)] for key in values if ("settings", key) in lines}
    url = values.get("federation_url")
    if url is not None and not values.get("allow_custom_federation_url", False):
        _aws_federation_url(url, path, where.get("federation_url"))
    return Settings(**values, lines=where)


def _aws_federation_url(url: str, path: Path, line: int | None) -> None:
    """Without allow_custom_federation_url, login sends credentials to AWS (or a local
    stand-in) only."""
    if signin_partition(url) is None and not local_stand_in(url):
        raise ConfigError(
            f"{url!r} is not AWS's console sign-in (https://signin.aws.amazon.com/federation, "
            "https://REGION.signin.aws.amazon.com/federation, signin.amazonaws-us-gov.com, "
            "signin.amazonaws.cn) nor plain http to a loopback host: login sends the "
            "credentials there; set allow_custom_federation_url = true if that is meant",
            path=path,
            line=line,
            key="settings.federation_url",
        )
