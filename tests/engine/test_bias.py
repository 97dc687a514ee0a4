"""Bias checks: every registered strategy passes; a strategy that reads the next candle, or one
that remembers the start of its history, fails with the first bar and column that differ."""

import numpy as np
import pytest

from apps.engine import indicators as ind
from apps.engine.bias import LOOK_AHEAD, RECURSIVE, bias_candles, bias_check
from apps.engine.strategies._common import signal_arrays
from apps.engine.strategies.base import Candles, Param, SignalArrays, Strategy
from apps.engine.strategies.registry import strategy_build, strategy_classes


class PeeksAtTheNextClose(Strategy):
    """Buys when the NEXT candle closes higher: perfect hindsight, the classic look-ahead."""

    name = "test_peeks_ahead"

    @property
    def warmup_period(self) -> int:
        return 10

    def signals(self, candles: Candles) -> SignalArrays:
        next_close = np.r_[candles.close[1:], np.nan]
        return signal_arrays(
            len(candles),
            self.warmup_period,
            entry_long=next_close > candles.close,
            exit_long=next_close < candles.close,
            indicators={},
        )


class RemembersTheAllTimeHigh(Strategy):
    """Buys a new high of ALL the history it was given: the answer depends on where that begins."""

    name = "test_all_time_high"

    @property
    def warmup_period(self) -> int:
        return 20

    def signals(self, candles: Candles) -> SignalArrays:
        all_time_high = np.maximum.accumulate(candles.high)
        return signal_arrays(
            len(candles),
            self.warmup_period,
            entry_long=candles.close >= ind.shift(all_time_high),
            exit_long=candles.close < ind.sma(candles.close, 10),
            indicators={"all_time_high": all_time_high},
        )


class ShortWarmupEma(Strategy):
    """An EMA with a warm-up of only its period: its seed still weighs a lot when the checks start."""

    name = "test_short_warmup_ema"
    params_schema = (Param("period", int, 50, min=2, max=500),)

    @property
    def warmup_period(self) -> int:
        return self.params["period"]

    def signals(self, candles: Candles) -> SignalArrays:
        average = ind.ema(candles.close, self.params["period"])
        return signal_arrays(
            len(candles),
            self.warmup_period,
            entry_long=ind.crossed_above(candles.close, average),
            exit_long=ind.crossed_below(candles.close, average),
            indicators={"ema": average},
        )


class ShortWarmupEmaDeclaringItsTolerance(ShortWarmupEma):
    name = "test_short_warmup_ema_tolerant"
    recursive_tolerance = 0.2


def history(strategy: Strategy, bars: int = 300, seed: int = 5) -> Candles:
    timeframe = strategy.params.get("entry_timeframe", "1m")
    return bias_candles(strategy.warmup_period + bars, timeframe=timeframe, seed=seed)


@pytest.mark.parametrize("name", sorted(strategy_classes()))
@pytest.mark.parametrize("seed", [0, 11])
def test_every_registered_strategy_passes_both_bias_checks(name, seed):
    strategy = strategy_build(name)
    candles = history(strategy, seed=seed)
    report = bias_check(strategy, candles)
    assert report.passed, [str(finding) for finding in report.findings]
    assert report.cuts_checked == len(candles) - strategy.warmup_period  # every bar after warm-up ends a cut
    signals = strategy.signals(candles) if not strategy.informative_timeframes() else None
    if signals is not None:  # the comparison covered real decisions, not only empty flags
        assert signals.entry_long.any() or signals.exit_long.any(), f"{name} decided nothing on this market"


def test_a_strategy_reading_the_next_close_fails_the_look_ahead_check_at_its_first_signal():
    strategy = PeeksAtTheNextClose()
    candles = history(strategy)
    report = bias_check(strategy, candles)
    full = strategy.signals(candles)
    first_decision = min(np.flatnonzero(full.entry_long)[0], np.flatnonzero(full.exit_long)[0])
    finding = report.look_ahead
    assert finding is not None and finding.check == LOOK_AHEAD
    assert finding.bar == first_decision
    assert finding.column == ("entry_long" if full.entry_long[first_decision] else "exit_long")
    assert finding.full_value == 1.0 and finding.other_value == 0.0  # the cut history cannot know the next close
    assert f"bar {first_decision} " in str(finding) and finding.column in str(finding)
    assert f"cut after bar {first_decision}" in str(finding)


def test_a_strategy_remembering_its_first_candle_fails_the_recursive_check_but_not_the_look_ahead_one():
    strategy = RemembersTheAllTimeHigh()
    candles = history(strategy)
    candles.high[0] = candles.high.max() * 2  # the first candle's high stays the all-time high forever
    report = bias_check(strategy, candles)
    assert report.look_ahead is None
    finding = report.recursive
    assert finding is not None and finding.check == RECURSIVE
    assert finding.column == "indicator all_time_high"
    assert finding.bar == strategy.warmup_period  # the first bar compared for the history starting at bar 1
    assert finding.full_value == candles.high[0]
    assert "the history starting at bar 1" in str(finding)


def test_a_short_warm_up_fails_the_recursive_check_unless_the_strategy_declares_a_wider_tolerance():
    strict, tolerant = ShortWarmupEma(), ShortWarmupEmaDeclaringItsTolerance()
    candles = history(strict)
    failed = bias_check(strict, candles).recursive
    assert failed is not None and failed.column == "indicator ema"
    assert bias_check(tolerant, candles).passed


def test_an_ema_given_its_full_settling_warm_up_passes():
    class SettledEma(ShortWarmupEma):
        name = "test_settled_ema"

        @property
        def warmup_period(self) -> int:
            from apps.engine.strategies._common import ema_settling

            return self.params["period"] + ema_settling(self.params["period"])

    assert bias_check(SettledEma(), history(SettledEma())).passed


def test_a_history_no_longer_than_the_warm_up_is_refused_with_the_reason():
    strategy = strategy_build("ema_cross")
    with pytest.raises(ValueError, match="more than its warm-up of 95 candles"):
        bias_check(strategy, bias_candles(strategy.warmup_period))
