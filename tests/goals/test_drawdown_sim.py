"""The goal drawdown protection on the simulated exchange through the real ccxt client: a month
of portfolio snapshots drives the account past each level; past 5 % new entries are refused
with the reason, past 7.5 % every position is halved, past 10 % the account is flattened, each
once. After each step the exchange's orders are the desk's, each client_order_id once, and each
position is the sum of its fills. A catch-up factor never passes the hard limits."""

from decimal import Decimal as D

import pytest
from django.utils import timezone

from apps.common.models import AuditEntry, Event
from apps.engine.goals import month_start
from apps.goals.models import DrawdownEvent, GoalAdjustment
from apps.goals.services import drawdown_clear, sizing_stances_refresh
from apps.risk.models import RiskEvent, RiskLimits, SizingStance
from apps.trading.amounts import quantize_amount
from apps.trading.models import Order, PortfolioSnapshot, Position, Signal
from apps.trading.selectors import account_equity
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute
from apps.trading.venue_health import venue_success_record
from tests.simulated_exchange import TEST_API_KEY, simexchange_running
from tests.trading.factories import signal_make, strategy_make
from tests.trading.people import books_agree_with_the_exchange, people_make
from tests.trading.sim import market_on_sim, sim_desk

from .support import goal_make

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]


@pytest.fixture
def sim():
    with simexchange_running(seed=11, history_days=0.05) as exchange:
        yield exchange


@pytest.fixture
def desk(sim):
    account, btc = sim_desk(sim, price=D("60000"))
    eth = market_on_sim(sim, btc.exchange, symbol="ETH/USDT", price=D("3000"))
    strategy = strategy_make(account=account, markets=[btc, eth], allocation=D("600"))
    goal_make(account=account)  # 10 % a month
    yield account, btc, eth, strategy
    venue_success_record(account_id=account.pk)


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what a service queued on commit (order submissions), as the worker would."""

    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


def bought(strategy, market) -> Order:
    order = signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    assert order is not None, Signal.objects.order_by("-pk").first().rejection_reason
    order_submit(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == "filled", order.reason
    return order


def month_of_snapshots(account, *, peak: D) -> None:
    """Snapshots from 00:00 on day 1 to now, the month's peak equity in the middle of them."""
    start, now = month_start(timezone.now()), timezone.now()
    for step in range(5):
        equity = peak if step == 2 else peak * D("0.99")
        PortfolioSnapshot.objects.create(
            account=account,
            taken_at=start + (now - start) * step / 5,
            equity=equity,
            cash=equity,
            positions_value=0,
            realized_pnl=0,
            unrealized_pnl=0,
        )


def drawn_down(account, share: str) -> None:
    """Seed a month whose peak puts today's equity `share` below it."""
    PortfolioSnapshot.objects.filter(account=account).delete()
    month_of_snapshots(account, peak=account_equity(account=account) / (1 - D(share)))


def levels(account) -> list[str]:
    return sorted(DrawdownEvent.objects.filter(account=account).values_list("level", flat=True))


def test_a_drawdown_pauses_entries_then_halves_every_position_then_flattens_the_account(desk, sim, commit):
    account, btc, eth, strategy = desk
    bought(strategy, btc), bought(strategy, eth)
    held = {position.market_id: position.amount for position in Position.objects.filter(account=account)}

    drawn_down(account, "0.06")  # past the 5 % limit
    commit(sizing_stances_refresh)

    assert levels(account) == ["pause_new"]
    refused = signal_make(strategy=strategy, market=btc)
    assert signal_execute(signal_id=refused.pk) is None
    refused.refresh_from_db()
    assert refused.status == "rejected" and "goal drawdown protection" in refused.rejection_reason
    assert "below this month's peak" in refused.rejection_reason
    assert RiskEvent.objects.get(signal=refused).rules == ["goal_drawdown"]
    assert Order.objects.filter(account=account).count() == 2  # nothing else sent
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)

    drawn_down(account, "0.08")  # at least 1.5 x the limit
    commit(sizing_stances_refresh)

    assert levels(account) == ["pause_new", "reduce"]
    sells = Order.objects.filter(account=account, side="sell")
    assert sells.count() == 2 and {order.status for order in sells} == {"filled"}
    for position in Position.objects.filter(account=account).select_related("market"):
        sold = sells.get(market=position.market).amount
        assert sold == quantize_amount(held[position.market_id] / 2, position.market.amount_precision)
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)

    drawn_down(account, "0.11")  # past 2 x the limit
    commit(sizing_stances_refresh)

    assert levels(account) == ["close_all", "pause_new", "reduce"]
    assert not Position.objects.open().filter(account=account).exists()
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)
    kinds = list(Event.objects.filter(kind="goal.drawdown_breached").values_list("payload__level", flat=True))
    assert kinds == ["pause_new", "reduce", "close_all"]

    orders = Order.objects.filter(account=account).count()
    commit(sizing_stances_refresh)  # the same breach again: nothing more

    assert levels(account) == ["close_all", "pause_new", "reduce"]
    assert Order.objects.filter(account=account).count() == orders == len(list(sim.orders(TEST_API_KEY)))


def test_breaching_all_levels_at_once_flattens_without_halving_first(desk, sim, commit):
    account, btc, eth, strategy = desk
    bought(strategy, btc)

    drawn_down(account, "0.12")
    commit(sizing_stances_refresh)

    assert levels(account) == ["close_all", "pause_new", "reduce"]
    assert Order.objects.filter(account=account, side="sell").count() == 1  # one close, not a half and then the rest
    assert not Position.objects.open().filter(account=account).exists()
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


def test_a_trader_clears_the_pause_and_entries_resume_audited(desk, sim, commit):
    account, btc, eth, strategy = desk
    people = people_make(account)
    drawn_down(account, "0.06")
    commit(sizing_stances_refresh)
    assert SizingStance.objects.get(account=account).entries_paused

    assert drawdown_clear(actor=people["trader"], account_id=account.pk, reason="the loss was a data error", via="page") == 1
    commit(sizing_stances_refresh)  # the same breach is not recorded again

    assert SizingStance.objects.get(account=account).entries_paused == ""
    bought(strategy, btc)
    entry = AuditEntry.objects.get(action="goal.drawdown_clear")
    assert (entry.who, entry.via, entry.before, entry.reason) == (
        people["trader"],
        "page",
        {"paused_levels": ["pause_new"]},
        "the loss was a data error",
    )
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)


def test_a_catch_up_factor_never_passes_max_order_notional_or_max_position(desk, sim, commit):
    account, btc, eth, strategy = desk
    strategy.account.goals.update(catch_up_enabled=True)  # behind pace: x1.3 (x1.15 on days 1-3)
    equity = account_equity(account=account)
    RiskLimits.objects.create(account=account, max_order_notional=D("650"), max_position_pct=D(30))
    PortfolioSnapshot.objects.filter(account=account).delete()
    month_of_snapshots(account, peak=equity * D("1.02"))  # down 1 % since day 1: behind, within the 5 %
    sizing_stances_refresh()

    order = bought(strategy, btc)

    adjustment = GoalAdjustment.objects.get(signal=order.signal)
    assert adjustment.final_factor > 1 and adjustment.capped_by == "max_order_notional"
    assert order.amount * order.price <= D("650")
    limit = SizingStance.objects.get(account=account).max_position_pct  # the stance's, under the trader's 30 %
    assert order.amount * order.price <= equity * limit / 100
    books_agree_with_the_exchange(sim, account, TEST_API_KEY)
