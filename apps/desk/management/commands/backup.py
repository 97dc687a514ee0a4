"""`manage.py backup`: a backup of the database into var/backups (pg_dump custom format on
PostgreSQL, SQLite's online backup on SQLite); the newest BACKUP_KEEP are kept."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import ApplicationError
from apps.desk.backups import backup_create


class Command(BaseCommand):
    help = "Back the database up into var/backups (keeps the newest BACKUP_KEEP); safe while the desk runs."

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, default=settings.BACKUP_DIR, help="Folder (default: BACKUP_DIR, var/backups)")
        parser.add_argument(
            "--keep", type=int, default=settings.BACKUP_KEEP, help="How many backups to keep (default: BACKUP_KEEP)"
        )

    def handle(self, *args, dir: Path, keep: int, **options):
        try:
            backup = backup_create(folder=dir, keep=keep)
        except ApplicationError as error:
            raise CommandError(f"refused: {error.message}") from error
        self.stdout.write(f"backup written: {backup.path} ({backup.size / 1024:.0f} KiB)")
        for old in backup.removed:
            self.stdout.write(f"  removed the older {old.name} (keeping {keep})")
