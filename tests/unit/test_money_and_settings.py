from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard_api.domain.money import from_micros, to_micros, usd
from dashboard_api.settings import Settings


def test_money_round_trips_through_micro_dollars_exactly() -> None:
    for text in ("0", "0.000001", "1.5", "12345.678901", "0.1"):
        assert from_micros(to_micros(Decimal(text))) == Decimal(text)
    assert usd("0.0000005") == Decimal("0.000000")  # half-even
    assert usd("0.0000015") == Decimal("0.000002")


def test_settings_come_from_prefixed_environment_variables() -> None:
    settings = Settings.from_env(
        {
            "DASHBOARD_DATABASE_URL": "postgresql+asyncpg://db/x",
            "DASHBOARD_PORT": "8080",
            "DASHBOARD_AGENTS": "planner, coder,",
            "DASHBOARD_MIGRATE_ON_START": "false",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://db/x"
    assert settings.port == 8080
    assert settings.agents == ("planner", "coder")
    assert settings.migrate_on_start is False
    assert Settings.from_env({}).database_url.startswith("sqlite+aiosqlite://")


def test_a_malformed_setting_stops_start_up_naming_it() -> None:
    with pytest.raises(SystemExit, match="port"):
        Settings.from_env({"DASHBOARD_PORT": "eighty"})


def test_the_server_is_uvicorn_unless_granian_is_chosen() -> None:
    assert Settings.from_env({}).server == "uvicorn"
    assert Settings.from_env({"DASHBOARD_SERVER": "granian"}).server == "granian"
    with pytest.raises(SystemExit, match="server"):
        Settings.from_env({"DASHBOARD_SERVER": "hypercorn"})
