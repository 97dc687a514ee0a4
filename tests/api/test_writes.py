"""Strategies and risk limits written through the API: admins only, checked by the admin's own
validation (every bad field at once), audited with the token's user; traders read limits."""

from decimal import Decimal

import pytest

from apps.common.models import AuditEntry
from apps.risk.models import RiskLimits
from apps.strategies.forms import StrategyForm
from apps.strategies.models import Strategy
from tests.access import desk_user

from .conftest import client_with, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(desk):
    return desk_user("ada", role="admin", accounts=[desk.ours.account])


@pytest.fixture
def admin(admin_user):
    return client_with(token_for(admin_user, "admin"))


def new_strategy(desk, **changes) -> dict:
    market = desk.ours.order.market
    return {
        "name": "BTC trend",
        "kind": "ema_cross",
        "params": {"fast": 12},
        "account": desk.ours.account.pk,
        "markets": [market.pk],
        "timeframe": "1m",
        "allocation_type": "quote",
        "allocation_value": "250",
        "stop_loss_pct": "5",
        **changes,
    }


def test_an_admin_creates_a_stopped_strategy_with_the_kinds_defaults_filled_in(desk, admin):
    response = admin.post("/api/v1/strategies/", new_strategy(desk), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "stopped" and body["params"] == {"fast": 12, "slow": 21, "allow_short": False}
    assert body["allocation_value"] == "250.000000000000" and body["stop_loss_pct"] == "5.0000"
    entry = AuditEntry.objects.get(action="strategy.create")
    assert (entry.who_name, entry.via, entry.object_id) == ("ada", "api", str(body["id"]))


def test_every_bad_field_of_a_strategy_is_reported_at_once_in_the_admins_words(desk, admin):
    bad = new_strategy(
        desk,
        name=desk.ours.strategy.name,  # taken
        params={"fast": 30, "slow": 10},
        account=desk.theirs.account.pk,  # not ours
        allocation_value="-3",
        stop_loss_pct="150",
        trailing_stop_pct="abc",
    )

    response = admin.post("/api/v1/strategies/", bad, format="json")

    assert response.status_code == 422, response.content
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"name", "params", "account", "allocation_value", "stop_loss_pct", "trailing_stop_pct"}
    assert "exists already" in fields["name"][0]
    assert "fast" in fields["params"][0]
    assert fields["account"] == [f"No account #{desk.theirs.account.pk} among your accounts."]
    assert fields["stop_loss_pct"][0].startswith("Stop-loss must be above 0 and below 100")
    assert not Strategy.objects.filter(params__fast=30).exists()


def test_the_admin_form_and_the_api_refuse_a_strategy_with_the_same_words(desk, admin):
    values = new_strategy(desk, timeframe="4h", params={"fast": 1})

    api = admin.post("/api/v1/strategies/", values, format="json").json()["error"]["fields"]
    form = StrategyForm(data={**values, "params": '{"fast": 1}'})

    assert not form.is_valid()
    assert form.errors["timeframe"] == api["timeframe"] and "No 4h candles" in api["timeframe"][0]
    assert form.errors["params"] == api["params"]


def test_an_admin_changes_a_strategys_allocation_and_the_change_is_audited(desk, admin):
    strategy = desk.ours.strategy
    Strategy.objects.filter(pk=strategy.pk).update(kind="ema_cross", params={"fast": 9, "slow": 21, "allow_short": False})

    response = admin.patch(f"/api/v1/strategies/{strategy.pk}/", {"allocation_value": "300"}, format="json")

    assert response.status_code == 200, response.content
    strategy.refresh_from_db()
    assert strategy.allocation_value == Decimal("300")
    entry = AuditEntry.objects.get(action="strategy.update")
    assert entry.before == {"allocation_value": "1000"} and entry.after == {"allocation_value": "300"}


def test_a_trader_cannot_create_or_edit_strategies_and_an_admin_cannot_reach_another_accounts(desk, trader, admin):
    refused = trader.post("/api/v1/strategies/", new_strategy(desk), format="json")
    edited = trader.patch(f"/api/v1/strategies/{desk.ours.strategy.pk}/", {"allocation_value": "1"}, format="json")
    theirs = admin.patch(f"/api/v1/strategies/{desk.theirs.strategy.pk}/", {"allocation_value": "1"}, format="json")

    assert (refused.status_code, edited.status_code, theirs.status_code) == (403, 403, 404)
    assert not Strategy.objects.filter(name="BTC trend").exists()


def test_an_admin_users_trade_token_cannot_edit_configuration(desk, admin_user):
    trade_token = client_with(token_for(admin_user, "trade"))

    response = trade_token.patch(f"/api/v1/strategies/{desk.ours.strategy.pk}/", {"allocation_value": "1"}, format="json")

    assert response.status_code == 403


def test_a_trader_reads_risk_limits_but_cannot_change_them(desk, trader):
    limits = desk.ours.limits

    read = trader.get(f"/api/v1/risk-limits/{limits.pk}/")
    changed = trader.patch(f"/api/v1/risk-limits/{limits.pk}/", {"max_open_positions": 3}, format="json")

    assert read.status_code == 200 and changed.status_code == 403


def test_an_admin_sets_risk_limits_with_every_bad_limit_named_and_the_change_audited(desk, admin):
    limits = desk.ours.limits
    url = f"/api/v1/risk-limits/{limits.pk}/"

    bad = admin.patch(url, {"max_open_positions": 2.5, "max_drawdown_pct": "120"}, format="json")
    good = admin.patch(url, {"max_open_positions": 3, "max_drawdown_pct": "12.5"}, format="json")

    assert bad.status_code == 422 and set(bad.json()["error"]["fields"]) == {"max_open_positions", "max_drawdown_pct"}
    assert good.status_code == 200, good.content
    assert good.json()["max_open_positions"] == 3 and good.json()["max_drawdown_pct"] == "12.5000"
    entry = AuditEntry.objects.get(action="risk_limits.update", outcome="done")
    assert entry.who_name == "ada" and entry.after == {"max_drawdown_pct": "12.5", "max_open_positions": 3}


def test_an_admin_creates_a_strategys_limits_once(desk, admin):
    strategy = desk.ours.strategy

    first = admin.post("/api/v1/risk-limits/", {"strategy": strategy.pk, "max_order_notional": "500"}, format="json")
    again = admin.post("/api/v1/risk-limits/", {"strategy": strategy.pk}, format="json")
    theirs = admin.post("/api/v1/risk-limits/", {"strategy": desk.theirs.strategy.pk}, format="json")

    assert first.status_code == 201, first.content
    assert RiskLimits.objects.get(strategy=strategy).max_order_notional == Decimal("500")
    assert again.status_code == 409 and theirs.status_code == 404


def test_desk_wide_limits_are_a_superusers_to_change(desk, admin):
    desk_wide = RiskLimits.objects.create()

    response = admin.patch(f"/api/v1/risk-limits/{desk_wide.pk}/", {"max_open_positions": 3}, format="json")

    assert response.status_code == 403
    assert "superuser" in response.json()["error"]["message"]
