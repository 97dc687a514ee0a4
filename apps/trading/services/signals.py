"""Signals: stored before anything else happens to them, with a deterministic key."""

import hashlib
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from apps.common.events import event_build, event_record
from apps.common.models import Event
from apps.trading.models import Signal


def signal_key(*, strategy_id: int | None, market_id: int, candle_time: datetime, action: str) -> str:
    return f"s{strategy_id or 0}:m{market_id}:{int(candle_time.timestamp())}:{action}"


def client_order_id_for(signal: Signal, attempt: int = 0) -> str:
    """Deterministic, so a retried placement finds the order it already made (Binance allows
    36 characters from [A-Za-z0-9._:/-])."""
    digest = hashlib.sha256(signal.key.encode()).hexdigest()[:28]
    return f"td{digest}" if attempt == 0 else f"td{digest[:26]}r{attempt}"


def signal_create(
    *,
    strategy,
    market_id: int,
    candle_time: datetime,
    action: str,
    side: str,
    intent: str,
    price: Decimal,
    stop_loss=None,
    take_profit=None,
    size=None,
    indicators=None,
    source: str = Signal.Source.STRATEGY,
    reason: str = "",
    key: str | None = None,
    account_id: int | None = None,
) -> Signal:
    """Create the signal once (a second call with the same key returns the first)."""
    key = key or signal_key(
        strategy_id=strategy.pk if strategy else None, market_id=market_id, candle_time=candle_time, action=action
    )
    with transaction.atomic(savepoint=False):  # nested: an error undoes the caller's transaction anyway
        existing = Signal.objects.filter(key=key).first()
        if existing:
            return existing
        signal = Signal.objects.create(
            strategy=strategy,
            account_id=account_id or strategy.account_id,
            market_id=market_id,
            candle_time=candle_time,
            side=side,
            intent=intent,
            source=source,
            price=price,
            size=size,
            stop_loss=stop_loss,
            take_profit=take_profit,
            indicators=indicators or {},
            key=key,
            reason=reason or _reason(action, price, indicators or {}),
        )
        event_record("signal.created", signal_payload(signal), account=signal.account_id)
    return signal


def _reason(action: str, price: Decimal, indicators: dict) -> str:
    shown = ", ".join(f"{name}={value:.6g}" for name, value in indicators.items() if value is not None)
    return f"{action.replace('_', ' ')} at close {price}" + (f" ({shown})" if shown else "")


def signal_payload(signal: Signal) -> dict:
    return {
        "signal": signal.pk,
        "strategy": signal.strategy_id,
        "market": signal.market_id,
        "side": signal.side,
        "intent": signal.intent,
        "price": str(signal.price),
        "time": int(signal.candle_time.timestamp()),
        "status": signal.status,
        "reason": signal.rejection_reason or signal.reason,
    }


def signal_reject(*, signal: Signal, reason: str) -> None:
    """Inside the caller's transaction."""
    Signal.objects.filter(pk=signal.pk).update(status=Signal.Status.REJECTED, rejection_reason=reason[:4000])
    signal.status, signal.rejection_reason = Signal.Status.REJECTED, reason
    event_record("signal.rejected", signal_payload(signal), account=signal.account_id)


def signal_rejected_outbox(signal: Signal) -> Event:
    """The (unsaved) outbox event of a signal rejected by a batch placement."""
    return event_build("signal.rejected", signal_payload(signal), account=signal.account_id)
