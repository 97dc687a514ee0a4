"""Acceptance drills of the holdings reconciliation: a real Celery worker (threads, this process),
real PostgreSQL and Redis, the real ccxt client against the simulated exchange, and the beat's
10 s holdings task sent on its schedule by a thread. What happens "by hand" on the exchange goes
through simexchange's control endpoints. Each drill ends with orders on the exchange (the desk's:
not those placed by hand) = orders in the database, each client_order_id once, positions = the
sum of their fills."""

import threading
from datetime import timedelta
from decimal import Decimal as D

import pytest

from apps.common.models import Event
from apps.exchanges.clients import exchange_client
from apps.risk.models import RiskEvent, RiskLimits
from apps.simexchange.faults import ErrorFault
from apps.trading.models import Order, Position, Signal
from apps.trading.services.external import external_position_adopt
from apps.trading.tasks import holdings_reconcile, holdings_reconcile_all
from apps.trading.venue_health import venue_success_record
from tests.simulated_exchange import is_by_hand, trade_by_hand
from tests.workers import celery_worker, wait_until

from .factories import strategy_make
from .people import person_make
from .sim import market_on_sim, sim_desk, sim_orders
from .test_drills_worker import LIVE, Alternates, candle_close, even_minute_ago, history
from .test_holdings import assert_positions_are_the_sum_of_their_fills

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
BEAT_EVERY_S = 10  # tradedesk/celery.py: "trading: holdings reconciled with the exchange"


@pytest.fixture(autouse=True)
def drill_settings(settings, monkeypatch):
    from apps.engine.strategies import registry

    settings.TRADING_RESOLVE_SAFE_AGE_S = 5
    settings.TRADING_VENUE_DOWN_SECONDS = 5
    monkeypatch.setattr(registry, "_registry", {**registry.strategy_classes(), "alternates": Alternates})


@pytest.fixture
def desk(sim):
    account, market = sim_desk(sim, price=D("60000"))
    exchange_client(account).timeout = 2000
    yield account, market
    venue_success_record(account_id=account.pk)


@pytest.fixture
def beat():
    """The beat's holdings task, sent every 10 s while the drill runs."""
    stop = threading.Event()

    def send():
        while not stop.wait(BEAT_EVERY_S):
            holdings_reconcile_all.delay()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)


def desk_orders_match_the_exchange(sim):
    on_exchange = [o.client_order_id for o in sim_orders(sim) if not is_by_hand(o.client_order_id)]
    assert len(on_exchange) == len(set(on_exchange)), "a client_order_id was booked twice"
    assert set(on_exchange) == set(Order.objects.exclude(venue_order_id="").values_list("client_order_id", flat=True))
    assert not Order.objects.filter(type=Order.Type.ADJUST).exclude(venue_order_id="").exists()  # never sent
    assert set(Order.objects.filter(status__in=LIVE).values_list("client_order_id", flat=True)) <= set(on_exchange)
    assert_positions_are_the_sum_of_their_fills()


def bought_by_the_strategy(sim, market, t0) -> Position:
    candle_close(sim, market, t0, D("60000"))
    wait_until(lambda: Position.objects.filter(market=market, amount__gt=0).exists(), timeout=20, message="the entry fills")
    return Position.objects.get(market=market)


def test_a_position_sold_by_hand_is_closed_within_15_s_its_stop_canceled_and_the_next_entry_allowed(sim, desk, beat):
    account, market = desk
    strategy_make(account=account, markets=[market], kind="alternates", allocation=D("600"), stop_loss_pct=D("5"))
    t0 = even_minute_ago(2)
    history(market, t0, D("60000"))

    with celery_worker(concurrency=2):
        position = bought_by_the_strategy(sim, market, t0)
        assert position.stop_loss is not None
        trade_by_hand(sim, market.symbol, "sell", position.tradable_amount)
        wait_until(lambda: not Position.objects.get(pk=position.pk).is_open, timeout=15, message="the desk sees the sale by hand")
        position.refresh_from_db()
        assert position.stop_loss is None and position.trailing_stop_pct is None
        [closed] = Event.objects.filter(kind="holdings.external_close")
        assert closed.payload["reason"] == "external_close" and closed.payload["severity"] == "critical"
        adjustment = Order.objects.get(type=Order.Type.ADJUST)
        assert adjustment.reason.startswith("external_close") and adjustment.venue_order_id == ""

        candle_close(sim, market, t0 + timedelta(minutes=2), D("60000"))  # the strategy's next entry
        wait_until(
            lambda: Order.objects.filter(type="market", side="buy", status="filled").count() == 2,
            timeout=20,
            message="the next entry is allowed and fills",
        )

    assert Position.objects.get(pk=position.pk).is_open
    desk_orders_match_the_exchange(sim)


