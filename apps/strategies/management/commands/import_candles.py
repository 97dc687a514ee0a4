"""manage.py import_candles: candles from a CSV or Parquet file into one market."""

from django.core.management.base import BaseCommand, CommandError

from apps.strategies.backtests.data import candles_import
from apps.strategies.backtests.selectors import BacktestError


class Command(BaseCommand):
    help = (
        "Import candles from CSV or Parquet: columns open_time (or time, timestamp, datetime, date; milliseconds or ISO, UTC), "
        "open, high, low, close, volume. Rows already stored are kept as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The .csv or .parquet file")
        parser.add_argument("--symbol", required=True, help="Market symbol, e.g. BTC/USDT")
        parser.add_argument("--timeframe", required=True, help="Timeframe of the candles, e.g. 1m")
        parser.add_argument(
            "--exchange",
            help="Exchange code; a market (and exchange) not in the database yet is created offline, "
            "its tick and step read from the file",
        )

    def handle(self, *args, path, symbol, timeframe, exchange, **options):
        try:
            written = candles_import(path=path, symbol=symbol, timeframe=timeframe, exchange=exchange)
        except BacktestError as exc:
            raise CommandError(str(exc)) from None
        if written.created:
            self.stdout.write(written.created[0].upper() + written.created[1:] + ".")
        self.stdout.write(
            f"{written.symbol} {written.timeframe}: {written.rows} rows read, {written.inserted} new, "
            f"{written.rows - written.inserted} already stored; "
            f"{written.first:%Y-%m-%d %H:%M} to {written.last:%Y-%m-%d %H:%M} UTC"
        )
