"""``rolehop explain``: hop by hop, which side of the trust blocks an AssumeRole.

Cross-account access needs both sides: the role's trust policy must allow the caller, and
the caller's own identity policies must allow ``sts:AssumeRole`` on the role. For each hop
this reads both (when it may: iam:GetRole on a role in another account is often refused),
evaluates them locally (:mod:`rolehop.features.explain.policy`) against the request
rolehop makes, tries the AssumeRole (unless dry run) and says which side blocks. Returns
data; the CLI renders it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from rolehop.aws import iam
from rolehop.aws.sts import Identity, assume_role, identity_of
from rolehop.common.creds import Credentials
from rolehop.engine.context import Context
from rolehop.engine.hops import RoleHop
from rolehop.engine.resolve import chain_of, hop_sources, resolve
from rolehop.errors import AccessDeniedError, RolehopError, UsageError
from rolehop.features.explain.policy.document import evaluate
from rolehop.features.explain.policy.request import Request
from rolehop.features.explain.policy.results import Decision

SideVerdict = Literal["allow", "deny", "no-match", "cannot-evaluate", "unknown"]


@dataclass(frozen=True)
class Evaluated:
    """One policy and what the evaluator made of it."""

    source: str
    decision: Decision


@dataclass(frozen=True)
class Side:
    """The trust side or the caller side of one hop."""

    verdict: SideVerdict
    how: str  # how the policies were had: "read with iam:GetRole as ...", a file...
    policies: tuple[Evaluated, ...] = ()
    problem: str | None = None  # why they could not be read, and what to do about it


@dataclass(frozen=True)
class HopReport:
    name: str
    role_arn: str
    caller: Identity | None
    caller_problem: str | None
    mfa: bool | None  # whether the request carries MFA, where rolehop knows it
    params: Mapping[str, Any]
    trust: Side
    caller_side: Side
    attempt: str | None  # None: not tried (dry run); "ok"; or the error
    conclusion: str
    context: Mapping[str, Any] = field(default_factory=dict)
    # non-zero when this hop's AssumeRole fails or would be denied: the code the failure
    # has elsewhere (5 for a side that blocks, as for AccessDenied; 6 for caller
    # credentials that fail...)
    exit_code: int = 0


def exit_code(reports: list[HopReport]) -> int:
    """``explain``'s exit code: that of the first hop that fails or would be denied."""
    return next((report.exit_code for report in reports if report.exit_code), 0)


def combine(evaluated: tuple[Evaluated, ...]) -> SideVerdict:
    """Explicit Deny anywhere wins; then any Allow; an unevaluable Allow is no verdict."""
    verdicts = {item.decision.verdict for item in evaluated}
    if "deny" in verdicts:
        return "deny"
    if "cannot-evaluate" in verdicts:
        return "cannot-evaluate"
    if "allow" in verdicts:
        return "allow"
    return "no-match"


def request_context(
    hop: RoleHop, caller: Identity, mfa: bool | None, now: datetime
) -> dict[str, str | list[str] | None]:
    """The condition keys of the AssumeRole request rolehop makes, as far as it knows them."""
    params = hop.assume_role_params()
    context: dict[str, str | list[str] | None] = {
        "aws:PrincipalArn": principal_arn_of(caller.arn),
        "aws:PrincipalAccount": caller.account,
        "aws:userid": caller.user_id,
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:SecureTransport": "true",
        "sts:RoleSessionName": params["RoleSessionName"],
    }
    kind, _, rest = caller.arn.split(":", 5)[5].partition("/")
    if kind == "user":
        context["aws:username"] = rest.rsplit("/", 1)[-1]
    if mfa is not None:
        context["aws:MultiFactorAuthPresent"] = "true" if mfa else "false"
    if "ExternalId" in params:
        context["sts:ExternalId"] = params["ExternalId"]
    if "SourceIdentity" in params:
        context["sts:SourceIdentity"] = params["SourceIdentity"]
    tags = params.get("Tags") or []
    for tag in tags:
        context[f"aws:RequestTag/{tag['Key']}"] = tag["Value"]
    if tags:
        context["aws:TagKeys"] = [tag["Key"] for tag in tags]
    return context


