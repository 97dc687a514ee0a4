from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _alert_permissions_after_migrate(sender, **kwargs):
    # Also after a flush (transactional tests), which empties the groups' permissions.
    from apps.alerts.permissions import alert_permissions_grant

    alert_permissions_grant()


class AlertsConfig(AppConfig):
    name = "apps.alerts"

    def ready(self):
        # After the role groups exist (apps.exchanges makes them on the same signal, earlier in INSTALLED_APPS).
        post_migrate.connect(_alert_permissions_after_migrate, sender=self, dispatch_uid="alerts.permissions")
