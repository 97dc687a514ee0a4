"""Bad input in the Strategy admin gets a clear message per field, never a traceback."""

from decimal import Decimal as D

import pytest

from apps.strategies.forms import StrategyForm
from apps.strategies.models import Strategy
from apps.strategies.services import strategy_status_set
from tests.trading.factories import account_make, fresh_market

pytestmark = pytest.mark.django_db


def form(**overrides):
    account = account_make(cash=D("1000"))
    market = fresh_market()
    data = {"name": "ema", "kind": "ema_cross", "params": '{"fast": 9, "slow": 21}', "account": account.pk,
            "markets": [market.pk], "timeframe": "1m", "allocation_type": "quote", "allocation_value": "100"}
    data.update(overrides)
    return StrategyForm(data=data)


def test_a_valid_strategy_is_saved_with_its_defaults_filled_in():
    f = form(params='{"fast": "12"}')
    assert f.is_valid(), f.errors
    strategy = f.save()
    assert strategy.params == {"fast": 12, "slow": 21, "allow_short": False}
    assert strategy.status == Strategy.Status.STOPPED


def test_each_bad_param_gets_its_own_message():
    f = form(params='{"fast": "quick", "slow": 99999, "speed": 3}')
    assert not f.is_valid()
    messages = " ".join(f.errors["params"])
    assert "fast: must be a int, got 'quick'" in messages
    assert "slow: must be at most 2000" in messages
    assert "speed: is not a parameter of this strategy" in messages


def test_fast_must_be_below_slow():
    f = form(params='{"fast": 30, "slow": 20}')
    assert not f.is_valid() and "fast" in " ".join(f.errors["params"])


def test_an_allocation_over_the_accounts_equity_is_refused():
    f = form(allocation_value="5000")
    assert not f.is_valid()
    assert "more than the account's equity (1000.00)" in f.errors["allocation_value"][0]


def test_a_percent_allocation_over_100_is_refused():
    f = form(allocation_type="equity_pct", allocation_value="150")
    assert not f.is_valid() and "at most 100" in f.errors["allocation_value"][0]


def test_a_timeframe_without_data_is_refused_with_what_to_do():
    f = form(timeframe="4h")
    assert not f.is_valid()
    assert "No 4h candles are collected for BTC/USDT" in f.errors["timeframe"][0]


def test_an_unknown_kind_is_refused():
    f = form(kind="martingale")
    assert not f.is_valid() and "kind" in f.errors


def test_start_pause_and_stop_record_events():
    from apps.common.models import Event

    f = form()
    assert f.is_valid()
    strategy = f.save()
    for status in ("running", "paused", "stopped"):
        strategy = strategy_status_set(actor=None, strategy=strategy, status=status, reason="admin")
    assert list(Event.objects.filter(kind__startswith="strategy.").values_list("kind", flat=True)) == [
        "strategy.started", "strategy.paused", "strategy.stopped"]


def test_the_admin_pages_render(admin_client):
    f = form()
    assert f.is_valid()
    strategy = f.save()
    assert admin_client.get("/admin/strategies/strategy/").status_code == 200
    assert admin_client.get(f"/admin/strategies/strategy/{strategy.pk}/change/").status_code == 200
    assert admin_client.get("/admin/strategies/strategy/add/").status_code == 200
    for path in ("trading/order", "trading/position", "trading/signal", "risk/riskevent", "risk/killswitch", "risk/risklimits"):
        assert admin_client.get(f"/admin/{path}/").status_code == 200, path
