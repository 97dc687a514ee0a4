"""The risk engine's writes: decide (pure rules, apps/engine/risk_rules.py) and record every
decision with its reasons; kill switches."""

from dataclasses import asdict
from decimal import Decimal

from django.db import transaction

from apps.common.events import event_build, event_record
from apps.common.models import Event
from apps.engine.risk_rules import Decision, DeskState, KillState, Proposal, risk_evaluate
from apps.risk.models import KillSwitch, RiskEvent


def _topic(account_id) -> dict:
    """risk.<account>, or risk.global for the desk-wide kill switch."""
    return {"account": account_id} if account_id else {}


def desk_state_from_book(*, book, signal, price: Decimal) -> DeskState:
    """What the rules see for this signal: the account book (trading.book), read under the
    account's row lock and kept current by the batch placing orders."""
    from apps.strategies.models import Strategy

    strategy, market_id = signal.strategy, signal.market_id
    equity = book.equity(signal.market.quote)
    peak, day_start = book.equity_marks(equity)
    return DeskState(
        kill_state=book.kill_state,
        strategy_running=strategy is None or strategy.status == Strategy.Status.RUNNING,
        equity=equity, peak_equity=peak, day_start_equity=day_start,
        market_exposure=book.exposure(market_id, price),
        open_positions=book.open_positions(),
        has_position_here=book.position_amount(market_id) > 0,
        holding_here=book.holding(market_id, signal.market.base),
        signals_last_minute_strategy=book.signal_rate.get(signal.pk, 0),
        last_price=book.last_price.get(market_id),
        data_fresh=book.fresh[(market_id, strategy.timeframe if strategy else "1m")],
        orders_last_minute_strategy=book.rate_strategy.get(strategy.pk, 0) if strategy else 0,
        orders_last_minute_account=book.rate_account,
        venue_down=book.venue_down,
    )


def risk_decide(*, book, signal, proposal: Proposal) -> Decision:
    state = desk_state_from_book(book=book, signal=signal, price=proposal.price)
    return risk_evaluate(proposal, state, book.limits[signal.strategy_id])


def risk_event_build(*, signal, account_id, strategy_id, decision: Decision | None = None, rule: str = "",
                     reason: str = "") -> RiskEvent:
    """An unsaved RiskEvent for a decision of the rules, or for a refusal decided outside them
    (nothing to close, shorting on spot...); the caller saves it with its outbox event."""
    if decision is None:
        return RiskEvent(account_id=account_id, strategy_id=strategy_id, signal=signal, decision=RiskEvent.Decision.REJECTED,
                         rules=[rule], reason=reason)
    return RiskEvent(account_id=account_id, strategy_id=strategy_id, signal=signal, rules=[check.rule for check in decision.failed],
                     reason=decision.reason, checks=[asdict(check) for check in decision.checks],
                     decision=RiskEvent.Decision.ALLOWED if decision.allowed else RiskEvent.Decision.REJECTED)


def risk_event_outbox(event: RiskEvent) -> Event:
    """The (unsaved) outbox event of a saved decision."""
    kind = "risk.allowed" if event.decision == RiskEvent.Decision.ALLOWED else "risk.rejected"
    return event_build(kind, {
        "risk_event": event.pk, "signal": event.signal_id, "strategy": event.strategy_id, "rules": event.rules,
        "reason": event.reason}, **_topic(event.account_id))


def risk_action_record(*, account_id, strategy_id=None, rule: str, reason: str) -> RiskEvent:
    event = RiskEvent.objects.create(account_id=account_id, strategy_id=strategy_id, decision=RiskEvent.Decision.ACTION,
                                     rules=[rule], reason=reason)
    event_record("risk.action_taken", {"risk_event": event.pk, "rule": rule, "reason": reason, "strategy": strategy_id},
                 **_topic(account_id))
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
