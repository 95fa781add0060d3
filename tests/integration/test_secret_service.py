"""The cache round-trips through a real Secret Service (gnome-keyring under D-Bus)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from rolehop.features.demo import Emulator
from rolehop.stores.cache import INDEX, SERVICE
from tests.conftest import Sandbox
from tests.support.emulator import RESEARCH_RO_TOML
from tests.support.tools import require_tool, run_captured

SCRIPT = """\
set -eu
echo -n test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null
export PYTHON_KEYRING_BACKEND=keyring.backends.SecretService.Keyring
"$PYTHON" -m rolehop credential-process research-ro > "$OUT/first.json"
"$PYTHON" -m rolehop credential-process research-ro > "$OUT/second.json"
secret-tool lookup service {service} username {index} > "$OUT/index.json"
"$PYTHON" -m rolehop cache clear research-ro > "$OUT/clear.txt"
secret-tool lookup service {service} username {index} > "$OUT/index-after.json" || true
"""


@pytest.mark.usefixtures("joe")
def test_cache_round_trip_through_gnome_keyring(
    sandbox: Sandbox, moto: Emulator, subprocess_env: dict[str, str]
) -> None:
    for tool in ("dbus-run-session", "gnome-keyring-daemon", "secret-tool"):
        require_tool(tool)
    sandbox.write_rolehop(RESEARCH_RO_TOML)
    out = sandbox.root / "out"
    out.mkdir()
    script = sandbox.root / "secret-service.sh"
    script.write_text(SCRIPT.format(service=SERVICE, index=INDEX))
    env = {**subprocess_env, "PYTHON": sys.executable, "OUT": str(out)}
    env.pop("ROLEHOP_TEST_KEYRING")
    before = moto.assume_role_calls()

    done = run_captured(["dbus-run-session", "--", "bash", str(script)], env, timeout=120)

    assert done.returncode == 0, done.stderr
    first = json.loads((out / "first.json").read_text())
    second = json.loads((out / "second.json").read_text())
    assert first == second, "the second call must come from the Secret Service"
    assert moto.assume_role_calls() == before + 1
    index = json.loads((out / "index.json").read_text())
    assert [entry["profile"] for entry in index["entries"].values()] == ["research-ro"]
    assert first["SecretAccessKey"] not in (out / "index.json").read_text()
    assert (out / "clear.txt").read_text().startswith("removed 1 cached credential ")
    assert json.loads((out / "index-after.json").read_text())["entries"] == {}
    assert "warning" not in done.stderr
    # Nothing but the (encrypted) keyring holds the secret: no other file contains it.
    for path in Path(sandbox.root).rglob("*"):
        if path.is_file() and out not in path.parents:
            assert first["SecretAccessKey"].encode() not in path.read_bytes(), path
