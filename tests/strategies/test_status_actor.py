"""Start, pause and stop take the actor: a trader on the strategy's account may, a viewer and a
stranger may not; each request is audited; the system (after failures) is audited as the system."""

import pytest

from apps.common.audit import Via
from apps.common.errors import Invalid, NotAllowed, NotFound
from apps.common.models import AuditEntry
from apps.strategies.models import Strategy
from apps.strategies.services import strategy_status_set
from tests.trading.factories import account_make, fresh_market, strategy_make
from tests.trading.people import people_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk():
    account = account_make()
    strategy = strategy_make(account=account, markets=[fresh_market()], status=Strategy.Status.STOPPED)
    return strategy, people_make(account)


def test_a_trader_starts_a_strategy_of_their_account_and_it_is_audited(desk):
    strategy, people = desk

    strategy_status_set(actor=people["trader"], via=Via.PAGE, strategy=strategy, status="running", reason="new week")

    assert Strategy.objects.get(pk=strategy.pk).status == "running"
    entry = AuditEntry.objects.get()
    assert (entry.who, entry.action, entry.before, entry.after) == (
        people["trader"],
        "strategy.status_set",
        {"status": "stopped"},
        {"status": "running"},
    )


@pytest.mark.parametrize("who, refusal", [("viewer", NotAllowed), ("stranger", NotFound)])
def test_a_viewer_or_a_stranger_may_not_start_a_strategy(desk, who, refusal):
    strategy, people = desk

    with pytest.raises(refusal):
        strategy_status_set(actor=people[who], via=Via.PAGE, strategy=strategy, status="running")

    assert Strategy.objects.get(pk=strategy.pk).status == "stopped"
    assert AuditEntry.objects.get().outcome == "refused"


def test_a_status_that_does_not_exist_is_invalid(desk):
    strategy, people = desk

    with pytest.raises(Invalid) as refused:
        strategy_status_set(actor=people["trader"], via=Via.PAGE, strategy=strategy, status="sleeping")

    assert list(refused.value.fields) == ["status"]


def test_a_person_must_say_through_which_interface_they_acted(desk):
    strategy, people = desk

    with pytest.raises(TypeError, match="via="):
        strategy_status_set(actor=people["trader"], strategy=strategy, status="running")
