from django.apps import AppConfig


class MarketsConfig(AppConfig):
    name = "apps.markets"
