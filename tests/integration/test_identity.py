"""whoami and graph against the moto server."""

from __future__ import annotations

import json
import re

import pytest

from rolehop.features.demo import RESEARCH, ROLE_ARN, ROLE_NAME, Emulator
from tests.conftest import RunRolehop, Sandbox
from tests.support.emulator import WAREHOUSE, WAREHOUSE_ARN, warehouse_chain
from tests.support.tools import on_a_terminal

RESEARCH_CALLER = f"arn:aws:sts::{RESEARCH}:assumed-role/{ROLE_NAME}/rolehop-tester"


def test_whoami_of_a_profile(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    warehouse_chain(sandbox, moto)
    result = run_rolehop("whoami", "research-ro", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["account"], document["arn"]) == (RESEARCH, RESEARCH_CALLER)
    table = run_rolehop("whoami", "research-ro")
    assert table.stdout.splitlines()[:2] == [f"Account  {RESEARCH}", f"Arn      {RESEARCH_CALLER}"]


def test_whoami_of_the_active_environment(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    warehouse_chain(sandbox, moto)
    issued = json.loads(run_rolehop("credential-process", "research-ro").stdout)
    active = {
        "AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
        "AWS_SESSION_TOKEN": issued["SessionToken"],
    }
    result = run_rolehop("whoami", "--json", env=active)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["arn"] == RESEARCH_CALLER


def test_whoami_without_credentials(
    sandbox: Sandbox, moto: Emulator, run_rolehop: RunRolehop
) -> None:
    result = run_rolehop("whoami")
    assert result.returncode == 6
    assert result.stderr.startswith("rolehop: error: no active AWS credentials")


def test_graph_shows_the_chain_and_what_is_cached(
    sandbox: Sandbox, moto: Emulator, joe: dict[str, str], run_rolehop: RunRolehop
) -> None:
    warehouse_chain(sandbox, moto)
    cold = run_rolehop("graph", "warehouse")
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout.splitlines() == [
        f"joe  (keys in {sandbox.aws_credentials})",
        f"└─ research-ro  {RESEARCH}  {ROLE_ARN}  not cached",
        f"   └─ warehouse  {WAREHOUSE}  {WAREHOUSE_ARN}  not cached",
    ]
    assert run_rolehop("credential-process", "warehouse").returncode == 0
    warm = json.loads(run_rolehop("graph", "warehouse", "--json").stdout)["chains"]["warehouse"]
    assert [node["kind"] for node in warm] == ["base", "role", "role"]
    assert [node["account"] for node in warm] == [None, RESEARCH, WAREHOUSE]
    assert all(55 * 60 < node["cached_for"] <= 3600 for node in warm[1:])
    everything = run_rolehop("graph")
    assert everything.stdout.count("joe  (keys in") == 2  # research-ro and warehouse


def test_graph_shows_an_mfa_session(sandbox: Sandbox, run_rolehop: RunRolehop) -> None:
    sandbox.write_aws_credentials("[joe]\naws_access_key_id = AKIAJOE\naws_secret_access_key = s\n")
    sandbox.write_rolehop(
        '[profiles.joe]\nmfa_serial = "arn:aws:iam::444455556666:mfa/joe"\n\n'
        f'[profiles.research-ro]\nrole_arn = "{ROLE_ARN}"\nsource_profile = "joe"\n'
    )
    result = run_rolehop("graph", "research-ro")
    assert result.stdout.splitlines() == [
        f"joe  (keys in {sandbox.aws_credentials} + MFA)",
        "└─ MFA session arn:aws:iam::444455556666:mfa/joe  not cached",
        f"   └─ research-ro  {RESEARCH}  {ROLE_ARN}  not cached",
    ]


ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("no_color", [False, True])
def test_graph_on_a_terminal_is_a_rich_tree(
    sandbox: Sandbox,
    moto: Emulator,
    joe: dict[str, str],
    subprocess_env: dict[str, str],
    no_color: bool,
) -> None:
    warehouse_chain(sandbox, moto)
    env = {**subprocess_env, "TERM": "xterm-256color", "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    if no_color:
        env["NO_COLOR"] = "1"
    code, shown = on_a_terminal(env, "graph", "warehouse")
    assert code == 0, shown
    plain = ANSI.sub("", shown).replace("\r\n", "\n")
    assert plain.splitlines() == [
        f"joe  (keys in {sandbox.aws_credentials})",
        f"└── research-ro  {RESEARCH}  {ROLE_ARN}  not cached",
        f"    └── warehouse  {WAREHOUSE}  {WAREHOUSE_ARN}  not cached",
    ]
    colours = [code for code in ANSI.findall(shown) if code not in ("\x1b[0m", "\x1b[m")]
    if no_color:
        assert not [code for code in colours if ";3" in code or "[3" in code], colours
    else:
        assert any(code in ("\x1b[36m", "\x1b[0;36m") or "36" in code for code in colours), colours
