"""rolehop.features.explain.report without AWS: how sides combine, and the closing line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rolehop.aws.sts import Identity
from rolehop.features.explain import report as explain
from rolehop.features.explain.policy.results import Decision
from rolehop.features.explain.report import Evaluated, Side

ROLE = "arn:aws:iam::111122223333:role/r"
JOE = Identity("444455556666", "arn:aws:iam::444455556666:user/Joe", "AIDAJOE")


def _evaluated(*verdicts: str) -> tuple[Evaluated, ...]:
    return tuple(
        Evaluated(f"policy {n}", Decision(verdict, "identity"))  # type: ignore[arg-type]
        for n, verdict in enumerate(verdicts)
    )


@pytest.mark.parametrize(
    ("verdicts", "combined"),
    [
        ((), "no-match"),
        (("no-match", "allow"), "allow"),
        (("allow", "deny"), "deny"),  # an explicit Deny anywhere wins
        (("allow", "cannot-evaluate"), "cannot-evaluate"),  # never a silent pass
        (("deny", "cannot-evaluate"), "deny"),
        (("no-match", "no-match"), "no-match"),
    ],
)
def test_a_side_combines_its_policies(verdicts: tuple[str, ...], combined: str) -> None:
    assert explain.combine(_evaluated(*verdicts)) == combined


class _Hop:
    role_arn = ROLE


def _side(verdict: str) -> Side:
    return Side(verdict, "test")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("trust", "caller", "attempt", "line"),
    [
        ("allow", "allow", "ok", f"AssumeRole of {ROLE} works: both sides allow {JOE.arn}"),
        ("no-match", "allow", None, f"the trust side blocks {JOE.arn} assuming {ROLE}"),
        ("allow", "deny", "AccessDenied", f"the caller side blocks {JOE.arn} assuming {ROLE}"),
        (
            "deny",
            "no-match",
            "AccessDenied",
            f"the trust side and the caller side block {JOE.arn} assuming {ROLE}",
        ),
        ("allow", "allow", None, "both sides allow (dry run: AssumeRole not tried)"),
        (
            "allow",
            "allow",
            "AccessDenied: no",
            "both sides allow; check SCPs / permission boundaries / session duration limits "
            "(AssumeRole said: AccessDenied: no)",
        ),
        (
            "unknown",
            "allow",
            "AccessDenied",
            "cannot tell which side blocks: the trust policy could not be evaluated (see above)",
        ),
    ],
)
def test_the_closing_line(trust: str, caller: str, attempt: str | None, line: str) -> None:
    hop = _Hop()
    assert explain.conclude(hop, JOE, _side(trust), _side(caller), attempt) == line  # type: ignore[arg-type]


def test_a_session_principal_is_its_role() -> None:
    session = "arn:aws:sts::111122223333:assumed-role/Reader/rolehop-joe"
    assert explain.principal_arn_of(session) == "arn:aws:iam::111122223333:role/Reader"
    assert explain.principal_arn_of(JOE.arn) == JOE.arn


def test_the_context_holds_what_rolehop_sends() -> None:
    class Hop:
        def assume_role_params(self) -> dict[str, object]:
            return {
                "RoleArn": ROLE,
                "RoleSessionName": "rolehop-joe",
                "ExternalId": "x-1",
                "Tags": [{"Key": "team", "Value": "data"}],
            }

    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    context = explain.request_context(Hop(), JOE, True, now)  # type: ignore[arg-type]
    assert context["sts:ExternalId"] == "x-1"
    assert context["aws:username"] == "Joe"
    assert context["aws:MultiFactorAuthPresent"] == "true"
    assert context["aws:RequestTag/team"] == "data" and context["aws:TagKeys"] == ["team"]
    assert context["aws:CurrentTime"] == "2026-11-22T12:00:00Z"
    assert "aws:MultiFactorAuthPresent" not in explain.request_context(Hop(), JOE, None, now)  # type: ignore[arg-type]


def _report(code: int) -> explain.HopReport:
    no_one = _side("unknown")
    return explain.HopReport("r", ROLE, JOE, None, None, {}, no_one, no_one, None, "", {}, code)


@pytest.mark.parametrize(
    ("codes", "code"),
    [((), 0), ((0, 0), 0), ((0, 5), 5), ((6,), 6), ((4, 5), 4)],
)
def test_the_exit_code_is_the_first_failing_hops(codes: tuple[int, ...], code: int) -> None:
    assert explain.exit_code([_report(each) for each in codes]) == code
