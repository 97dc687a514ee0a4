"""A seeded hourly market and the study a trader would start on it."""

from io import StringIO

from django.core.management import call_command

from apps.research.studies import StudyRequest
from apps.strategies.backtests.plan import BacktestRequest

TRAIN, TEST = "2025-01-01..2025-02-10", "2025-02-10..2025-03-01"


def hourly_market_seeded(symbol: str = "BTC/USDT") -> None:
    call_command(
        "generate_market",
        "--days",
        "60",
        "--timeframe",
        "1h",
        "--seed",
        "7",
        "--end",
        "2025-03-01",
        "--symbol",
        symbol,
        stdout=StringIO(),
    )


def ema_study_request(*, trials: int = 12, objective: str = "return_over_drawdown", **changes) -> StudyRequest:
    fields = dict(
        backtest=BacktestRequest(strategy="ema_cross", symbols=["BTC/USDT"], timeframe="1h"),
        train=TRAIN,
        test=TEST,
        trials=trials,
        objective=objective,
        sampler="tpe",
        space=["fast=3:20", "slow=21:60", "stop_loss=0.5:5:0.5"],
        seed=3,
    )
    return StudyRequest(**{**fields, **changes})
