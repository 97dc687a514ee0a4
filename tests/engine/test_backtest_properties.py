"""Properties that must hold for any market and any signals (hypothesis)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.engine.backtest import BacktestConfig, backtest
from apps.engine.fills import FeeSchedule, MarketRules
from apps.engine.sizing import Sizing
from apps.engine.strategies.base import Candles, SignalArrays
from tests.engine.backtest_support import random_walk_candles

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def random_signals(count: int, seed: int, density: float) -> SignalArrays:
    rng = np.random.default_rng(seed)
    return SignalArrays(*(rng.random(count) < density for _ in range(4)))


def head(candles: Candles, count: int) -> Candles:
    return Candles(
        candles.time[:count],
        candles.open[:count],
        candles.high[:count],
        candles.low[:count],
        candles.close[:count],
        candles.volume[:count],
        candles.timeframe,
    )


def head_signals(signals: SignalArrays, count: int) -> SignalArrays:
    return SignalArrays(
        signals.entry_long[:count], signals.exit_long[:count], signals.entry_short[:count], signals.exit_short[:count]
    )


configs = st.builds(
    BacktestConfig,
    fees=st.builds(
        FeeSchedule,
        maker=st.sampled_from([0.0, 0.0002]),
        taker=st.sampled_from([0.0, 0.001]),
        slippage_bps=st.sampled_from([0.0, 5.0]),
    ),
    fill_at=st.sampled_from(["next_open", "close"]),
    sizing=st.sampled_from([Sizing(), Sizing("percent_equity", 0.3), Sizing("fixed_quote", 2_500.0)]),
    stop_loss_pct=st.sampled_from([None, 0.01, 0.03]),
    take_profit_pct=st.sampled_from([None, 0.02]),
    trailing_stop_pct=st.sampled_from([None, 0.015]),
    precision=st.sampled_from([{}, {"A": MarketRules(amount_step=0.001, price_tick=0.01, min_notional=10)}]),
)


@SETTINGS
@given(seed=st.integers(0, 10_000), density=st.sampled_from([0.01, 0.05, 0.3]), config=configs, cut=st.integers(50, 350))
def test_appending_future_candles_never_changes_past_trades(seed, density, config, cut):
    candles, signals = random_walk_candles(400, seed=seed), random_signals(400, seed, density)
    full = backtest({"A": candles}, {"A": signals}, config)
    past = backtest({"A": head(candles, cut)}, {"A": head_signals(signals, cut)}, config)
    # Trades that the shorter run closed for real (not at its end of data) are the same trades.
    real = [trade for trade in past.trades if trade.exit_reason != "end_of_data"]
    assert repr(real) == repr(full.trades[: len(real)])
    # ... and the fills before its last candle too.
    early = [fill for fill in past.fills if fill.bar < cut - 1]
    assert repr(early) == repr(full.fills[: len(early)])


@SETTINGS
@given(seed=st.integers(0, 10_000), density=st.sampled_from([0.02, 0.2]), config=configs, close_at_end=st.booleans())
def test_final_equity_is_initial_plus_realised_plus_unrealised_minus_fees(seed, density, config, close_at_end):
    config = BacktestConfig(**{**config.__dict__, "close_at_end": close_at_end})
    markets = {name: random_walk_candles(300, seed=seed + k) for k, name in enumerate(("A", "B"))}
    signals = {name: random_signals(300, seed + 7 * k, density) for k, name in enumerate(markets)}
    result = backtest(markets, signals, config)
    trades = result.trade_table
    side = trades["side"]
    realised = float(np.sum(side * trades["quantity"] * (trades["exit_price"] - trades["entry_price"])))
    unrealised = sum(position.unrealised_pnl for position in result.open_positions)
    fees = float(trades["fees"].sum()) + sum(position.entry_fee for position in result.open_positions)
    expected = config.initial_balance + realised + unrealised - fees
    assert abs(result.final_equity - expected) <= 1e-9 * abs(expected)
    assert abs(float(result.fill_table["fee"].sum()) - fees) <= 1e-9 * max(fees, 1.0)


@SETTINGS
@given(seed=st.integers(0, 10_000), config=configs)
def test_a_strategy_that_never_trades_has_flat_equity_and_no_ratios(seed, config):
    candles = random_walk_candles(500, seed=seed)
    nothing = np.zeros(500, dtype=bool)
    result = backtest({"A": candles}, {"A": SignalArrays(nothing, nothing, nothing, nothing)}, config)
    assert result.trades == [] and np.all(result.equity == config.initial_balance)
    metrics = result.metrics
    for name in ("sharpe", "sortino", "calmar", "profit_factor", "win_rate_pct", "expectancy", "average_win"):
        assert metrics[name] is None, name
    assert metrics["total_return_pct"] == 0.0 and metrics["max_drawdown_pct"] == 0.0


@SETTINGS
@given(seed=st.integers(0, 10_000), density=st.sampled_from([0.05, 0.3]), config=configs)
def test_the_same_inputs_give_the_same_trades_byte_for_byte(seed, density, config):
    candles, signals = random_walk_candles(300, seed=seed), random_signals(300, seed, density)
    first = backtest({"A": candles}, {"A": signals}, config)
    second = backtest({"A": candles}, {"A": signals}, config)
    assert repr(first.trades) == repr(second.trades) and first.equity.tobytes() == second.equity.tobytes()
