"""Condition rules (AlertRule.condition): what the desk watches beyond its events.

Each alerts tick, at most every ALERTS_RULES_EVERY_SECONDS, every active condition rule measures
its subjects (the markets, positions, strategies or accounts it applies to) and compares with
its threshold. A subject whose condition becomes true raises one alert (dedup key: rule, subject
and episode), routed to the rule's channels; while it stays true nothing more; once false it is
armed again. It runs in the alerts worker: it reads what trading wrote and takes no lock trading
waits for.

Figures: prices are the desk's last seen (LastPrice); a position's unrealized P&L % is
unrealized / (amount × average entry); the day's loss and a strategy's drawdown come from the
performance selector (apps.trading.performance), so they equal the performance page's and API's.
"""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.alerts.kinds import AlertSpec
from apps.alerts.models import AlertRule, RuleState
from apps.exchanges.models import ExchangeAccount
from apps.strategies.models import Strategy
from apps.trading.models import Fill, LastPrice, Position
from apps.trading.performance import performance_report

logger = logging.getLogger(__name__)
Condition = AlertRule.Condition
LAST_RUN_KEY = "alerts:rules:last-run"


@dataclass(frozen=True)
class Finding:
    subject: str
    breached: bool
    value: str
    account_id: int | None
    title: str
    body: str
    watch_from_now: bool = False  # the subject starts being watched again (no fill: strategies restarted)


def rules_due(*, now: datetime | None = None) -> bool:
    """True at most once per ALERTS_RULES_EVERY_SECONDS across the workers (the cache's add);
    always when it is 0."""
    if settings.ALERTS_RULES_EVERY_SECONDS <= 0:
        return True
    return cache.add(LAST_RUN_KEY, (now or timezone.now()).isoformat(), timeout=settings.ALERTS_RULES_EVERY_SECONDS)


def rules_evaluate(*, now: datetime | None = None) -> list[tuple[AlertRule, AlertSpec]]:
    """The alerts the condition rules raise now: one per subject whose condition became true."""
    now = now or timezone.now()
    raised = []
    rules = AlertRule.objects.filter(active=True).exclude(condition="")
    for rule in rules.prefetch_related("accounts", "markets", "strategies", "channels").select_related("account"):
        try:
            findings = list(_measure(rule, now))
        except Exception:  # one rule's bad data never stops the others, nor the dispatcher
            logger.exception("alerts: rule %s could not be evaluated", rule.pk)
            continue
        raised.extend((rule, spec) for spec in _episodes(rule, findings, now))
    return raised


def _episodes(rule: AlertRule, findings: list[Finding], now: datetime) -> Iterator[AlertSpec]:
    with transaction.atomic():
        states = {state.subject: state for state in RuleState.objects.select_for_update().filter(rule=rule)}
        for finding in findings:
            state = states.get(finding.subject) or RuleState(rule=rule, subject=finding.subject, watched_since=now)
            became_true = finding.breached and not state.breached
            state.breached, state.value, state.at = finding.breached, finding.value[:80], now
            state.episode += became_true
            if finding.watch_from_now:
                state.watched_since = now
            state.save()
            if became_true:
                yield AlertSpec(
                    kind=f"rule.{rule.condition}:{rule.pk}",  # throttled per rule (kind, account, channel)
                    priority=rule.priority,
                    dedup_key=f"rule:{rule.pk}:{finding.subject}:{state.episode}",
                    title=f"{rule.name}: {finding.title}"[:200],
                    body=finding.body,
                    account_id=finding.account_id,
                    event_kind=f"rule.{rule.condition}",
                    built_in=False,
                )


def _measure(rule: AlertRule, now: datetime) -> Iterable[Finding]:
    threshold = rule.threshold
    if threshold is None:
        return []
    return {
        Condition.PRICE_ABOVE: _prices,
        Condition.PRICE_BELOW: _prices,
        Condition.POSITION_PNL_BELOW: _positions,
        Condition.POSITION_PNL_ABOVE: _positions,
        Condition.STRATEGY_DRAWDOWN_ABOVE: _drawdowns,
        Condition.DAILY_LOSS_ABOVE: _daily_losses,
        Condition.NO_FILL: _quiet_accounts,
    }[rule.condition](rule, threshold, now)


def rule_accounts(rule: AlertRule) -> list[ExchangeAccount]:
    """The accounts a rule applies to: those it names (none: all), within its owner's account."""
    accounts = ExchangeAccount.objects.order_by("pk")
    named = [account.pk for account in rule.accounts.all()]
    if named:
        accounts = accounts.filter(pk__in=named)
    if rule.account_id is not None:
        accounts = accounts.filter(pk=rule.account_id)
    return list(accounts)


