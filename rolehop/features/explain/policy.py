"""A small IAM policy evaluator for ``rolehop explain``: one document, one request, and why.

``evaluate`` says whether one policy document allows, explicitly denies or does not match a
request, statement by statement and element by element, so that ``explain`` can tell which
side blocks an AssumeRole: the role's trust policy or the caller's identity policies.

Pure: no I/O, no AWS, standard library only. Out of its scope: SCPs, permission boundaries,
session policies, and the request context itself, which the caller builds (a key missing
from ``Request.context`` is a key absent from the request).

What it cannot judge (an unknown operator or element, a malformed value) is never taken for
a match nor for a non-match: the condition's verdict is ``None``, the statement "cannot be
evaluated", and a decision that depends on that statement is ``cannot-evaluate``. A
statement that fails on some other element still plainly does not apply.

The rules follow the IAM User Guide; the page for each rule is named where it is applied:

- operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
- several keys or values: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
- variables: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
- principals: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
- NotPrincipal: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
- Resource: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
- evaluation: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
- ForAnyValue with IfExists: https://repost.aws/questions/QU9HFmDzP0QGuU-fd7rS6B7w
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from operator import eq, ge, gt, le, lt
from typing import Any, Literal, TypeAlias

Verdict: TypeAlias = Literal["allow", "deny", "no-match", "cannot-evaluate"]
Kind: TypeAlias = Literal["identity", "trust"]
ContextValue: TypeAlias = str | list[str] | None
Tristate: TypeAlias = bool | None  # None: cannot be evaluated

_DOCUMENT_ELEMENTS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_ELEMENTS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_VERSIONS = ("2012-10-17", "2008-10-17")
# Variables exist only in this version of the policy language; under "2008-10-17" or with
# no Version, ${aws:username} is the literal text "${aws:username}" (variables page, "Note").
_VARIABLES_VERSION = "2012-10-17"
_ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass(frozen=True)
class Request:
    """What is asked: an action on a resource, by a caller, with condition keys.

    ``principal_arn`` is the caller: a user, an assumed-role session, a role or a root ARN;
    ``service_principal`` ("ec2.amazonaws.com") or ``federated`` (an identity provider) name
    a caller that is not an AWS principal. ``context`` maps condition keys to their values;
    a key that is missing, or maps to ``None``, is absent from the request.
    """

    action: str
    resource: str
    principal_arn: str | None
    principal_account: str | None
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    service_principal: str | None = None
    federated: str | None = None


# ---------------------------------------------------------------------------------------
# results


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _quote_all(values: Iterable[str]) -> str:
    return "[" + ", ".join(_quote(value) for value in values) + "]"


def _yes_no(verdict: Tristate) -> str:
    return "cannot evaluate" if verdict is None else ("yes" if verdict else "no")


@dataclass(frozen=True)
class ElementResult:
    """Principal/NotPrincipal, Action/NotAction or Resource/NotResource against the request.

    ``verdict`` says whether the element lets the statement apply: for a Not* element, True
    when the request matches none of ``patterns``. ``matched`` is the pattern the request
    matched (for a Not* element, the one that excluded it).
    """

    element: str
    patterns: tuple[str, ...]
    actual: str
    verdict: Tristate
    matched: str | None = None
    note: str = ""

    def describe(self) -> str:
        wanted = "none of " if self.element.startswith("Not") else ""
        line = (
            f"{self.element}: expected {wanted}{_quote_all(self.patterns)}, "
            f"got {_quote(self.actual)} -> {_yes_no(self.verdict)}"
        )
        details = [f"matches {_quote(self.matched)}"] if self.matched is not None else []
        details += [self.note] if self.note else []
        return line + (f" ({'; '.join(details)})" if details else "")


@dataclass(frozen=True)
class ConditionResult:
    """One condition key under one operator; ``actual`` is None when the key is absent."""

    operator: str
    key: str
    expected: tuple[str, ...]
    actual: str | tuple[str, ...] | None
    verdict: Tristate
    note: str = ""

    def describe(self) -> str:
        if self.actual is None:
            got = "(absent)"
        elif isinstance(self.actual, str):
            got = _quote(self.actual)
        else:
            got = _quote_all(self.actual)
        line = (
            f"{self.operator} {self.key}: expected {_quote_all(self.expected)}, "
            f"got {got} -> {_yes_no(self.verdict)}"
        )
        return line + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class StatementResult:
    """One statement: whether it applies to the request (``None``: cannot be evaluated).

    ``number`` is its 1-based place in the Statement list. ``problems`` are what makes the
    statement itself unusable (an unknown element, an Effect that is neither Allow nor Deny,
    a Principal in an identity policy...): such a statement never applies for certain.
    """

    number: int
    sid: str | None
    effect: str
    applies: Tristate
    principal: ElementResult | None = None
    action: ElementResult | None = None
    resource: ElementResult | None = None
    conditions: tuple[ConditionResult, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"statement {_quote(self.sid)}" if self.sid else f"statement #{self.number}"

    @property
    def elements(self) -> tuple[ElementResult, ...]:
        found = (self.principal, self.action, self.resource)
        return tuple(element for element in found if element is not None)

    def details(self) -> tuple[str, ...]:
        """One line per problem, element and condition, for a full rendering."""
        return (
            *self.problems,
            *(element.describe() for element in self.elements),
            *(condition.describe() for condition in self.conditions),
        )

    def describe(self) -> str:
        head = f"{self.label} ({self.effect})"
        if self.applies:
            met = f" ({len(self.conditions)} condition(s) met)" if self.conditions else ""
            return f"{head}: applies{met}"
        if self.problems:
            return f"{head}: cannot evaluate: {self.problems[0]}"
        parts: Sequence[ElementResult | ConditionResult] = (*self.elements, *self.conditions)
        reason = next((part for part in parts if part.verdict is self.applies), None)
        what = "does not apply" if self.applies is False else "cannot evaluate"
        return f"{head}: {what}" + (f": {reason.describe()}" if reason is not None else "")


@dataclass(frozen=True)
class Decision:
    """The verdict of one policy document on one request, with every statement's result.

    ``deny``: a Deny statement applies (it wins over everything). ``allow``: an Allow
    statement applies and no Deny does or might. ``no-match``: nothing allows (an implicit
    deny). ``cannot-evaluate``: the verdict hangs on a statement that cannot be evaluated,
    or the document itself is unusable (``problems``).
    """

    verdict: Verdict
    kind: Kind
    statements: tuple[StatementResult, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def deciding(self) -> tuple[StatementResult, ...]:
        """The statements the verdict rests on."""
        if self.verdict == "deny":
            return tuple(s for s in self.statements if s.effect == "Deny" and s.applies)
        if self.verdict == "allow":
            return tuple(s for s in self.statements if s.effect == "Allow" and s.applies)
        if self.verdict == "cannot-evaluate":
            return tuple(s for s in self.statements if s.applies is None)
        return ()

    def describe(self) -> str:
        labels = ", ".join(statement.label for statement in self.deciding)
        if self.verdict == "deny":
            return f"deny: explicitly denied by {labels}"
        if self.verdict == "allow":
            return f"allow: allowed by {labels}"
        if self.verdict == "no-match":
            return f"no-match: no statement of this {self.kind} policy allows it (implicit deny)"
        if self.problems:
            return f"cannot-evaluate: {self.problems[0]}"
        return f"cannot-evaluate: the verdict depends on {labels}, which cannot be evaluated"


# ---------------------------------------------------------------------------------------
# evaluation


def evaluate(document: Mapping[str, Any] | str, request: Request, *, kind: Kind) -> Decision:
    """Evaluate ``document`` (a parsed policy, or its JSON text) for ``request``.

    ``kind="trust"``: a role's trust policy; every statement must name its principals
    (Principal or NotPrincipal) and needs no Resource. ``kind="identity"``: a policy of the
    caller; statements must not name principals and must have Resource or NotResource.
    Never raises for a bad document: that is a ``cannot-evaluate`` decision with ``problems``.
    """
    if kind not in ("identity", "trust"):
        raise ValueError(f"kind must be 'identity' or 'trust', not {kind!r}")
    loaded = _load(document)
    if isinstance(loaded, str):
        return Decision("cannot-evaluate", kind, problems=(loaded,))
    problems = [
        f"unsupported policy element {key!r}" for key in loaded if key not in _DOCUMENT_ELEMENTS
    ]
    version = loaded.get("Version")
    if version is not None and version not in _VERSIONS:
        problems.append(f"unknown policy language Version {version!r}")
    raw = loaded.get("Statement")
    if isinstance(raw, Mapping):
        raw = [raw]
    elif not isinstance(raw, list):
        problems.append("the policy has no Statement list or object")
        raw = []
    context = _Context(request.context)
    variables = version == _VARIABLES_VERSION
    statements = tuple(
        _statement(number, item, request, context, variables, kind)
        for number, item in enumerate(raw, start=1)
    )
    verdict: Verdict = "cannot-evaluate" if problems else _combine(statements)
    return Decision(verdict, kind, statements, tuple(problems))


def _load(document: Mapping[str, Any] | str) -> Mapping[str, Any] | str:
    """The document as a mapping, or why it is not one."""
    loaded: Any = document
    if isinstance(document, str):
        try:
            loaded = json.loads(document)
        except ValueError as error:
            return f"the policy is not JSON: {error}"
    if not isinstance(loaded, Mapping):
        return "a policy document must be a JSON object"
    return loaded


def _combine(statements: Sequence[StatementResult]) -> Verdict:
    """Explicit Deny, else Allow, else implicit deny; an unknown that could change it wins.

    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
    """
    if any(s.effect == "Deny" and s.applies for s in statements):
        return "deny"
    # a statement without a valid Effect is a problem statement: it counts both ways
    deny_unknown = any(s.applies is None and s.effect != "Allow" for s in statements)
    allow_unknown = any(s.applies is None and s.effect != "Deny" for s in statements)
    if any(s.effect == "Allow" and s.applies for s in statements):
        return "cannot-evaluate" if deny_unknown else "allow"
    return "cannot-evaluate" if allow_unknown else "no-match"


def _statement(
    number: int, raw: Any, request: Request, context: _Context, variables: bool, kind: Kind
) -> StatementResult:
    if not isinstance(raw, Mapping):
        return StatementResult(number, None, "?", None, problems=("a statement must be an object",))
    problems = [f"unsupported element {key!r}" for key in raw if key not in _STATEMENT_ELEMENTS]
    sid = None if raw.get("Sid") is None else str(raw["Sid"])
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        problems.append(f'Effect must be "Allow" or "Deny", not {json.dumps(effect)}')

    principal = None
    must = "a trust policy statement must have Principal or NotPrincipal"
    named = _one_of(raw, "Principal", "NotPrincipal", problems, must if kind == "trust" else "")
    if named is not None and kind == "identity":
        problems.append(f"an identity policy cannot have {named[0]}")
    elif named is not None:
        principal = _principal_element(named[0], named[1], request, problems)

    action = None
    acted = _one_of(
        raw, "Action", "NotAction", problems, "a statement must have Action or NotAction"
    )
    if acted is not None:
        action = _action_element(acted[0], acted[1], request.action, problems)

    resource = None
    must = "an identity policy statement must have Resource or NotResource"
    targeted = _one_of(raw, "Resource", "NotResource", problems, must if kind == "identity" else "")
    if targeted is not None:
        scope = _Scope(context, variables)
        resource = _resource_element(targeted[0], targeted[1], request.resource, scope, problems)

    conditions = _conditions(raw.get("Condition"), context, variables, problems)
    verdicts = [e.verdict for e in (principal, action, resource) if e is not None]
    verdicts += [condition.verdict for condition in conditions]
    applies = None if problems else _all(verdicts)
    return StatementResult(
        number,
        sid,
        effect if isinstance(effect, str) else json.dumps(effect),
        applies,
        principal,
        action,
        resource,
        conditions,
        tuple(problems),
    )


def _one_of(
    raw: Mapping[str, Any], positive: str, negative: str, problems: list[str], required: str
) -> tuple[str, Any] | None:
    """(name, value) of whichever of the pair the statement has.

    Both is a problem; neither is the problem ``required``, if that is not empty.
    """
    present = [name for name in (positive, negative) if name in raw]
    if len(present) == 2:
        problems.append(f"a statement cannot have both {positive} and {negative}")
    elif not present and required:
        problems.append(required)
    return (present[0], raw[present[0]]) if len(present) == 1 else None


def _strings(raw: Any) -> tuple[str, ...] | None:
    """A string or a non-empty list of strings, as a tuple; None for anything else."""
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and raw and all(isinstance(item, str) for item in raw):
        return tuple(raw)
    return None


# Kleene logic: None (cannot evaluate) loses to a definite False in AND, to True in OR.


def _all(verdicts: Iterable[Tristate]) -> Tristate:
    result: Tristate = True
    for verdict in verdicts:
        if verdict is False:
            return False
        if verdict is None:
            result = None
    return result


def _any(verdicts: Iterable[Tristate]) -> Tristate:
    result: Tristate = False
    for verdict in verdicts:
        if verdict is True:
            return True
        if verdict is None:
            result = None
    return result


def _not(verdict: Tristate) -> Tristate:
    return None if verdict is None else not verdict


# ---------------------------------------------------------------------------------------
# Action and Resource


def _action_element(name: str, raw: Any, action: str, problems: list[str]) -> ElementResult | None:
    patterns = _strings(raw)
    if patterns is None:
        problems.append(f"{name} must be a string or a list of strings")
        return None
    # actions match case-insensitively, service prefix and name alike
    matched = next(
        (
            p
            for p in patterns
            if _glob(_chars(p, wildcards=True), ignore_case=True).fullmatch(action)
        ),
        None,
    )
    verdict = (matched is None) if name == "NotAction" else (matched is not None)
    return ElementResult(name, patterns, action, verdict, matched)


def _resource_element(
    name: str, raw: Any, resource: str, scope: _Scope, problems: list[str]
) -> ElementResult | None:
    patterns = _strings(raw)
    if patterns is None:
        problems.append(f"{name} must be a string or a list of strings")
        return None
    matched = None
    for pattern in patterns:
        # a variable with no value makes its pattern match no resource, also in NotResource
        # (variables page, "Policy variables with no value")
        resolved = scope.resolve(pattern, wildcards=True)
        if resolved is not None and _arn_like(resolved, resource):
            matched = pattern
            break
    verdict = (matched is None) if name == "NotResource" else (matched is not None)
    return ElementResult(name, patterns, resource, verdict, matched, "; ".join(scope.notes))


def _arn_like(pattern: tuple[tuple[str, bool], ...], value: str) -> bool:
    """ARN matching: each of the six colon-separated parts on its own, for ArnLike (condition
    operators page) and for Resource (Resource element page: wildcards work within a part).

    The last part (the resource) takes the rest, colons included. A pattern that is not an
    ARN ("*") matches the whole string.
    """
    parts = _split_arn(pattern)
    if len(parts) < 6:
        return _glob(pattern).fullmatch(value) is not None
    values = value.split(":", 5)
    return len(values) == 6 and all(
        _glob(part).fullmatch(text) is not None for part, text in zip(parts, values, strict=True)
    )


def _split_arn(pattern: tuple[tuple[str, bool], ...]) -> list[tuple[tuple[str, bool], ...]]:
    parts: list[list[tuple[str, bool]]] = [[]]
    for char in pattern:
        if char[0] == ":" and len(parts) < 6:
            parts.append([])
        else:
            parts[-1].append(char)
    return [tuple(part) for part in parts]


# ---------------------------------------------------------------------------------------
# policy strings: variables and wildcards


class _Context:
    """Condition keys of the request; key names are case-insensitive (variables page)."""

    def __init__(self, raw: Mapping[str, ContextValue]) -> None:
        self._raw = raw
        self._folded = {key.casefold(): value for key, value in raw.items()}

    def get(self, key: str) -> str | tuple[str, ...] | None:
        value = self._raw[key] if key in self._raw else self._folded.get(key.casefold())
        if value is None or isinstance(value, str):
            return value
        return tuple(value)

    def single(self, key: str) -> str | None:
        """The one value of ``key``, for a variable; a multivalued key has none."""
        value = self.get(key)
        if isinstance(value, tuple):
            return value[0] if len(value) == 1 else None
        return value


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_WITH_DEFAULT = re.compile(r"\s*([^,]+?)\s*,\s*'([^']*)'\s*")
_ESCAPES = ("*", "?", "$")  # ${*}, ${?} and ${$}: the character itself, never a wildcard


@dataclass
class _Scope:
    """Resolves policy strings for one condition or element, noting what it substituted."""

    context: _Context
    variables: bool
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def resolve(self, text: str, *, wildcards: bool) -> tuple[tuple[str, bool], ...] | None:
        """``text`` as (character, is a wildcard) pairs; None if a variable has no value.

        A substituted value is literal: a "*" in a user name is no wildcard.
        """
        chars: list[tuple[str, bool]] = []
        position = 0
        matches = _VARIABLE.finditer(text) if self.variables else iter(())
        missing = False
        for match in matches:
            chars += _chars(text[position : match.start()], wildcards=wildcards)
            position = match.end()
            inner = match.group(1)
            if inner in _ESCAPES:
                chars += _chars(inner, wildcards=False)
                continue
            with_default = _WITH_DEFAULT.fullmatch(inner)
            name = with_default.group(1) if with_default else inner.strip()
            value = self.context.single(name)
            if value is None and with_default:
                value = with_default.group(2)
                self.note(f"{match.group(0)}: {name} absent, default {_quote(value)}")
            elif value is None:
                self.note(f"{match.group(0)} has no value: matches nothing")
                missing = True
            else:
                self.note(f"{match.group(0)}={_quote(value)}")
            chars += _chars(value or "", wildcards=False)
        chars += _chars(text[position:], wildcards=wildcards)
        return None if missing else tuple(chars)


def _chars(text: str, *, wildcards: bool) -> list[tuple[str, bool]]:
    return [(char, wildcards and char in "*?") for char in text]


def _text(chars: Iterable[tuple[str, bool]]) -> str:
    return "".join(char for char, _ in chars)


def _glob(chars: Iterable[tuple[str, bool]], *, ignore_case: bool = False) -> re.Pattern[str]:
    pattern = "".join(
        (".*" if char == "*" else ".") if wild else re.escape(char) for char, wild in chars
    )
    return re.compile(pattern, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


# ---------------------------------------------------------------------------------------
# Principal and NotPrincipal


def _principal_entries(raw: Any) -> list[tuple[str, str]] | None:
    """("AWS", "123456789012")... pairs; ("*", "*") for a bare "*"; None if malformed."""
    if raw == "*":
        return [("*", "*")]
    if not isinstance(raw, Mapping) or not raw:
        return None
    entries: list[tuple[str, str]] = []
    for kind, values in raw.items():
        strings = _strings(values)
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


def _principal_element(
    name: str, raw: Any, request: Request, problems: list[str]
) -> ElementResult | None:
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
    return ElementResult(name, patterns, _caller(request), _any(results), matched, "; ".join(notes))


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


# ---------------------------------------------------------------------------------------
# Condition


Compare = Callable[[str, str, _Scope], Tristate]  # (policy value, request value, scope)


def _string_equals(expected: str, actual: str, scope: _Scope) -> Tristate:
    resolved = scope.resolve(expected, wildcards=False)
    return resolved is not None and _text(resolved) == actual


def _string_equals_ignore_case(expected: str, actual: str, scope: _Scope) -> Tristate:
    resolved = scope.resolve(expected, wildcards=False)
    return resolved is not None and _text(resolved).casefold() == actual.casefold()


def _string_like(expected: str, actual: str, scope: _Scope) -> Tristate:
    resolved = scope.resolve(expected, wildcards=True)
    return resolved is not None and _glob(resolved).fullmatch(actual) is not None


def _arn_matches(expected: str, actual: str, scope: _Scope) -> Tristate:
    # ArnEquals and ArnLike behave the same: wildcards in each of the six parts
    resolved = scope.resolve(expected, wildcards=True)
    return resolved is not None and _arn_like(resolved, actual)


def _bool(expected: str, actual: str, scope: _Scope) -> Tristate:
    resolved = scope.resolve(expected, wildcards=False)
    if resolved is None:
        return False
    wanted = _text(resolved).lower()
    if wanted not in ("true", "false"):
        scope.note(f"Bool takes true or false, not {_quote(wanted)}")
        return None
    return actual.lower() == wanted


def _binary(expected: str, actual: str, scope: _Scope) -> Tristate:
    try:
        wanted = base64.b64decode(expected, validate=True)
        got = base64.b64decode(actual, validate=True)
    except (binascii.Error, ValueError):
        scope.note("BinaryEquals compares base64 values")
        return None
    return wanted == got


def _ip(expected: str, actual: str, scope: _Scope) -> Tristate:
    try:
        network = ipaddress.ip_network(expected.strip(), strict=False)  # no prefix: /32, /128
    except ValueError:
        scope.note(f"{_quote(expected)} is not an IP address or CIDR range")
        return None
    try:
        address = ipaddress.ip_address(actual.strip())
    except ValueError:
        scope.note(f"the request's {_quote(actual)} is not an IP address")
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

    def compare(expected: str, actual: str, scope: _Scope) -> Tristate:
        wanted, got = parse(expected), parse(actual)
        if wanted is None:
            scope.note(f"{_quote(expected)} is not {what}")
            return None
        if got is None:
            scope.note(f"the request's {_quote(actual)} is not {what}")
            return None
        return bool(order(got, wanted))

    return compare


@dataclass(frozen=True)
class _Operator:
    compare: Compare
    negated: bool = False


def _operators() -> dict[str, _Operator]:
    table = {
        "StringEquals": _Operator(_string_equals),
        "StringNotEquals": _Operator(_string_equals, negated=True),
        "StringEqualsIgnoreCase": _Operator(_string_equals_ignore_case),
        "StringNotEqualsIgnoreCase": _Operator(_string_equals_ignore_case, negated=True),
        "StringLike": _Operator(_string_like),
        "StringNotLike": _Operator(_string_like, negated=True),
        "ArnEquals": _Operator(_arn_matches),
        "ArnLike": _Operator(_arn_matches),
        "ArnNotEquals": _Operator(_arn_matches, negated=True),
        "ArnNotLike": _Operator(_arn_matches, negated=True),
        "Bool": _Operator(_bool),
        "BinaryEquals": _Operator(_binary),
        "IpAddress": _Operator(_ip),
        "NotIpAddress": _Operator(_ip, negated=True),
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
        table[f"Numeric{suffix}"] = _Operator(_ordered(_number, "a number", order), negated)
        table[f"Date{suffix}"] = _Operator(_ordered(_date, "a date", order), negated)
    return table


_OPERATORS = _operators()
_QUALIFIERS = ("ForAnyValue", "ForAllValues")


def _parse_operator(name: str) -> tuple[str | None, str, bool] | None:
    """(set qualifier, base operator, IfExists) of an operator name, or None if unknown."""
    qualifier: str | None
    qualifier, colon, base = name.partition(":")
    if not colon:
        qualifier, base = None, name
    elif qualifier not in _QUALIFIERS:
        return None
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base in _OPERATORS or (base == "Null" and not if_exists and qualifier is None):
        return qualifier, base, if_exists
    return None


def _conditions(
    raw: Any, context: _Context, variables: bool, problems: list[str]
) -> tuple[ConditionResult, ...]:
    """Every operator and key of a Condition block: all must hold (logical AND)."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        problems.append("Condition must be an object of operators")
        return ()
    results: list[ConditionResult] = []
    for operator, block in raw.items():
        if not isinstance(block, Mapping) or not block:
            note = "an operator takes an object of condition keys and values"
            results.append(ConditionResult(str(operator), "", (), None, None, note))
            continue
        for key, values in block.items():
            results.append(_condition(str(operator), str(key), values, _Scope(context, variables)))
    return tuple(results)


