"""The market regime on generated series: a steady climb is trending, an oscillation around a
level is ranging, a calm market that suddenly swings is volatile."""

import numpy as np
import pytest

from apps.engine.regime import RANGING, TRENDING, VOLATILE, regime_classify

N = 200


def bars(close, spread):
    return close * (1 + spread), close * (1 - spread), close


def trending_series(rng):
    t = np.arange(N)
    return 100 * np.exp(0.004 * t) * (1 + rng.normal(0, 0.001, N)), np.full(N, 0.002)


def ranging_series(rng):
    t = np.arange(N)
    return 100 * (1 + 0.02 * np.sin(2 * np.pi * t / 20)) * (1 + rng.normal(0, 0.001, N)), np.full(N, 0.002)


def volatile_series(rng):
    steps = np.concatenate([rng.normal(0, 0.002, N - 30), rng.normal(0, 0.03, 30)])
    return 100 * np.exp(np.cumsum(steps)), np.abs(steps) + 0.001


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(
    ("series", "label"), [(trending_series, TRENDING), (ranging_series, RANGING), (volatile_series, VOLATILE)]
)
def test_a_generated_market_gets_its_regime(series, label, seed):
    close, spread = series(np.random.default_rng(seed))
    regime = regime_classify(*bars(close, spread))
    assert regime.label == label, regime


def test_a_falling_market_trends_too():
    close, spread = trending_series(np.random.default_rng(7))
    assert regime_classify(*bars(close[::-1].copy(), spread)).label == TRENDING


def test_too_few_candles_have_no_regime():
    close, spread = trending_series(np.random.default_rng(1))
    assert regime_classify(*bars(close[:40], spread[:40])) is None


def test_the_figures_behind_the_label_are_kept():
    close, spread = ranging_series(np.random.default_rng(1))
    figures = regime_classify(*bars(close, spread)).as_dict()
    assert figures["label"] == RANGING and figures["efficiency_ratio"] < 0.3 and figures["atr_ratio"] < 1.5
