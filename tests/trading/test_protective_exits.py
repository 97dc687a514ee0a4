"""Stop-loss, take-profit and trailing stop, emulated by the desk on each new price."""

from decimal import Decimal as D

import pytest

from apps.trading.models import Order, Position, Signal
from apps.trading.services.protection import price_updated, protective_trigger

from .factories import account_make, fresh_market, price_set, strategy_make

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]


def test_each_exit_triggers_at_its_level():
    position = Position(
        amount=D(1), average_entry=D(100), stop_loss=D(95), take_profit=D(110), trailing_stop_pct=D(5), high_water=D(120)
    )
    assert "stop-loss" in protective_trigger(position, D("94.9"))
    assert "trailing stop" in protective_trigger(position, D(114))  # 5% below the high of 120
    position.high_water = D(100)
    assert "take-profit" in protective_trigger(position, D(110))
    assert protective_trigger(position, D(100)) is None


def test_a_stop_loss_hit_sends_a_market_exit_marked_as_emulated(django_capture_on_commit_callbacks):
    account = account_make()
    market = fresh_market(price=D(100))
    strategy = strategy_make(account=account, markets=[market])
    Position.objects.create(account=account, market=market, strategy=strategy, amount=D(2), average_entry=D(100), stop_loss=D(95))
    from apps.trading.models import Balance

    Balance.objects.create(account=account, asset="BTC", free=D(2))
    price_set(market, D(94))

    with django_capture_on_commit_callbacks(execute=True):
        result = price_updated(market_id=market.pk)

    assert result["exits"] == 1
    signal = Signal.objects.get(source="protective")
    assert "emulated by the desk" in signal.reason and "stop-loss 95" in signal.reason
    order = Order.objects.get()
    assert (order.side, order.type, order.amount, order.status) == ("sell", "market", D(2), "filled")
    assert Position.objects.get().amount == 0


def test_the_trailing_stop_follows_the_price_up(django_capture_on_commit_callbacks):
    account = account_make()
    market = fresh_market(price=D(100))
    Position.objects.create(
        account=account, market=market, amount=D(1), average_entry=D(100), trailing_stop_pct=D(5), high_water=D(100)
    )
    price_set(market, D(130))
    price_updated(market_id=market.pk)
    assert Position.objects.get().high_water == D(130)
    assert not Signal.objects.exists()


def test_an_exit_already_in_flight_is_not_sent_twice(django_capture_on_commit_callbacks):
    account = account_make()
    market = fresh_market(price=D(100))
    Position.objects.create(account=account, market=market, amount=D(1), average_entry=D(100), stop_loss=D(95))
    price_set(market, D(94))
    price_updated(market_id=market.pk)  # on_commit not run: the exit order stays NEW (in flight)
    price_updated(market_id=market.pk)
    assert Order.objects.count() == 1


def test_dust_left_by_a_base_asset_fee_carries_no_protective_exit():
    account = account_make()
    market = fresh_market(price=D(100))  # amount step 0.0001
    Position.objects.create(account=account, market=market, amount=D("0.00005"), average_entry=D(100), stop_loss=D(95))
    price_set(market, D(90))
    assert price_updated(market_id=market.pk)["exits"] == 0
    assert not Signal.objects.exists()


def test_dust_carries_no_protective_exit_an_exchange_would_refuse():
    account = account_make()
    market = fresh_market(price=D(100))  # step 0.0001, minimum notional 5 USDT
    Position.objects.create(account=account, market=market, amount=D("0.0004"), average_entry=D(100), stop_loss=D(95))
    price_set(market, D(94))

    assert price_updated(market_id=market.pk)["exits"] == 0
    assert not Signal.objects.exists()
