"""The desk's state as plain data for the risk rules: trading knows its book, risk only decides."""

from decimal import Decimal

from apps.engine.risk_rules import DeskState
from apps.strategies.models import Strategy


def desk_state(*, book, signal, price: Decimal) -> DeskState:
    """What the risk rules see for this signal: the account book (apps/trading/book.py), read
    under the account's row lock and kept current by the batch placing orders."""
    strategy, market_id = signal.strategy, signal.market_id
    equity = book.equity(signal.market.quote)
    peak, day_start = book.equity_marks(equity)
    return DeskState(
        kill_state=book.kill_state,
        strategy_running=strategy is None or strategy.status == Strategy.Status.RUNNING,
        equity=equity,
        peak_equity=peak,
        day_start_equity=day_start,
        market_exposure=book.exposure(market_id, price),
        open_positions=book.open_positions(),
        has_position_here=book.position_amount(market_id) > 0,
        holding_here=book.holding(market_id, signal.market.base),
        signals_last_minute_strategy=book.signal_rate.get(signal.pk, 0),
        last_price=book.last_price.get(market_id),
        data_fresh=book.fresh[(market_id, strategy.timeframe if strategy else "1m")],
        orders_last_minute_strategy=book.rate_strategy.get(strategy.pk, 0) if strategy else 0,
        orders_last_minute_account=book.rate_account,
        venue_down=book.venue_down,
        reconciling=book.reconciling,
    )
