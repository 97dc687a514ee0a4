"""From candidate to live, by rules: a strategy moves candidate -> paper -> live only through
`strategy_promote`, a trader's approval (or the system's, to live only where an admin enabled
`PromotionPolicy.auto_live` for the account).

candidate -> paper  the trader's approval and the account's room for one more running strategy
                    (the promotion starts it: its paper period begins now);
paper -> live       the rules of PAPER_RULES over the paper period (from `stage_changed_at` to
                    now), every one measured by the performance selector
                    (apps.trading.performance), every failed one named in the refusal.

Approvals and refusals are audited (`strategy.promote`) with the approver; an approval records
a `strategy.promoted` event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
from django.db import transaction
from django.utils import timezone

from apps.common.audit import audit_record, audit_refusals
from apps.common.errors import Conflict, NotAllowed, NotFound
from apps.common.events import event_record
from apps.engine import metrics
from apps.engine.display import decimal_text
from apps.exchanges.authorize import account_action_authorize
from apps.exchanges.models import ExchangeAccount
from apps.exchanges.roles import Role
from apps.research.live_vs_backtest import divergence
from apps.strategies.models import PromotionPolicy, Strategy
from apps.strategies.services.lifecycle import strategy_status_change
from apps.trading.performance import PerformanceReport, performance_report

Stage = Strategy.Stage
NEXT_STAGE = {Stage.CANDIDATE: Stage.PAPER, Stage.PAPER: Stage.LIVE}
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class RuleResult:
    rule: str  # "min_paper_trades"
    passed: bool
    detail: str  # "12 paper trades; the rule asks for at least 20"

    def as_dict(self) -> dict:
        return {"rule": self.rule, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class PaperPeriod:
    """What the rules read: the strategy's paper period and its figures."""

    strategy: Strategy
    policy: PromotionPolicy
    start: datetime | None  # None: the strategy never entered paper
    end: datetime
    report: PerformanceReport | None

    @property
    def days(self) -> float:
        return 0.0 if self.start is None else max((self.end - self.start).total_seconds(), 0) / DAY_SECONDS


def paper_period(strategy: Strategy, *, now: datetime | None = None, policy: PromotionPolicy | None = None) -> PaperPeriod:
    now = now or timezone.now()
    policy = policy or PromotionPolicy.for_account(strategy.account_id)
    start = strategy.stage_changed_at if strategy.stage == Stage.PAPER else None
    report = None
    if start is not None and start < now:
        report = performance_report(account_ids=[strategy.account_id], strategy_id=strategy.pk, start=start, end=now)
    return PaperPeriod(strategy=strategy, policy=policy, start=start, end=now, report=report)


# --- The rules: each reads the paper period and says whether it passes, in a trader's words ----


def _number(value) -> str:
    return decimal_text(Decimal(str(round(value, 2)))) if value is not None else "—"


def rule_paper_days(period: PaperPeriod) -> RuleResult:
    wanted = period.policy.paper_days
    if period.start is None:
        return RuleResult("paper_days", False, f"not on paper yet; the rule asks for at least {wanted} days on paper")
    return RuleResult(
        "paper_days",
        period.days >= wanted,
        f"{_number(period.days)} days on paper; the rule asks for at least {wanted}",
    )


def rule_min_paper_trades(period: PaperPeriod) -> RuleResult:
    trades, wanted = (period.report.trades if period.report else 0), period.policy.min_trades
    return RuleResult(
        "min_paper_trades",
        trades >= wanted,
        f"{trades} paper {'trade' if trades == 1 else 'trades'}; the rule asks for at least {wanted}",
    )


def paper_sharpe(report: PerformanceReport | None) -> float | None:
    """The report's Sharpe; on a period too short for the performance page's (fewer than 30
    daily returns) the engine's same ratio on the report's own daily returns, as a paper period
    of two weeks is judged; None under two days of returns or without any variation."""
    if report is None:
        return None
    if report.sharpe is not None:
        return report.sharpe
    daily = np.array([day.return_pct / 100 for day in report.daily if day.return_pct is not None], dtype=np.float64)
    return metrics.sharpe_ratio(daily)


def rule_min_sharpe(period: PaperPeriod) -> RuleResult:
    wanted = period.policy.min_sharpe
    sharpe = paper_sharpe(period.report)
    if sharpe is None:
        return RuleResult(
            "min_sharpe",
            False,
            f"no Sharpe ratio yet (it needs closed trades on at least two days that differ); "
            f"the rule asks for at least {decimal_text(wanted)}",
        )
    days = len(period.report.daily)
    return RuleResult(
        "min_sharpe",
        Decimal(str(sharpe)) >= wanted,
        f"Sharpe {_number(sharpe)} on {days} daily returns; the rule asks for at least {decimal_text(wanted)}",
    )


def rule_max_drawdown(period: PaperPeriod) -> RuleResult:
    limit = period.policy.max_drawdown_pct
    report = period.report
    if report is not None and report.trades and report.max_drawdown_pct is None:
        return RuleResult(
            "max_drawdown",
            False,
            f"its drawdown cannot be measured (no equity snapshot of its account in the period); "
            f"the rule allows at most {decimal_text(limit)}%",
        )
    drawdown = (report.max_drawdown_pct if report else None) or 0.0
    return RuleResult(
        "max_drawdown",
        Decimal(str(drawdown)) <= limit,
        f"max drawdown {_number(drawdown)}%; the rule allows at most {decimal_text(limit)}%",
    )


