"""`manage.py restore FILE`: replace the database's content with a backup's. Refuses while the
desk runs (a fresh worker or beat heartbeat, or a living `make run`)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import ApplicationError
from apps.desk.backups import backup_restore


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` (stop the desk first; run `migrate` after an older one)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="A tradedesk-*.dump (PostgreSQL) or tradedesk-*.sqlite3 (SQLite) file")

    def handle(self, *args, file: Path, **options):
        try:
            counts = backup_restore(path=file)
        except ApplicationError as error:
            raise CommandError(f"refused: {error.message}") from error
        held = ", ".join(f"{count} {name}" for name, count in counts.items())
        self.stdout.write(
            f"restored {file.name}: the database now holds {held}. Run `manage.py migrate` if the backup is older than this code."
        )
