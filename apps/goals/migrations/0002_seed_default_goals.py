"""The seed's three default goals, for all accounts and inactive: a trader only switches them on."""

from decimal import Decimal

from django.db import migrations

DEFAULTS = (("monthly_return", Decimal("0.10")), ("monthly_income", Decimal("4000")), ("portfolio_value", Decimal("1000000")))


def defaults_create(apps, schema_editor):
    Goal = apps.get_model("goals", "Goal")
    for kind, target in DEFAULTS:
        if not Goal.objects.filter(account__isnull=True, kind=kind).exists():
            Goal.objects.create(kind=kind, target=target, active=False, catch_up_enabled=False)


def defaults_remove(apps, schema_editor):
    Goal = apps.get_model("goals", "Goal")
    for kind, target in DEFAULTS:
        Goal.objects.filter(account__isnull=True, kind=kind, target=target, active=False, snapshots__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("goals", "0001_initial")]

    operations = [migrations.RunPython(defaults_create, defaults_remove)]
