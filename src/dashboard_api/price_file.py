"""Reads the cost engine's price table from a TOML file (the shipped one by default)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from dashboard_api.domain.errors import InvalidInput
from dashboard_api.domain.model.pricing import PriceTable, price_problems

DEFAULT_PRICES = Path(__file__).parent / "prices.toml"


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The price table at `path`; a missing or malformed file stops start-up with its name."""
    source = Path(path) if path else DEFAULT_PRICES
    try:
        return PriceTable.from_mapping(_read(source))
    except (OSError, tomllib.TOMLDecodeError, InvalidInput) as exc:
        raise SystemExit(f"price table {source}: {exc}") from exc


def check_price_file(path: str | Path) -> list[str]:
    """Every problem of a price file (`dashboard-api prices check`): unreadable, unknown or
    malformed fields, bad values, overlapping prices and gaps; empty when it is sound."""
    try:
        raw = _read(Path(path))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [f"unreadable: {exc}"]
    try:
        table = PriceTable.parse(raw)
    except InvalidInput as exc:
        return [str(exc)]
    return price_problems(table)


def _read(source: Path) -> dict[str, object]:
    # Prices are strings or numbers in TOML; parse floats as Decimal so 0.075 stays exact.
    with source.open("rb") as file:
        return tomllib.load(file, parse_float=str)
