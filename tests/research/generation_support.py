"""A seeded one-minute market on an account a search can store strategies on."""

from io import StringIO

from django.core.management import call_command

from apps.exchanges.models import ExchangeAccount
from apps.markets.models import Candle, CollectorStatus, Market

END = "2025-03-01"


def minute_market_seeded(*, days: int = 4, symbol: str = "BTC/USDT") -> ExchangeAccount:
    """`days` of 1m candles of the synthetic market, collected (as the desk's collector would
    record them), and a paper account on its exchange."""
    call_command(
        "generate_market",
        "--days",
        str(days),
        "--timeframe",
        "1m",
        "--seed",
        "7",
        "--end",
        END,
        "--symbol",
        symbol,
        stdout=StringIO(),
    )
    market = Market.objects.get(symbol=symbol)
    last = Candle.objects.filter(market=market, timeframe="1m").order_by("-open_time").values_list("open_time", flat=True)[0]
    CollectorStatus.objects.update_or_create(market=market, timeframe="1m", defaults={"last_candle_time": last})
    account, _ = ExchangeAccount.objects.get_or_create(
        name="research paper", defaults={"exchange": market.exchange, "mode": "paper"}
    )
    return account
