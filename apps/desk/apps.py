from django.apps import AppConfig


class DeskConfig(AppConfig):
    """Wires the whole house (demo seed, rundesk supervisor, beat schedule installer); the top
    layer, so it may import every app and no app imports it."""

    name = "apps.desk"
