from apps.strategies.models.strategy import Strategy, StrategyEvaluation

__all__ = ["Strategy", "StrategyEvaluation"]
from apps.strategies.models.backtest_run import BacktestRun  # noqa: F401 - the package exposes its models