def _policy_values(raw: Any) -> tuple[str, ...] | None:
    """Condition values as strings: JSON booleans and numbers are written as IAM reads them."""
    items = raw if isinstance(raw, list) else [raw]
    values: list[str] = []
    for item in items:
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            values.append(str(item))
        else:
            return None
    return tuple(values) or None


def _condition(operator: str, key: str, raw: Any, scope: _Scope) -> ConditionResult:
    actual = scope.context.get(key)
    expected = _policy_values(raw)
    if expected is None:
        note = "condition values must be strings, numbers or booleans"
        return ConditionResult(operator, key, (), actual, None, note)
    parsed = _parse_operator(operator)
    if parsed is None:
        note = f"unknown condition operator {operator!r}"
        return ConditionResult(operator, key, expected, actual, None, note)
    qualifier, base, if_exists = parsed
    values = () if actual is None else (actual,) if isinstance(actual, str) else actual
    if base == "Null":
        verdict = _null(expected, values, scope)
    else:
        verdict = _test(_OPERATORS[base], qualifier, if_exists, expected, values, scope)
    return ConditionResult(operator, key, expected, actual, verdict, "; ".join(scope.notes))


def _null(expected: tuple[str, ...], values: tuple[str, ...], scope: _Scope) -> Tristate:
    """Null "true": the key is absent; "false": it is present."""
    results: list[Tristate] = []
    for wanted in expected:
        if wanted.lower() not in ("true", "false"):
            scope.note(f"Null takes true or false, not {_quote(wanted)}")
            results.append(None)
        else:
            results.append((wanted.lower() == "true") == (not values))
    return _any(results)


