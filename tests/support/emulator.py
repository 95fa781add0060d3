"""Joe's side of the moto emulator (:class:`rolehop.features.demo.Emulator`), for the
integration tests.

The ``joe`` fixture (tests/integration/conftest.py) seeds the emulator and writes Joe's access
key into ``~/.aws/credentials`` as profile ``joe``; :data:`RESEARCH_RO_TOML` is the rolehop
profile that assumes the research role with it.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from rolehop.features.demo import ROLE_ARN, Emulator
from tests.conftest import Sandbox

# rolehop.toml: the research role, assumed with Joe's keys (append lines to add settings)
RESEARCH_RO_TOML = f"""\
[profiles.research-ro]
role_arn = "{ROLE_ARN}"
source_profile = "joe"
"""


def caller_arn(moto: Emulator, document: dict[str, Any]) -> str:
    """Who STS says the credentials of a credential_process ``document`` are (their ARN)."""
    sts = moto.client(
        "sts",
        aws_access_key_id=document["AccessKeyId"],
        aws_secret_access_key=document["SecretAccessKey"],
        aws_session_token=document["SessionToken"],
    )
    arn: str = sts.get_caller_identity()["Arn"]
    return arn


WAREHOUSE = "777788889999"
WAREHOUSE_ROLE = "Warehouse-Reader"
WAREHOUSE_ARN = f"arn:aws:iam::{WAREHOUSE}:role/{WAREHOUSE_ROLE}"


def warehouse_chain(sandbox: Sandbox, moto: Emulator, warehouse_extra: str = "") -> None:
    """A second hop: the warehouse role (a third account) trusting the research role, and
    rolehop profiles research-ro (joe -> research) and warehouse (research -> warehouse)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ROLE_ARN}, "Action": "sts:AssumeRole"}
        ],
    }
    iam = moto.client("iam", **moto.admin_of(WAREHOUSE))
    iam.create_role(RoleName=WAREHOUSE_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    sandbox.write_rolehop(
        RESEARCH_RO_TOML
        + textwrap.dedent(
            f"""
            [profiles.warehouse]
            role_arn = "{WAREHOUSE_ARN}"
            source_profile = "research-ro"
            {warehouse_extra}
            """
        )
    )
