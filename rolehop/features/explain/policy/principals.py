"""Principal and NotPrincipal: whether a trust policy statement names the caller."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from rolehop.features.explain.policy.request import Request
from rolehop.features.explain.policy.results import ElementResult
from rolehop.features.explain.policy.strings import string_list
from rolehop.features.explain.policy.tristate import Tristate, any_of

_ACCOUNT_ID = re.compile(r"\d{12}")


def principal_element(
    name: str, raw: Any, request: Request, problems: list[str]
) -> ElementResult | None:
    """Principal or NotPrincipal (``name``) for the caller; None, with a problem, if malformed."""
    entries = _principal_entries(raw)
    if entries is None:
        problems.append(f'{name} must be "*" or an object of principal types and values')
        return None
    patterns = tuple(_show(entry) for entry in entries)
    if name == "NotPrincipal":
        verdict, matched, note = _not_principal(entries, request)
        return ElementResult(name, patterns, _caller(request), verdict, matched, note)
    notes: list[str] = []
    results: list[Tristate] = []
    matched = None
    for entry in entries:
        verdict, note = _principal_matches(entry, request)
        results.append(verdict)
        if note and note not in notes:
            notes.append(note)
        if verdict and matched is None:
            matched = _show(entry)
    return ElementResult(
        name, patterns, _caller(request), any_of(results), matched, "; ".join(notes)
    )


def _principal_entries(raw: Any) -> list[tuple[str, str]] | None:
    """("AWS", "123456789012")... pairs; ("*", "*") for a bare "*"; None if malformed."""
    if raw == "*":
        return [("*", "*")]
    if not isinstance(raw, Mapping) or not raw:
        return None
    entries: list[tuple[str, str]] = []
    for kind, values in raw.items():
        strings = string_list(values)
        if strings is None:
            return None
        entries += [(str(kind), value) for value in strings]
    return entries


def _show(entry: tuple[str, str]) -> str:
    return "*" if entry[0] == "*" else f"{entry[0]} {entry[1]}"


def _caller(request: Request) -> str:
    if request.principal_arn:
        return request.principal_arn
    if request.service_principal:
        return f"service {request.service_principal}"
    if request.federated:
        return f"federated {request.federated}"
    if request.principal_account:
        return f"account {request.principal_account}"
    return "anonymous"


def _principal_matches(entry: tuple[str, str], request: Request) -> tuple[Tristate, str]:
    kind, value = entry
    if kind == "*":
        return True, ""
    if kind == "AWS":
        return _aws_principal_matches(value, request)
    if kind == "Service":
        service = request.service_principal
        return service is not None and service.casefold() == value.casefold(), ""
    if kind == "Federated":
        return request.federated == value, ""
    return None, f"principal type {kind!r} is not supported"


def _aws_principal_matches(value: str, request: Request) -> tuple[Tristate, str]:
    """An "AWS" principal: the whole account, a role (and its sessions), or one exact ARN.

    Wildcards cannot match part of a principal ARN (principal page), so only "*" is one.
    """
    not_aws = request.service_principal is not None or request.federated is not None
    if value == "*":
        if not_aws and request.principal_arn is None:
            return False, 'AWS "*" names AWS principals, not a service or a federated caller'
        return True, ""
    account = _caller_account(request)
    if _ACCOUNT_ID.fullmatch(value):
        # the account, not only its root user: any principal of that account
        return account == value, ""
    arn = _arn(value)
    if arn is None:
        return False, f"{value!r} is neither an account ID nor an ARN (a deleted principal?)"
    partition, service, _, owner, resource = arn
    if service == "iam" and resource == "root":
        return account == owner, ""
    caller = request.principal_arn
    if caller is None:
        return False, ""
    if caller == value:
        return True, ""
    if service == "iam" and resource.startswith("role/"):
        # a role principal also matches the sessions of that role; a session ARN names
        # the role without its path: arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION
        session = f"arn:{partition}:sts::{owner}:assumed-role/{resource.rsplit('/', 1)[-1]}/"
        if caller.startswith(session) and len(caller) > len(session):
            return True, "a session of this role"
    return False, ""


def _not_principal(
    entries: list[tuple[str, str]], request: Request
) -> tuple[Tristate, str | None, str]:
    """NotPrincipal: whether the statement still applies to the caller.

    IAM may check the caller's account first, then its role, then the session (NotPrincipal
    page), so the caller escapes the statement only when every one of those is named: a
    session needs its session ARN, its role and its account; a user its ARN and account.
    """
    for entry in entries:
        if entry[0] == "*" or (entry == ("AWS", "*") and _aws_principal_matches("*", request)[0]):
            return False, _show(entry), ""
    unknown = [kind for kind, _ in entries if kind not in ("*", "AWS", "Service", "Federated")]
    links = _identity_links(request)
    named = [next((_show(entry) for entry in entries if test(entry)), None) for _, test in links]
    if links and all(named):
        return False, named[0], ""
    if unknown:
        return None, None, f"principal type {unknown[0]!r} is not supported"
    if any(named):
        missing = ", ".join(
            label for (label, _), found in zip(links, named, strict=True) if not found
        )
        note = f"does not name {missing}: IAM may check that first, so the statement applies"
        return True, None, note
    return True, None, ""


_Link = tuple[str, Callable[[tuple[str, str]], bool]]


def _identity_links(request: Request) -> list[_Link]:
    """The identities IAM may check for this caller, each with a test for naming it."""
    if request.service_principal:
        service = request.service_principal.casefold()
        return [("the service", lambda e: e[0] == "Service" and e[1].casefold() == service)]
    if request.federated:
        provider = request.federated
        return [("the provider", lambda e: e[0] == "Federated" and e[1] == provider)]
    links: list[_Link] = []
    caller = request.principal_arn
    arn = _arn(caller or "")
    if caller and arn and arn[4] != "root":
        links.append((f"the caller {caller}", lambda e: e == ("AWS", caller)))
        partition, service, _, owner, resource = arn
        if service == "sts" and resource.startswith("assumed-role/"):
            role = resource.split("/")[1]
            links.append((f"its role {role}", lambda e: _names_role(e, partition, owner, role)))
    account = _caller_account(request)
    if account:
        root = f":iam::{account}:root"
        links.append(
            (
                f"its account {account}",
                lambda e: e[0] == "AWS" and (e[1] == account or e[1].endswith(root)),
            )
        )
    return links


def _names_role(entry: tuple[str, str], partition: str, account: str, role: str) -> bool:
    arn = _arn(entry[1]) if entry[0] == "AWS" else None
    return (
        arn is not None
        and arn[:2] == (partition, "iam")
        and arn[3] == account
        and arn[4].startswith("role/")
        and arn[4].rsplit("/", 1)[-1] == role
    )


def _caller_account(request: Request) -> str | None:
    if request.principal_account:
        return request.principal_account
    arn = _arn(request.principal_arn or "")
    return arn[3] if arn else None


def _arn(text: str) -> tuple[str, str, str, str, str] | None:
    """(partition, service, region, account, resource) of an ARN, or None."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[1], parts[2], parts[3], parts[4], parts[5]