def _test(
    operator: _Operator,
    qualifier: str | None,
    if_exists: bool,
    expected: tuple[str, ...],
    values: tuple[str, ...],
    scope: _Scope,
) -> Tristate:
    """One condition key under one operator, by the IAM documentation:

    - Several policy values are ORed; for a negated operator (StringNotEquals, NotIpAddress,
      ArnNotLike...) NORed: true when the request's value matches none of them ("Conditions
      with multiple context keys or values").
    - An absent key makes a condition false, except for the negated operators (StringNotLike,
      ArnNotLike...), where it makes it true (condition operators page, the "Important" box
      at its top; the variables page says the same of a variable with no value), and with
      ...IfExists, where it makes it true too.
    - ForAllValues over no values (absent key, empty list) is true, ForAnyValue false
      (multi-value page, "Note"), IfExists or not: AWS answers a ForAnyValue:...IfExists
      on an absent key with false (the re:Post thread above).
    - A key with several values needs one of those qualifiers; without one the answer is
      not certain, so it is not guessed.
    """

    def one(actual: str) -> Tristate:
        hit = _any(operator.compare(wanted, actual, scope) for wanted in expected)
        return _not(hit) if operator.negated else hit

    if not values:
        if qualifier == "ForAllValues":
            scope.note("no values: ForAllValues holds")
            return True
        if qualifier == "ForAnyValue":
            scope.note(
                "no values: ForAnyValue fails" + (" even with IfExists" if if_exists else "")
            )
            return False
        if if_exists:
            scope.note("key absent: IfExists holds")
            return True
        if operator.negated:
            scope.note("key absent: a negated operator holds")
            return True
        return False
    if qualifier == "ForAnyValue":
        return _any(one(actual) for actual in values)
    if qualifier == "ForAllValues":
        return _all(one(actual) for actual in values)
    if len(values) > 1:
        scope.note("a key with several values needs ForAnyValue: or ForAllValues:")
        return None
    return one(values[0])
