"""The composed-rules strategy ("rules"): a trader's text rule, read and evaluated vectorised."""

import numpy as np
import pytest

from apps.engine.bias import bias_candles, bias_check
from apps.engine.strategies._common import ema_settling
from apps.engine.strategies.base import Candles, InvalidParamsError
from apps.engine.strategies.registry import strategy_build
from apps.engine.strategies.rules import rule_parse


def candles(closes) -> Candles:
    close = np.asarray(closes, dtype=np.float64)
    n = len(close)
    return Candles(np.arange(n, dtype=np.int64) * 60_000, close, close + 1, close - 1, close, np.ones(n))


def test_a_rule_reads_back_as_it_was_written_and_and_binds_before_or():
    rule = rule_parse("RSI(14) < 30 or close > sma(5) and roc(2) crosses_above 1.5")
    assert str(rule) == "rsi(14) < 30 or close > sma(5) and roc(2) crosses_above 1.5"
    strategy = strategy_build("rules", {"entry": "close > 10 or close > 100 and close < 0", "exit": "close < 0"})
    entries = strategy.signals(candles([5] * 10 + [20] * 10)).entry_long
    assert entries[10:].all() and not entries[:10].any(), "a or (b and c): 20 > 10 holds on its own"


def test_a_cross_fires_once_when_the_close_passes_its_average():
    strategy = strategy_build("rules", {"entry": "close crosses_above sma(3)", "exit": "close crosses_below sma(3)"})
    signals = strategy.signals(candles([10, 10, 10, 10, 10, 12, 13, 14, 9, 8]))
    assert list(np.flatnonzero(signals.entry_long)) == [5]
    assert list(np.flatnonzero(signals.exit_long)) == [8]
    assert "sma(3)" in signals.indicators


def test_every_mistake_in_both_rules_is_said_at_once_in_a_traders_words():
    with pytest.raises(InvalidParamsError) as refused:
        strategy_build("rules", {"entry": "macd(12) > 0", "exit": "rsi(14) above 70"})
    assert "'macd(12)' is not an operand; use close, sma(n)" in refused.value.errors["entry"]
    assert "after rsi(14) write one of >, <, crosses_above, crosses_below; got 'above'" in refused.value.errors["exit"]
    with pytest.raises(InvalidParamsError) as refused:
        strategy_build("rules", {"entry": "sma(1) > 3", "exit": ""})
    assert "from 2 to 2000, got '1'" in refused.value.errors["entry"]
    assert "write at least one condition" in refused.value.errors["exit"]


def test_the_warm_up_covers_the_slowest_operand_and_the_rule_passes_the_bias_checks():
    strategy = strategy_build("rules", {"entry": "ema(50) crosses_above sma(100) and chan(20) > 80", "exit": "bbp(20) > 95"})
    assert strategy.warmup_period == 50 + ema_settling(50) + 2 > 100 + 2  # the EMA's seed fades below 0.1 %
    assert bias_check(strategy, bias_candles(strategy.warmup_period + 200, seed=2)).passed