def test_a_position_bought_by_hand_is_external_counts_toward_max_position_and_is_traded_once_adopted(sim, desk, beat):
    account, market = desk
    strategy = strategy_make(account=account, markets=[market], kind="alternates", allocation=D("600"))
    RiskLimits.objects.create(account=account, max_position_pct=D("0.5"))
    t0 = even_minute_ago(2)
    history(market, t0, D("60000"))

    with celery_worker(concurrency=2):
        trade_by_hand(sim, market.symbol, "buy", D("0.01"))
        wait_until(
            lambda: Position.objects.filter(origin="external", amount__gt=0).exists(),
            timeout=15,
            message="an external position",
        )
        candle_close(sim, market, t0, D("60000"))  # an entry: the external holding counts for the limits
        wait_until(lambda: Signal.objects.filter(status="rejected").exists(), timeout=20, message="the entry refused")
        refused = RiskEvent.objects.get(signal=Signal.objects.get(status="rejected"))
        assert "max_position_pct" in {check["rule"] for check in refused.checks if not check["passed"]}

        candle_close(sim, market, t0 + timedelta(minutes=1), D("60000"))  # the strategy's exit: not its position
        wait_until(lambda: Signal.objects.filter(status="rejected").count() == 2, timeout=20, message="the exit refused")
        assert "bought outside the desk" in Signal.objects.filter(status="rejected").latest("pk").rejection_reason

        position = Position.objects.get(origin="external")
        external_position_adopt(actor=person_make("ada", role="admin", accounts=[account]), via="admin", position_id=position.pk)
        candle_close(sim, market, t0 + timedelta(minutes=3), D("60000"))  # the next exit sells it
        wait_until(
            lambda: Order.objects.filter(type="market", side="sell", status="filled").exists(),
            timeout=20,
            message="the adopted position is sold",
        )
    assert not Position.objects.get(pk=position.pk).is_open
    assert strategy.pk
    desk_orders_match_the_exchange(sim)


def test_a_mismatch_is_corrected_once_by_two_reconciliations_on_the_worker_at_once(sim, desk):
    account, market = desk
    strategy_make(account=account, markets=[market], kind="alternates", allocation=D("600"))
    t0 = even_minute_ago(2)
    history(market, t0, D("60000"))

    with celery_worker(concurrency=2):
        bought_by_the_strategy(sim, market, t0)
        wait_until(lambda: Event.objects.filter(kind="fill.applied").exists(), timeout=10, message="the fill")
        sim.balance_set(account.api_key, "BTC", sim.state.accounts[account.api_key].free["BTC"] + D("0.002"))
        holdings_reconcile.delay(account.pk)
        holdings_reconcile.delay(account.pk)
        wait_until(lambda: Order.objects.filter(type=Order.Type.ADJUST).exists(), timeout=15, message="the mismatch corrected")
        holdings_reconcile.delay(account.pk)
        wait_until(lambda: Event.objects.filter(kind="holdings.mismatch_corrected").exists(), timeout=10, message="its event")

    assert Order.objects.filter(type=Order.Type.ADJUST).count() == 1
    assert Event.objects.filter(kind="holdings.mismatch_corrected").count() == 1
    desk_orders_match_the_exchange(sim)


def test_a_restarted_worker_places_no_entry_before_the_reconciliation_and_still_sends_exits(sim, desk, beat):
    account, market = desk
    other = market_on_sim(sim, market.exchange, symbol="ETH/USDT", price=D("3000"))
    strategy_make(account=account, markets=[market], kind="alternates", allocation=D("600"))
    strategy_make(account=account, markets=[other], kind="alternates", allocation=D("300"))
    t0 = even_minute_ago(2)
    history(market, t0, D("60000"))
    history(other, t0 + timedelta(minutes=2), D("3000"))

    with celery_worker(concurrency=2):
        bought_by_the_strategy(sim, market, t0)
    # The worker is gone. While it restarts, the exchange does not answer balance requests.
    sim.faults.error_add(ErrorFault(status=503, remaining=100_000, path="/api/v3/account"))
    opened = Event.objects.filter(kind="holdings.reconciled", payload__gate_opened=True)
    opened = opened.filter(id__gt=Event.objects.latest("id").id)  # by the restarted worker's reconciliation

    with celery_worker(concurrency=2, reconciled=False):
        candle_close(sim, other, t0 + timedelta(minutes=2), D("3000"))  # an entry: waits for the reconciliation
        wait_until(lambda: Signal.objects.filter(status="rejected").exists(), timeout=20, message="the entry refused")
        candle_close(sim, market, t0 + timedelta(minutes=1), D("60000"))  # an exit: goes out
        wait_until(lambda: Order.objects.filter(side="sell", status="filled").exists(), timeout=20, message="the exit is sent")
        assert not opened.exists()
        sim.faults.reset()
        wait_until(opened.exists, timeout=BEAT_EVERY_S + 10, message="the reconciliation")
        reconciled = opened.get()
        candle_close(sim, other, t0 + timedelta(minutes=4), D("3000"))  # the next entry is placed
        wait_until(lambda: Order.objects.filter(market=other, side="buy", status="filled").exists(), timeout=20, message="entry")

    refused = Signal.objects.get(status="rejected")
    assert "reconciling with the exchange" in refused.rejection_reason
    entries_after_restart = Order.objects.filter(market=other, side="buy")
    assert entries_after_restart.count() == 1
    assert all(order.created_at > reconciled.created_at for order in entries_after_restart)
    desk_orders_match_the_exchange(sim)
