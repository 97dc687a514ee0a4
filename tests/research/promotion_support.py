"""A paper account with a strategy and its trades, for the promotion and daily review tests.

The account's equity is 1000 USDT before anything; each trade buys 1 BTC at 1000 and sells it at
1000 + its P&L the same day (no fees), one trade a day, so a strategy's curve is 1000 plus its
running P&L and its drawdown is the hand calculation."""

from datetime import timedelta
from decimal import Decimal as D

from django.utils import timezone

from apps.markets.models import Candle
from apps.strategies.models import Strategy
from tests.markets.factories import market_make
from tests.trading.factories import account_make, strategy_make
from tests.trading.performance_history import fill_make, snapshots_seed


def btc_market(symbol: str = "BTC/USDT"):
    """A market with an exchange's steps. Strategies trading together on one account need a
    market each: the trades of one account and market are one book."""
    market = market_make(symbol=symbol)
    market.amount_precision, market.price_precision, market.min_notional = D("0.0001"), D("0.01"), D("5")
    market.save()
    return market


def desk_make(*, name: str = "paper desk", equity: str = "1000"):
    """A paper account snapshotted at `equity` every day of the last 60 (the desk snapshots
    every minute; a strategy's curve starts from its account's equity at the period's start)."""
    account = account_make(name=name)
    now = timezone.now()
    snapshots_seed(account, [(now - timedelta(days=day, minutes=1), D(equity)) for day in range(60, -1, -1)])
    return account, btc_market()


def on_paper(*, account, market, days: float, name: str | None = None, status: str = Strategy.Status.RUNNING) -> Strategy:
    """A strategy on paper for `days` days."""
    return strategy_make(
        account=account,
        markets=[market],
        name=name,
        status=status,
        stage=Strategy.Stage.PAPER,
        stage_changed_at=timezone.now() - timedelta(days=days),
    )


def trades_make(strategy: Strategy, market, pnls: list[str], *, first_day_ago: int) -> None:
    """One closed trade a day, the first `first_day_ago` days ago, each with its P&L."""
    for k, pnl in enumerate(pnls):
        day = timezone.now() - timedelta(days=first_day_ago - k)
        for side, price, at in (("buy", D("1000"), day), ("sell", D("1000") + D(pnl), day + timedelta(hours=1))):
            fill_make(
                account=strategy.account,
                market=market,
                strategy=strategy,
                side=side,
                amount="1",
                price=str(price),
                fee="0",
                traded_at=at,
            )


def candles_make(market, closes, *, timeframe: str = "1m", spreads=None) -> None:
    """Candles ending now, oldest first: high/low at close x (1 +- spread)."""
    end = timezone.now().replace(second=0, microsecond=0)
    spreads = spreads if spreads is not None else [0.002] * len(closes)
    rows = []
    for k, (close, spread) in enumerate(zip(closes, spreads, strict=True)):
        close = D(str(round(float(close), 6)))
        high, low = close * (1 + D(str(spread))), close * (1 - D(str(spread)))
        open_time = end - timedelta(minutes=len(closes) - k)
        rows.append(
            Candle(
                market=market, timeframe=timeframe, open_time=open_time, open=close, high=high, low=low, close=close, volume=D(1)
            )
        )
    Candle.objects.bulk_create(rows)
