"""``rolehop doctor``'s IAM Identity Center checks: each session signed in (or refreshable),
and the clock against its OIDC endpoint (tokens expire by it)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from rolehop.engine import access_tokens as tokens
from rolehop.engine.context import Context
from rolehop.features.doctor.checks import Check, Opener, clock_skew, http_headers
from rolehop.features.sso.sessions import known


def oidc_endpoint(environ: Mapping[str, str], region: str) -> str:
    """Where botocore sends sso-oidc calls, for the common cases."""
    for name in ("AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL"):
        if environ.get(name):
            return environ[name]
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://oidc.{region}.{suffix}"


def sessions(ctx: Context, opener: Opener = http_headers) -> list[Check]:
    """One check per session, then one clock check per IAM Identity Center region."""
    results: list[Check] = []
    regions: set[str] = set()
    now = ctx.clock()
    for name, session in sorted(known(ctx.config).items()):
        regions.add(session.region)
        sign_in, source = tokens.current(ctx, session)
        login = f"rolehop sso login {shlex.quote(name)}"
        topic = f"sso {name}"
        if sign_in is None:
            results.append(Check(topic, "warn", "not signed in", login))
            continue
        left = sign_in.remaining(now)
        whose = "the AWS CLI's sign-in" if source == "aws-cli" else "signed in"
        if left > tokens.REFRESH_WINDOW.total_seconds():
            refresh = ", refreshable" if sign_in.refreshable else ", not refreshable"
            summary = f"{whose}, {int(left // 60)} min left{refresh}"
            results.append(Check(topic, "ok", summary))
        elif sign_in.refreshable:
            summary = f"{whose}: the access token expires, and is refreshed on next use"
            results.append(Check(topic, "ok", summary))
        else:
            owner = "the AWS CLI's sign-in" if source == "aws-cli" else "the sign-in"
            summary = f"{owner} has expired, and has no refresh token"
            results.append(Check(topic, "warn", summary, login))
    timeout = ctx.config.settings.sts_connect_timeout + ctx.config.settings.sts_read_timeout
    for region in sorted(regions):
        endpoint = oidc_endpoint(ctx.environ, region)
        found = clock_skew(endpoint, ctx.clock, timeout, opener)
        results.append(
            Check(
                f"sso clock ({region})",
                found.verdict,
                found.summary.replace("STS", "IAM Identity Center"),
                found.fix,
            )
        )
    return results
