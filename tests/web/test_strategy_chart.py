"""The strategy page's chart data: a marker per signal on its candle, named as a trader reads it
(entry, exit, stop, target), with the indicator values that justified it, and the held
position's stop and target as lines."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from apps.trading.models import Position, Signal
from apps.web.cockpit import strategy_chart
from tests.trading.factories import account_make, fresh_market, strategy_make

pytestmark = pytest.mark.django_db


def signal(strategy, market, n: int, *, side="buy", intent="open", source="strategy", reason="", **fields) -> Signal:
    moment = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=10 - n, seconds=-17)
    return Signal.objects.create(
        strategy=strategy,
        account=strategy.account,
        market=market,
        candle_time=moment,
        side=side,
        intent=intent,
        source=source,
        reason=reason,
        price=D("100") + n,
        key=f"chart-{n}",
        **fields,
    )


def test_each_signal_is_a_marker_on_its_candle_with_its_kind_and_indicators():
    market = fresh_market(price=D("100"))
    strategy = strategy_make(account=account_make(), markets=[market])
    signal(strategy, market, 1, indicators={"rsi": 27.5})
    signal(strategy, market, 2, side="sell", intent="close", indicators={"rsi": 71.0})
    signal(strategy, market, 3, status="rejected", rejection_reason="kill switch HALTED")
    signal(
        strategy,
        market,
        4,
        side="sell",
        intent="close",
        source="protective",
        reason="protective exit (emulated by the desk): stop-loss 95 hit at 94",
    )
    signal(
        strategy,
        market,
        5,
        side="sell",
        intent="close",
        source="protective",
        reason="protective exit (emulated by the desk): take-profit 110 hit at 111",
    )
    Position.objects.create(
        account=strategy.account,
        market=market,
        strategy=strategy,
        amount=D("1"),
        average_entry=D("100"),
        stop_loss=D("95"),
        take_profit=D("110"),
    )

    chart = strategy_chart(strategy=strategy)

    assert [(m["kind"], m["status"]) for m in chart["markers"]] == [
        ("entry", "pending"),
        ("exit", "pending"),
        ("entry", "rejected"),
        ("stop", "pending"),
        ("target", "pending"),
    ]
    assert all(m["time"] % 60 == 0 for m in chart["markers"])  # on the candle's open, not the second it was made
    assert chart["markers"][0]["indicators"] == {"rsi": 27.5}
    assert chart["markers"][2]["reason"] == "kill switch HALTED"
    assert chart["levels"] == {"stop": "95.000000000000", "target": "110.000000000000"}
    assert chart["candlesUrl"] == f"/api/markets/{market.pk}/candles?tf=1m&limit=500"
