"""The daily summary: once a day (beat, ALERTS_SUMMARY_HOUR UTC, default 20:00) one message per
active account with the day so far — equity and day P&L, trades closed and fees, open
positions, goals' progress and the day's alerts.

The figures are the performance selector's (apps.trading.performance.performance_report over
[00:00 UTC, now)), the same code path as the performance page and API, so the summary and the
API agree to the cent. Each summary is an alert (kind summary.daily, normal priority, one per
account and day by its dedup key) delivered by the dispatcher like any other: retries,
outcomes per channel, never twice. It is information: it does not count as unacknowledged and
never escalates.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal

from django.db.models import Count
from django.utils import timezone

from apps.alerts.kinds import AlertSpec
from apps.alerts.models import Alert, Priority
from apps.exchanges.models import ExchangeAccount
from apps.goals.selectors import goals_for_account
from apps.goals.services import goal_measure
from apps.trading.models import Position
from apps.trading.performance import PerformanceReport, performance_report

KIND = "summary.daily"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class DaySummary:
    account: ExchangeAccount
    day_start: datetime
    report: PerformanceReport
    positions: list[Position]
    goals: list[str]
    alerts_by_priority: dict[str, int]

    def title(self) -> str:
        return f"Daily summary {self.day_start:%Y-%m-%d}: {self.account.name}"

    def body(self) -> str:
        report = self.report
        equity = _money(report.final_equity) if report.final_equity is not None else "no snapshot yet"
        ret = f" ({report.total_return_pct:+.2f} %)" if report.total_return_pct is not None else ""
        lines = [
            f"Equity {equity} · day P&L {_signed(report.total_pnl)}{ret}",
            f"Trades closed {report.trades} ({report.wins} won, {report.losses} lost) · "
            f"realized {_signed(report.realized_pnl)} · fees {_money(report.fees)}",
        ]
        if self.positions:
            held = ", ".join(
                f"{p.market.symbol} {p.amount.normalize():f} @ {_money(p.average_entry)} ({_signed(p.unrealized_pnl)})"
                for p in self.positions
            )
            lines.append(f"Open positions {len(self.positions)}: {held}")
        else:
            lines.append("Open positions: none")
        lines.append("Goals: " + ("; ".join(self.goals) if self.goals else "none set"))
        counts = ", ".join(f"{count} {label}" for label, count in self.alerts_by_priority.items())
        lines.append(f"Alerts today: {sum(self.alerts_by_priority.values())}" + (f" ({counts})" if counts else ""))
        return "\n".join(lines)


def day_summary(*, account: ExchangeAccount, now: datetime) -> DaySummary:
    start = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    report = performance_report(account_ids=[account.pk], start=start, end=now)
    positions = [
        position
        for position in Position.objects.filter(account=account, amount__gt=0).select_related("market").order_by("market__symbol")
        if position.is_open
    ]
    alerts = (
        Alert.objects.filter(account=account, created_at__gte=start, created_at__lt=now)
        .exclude(kind=KIND)
        .values("priority")
        .annotate(count=Count("id"))
    )
    by_priority = {Priority(row["priority"]).label: row["count"] for row in sorted(alerts, key=lambda r: -r["priority"])}
    return DaySummary(account, start, report, positions, _goals(account, now), by_priority)


def summaries_raise(*, now: datetime | None = None) -> list[AlertSpec]:
    """Today's summary of every active account, as alerts for the dispatcher to deliver."""
    now = now or timezone.now()
    specs = []
    for account in ExchangeAccount.objects.filter(active=True).order_by("name"):
        summary = day_summary(account=account, now=now)
        specs.append(
            AlertSpec(
                kind=KIND,
                priority=Priority.NORMAL,
                dedup_key=f"{KIND}:{summary.day_start:%Y-%m-%d}:{account.pk}",
                title=summary.title(),
                body=summary.body(),
                account_id=account.pk,
                event_kind=KIND,
            )
        )
    return specs


def _goals(account: ExchangeAccount, now: datetime) -> list[str]:
    words = []
    for goal in goals_for_account(account_id=account.pk):
        progress = goal_measure(goal=goal, now=now).progress
        pace = f", pace {progress.pace_ratio:.2f}" if progress.pace_ratio is not None else ""
        words.append(f"{goal}: {progress.progress * 100:.0f} % reached ({progress.status}{pace})")
    return words


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT):,}"


def _signed(value: Decimal) -> str:
    return f"{value.quantize(CENT):+,}"
