"""Pair selection: every active market scored once a day on volatility, volume and risk-adjusted
momentum against the others; shown on the data page; a strategy's "top N markets by score"."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from apps.common.errors import Invalid
from apps.engine.pair_scores import market_figures, pair_scores
from apps.exchanges.models import ExchangeAccount
from apps.markets.models import CollectorStatus, MarketScore
from apps.markets.scores import market_scores_refresh
from apps.markets.selectors import markets_top_scored
from apps.markets.services import CandleRow, candles_upsert
from apps.strategies.models import Strategy, StrategyEvaluation
from apps.strategies.services.evaluation import strategy_decide
from apps.strategies.validation import strategy_config_validate
from tests.markets.factories import market_make

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
HOURS = 30 * 24


def path(kind: str, *, seed: int = 1) -> np.ndarray:
    """Hourly closes: a volatile rise (+60 % over the month, 0.5 % noise an hour: a trend three
    times its noise) or a flat line with a hair of noise."""
    rng = np.random.default_rng(seed)
    if kind == "volatile uptrend":
        steps = np.log(1.6) / HOURS + rng.normal(0, 0.005, HOURS)
    else:
        steps = rng.normal(0, 0.0005, HOURS)
    return 100.0 * np.exp(np.cumsum(steps))


def market_stored(symbol: str, closes: np.ndarray, *, volume: str = "50"):
    market = market_make(symbol=symbol)
    start = NOW - timedelta(hours=len(closes))
    rows = []
    previous = closes[0]
    for index, close in enumerate(closes):
        open_, close = Decimal(f"{previous:.4f}"), Decimal(f"{close:.4f}")
        rows.append(
            CandleRow(start + timedelta(hours=index), open_, max(open_, close), min(open_, close), close, Decimal(volume))
        )
        previous = float(close)
    candles_upsert(market=market, timeframe="1h", rows=rows)
    CollectorStatus.objects.update_or_create(market=market, timeframe="1h", defaults={"last_candle_time": rows[-1].open_time})
    return market


def test_the_engine_ranks_a_volatile_uptrend_above_a_flat_market():
    bar = 3600
    up = market_figures(path("volatile uptrend"), np.full(HOURS, 50.0), bar_seconds=bar)
    flat = market_figures(path("flat"), np.full(HOURS, 50.0), bar_seconds=bar)
    assert up.volatility > 10 * flat.volatility and up.momentum > 1
    scores = pair_scores({"up": up, "flat": flat})
    assert scores["up"].rank == 1 and scores["flat"].rank == 2
    assert scores["up"].z_volatility > 0 > scores["flat"].z_volatility
    assert scores["up"].z_momentum > 0 > scores["flat"].z_momentum


def test_too_few_candles_are_not_scored_and_one_market_alone_scores_zero():
    assert market_figures(np.ones(5), np.ones(5), bar_seconds=60) is None
    alone = pair_scores({"x": market_figures(path("flat"), np.ones(HOURS), bar_seconds=3600)})
    assert alone["x"].score == 0 and alone["x"].rank == 1


@pytest.fixture
def markets(db):
    up = market_stored("SOL/USDT", path("volatile uptrend"))
    flat = market_stored("ETH/USDT", path("flat", seed=2))
    return up, flat


def test_the_daily_task_stores_the_days_scores_once_best_first(markets):
    up, flat = markets
    rows = market_scores_refresh(now=NOW, lookback_days=30)
    assert [row.market_id for row in rows] == [up.pk, flat.pk]
    market_scores_refresh(now=NOW + timedelta(hours=1), lookback_days=30)  # run again the same day: replaced, not added
    stored = MarketScore.objects.filter(day=NOW.date())
    assert stored.count() == 2 and stored.get(market=up).rank == 1
    assert stored.get(market=up).timeframe == "1h" and stored.get(market=up).bars > 600
    assert markets_top_scored(market_ids=[flat.pk, up.pk], count=1) == [up.pk]


def test_the_data_page_shows_the_scores_best_first(markets, client, django_user_model):
    up, flat = markets
    market_scores_refresh(now=NOW, lookback_days=30)
    client.force_login(django_user_model.objects.create_user("viewer", password="x"))
    page = client.get("/data/").content.decode()
    assert 'id="scores"' in page
    assert page.index(f'id="score-{up.pk}"') < page.index(f'id="score-{flat.pk}"')
    assert "SOL/USDT" in page and "ETH/USDT" in page


def test_the_data_page_says_when_nothing_is_scored_yet(db, client, django_user_model):
    client.force_login(django_user_model.objects.create_user("viewer", password="x"))
    assert "No pair scores yet" in client.get("/data/").content.decode()


def always_entering(markets, *, top: int | None) -> Strategy:
    account = ExchangeAccount.objects.create(name="paper", exchange=markets[0].exchange, mode="paper")
    strategy = Strategy.objects.create(
        name="always in",
        kind="rules",
        params={"entry": "close > 0", "exit": "close < 0"},
        account=account,
        timeframe="1h",
        markets_top=top,
        status=Strategy.Status.RUNNING,
    )
    strategy.markets.set(markets)
    return strategy


def test_top_one_by_score_enters_only_the_best_scored_market_resolved_at_evaluation(markets):
    up, flat = markets
    strategy = always_entering(markets, top=1)
    candle = NOW - timedelta(hours=1)
    market_scores_refresh(now=NOW, lookback_days=30)
    outcome, _, wanted = strategy_decide(strategy=strategy, market_id=up.pk, candle_time=candle)
    assert outcome == StrategyEvaluation.Outcome.SIGNAL and [w.intent for w in wanted] == ["open"]
    outcome, detail, wanted = strategy_decide(strategy=strategy, market_id=flat.pk, candle_time=candle)
    assert outcome == StrategyEvaluation.Outcome.NOTHING and wanted == []
    assert "not among the top 1" in detail
    # A new day's scores turn the ranking round: the same strategy now enters the other market.
    MarketScore.objects.filter(market=flat).update(score=9, rank=1)
    MarketScore.objects.filter(market=up).update(score=-9, rank=2)
    assert strategy_decide(strategy=strategy, market_id=flat.pk, candle_time=candle)[0] == StrategyEvaluation.Outcome.SIGNAL


def test_without_top_n_every_market_enters(markets):
    strategy = always_entering(markets, top=None)
    outcome, _, _ = strategy_decide(strategy=strategy, market_id=markets[1].pk, candle_time=NOW - timedelta(hours=1))
    assert outcome == StrategyEvaluation.Outcome.SIGNAL


def test_top_n_is_checked_by_the_one_strategy_validation(markets):
    values = {"markets": list(markets), "markets_top": 3}
    with pytest.raises(Invalid) as refused:
        strategy_config_validate(values)
    assert "Top 3 markets by score needs at least 3 markets; 2 chosen" in refused.value.fields["markets_top"][0]
    with pytest.raises(Invalid) as refused:
        strategy_config_validate({"markets": list(markets), "markets_top": 0})
    assert "whole number from 1" in refused.value.fields["markets_top"][0]
    assert strategy_config_validate({"markets": list(markets), "markets_top": 2})["markets_top"] == 2
    assert strategy_config_validate({"markets": list(markets), "markets_top": None})["markets_top"] is None
