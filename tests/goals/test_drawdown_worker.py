"""Acceptance: the goal drawdown protection run by a real Celery worker (the beat task), on
PostgreSQL and Redis, trading through the real ccxt client on the simulated exchange. A month of
snapshots drives the account past each level: the next entry is refused with the reason, every
position is halved, the account is flattened; each level once; the exchange's orders are the
database's, each client_order_id once; positions are the sum of their fills."""

from decimal import Decimal as D

import pytest

from apps.exchanges.clients import exchange_client
from apps.goals.models import DrawdownEvent
from apps.goals.tasks import sizing_stances_refresh
from apps.trading.models import Order, Position, Signal
from apps.trading.services.placement import signal_execute
from tests.simulated_exchange import simexchange_running
from tests.trading.factories import signal_make, strategy_make
from tests.trading.sim import market_on_sim, sim_desk
from tests.trading.test_drills_worker import assert_exchange_matches_database, assert_positions_are_the_sum_of_their_fills
from tests.workers import celery_worker, wait_until

from .support import goal_make
from .test_drawdown_sim import drawn_down

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sim():
    with simexchange_running(seed=13, history_days=0.05) as exchange:
        yield exchange


def filled(count: int) -> None:
    wait_until(
        lambda: Order.objects.filter(status="filled").count() == count,
        timeout=40,
        message=f"{count} orders filled ({list(Order.objects.values_list('side', 'status', 'reason'))})",
    )


def levels() -> list[str]:
    return sorted(DrawdownEvent.objects.values_list("level", flat=True))


def test_a_worker_pauses_entries_halves_positions_then_flattens_the_account(sim):
    account, btc = sim_desk(sim, price=D("60000"))
    eth = market_on_sim(sim, btc.exchange, symbol="ETH/USDT", price=D("3000"))
    exchange_client(account).timeout = 2000
    strategy = strategy_make(account=account, markets=[btc, eth], allocation=D("600"))
    goal_make(account=account)

    with celery_worker(concurrency=2):
        for market in (btc, eth):
            assert signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk) is not None
        filled(2)

        drawn_down(account, "0.06")
        sizing_stances_refresh.delay()
        wait_until(lambda: levels() == ["pause_new"], timeout=30, message="the pause")
        refused = signal_make(strategy=strategy, market=btc)
        assert signal_execute(signal_id=refused.pk) is None
        refused.refresh_from_db()
        assert "goal drawdown protection" in refused.rejection_reason and "below this month's peak" in refused.rejection_reason

        held = dict(Position.objects.filter(account=account).values_list("market_id", "amount"))
        drawn_down(account, "0.08")
        sizing_stances_refresh.delay()
        wait_until(lambda: levels() == ["pause_new", "reduce"], timeout=30, message="the reduction")
        filled(4)
        for position in Position.objects.filter(account=account):
            assert position.amount < held[position.market_id] * D("0.51")  # half sold (the fee's dust aside)

        drawn_down(account, "0.11")
        sizing_stances_refresh.delay()
        wait_until(lambda: levels() == ["close_all", "pause_new", "reduce"], timeout=30, message="the flatten")
        filled(6)
        assert not Position.objects.open().filter(account=account).exists()

        sizing_stances_refresh.delay()  # the same breach again: nothing more is sent
        wait_until(lambda: not Signal.objects.filter(status="pending").exists(), timeout=10)

    assert levels() == ["close_all", "pause_new", "reduce"]
    assert Order.objects.count() == 6
    assert_exchange_matches_database(sim)
    assert_positions_are_the_sum_of_their_fills()
