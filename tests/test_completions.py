"""completions/ holds click's generated scripts; profile names complete from the config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.shell_completion import BashComplete, FishComplete, ZshComplete

from rolehop.cli import cli
from tests.conftest import Sandbox

COMPLETIONS = Path(__file__).resolve().parent.parent / "completions"
GENERATORS = {
    "rolehop.bash": BashComplete,
    "_rolehop": ZshComplete,
    "rolehop.fish": FishComplete,
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generated_completions_match_the_cli(name: str) -> None:
    source = GENERATORS[name](cli, {}, "rolehop", "_ROLEHOP_COMPLETE").source() + "\n"
    path = COMPLETIONS / name
    if os.environ.get("UPDATE_COMPLETIONS") == "1":
        path.write_text(source)
    assert path.read_text() == source, f"regenerate: UPDATE_COMPLETIONS=1 pytest {__file__}"


PROBE = """\
import json, sys
from rolehop.cli import main
try:
    main()
finally:
    heavy = [m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "keyring", "rich")]
    print(json.dumps(heavy), file=sys.stderr)
"""


def _complete(words: str, env: dict[str, str]) -> tuple[list[str], list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={
            **env,
            "_ROLEHOP_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    names = [
        line.split(",", 1)[1] for line in done.stdout.splitlines() if line.startswith("plain,")
    ]
    return names, json.loads(done.stderr.strip().splitlines()[-1])


def test_profile_names_complete_from_both_files_without_sdk_or_keyring(
    sandbox: Sandbox, subprocess_env: dict[str, str]
) -> None:
    sandbox.write_rolehop(
        """\
        [profiles.research-ro]
        role_arn = "arn:aws:iam::111122223333:role/r"
        source_profile = "joe"

        [profiles.joe]
        mfa_serial = "arn:aws:iam::444455556666:mfa/joe"
        """
    )
    sandbox.write_aws_config(
        "[profile research-admin]\nrole_arn = arn:aws:iam::111122223333:role/a\n"
        "source_profile = joe\n\n[profile other]\nregion = eu-west-1\n"
    )
    names, heavy = _complete("rolehop env res", subprocess_env)
    assert names == ["research-admin", "research-ro"]
    assert heavy == []
    assert _complete("rolehop cache clear ", subprocess_env)[0] == ["research-admin", "research-ro"]


def test_a_broken_config_completes_nothing(
    sandbox: Sandbox, subprocess_env: dict[str, str]
) -> None:
    sandbox.write_rolehop("[profiles.x\n")
    assert _complete("rolehop env ", subprocess_env)[0] == []
