"""From candidate to live, by rules: a promotion checks the paper period with the performance
selector's figures, refuses with every rule that failed, and is audited with its approver."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.alerts.kinds import built_in_alert
from apps.alerts.models import Priority
from apps.common.errors import Conflict, NotAllowed, NotFound
from apps.common.models import AuditEntry, Event
from apps.research.promotion import promotion_rules, strategy_promote
from apps.strategies.models import PromotionPolicy, Strategy
from apps.strategies.services.lifecycle import strategy_status_set
from tests.research.promotion_support import desk_make, on_paper, trades_make
from tests.trading.factories import strategy_make
from tests.trading.people import people_make, person_make

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# Varied daily wins: a positive Sharpe, a drawdown of one losing day.
GOOD_DAYS = ["5", "3", "-2", "4", "6", "2", "-1", "5"]


@pytest.fixture
def desk():
    account, market = desk_make()
    return account, market, people_make(account)


def refused_entries(strategy):
    return AuditEntry.objects.filter(action="strategy.promote", object_id=str(strategy.pk), outcome="refused")


def test_a_strategy_with_too_few_paper_trades_is_refused_naming_the_rule(desk):
    account, market, people = desk
    strategy = on_paper(account=account, market=market, days=15)
    trades_make(strategy, market, ["5", "3", "-2"], first_day_ago=10)

    with pytest.raises(Conflict) as refused:
        strategy_promote(actor=people["trader"], strategy_id=strategy.pk, via="page", reason="looks good")

    assert "min_paper_trades" in refused.value.fields
    assert "3 paper trades; the rule asks for at least 20" in refused.value.message
    strategy.refresh_from_db()
    assert strategy.stage == Strategy.Stage.PAPER
    entry = refused_entries(strategy).get()
    assert entry.who == people["trader"] and "min_paper_trades" in entry.reason and "looks good" in entry.reason


def test_every_failed_rule_is_named_at_once(desk):
    account, market, people = desk
    strategy = on_paper(account=account, market=market, days=3)
    trades_make(strategy, market, ["-300"], first_day_ago=1)

    with pytest.raises(Conflict) as refused:
        strategy_promote(actor=people["trader"], strategy_id=strategy.pk, via="api")

    assert set(refused.value.fields) == {"paper_days", "min_paper_trades", "min_sharpe", "max_drawdown", "max_divergence"}
    assert refused.value.fields["max_divergence"][0].startswith("live vs backtest not measured yet")
    assert "max drawdown 30%; the rule allows at most 15%" in refused.value.message


def test_an_approved_promotion_is_audited_with_the_approver(desk, live_as_backtested):
    account, market, people = desk
    PromotionPolicy.objects.create(account=account, **{**PromotionPolicy.defaults(), "min_trades": 8, "min_sharpe": 1})
    strategy = on_paper(account=account, market=market, days=15)
    trades_make(strategy, market, GOOD_DAYS, first_day_ago=12)

    done = strategy_promote(actor=people["trader"], strategy_id=strategy.pk, via="page", reason="two good weeks")

    strategy.refresh_from_db()
    assert (done.from_stage, done.to_stage, strategy.stage) == ("paper", "live", "live")
    assert all(result.passed for result in done.results) and len(done.results) == 5
    entry = AuditEntry.objects.get(action="strategy.promote", outcome="done")
    assert entry.who == people["trader"] and entry.via == "page" and entry.reason == "two good weeks"
    assert entry.before == {"stage": "paper"} and entry.after["stage"] == "live" and entry.after["approved_by"] == "tina"
    assert [rule["rule"] for rule in entry.after["rules"]] == [
        "paper_days",
        "min_paper_trades",
        "min_sharpe",
        "max_drawdown",
        "max_divergence",
    ]
    event = Event.objects.get(kind="strategy.promoted")
    assert event.payload["by"] == "tina" and event.payload["to"] == "live" and event.topic == f"strategies.{account.pk}"
    alert = built_in_alert(event)
    assert alert.priority == Priority.NORMAL and alert.title == f"Strategy #{strategy.pk} promoted to live"


def test_a_viewer_cannot_promote(desk):
    account, market, people = desk
    strategy = strategy_make(account=account, markets=[market], status=Strategy.Status.STOPPED)

    with pytest.raises(NotAllowed, match="needs the trader role"):
        strategy_promote(actor=people["viewer"], strategy_id=strategy.pk, via="page")

    strategy.refresh_from_db()
    assert strategy.stage == Strategy.Stage.CANDIDATE and strategy.status == Strategy.Status.STOPPED
    assert refused_entries(strategy).get().who == people["viewer"]


def test_a_trader_of_another_account_does_not_find_the_strategy(desk):
    account, market, people = desk
    strategy = strategy_make(account=account, markets=[market], status=Strategy.Status.STOPPED)

    with pytest.raises(NotFound):
        strategy_promote(actor=people["stranger"], strategy_id=strategy.pk, via="api")


def test_a_candidate_promoted_to_paper_starts_its_paper_period(desk):
    account, market, people = desk
    strategy = strategy_make(account=account, markets=[market], status=Strategy.Status.STOPPED)
    before = timezone.now()

    strategy_promote(actor=people["trader"], strategy_id=strategy.pk, via="command")

    strategy.refresh_from_db()
    assert strategy.stage == Strategy.Stage.PAPER and strategy.status == Strategy.Status.RUNNING
    assert strategy.stage_changed_at >= before
    assert [rule.rule for rule in promotion_rules(strategy)][:2] == ["paper_days", "min_paper_trades"]


def test_nothing_goes_live_automatically_unless_an_admin_enabled_it(desk, live_as_backtested):
    account, market, people = desk
    PromotionPolicy.objects.create(account=account, **{**PromotionPolicy.defaults(), "min_trades": 8, "min_sharpe": 1})
    strategy = on_paper(account=account, market=market, days=15)
    trades_make(strategy, market, GOOD_DAYS, first_day_ago=12)

    with pytest.raises(NotAllowed, match="trader's approval"):
        strategy_promote(actor=None, strategy_id=strategy.pk, via=None)

    PromotionPolicy.objects.filter(account=account).update(auto_live=True)
    strategy_promote(actor=None, strategy_id=strategy.pk, via=None)
    strategy.refresh_from_db()
    assert strategy.stage == Strategy.Stage.LIVE
    assert Event.objects.get(kind="strategy.promoted").payload["by"] == "system (automatic promotion)"


def test_a_live_strategy_has_no_next_stage(desk):
    account, market, people = desk
    strategy = strategy_make(account=account, markets=[market], stage=Strategy.Stage.LIVE)

    with pytest.raises(Conflict, match="already live"):
        strategy_promote(actor=people["trader"], strategy_id=strategy.pk, via="page")


def test_starting_or_promoting_beyond_the_accounts_limit_of_running_strategies_is_refused(desk):
    account, market, people = desk
    PromotionPolicy.objects.create(account=account, **{**PromotionPolicy.defaults(), "max_active_strategies": 2})
    strategy_make(account=account, markets=[market], name="alpha")
    strategy_make(account=account, markets=[market], name="beta")
    third = strategy_make(account=account, markets=[market], name="gamma", status=Strategy.Status.STOPPED)

    with pytest.raises(Conflict) as refused:
        strategy_status_set(actor=people["trader"], strategy=third, status="running", via="page")
    assert "already runs 2 strategies (alpha, beta), the most it allows (max active strategies 2)" in refused.value.message

    with pytest.raises(Conflict, match="max active strategies 2"):
        strategy_promote(actor=people["trader"], strategy_id=third.pk, via="page")
    third.refresh_from_db()
    assert (third.status, third.stage) == (Strategy.Status.STOPPED, Strategy.Stage.CANDIDATE)
    assert refused_entries(third).count() == 1
    assert AuditEntry.objects.filter(action="strategy.status_set", outcome="refused", object_id=str(third.pk)).count() == 1

    strategy_status_set(actor=people["trader"], strategy=Strategy.objects.get(name="beta"), status="paused", via="page")
    strategy_status_set(actor=people["trader"], strategy=third, status="running", via="page")
    third.refresh_from_db()
    assert third.status == Strategy.Status.RUNNING


def test_the_default_limit_is_max_active_strategies(desk, settings):
    account, market, people = desk
    settings.MAX_ACTIVE_STRATEGIES = 1
    strategy_make(account=account, markets=[market], name="alpha")
    second = strategy_make(account=account, markets=[market], name="beta", status=Strategy.Status.STOPPED)

    with pytest.raises(Conflict, match="max active strategies 1"):
        strategy_status_set(actor=people["trader"], strategy=second, status="running", via="page")


def test_a_paper_period_counts_only_the_trades_since_the_strategy_went_on_paper(desk):
    account, market, people = desk
    strategy = on_paper(account=account, market=market, days=5)
    trades_make(strategy, market, ["1"] * 5, first_day_ago=10)  # 10 to 6 days ago: before its paper period
    trades_make(strategy, market, ["1"] * 2, first_day_ago=3)

    counted = {rule.rule: rule for rule in promotion_rules(strategy)}

    assert counted["min_paper_trades"].detail == "2 paper trades; the rule asks for at least 20"
    assert counted["paper_days"].detail.startswith("5 days on paper; the rule asks for at least 14")


def test_the_command_promotes_as_the_named_trader_and_refuses_in_words(desk):
    account, market, people = desk
    strategy = strategy_make(account=account, markets=[market], status=Strategy.Status.STOPPED, name="cmd")

    out = io.StringIO()
    call_command("strategy_promote", str(strategy.pk), "--as", "tina", stdout=out)
    assert out.getvalue().strip() == "cmd promoted from candidate to paper."
    assert AuditEntry.objects.get(action="strategy.promote", outcome="done").via == "command"

    with pytest.raises(CommandError, match="refused: cmd cannot go live: paper_days"):
        call_command("strategy_promote", str(strategy.pk), "--as", "tina")


def test_the_admin_action_promotes_and_shows_a_refusals_rules(client, desk):
    account, market, people = desk
    people["trader"].is_staff = True
    people["trader"].save()
    strategy = strategy_make(account=account, markets=[market], status=Strategy.Status.STOPPED, name="adm")
    client.force_login(people["trader"])

    done = client.post("/admin/strategies/strategy/", {"action": "promote", "_selected_action": [strategy.pk]}, follow=True)
    refused = client.post("/admin/strategies/strategy/", {"action": "promote", "_selected_action": [strategy.pk]}, follow=True)

    assert "Adm promoted from candidate to paper." in done.content.decode()  # the admin capitalises its messages
    assert "Adm: adm cannot go live: paper_days" in refused.content.decode()
    assert AuditEntry.objects.get(action="strategy.promote", outcome="done").via == "admin"


def test_only_an_admin_sets_an_accounts_promotion_rules_and_automatic_promotion(client, desk):
    account, market, people = desk
    admin_user = person_make("ada", role="admin", accounts=[account])
    for user in (people["trader"], admin_user):
        user.is_staff = True
        user.save()
    form = {**PromotionPolicy.defaults(), "account": account.pk, "auto_live": "on"}

    client.force_login(people["trader"])
    assert client.post("/admin/strategies/promotionpolicy/add/", form).status_code == 403
    client.force_login(admin_user)
    assert client.post("/admin/strategies/promotionpolicy/add/", form).status_code == 302

    assert PromotionPolicy.for_account(account.pk).auto_live is True
    entry = AuditEntry.objects.get(object_type="strategies.promotionpolicy")
    assert entry.who == admin_user and entry.via == "admin" and entry.after["auto_live"] is True
