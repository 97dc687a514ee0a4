"""Holdings reconciliation: what the exchange holds outside the desk reaches the desk's book,
exactly once, and the desk does not trade before it has looked. The real ccxt client against the
simulated exchange; the changes made "by hand" go through simexchange's control endpoints."""

import threading
import time
from decimal import Decimal as D

import pytest
from django.db import connection

from apps.alerts.kinds import built_in_alert
from apps.alerts.models import Priority
from apps.common.errors import NotAllowed
from apps.common.models import AuditEntry, Event
from apps.risk.models import RiskEvent, RiskLimits
from apps.simexchange.faults import ErrorFault
from apps.trading.holdings_gate import gate_reason, gate_states, gates_close
from apps.trading.models import Fill, HoldingsBaseline, Order, Position, Signal
from apps.trading.services.external import external_position_adopt, holdings_baseline_set
from apps.trading.services.holdings import holdings_reconcile, synthetic_fill_apply
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute
from apps.trading.venue_health import venue_success_record
from tests.simulated_exchange import balance_set_outside, trade_by_hand

from .factories import signal_make, strategy_make
from .people import person_make
from .sim import market_on_sim, sim_desk

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(sim, settings):
    settings.TRADING_HOLDINGS_FAILURES_ALERT = 5
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"), stop_loss_pct=D("5"))
    assert holdings_reconcile(account_id=account.pk).baseline_set  # the account is added: its baseline
    yield account, market, strategy
    venue_success_record(account_id=account.pk)


def bought(strategy, market) -> Position:
    order = signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    assert order is not None, Signal.objects.latest("pk").rejection_reason
    order_submit(order_id=order.pk)
    return Position.objects.get(account=strategy.account, market=market)


def events(kind: str) -> list[Event]:
    return list(Event.objects.filter(kind=kind).order_by("id"))


def assert_positions_are_the_sum_of_their_fills():
    for position in Position.objects.select_related("market"):
        fills = Fill.objects.filter(order__account=position.account, order__market=position.market).select_related("order")
        held = sum(
            (
                (f.amount - (f.fee if f.fee_currency == position.market.base else 0)) if f.order.side == "buy" else -f.amount
                for f in fills
            ),
            D(0),
        )
        assert position.amount == held, position.market.symbol


def test_the_first_reconciliation_counts_what_the_account_held_before_the_desk_as_external_holdings(sim):
    account, _ = sim_desk(sim, price=D("60000"))
    balance_set_outside(sim, "BTC", D("0.5"))
    report = holdings_reconcile(account_id=account.pk)
    assert report.baseline_set and not report.findings
    assert HoldingsBaseline.objects.get(account=account, asset="BTC").amount == D("0.5")
    assert not Position.objects.filter(account=account, amount__gt=0).exists()
    assert holdings_reconcile(account_id=account.pk).findings == []  # and nothing to correct afterwards


def test_a_position_sold_by_hand_is_closed_as_external_close_with_its_stop_and_a_critical_alert(sim, desk, client):
    account, market, strategy = desk
    position = bought(strategy, market)
    assert position.is_open and position.stop_loss is not None
    trade_by_hand(sim, market.symbol, "sell", position.amount)
    sim.price_pin(market.symbol, D("61000"))

    report = holdings_reconcile(account_id=account.pk)

    position.refresh_from_db()
    # Closed: what is left is the exchange's own dust (the fee rounding), under one amount step.
    assert report.corrections == 1 and not position.is_open and position.stop_loss is None
    assert position.amount == sim.state.accounts["sim-test-key"].free["BTC"]
    adjustment = Order.objects.get(account=account, type=Order.Type.ADJUST)
    assert adjustment.side == "sell" and adjustment.reason.startswith("external_close")
    entry = Order.objects.get(account=account, type=Order.Type.MARKET)
    sold_at = adjustment.fills.get().price
    assert sold_at == D("61000")  # the exchange's last trade price
    fee = entry.fills.get().fee * entry.average_price  # taken in BTC, valued in USDT
    assert position.realized_pnl == (sold_at - entry.average_price) * adjustment.amount - fee
    [closed] = events("holdings.external_close")
    assert closed.payload["reason"] == "external_close" and closed.payload["closed"] is True
    alert = built_in_alert(closed)
    assert alert.priority == Priority.CRITICAL and "closed outside the desk" in alert.title
    client.force_login(person_make("vic", role="viewer", accounts=[account]))
    closed_page = client.get("/positions/?tab=closed").content.decode()
    assert f'id="position-{position.pk}"' in closed_page and ">external_close</span>" in closed_page
    # The strategy's next entry is allowed (nothing held any more).
    assert bought(strategy, market).is_open
    assert_positions_are_the_sum_of_their_fills()


