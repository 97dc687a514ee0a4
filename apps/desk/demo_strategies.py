"""The two demo strategies `make run` starts on the sim account (idempotent)."""

from decimal import Decimal

from apps.markets.models import Market
from apps.strategies.models import Strategy
from apps.strategies.services import strategy_status_set

# Brisk parameters so that a fresh demo shows signals, orders and fills within minutes
# (the defaults, EMA 9/21 and RSI 14 30/70, trade a few times an hour on 1m candles).
DEMO_STRATEGIES = (
    {"name": "Demo EMA crossover BTC", "kind": "ema_cross", "symbol": "BTC/USDT", "params": {"fast": 2, "slow": 5}},
    {"name": "Demo RSI ETH", "kind": "rsi", "symbol": "ETH/USDT", "params": {"period": 5, "oversold": 45, "overbought": 55}},
)


def demo_strategies_ensure(account, *, allocation: Decimal = Decimal("100")) -> list[Strategy]:
    from apps.engine.strategies.registry import strategy_get

    strategies = []
    for spec in DEMO_STRATEGIES:
        market = Market.objects.filter(exchange=account.exchange, symbol=spec["symbol"]).first()
        if market is None:
            continue
        strategy, created = Strategy.objects.get_or_create(name=spec["name"], defaults={
            "kind": spec["kind"], "params": strategy_get(spec["kind"]).validate_params(spec["params"]), "timeframe": "1m",
            "account": account, "allocation_type": Strategy.Allocation.QUOTE, "allocation_value": allocation,
            "stop_loss_pct": Decimal("2"), "take_profit_pct": Decimal("4")})
        if created:
            strategy.markets.add(market)
            strategy = strategy_status_set(actor=None, strategy=strategy, status=Strategy.Status.RUNNING, reason="demo")
        strategies.append(strategy)
    return strategies
