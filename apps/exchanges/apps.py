from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _role_groups_after_migrate(sender, **kwargs):
    # Also after a flush (transactional tests, `manage.py flush`), which empties the groups.
    from apps.exchanges.roles import role_groups_ensure

    role_groups_ensure()


class ExchangesConfig(AppConfig):
    name = "apps.exchanges"

    def ready(self):
        post_migrate.connect(_role_groups_after_migrate, sender=self, dispatch_uid="exchanges.role_groups")
