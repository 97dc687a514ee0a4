"""The demo strategies `make run` starts on the sim account (idempotent)."""

from decimal import Decimal

from django.utils import timezone

from apps.markets.models import Market
from apps.strategies.models import Strategy
from apps.strategies.services import strategy_status_set

# Brisk parameters, so that a fresh demo trades within a minute or two of starting. Each of
# these fires on about one 1m candle in six (EMA 9/21 or RSI 14 30/70 trade a few times an
# hour); two strategies on each of the three markets make a closed candle with an entry on one
# of them about two times in three. From any start minute of the seeded market, an entry comes
# on the newest candle or one of the next two in about 95 % of starts
# (tests/strategies/test_evaluation_demo.py measures it on a fixed week of seed 7).
_BREAKOUT = {"kind": "donchian", "params": {"entry_period": 2, "exit_period": 2}}
_RSI = {"kind": "rsi", "params": {"period": 2, "oversold": 49, "overbought": 51}}
DEMO_STRATEGIES = (
    {"name": "Demo EMA crossover BTC", "kind": "ema_cross", "symbol": "BTC/USDT", "params": {"fast": 2, "slow": 3}},
    {"name": "Demo breakout BTC", "symbol": "BTC/USDT", **_BREAKOUT},
    {"name": "Demo RSI ETH", "symbol": "ETH/USDT", **_RSI},
    {"name": "Demo breakout ETH", "symbol": "ETH/USDT", **_BREAKOUT},
    {"name": "Demo RSI SOL", "symbol": "SOL/USDT", **_RSI},
    {"name": "Demo breakout SOL", "symbol": "SOL/USDT", **_BREAKOUT},
)


def demo_strategies_ensure(account, *, allocation: Decimal = Decimal("100")) -> list[Strategy]:
    from apps.engine.strategies.registry import strategy_get

    strategies = []
    for spec in DEMO_STRATEGIES:
        market = Market.objects.filter(exchange=account.exchange, symbol=spec["symbol"]).first()
        if market is None:
            continue
        strategy, created = Strategy.objects.get_or_create(
            name=spec["name"],
            defaults={
                "kind": spec["kind"],
                "params": strategy_get(spec["kind"]).validate_params(spec["params"]),
                "timeframe": "1m",
                "account": account,
                "allocation_type": Strategy.Allocation.QUOTE,
                "allocation_value": allocation,
                "stop_loss_pct": Decimal("2"),
                "take_profit_pct": Decimal("4"),
                # The demo trades the simulated exchange: no real money, a paper period from the start.
                "stage": Strategy.Stage.PAPER,
                "stage_changed_at": timezone.now(),
            },
        )
        if created:
            strategy.markets.add(market)
            strategy = strategy_status_set(actor=None, strategy=strategy, status=Strategy.Status.RUNNING, reason="demo")
        strategies.append(strategy)
    return strategies
