from apps.strategies.models.backtest_job import BacktestJob
from apps.strategies.models.backtest_run import BacktestRun
from apps.strategies.models.promotion import PromotionPolicy
from apps.strategies.models.strategy import Strategy, StrategyEvaluation

__all__ = ["BacktestJob", "BacktestRun", "PromotionPolicy", "Strategy", "StrategyEvaluation"]
