"""The viewer, trader and admin groups with their permissions (idempotent: get-or-create, add-only)."""

from django.db import migrations


def role_groups_create(apps, schema_editor):
    from apps.exchanges.roles import role_groups_ensure

    role_groups_ensure(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("exchanges", "0002_account_membership"),
        ("markets", "0003_market_taker_fee"),
        ("risk", "0004_access_permissions"),
        ("strategies", "0003_access_permissions"),
        ("trading", "0004_access_permissions"),
    ]

    operations = [migrations.RunPython(role_groups_create, migrations.RunPython.noop)]
