from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "apps.common"

    def ready(self):
        from apps.common import admin_display
        from apps.common.heartbeats import HeartbeatMetrics
        from apps.common.metrics import database_collector_register

        admin_display.install()
        database_collector_register(HeartbeatMetrics())
