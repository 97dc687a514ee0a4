"""Risk limits are checked by one validation (the admin form's, the API's): every bad field at
once, with ranges a trader reads."""

import pytest

from apps.common.errors import Invalid
from apps.risk.admin import RiskLimitsForm
from apps.risk.models import RiskLimits
from apps.risk.validation import risk_limits_validate
from tests.trading.factories import account_make

pytestmark = pytest.mark.django_db


def limits_form(**values):
    return RiskLimitsForm(data={"account": account_make().pk, **values})


def test_a_negative_notional_zero_orders_a_minute_and_a_percentage_over_100_are_refused_together():
    form = limits_form(
        max_order_notional="-150",
        max_orders_per_minute="0",
        max_position_pct="150",
        max_open_positions="0",
        max_drawdown_pct="-1",
    )
    assert not form.is_valid()
    assert set(form.errors) == {
        "max_order_notional",
        "max_orders_per_minute",
        "max_position_pct",
        "max_open_positions",
        "max_drawdown_pct",
    }
    assert form.errors["max_order_notional"] == [
        (
            "Max order notional must be above 0 and at most 1000000000000000 (the largest order value in quote currency, "
            "e.g. 500 for 500 USDT; leave it blank for no limit); got -150."
        )
    ]
    assert form.errors["max_orders_per_minute"][0].startswith(
        "Max orders per minute must be a whole number of at least 1 and at most 100000 (zero would refuse every order"
    )
    assert "Max position must be above 0 and at most 100" in form.errors["max_position_pct"][0]
    assert not RiskLimits.objects.exists()


def test_blank_limits_mean_no_limit_and_are_saved():
    form = limits_form(max_order_notional="500")
    assert form.is_valid(), form.errors
    assert form.save().max_order_notional == 500


def test_limits_for_both_an_account_and_a_strategy_or_neither_are_refused():
    form = RiskLimitsForm(data={"max_order_notional": "500"})
    assert not form.is_valid()
    assert form.non_field_errors() == ["Risk limits belong to exactly one account or one strategy: choose one."]


def test_the_validation_itself_raises_invalid_with_every_field_for_any_caller():
    with pytest.raises(Invalid) as error:
        risk_limits_validate({"max_order_notional": "-1", "max_consecutive_failures": 0, "max_daily_loss_pct": None})
    assert set(error.value.fields) == {"max_order_notional", "max_consecutive_failures"}
    assert error.value.code == "invalid"


def test_the_admin_change_page_reports_every_bad_limit_at_once(admin_client):
    response = admin_client.post(
        "/admin/risk/risklimits/add/", {"account": account_make().pk, "max_order_notional": "-150", "max_orders_per_minute": "0"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Max order notional must be above 0" in page and "Max orders per minute must be a whole number" in page
    assert not RiskLimits.objects.exists()
