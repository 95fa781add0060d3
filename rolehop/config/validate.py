"""Value rules that STS itself enforces, checked before any call is made.

Each checker returns the normalised value or raises ``ValueError`` with a message that
completes the sentence "profile 'x', key 'y': ...".
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

# Any name the AWS CLI takes ([profile team/dev], [profile "my base"]...), but empty or with
# control characters (C0, DEL, C1: no terminal shows them as they are, and an environment
# variable cannot hold NUL)
PROFILE_NAME = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")
ROLE_ARN = re.compile(
    r"arn:aws[a-z-]*:iam::\d{12}:role/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}", re.ASCII
)
POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::(?:\d{12}|aws):policy/[\x21-\x7e]{1,2048}", re.ASCII)
SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
SOURCE_IDENTITY = SESSION_NAME
EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)
REGION = re.compile(r"[a-z]{2,}(?:-[a-z0-9]+)+")
# STS: letters, digits, spaces and _.:/=+-@ (no tabs or newlines, which \s would allow)
TAG_KEY = re.compile(r"[\w .:/=+@-]{1,128}")
TAG_VALUE = re.compile(r"[\w .:/=+@-]{0,256}")
MFA_SERIAL = re.compile(r"[\w+=/:,.@-]{9,256}", re.ASCII)
CREDENTIAL_SOURCES = ("Environment", "Ec2InstanceMetadata", "EcsContainer")
ACCOUNT_ID = re.compile(r"\d{12}", re.ASCII)
# a permission set's name (IAM Identity Center: 1-32 of these; its role name may be longer)
SSO_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
SSO_SCOPE = re.compile(r"[\w:./-]{1,256}", re.ASCII)

MIN_DURATION, MAX_DURATION, CHAINED_MAX_DURATION = 900, 43200, 3600
MAX_SESSION_DURATION, DEFAULT_SESSION_DURATION = 129600, 43200
MAX_POLICY_ARNS, MAX_SESSION_TAGS = 10, 50

# What each profile key takes, as the fix of an error about its value says it.
RULES = {
    "role_arn": "an IAM role ARN: arn:aws:iam::<12 digits>:role/[path/]NAME",
    "source_profile": "the name of another profile (of rolehop's TOML or the AWS files)",
    "external_id": "2-1224 characters of A-Za-z0-9_+=,.@:/-",
    "role_session_name": "2-64 characters of A-Za-z0-9_+=,.@-",
    "duration_seconds": f"a whole number of seconds from {MIN_DURATION} to {MAX_DURATION}",
    "region": "an AWS region name such as eu-west-1",
    "source_identity": "2-64 characters of A-Za-z0-9_+=,.@-",
    "session_tags": f'a table of at most {MAX_SESSION_TAGS} tag = "value" (letters, digits, '
    "spaces and _.:/=+-@; keys of 1-128 characters not starting with aws:, values of 0-256)",
    "policy_arns": f"a list of at most {MAX_POLICY_ARNS} IAM policy ARNs such as "
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "mfa_serial": "an MFA device ARN (arn:aws:iam::<12 digits>:mfa/NAME) or serial number",
    "mfa_process": "a command line that prints the MFA code (split like a shell would, run "
    "without one)",
    "credential_source": f"one of {', '.join(CREDENTIAL_SOURCES)}",
    "session_duration": f"a whole number of seconds from {MIN_DURATION} to {MAX_SESSION_DURATION}",
    "sso_session": "the name of an [sso.NAME] table of rolehop's TOML or an "
    "[sso-session NAME] section of the AWS config",
    "sso_account_id": 'the 12-digit AWS account id, as a string ("012345678901")',
    "sso_role_name": "the permission set's name (1-64 characters of A-Za-z0-9_+=,.@-)",
    "sso_start_url": "the AWS access portal URL, https://<name>.awsapps.com/start",
    "sso_region": "the AWS region of IAM Identity Center, such as eu-west-1",
    "sso_registration_scopes": "OAuth scopes, such as sso:account:access (a list, or "
    "comma-separated)",
}
# botocore re-runs a credential_process once fewer than 15 minutes remain.
ADVISORY_REFRESH = timedelta(minutes=15)


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {type(value).__name__}")
    return value


def _matching(pattern: re.Pattern[str], what: str, value: Any) -> str:
    text = string(value)
    if not pattern.fullmatch(text):
        raise ValueError(f"{text!r} is not {what}")
    return text


NAME_RULE = "any text without control characters, as in the AWS CLI"


def profile_name(value: Any) -> str:
    return _matching(PROFILE_NAME, f"a valid profile name ({NAME_RULE})", value)


def role_arn(value: Any) -> str:
    return _matching(ROLE_ARN, "an IAM role ARN (arn:aws:iam::123456789012:role/NAME)", value)


def session_name(value: Any) -> str:
    return _matching(SESSION_NAME, "a session name (2-64 characters of A-Za-z0-9_+=,.@-)", value)


def source_identity(value: Any) -> str:
    return _matching(
        SOURCE_IDENTITY, "a source identity (2-64 characters of A-Za-z0-9_+=,.@-)", value
    )


def external_id(value: Any) -> str:
    return _matching(EXTERNAL_ID, "an external id (2-1224 characters of A-Za-z0-9_+=,.@:/-)", value)


def region(value: Any) -> str:
    return _matching(REGION, "an AWS region name such as eu-west-1", value)


def mfa_serial(value: Any) -> str:
    return _matching(MFA_SERIAL, "an MFA device serial number or ARN", value)


def account_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f"{value} must be a string of 12 digits (quote it: an account id may start with 0)"
        )
    return _matching(ACCOUNT_ID, "a 12-digit AWS account id", value)


def sso_role_name(value: Any) -> str:
    return _matching(SSO_ROLE_NAME, "a permission set name (A-Za-z0-9_+=,.@-)", value)


def start_url(value: Any) -> str:
    """The AWS access portal URL: https, a host, no spaces or credentials."""
    import urllib.parse

    text = string(value).strip()
    parts = urllib.parse.urlsplit(text) if text.isprintable() and " " not in text else None
    if parts is None or parts.scheme != "https" or not parts.netloc or "@" in parts.netloc:
        raise ValueError(f"{text!r} is not an https URL such as https://my-org.awsapps.com/start")
    return text


def scopes(value: Any) -> tuple[str, ...]:
    """OAuth scopes: a list (TOML), or comma-separated as the AWS config spells a list."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise ValueError("must be a list of scopes such as sso:account:access")
    return tuple(
        _matching(SSO_SCOPE, "an OAuth scope such as sso:account:access", item) for item in value
    )


