"""Walk-forward analysis, pure: fold windows, the out-of-sample equity stitched across folds,
parameter stability and the walk-forward efficiency.

Folds: the test windows are consecutive and never overlap, the last one ends at the end of
the data. Rolling: each train window is the `train_ms` just before its test window. Anchored:
every train window starts at the start of the data and grows. A train window always ends
where its test window starts, so no test candle is ever trained on.

Stitching: every fold's test backtest starts with the same balance; the stitched curve adds
each fold's profit and loss to what the folds before it made, so its final equity is the
initial balance plus the sum of the folds' results.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

DAY_MS = 86_400_000


class WalkForwardError(ValueError):
    """Folds that do not fit the data (the message says what to change)."""


@dataclass(frozen=True)
class Fold:
    index: int
    train_start: int  # ms UTC, inclusive
    train_end: int  # exclusive; == test_start
    test_start: int
    test_end: int  # exclusive


def walk_forward_folds(start_ms: int, end_ms: int, *, folds: int, train_ms: int, test_ms: int, anchored: bool) -> list[Fold]:
    if folds < 1 or train_ms <= 0 or test_ms <= 0:
        raise WalkForwardError("folds, train and test lengths must be positive")
    first_test = end_ms - folds * test_ms
    if first_test - train_ms < start_ms:
        days = (end_ms - start_ms) / DAY_MS
        need = (folds * test_ms + train_ms) / DAY_MS
        raise WalkForwardError(
            f"{folds} folds need {need:g} days of candles ({days:.4g} stored in the span): fewer folds or shorter windows"
        )
    result = []
    for index in range(folds):
        test_start = first_test + index * test_ms
        train_start = start_ms if anchored else test_start - train_ms
        result.append(Fold(index, train_start, test_start, test_start, test_start + test_ms))
    return result


def equity_stitched(curves: list[tuple[np.ndarray, np.ndarray]], initial: float) -> tuple[np.ndarray, np.ndarray]:
    """(time, equity) of the folds' test curves joined: each curve's P&L on top of the
    folds before it. `curves` are (time, equity) per fold, in time order, each from `initial`."""
    times, values, carried = [], [], 0.0
    for time, equity in curves:
        times.append(np.asarray(time, dtype=np.int64))
        values.append(np.asarray(equity, dtype=np.float64) + carried)
        carried += float(equity[-1]) - initial
    if not times:
        return np.array([], dtype=np.int64), np.array([], dtype=np.float64)
    return np.concatenate(times), np.concatenate(values)


def parameter_stability(chosen: list[dict]) -> dict[str, dict]:
    """Per param, across folds: the values chosen, and how steady they are: for numbers the
    coefficient of variation (std / |mean|, 0 = the same every fold), for others the share of
    folds that chose the most common value."""
    names = sorted({name for params in chosen for name in params})
    report = {}
    for name in names:
        values = [params.get(name) for params in chosen]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric:
            array = np.asarray(values, dtype=np.float64)
            mean = float(array.mean())
            variation = float(array.std() / abs(mean)) if mean else float(array.std())
            report[name] = {"values": values, "mean": mean, "coefficient_of_variation": variation}
        else:
            value, count = Counter(map(str, values)).most_common(1)[0]
            report[name] = {"values": values, "most_common": value, "share": count / len(values)}
    return report


def walk_forward_efficiency(in_sample: list[tuple[float, float]], out_of_sample: list[tuple[float, float]]) -> float | None:
    """Out-of-sample return per day over in-sample return per day, from (return %, days) per
    fold. 1 means the tests earned at the pace of the training; near 0 or below, the
    optimisation fitted noise. None when the training earned nothing to compare with."""
    is_rate = sum(r for r, _ in in_sample) / max(sum(d for _, d in in_sample), 1e-9)
    oos_rate = sum(r for r, _ in out_of_sample) / max(sum(d for _, d in out_of_sample), 1e-9)
    if is_rate <= 0:
        return None
    return oos_rate / is_rate
