"""The guard for external tools: skip locally, fail under CI=true."""

from __future__ import annotations

import pytest

from tests.support.tools import require_tool

MISSING = "rolehop-no-such-tool-anywhere"


def test_missing_tool_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"{MISSING} is not installed"):
        require_tool(MISSING)


def test_missing_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_tool(MISSING)


def test_present_tool_is_found() -> None:
    assert require_tool("sh").endswith("/sh")
