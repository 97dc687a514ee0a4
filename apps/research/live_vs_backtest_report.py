"""The stored daily live-vs-backtest report of a strategy (LiveBacktestReport) and its alert.

`report_run` compares one UTC day (apps/research/live_vs_backtest.py), writes the strategy's row
for that day (a rerun replaces it) and, when the divergence exceeds RESEARCH_DIVERGENCE_THRESHOLD,
records `strategy.diverged` in the same transaction, once per strategy and day (a rerun does not
alert twice). The nightly task runs it for yesterday for every running strategy."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.common.errors import Invalid, NotFound
from apps.common.events import event_record
from apps.research.live_vs_backtest import Comparison, Trade, strategy_comparison
from apps.research.models import LiveBacktestReport
from apps.strategies.models import Strategy


def divergence_threshold() -> Decimal:
    try:
        return Decimal(str(getattr(settings, "RESEARCH_DIVERGENCE_THRESHOLD", "0.02")))
    except InvalidOperation:
        raise Invalid("RESEARCH_DIVERGENCE_THRESHOLD must be a number such as 0.02 (2 % of the allocation)") from None


def day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def yesterday() -> date:
    return (timezone.now().astimezone(UTC) - timedelta(days=1)).date()


def running_strategy_ids() -> list[int]:
    return list(Strategy.objects.filter(status=Strategy.Status.RUNNING).order_by("pk").values_list("pk", flat=True))


def report_run(*, strategy_id: int, day: date, threshold: Decimal | None = None) -> LiveBacktestReport:
    """Compare the strategy's `day` and store it (the system's work: beat, or the command)."""
    strategy = Strategy.objects.select_related("account").filter(pk=strategy_id).first()
    if strategy is None:
        raise NotFound(f"no strategy has id {strategy_id}")
    threshold = divergence_threshold() if threshold is None else threshold
    since, until = day_window(day)
    comparison = strategy_comparison(strategy=strategy, since=since, until=until)
    values = report_values(comparison)
    with transaction.atomic():
        report, _ = LiveBacktestReport.objects.select_for_update().get_or_create(
            strategy=strategy, day=day, defaults={**values, "threshold": threshold}
        )
        for name, value in values.items():
            setattr(report, name, value)
        report.threshold = threshold
        diverged = report.divergence is not None and report.divergence > threshold
        if diverged and report.alerted_at is None:
            report.alerted_at = timezone.now()
            report.save()
            _diverged_record(report, comparison)
        else:
            report.save()
    return report


def report_values(comparison: Comparison) -> dict:
    divergence = comparison.divergence
    return {
        "window_start": comparison.start or comparison.end,
        "window_end": comparison.end,
        "problem": comparison.problem,
        "matched": len(comparison.matched),
        "missing": len(comparison.missing),
        "extra": len(comparison.extra),
        "live_pnl": comparison.live_pnl,
        "backtest_pnl": comparison.backtest_pnl,
        "pnl_difference": comparison.difference,
        "allocation": comparison.allocation,
        "divergence": None if divergence is None else divergence.quantize(Decimal("1E-8")),
        "slippage": {name: _text(value) for name, value in comparison.slippage_summary().items()},
        "trades": report_rows(comparison),
    }


def report_rows(comparison: Comparison) -> list[dict]:
    """Every compared trade in candle order, as the page and the admin show it."""
    rows = [
        {
            "status": "matched",
            **_trade_fields(live),
            "live": _side(live),
            "backtest": _side(backtest),
            "slippage_quote": _text(slip.quote),
            "slippage_pct": _text(slip.pct),
        }
        for (live, backtest), slip in zip(comparison.matched, comparison.slippages, strict=True)
    ]
    for trade, reason in comparison.missing_explained:
        rows.append({"status": "missing", **_trade_fields(trade), "live": None, "backtest": _side(trade), **_reason(reason)})
    for trade, reason in comparison.extra_explained:
        rows.append({"status": "extra", **_trade_fields(trade), "live": _side(trade), "backtest": None, **_reason(reason)})
    return sorted(rows, key=lambda row: (row["time"], row["market"], row["side"]))


def _trade_fields(trade: Trade) -> dict:
    return {"market": trade.market, "time": trade.time.isoformat(), "side": trade.side}


def _side(trade: Trade) -> dict:
    return {
        "price": _text(trade.price),
        "amount": _text(trade.amount),
        "fee": _text(trade.fee_quote + trade.base_fee * trade.price),
    }


def _reason(reason) -> dict:
    return {"reason": reason.kind, "reason_label": reason.label, "rule": reason.rule, "detail": reason.detail}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{(value + 0).normalize():f}"  # + 0: no "-0"


def _diverged_record(report: LiveBacktestReport, comparison: Comparison) -> None:
    kinds = {}
    for _, reason in [*comparison.missing_explained, *comparison.extra_explained]:
        kinds[reason.label] = kinds.get(reason.label, 0) + 1
    summary = (
        f"{report.strategy.name} on {report.day}: live {report.pnl_difference.normalize():+f} against the backtest "
        f"({report.divergence_pct} % of the allocation, threshold {report.threshold_pct} %); "
        f"{report.matched} matched, {report.missing} missing, {report.extra} extra"
        + (" (" + ", ".join(f"{count} {label}" for label, count in kinds.items()) + ")" if kinds else "")
    )
    event_record(
        "strategy.diverged",
        {
            "report": report.pk,
            "strategy": report.strategy_id,
            "day": report.day.isoformat(),
            "divergence": _text(report.divergence),
            "threshold": _text(report.threshold),
            "pnl_difference": _text(report.pnl_difference),
            "matched": report.matched,
            "missing": report.missing,
            "extra": report.extra,
            "summary": summary[:1000],
        },
        account=report.strategy.account_id,
    )


# --- Reads ---------------------------------------------------------------------------------------


def reports_recent(*, strategy: Strategy, limit: int = 7) -> list[LiveBacktestReport]:
    """The strategy's newest daily reports, newest first (the caller checked access)."""
    return list(LiveBacktestReport.objects.filter(strategy=strategy).order_by("-day")[:limit])
