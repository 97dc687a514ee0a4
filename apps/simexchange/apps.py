from django.apps import AppConfig


class SimexchangeConfig(AppConfig):
    name = "apps.simexchange"
