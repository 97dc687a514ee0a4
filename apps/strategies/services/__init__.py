from apps.strategies.services.evaluation import strategies_on_candles_closed, strategy_evaluate
from apps.strategies.services.lifecycle import strategy_failure_record, strategy_status_set, strategy_success_record

__all__ = [
    "strategies_on_candles_closed", "strategy_evaluate", "strategy_failure_record",
    "strategy_status_set", "strategy_success_record",
]
