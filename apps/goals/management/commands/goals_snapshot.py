from datetime import date

from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import ApplicationError
from apps.goals.services import goals_snapshot


class Command(BaseCommand):
    help = "Snapshot every active goal for a day (today, UTC, by default) and refresh the sizing stances. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--on", help="the day, YYYY-MM-DD (a past day uses the portfolio snapshots at its end)")

    def handle(self, *args, on=None, **options):
        try:
            day = date.fromisoformat(on) if on else None
        except ValueError:
            raise CommandError(f"--on must be a day as YYYY-MM-DD, e.g. 2025-06-30 (got {on!r})") from None
        try:
            counts = goals_snapshot(on=day)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            f"goals: {counts['snapshots']} snapshots, {counts['status_changes']} status changes, {counts['failed']} failed"
        )
