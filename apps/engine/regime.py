"""The market's regime on recent candles: trending, ranging or volatile (pure numpy/TA-Lib).

On the newest `lookback` candles (oldest first):
- volatile: the average true range of the last `period` candles, in % of the close, is at
  least `expansion` times the window's median (the market moves far more than it usually does
  on this timeframe);
- trending: otherwise, Wilder's ADX at least `adx_trend` and Kaufman's efficiency ratio over
  the last 2 x `period` candles at least `er_trend` (the price went somewhere, not back and
  forth);
- ranging: neither.
The thresholds are parameters; the defaults are the usual readings of ADX 25 and ER 0.3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apps.engine import indicators

TRENDING, RANGING, VOLATILE = "trending", "ranging", "volatile"
LABELS = (TRENDING, RANGING, VOLATILE)


@dataclass(frozen=True)
class Regime:
    label: str
    adx: float
    efficiency_ratio: float
    atr_pct: float  # the newest ATR in % of the newest close
    atr_ratio: float  # the newest ATR over the window's median ATR

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "adx": round(self.adx, 2),
            "efficiency_ratio": round(self.efficiency_ratio, 3),
            "atr_pct": round(self.atr_pct, 3),
            "atr_ratio": round(self.atr_ratio, 2),
        }


def efficiency_ratio(close: np.ndarray, length: int) -> float:
    """|net move| / sum of |moves| over the last `length` candles: 1 a straight line, ~0 noise."""
    window = close[-(length + 1) :]
    path = float(np.abs(np.diff(window)).sum())
    return abs(float(window[-1] - window[0])) / path if path > 0 else 0.0


def regime_classify(
    high,
    low,
    close,
    *,
    period: int = 14,
    lookback: int = 120,
    expansion: float = 1.5,
    adx_trend: float = 25.0,
    er_trend: float = 0.3,
) -> Regime | None:
    """The regime of the newest candles, or None with fewer than 4 x `period` candles."""
    high, low, close = (indicators.as_float64(v, name=n)[-lookback:] for v, n in ((high, "high"), (low, "low"), (close, "close")))
    if close.size < 4 * period:
        return None
    atr = indicators.atr(high, low, close, period)
    adx = indicators.adx(high, low, close, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        atr_pct_series = atr / close * 100
    known = atr_pct_series[np.isfinite(atr_pct_series)]
    median_pct = float(np.median(known))
    atr_pct = float(atr_pct_series[-1]) if np.isfinite(atr_pct_series[-1]) else 0.0
    adx_now = float(adx[-1]) if not np.isnan(adx[-1]) else 0.0
    ratio = atr_pct / median_pct if median_pct > 0 else 1.0
    er = efficiency_ratio(close, 2 * period)
    if ratio >= expansion:
        label = VOLATILE
    elif adx_now >= adx_trend and er >= er_trend:
        label = TRENDING
    else:
        label = RANGING
    return Regime(label=label, adx=adx_now, efficiency_ratio=er, atr_pct=atr_pct, atr_ratio=ratio)