def rule_max_divergence(period: PaperPeriod) -> RuleResult:
    """Live on paper beside the backtest of the same candles over the paper period
    (apps.research.live_vs_backtest): |live P&L - backtest P&L| as a % of the allocation."""
    limit = period.policy.max_divergence_pct
    found = None if period.start is None else divergence(period.strategy, since=period.start, until=period.end)
    if found is None:
        return RuleResult(
            "max_divergence",
            False,
            f"live vs backtest not measured yet (no live trading to compare in the period); "
            f"the rule allows at most {decimal_text(limit)}%",
        )
    pct = found * 100
    return RuleResult(
        "max_divergence",
        pct <= limit,
        f"live differs from its backtest by {_number(pct)}% of the allocation; the rule allows at most {decimal_text(limit)}%",
    )


Rule = Callable[[PaperPeriod], RuleResult]
# Paper -> live.
PAPER_RULES: tuple[Rule, ...] = (
    rule_paper_days,
    rule_min_paper_trades,
    rule_min_sharpe,
    rule_max_drawdown,
    rule_max_divergence,
)
# What the daily review pauses a running strategy for (over its last `paper_days` days).
BREACH_RULES: tuple[Rule, ...] = (rule_max_drawdown,)


def rules_run(rules: tuple[Rule, ...], period: PaperPeriod) -> list[RuleResult]:
    return [rule(period) for rule in rules]


def promotion_rules(strategy: Strategy, *, now: datetime | None = None) -> list[RuleResult]:
    """The rules its next promotion would check, as of now (none from candidate to paper)."""
    if strategy.stage != Stage.PAPER:
        return []
    return rules_run(PAPER_RULES, paper_period(strategy, now=now))


# --- The promotion ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Promotion:
    strategy: Strategy
    from_stage: str
    to_stage: str
    results: list[RuleResult]

    def describe(self) -> str:
        checked = f" ({len(self.results)} rules passed)" if self.results else ""
        return f"{self.strategy.name} promoted from {self.from_stage} to {self.to_stage}{checked}."


def strategy_promote(*, actor, strategy_id: int, via: str | None, reason: str = "", now: datetime | None = None) -> Promotion:
    """Move the strategy to its next stage: the actor's approval (trader role on its account),
    the rules of the move, the account's limit of running strategies. Refused with every failed
    rule (Conflict, `fields` rule -> detail); approvals and refusals audited with the actor."""
    with audit_refusals(
        actor=actor,
        via=via,
        action="strategy.promote",
        object_type=Strategy._meta.label_lower,
        object_id=strategy_id,
        reason=reason,
    ):
        strategy = Strategy.objects.select_related("account").filter(pk=strategy_id).first()
        missing = f"no strategy #{strategy_id} on your accounts"
        if strategy is None:
            raise NotFound(missing)
        account_action_authorize(
            actor=actor, account_id=strategy.account_id, role=Role.TRADER, doing="promote strategies", missing=missing
        )
        to_stage = NEXT_STAGE.get(strategy.stage)
        if to_stage is None:
            raise Conflict(f"{strategy.name} is already live: there is no stage after live.")
        policy = PromotionPolicy.for_account(strategy.account_id)
        if actor is None and to_stage == Stage.LIVE and not policy.auto_live:
            raise NotAllowed(
                f"{strategy.name} goes live only with a trader's approval: an admin has not enabled automatic "
                "promotion to live on its account."
            )
        now = now or timezone.now()
        results = rules_run(PAPER_RULES, paper_period(strategy, now=now, policy=policy)) if to_stage == Stage.LIVE else []
        failed = [result for result in results if not result.passed]
        if failed:
            raise Conflict(
                f"{strategy.name} cannot go {to_stage}: " + "; ".join(f"{r.rule}: {r.detail}" for r in failed) + ".",
                fields={result.rule: [result.detail] for result in failed},
            )
        return _promote(actor=actor, via=via, strategy=strategy, to_stage=to_stage, results=results, reason=reason, now=now)


def _promote(*, actor, via, strategy: Strategy, to_stage: str, results: list[RuleResult], reason: str, now) -> Promotion:
    with transaction.atomic():
        # The account's row first, as a start takes it (one lock order: no deadlock with a start).
        ExchangeAccount.objects.select_for_update().filter(pk=strategy.account_id).first()
        locked = Strategy.objects.select_for_update().get(pk=strategy.pk)
        if locked.stage != strategy.stage:
            raise Conflict(f"{locked.name} moved to {locked.stage} meanwhile; look again before promoting it.")
        from_stage = locked.stage
        if to_stage == Stage.PAPER and locked.status != Strategy.Status.RUNNING:
            # Its paper period starts now: it runs (within the account's limit of running strategies).
            locked = strategy_status_change(
                actor=actor, strategy=locked, status=Strategy.Status.RUNNING, reason=f"promoted to paper: {reason}", via=via
            )
        locked.stage, locked.stage_changed_at = to_stage, now
        locked.save(update_fields=["stage", "stage_changed_at", "updated_at"])
        rules = [result.as_dict() for result in results]
        approver = actor.get_username() if actor is not None else "system (automatic promotion)"
        event_record(
            "strategy.promoted",
            {"strategy": locked.pk, "from": from_stage, "to": to_stage, "by": approver, "rules": rules, "reason": reason},
            account=locked.account_id,
        )
        audit_record(
            actor=actor,
            via=via,
            action="strategy.promote",
            obj=locked,
            reason=reason,
            before={"stage": from_stage},
            after={"stage": to_stage, "approved_by": approver, "rules": rules},
        )
    return Promotion(strategy=locked, from_stage=from_stage, to_stage=to_stage, results=results)
