"""What market data tells the rest of the desk, without knowing who listens."""

from django.dispatch import Signal

# Sent by the collector after new closed candles are committed.
# Arguments: market_id: int, timeframe: str, open_times: list[datetime] (UTC).
candles_closed = Signal()
