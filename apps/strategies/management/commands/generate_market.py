"""manage.py generate_market: fill the database with the seeded synthetic market, for research."""

from django.core.management.base import BaseCommand, CommandError

from apps.strategies.backtests.data import market_generate
from apps.strategies.backtests.formatting import table_text
from apps.strategies.backtests.selectors import BacktestError


class Command(BaseCommand):
    help = "Store candles of the seeded synthetic market (creates the exchange and markets when missing)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--symbol", action="append", default=[], help="BTC/USDT, ETH/USDT or SOL/USDT; repeatable (default: all)"
        )
        parser.add_argument("--days", type=int, default=30, help="How many days up to --end (default 30)")
        parser.add_argument("--seed", type=int, default=7, help="Seed of the price paths (default 7)")
        parser.add_argument(
            "--timeframe",
            "--timeframes",
            dest="timeframes",
            action="append",
            default=[],
            help="Timeframe(s): repeat or comma-separate, e.g. 1m,15m (default 1m)",
        )
        parser.add_argument("--exchange", default="sim", help="Exchange code (default sim)")
        parser.add_argument("--end", help="End, UTC (default now); only candles closed by then are stored")

    def handle(self, *args, symbol, days, seed, timeframes, exchange, end, **options):
        timeframes = [part.strip() for item in timeframes or ["1m"] for part in item.split(",") if part.strip()]
        try:
            written = market_generate(
                symbols=symbol or ["BTC/USDT", "ETH/USDT", "SOL/USDT"],
                days=days,
                seed=seed,
                timeframes=timeframes,
                exchange=exchange,
                end=end,
            )
        except BacktestError as exc:
            raise CommandError(str(exc)) from None
        rows = [
            [
                w.symbol,
                w.timeframe,
                str(w.rows),
                str(w.inserted),
                f"{w.first:%Y-%m-%d %H:%M}" if w.first else "—",
                f"{w.last:%Y-%m-%d %H:%M}" if w.last else "—",
            ]
            for w in written
        ]
        self.stdout.write(f"Synthetic market, seed {seed}, on exchange {exchange!r}:")
        self.stdout.write(table_text(["Market", "Timeframe", "Candles", "New", "First (UTC)", "Last (UTC)"], rows))
