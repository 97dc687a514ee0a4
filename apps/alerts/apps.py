from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Who may do what with alerts is the role groups' (apps.exchanges.roles lists this app):
    viewers and traders see channels, rules, alerts and deliveries of their accounts; admins
    also configure channels and rules."""

    name = "apps.alerts"