def test_a_position_bought_by_hand_is_external_counts_for_risk_and_is_traded_only_once_adopted(sim, desk):
    account, market, strategy = desk
    RiskLimits.objects.create(account=account, max_position_pct=D("1"))
    trade_by_hand(sim, market.symbol, "buy", D("0.02"))

    holdings_reconcile(account_id=account.pk)

    position = Position.objects.get(account=account, market=market)
    assert position.origin == Position.Origin.EXTERNAL and position.amount == D("0.02") * D("0.999")
    assert built_in_alert(events("holdings.external_found")[0]).priority == Priority.HIGH
    entry = signal_make(strategy=strategy, market=market)
    assert signal_execute(signal_id=entry.pk) is None
    refused = RiskEvent.objects.get(signal=entry)
    assert {"in_position", "max_position_pct"} <= {c["rule"] for c in refused.checks if not c["passed"]}, refused.reason
    exit_ = signal_make(strategy=strategy, market=market, side="sell", intent="close")
    assert signal_execute(signal_id=exit_.pk) is None
    exit_.refresh_from_db()
    assert "bought outside the desk" in exit_.rejection_reason

    trader = person_make("tina", role="trader", accounts=[account])
    with pytest.raises(NotAllowed):
        external_position_adopt(actor=trader, via="admin", position_id=position.pk)
    admin = person_make("ada", role="admin", accounts=[account])
    external_position_adopt(actor=admin, via="admin", position_id=position.pk, strategy_id=strategy.pk)

    exit_ = signal_make(strategy=strategy, market=market, side="sell", intent="close")
    order = signal_execute(signal_id=exit_.pk)
    assert order is not None and order.amount == D("0.01998")
    assert AuditEntry.objects.filter(action="position.adopt", outcome="done", who=admin).exists()
    assert AuditEntry.objects.filter(action="position.adopt", outcome="refused").exists()


def test_a_mismatch_is_corrected_once_when_two_reconciliations_run_at_once_and_a_replay_changes_nothing(sim, desk):
    account, market, strategy = desk
    position = bought(strategy, market)
    held_on_exchange = sim.state.accounts["sim-test-key"].free["BTC"]
    balance_set_outside(sim, "BTC", held_on_exchange + D("0.003"))  # e.g. a fill the desk never saw

    barrier, reports = threading.Barrier(2), []

    def reconcile():
        try:
            barrier.wait()
            reports.append(holdings_reconcile(account_id=account.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=reconcile) for _ in range(2)]
    [thread.start() for thread in threads]
    [thread.join(30) for thread in threads]

    assert sorted(report.corrections for report in reports) == [0, 1]
    [adjustment] = Order.objects.filter(account=account, type=Order.Type.ADJUST)
    position.refresh_from_db()
    assert adjustment.side == "buy" and adjustment.amount == D("0.003")
    assert position.amount == held_on_exchange + D("0.003") and position.origin == Position.Origin.DESK
    assert len(events("holdings.mismatch_corrected")) == 1

    replay = synthetic_fill_apply(
        account_id=account.pk,
        market=market,
        side="buy",
        amount=adjustment.amount,
        price=adjustment.price,
        key=adjustment.client_order_id,
        cause="replay",
    )
    position.refresh_from_db()
    assert replay is None and position.amount == held_on_exchange + D("0.003")
    assert holdings_reconcile(account_id=account.pk).corrections == 0
    assert_positions_are_the_sum_of_their_fills()


