"""Seeds candles for the backtest tests through generate_market (the seeded synthetic market)."""

from io import StringIO

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
