"""The kill switch takes the actor: a trader sets their account's, only an admin the global one;
a viewer, a stranger and a state that does not exist are refused in words, and audited."""

import pytest

from apps.common.audit import Via
from apps.common.errors import Invalid, NotAllowed, NotFound
from apps.common.models import AuditEntry
from apps.risk.models import KillSwitch
from apps.risk.services import kill_switch_set
from tests.trading.factories import account_make
from tests.trading.people import people_make, person_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk():
    account = account_make()
    return account, people_make(account)


def test_a_trader_sets_the_kill_switch_of_their_account_and_it_is_audited(desk):
    account, people = desk

    kill_switch_set(actor=people["trader"], via=Via.PAGE, account=account, state="reduce_only", reason="news at 14:00")

    assert KillSwitch.objects.get(account=account).state == "reduce_only"
    entry = AuditEntry.objects.get()
    assert (entry.who, entry.via, entry.action, entry.reason) == (people["trader"], "page", "kill_switch.set", "news at 14:00")
    assert (entry.before, entry.after) == ({"state": "active", "reason": ""}, {"state": "reduce_only", "reason": "news at 14:00"})


@pytest.mark.parametrize(
    "who, refusal, words",
    [
        ("viewer", NotAllowed, "victor may not set the kill switch: that needs the trader role (yours is viewer)"),
        ("stranger", NotFound, "among your accounts"),
    ],
)
def test_a_viewer_or_a_stranger_may_not_set_an_accounts_kill_switch(desk, who, refusal, words):
    account, people = desk

    with pytest.raises(refusal, match=words.replace("(", r"\(").replace(")", r"\)")):
        kill_switch_set(actor=people[who], via=Via.PAGE, account=account, state="halted")

    assert not KillSwitch.objects.filter(state="halted").exists()
    assert AuditEntry.objects.get().outcome == "refused"


def test_only_an_admin_sets_the_global_kill_switch(desk):
    account, people = desk
    boss = person_make("ada", role="admin")

    with pytest.raises(NotAllowed, match="tina may not set the global kill switch: that needs the admin role"):
        kill_switch_set(actor=people["trader"], via=Via.PAGE, state="halted")
    kill_switch_set(actor=boss, via=Via.PAGE, state="halted", reason="exchange incident")

    assert KillSwitch.objects.get(account=None).state == "halted"


def test_a_state_that_does_not_exist_is_invalid_with_the_field_named(desk):
    account, people = desk

    with pytest.raises(Invalid) as refused:
        kill_switch_set(actor=people["trader"], via=Via.PAGE, account=account, state="paused")

    assert refused.value.fields == {"state": ["choose one of active, reduce_only, halted (not 'paused')"]}