def test_a_market_with_an_order_in_flight_is_compared_on_the_next_pass(sim, desk):
    account, market, strategy = desk
    order = signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)  # NEW, not sent yet
    trade_by_hand(sim, market.symbol, "buy", D("0.01"))
    report = holdings_reconcile(account_id=account.pk)
    assert report.corrections == 0 and "BTC" in report.skipped
    order_submit(order_id=order.pk)
    assert holdings_reconcile(account_id=account.pk).corrections == 1  # the hand-bought 0.01 on top


def test_five_failures_in_a_row_raise_one_critical_alert_per_episode(sim, desk):
    account, *_ = desk
    sim.faults.error_add(ErrorFault(status=503, remaining=10_000, path="/api/v3/account"))
    for _ in range(7):
        assert holdings_reconcile(account_id=account.pk).failed
    [failing] = events("holdings.reconcile_failing")
    assert failing.payload["failures"] == 5 and built_in_alert(failing).priority == Priority.CRITICAL
    sim.faults.reset()
    time.sleep(1.1)  # the account's circuit breaker opened too: its probe is let through after its timeout
    assert not holdings_reconcile(account_id=account.pk).failed
    assert events("holdings.reconciled")[-1].payload["recovered"] is True
    sim.faults.error_add(ErrorFault(status=503, remaining=10_000, path="/api/v3/account"))
    for _ in range(5):
        holdings_reconcile(account_id=account.pk)
    assert len(events("holdings.reconcile_failing")) == 2  # a new episode


def test_after_a_worker_start_entries_wait_for_the_reconciliation_and_exits_go_out(sim, desk):
    account, market, strategy = desk
    position = bought(strategy, market)
    gates_close(reason="a worker started")
    assert gate_reason(account_id=account.pk) == "a worker started"
    assert gate_states()[0]["reason"] == "reconciling with the exchange: a worker started"

    other = market_on_sim(sim, market.exchange, symbol="ETH/USDT", price=D("3000"))
    strategy.markets.add(other)
    entry = signal_make(strategy=strategy, market=other)
    assert signal_execute(signal_id=entry.pk) is None
    assert "reconciling with the exchange" in RiskEvent.objects.get(signal=entry).reason
    exit_ = signal_execute(signal_id=signal_make(strategy=strategy, market=market, side="sell", intent="close").pk)
    assert exit_ is not None and exit_.amount == position.tradable_amount
    order_submit(order_id=exit_.pk)

    report = holdings_reconcile(account_id=account.pk)
    assert report.gate_opened and events("holdings.reconciled")[-1].payload["gate_opened"] is True
    assert gate_reason(account_id=account.pk) == "" and gate_states()[0]["open"]
    assert signal_execute(signal_id=signal_make(strategy=strategy, market=other).pk) is not None


def test_the_gate_is_on_health_ready_and_on_the_cockpit_banner_of_the_accounts_members(sim, desk, client):
    account, *_ = desk
    gates_close(reason="a worker started at 12:00:00 UTC")
    ready = client.get("/health/ready").json()["trading_gate"]
    assert ready["open"] is False
    assert ready["accounts"][0]["reason"] == "reconciling with the exchange: a worker started at 12:00:00 UTC"
    client.force_login(person_make("vic", role="viewer", accounts=[account]))
    page = client.get("/").content.decode()
    assert "new entries wait — reconciling with the exchange" in page
    holdings_reconcile(account_id=account.pk)
    assert "reconciling with the exchange" not in client.get("/").content.decode()
    assert client.get("/health/ready").json()["trading_gate"]["open"] is True


def test_an_admin_corrects_the_baseline_audited_every_bad_field_at_once(sim, desk):
    from apps.common.errors import Invalid

    account, *_ = desk
    admin = person_make("ada", role="admin", accounts=[account])
    with pytest.raises(Invalid) as refused:
        holdings_baseline_set(actor=admin, via="admin", account_id=account.pk, asset="", amount="-1")
    assert set(refused.value.fields) == {"asset", "amount"}
    holdings_baseline_set(actor=admin, via="admin", account_id=account.pk, asset="btc", amount="0.25")
    assert HoldingsBaseline.objects.get(account=account, asset="BTC").amount == D("0.25")
    assert AuditEntry.objects.filter(action="holdings.baseline_set", outcome="done").count() == 1
