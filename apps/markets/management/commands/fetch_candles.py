"""Backfill closed candles: manage.py fetch_candles --account sim --symbol BTC/USDT --timeframe 1m --start 2026-11-01 --end 2026-11-02"""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.common.time import utc_datetime
from apps.engine.timeframes import TIMEFRAME_SECONDS
from apps.exchanges.errors import ExchangeCallError
from apps.exchanges.models import ExchangeAccount
from apps.markets.models import Market
from apps.markets.services import candles_backfill, timeframes_offered


def parse_utc(value: str) -> datetime:
    try:
        return utc_datetime(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use ISO format, e.g. 2026-11-01 or 2026-11-01T12:00") from None


class Command(BaseCommand):
    help = "Backfill closed candles for one market from the account's exchange, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="Exchange account name")
        parser.add_argument("--symbol", required=True, help="e.g. BTC/USDT")
        parser.add_argument("--timeframe", default="1m")
        parser.add_argument("--start", required=True, help="UTC, ISO format")
        parser.add_argument("--end", default=None, help="UTC, ISO format (default: now)")

    def handle(self, *args, account, symbol, timeframe, start, end, **options):
        market, start_at, end_at = self._validated(account, symbol, timeframe, start, end)
        total = int((end_at - start_at).total_seconds() // TIMEFRAME_SECONDS[timeframe])
        with tqdm(total=total, unit="candle", disable=options["verbosity"] == 0, file=self.stderr._out) as bar:
            try:
                result = candles_backfill(market=market, timeframe=timeframe, start=start_at, end=end_at, on_page=bar.update)
            except ExchangeCallError as exc:
                raise CommandError(f"The exchange failed ({exc.error_class}): {exc}") from None
        self.stdout.write(
            f"{market.symbol} {timeframe} {start_at:%Y-%m-%d %H:%M} -> {end_at:%Y-%m-%d %H:%M} UTC: "
            f"{result.fetched} closed candles fetched, {result.inserted} new, {result.fetched - result.inserted} already stored"
        )
        if result.fetched == 0:
            self.stdout.write(
                f"The exchange has no {market.symbol} {timeframe} candles in this range (before its history, or not closed yet)."
            )

    def _validated(self, account_name, symbol, timeframe, start, end):
        account = ExchangeAccount.objects.select_related("exchange").filter(name=account_name).first()
        if account is None:
            names = ", ".join(ExchangeAccount.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(f"No exchange account named {account_name!r} (accounts: {names})")
        market = Market.objects.filter(exchange=account.exchange, symbol=symbol.upper()).first()
        if market is None:
            raise CommandError(f"{symbol} is not a market of {account.exchange.name}; add it in the admin first")
        if timeframe not in TIMEFRAME_SECONDS or timeframe not in timeframes_offered(exchange=account.exchange):
            raise CommandError(f"{account.exchange.name} does not offer {timeframe!r} candles")
        start_at = parse_utc(start)
        end_at = parse_utc(end) if end else datetime.now(UTC)
        if start_at >= end_at:
            raise CommandError(f"--start ({start_at:%Y-%m-%d %H:%M}) must be before --end ({end_at:%Y-%m-%d %H:%M})")
        return market, start_at, end_at
