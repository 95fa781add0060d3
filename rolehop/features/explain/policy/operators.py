"""Condition operators: the comparison behind each operator's name, and reading those names."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from operator import eq, ge, gt, le, lt
from typing import Any

from rolehop.features.explain.policy.results import quote
from rolehop.features.explain.policy.strings import Scope, arn_like, glob, to_text
from rolehop.features.explain.policy.tristate import Tristate

Compare = Callable[[str, str, Scope], Tristate]  # (policy value, request value, scope)


def _string_equals(expected: str, actual: str, scope: Scope) -> Tristate:
    resolved = scope.resolve(expected, wildcards=False)
    return resolved is not None and to_text(resolved) == actual


def _string_equals_ignore_case(expected: str, actual: str, scope: Scope) -> Tristate:
    resolved = scope.resolve(expected, wildcards=False)
    return resolved is not None and to_text(resolved).casefold() == actual.casefold()


def _string_like(expected: str, actual: str, scope: Scope) -> Tristate:
    resolved = scope.resolve(expected, wildcards=True)
    return resolved is not None and glob(resolved).fullmatch(actual) is not None


def _arn_matches(expected: str, actual: str, scope: Scope) -> Tristate:
    # ArnEquals and ArnLike behave the same: wildcards in each of the six parts
    resolved = scope.resolve(expected, wildcards=True)
    return resolved is not None and arn_like(resolved, actual)


def _bool(expected: str, actual: str, scope: Scope) -> Tristate:
    resolved = scope.resolve(expected, wildcards=False)
    if resolved is None:
        return False
    wanted = to_text(resolved).lower()
    if wanted not in ("true", "false"):
        scope.note(f"Bool takes true or false, not {quote(wanted)}")
        return None
    return actual.lower() == wanted


def _binary(expected: str, actual: str, scope: Scope) -> Tristate:
    try:
        wanted = base64.b64decode(expected, validate=True)
        got = base64.b64decode(actual, validate=True)
    except (binascii.Error, ValueError):
        scope.note("BinaryEquals compares base64 values")
        return None
    return wanted == got


def _ip(expected: str, actual: str, scope: Scope) -> Tristate:
    try:
        network = ipaddress.ip_network(expected.strip(), strict=False)  # no prefix: /32, /128
    except ValueError:
        scope.note(f"{quote(expected)} is not an IP address or CIDR range")
        return None
    try:
        address = ipaddress.ip_address(actual.strip())
    except ValueError:
        scope.note(f"the request's {quote(actual)} is not an IP address")
        return None
    return address.version == network.version and address in network


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


_YEAR = re.compile(r"\d{4}")
_YEAR_MONTH = re.compile(r"(\d{4})-(\d{2})")
_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")


def _date(text: str) -> datetime | None:
    """A W3C ISO 8601 date (YYYY, YYYY-MM, YYYY-MM-DD, with a time...) or epoch seconds.

    Four digits alone are a year, not a second in 1970. No time zone means UTC.
    """
    text = text.strip()
    try:
        if _YEAR.fullmatch(text):
            return datetime(int(text), 1, 1, tzinfo=UTC)
        if _EPOCH.fullmatch(text):
            return datetime.fromtimestamp(float(text), UTC)
        year_month = _YEAR_MONTH.fullmatch(text)
        if year_month:
            return datetime(int(year_month[1]), int(year_month[2]), 1, tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _ordered(parse: Callable[[str], Any], what: str, order: Callable[[Any, Any], bool]) -> Compare:
    """Numeric and Date operators: the request's value ``order`` the policy's."""

    def compare(expected: str, actual: str, scope: Scope) -> Tristate:
        wanted, got = parse(expected), parse(actual)
        if wanted is None:
            scope.note(f"{quote(expected)} is not {what}")
            return None
        if got is None:
            scope.note(f"the request's {quote(actual)} is not {what}")
            return None
        return bool(order(got, wanted))

    return compare


@dataclass(frozen=True)
class Operator:
    """A base operator: its comparison, and whether it holds when that one does not."""

    compare: Compare
    negated: bool = False


def _operators() -> dict[str, Operator]:
    table = {
        "StringEquals": Operator(_string_equals),
        "StringNotEquals": Operator(_string_equals, negated=True),
        "StringEqualsIgnoreCase": Operator(_string_equals_ignore_case),
        "StringNotEqualsIgnoreCase": Operator(_string_equals_ignore_case, negated=True),
        "StringLike": Operator(_string_like),
        "StringNotLike": Operator(_string_like, negated=True),
        "ArnEquals": Operator(_arn_matches),
        "ArnLike": Operator(_arn_matches),
        "ArnNotEquals": Operator(_arn_matches, negated=True),
        "ArnNotLike": Operator(_arn_matches, negated=True),
        "Bool": Operator(_bool),
        "BinaryEquals": Operator(_binary),
        "IpAddress": Operator(_ip),
        "NotIpAddress": Operator(_ip, negated=True),
    }
    orders = {
        "Equals": eq,
        "NotEquals": eq,
        "LessThan": lt,
        "LessThanEquals": le,
        "GreaterThan": gt,
        "GreaterThanEquals": ge,
    }
    for suffix, order in orders.items():
        negated = suffix == "NotEquals"
        table[f"Numeric{suffix}"] = Operator(_ordered(_number, "a number", order), negated)
        table[f"Date{suffix}"] = Operator(_ordered(_date, "a date", order), negated)
    return table


OPERATORS = _operators()
_QUALIFIERS = ("ForAnyValue", "ForAllValues")


def parse_operator(name: str) -> tuple[str | None, str, bool] | None:
    """(set qualifier, base operator, IfExists) of an operator name, or None if unknown."""
    qualifier: str | None
    qualifier, colon, base = name.partition(":")
    if not colon:
        qualifier, base = None, name
    elif qualifier not in _QUALIFIERS:
        return None
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base in OPERATORS or (base == "Null" and not if_exists and qualifier is None):
        return qualifier, base, if_exists
    return None
