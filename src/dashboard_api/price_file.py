"""Reads the cost engine's price table from a TOML file (the shipped one by default)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.pricing import PriceTable

DEFAULT_PRICES = Path(__file__).parent / "prices.toml"


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The price table at `path`; a missing or malformed file stops start-up with its name."""
    source = Path(path) if path else DEFAULT_PRICES
    try:
        # Prices are strings or numbers in TOML; parse floats as Decimal so 0.075 stays exact.
        with source.open("rb") as file:
            raw = tomllib.load(file, parse_float=str)
        return PriceTable.from_mapping(raw)
    except (OSError, tomllib.TOMLDecodeError, InvalidInput) as exc:
        raise SystemExit(f"price table {source}: {exc}") from exc
