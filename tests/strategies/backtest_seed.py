"""Seeds candles for the backtest tests through generate_market (the seeded synthetic market)."""

from io import StringIO

import pytest
from django.core.management import call_command

END = "2025-03-01"  # two days: 2025-02-27 and 2025-02-28


def market_seeded(*, symbols=("BTC/USDT", "ETH/USDT"), days: int = 2, timeframes: str = "1m,15m") -> None:
    args = ["generate_market", "--days", str(days), "--timeframe", timeframes, "--seed", "7", "--end", END]
    for symbol in symbols:
        args += ["--symbol", symbol]
    call_command(*args, stdout=StringIO())


def command_output(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def reports_in_tmp(settings, tmp_path):
    """Backtest reports go under VAR_DIR/backtests: a test's go to its own folder."""
    settings.VAR_DIR = tmp_path


LAUNCH = {
    "strategy": "ema_cross",
    "params": {"fast": "5", "slow": "20"},
    "symbols": ["BTC/USDT"],
    "timeframe": "15m",
    "start": "2025-02-27",
    "end": "2025-03-01",
    "initial_balance": "5000",
    "fee_pct": "0.1",
}
