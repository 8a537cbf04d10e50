"""A service without API tokens never listens where others can reach it, nor pretends to."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dashboard_api.cli import is_loopback

pytestmark = pytest.mark.e2e


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if key != "DASHBOARD_API_TOKENS"}
    return subprocess.run(
        [sys.executable, "-m", "dashboard_api", "run", *args],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_no_tokens_and_a_public_address_refuses_to_start_and_names_the_setting() -> None:
    done = _run({"DASHBOARD_HOST": "0.0.0.0", "DASHBOARD_MIGRATE_ON_START": "false"})
    assert done.returncode == 2
    assert "DASHBOARD_API_TOKENS" in done.stderr
    assert "0.0.0.0" in done.stderr


def test_the_command_line_address_is_checked_too() -> None:
    done = _run({"DASHBOARD_MIGRATE_ON_START": "false"}, "--host", "::")
    assert done.returncode == 2
    assert "DASHBOARD_API_TOKENS" in done.stderr


def test_loopback_addresses_are_told_apart_from_the_rest() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.5", "example.com", ""]))
