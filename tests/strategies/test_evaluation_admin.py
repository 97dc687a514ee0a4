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
    data = {
        "name": "ema",
        "kind": "ema_cross",
        "params": '{"fast": 9, "slow": 21}',
        "account": account.pk,
        "markets": [market.pk],
        "timeframe": "1m",
        "allocation_type": "quote",
        "allocation_value": "100",
    }
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
    assert "more than the account's equity (1000)" in f.errors["allocation_value"][0]


def test_a_percent_allocation_over_100_is_refused():
    f = form(allocation_type="equity_pct", allocation_value="150")
    assert not f.is_valid() and "at most 100" in f.errors["allocation_value"][0]


def test_negative_exits_and_an_allocation_below_the_minimum_order_are_all_refused_at_once():
    f = form(stop_loss_pct="-5", trailing_stop_pct="-2", take_profit_pct="0", allocation_value="3")
    assert not f.is_valid()
    assert set(f.errors) == {"stop_loss_pct", "trailing_stop_pct", "take_profit_pct", "allocation_value"}
    assert f.errors["stop_loss_pct"] == [
        "Stop-loss must be above 0 and below 100 (a percentage of the entry price, e.g. 5 for 5 %; leave it blank for none); got -5."
    ]
    assert "Trailing stop must be above 0 and below 100" in f.errors["trailing_stop_pct"][0]
    assert "Take-profit must be above 0" in f.errors["take_profit_pct"][0]
    assert f.errors["allocation_value"] == [
        (
            "Allocation 3 is below the smallest order the exchange accepts (BTC/USDT 5 USDT): every entry would be refused; "
            "enter at least 5."
        )
    ]


def test_the_admin_add_page_shows_every_bad_setting_at_once(admin_client):
    account, market = account_make(cash=D("1000")), fresh_market()
    response = admin_client.post(
        "/admin/strategies/strategy/add/",
        {
            "name": "ema",
            "kind": "ema_cross",
            "params": "{}",
            "account": account.pk,
            "markets": [market.pk],
            "timeframe": "1m",
            "allocation_type": "quote",
            "allocation_value": "100",
            "stop_loss_pct": "-5",
            "trailing_stop_pct": "-5",
        },
    )
    assert response.status_code == 200 and not Strategy.objects.exists()
    page = response.content.decode()
    assert "Stop-loss must be above 0" in page and "Trailing stop must be above 0" in page


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
        "strategy.started",
        "strategy.paused",
        "strategy.stopped",
    ]


def test_the_admin_pages_render(admin_client):
    f = form()
    assert f.is_valid()
    strategy = f.save()
    assert admin_client.get("/admin/strategies/strategy/").status_code == 200
    assert admin_client.get(f"/admin/strategies/strategy/{strategy.pk}/change/").status_code == 200
    assert admin_client.get("/admin/strategies/strategy/add/").status_code == 200
    for path in ("trading/order", "trading/position", "trading/signal", "risk/riskevent", "risk/killswitch", "risk/risklimits"):
        assert admin_client.get(f"/admin/{path}/").status_code == 200, path


def test_the_evaluation_log_lists_the_strategys_evaluations(admin_client):
    from django.utils import timezone

    from apps.strategies.models import StrategyEvaluation

    f = form()
    assert f.is_valid()
    strategy = f.save()
    StrategyEvaluation.objects.create(
        strategy=strategy,
        market=strategy.markets.get(),
        candle_time=timezone.now(),
        outcome="nothing",
        detail="no crossover",
        duration_ms=12.345,
    )
    page = admin_client.get(f"/admin/strategies/strategy/{strategy.pk}/change/").content.decode()
    assert "<td>no crossover</td><td>12.3 ms</td>" in page
