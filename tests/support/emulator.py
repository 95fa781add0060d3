"""Joe's side of the moto emulator (:class:`rolehop.demo.Emulator`), for the integration tests.

The ``joe`` fixture (tests/integration/conftest.py) seeds the emulator and writes Joe's access
key into ``~/.aws/credentials`` as profile ``joe``; :data:`RESEARCH_RO_TOML` is the rolehop
profile that assumes the research role with it.
"""

from __future__ import annotations

from typing import Any

from rolehop.demo import ROLE_ARN, Emulator

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
