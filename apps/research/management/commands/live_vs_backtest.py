"""manage.py live_vs_backtest: a strategy's day, live beside the backtest of the same candles."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import ApplicationError
from apps.research.live_vs_backtest_report import report_run, running_strategy_ids, yesterday


class Command(BaseCommand):
    help = (
        "Compare a strategy's live trades of one UTC day with the backtest of the same stored candles and "
        "params: matched, missing and extra trades with their reasons, slippage, P&L difference and divergence. "
        "Stores the day's report (a rerun replaces it) and records the divergence alert above the threshold."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--strategy", type=int, action="append", default=[], help="Strategy id; repeat; default: every running one"
        )
        parser.add_argument("--day", help="UTC day YYYY-MM-DD (default: yesterday)")

    def handle(self, *args, **options):
        try:
            day = date.fromisoformat(options["day"]) if options["day"] else yesterday()
        except ValueError:
            raise CommandError(f"--day {options['day']!r} is not a day; write it as 2026-11-30") from None
        for strategy_id in options["strategy"] or running_strategy_ids():
            try:
                report = report_run(strategy_id=strategy_id, day=day)
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
            self._print(report)

    def _print(self, report) -> None:
        self.stdout.write(f"{report.strategy.name} (#{report.strategy_id}) {report.day}:")
        if report.problem:
            self.stdout.write(f"  {report.problem}")
        self.stdout.write(
            f"  {report.matched} matched, {report.missing} missing, {report.extra} extra; live P&L "
            f"{report.live_pnl.normalize():f}, backtest {report.backtest_pnl.normalize():f}, difference "
            f"{report.pnl_difference.normalize():f}; divergence "
            + ("-" if report.divergence is None else f"{report.divergence_pct} % of the allocation")
            + (" (alerted)" if report.alerted_at else "")
        )
        slippage = report.slippage
        if report.matched:
            self.stdout.write(
                f"  slippage p50 {slippage.get('p50_pct')} % ({slippage.get('p50_quote')}), p95 {slippage.get('p95_pct')} % ({slippage.get('p95_quote')})"
            )
        for row in report.trades:
            if row["status"] != "matched":
                self.stdout.write(
                    f"  {row['status']:7} {row['time']} {row['market']} {row['side']}: {row['reason_label']}"
                    + (f" [{row['rule']}]" if row["rule"] else "")
                    + f" - {row['detail']}"
                )
