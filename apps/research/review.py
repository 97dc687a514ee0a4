"""The daily review of running strategies (beat, `research: daily strategy review`).

Per account, every running strategy is measured over its account's last `paper_days` days by
the performance selector (apps.trading.performance) and ranked by return. Each gets a verdict:
breach (a BREACH_RULES rule failed: it is paused, with the rule's words as its status reason and
a `strategy.rule_breached` event), activation candidate (on paper and passing every rule of a
promotion to live; promoted at once where an admin enabled `auto_live` for the account), top
performer (the best third, in profit), underperformer (in loss), else steady. The market's
regime on the strategy's first market and timeframe (apps.engine.regime) is stored beside it.
One `StrategyReview` row per strategy and day: a second run the same day rewrites the rows of
the strategies still running."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.common.events import event_record
from apps.common.logging import get_logger
from apps.engine.regime import regime_classify
from apps.markets.selectors import candles_window
from apps.research.models import StrategyReview
from apps.research.promotion import BREACH_RULES, PAPER_RULES, PaperPeriod, paper_period, rules_run, strategy_promote
from apps.strategies.models import PromotionPolicy, Strategy
from apps.strategies.models.promotion import REVIEW_PAUSE_PREFIX
from apps.strategies.services.lifecycle import strategy_status_set
from apps.trading.performance import performance_report

log = get_logger(__name__)

REGIME_CANDLES = 120
Verdict = StrategyReview.Verdict


def strategies_review(*, now: datetime | None = None) -> list[StrategyReview]:
    """Review every running strategy of every account; return the day's rows, account by account."""
    now = now or timezone.now()
    running = Strategy.objects.filter(status=Strategy.Status.RUNNING).prefetch_related("markets").order_by("account_id", "pk")
    by_account: dict[int, list[Strategy]] = {}
    for strategy in running:
        by_account.setdefault(strategy.account_id, []).append(strategy)
    rows: list[StrategyReview] = []
    regimes: dict[tuple[int, str], dict] = {}
    for account_id, strategies in by_account.items():
        try:
            rows.extend(_account_review(account_id, strategies, now=now, regimes=regimes))
        except Exception:  # one account's failure leaves the others reviewed; the next day tries again
            log.exception("daily review of an account failed", extra={"account": account_id})
    return rows


def _account_review(account_id: int, strategies: list[Strategy], *, now, regimes: dict) -> list[StrategyReview]:
    policy = PromotionPolicy.for_account(account_id)
    start = now - timedelta(days=policy.paper_days)
    measured = []
    for strategy in strategies:
        report = performance_report(account_ids=[account_id], strategy_id=strategy.pk, start=start, end=now)
        window = PaperPeriod(strategy=strategy, policy=policy, start=start, end=now, report=report)
        measured.append((strategy, report, rules_run(BREACH_RULES, window)))
    measured.sort(key=lambda item: (item[1].total_return_pct is None, -(item[1].total_return_pct or 0.0), item[0].pk))
    top_count = max(1, len(measured) // 3)
    rows = []
    for rank, (strategy, report, breaches) in enumerate(measured, start=1):
        rules = [result.as_dict() for result in breaches]
        failed = [result for result in breaches if not result.passed]
        promotion = []
        if not failed and strategy.stage == Strategy.Stage.PAPER:
            promotion = rules_run(PAPER_RULES, paper_period(strategy, now=now, policy=policy))
            rules += [result.as_dict() for result in promotion if result.rule not in {r["rule"] for r in rules}]
        if failed:
            verdict = Verdict.BREACH
        elif promotion and all(result.passed for result in promotion):
            verdict = Verdict.CANDIDATE
        elif rank <= top_count and report.total_pnl > 0:
            verdict = Verdict.TOP
        elif report.total_pnl < 0:
            verdict = Verdict.UNDER
        else:
            verdict = Verdict.STEADY
        row = StrategyReview(
            day=now.date(),
            strategy=strategy,
            account_id=account_id,
            window_start=start,
            window_end=now,
            stage=strategy.stage,
            rank=rank,
            ranked=len(measured),
            verdict=verdict,
            regime_figures=_regime(strategy, now=now, regimes=regimes),
            trades=report.trades,
            pnl=report.total_pnl,
            return_pct=report.total_return_pct,
            sharpe=report.sharpe,
            max_drawdown_pct=report.max_drawdown_pct,
            rules=rules,
        )
        row.regime = row.regime_figures.get("label", "")
        rows.append(_act(row, failed, policy=policy, now=now))
    return rows


def _regime(strategy: Strategy, *, now, regimes: dict) -> dict:
    markets = sorted(strategy.markets.all(), key=lambda market: market.pk)
    if not markets:
        return {}
    key = (markets[0].pk, strategy.timeframe)
    if key not in regimes:
        candles = candles_window(market=markets[0], timeframe=strategy.timeframe, end=now, count=REGIME_CANDLES)
        found = regime_classify(candles.high, candles.low, candles.close)
        regimes[key] = {"market": markets[0].symbol, **found.as_dict()} if found else {}
    return regimes[key]


def _act(row: StrategyReview, failed, *, policy: PromotionPolicy, now) -> StrategyReview:
    """Save the row; pause a breaching strategy (with its event) in the same transaction, or
    promote an activation candidate where the account allows automatic promotion to live."""
    strategy = row.strategy
    if failed:
        row.action = StrategyReview.Action.PAUSED
        row.reason = f"{REVIEW_PAUSE_PREFIX} {row.day:%Y-%m-%d}: " + "; ".join(r.detail for r in failed)
        with transaction.atomic():
            saved = _save(row)
            strategy_status_set(actor=None, strategy=strategy, status=Strategy.Status.PAUSED, reason=saved.reason)
            for result in failed:
                event_record(
                    "strategy.rule_breached",
                    {
                        "strategy": strategy.pk,
                        "review": saved.pk,
                        "rule": result.rule,
                        "detail": result.detail,
                        "action": saved.action,
                        "reason": saved.reason,
                    },
                    account=strategy.account_id,
                )
        log.info("strategy paused by the daily review", extra={"strategy": strategy.pk, "reason": saved.reason})
        return saved
    if row.verdict == Verdict.CANDIDATE and policy.auto_live:
        try:
            strategy_promote(actor=None, strategy_id=strategy.pk, via=None, reason=f"daily review {row.day:%Y-%m-%d}", now=now)
        except ApplicationError as refused:  # audited by the promotion; the row says why
            row.reason = refused.message[:300]
        else:
            row.action, row.reason = StrategyReview.Action.PROMOTED, "promoted to live automatically (the account allows it)"
    return _save(row)


_KEYS = ("id", "created_at", "strategy", "day")


def _save(row: StrategyReview) -> StrategyReview:
    """Once per strategy and day: a second run rewrites the row."""
    fields = {f.attname: getattr(row, f.attname) for f in StrategyReview._meta.concrete_fields if f.name not in _KEYS}
    saved, _ = StrategyReview.objects.update_or_create(strategy=row.strategy, day=row.day, defaults=fields)
    return saved
