from apps.strategies.services.configuration import strategy_create, strategy_update
from apps.strategies.services.lifecycle import strategy_status_set

__all__ = ["strategy_create", "strategy_status_set", "strategy_update"]