def principal_arn_of(arn: str) -> str:
    """aws:PrincipalArn of a role session is its role's ARN (without the role's path)."""
    parts = arn.split(":")
    if len(parts) == 6 and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return arn


def _request(hop: RoleHop, caller: Identity, context: Mapping[str, Any]) -> Request:
    return Request(
        action="sts:AssumeRole",
        resource=hop.role_arn,
        principal_arn=caller.arn,
        principal_account=caller.account,
        context=dict(context),
    )


class Explainer:
    """Explain one profile's chain in ``ctx`` (the engine's: chain, caches, STS clients)."""

    def __init__(
        self,
        ctx: Context,
        *,
        iam_factory: iam.IamClientFactory = iam.boto3_iam,
        inspect_with: str | None = None,
        trust_policy: Path | None = None,
        dry_run: bool = False,
    ) -> None:
        self.ctx = ctx
        self.iam_factory = iam_factory
        self.inspect_with = inspect_with
        self.trust_file = trust_policy
        self.dry_run = dry_run

    def explain(self, name: str) -> list[HopReport]:
        chain = chain_of(self.ctx, name)
        reports: list[HopReport] = []
        sources = hop_sources(self.ctx, name)
        inspector = self._inspector()
        for index, (hop, source) in enumerate(sources):
            mfa = self._mfa(chain.mfa is not None, index, hop)
            # --trust-policy FILE is the target role's: the last hop's
            trust_file = self.trust_file if index == len(sources) - 1 else None
            report = self._hop(hop, source, mfa, inspector, trust_file)
            reports.append(report)
            if report.attempt not in (None, "ok"):
                break  # later hops need this one's credentials
        return reports

    def _mfa(self, base_mfa: bool, index: int, hop: RoleHop) -> bool | None:
        if hop.mfa_serial is not None or (index == 0 and base_mfa):
            return True
        return None  # rolehop cannot tell for a session it did not make with MFA

    def _inspector(self) -> Credentials | None:
        if self.inspect_with is None:
            return None
        return resolve(self.ctx, self.inspect_with).credentials

    def _hop(
        self,
        hop: RoleHop,
        source: Callable[[], Credentials],
        mfa: bool | None,
        inspector: Credentials | None,
        trust_file: Path | None,
    ) -> HopReport:
        params = {key: value for key, value in hop.assume_role_params().items() if key != "Tags"}
        if hop.assume_role_params().get("Tags"):
            params["Tags"] = {t["Key"]: t["Value"] for t in hop.assume_role_params()["Tags"]}
        try:
            credentials = source()
            client = self.ctx.sts(credentials, hop.region)
            caller = identity_of(client, what=f"the caller of hop {hop.name!r}")
        except RolehopError as error:
            no_one = Side("unknown", "not read", problem="no caller credentials")
            return HopReport(
                hop.name, hop.role_arn, None, str(error), mfa, params, no_one, no_one,
                None, f"hop {hop.name!r}: the caller's own credentials fail: {error}",
                exit_code=error.exit_code,
            )  # fmt: skip
        context = request_context(hop, caller, mfa, self.ctx.clock())
        request = _request(hop, caller, context)
        # the role with the inspector's credentials (an admin of the role's account, where
        # the caller usually cannot look); the caller's policies with its own first
        own = (self.iam_factory(credentials), f"the caller ({caller.arn})")
        other = (
            (self.iam_factory(inspector), f"profile {self.inspect_with!r}") if inspector else None
        )
        trust = self._trust(hop, caller, request, *(other or own), trust_file)
        mine = self._caller(caller, request, [own, *([other] if other else [])])
        attempt, code = (None, 0) if self.dry_run else self._attempt(hop, client, credentials)
        conclusion = conclude(hop, caller, trust, mine, attempt)
        if attempt is None and blocks(trust, mine):
            code = AccessDeniedError.exit_code  # what AssumeRole would end in
        return HopReport(
            hop.name, hop.role_arn, caller, None, mfa, params, trust, mine, attempt, conclusion,
            context, code,
        )  # fmt: skip

    def _trust(
        self,
        hop: RoleHop,
        caller: Identity,
        request: Request,
        reader: Any,
        who: str,
        trust_file: Path | None,
    ) -> Side:
        account = hop.role_arn.split(":")[4]
        if trust_file is not None:
            try:
                document = json.loads(trust_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise UsageError(f"--trust-policy {trust_file}: {error}") from None
            found = iam.Policy(f"trust policy from {trust_file}", document)
            how = f"from {trust_file}"
        else:
            try:
                found = iam.trust_policy(reader, hop.role_arn)
            except iam.Unreadable as error:
                problem = (
                    f"cannot read the trust policy of {hop.role_arn} as {who} ({error.why}); "
                    f"ask an admin of account {account} to check that it allows "
                    f"sts:AssumeRole for {caller.arn}, or run with --inspect-with PROFILE "
                    "(an admin of that account) or --trust-policy FILE"
                )
                return Side("unknown", f"iam:GetRole as {who}", problem=problem)
            how = f"read with iam:GetRole as {who}"
        evaluated = (Evaluated(found.source, evaluate(found.document, request, kind="trust")),)
        return Side(combine(evaluated), how, evaluated)

    def _caller(self, caller: Identity, request: Request, readers: list[tuple[Any, str]]) -> Side:
        whys: list[str] = []
        for reader, who in readers:
            try:
                found = iam.identity_policies(reader, caller.arn)
                break
            except iam.Unreadable as error:
                whys.append(f"as {who}: {error.why}")
        else:
            problem = (
                f"cannot read the policies of {caller.arn} ({'; '.join(whys)}); ask an admin "
                f"of account {caller.account} whether they allow sts:AssumeRole on "
                f"{request.resource}, or run with --inspect-with PROFILE"
            )
            return Side("unknown", "iam:List*/Get*", problem=problem)
        evaluated = tuple(
            Evaluated(item.source, evaluate(item.document, request, kind="identity"))
            for item in found
        )
        return Side(combine(evaluated), f"read as {who}", evaluated)

    def _attempt(self, hop: RoleHop, client: Any, credentials: Credentials) -> tuple[str, int]:
        """The AssumeRole itself: "ok", or the error, with its exit code."""
        code = None
        if hop.mfa_serial is not None:
            code = self.ctx.mfa_codes(hop.mfa_serial, hop.name, hop.profile.mfa_process)
        try:
            assume_role(client, hop, credentials, target=hop.name, token_code=code)
        except RolehopError as error:
            return str(error), error.exit_code
        return "ok", 0


def blocks(trust: Side, mine: Side) -> list[str]:
    """The sides whose policies, as evaluated, do not allow the AssumeRole."""
    return [
        label
        for label, side in (("the trust side", trust), ("the caller side", mine))
        if side.verdict in ("deny", "no-match")
    ]


def conclude(hop: RoleHop, caller: Identity, trust: Side, mine: Side, attempt: str | None) -> str:
    """The one line that says which side blocks."""
    blocked = blocks(trust, mine)
    unknown = [
        label
        for label, side in (("the trust policy", trust), ("the caller's policies", mine))
        if side.verdict in ("unknown", "cannot-evaluate")
    ]
    if attempt == "ok":
        if blocked:
            return (
                f"AssumeRole of {hop.role_arn} works, although {' and '.join(blocked)} "
                "seemed to block it here (a condition rolehop cannot see, or a policy it "
                "could not read)"
            )
        return f"AssumeRole of {hop.role_arn} works: both sides allow {caller.arn}"
    if blocked:
        which = " and ".join(blocked)
        verb = "block" if len(blocked) > 1 else "blocks"
        return f"{which} {verb} {caller.arn} assuming {hop.role_arn}"
    if unknown:
        return (
            f"cannot tell which side blocks: {' and '.join(unknown)} could not be evaluated "
            "(see above)"
        )
    if attempt is None:
        return "both sides allow (dry run: AssumeRole not tried)"
    return (
        "both sides allow; check SCPs / permission boundaries / session duration limits "
        f"(AssumeRole said: {attempt})"
    )
