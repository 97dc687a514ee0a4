"""An order proven never booked (its create met an outage or a reply we could not read): an exit
is resent whatever its age while the position is held; an entry only if it passes today's risk
decision. The real ccxt client against the simulated exchange."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from apps.markets.models import CollectorStatus
from apps.risk.models import RiskEvent
from apps.risk.services import kill_switch_set
from apps.simexchange.faults import ErrorFault
from apps.trading.models import LastPrice, Order, Position
from apps.trading.services.orders import order_submit, resolve_delay
from apps.trading.services.placement import signal_execute
from apps.trading.services.resolution import order_resolve
from apps.trading.venue_health import venue_success_record

from .factories import signal_make, strategy_make
from .sim import sim_desk, sim_orders

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(sim, settings):
    settings.TRADING_RESOLVE_SAFE_AGE_S = 0  # the look-ups' proof, without waiting for it
    account, market = sim_desk(sim, price=D("60000"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("600"))
    yield account, market, strategy
    venue_success_record(account_id=account.pk)


def place(strategy, market, *, sim=None, **kwargs) -> Order:
    """Placed and sent; with `sim`, the create meets a 503 (the exchange down): UNKNOWN."""
    order = signal_execute(signal_id=signal_make(strategy=strategy, market=market, **kwargs).pk)
    if sim is not None:
        sim.faults.error_add(ErrorFault(status=503, path="/api/v3/order", method="POST"))
    order_submit(order_id=order.pk)
    order.refresh_from_db()
    return order


def age(order: Order, minutes: int) -> None:
    then = timezone.now() - timedelta(minutes=minutes)
    Order.objects.filter(pk=order.pk).update(created_at=then, submitted_at=then)


def proven_never_booked(order: Order) -> str:
    outcomes = [order_resolve(order_id=order.pk) for _ in range(3)]
    assert outcomes[:2] == ["retry", "retry"]
    order.refresh_from_db()
    return outcomes[2]


def test_an_exit_proven_never_booked_is_resent_whatever_its_age_while_the_position_is_held(desk, sim):
    account, market, strategy = desk
    entry = place(strategy, market)
    exit_ = place(strategy, market, sim=sim, side="sell", intent="close")
    assert (entry.status, exit_.status) == ("filled", "unknown")
    age(exit_, 10)  # far past the resend age limit of an entry

    assert proven_never_booked(exit_) == "resent"

    assert exit_.status == "filled" and exit_.submit_attempts == 2
    assert not Position.objects.get(account=account).is_open
    assert [o.client_order_id for o in sim_orders(sim)] == [entry.client_order_id, exit_.client_order_id]


def test_an_exit_whose_position_is_no_longer_held_is_expired_not_resent(desk, sim):
    account, market, strategy = desk
    place(strategy, market)
    exit_ = place(strategy, market, sim=sim, side="sell", intent="close")
    Position.objects.filter(account=account).update(amount=D("0"))  # e.g. sold by hand, reconciled

    assert proven_never_booked(exit_) == "given_up"

    assert exit_.status == "expired" and "position it closes is no longer held" in exit_.reason
    assert len(sim_orders(sim)) == 1


def test_an_entry_keeps_its_resend_age_limit(desk, sim):
    _, market, strategy = desk
    entry = place(strategy, market, sim=sim)
    age(entry, 10)

    assert proven_never_booked(entry) == "given_up"

    assert entry.status == "expired" and "too old to resend" in entry.reason
    assert sim_orders(sim) == []


def test_a_resent_entry_passes_todays_risk_decision_again_recorded_as_a_risk_event(desk, sim):
    _, market, strategy = desk
    entry = place(strategy, market, sim=sim)

    assert proven_never_booked(entry) == "resent"

    assert entry.status == "filled"
    assert list(RiskEvent.objects.filter(signal=entry.signal).values_list("decision", flat=True)) == ["allowed", "allowed"]


def test_a_resent_entry_on_a_candle_that_is_no_longer_the_newest_is_expired_with_the_reason(desk, sim):
    _, market, strategy = desk
    entry = place(strategy, market, sim=sim)
    CollectorStatus.objects.filter(market=market).update(last_candle_time=timezone.now() + timedelta(minutes=1))

    assert proven_never_booked(entry) == "given_up"

    assert entry.status == "expired" and "no longer passes the risk rules: expired: a newer 1m candle" in entry.reason
    assert RiskEvent.objects.filter(signal=entry.signal, rules=["stale_signal"]).exists()
    assert sim_orders(sim) == []


def test_a_resent_entry_whose_price_moved_too_far_is_expired_with_the_reason(desk, sim):
    _, market, strategy = desk
    entry = place(strategy, market, sim=sim)
    LastPrice.objects.filter(market=market).update(price=D("61000"), at=timezone.now())

    assert proven_never_booked(entry) == "given_up"

    assert entry.status == "expired" and "from last price 61000" in entry.reason
    [refused] = RiskEvent.objects.filter(signal=entry.signal, decision="rejected")
    assert "price_deviation" in refused.rules
    assert sim_orders(sim) == []


def test_a_resent_entry_is_refused_by_a_kill_switch_set_since(desk, sim):
    account, market, strategy = desk
    entry = place(strategy, market, sim=sim)
    kill_switch_set(actor=None, account=account, state="reduce_only", reason="drill")

    assert proven_never_booked(entry) == "given_up"

    assert entry.status == "rejected" and "REDUCE_ONLY" in entry.reason
    assert sim_orders(sim) == []


def test_while_the_exchange_does_not_answer_the_look_ups_probe_steadily_and_start_over_when_it_does():
    probe = resolve_delay(outcome="unreachable", lookups=7)
    assert probe <= 5  # not a 30 s backoff built up during the outage
    assert [resolve_delay(outcome="retry", lookups=n) for n in range(3)] == [1, 2, 4]  # the task restarts the count at 0
    assert resolve_delay(outcome="resolved", lookups=0) is None
