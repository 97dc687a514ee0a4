from apps.strategies.services.lifecycle import strategy_status_set

__all__ = ["strategy_status_set"]
