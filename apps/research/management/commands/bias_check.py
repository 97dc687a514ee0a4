"""manage.py bias_check: does a strategy look ahead, or depend on how much history it saw?"""

from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import ApplicationError
from apps.research.bias import DEFAULT_BARS, registered_kinds, strategies_bias_check


class Command(BaseCommand):
    help = (
        "Check strategies for look-ahead (signals on every truncated history equal the full history's) and "
        "recursive bias (indicators after warm-up independent of where the history starts), on a seeded market. "
        "Exits non-zero naming the first bar and column that differ."
    )

    def add_arguments(self, parser):
        parser.add_argument("--strategy", action="append", default=[], help="Engine strategy kind; repeat; default: all")
        parser.add_argument("--param", action="append", default=[], help="Strategy param name=value (one strategy only)")
        parser.add_argument("--bars", type=int, default=DEFAULT_BARS, help=f"Candles after the warm-up (default {DEFAULT_BARS})")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the generated market (default 0)")

    def handle(self, *args, **options):
        kinds = options["strategy"] or registered_kinds()
        try:
            reports = strategies_bias_check(kinds, params=options["param"], bars=options["bars"], seed=options["seed"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        for report in reports:
            verdict = "ok    " if report.passed else "FAILED"
            self.stdout.write(
                f"{verdict} {report.strategy}: {report.candles} candles, {report.cuts_checked} truncated histories, "
                f"{report.starts_checked} later starts"
            )
            for finding in report.findings:
                self.stdout.write(f"       {finding}")
        failed = [report.strategy for report in reports if not report.passed]
        if failed:
            raise CommandError(f"bias found in {', '.join(failed)}")