def _prices(rule: AlertRule, threshold: Decimal, now) -> Iterator[Finding]:
    above = rule.condition == Condition.PRICE_ABOVE
    for last in LastPrice.objects.filter(market__in=[market.pk for market in rule.markets.all()]).select_related("market"):
        breached = last.price >= threshold if above else last.price <= threshold
        word = "above" if above else "below"
        yield Finding(
            subject=f"market:{last.market_id}",
            breached=breached,
            value=f"{last.price}",
            account_id=rule.account_id,
            title=f"{last.market.symbol} crossed {word} {threshold.normalize():f}",
            body=f"{last.market.symbol} is at {last.price.normalize():f} ({word} {threshold.normalize():f}) at {last.at:%H:%M:%S} UTC.",
        )


def _positions(rule: AlertRule, threshold: Decimal, now) -> Iterator[Finding]:
    below = rule.condition == Condition.POSITION_PNL_BELOW
    positions = Position.objects.filter(account__in=rule_accounts(rule), amount__gt=0).select_related("market", "account")
    if markets := [market.pk for market in rule.markets.all()]:
        positions = positions.filter(market__in=markets)
    if strategies := [strategy.pk for strategy in rule.strategies.all()]:
        positions = positions.filter(strategy__in=strategies)
    for position in positions:
        cost = position.amount * position.average_entry
        if cost <= 0:
            continue
        pnl_pct = position.unrealized_pnl / cost * 100
        breached = pnl_pct <= threshold if below else pnl_pct >= threshold
        yield Finding(
            subject=f"position:{position.pk}",
            breached=breached,
            value=f"{pnl_pct:.2f}",
            account_id=position.account_id,
            title=f"{position.market.symbol} unrealized P&L {pnl_pct:+.2f} %",
            body=(
                f"The {position.market.symbol} position of {position.account.name} ({position.amount.normalize():f} at "
                f"{position.average_entry.normalize():f}) is {pnl_pct:+.2f} % unrealized ({position.unrealized_pnl:+.2f}), "
                f"{'below' if below else 'above'} {threshold.normalize():f} %."
            ),
        )


def _drawdowns(rule: AlertRule, threshold: Decimal, now) -> Iterator[Finding]:
    strategies = Strategy.objects.filter(account__in=rule_accounts(rule)).select_related("account")
    if named := [strategy.pk for strategy in rule.strategies.all()]:
        strategies = strategies.filter(pk__in=named)
    else:
        strategies = strategies.filter(status=Strategy.Status.RUNNING)
    for strategy in strategies:
        report = performance_report(account_ids=[strategy.account_id], strategy_id=strategy.pk, end=now)
        if not report.equity:
            continue
        drawdown = Decimal(f"{report.equity[-1].drawdown_pct:.4f}")
        yield Finding(
            subject=f"strategy:{strategy.pk}",
            breached=drawdown >= threshold,
            value=f"{drawdown:.2f}",
            account_id=strategy.account_id,
            title=f"strategy {strategy.name} in a {drawdown:.2f} % drawdown",
            body=f"Strategy {strategy.name} ({strategy.account.name}) is {drawdown:.2f} % below its peak "
            f"(alert above {threshold.normalize():f} %).",
        )


def _daily_losses(rule: AlertRule, threshold: Decimal, now) -> Iterator[Finding]:
    start = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    for account in rule_accounts(rule):
        report = performance_report(account_ids=[account.pk], start=start, end=now + timedelta(microseconds=1))
        if report.total_return_pct is None:
            continue
        loss = Decimal(f"{-report.total_return_pct:.4f}")
        yield Finding(
            subject=f"account:{account.pk}:{start:%Y-%m-%d}",  # each day is its own episode
            breached=loss >= threshold,
            value=f"{loss:.2f}",
            account_id=account.pk,
            title=f"{account.name} down {loss:.2f} % today",
            body=f"{account.name} has lost {loss:.2f} % today ({report.total_pnl:+.2f}; "
            f"alert above {threshold.normalize():f} %).",
        )


def _quiet_accounts(rule: AlertRule, threshold: Decimal, now) -> Iterator[Finding]:
    minutes = int(threshold)
    states = {state.subject: state for state in RuleState.objects.filter(rule=rule)}
    for account in rule_accounts(rule):
        running = Strategy.objects.filter(account=account, status=Strategy.Status.RUNNING)
        if named := [strategy.pk for strategy in rule.strategies.all()]:
            running = running.filter(pk__in=named)
        subject = f"account:{account.pk}"
        if not running.exists():
            yield Finding(subject, False, "no strategy running", account.pk, "", "", watch_from_now=True)
            continue
        fills = Fill.objects.filter(order__account=account)
        if named:
            fills = fills.filter(order__strategy__in=named)
        last_fill = fills.aggregate(last=Max("traded_at"))["last"]
        state = states.get(subject)
        watched = state.watched_since if state is not None else now
        since = max(filter(None, (last_fill, watched)))
        quiet = int((now - since).total_seconds() // 60)
        yield Finding(
            subject=subject,
            breached=quiet >= minutes,
            value=f"{quiet} min",
            account_id=account.pk,
            title=f"no fill on {account.name} for {quiet} minutes",
            body=f"{running.count()} strategies run on {account.name}, but nothing has filled since "
            f"{since:%Y-%m-%d %H:%M} UTC ({quiet} minutes; alert after {minutes}).",
        )
