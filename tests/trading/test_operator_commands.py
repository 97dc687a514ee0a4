"""`manage.py position_close ID`, `order_cancel ID`, `account_flatten NAME`, `--as USER`: one line
each, and a refusal in a trader's words (a CommandError, no traceback)."""

from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.common.models import AuditEntry
from apps.trading.models import Order, Position
from apps.trading.services.orders import order_submit
from apps.trading.services.placement import signal_execute

from .factories import account_make, fresh_market, signal_make, strategy_make
from .people import people_make

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]


@pytest.fixture
def paper(django_capture_on_commit_callbacks):
    account = account_make(fee_rate=D("0.001"))
    market = fresh_market(price=D("100"))
    strategy = strategy_make(account=account, markets=[market], allocation=D("1001"))
    with django_capture_on_commit_callbacks(execute=True):
        signal_execute(signal_id=signal_make(strategy=strategy, market=market).pk)
    return account, market, Position.objects.get(account=account), people_make(account)


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    def command(*args) -> str:
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command(*args, stdout=out)
        return out.getvalue()

    return command


def resting_limit(account, market) -> Order:
    order = Order.objects.create(
        account=account,
        market=market,
        client_order_id="paper-limit-1",
        side="buy",
        type=Order.Type.LIMIT,
        price=D("90"),
        amount=D("1"),
    )
    order_submit(order_id=order.pk)
    return order


def test_position_close_prints_the_order_it_placed_and_audits_the_trader(paper, run):
    account, market, position, people = paper

    out = run("position_close", str(position.pk), "--as", "tina", "--reason", "stop out")

    order = Order.objects.get(side="sell")
    assert out == (
        f"position #{position.pk} BTC/USDT on paper: sell 10 BTC at market, order {order.client_order_id} "
        "placed, on its way to the exchange\n"
    )
    assert order.status == "filled"  # by the order worker
    entry = AuditEntry.objects.get(action="position.close")
    assert (entry.who, entry.via, entry.reason) == (people["trader"], "command", "stop out")


def test_position_close_for_a_viewer_is_refused_in_words(paper, run):
    account, market, position, people = paper

    with pytest.raises(CommandError, match="^refused: victor may not close positions: that needs the trader role"):
        run("position_close", str(position.pk), "--as", "victor")

    assert Position.objects.get(pk=position.pk).amount == D("10")
    assert AuditEntry.objects.get().outcome == "refused"


def test_position_close_of_a_closed_position_is_refused_in_words(paper, run):
    account, market, position, people = paper
    run("position_close", str(position.pk), "--as", "tina")

    with pytest.raises(CommandError, match="is already closed"):
        run("position_close", str(position.pk), "--as", "tina")


def test_order_cancel_prints_one_line(paper, run):
    account, market, position, people = paper
    order = resting_limit(account, market)

    out = run("order_cancel", str(order.pk), "--as", "tina")

    assert out == f"order #{order.pk} paper-limit-1 (buy 1 BTC/USDT): canceled\n"
    assert AuditEntry.objects.get(action="order.cancel").reason == "canceled from the command line by tina"


def test_order_cancel_for_a_stranger_says_there_is_no_such_order(paper, run):
    account, market, position, people = paper
    order = resting_limit(account, market)

    with pytest.raises(CommandError, match=f"refused: no order #{order.pk} on your accounts"):
        run("order_cancel", str(order.pk), "--as", "sam")


def test_account_flatten_by_name_prints_what_it_did(paper, run):
    account, market, position, people = paper
    resting_limit(account, market)

    out = run("account_flatten", "paper", "--as", "tina", "--reason", "weekend")

    assert out == "account paper flattened: 1 order canceled, 1 position closing\n"
    assert Position.objects.get(pk=position.pk).amount == 0


def test_account_flatten_of_an_unknown_account_or_user_is_refused_in_words(paper, run):
    with pytest.raises(CommandError, match="no account named 'nope'"):
        run("account_flatten", "nope", "--as", "tina")
    with pytest.raises(CommandError, match="no active user 'nobody'"):
        run("account_flatten", "paper", "--as", "nobody")


def test_without_as_the_command_acts_as_the_system(paper, run):
    account, market, position, people = paper

    run("position_close", str(position.pk))

    entry = AuditEntry.objects.get(action="position.close")
    assert (entry.who, entry.via, entry.reason) == (None, "command", "closed from the command line")
