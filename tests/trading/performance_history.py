"""A seeded desk history with hand-computed figures, shared by the performance selector, API and
page tests.

Account "perf": equity 1000 (30 Jan 00:00) -> 1100 (31 Jan 23:00) -> 990 (1 Feb 12:00) ->
1089 (28 Feb 12:00), and four trades:
  A  trend  BTC  buy 1 @ 100 (fee 0.10), sell 1 @ 110 (fee 0.11)                   = +9.79
  B  swing  ETH  buy 2 @ 50 (fee 0.10), sell 2 @ 45 (fee 0.09)                     = -10.19
  C  trend  BTC  buy 1 @ 100 (fee 0.10), sell 0.5 @ 120 (0.06), 0.5 @ 130 (0.065)  = +24.775
  D  swing  ETH  buy 1 @ 40 (fee 0.04), still open, marked at 44                   = +4 unrealized
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal as D
from itertools import count

from apps.strategies.models import Strategy
from apps.trading.models import Fill, Order, PortfolioSnapshot, Position
from tests.markets.factories import market_make
from tests.trading.factories import account_make, strategy_make

_ids = count(1)

EQUITY = [
    (datetime(2025, 1, 30, 0, tzinfo=UTC), D("1000")),
    (datetime(2025, 1, 31, 23, tzinfo=UTC), D("1100")),
    (datetime(2025, 2, 1, 12, tzinfo=UTC), D("990")),
    (datetime(2025, 2, 28, 12, tzinfo=UTC), D("1089")),
]


@dataclass
class History:
    account: object
    trend: Strategy
    swing: Strategy
    btc: object
    eth: object


def at(day: int, hour: int, month: int = 1) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def snapshots_seed(account, points=EQUITY) -> None:
    for taken_at, equity in points:
        PortfolioSnapshot.objects.create(
            account=account, taken_at=taken_at, equity=equity, cash=equity, positions_value=0, realized_pnl=0, unrealized_pnl=0
        )


def fill_make(*, account, market, strategy, side: str, amount: str, price: str, fee: str, traded_at: datetime) -> Fill:
    n = next(_ids)
    order = Order.objects.create(
        account=account,
        market=market,
        strategy=strategy,
        client_order_id=f"perf-{n}",
        side=side,
        amount=D(amount),
        filled=D(amount),
        average_price=D(price),
        status="filled",
    )
    return Fill.objects.create(
        order=order,
        venue_trade_id=f"t{n}",
        price=D(price),
        amount=D(amount),
        fee=D(fee),
        fee_currency="USDT",
        traded_at=traded_at,
    )


def history_seed(name: str = "perf") -> History:
    account = account_make(name=name)
    btc, eth = market_make(symbol="BTC/USDT"), market_make(symbol="ETH/USDT")
    for market in (btc, eth):
        market.amount_precision, market.price_precision, market.min_notional = D("0.0001"), D("0.01"), D("5")
        market.save()
    trend = strategy_make(account=account, markets=[btc], name=f"{name} trend")
    swing = strategy_make(account=account, markets=[eth], name=f"{name} swing")
    snapshots_seed(account)
    trades = [
        (btc, trend, "buy", "1", "100", "0.10", at(30, 1)),
        (btc, trend, "sell", "1", "110", "0.11", at(30, 5)),
        (eth, swing, "buy", "2", "50", "0.10", at(31, 10)),
        (eth, swing, "sell", "2", "45", "0.09", at(31, 20)),
        (btc, trend, "buy", "1", "100", "0.10", at(1, 13, 2)),
        (btc, trend, "sell", "0.5", "120", "0.06", at(1, 18, 2)),
        (btc, trend, "sell", "0.5", "130", "0.065", at(2, 9, 2)),
        (eth, swing, "buy", "1", "40", "0.04", at(10, 9, 2)),
    ]
    for market, strategy, side, amount, price, fee, traded_at in trades:
        fill_make(
            account=account, market=market, strategy=strategy, side=side, amount=amount, price=price, fee=fee, traded_at=traded_at
        )
    Position.objects.create(account=account, market=eth, strategy=swing, amount=D("1"), average_entry=D("40"), last_price=D("44"))
    return History(account, trend, swing, btc, eth)
