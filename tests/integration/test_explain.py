"""``rolehop explain`` against the moto server: which side blocks, hop by hop."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rolehop.features.demo import COMPANY, JOE_ARN, RESEARCH, ROLE_ARN, Emulator
from tests.conftest import RunRolehop, Sandbox
from tests.support.emulator import RESEARCH_RO_TOML, WAREHOUSE_ARN, warehouse_chain

OTHER = "999999999999"
TRUSTS_JOE = {"Effect": "Allow", "Principal": {"AWS": JOE_ARN}, "Action": "sts:AssumeRole"}


def _role(moto: Emulator, name: str, statement: dict[str, Any]) -> str:
    """A role in the research account with this one trust statement; its ARN."""
    trust = {"Version": "2012-10-17", "Statement": [statement]}
    iam = moto.client("iam", **moto.admin_of(RESEARCH))
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return f"arn:aws:iam::{RESEARCH}:role/{name}"


def _joe_may_assume(moto: Emulator, *arns: str) -> None:
    iam = moto.client("iam", **moto.admin_of(COMPANY))
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": list(arns)}],
    }
    iam.put_user_policy(UserName="Joe", PolicyName="more", PolicyDocument=json.dumps(document))


# An admin of the research account, for --inspect-with: Joe cannot read a role there
ADMIN_ARN = f"arn:aws:iam::{RESEARCH}:role/admin"
ADMIN = f'\n[profiles.research-admin]\nrole_arn = "{ADMIN_ARN}"\nsource_profile = "joe"\n'
INSPECT = ("--inspect-with", "research-admin")


@pytest.fixture(autouse=True)
def admin(moto: Emulator, joe: dict[str, str]) -> None:
    _role(moto, "admin", TRUSTS_JOE)


def _profile(sandbox: Sandbox, name: str, arn: str, extra: str = "") -> None:
    profile = f'\n[profiles.{name}]\nrole_arn = "{arn}"\nsource_profile = "joe"\n{extra}'
    sandbox.write_rolehop(RESEARCH_RO_TOML + ADMIN + profile)


def _explained(run_rolehop: RunRolehop, *args: str, code: int = 0) -> dict[str, Any]:
    """``explain --json``'s document; its exit code is ``code`` (5: a side blocks)."""
    result = run_rolehop("explain", *args, *INSPECT, "--json")
    assert result.returncode == code, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["exit_code"] == code
    return document


def test_a_healthy_chain_is_allowed_on_both_sides(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    warehouse_chain(sandbox, moto, ADMIN)
    research = moto.client("iam", **moto.admin_of(RESEARCH))
    may = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": WAREHOUSE_ARN}
    research.put_role_policy(
        RoleName=ROLE_ARN.rsplit("/", 1)[1],
        PolicyName="may-assume-warehouse",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [may]}),
    )

    hops = _explained(run_rolehop, "warehouse")["hops"]

    assert [hop["role_arn"] for hop in hops] == [ROLE_ARN, WAREHOUSE_ARN]
    first, second = hops
    assert (first["trust"]["verdict"], first["caller_side"]["verdict"]) == ("allow", "allow")
    assert first["caller"]["arn"] == JOE_ARN
    assert first["conclusion"] == f"AssumeRole of {ROLE_ARN} works: both sides allow {JOE_ARN}"
    # the warehouse role is in a third account: the research admin cannot read it either
    assert second["trust"]["verdict"] == "unknown"
    assert "ask an admin of account 777788889999" in second["trust"]["problem"]
    assert second["caller_side"]["verdict"] == "allow"  # the research role's own policy
    assert ":assumed-role/" in second["caller"]["arn"]
    assert [hop["attempt"] for hop in hops] == ["ok", "ok"]
    text = run_rolehop("explain", "warehouse", *INSPECT)
    assert text.returncode == 0 and "trust side: ALLOW" in text.stdout


