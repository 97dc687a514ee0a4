from django.core.management.base import BaseCommand

from apps.desk.beat import beat_schedule_install
from tradedesk.celery import DEFAULT_BEAT_SCHEDULE


class Command(BaseCommand):
    help = "Install the default periodic tasks (existing ones are left as edited in the admin)."

    def handle(self, *args, **options):
        created = beat_schedule_install(DEFAULT_BEAT_SCHEDULE)
        self.stdout.write(f"beat schedule: {len(created)} created, {len(DEFAULT_BEAT_SCHEDULE) - len(created)} kept")
