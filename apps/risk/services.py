"""The risk engine's writes: decide (pure rules, apps/engine/risk_rules.py) and record every
decision with its reasons; kill switches."""

from dataclasses import asdict
from decimal import Decimal

from django.db import transaction

from apps.common.events import event_record
from apps.engine.risk_rules import Decision, DeskState, KillState, Proposal, risk_evaluate
from apps.risk.models import KillSwitch, RiskEvent
from apps.risk.selectors import kill_state, limits_for
from apps.trading.venue_health import venue_down_reason


def _topic(account_id) -> str:
    return f"risk.{account_id or 'global'}"


def desk_state_build(*, account, market, strategy, price: Decimal, quote: str) -> DeskState:
    """A snapshot of what the rules need; call it under the account's row lock."""
    from apps.strategies.models import Strategy
    from apps.strategies.services.evaluation import market_data_fresh
    from apps.trading import selectors

    equity = selectors.account_equity(account=account, quote=quote)
    peak, day_start = selectors.equity_marks(account=account, equity=equity)
    position = selectors.position_for(account=account, market=market)
    timeframe = strategy.timeframe if strategy else "1m"
    rate_strategy, rate_account = selectors.order_rates(account=account, strategy=strategy)
    return DeskState(
        kill_state=kill_state(account_id=account.pk),
        strategy_running=strategy is None or strategy.status == Strategy.Status.RUNNING,
        equity=equity, peak_equity=peak, day_start_equity=day_start,
        market_exposure=selectors.market_exposure(account=account, market=market, price=price, position=position),
        open_positions=selectors.open_positions_count(account=account),
        has_position_here=bool(position and position.amount > 0),
        last_price=selectors.last_price(market=market),
        data_fresh=market_data_fresh(market_id=market.pk, timeframe=timeframe),
        orders_last_minute_strategy=rate_strategy,
        orders_last_minute_account=rate_account,
        venue_down=venue_down_reason(account_id=account.pk),
    )


def risk_check(*, signal, proposal: Proposal, account, market, strategy) -> Decision:
    """Decide and record the decision (RiskEvent + outbox event) in the caller's transaction."""
    state = desk_state_build(account=account, market=market, strategy=strategy, price=proposal.price, quote=market.quote)
    decision = risk_evaluate(proposal, state, limits_for(account_id=account.pk, strategy=strategy))
    risk_decision_record(signal=signal, decision=decision, account_id=account.pk, strategy_id=strategy.pk if strategy else None)
    return decision


def risk_decision_record(*, signal, decision: Decision, account_id, strategy_id) -> RiskEvent:
    checks = [asdict(check) for check in decision.checks]
    rules = [check.rule for check in decision.failed]
    event = RiskEvent.objects.create(
        account_id=account_id, strategy_id=strategy_id, signal=signal, rules=rules, reason=decision.reason, checks=checks,
        decision=RiskEvent.Decision.ALLOWED if decision.allowed else RiskEvent.Decision.REJECTED)
    kind = "risk.allowed" if decision.allowed else "risk.rejected"
    event_record(topic=_topic(account_id), kind=kind, payload={
        "risk_event": event.pk, "signal": signal.pk if signal else None, "strategy": strategy_id, "rules": rules,
        "reason": decision.reason})
    return event


def risk_rejection_record(*, signal, account_id, strategy_id, rule: str, reason: str) -> RiskEvent:
    """A refusal decided outside the rules table (nothing to close, shorting on spot...)."""
    event = RiskEvent.objects.create(account_id=account_id, strategy_id=strategy_id, signal=signal,
                                     decision=RiskEvent.Decision.REJECTED, rules=[rule], reason=reason)
    event_record(topic=_topic(account_id), kind="risk.rejected", payload={
        "risk_event": event.pk, "signal": signal.pk if signal else None, "strategy": strategy_id, "rules": [rule], "reason": reason})
    return event


def risk_action_record(*, account_id, strategy_id=None, rule: str, reason: str) -> RiskEvent:
    event = RiskEvent.objects.create(account_id=account_id, strategy_id=strategy_id, decision=RiskEvent.Decision.ACTION,
                                     rules=[rule], reason=reason)
    event_record(topic=_topic(account_id), kind="risk.action_taken", payload={"risk_event": event.pk, "rule": rule, "reason": reason,
                                                                             "strategy": strategy_id})
    return event


def kill_switch_set(*, account=None, state: str, reason: str = "") -> KillSwitch:
    """Takes effect before the next order: orders are placed under the account's row lock and
    read the switch there; a submit that has not left yet re-checks it."""
    KillState(state)  # refuse a state that does not exist
    with transaction.atomic():
        switch, _ = KillSwitch.objects.select_for_update().get_or_create(account=account)
        switch.state, switch.reason = state, reason[:300]
        switch.save()
        scope = f"account {account.name}" if account else "global"
        risk_action_record(account_id=account.pk if account else None, rule="kill_switch",
                           reason=f"{scope} kill switch set to {state.upper()}" + (f": {reason}" if reason else ""))
    return switch
