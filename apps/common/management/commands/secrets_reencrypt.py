"""`manage.py secrets_reencrypt`: the last step of rotating FIELD_ENCRYPTION_KEY (docs/operations.md)."""

from django.core.management.base import BaseCommand

from apps.common.fields import secrets_reencrypt


class Command(BaseCommand):
    help = "Encrypt every stored secret again with the first (newest) FIELD_ENCRYPTION_KEY; then the older keys can go."

    def handle(self, *args, **options):
        for label, count in secrets_reencrypt().items():
            self.stdout.write(f"{label}: {count} rows encrypted with the newest key")
