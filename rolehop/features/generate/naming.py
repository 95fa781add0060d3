"""Names of generated profiles: a template over the account and role, lowercased and made a
valid, shell- and INI-friendly profile name; two accounts that would share a name are an
error that names both, never a silent overwrite."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

from rolehop.errors import UsageError

DEFAULT_TEMPLATE = "{account_name}.{role_name}"
FIELDS = ("account_id", "account_name", "role_name", "ou")
_UNWANTED = re.compile(r"[^a-z0-9._-]+")
_RUNS = re.compile(r"[._-]{2,}")


@dataclass(frozen=True)
class Target:
    """One profile to generate: an account and a role (a permission set, or a role name)."""

    account_id: str
    account_name: str
    role_name: str
    ou: str = ""

    @property
    def label(self) -> str:
        return f"{self.account_name or '?'} ({self.account_id}) / {self.role_name}"


def check_template(template: str) -> str:
    """A template naming known fields only, and at least the account and the role."""
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise UsageError(f"--name {template!r}: {error}") from None
    unknown = sorted(used - set(FIELDS))
    if unknown:
        raise UsageError(
            f"--name {template!r}: unknown field {{{unknown[0]}}} (known: "
            + ", ".join(f"{{{field}}}" for field in FIELDS)
            + ")"
        )
    if not used & {"account_id", "account_name"} or "role_name" not in used:
        raise UsageError(
            f"--name {template!r} must name the account ({{account_id}} or {{account_name}}) "
            "and {role_name}: otherwise profiles of different accounts or roles share names"
        )
    return template


def name_of(template: str, target: Target) -> str:
    """``template`` filled in, lowercased, every run of other characters made one ``-``."""
    filled = template.format(
        account_id=target.account_id,
        account_name=target.account_name or target.account_id,
        role_name=target.role_name,
        ou=target.ou,
    ).lower()
    cleaned = _RUNS.sub(_one, _UNWANTED.sub("-", filled)).strip("._-")
    return cleaned or target.account_id


def _one(run: re.Match[str]) -> str:
    """A run of separators as one: the template's ``.`` if it holds one, else ``-``."""
    return "." if "." in run.group() else ("-" if "-" in run.group() else "_")


def names(template: str, targets: Iterable[Target]) -> dict[str, Target]:
    """Each target's name; two targets with one name raise, naming both."""
    found: dict[str, Target] = {}
    for target in targets:
        name = name_of(template, target)
        other = found.get(name)
        if other is not None:
            raise UsageError(
                f"two profiles would be named {name!r}: {other.label} and {target.label}; "
                "give --name a template that tells them apart, such as "
                "'{account_name}-{account_id}.{role_name}'"
            )
        found[name] = target
    return found


_NOT_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9_.@+=,-]+")


def source_name(kind: str, origin: str) -> str:
    """The name of a source's file (``generated/<it>.toml``) and of its AWS config block:
    ``sso-SESSION`` or ``org-PROFILE``, every run of characters a file or block name cannot
    hold ("/", spaces...) made one "-", at most 128 characters."""
    return _NOT_IN_FILE_NAMES.sub("-", f"{kind}-{origin}")[:128]
