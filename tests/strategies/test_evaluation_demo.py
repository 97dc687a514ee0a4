from datetime import UTC, datetime

import numpy as np
import pytest

from apps.desk.demo_strategies import DEMO_STRATEGIES, demo_strategies_ensure
from apps.engine.market_sim import MarketSim
from apps.engine.strategies.registry import strategy_build
from apps.markets.models import Market
from apps.strategies.models import Strategy
from tests.trading.factories import account_make, fresh_market

DEMO_SEED = 7  # SIMEXCHANGE_SEED's default: the market a new user's demo trades


@pytest.mark.django_db
def test_the_demo_starts_two_brisk_strategies_on_each_market_once():
    account = account_make(name="sim")
    for symbol in ("BTC/USDT", "ETH/USDT", "SOL/USDT"):
        fresh_market(symbol=symbol)

    first = demo_strategies_ensure(account)
    again = demo_strategies_ensure(account)

    assert [s.pk for s in first] == [s.pk for s in again]
    assert sorted((s.kind, s.markets.get().symbol, s.timeframe, s.status) for s in Strategy.objects.all()) == [
        ("donchian", "BTC/USDT", "1m", "running"),
        ("donchian", "ETH/USDT", "1m", "running"),
        ("donchian", "SOL/USDT", "1m", "running"),
        ("ema_cross", "BTC/USDT", "1m", "running"),
        ("rsi", "ETH/USDT", "1m", "running"),
        ("rsi", "SOL/USDT", "1m", "running"),
    ]
    assert Strategy.objects.get(kind="ema_cross").params == {"fast": 2, "slow": 3, "allow_short": False}  # brisk for a demo
    assert Market.objects.count() == 3


def demo_entry_minutes(start: datetime, days: int) -> np.ndarray:
    """For each 1m candle of the seeded market: does any demo strategy enter on it?"""
    sim = MarketSim(seed=DEMO_SEED)
    start_ms = int(start.timestamp() * 1000)
    entries = None
    for spec in DEMO_STRATEGIES:
        candles = sim.candles_1m(spec["symbol"], start_ms, start_ms + days * 86_400_000)
        entry = np.asarray(strategy_build(spec["kind"], spec["params"]).signals(candles).entry_long, dtype=bool)
        entries = entry if entries is None else entries | entry
    return entries[600:]  # past every warm-up


def test_from_almost_any_start_a_demo_strategy_enters_on_the_newest_candle_or_one_of_the_next_two():
    """The first order of a fresh demo comes within 3 minutes of the banner: the desk evaluates
    the newest candle at start and two more close in the next 2-3 minutes (a fill follows its
    candle's close within seconds)."""
    entries = demo_entry_minutes(datetime(2026, 1, 5, tzinfo=UTC), days=7)
    windows = np.lib.stride_tricks.sliding_window_view(entries, 3)

    share_with_an_entry = windows.any(axis=1).mean()

    assert share_with_an_entry >= 0.93, share_with_an_entry
