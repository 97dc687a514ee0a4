"""Builders for trading tests: a paper account with cash, a market with fresh data, a strategy."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from apps.exchanges.models import ExchangeAccount
from apps.markets.models import Candle, CollectorStatus
from apps.strategies.models import Strategy
from apps.trading.models import Balance, LastPrice, PaperSettings, Signal
from apps.trading.services.signals import signal_create
from tests.markets.factories import exchange_make, market_make

_counter = {"n": 0}


def account_make(
    *,
    name: str = "paper",
    mode: str = ExchangeAccount.Mode.PAPER,
    cash: Decimal = Decimal("10000"),
    fee_rate: Decimal = Decimal("0.001"),
    slippage_bps: Decimal = Decimal("0"),
    api_url: str = "http://127.0.0.1:1",
) -> ExchangeAccount:
    account, _ = ExchangeAccount.objects.get_or_create(
        name=name,
        defaults={"exchange": exchange_make(api_url=api_url), "mode": mode, "api_key": "k" * 16, "api_secret": "s" * 32},
    )
    Balance.objects.update_or_create(account=account, asset="USDT", defaults={"free": cash})
    if mode == ExchangeAccount.Mode.PAPER:
        PaperSettings.objects.update_or_create(account=account, defaults={"fee_rate": fee_rate, "slippage_bps": slippage_bps})
    return account


def fresh_market(
    *, symbol: str = "BTC/USDT", price: Decimal = Decimal("100"), timeframe: str = "1m", api_url: str = "http://127.0.0.1:1"
):
    """A market whose newest 1m candle just closed at `price`, and a ticker at the same price."""
    market = market_make(symbol=symbol, api_url=api_url)
    market.amount_precision, market.price_precision, market.min_notional = Decimal("0.0001"), Decimal("0.01"), Decimal("5")
    market.save()
    now = timezone.now().replace(second=0, microsecond=0)
    open_time = now - timedelta(minutes=1)
    Candle.objects.update_or_create(
        market=market,
        timeframe=timeframe,
        open_time=open_time,
        defaults={"open": price, "high": price, "low": price, "close": price, "volume": Decimal(1)},
    )
    CollectorStatus.objects.update_or_create(market=market, timeframe=timeframe, defaults={"last_candle_time": open_time})
    price_set(market, price)
    return market


def price_set(market, price: Decimal) -> None:
    LastPrice.objects.update_or_create(market=market, defaults={"price": price, "at": timezone.now()})


def strategy_make(
    *,
    account,
    markets,
    name: str | None = None,
    kind: str = "test_kind",
    allocation: Decimal = Decimal("1000"),
    status: str = Strategy.Status.RUNNING,
    **fields,
) -> Strategy:
    _counter["n"] += 1
    fields.setdefault("timeframe", "1m")
    strategy = Strategy.objects.create(
        name=name or f"strategy {_counter['n']}", kind=kind, account=account, allocation_value=allocation, status=status, **fields
    )
    strategy.markets.set(markets)
    return strategy


def signal_make(
    *,
    strategy,
    market,
    side: str = "buy",
    intent: str = "open",
    price: Decimal | None = None,
    key: str | None = None,
    stop_loss=None,
    take_profit=None,
) -> Signal:
    _counter["n"] += 1
    from apps.trading.selectors import last_price

    return signal_create(
        strategy=strategy,
        market_id=market.pk,
        candle_time=timezone.now(),
        action=f"{side}_{intent}",
        side=side,
        intent=intent,
        price=price or last_price(market=market),
        stop_loss=stop_loss,
        take_profit=take_profit,
        key=key or f"test:{_counter['n']}",
    )
