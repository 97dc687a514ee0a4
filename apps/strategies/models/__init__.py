from apps.strategies.models.strategy import Strategy, StrategyEvaluation

__all__ = ["Strategy", "StrategyEvaluation"]
