"""Pair selection: score every active market once a day on volatility, volume and
risk-adjusted momentum (the maths is engine/pair_scores.py) and store the day's MarketScores.

Each market is scored on the coarsest timeframe up to 1d its collectors store candles of (the
figures are annualised or per bar-noise, so they compare across timeframes), over the last
`lookback_days`. A market with fewer than engine.pair_scores.MIN_BARS candles there is not
scored that day. Re-running a day replaces that day's scores (one row per market and day)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction

from apps.engine.pair_scores import market_figures, pair_scores
from apps.markets.models import CollectorStatus, Market, MarketScore
from apps.markets.selectors import candles_between
from apps.markets.timeframes import TIMEFRAME_SECONDS

MAX_TIMEFRAME_SECONDS = 86_400


def market_scores_refresh(*, now: datetime | None = None, lookback_days: int | None = None) -> list[MarketScore]:
    """Score the active markets over the lookback ending `now`; the rows of today (UTC), best first."""
    now = now or datetime.now(UTC)
    lookback_days = lookback_days or settings.MARKETS_SCORE_LOOKBACK_DAYS
    start = now - timedelta(days=lookback_days)
    figures, timeframes = {}, {}
    for market in Market.objects.filter(active=True).order_by("pk"):
        timeframe = _timeframe_of(market)
        if timeframe is None:
            continue
        candles = candles_between(market=market, timeframe=timeframe, start=start, end=now)
        found = market_figures(candles.close, candles.volume, bar_seconds=TIMEFRAME_SECONDS[timeframe])
        if found is not None:
            figures[market.pk], timeframes[market.pk] = found, timeframe
    scores = pair_scores(figures, settings.MARKETS_SCORE_WEIGHTS)
    day = now.astimezone(UTC).date()
    rows = [
        MarketScore(
            market_id=market_id,
            day=day,
            timeframe=timeframes[market_id],
            lookback_days=lookback_days,
            bars=score.figures.bars,
            volatility=score.figures.volatility,
            volume=score.figures.volume,
            momentum=score.figures.momentum,
            z_volatility=score.z_volatility,
            z_volume=score.z_volume,
            z_momentum=score.z_momentum,
            score=score.score,
            rank=score.rank,
        )
        for market_id, score in scores.items()
    ]
    with transaction.atomic():
        MarketScore.objects.filter(day=day).delete()  # the day's ranks are relative to one another: all or nothing
        MarketScore.objects.bulk_create(rows)
    return sorted(rows, key=lambda row: row.rank)


def _timeframe_of(market: Market) -> str | None:
    stored = CollectorStatus.objects.filter(market=market, last_candle_time__isnull=False).values_list("timeframe", flat=True)
    usable = [tf for tf in stored if TIMEFRAME_SECONDS.get(tf, 0) <= MAX_TIMEFRAME_SECONDS]
    return max(usable, key=TIMEFRAME_SECONDS.get, default=None)