def credential_source(value: Any) -> str:
    text = string(value)
    if text not in CREDENTIAL_SOURCES:
        raise ValueError(f"{text!r} is not one of {', '.join(CREDENTIAL_SOURCES)}")
    return text


def session_duration(value: Any) -> int:
    """GetSessionToken's DurationSeconds: 15 minutes to 36 hours for an IAM user."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number of seconds")
    if not MIN_DURATION <= value <= MAX_SESSION_DURATION:
        raise ValueError(
            f"{value} is outside {MIN_DURATION}-{MAX_SESSION_DURATION} seconds (STS limits)"
        )
    return value


def mfa_process(value: Any) -> str:
    """A command line, split like a shell would (but never run by one)."""
    text = string(value)
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise ValueError(f"{text!r} is not a command line: {error}") from None
    if not words:
        raise ValueError("must name a command")
    return text


def duration_seconds(value: Any) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number of seconds")
    if not MIN_DURATION <= value <= MAX_DURATION:
        raise ValueError(f"{value} is outside {MIN_DURATION}-{MAX_DURATION} seconds (STS limits)")
    return value


def policy_arns(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):  # the AWS config file spells a list as commas
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise ValueError("must be a list of IAM policy ARNs")
    if len(value) > MAX_POLICY_ARNS:
        raise ValueError(f"at most {MAX_POLICY_ARNS} policy ARNs are allowed by STS")
    return tuple(_matching(POLICY_ARN, "an IAM policy ARN", item) for item in value)


def session_tags(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ValueError('must be a table of tag = "value"')
    if len(value) > MAX_SESSION_TAGS:
        raise ValueError(f"at most {MAX_SESSION_TAGS} session tags are allowed by STS")
    tags = []
    seen: set[str] = set()
    for key, tag_value in value.items():
        _matching(TAG_KEY, "a session tag key (1-128 characters)", key)
        _matching(TAG_VALUE, f"a value for session tag {key!r} (0-256 characters)", tag_value)
        if key.lower().startswith("aws:"):
            raise ValueError(f"session tag {key!r}: the aws: prefix is reserved by AWS")
        if key.lower() in seen:
            raise ValueError(f"session tag {key!r} repeats another key (STS ignores case)")
        seen.add(key.lower())
        tags.append((key, tag_value))
    return tuple(sorted(tags))


_LONGEST = 86400
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def duration(value: Any) -> timedelta:
    """Seconds as an integer, or a string such as ``"20m"``, ``"1h30m"``, ``"90s"``."""
    if isinstance(value, bool):
        raise ValueError("must be seconds or a duration such as '20m'")
    if isinstance(value, int):
        seconds = value
    else:
        text = string(value).strip().lower()
        match = _DURATION.fullmatch(text) if text.isascii() else None
        if not text or match is None:
            raise ValueError(f"{value!r} is not a duration such as '20m', '1h30m' or 1200")
        hours, minutes, secs = (int(part) if part else 0 for part in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if not 0 <= seconds <= _LONGEST:
        raise ValueError(f"{value!r} is not a duration between 0 and 1 day")
    return timedelta(seconds=seconds)


def refresh_margin(value: Any) -> timedelta:
    margin = duration(value)
    if margin <= ADVISORY_REFRESH:
        raise ValueError(
            f"{margin} must be above 15 minutes: the AWS CLI and SDKs re-run a "
            "credential_process whenever less than 15 minutes remain, so a smaller margin "
            "would hand them credentials they refresh at once, in a loop"
        )
    if margin >= timedelta(seconds=MAX_DURATION):
        raise ValueError(f"{margin} is longer than any STS session can last")
    return margin


def seconds(value: Any, low: float, high: float) -> float:
    """A number of seconds within [low, high]: an int, a float, or a duration string."""
    if isinstance(value, float) and not isinstance(value, bool):
        amount = value
    else:
        amount = duration(value).total_seconds()
    if not low <= amount <= high:
        raise ValueError(f"{value!r} is outside {low:g}-{high:g} seconds")
    return amount


def attempts(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:
        raise ValueError("must be a whole number from 1 to 10")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value
