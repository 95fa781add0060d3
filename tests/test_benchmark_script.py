"""tests/benchmarks/bench.py --quick: every case runs and passes its correctness checks.

Timings are not checked (the script never fails on them); the AssumeRole counts, exit
statuses and outputs it checks are. It runs with the test file keyring: the same in every
environment, and what a Secret Service does under 32 parallel processes is not this
script's to test (tests/integration/test_secret_service.py covers the Secret Service).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.tools import run_captured

SCRIPT = REPO / "tests" / "benchmarks" / "bench.py"
CASES = {
    "floor",
    "hit.credential-process.direct",
    "hit.credential-process.agent",
    "hit.env.direct",
    "hit.env.agent",
    "cold.3hop.cleared",
    "cold.3hop.cleared.agent",
    "cold.3hop.refresh",
    "boto3.3hop",
    "list.10",
    "list.1000",
    "list.10.agent",
    "list.1000.agent",
    "list.10000",
    "list.10000.agent",
    "complete.10",
    "complete.1000",
    "complete.10000",
    "complete.10.agent",
    "complete.1000.agent",
    "complete.10000.agent",
    "hit.credential-process.agent.10000",
    "generate.sso.3000",
    "parallel.floor",
    "cold.2hop",
    "parallel.2hop",
    "cold.2hop.agent",
    "parallel.2hop.agent",
    "aws-cli.hit",
    "aws-cli.cold",
    "awsume",
}
OPTIONAL = {"aws-cli.hit", "aws-cli.cold", "awsume"}  # measured when installed


@pytest.mark.timeout(600)  # ~2-3 min: every case of the benchmark, each for real
def test_quick_run_measures_every_case(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    results = tmp_path / "bench.json"

    done = run_captured(
        [sys.executable, str(SCRIPT), "--quick", "--keyring", "test-file", "--json", str(results)],
        subprocess_env,
        cwd=REPO,
        timeout=540,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(results.read_text())
    assert document["failures"] == []
    assert set(document["cases"]) == CASES
    for key, case in document["cases"].items():
        if key in OPTIONAL and case["status"] == "not installed":
            continue
        assert case["status"] == "ok", (key, case["note"])
        assert case["runs"] >= 1 and case["median_ms"] > 0 and case["peak_rss_kib"] > 0, key
    assert document["cases"]["floor"]["ratio_to_floor"] == 1.0
    assert document["cases"]["cold.3hop.cleared"]["reference"] == "boto3.3hop"
    header = done.stdout.splitlines()[0]
    assert "CPUs" in header and "Python" in header and "keyring:" in header
    assert "TEST keyring" in header