def test_a_role_trusting_another_account_is_blocked_on_the_trust_side(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    arn = _role(
        moto,
        "other-account-only",
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": "sts:AssumeRole",
        },
    )
    _joe_may_assume(moto, arn)
    _profile(sandbox, "other", arn)

    [hop] = _explained(run_rolehop, "other", "--dry-run", code=5)["hops"]

    assert (hop["trust"]["verdict"], hop["caller_side"]["verdict"]) == ("no-match", "allow")
    assert hop["attempt"] is None
    assert hop["conclusion"] == f"the trust side blocks {JOE_ARN} assuming {arn}"
    assert hop["exit_code"] == 5
    text = run_rolehop("explain", "other", "--dry-run", *INSPECT)
    assert (text.returncode, text.stdout.splitlines()[-1]) == (5, hop["conclusion"])


def test_a_caller_without_sts_assume_role_is_blocked_on_its_own_side(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    arn = _role(moto, "trusts-joe", TRUSTS_JOE)
    _profile(sandbox, "trusting", arn)  # Joe's policy names the research role only

    [hop] = _explained(run_rolehop, "trusting", "--dry-run", code=5)["hops"]

    assert (hop["trust"]["verdict"], hop["caller_side"]["verdict"]) == ("allow", "no-match")
    assert hop["conclusion"] == f"the caller side blocks {JOE_ARN} assuming {arn}"


def test_an_external_id_mismatch_shows_the_condition(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    arn = _role(
        moto,
        "needs-external-id",
        {**TRUSTS_JOE, "Condition": {"StringEquals": {"sts:ExternalId": "expected-id"}}},
    )
    _joe_may_assume(moto, arn)
    _profile(sandbox, "external", arn, 'external_id = "given-id"\n')

    [hop] = _explained(run_rolehop, "external", "--dry-run", code=5)["hops"]

    assert hop["params"]["ExternalId"] == "given-id"
    assert hop["trust"]["verdict"] == "no-match"
    lines = "\n".join(hop["trust"]["policies"][0]["statements"])
    assert "sts:ExternalId" in lines and "expected-id" in lines and "given-id" in lines


def test_a_missing_mfa_condition_blocks_on_the_trust_side(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    arn = _role(
        moto,
        "needs-mfa",
        {**TRUSTS_JOE, "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
    )
    _joe_may_assume(moto, arn)
    _profile(sandbox, "mfa", arn)

    [hop] = _explained(run_rolehop, "mfa", "--dry-run", code=5)["hops"]

    assert hop["trust"]["verdict"] == "no-match"
    assert "aws:MultiFactorAuthPresent" in "\n".join(hop["trust"]["policies"][0]["statements"])
    assert hop["conclusion"] == f"the trust side blocks {JOE_ARN} assuming {arn}"


def test_a_trust_policy_file_is_evaluated_instead(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    sandbox.write_rolehop(RESEARCH_RO_TOML + ADMIN)
    file = sandbox.root / "trust.json"
    file.write_text(json.dumps({"Version": "2012-10-17", "Statement": [TRUSTS_JOE]}))

    [hop] = _explained(run_rolehop, "research-ro", "--dry-run", "--trust-policy", str(file))["hops"]

    assert hop["trust"]["how"] == f"from {file}" and hop["trust"]["verdict"] == "allow"


@pytest.mark.usefixtures("joe")
def test_access_denied_everywhere_points_at_explain(
    sandbox: Sandbox, moto: Emulator, run_rolehop: RunRolehop
) -> None:
    from tests.integration.test_leaks import iam_enforced

    arn = _role(moto, "trusts-joe-too", TRUSTS_JOE)
    _profile(sandbox, "denied", arn)
    with iam_enforced(moto.url):
        results = [run_rolehop(*command, "denied") for command in (["credential-process"], ["env"])]
        explained = run_rolehop("explain", "denied", "--json")
    for result in results:
        assert result.returncode == 5
        assert result.stderr.rstrip().endswith("run: rolehop explain denied")
    # explain, which tries the AssumeRole too, ends the same way
    [hop] = json.loads(explained.stdout)["hops"]
    assert (explained.returncode, hop["exit_code"]) == (5, 5), explained.stderr
    assert hop["attempt"].startswith("profile 'denied': AccessDenied"), hop["attempt"]
