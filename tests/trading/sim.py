"""A desk account on an in-process simulated exchange, reached through the real ccxt client."""

from decimal import Decimal as D

from django.utils import timezone

from apps.exchanges.models import ExchangeAccount
from apps.markets.models import Candle, CollectorStatus, Exchange, Market
from apps.trading.models import LastPrice
from apps.trading.services.accounts import balances_sync
from tests.simulated_exchange import TEST_API_KEY, TEST_SECRET

SPECS = {"BTC/USDT": (D("0.01"), D("0.00001")), "ETH/USDT": (D("0.01"), D("0.0001"))}


def sim_desk(sim, *, symbol: str = "BTC/USDT", price: D = D("60000"), name: str = "sim") -> tuple[ExchangeAccount, Market]:
    exchange, _ = Exchange.objects.update_or_create(
        code="sim", defaults={"name": "Simulated exchange", "ccxt_id": "binance", "api_url": sim.url}
    )
    account, _ = ExchangeAccount.objects.get_or_create(
        name=name,
        defaults={"exchange": exchange, "mode": ExchangeAccount.Mode.SIM, "api_key": TEST_API_KEY, "api_secret": TEST_SECRET},
    )
    market = market_on_sim(sim, exchange, symbol=symbol, price=price)
    assert balances_sync(account_id=account.pk)
    return account, market


def market_on_sim(sim, exchange, *, symbol: str, price: D) -> Market:
    tick, step = SPECS[symbol]
    base, quote = symbol.split("/")
    market, _ = Market.objects.update_or_create(
        exchange=exchange,
        symbol=symbol,
        defaults={"base": base, "quote": quote, "price_precision": tick, "amount_precision": step, "min_notional": D("5")},
    )
    price_move(sim, market, price)
    return market


def price_move(sim, market: Market, price: D, *, timeframe: str = "1m") -> None:
    """Pin the exchange's price and show the desk the same price (a fresh candle and ticker)."""
    sim.price_pin(market.symbol, price)
    now = timezone.now().replace(second=0, microsecond=0)
    open_time = now - timezone.timedelta(minutes=1)
    Candle.objects.update_or_create(
        market=market,
        timeframe=timeframe,
        open_time=open_time,
        defaults={"open": price, "high": price, "low": price, "close": price, "volume": D(1)},
    )
    CollectorStatus.objects.update_or_create(market=market, timeframe=timeframe, defaults={"last_candle_time": open_time})
    LastPrice.objects.update_or_create(market=market, defaults={"price": price, "at": timezone.now()})


def sim_orders(sim) -> list:
    return list(sim.orders(TEST_API_KEY))
