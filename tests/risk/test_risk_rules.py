from decimal import Decimal as D

from apps.engine.risk_rules import (
    DeskState,
    KillState,
    Limits,
    Proposal,
    kill_state_combine,
    risk_evaluate,
)

ENTRY = Proposal(reduces=False, notional=D("100"), price=D("100"))
EXIT = Proposal(reduces=True, notional=D("100"), price=D("100"))
CALM = DeskState(equity=D("10000"), peak_equity=D("10000"), day_start_equity=D("10000"), last_price=D("100"))


def failed_rules(proposal, state=CALM, limits=None):
    return [check.rule for check in risk_evaluate(proposal, state, limits or Limits()).failed]


def test_a_calm_desk_allows_an_entry_within_limits():
    assert risk_evaluate(ENTRY, CALM, Limits(max_order_notional=D("500"))).allowed


def test_halted_blocks_everything_and_reduce_only_blocks_only_entries():
    halted = DeskState(**{**CALM.__dict__, "kill_state": KillState.HALTED})
    reduce_only = DeskState(**{**CALM.__dict__, "kill_state": KillState.REDUCE_ONLY})
    assert failed_rules(EXIT, halted) == ["kill_switch"]
    assert failed_rules(ENTRY, reduce_only) == ["kill_switch"]
    assert failed_rules(EXIT, reduce_only) == []


def test_the_strictest_kill_switch_wins():
    assert kill_state_combine("active", "reduce_only") == KillState.REDUCE_ONLY
    assert kill_state_combine("halted", "active") == KillState.HALTED
    assert kill_state_combine() == KillState.ACTIVE


def test_an_order_larger_than_the_max_notional_is_refused_with_both_numbers():
    decision = risk_evaluate(ENTRY, CALM, Limits(max_order_notional=D("50")))
    assert not decision.allowed
    assert "100.00 exceeds max order notional 50" in decision.reason


def test_a_position_over_its_share_of_equity_is_refused():
    state = DeskState(**{**CALM.__dict__, "market_exposure": D("950")})
    assert failed_rules(ENTRY, state, Limits(max_position_pct=D("10"))) == ["max_position_pct"]
    assert failed_rules(ENTRY, CALM, Limits(max_position_pct=D("10"))) == []


def test_a_new_market_is_refused_at_max_open_positions_but_adding_to_one_is_not():
    full = DeskState(**{**CALM.__dict__, "open_positions": 2})
    assert failed_rules(ENTRY, full, Limits(max_open_positions=2)) == ["max_open_positions"]
    adding = DeskState(**{**full.__dict__, "has_position_here": True})
    assert failed_rules(ENTRY, adding, Limits(max_open_positions=2)) == []


def test_entries_stop_after_the_daily_loss_and_the_drawdown_limits_but_exits_go_on():
    losing = DeskState(**{**CALM.__dict__, "equity": D("9400"), "peak_equity": D("12000")})
    limits = Limits(max_daily_loss_pct=D("5"), max_drawdown_pct=D("20"))
    assert failed_rules(ENTRY, losing, limits) == ["max_daily_loss", "max_drawdown"]
    assert failed_rules(EXIT, losing, limits) == []


def test_an_entry_priced_away_from_the_last_price_is_refused_at_the_default_half_percent():
    assert failed_rules(Proposal(False, D("100"), D("100.6")), CALM) == ["price_deviation"]
    assert failed_rules(Proposal(False, D("100"), D("100.4")), CALM) == []


def test_the_rate_caps_hold_per_strategy_and_per_account():
    busy = DeskState(**{**CALM.__dict__, "orders_last_minute_strategy": 100})
    assert failed_rules(ENTRY, busy) == ["rate_cap_strategy"]
    busy_account = DeskState(**{**CALM.__dict__, "orders_last_minute_account": 100})
    assert failed_rules(EXIT, busy_account) == ["rate_cap_account"]


def test_stale_market_data_pauses_entries_only():
    stale = DeskState(**{**CALM.__dict__, "data_fresh": False})
    assert failed_rules(ENTRY, stale) == ["fresh_data"]
    assert failed_rules(EXIT, stale) == []


def test_entries_wait_while_the_exchange_is_not_answering_but_exits_are_still_tried():
    down = DeskState(**{**CALM.__dict__, "venue_down": "unavailable at 12:00:01: 503"})
    assert failed_rules(ENTRY, down) == ["venue_down"]
    assert failed_rules(EXIT, down) == []
