"""Operator commands on a paper account: the same services, the paper broker's book."""

from decimal import Decimal as D

import pytest

from apps.common.audit import Via
from apps.common.errors import Conflict, NotAllowed, NotFound
from apps.common.models import AuditEntry
from apps.trading.models import Balance, Order, Position, Signal
from apps.trading.services.operator import account_flatten, order_cancel, position_close
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute

from .factories import account_make, fresh_market, price_set, signal_make, strategy_make
from .people import people_make, positions_are_their_fills

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]


@pytest.fixture
def paper():
    account = account_make(fee_rate=D("0.001"))
    market = fresh_market(price=D("100"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("1001"))
    return account, market, strategy, people_make(account)


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            result = call()
        return result

    return run


def bought(strategy, market, commit) -> Position:
    commit(lambda: signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk))
    return Position.objects.get(account=strategy.account, market=market)


def resting_limit(account, market, *, price: D, amount: D = D("1")) -> Order:
    order = Order.objects.create(
        account=account,
        market=market,
        client_order_id=f"paper-limit-{price}",
        side="buy",
        type=Order.Type.LIMIT,
        price=price,
        amount=amount,
    )
    order_submit(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == "open", order.reason
    return order


def test_on_paper_a_trader_closes_a_position_and_the_cash_comes_back(paper, commit):
    account, market, strategy, people = paper
    position = bought(strategy, market, commit)
    assert position.amount == D("10")
    price_set(market, D("110"))

    closing = commit(lambda: position_close(actor=people["trader"], via=Via.PAGE, position_id=position.pk, reason="target"))

    order = Order.objects.get(pk=closing.order.pk)
    assert (order.status, order.amount, order.average_price) == ("filled", D("10"), D("110"))
    position.refresh_from_db()
    assert position.amount == 0
    # 10 @ 100 (fee 1) sold @ 110 (fee 1.1): 10000 - 1001 + 1100 - 1.1
    assert Balance.objects.get(account=account, asset="USDT").free == D("10097.9")
    [entry] = AuditEntry.objects.filter(action="position.close")
    assert (entry.who, entry.via, entry.before["amount"], entry.after["closing_amount"]) == (people["trader"], "page", "10", "10")
    positions_are_their_fills(account)


def test_on_paper_closing_a_position_already_closed_is_a_conflict(paper, commit):
    account, market, strategy, people = paper
    position = bought(strategy, market, commit)
    commit(lambda: position_close(actor=people["trader"], via=Via.PAGE, position_id=position.pk, reason="exit"))

    with pytest.raises(Conflict, match=rf"position #{position.pk} \(BTC/USDT on paper\) is already closed"):
        position_close(actor=people["trader"], via=Via.PAGE, position_id=position.pk, reason="exit again")

    assert Order.objects.filter(side="sell").count() == 1
    assert AuditEntry.objects.filter(action="position.close", outcome="refused").count() == 1
    positions_are_their_fills(account)


@pytest.mark.parametrize("who, refusal", [("viewer", NotAllowed), ("stranger", NotFound)])
def test_on_paper_a_viewer_or_a_stranger_may_not_close_a_position(paper, commit, who, refusal):
    account, market, strategy, people = paper
    position = bought(strategy, market, commit)

    with pytest.raises(refusal):
        position_close(actor=people[who], via=Via.PAGE, position_id=position.pk, reason="no")

    assert Position.objects.get(pk=position.pk).amount == D("10")
    assert not Signal.objects.filter(source=Signal.Source.OPERATOR).exists()
    assert AuditEntry.objects.get(action="position.close").outcome == "refused"


def test_on_paper_a_trader_cancels_a_resting_limit_order(paper):
    account, market, strategy, people = paper
    order = resting_limit(account, market, price=D("90"))

    canceled = order_cancel(actor=people["trader"], via=Via.PAGE, order_id=order.pk, reason="changed my mind")

    assert canceled.status == "canceled" and canceled.filled == 0
    entry = AuditEntry.objects.get(action="order.cancel")
    assert (entry.before["status"], entry.after["status"], entry.reason) == ("open", "canceled", "changed my mind")


@pytest.mark.parametrize("who, refusal", [("viewer", NotAllowed), ("stranger", NotFound)])
def test_on_paper_a_viewer_or_a_stranger_may_not_cancel_an_order(paper, who, refusal):
    account, market, strategy, people = paper
    order = resting_limit(account, market, price=D("90"))

    with pytest.raises(refusal):
        order_cancel(actor=people[who], via=Via.PAGE, order_id=order.pk)

    assert Order.objects.get(pk=order.pk).status == "open"


def test_an_order_that_does_not_exist_is_not_found_and_the_request_is_audited(paper):
    account, market, strategy, people = paper

    with pytest.raises(NotFound, match="no order #987654 on your accounts"):
        order_cancel(actor=people["trader"], via=Via.PAGE, order_id=987654)

    entry = AuditEntry.objects.get()
    assert (entry.object_type, entry.object_id, entry.outcome) == ("trading.order", "987654", "refused")


def test_on_paper_flattening_cancels_the_resting_order_and_closes_the_position(paper, commit):
    account, market, strategy, people = paper
    position = bought(strategy, market, commit)
    bid = resting_limit(account, market, price=D("90"))

    done = commit(lambda: account_flatten(actor=people["trader"], via=Via.PAGE, account_id=account.pk, reason="weekend"))

    assert [order.pk for order in done.canceled] == [bid.pk] and len(done.closing) == 1 and not done.failed
    assert done.summary() == "1 order canceled, 1 position closing"
    assert Position.objects.get(pk=position.pk).amount == 0
    assert Order.objects.get(pk=bid.pk).status == "canceled"
    positions_are_their_fills(account)


def test_flattening_a_flat_account_does_nothing_and_says_so(paper):
    account, market, strategy, people = paper

    done = account_flatten(actor=people["trader"], via=Via.PAGE, account_id=account.pk, reason="check")

    assert done.summary() == "0 orders canceled, 0 positions closing"
    assert AuditEntry.objects.get(action="account.flatten").outcome == "done"


def test_the_system_may_act_without_a_person_and_is_audited_as_the_system(paper, commit):
    account, market, strategy, people = paper
    position = bought(strategy, market, commit)

    commit(lambda: position_close(actor=None, position_id=position.pk, reason="end-of-day sweep"))

    entry = AuditEntry.objects.get(action="position.close")
    assert (entry.who, entry.who_name, entry.via) == (None, "", "system")
